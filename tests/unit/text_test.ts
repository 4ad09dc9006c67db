import assert from "node:assert/strict";
import {
  bashCommandArg,
  binaryKind,
  decodeSurrogateEscape,
  encodeSurrogateEscape,
  hasEscapedBytes,
  splitShellWords,
} from "../../lib/text.ts";

// Expected strings from python3 (3.11.7): bytes(b).decode("utf-8", "surrogateescape").
const DECODE_CASES: [number[], string][] = [
  [[], ""],
  [[101, 99, 104, 111, 32, 104, 105], "echo hi"],
  [[99, 97, 102, 195, 169, 32, 240, 159, 152, 128], "caf\u00e9 \ud83d\ude00"],
  [[99, 97, 102, 233], "caf\udce9"],
  [[226, 130, 65], "\udce2\udc82A"],
  [[240, 159, 152], "\udcf0\udc9f\udc98"],
  [[237, 160, 128], "\udced\udca0\udc80"],
  [[192, 175], "\udcc0\udcaf"],
  [[244, 144, 128, 128], "\udcf4\udc90\udc80\udc80"],
  [[224, 128, 175], "\udce0\udc80\udcaf"],
  [[239, 187, 191, 120], "\ufeffx"],
  [[97, 128, 191, 122], "a\udc80\udcbfz"],
  [[240, 144, 128, 128, 255], "\ud800\udc00\udcff"],
];

Deno.test("decodeSurrogateEscape() matches Python's surrogateescape", () => {
  for (const [bytes, expected] of DECODE_CASES) {
    assert.equal(decodeSurrogateEscape(Uint8Array.from(bytes)), expected, `bytes ${bytes}`);
  }
});

Deno.test("encodeSurrogateEscape() gives back the original bytes", () => {
  for (const [bytes] of DECODE_CASES) {
    assert.deepEqual(
      encodeSurrogateEscape(decodeSurrogateEscape(Uint8Array.from(bytes))),
      Uint8Array.from(bytes),
    );
  }
});

Deno.test("encodeSurrogateEscape() round-trips every single byte and byte pair", () => {
  const mismatches: string[] = [];
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b++) {
      const bytes = Uint8Array.of(a, b);
      const back = encodeSurrogateEscape(decodeSurrogateEscape(bytes));
      if (back.join() !== bytes.join()) mismatches.push(`${a},${b} -> ${back.join()}`);
    }
  }
  assert.deepEqual(mismatches, []);
});

Deno.test("encodeSurrogateEscape() writes other lone surrogates as U+FFFD", () => {
  const cases: [string, number[]][] = [
    ["\ud800", [0xef, 0xbf, 0xbd]],
    ["\udc7f\udc80", [0xef, 0xbf, 0xbd, 0x80]],
    ["\ud800\udc80", [0xf0, 0x90, 0x82, 0x80]], // a surrogate pair is one character, not an escaped byte
  ];
  for (const [text, bytes] of cases) assert.deepEqual(encodeSurrogateEscape(text), Uint8Array.from(bytes));
});

Deno.test("hasEscapedBytes() is true only for lone U+DC80..U+DCFF", () => {
  const cases: [string, boolean][] = [
    ["", false],
    ["echo caf\u00e9 \ud83d\ude00", false],
    ["caf\udce9", true],
    ["\udc80", true],
    ["\udcff", true],
    ["\udc7f", false],
    ["\udd00", false],
    ["\ud800\udc80", false],
    ["\ud800\udc00\udcff", true],
  ];
  for (const [text, expected] of cases) assert.equal(hasEscapedBytes(text), expected, JSON.stringify(text));
});

Deno.test("bashCommandArg() wraps only commands with escaped bytes", () => {
  const cases: [string, string][] = [
    ["echo hi", "echo hi"],
    ["echo 'caf\u00e9' \\ \"x\"\n", "echo 'caf\u00e9' \\ \"x\"\n"],
    ["echo caf\udce9", "eval $'echo caf\\xE9'"],
    ["echo 'a\\b'\t\udcff", "eval $'echo \\x27a\\x5Cb\\x27\\x09\\xFF'"],
    ["\u00e9\udcff\n", "eval $'\\xC3\\xA9\\xFF\\x0A'"],
    ['~!@#$%^&*()_+`-={}|[]:";<>?,./\udc80', "eval $'~!@#$%^&*()_+`-={}|[]:\";<>?,./\\x80'"],
  ];
  for (const [command, expected] of cases) assert.equal(bashCommandArg(command), expected);
});

Deno.test("binaryKind() names known binary formats and NUL-heavy data, and passes text", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const cases: [Uint8Array, string | undefined][] = [
    [enc("echo hi\n#DISBATCH REPEAT 3 echo x\n"), undefined],
    [new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), "an ELF executable or library"],
    [new Uint8Array([0x1f, 0x8b, 8, 0]), "gzip-compressed"],
    [new Uint8Array([0x50, 0x4b, 0x03, 0x04]), "a zip archive"],
    [new Uint8Array([0x89, 0x48, 0x44, 0x46, 0x0d]), "an HDF5 file"],
    [new Uint8Array(100).fill(0), "binary data (it holds NUL bytes)"],
    [new Uint8Array([...enc("echo a"), 0, ...enc("b\n")]), undefined],
    [new Uint8Array([...enc("x".repeat(2000)), 0, 0, 0, 0, 0, 0, 0, 0]), undefined],
    [new Uint8Array(0), undefined],
  ];
  for (const [head, want] of cases) assert.equal(binaryKind(head), want, String(head.slice(0, 8)));
});

Deno.test("bashCommandArg() leaves a command with a NUL as it is, so that it fails to start", () => {
  assert.equal(bashCommandArg("echo a\0b"), "echo a\0b");
  assert.equal(bashCommandArg("echo \udcff\0"), "echo \udcff\0");
});

Deno.test("splitShellWords() splits like a shell's quoting, without expansions", () => {
  const cases: [string, string[]][] = [
    ["", []],
    ["  -N 2  -t 1:00:00 ", ["-N", "2", "-t", "1:00:00"]],
    [`--comment "a b" -J 'x y'`, ["--comment", "a b", "-J", "x y"]],
    [`a\\ b "q\\"x" '$HOME'`, ["a b", 'q"x', "$HOME"]],
    [`--x=""`, ["--x="]],
  ];
  for (const [s, want] of cases) assert.deepEqual(splitShellWords(s), want, s);
  assert.throws(() => splitShellWords(`-J 'x`), /unterminated '/);
});

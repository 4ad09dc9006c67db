import assert from "node:assert/strict";
import { LineSplitter } from "../../lib/line_splitter.ts";
import { encodeSurrogateEscape } from "../../lib/text.ts";

const enc = new TextEncoder();

/** Push `bytes` cut at the given offsets, then end; returns every line. */
function splitAt(bytes: Uint8Array, cuts: number[]): string[] {
  const s = new LineSplitter();
  const out: string[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...s.push(bytes.subarray(from, cut)));
    from = cut;
  }
  out.push(...s.end());
  return out;
}

/** Every way to cut `bytes` into two or three chunks gives `expected`. */
function assertAllCuts(bytes: Uint8Array, expected: string[], label: string): void {
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(splitAt(bytes, [i]), expected, `${label} cut at ${i}`);
    for (let j = i; j <= bytes.length; j++) {
      assert.deepEqual(splitAt(bytes, [i, j]), expected, `${label} cut at ${i},${j}`);
    }
  }
}

Deno.test("LineSplitter splits on \\n only, whatever the chunk boundaries", () => {
  const cases: { text: string; lines: string[] }[] = [
    { text: "", lines: [] },
    { text: "a", lines: ["a"] },
    { text: "a\n", lines: ["a"] },
    { text: "a\nb", lines: ["a", "b"] },
    { text: "a\nb\n", lines: ["a", "b"] },
    { text: "\n", lines: [""] },
    { text: "\n\n", lines: ["", ""] },
    { text: "a\n\nb\n\n", lines: ["a", "", "b", ""] },
    { text: "a\r\nb\rc\n", lines: ["a\r", "b\rc"] }, // \r is left for splitPhysicalLine
    { text: "tab\there\n  x  \n", lines: ["tab\there", "  x  "] },
  ];
  for (const { text, lines } of cases) assertAllCuts(enc.encode(text), lines, JSON.stringify(text));
});

Deno.test("LineSplitter decodes multi-byte UTF-8 split across chunks", () => {
  const text = "é\n€uro\n😀 ünïcode 中文\nlast 😀";
  const lines = ["é", "€uro", "😀 ünïcode 中文", "last 😀"];
  assertAllCuts(enc.encode(text), lines, "utf-8");
  // One byte at a time.
  const bytes = enc.encode(text);
  assert.deepEqual(splitAt(bytes, Array.from({ length: bytes.length }, (_, i) => i)), lines);
});

Deno.test("LineSplitter keeps invalid UTF-8 bytes as surrogate escapes", () => {
  const cases: { bytes: number[]; lines: string[] }[] = [
    { bytes: [0x65, 0x63, 0x68, 0x6f, 0x20, 0xe9, 0x0a], lines: ["echo \udce9"] }, // latin-1 é
    { bytes: [0xff, 0xfe, 0x0a, 0x61], lines: ["\udcff\udcfe", "a"] },
    { bytes: [0xe2, 0x82, 0x0a], lines: ["\udce2\udc82"] }, // truncated € before the newline
    { bytes: [0xe2, 0x82], lines: ["\udce2\udc82"] }, // truncated € at the end of input
    { bytes: [0xc3, 0xa9, 0x80, 0x0a], lines: ["é\udc80"] },
  ];
  for (const { bytes, lines } of cases) {
    const u8 = new Uint8Array(bytes);
    assertAllCuts(u8, lines, bytes.join(","));
    // The original bytes come back (less the final newline).
    const body = bytes.at(-1) === 0x0a ? bytes.slice(0, -1) : bytes;
    assert.deepEqual([...encodeSurrogateEscape(lines.join("\n"))], body, bytes.join(","));
  }
});

Deno.test("LineSplitter.end() returns the last line once and resets", () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push(enc.encode("a\nb")), ["a"]);
  assert.deepEqual(s.end(), ["b"]);
  assert.deepEqual(s.end(), []);
  assert.deepEqual(s.push(enc.encode("c\n")), ["c"]);
  assert.deepEqual(s.end(), []);
});

Deno.test("LineSplitter does not keep a reference to the caller's buffer", () => {
  // The reader reuses one buffer for every read.
  const s = new LineSplitter();
  const buf = new Uint8Array(8);
  const out: string[] = [];
  for (const chunk of ["ab", "c\nde", "f", "\ng"]) {
    const b = enc.encode(chunk);
    buf.fill(0x58);
    buf.set(b);
    out.push(...s.push(buf.subarray(0, b.length)));
  }
  out.push(...s.end());
  assert.deepEqual(out, ["abc", "def", "g"]);
});

Deno.test("LineSplitter handles a long line over many chunks", () => {
  const s = new LineSplitter();
  const piece = "x".repeat(1000);
  for (let i = 0; i < 100; i++) assert.deepEqual(s.push(enc.encode(piece)), []);
  assert.deepEqual(s.push(enc.encode("\nnext\n")), [piece.repeat(100), "next"]);
  assert.deepEqual(s.end(), []);
});

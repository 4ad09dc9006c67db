/**
 * Byte-exact text: Python's `surrogateescape` error handler for UTF-8.
 *
 * disBatch reads the task file as bytes, so a command that is not valid UTF-8 still runs byte for byte.
 * We keep commands as JS strings: every byte of an invalid UTF-8 sequence becomes the lone surrogate
 * U+DC00+byte (always U+DC80..U+DCFF), exactly as Python's `bytes.decode("utf-8", "surrogateescape")`,
 * and {@linkcode encodeSurrogateEscape} gives the original bytes back.
 *
 * @example Round trip
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSurrogateEscape, encodeSurrogateEscape } from "./text.ts";
 *
 * const bytes = new Uint8Array([0x61, 0xff, 0x62]);
 * assert.equal(decodeSurrogateEscape(bytes), "a\udcffb");
 * assert.deepEqual(encodeSurrogateEscape("a\udcffb"), bytes);
 * ```
 *
 * @module
 */

const FATAL_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const LENIENT_DECODER = new TextDecoder("utf-8", { ignoreBOM: true });
const ENCODER = new TextEncoder();
/** A lone low surrogate that stands for one byte (the `u` flag keeps surrogate pairs whole). */
const ESCAPED_BYTE = /[\udc80-\udcff]/u;
const ESCAPED_RUNS = /([\udc80-\udcff]+)/u;

/**
 * Decodes UTF-8 like Python's `bytes.decode("utf-8", "surrogateescape")`.
 *
 * @param bytes Raw bytes (for example one task-file line).
 * @returns The text; each byte of an invalid sequence is the lone surrogate U+DC00+byte.
 *
 * @example Invalid bytes become lone surrogates
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSurrogateEscape } from "./text.ts";
 *
 * assert.equal(decodeSurrogateEscape(new Uint8Array([0xe2, 0x82, 0x41])), "\udce2\udc82A");
 * ```
 */
export function decodeSurrogateEscape(bytes: Uint8Array): string {
  try {
    return FATAL_DECODER.decode(bytes);
  } catch {
    return decodeSlow(bytes);
  }
}

/** Decodes valid runs with TextDecoder and escapes every byte that does not start a valid sequence. */
function decodeSlow(bytes: Uint8Array): string {
  const parts: string[] = [];
  let runStart = 0;
  let i = 0;
  while (i < bytes.length) {
    const length = validSequenceLength(bytes, i);
    if (length > 0) {
      i += length;
      continue;
    }
    if (runStart < i) parts.push(LENIENT_DECODER.decode(bytes.subarray(runStart, i)));
    parts.push(String.fromCharCode(0xdc00 + bytes[i]!));
    i += 1;
    runStart = i;
  }
  if (runStart < i) parts.push(LENIENT_DECODER.decode(bytes.subarray(runStart, i)));
  return parts.join("");
}

/** Length of the well-formed UTF-8 sequence at `i` (Unicode Table 3-7), or 0 when there is none. */
function validSequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) length = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    if (b0 === 0xe0) low = 0xa0; // overlong
    if (b0 === 0xed) high = 0x9f; // UTF-16 surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    if (b0 === 0xf0) low = 0x90; // overlong
    if (b0 === 0xf4) high = 0x8f; // above U+10FFFF
  } else return 0;
  if (i + length > bytes.length) return 0;
  const b1 = bytes[i + 1]!;
  if (b1 < low || b1 > high) return 0;
  for (let k = 2; k < length; k++) {
    const b = bytes[i + k]!;
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return length;
}

/**
 * Encodes text like Python's `str.encode("utf-8", "surrogateescape")`: the inverse of
 * {@linkcode decodeSurrogateEscape}.
 *
 * Lone surrogates outside U+DC80..U+DCFF (which Python refuses to encode) become U+FFFD, as with
 * `TextEncoder`; {@linkcode decodeSurrogateEscape} never produces them.
 *
 * @param text Text that may hold escaped bytes.
 * @returns The bytes.
 *
 * @example Escaped bytes come back as raw bytes
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSurrogateEscape } from "./text.ts";
 *
 * assert.deepEqual(encodeSurrogateEscape("é\udcff"), new Uint8Array([0xc3, 0xa9, 0xff]));
 * ```
 */
export function encodeSurrogateEscape(text: string): Uint8Array {
  if (!hasEscapedBytes(text)) return ENCODER.encode(text);
  const chunks: Uint8Array[] = [];
  let total = 0;
  // split() with a capturing group alternates plain text (even indices) and escaped runs (odd).
  text.split(ESCAPED_RUNS).forEach((part, index) => {
    const chunk = index % 2 === 0
      ? ENCODER.encode(part)
      : Uint8Array.from(part, (unit) => unit.charCodeAt(0) - 0xdc00);
    chunks.push(chunk);
    total += chunk.length;
  });
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * Tells whether the text holds escaped bytes, i.e. whether its original bytes were not valid UTF-8.
 *
 * @param text Text from {@linkcode decodeSurrogateEscape}.
 * @returns `true` when it contains a lone surrogate U+DC80..U+DCFF.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasEscapedBytes } from "./text.ts";
 *
 * assert.equal(hasEscapedBytes("caf\udce9"), true);
 * assert.equal(hasEscapedBytes("café 😀"), false);
 * ```
 */
export function hasEscapedBytes(text: string): boolean {
  return ESCAPED_BYTE.test(text);
}

/**
 * The `-c` argument for `/bin/bash` that runs `command` with its original bytes.
 *
 * Process arguments are JS strings encoded as UTF-8, so escaped bytes cannot be passed as they are.
 * Such a command becomes `eval $'…'`, whose ANSI-C quoted string rebuilds the exact bytes (every
 * byte that is not printable ASCII, and `\` and `'`, as `\xHH`). A NUL byte cannot be passed either
 * way (bash's `$'\x00'` ends the string).
 *
 * @param command The task command (may hold escaped bytes).
 * @returns `command` itself when it is valid UTF-8, else an `eval $'…'` wrapper.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bashCommandArg } from "./text.ts";
 *
 * assert.equal(bashCommandArg("echo hi"), "echo hi");
 * assert.equal(bashCommandArg("echo \udcff'"), "eval $'echo \\xFF\\x27'");
 * ```
 */
export function bashCommandArg(command: string): string {
  // A NUL cannot be part of an argument: left as it is, the start fails (rc 200) as for a UTF-8
  // command, where `$'\x00'` would silently cut the command short.
  if (!hasEscapedBytes(command) || command.includes("\0")) return command;
  let quoted = "";
  for (const byte of encodeSurrogateEscape(command)) {
    const printable = byte >= 0x20 && byte <= 0x7e && byte !== 0x5c && byte !== 0x27;
    quoted += printable
      ? String.fromCharCode(byte)
      : `\\x${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return `eval $'${quoted}'`;
}

/** Magic numbers of files that are never task files. */
const MAGIC: [number[], string][] = [
  [[0x7f, 0x45, 0x4c, 0x46], "an ELF executable or library"],
  [[0x1f, 0x8b], "gzip-compressed"],
  [[0x50, 0x4b, 0x03, 0x04], "a zip archive"],
  [[0x42, 0x5a, 0x68], "bzip2-compressed"],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], "xz-compressed"],
  [[0x28, 0xb5, 0x2f, 0xfd], "zstd-compressed"],
  [[0x89, 0x48, 0x44, 0x46], "an HDF5 file"],
  [[0x25, 0x50, 0x44, 0x46], "a PDF document"],
];

/**
 * What a file is when its first bytes show it is not text: a known binary format, or data with
 * NUL bytes, at least 8 and more than 1 in 100 of its first bytes (a task file may hold a stray NUL, which that
 * one task reports, but text does not hold many).
 *
 * @param head the first bytes of the file (8 KiB is plenty)
 * @returns a description such as "an ELF executable or library", or undefined for text
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { binaryKind } from "./text.ts";
 * assert.equal(binaryKind(new TextEncoder().encode("echo hi\n")), undefined);
 * assert.equal(binaryKind(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1])), "an ELF executable or library");
 * ```
 */
export function binaryKind(head: Uint8Array): string | undefined {
  for (const [magic, kind] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return kind;
  }
  let nul = 0;
  for (const b of head) if (b === 0) nul++;
  return nul >= 8 && nul * 100 > head.length ? "binary data (it holds NUL bytes)" : undefined;
}

/**
 * Quote a word for a POSIX shell: as is when it holds only safe characters, else in single quotes.
 * @param s text @returns the word
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shellQuote } from "./text.ts";
 * assert.equal(shellQuote("a b'c"), "'a b'\\''c'");
 * assert.equal(shellQuote("-p"), "-p");
 * ```
 */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * Split a command line into words as a POSIX shell does for quoting (no expansions): blanks
 * separate words; `'…'` is literal; `"…"` keeps blanks and takes `\` before `"`, `\`, `$`, `` ` ``;
 * an unquoted `\` takes the next character.
 * @param s the text @returns the words
 * @throws {SyntaxError} for an unterminated quote
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitShellWords } from "./text.ts";
 * assert.deepEqual(splitShellWords(`-N 2 --comment "a b" -J 'x y'`), ["-N", "2", "--comment", "a b", "-J", "x y"]);
 * ```
 */
export function splitShellWords(s: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === " " || c === "\t" || c === "\n") {
      if (word !== undefined) out.push(word);
      word = undefined;
      continue;
    }
    word ??= "";
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new SyntaxError(`unterminated ' in: ${s}`);
      word += s.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j++) {
        if (s[j] === "\\" && j + 1 < s.length && '"\\$`'.includes(s[j + 1]!)) j++;
        word += s[j];
      }
      if (j >= s.length) throw new SyntaxError(`unterminated " in: ${s}`);
      i = j;
    } else if (c === "\\" && i + 1 < s.length) {
      word += s[++i];
    } else word += c;
  }
  if (word !== undefined) out.push(word);
  return out;
}

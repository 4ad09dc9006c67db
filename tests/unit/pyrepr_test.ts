import assert from "node:assert/strict";
import {
  parsePyBytesLiteral,
  parsePyStrLiteral,
  pyBytesRepr,
  pyStrRepr,
  snippetText,
} from "../../lib/pyrepr.ts";

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

// Expected values from python3 3.11.7 (Unicode 14.0): json.dumps(s), json.dumps(repr(s)).
const STR_CASES: [string, string][] = [
  ["", "''"],
  ["hello", "'hello'"],
  ["it's", '"it\'s"'],
  ['say "hi"', "'say \"hi\"'"],
  ["both ' and \"", "'both \\' and \"'"],
  ["back\\slash", "'back\\\\slash'"],
  ["tab\there\nnl\rcr", "'tab\\there\\nnl\\rcr'"],
  ["\u0000", "'\\x00'"],
  ["\u0007\u001b[0m", "'\\x07\\x1b[0m'"],
  ["\u007f", "'\\x7f'"],
  ["\u0080\u009f", "'\\x80\\x9f'"],
  ["\u00a0", "'\\xa0'"], // Zs
  ["\u00ad", "'\\xad'"], // Cf
  ["\u00e9t\u00e9", "'\u00e9t\u00e9'"],
  ["\u2028", "'\\u2028'"], // Zl
  ["\u2029", "'\\u2029'"], // Zp
  ["\u200b", "'\\u200b'"], // Cf
  ["\u3000", "'\\u3000'"], // Zs
  ["\ue000", "'\\ue000'"], // Co
  ["\ufeff", "'\\ufeff'"], // Cf
  ["\u0378", "'\\u0378'"], // Cn
  ["\udb40\udc01", "'\\U000e0001'"], // Cf, astral
  ["\udbff\udfff", "'\\U0010ffff'"], // Cn, astral
  ["\ud83d\ude00", "'\ud83d\ude00'"], // emoji
  ["\u4e2d\u6587", "'\u4e2d\u6587'"], // CJK
  ["\ufffd", "'\ufffd'"],
  ["\udc80", "'\\udc80'"], // lone surrogates (Cs)
  ["\udcff", "'\\udcff'"],
  ["\ud800", "'\\ud800'"],
  ["\ud83e\udee9", "'\\U0001fae9'"], // assigned in Unicode 15: unassigned for Python 3.11
  ["\u0897", "'\\u0897'"], // assigned in Unicode 16
  ["\u00fcn\u00efcode\n", "'\u00fcn\u00efcode\\n'"],
  [" ", "' '"],
];

Deno.test("pyStrRepr() matches Python 3.11 repr(str)", () => {
  for (const [text, expected] of STR_CASES) assert.equal(pyStrRepr(text), expected, JSON.stringify(text));
});

Deno.test("parsePyStrLiteral() reads back every pyStrRepr() output", () => {
  for (const [text, literal] of STR_CASES) assert.equal(parsePyStrLiteral(literal), text, literal);
});

Deno.test("parsePyStrLiteral() reads Python escapes like ast.literal_eval", () => {
  const cases: [string, string][] = [
    ["'\\u00e9'", "\u00e9"],
    ["'\\U0001f600'", "\ud83d\ude00"],
    ["'\\udc80'", "\udc80"],
    ["'\\777'", "\u01ff"],
    ["'a\\qb'", "a\\qb"],
    ["'\\a\\b\\f\\v\\0'", "\u0007\b\f\v\u0000"],
    ['"it\'s"', "it's"],
    ["'\\ud83d\\ude00'", "\ud83d\ude00"],
  ];
  for (const [literal, expected] of cases) assert.equal(parsePyStrLiteral(literal), expected, literal);
});

Deno.test("parsePyStrLiteral() returns undefined for anything but one single-line literal", () => {
  // "'\\N{EM DASH}'", "'it''s'" and "u'x'" are valid Python, but never written by repr().
  const cases = [
    "",
    "'",
    "abc",
    "'abc",
    "'a'b'",
    "'\\x4'",
    "'\\U00110000'",
    "'a\nb'",
    "'\\N{EM DASH}'",
    "'it''s'",
  ];
  for (const literal of cases) assert.equal(parsePyStrLiteral(literal), undefined, literal);
});

// Expected values from python3: repr(bytes(b)).
const BYTES_CASES: [number[], string][] = [
  [[], "b''"],
  [[97, 98, 99], "b'abc'"],
  [[105, 116, 39, 115], 'b"it\'s"'],
  [[34], "b'\"'"],
  [[39, 34], "b'\\'\"'"],
  [[92], "b'\\\\'"],
  [[9, 10, 13], "b'\\t\\n\\r'"],
  [[0, 127, 128, 255], "b'\\x00\\x7f\\x80\\xff'"],
  [[99, 97, 102, 195, 169], "b'caf\\xc3\\xa9'"],
  [
    Array.from({ length: 256 }, (_, i) => i),
    "b'\\x00\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\t\\n\\x0b\\x0c\\r\\x0e\\x0f\\x10\\x11\\x12\\x13\\x14\\x15" +
    "\\x16\\x17\\x18\\x19\\x1a\\x1b\\x1c\\x1d\\x1e\\x1f !\"#$%&\\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ" +
    "[\\\\]^_`abcdefghijklmnopqrstuvwxyz{|}~" +
    Array.from({ length: 129 }, (_, i) => "\\x" + (0x7f + i).toString(16)).join("") + "'",
  ],
];

Deno.test("pyBytesRepr() matches Python repr(bytes)", () => {
  for (const [bytes, expected] of BYTES_CASES) assert.equal(pyBytesRepr(Uint8Array.from(bytes)), expected);
});

Deno.test("parsePyBytesLiteral() reads back every pyBytesRepr() output", () => {
  for (const [bytes, literal] of BYTES_CASES) {
    assert.deepEqual(parsePyBytesLiteral(literal), Uint8Array.from(bytes));
  }
});

Deno.test("parsePyBytesLiteral() reads Python escapes like ast.literal_eval", () => {
  const cases: [string, number[]][] = [
    ["B'x'", [0x78]],
    ["b'\\a\\b\\f\\v'", [7, 8, 12, 11]],
    ["b'\\101\\0\\377'", [0x41, 0, 0xff]],
    ["b'\\777'", [0xff]],
    ['b"\\\'"', [0x27]],
    ["b'\\q'", [0x5c, 0x71]],
    ["b'\\u0041'", [0x5c, 0x75, 0x30, 0x30, 0x34, 0x31]],
    ["b'a\\\nb'", [0x61, 0x62]],
    ["b'a\tb'", [0x61, 9, 0x62]],
  ];
  for (const [literal, bytes] of cases) {
    assert.deepEqual(parsePyBytesLiteral(literal), Uint8Array.from(bytes), literal);
  }
});

Deno.test("parsePyBytesLiteral() returns undefined for anything but one complete bytes literal", () => {
  // Python accepts the last four (whitespace around, rb'', triple quotes); we stay strict.
  const cases = [
    "b'",
    "b'abc",
    "'abc'",
    "b'a'b",
    "b'\\x4'",
    "b'\\x4g'",
    "b'\u00e9'",
    "echo b'x'",
    "b'\\'",
    "b'a\nb'",
    "b'it''s'",
    "b'a' ",
    " b'a'",
    "rb'x'",
    "b'''x'''",
  ];
  for (const literal of cases) assert.equal(parsePyBytesLiteral(literal), undefined, literal);
});

// Expected values from python3, disBatch's rule:
// (b if len(b) <= 40 else b[:40] + b'...' + b[-min(40, len(b) - 40):]).decode('utf-8', 'replace')
const SNIPPET_CASES: [string, string][] = [
  ["", ""],
  ["hello\n", "hello\n"],
  ["x".repeat(40), "x".repeat(40)],
  ["x".repeat(41), "x".repeat(40) + "...x"],
  [
    "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg",
    "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW...XYZ[\\]^_`abcdefg",
  ],
  [
    Array.from({ length: 25 }, (_, i) => String(i).padStart(3, "0") + ",").join(""),
    "000,001,002,003,004,005,006,007,008,009,...015,016,017,018,019,020,021,022,023,024,",
  ],
  ["a" + "\xc3\xa9".repeat(30), "a" + "\u00e9".repeat(19) + "\ufffd...\ufffd" + "\u00e9".repeat(10)],
  ["\xf0\x9f\x98\x80".repeat(11), "\ud83d\ude00".repeat(10) + "...\ud83d\ude00"],
  ["\xff\xfeok\n", "\ufffd\ufffdok\n"],
  ["\xe2\x82A\xed\xa0\x80\xf0\x9f\x98", "\ufffdA\ufffd\ufffd\ufffd\ufffd"],
];

Deno.test("snippetText() matches disBatch's snippet", () => {
  for (const [output, expected] of SNIPPET_CASES) {
    const bytes = latin1(output);
    // The collector keeps the first 40 bytes and a ring buffer of the last 40.
    const head = bytes.subarray(0, 40);
    const tail = bytes.subarray(Math.max(0, bytes.length - 40));
    assert.equal(snippetText(head, tail, bytes.length), expected, JSON.stringify(output));
  }
});

Deno.test("snippetText() uses only the bytes after the head when the output is short", () => {
  const bytes = latin1("x".repeat(40) + "0123456789abcdef");
  assert.equal(snippetText(bytes, bytes, 56), "x".repeat(40) + "...0123456789abcdef");
  assert.equal(
    snippetText(bytes.subarray(0, 40), bytes.subarray(40), 56),
    "x".repeat(40) + "...0123456789abcdef",
  );
});

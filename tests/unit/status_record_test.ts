import assert from "node:assert/strict";
import {
  barrierFlags,
  formatFixed3,
  formatStatusRecord,
  parseStatusLine,
  recordKind,
  STATUS_HEADER,
  statusLines,
  taskFlags,
} from "../../lib/status_record.ts";
import type { StatusRecord } from "../../lib/types.ts";

// Expected values from python3: '%.3f' % x.
const FIXED3_CASES: [number, string][] = [
  [0, "0.000"],
  [-0, "-0.000"],
  [0.0625, "0.062"], // exact tie: Python rounds half to even, toFixed() rounds up
  [0.1875, "0.188"],
  [-0.0625, "-0.062"],
  [123456789.0625, "123456789.062"],
  [0.0005, "0.001"], // not a tie in binary
  [1.0005, "1.000"],
  [2.675, "2.675"],
  [0.0015, "0.002"],
  [-0.0001, "-0.000"],
  [1795621734.298, "1795621734.298"],
  [1795621734.2985, "1795621734.299"],
  [0.009, "0.009"],
  [1.013, "1.013"],
  [1e-10, "0.000"],
  [999.9995, "1000.000"],
  [1e21, "1000000000000000000000.000"],
  [1e22, "10000000000000000000000.000"],
  [NaN, "nan"],
  [Infinity, "inf"],
  [-Infinity, "-inf"],
];

Deno.test("formatFixed3() matches Python's '%.3f'", () => {
  for (const [x, expected] of FIXED3_CASES) assert.equal(formatFixed3(x), expected, String(x));
});

Deno.test("taskFlags() sets R, O, E and the kind letter", () => {
  const cases: [Parameters<typeof taskFlags>, string][] = [
    [["normal", 0, 0, 0], "    "],
    [["normal", 2, 0, 129], "R E "],
    [["normal", 0, 11, 11], " OE "],
    [["normal", -9, 1, 0], "RO  "],
    [["perEngine", 0, 0, 0], "   P"],
    [["skip", 1, 0, 0], "R  S"],
    [["zombie", 0, 5, 0], " O Z"],
    [["killed", -15, 0, 0], "R  K"],
    [["timeout", -15, 3, 0], "RO T"],
  ];
  for (const [args, expected] of cases) assert.equal(taskFlags(...args), expected, args.join());
});

Deno.test("barrierFlags() gives 5 characters", () => {
  assert.equal(barrierFlags(false), "B    ");
  assert.equal(barrierFlags(true), "C    ");
});

Deno.test("recordKind() decides like disBatch's parser", () => {
  const cases: [string, ReturnType<typeof recordKind>][] = [
    ["    ", "normal"],
    ["ROE ", "normal"],
    ["   P", "perEngine"],
    ["R  S", "skip"],
    [" O Z", "zombie"],
    ["R  K", "killed"], // disBatch reads this as a failed normal task
    ["R  T", "timeout"], // so does it this
    ["B    ", "barrier"],
    ["C    ", "barrier"],
    ["R", "normal"],
  ];
  for (const [flags, expected] of cases) assert.equal(recordKind(flags), expected, JSON.stringify(flags));
});

const RECORD: StatusRecord = {
  flags: "    ",
  taskId: 1,
  line: 9,
  repeatIndex: -1,
  host: "vm",
  pid: 6864,
  returnCode: 0,
  elapsed: 1.013,
  start: 1795621734.322,
  end: 1795621735.335,
  stdoutBytes: 0,
  stdoutSnippet: "",
  stderrBytes: 0,
  stderrSnippet: "",
  command: "echo hello",
};
const PREFIX = "    \t1\t9\t-1\tvm\t6864\t0\t1.013\t1795621734.322\t1795621735.335\t0\t''\t0\t''\t";

Deno.test("formatStatusRecord() writes the command raw unless it needs a bytes literal", () => {
  const cases: [string, string][] = [
    ["echo hello", "echo hello"],
    ["printf 'a\tb'", "printf 'a\tb'"],
    ['echo caf\u00e9 "it\'s"', 'echo caf\u00e9 "it\'s"'],
    ["echo caf\udce9", "b'echo caf\\xe9'"], // not UTF-8: repr(bytes), as disBatch
    // Our addition: keep one record per line.
    ["echo a\necho b", "b'echo a\\necho b'"],
    // Raw, as disBatch writes it; it reads back as the bytes literal it looks like, and the raw
    // text is kept so a resume still matches the task (commandText).
    ["b'x'", "b'x'"],
  ];
  for (const [command, field] of cases) {
    const line = formatStatusRecord({ ...RECORD, command });
    assert.equal(line, PREFIX + field);
    const back = parseStatusLine(line) as StatusRecord;
    assert.ok(back.command === command || back.commandText === command, field);
  }
});

Deno.test("formatStatusRecord() writes snippets and times like disBatch", () => {
  const line = formatStatusRecord({
    ...RECORD,
    flags: "R E ",
    elapsed: 0.0625,
    start: 0.5,
    end: 0.5625,
    stdoutBytes: 3,
    stdoutSnippet: "it's\n",
    stderrBytes: 1,
    stderrSnippet: "\udc80\u2028\t\\",
  });
  assert.equal(
    line,
    "R E \t1\t9\t-1\tvm\t6864\t0\t0.062\t0.500\t0.562\t3\t\"it's\\n\"\t1\t'\\udc80\\u2028\\t\\\\'\techo hello",
  );
});

Deno.test("parseStatusLine() recognises the header and tolerates CRLF", () => {
  assert.equal(parseStatusLine(STATUS_HEADER), "header");
  assert.equal(parseStatusLine(STATUS_HEADER + "\r\n"), "header");
  assert.deepEqual(parseStatusLine(PREFIX + "echo hello\r"), RECORD);
  assert.deepEqual(parseStatusLine(PREFIX + "echo hello\n"), RECORD);
});

Deno.test("parseStatusLine() returns undefined for unparseable lines", () => {
  const cases = [
    "",
    "garbage line",
    PREFIX.split("\t").slice(0, 14).join("\t"), // 14 fields
    PREFIX.replace("\t6864\t", "\tx\t") + "cmd",
    PREFIX.replace("\t1\t9\t", "\t1.5\t9\t") + "cmd",
    PREFIX.replace("\t1.013\t", "\t\t") + "cmd",
    PREFIX.replace("\t1.013\t", "\t1.0.1\t") + "cmd",
    PREFIX.replace("\t0\t''\t0", "\t\t''\t0") + "cmd",
    PREFIX.replace("    \t", "R\t") + "cmd", // flags shorter than 4 characters
  ];
  for (const line of cases) assert.equal(parseStatusLine(line), undefined, JSON.stringify(line));
});

Deno.test("parseStatusLine() reads old disBatch commands and keeps unreadable snippets", () => {
  const cases: [string, Partial<StatusRecord>][] = [
    // disBatch <= 2.5: always repr(bytes)
    [PREFIX + "b'echo hello'", { command: "echo hello", commandText: "b'echo hello'" }],
    [PREFIX + "b'echo caf\\xe9'", { command: "echo caf\udce9", commandText: "b'echo caf\\xe9'" }],
    [PREFIX + 'b"x"', { command: 'b"x"' }], // the reference only reads b'…' back
    [PREFIX + "b'x' y", { command: "b'x' y" }],
    [PREFIX + "a\tb\t\tc", { command: "a\tb\t\tc" }],
    [PREFIX.replace("''\t0\t''", "'ok\\n'\t0\tnot a repr") + "c", {
      stdoutSnippet: "ok\n",
      stderrSnippet: "not a repr",
      command: "c",
    }],
    [PREFIX.replace("\t1.013\t", "\t1e3\t") + "c", { elapsed: 1000, command: "c" }],
  ];
  for (const [line, expected] of cases) {
    const record = parseStatusLine(line);
    assert.ok(record !== undefined && record !== "header", line);
    assert.deepEqual(record, { ...RECORD, ...expected });
  }
});

Deno.test("parseStatusLine() then formatStatusRecord() gives back disBatch's lines", async () => {
  const text = await Deno.readTextFile(new URL("../fixtures/status/reference_status.txt", import.meta.url));
  const lines = text.split("\n").slice(0, -1);
  // The K line is ours; the rest is what disBatch writes.
  const kinds = ["header", "perEngine", "normal", "normal", "normal", "barrier", "barrier", "skip", "normal"];
  kinds.push("zombie", "killed", "normal", "normal", "normal", "normal");
  assert.equal(lines.length, kinds.length);
  lines.forEach((line, index) => {
    const record = parseStatusLine(line);
    assert.ok(record !== undefined, line);
    assert.equal(record === "header" ? "header" : recordKind(record.flags), kinds[index]);
    assert.equal(record === "header" ? STATUS_HEADER : formatStatusRecord(record), line);
  });
  const nonUtf8 = parseStatusLine(lines[12]!);
  assert.ok(nonUtf8 !== undefined && nonUtf8 !== "header");
  assert.equal(nonUtf8.command, "echo caf\udce9");
  assert.equal(nonUtf8.stdoutSnippet, "caf\ufffd\n");
});

Deno.test("statusLines() reads records, skips blank lines and the header, and hands back unreadable lines", () => {
  const rec = "    \t1\t9\t-1\tvm\t6864\t0\t1.013\t1795621734.322\t1795621735.335\t0\t''\t0\t''\techo hi";
  const cases: [string, (number | string)[]][] = [
    ["", []],
    [`${rec}\n`, [1]],
    [`${STATUS_HEADER}\n\n   \n${rec}\ngarbage\n`, [1, "garbage"]],
    [`${rec}`, [1]],
  ];
  for (const [text, want] of cases) {
    const got = [...statusLines(text)].map((r) => typeof r === "string" ? r : r.taskId);
    assert.deepEqual(got, want, JSON.stringify(text));
  }
});

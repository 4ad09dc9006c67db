/**
 * One line of the status file, byte-compatible with disBatch's `TaskReport`.
 *
 * 15 tab-separated fields with the command last, so `--resume` reads old disBatch status files and
 * disBatch reads ours. The one-letter kind codes live only here.
 *
 * @example Round trip
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatStatusRecord, parseStatusLine } from "./status_record.ts";
 *
 * const line = " O  \t8\t17\t-1\tvm\t7029\t0\t0.011\t1.000\t1.011\t3\t'ok\\n'\t0\t''\techo ok";
 * const record = parseStatusLine(line);
 * assert.ok(record !== undefined && record !== "header");
 * assert.equal(record.stdoutSnippet, "ok\n");
 * assert.equal(formatStatusRecord(record), line);
 * ```
 *
 * @module
 */

import { parsePyBytesLiteral, parsePyStrLiteral, pyBytesRepr, pyStrRepr } from "./pyrepr.ts";
import { decodeSurrogateEscape, encodeSurrogateEscape, hasEscapedBytes } from "./text.ts";
import type { StatusRecord } from "./types.ts";

/** The exact first line written with `--status-header` (without the newline). */
export const STATUS_HEADER =
  "ROE[ PSZ]\tTaskID\tLineNum\tRepeatIndex\tNode\tPID\tReturnCode\tElapsed\tStart\tFinish" +
  "\tBytesOfLeakedOutput\tOutputSnippet\tBytesOfLeakedError\tErrorSnippet\tCommand";

/**
 * The kind of a task line. `killed` (flag `K`: stopped by disbatch, re-run by a plain `-r`) and
 * `timeout` (flag `T`: stopped at its time limit, a failure) are our extensions; disBatch reads
 * both as normal tasks with a non-zero return code.
 */
export type TaskRecordKind = "normal" | "perEngine" | "skip" | "zombie" | "killed" | "timeout";

/** The kind of any status line. */
export type RecordKind = TaskRecordKind | "barrier";

const KIND_LETTER: Readonly<Record<TaskRecordKind, string>> = {
  normal: " ",
  perEngine: "P",
  skip: "S",
  zombie: "Z",
  killed: "K",
  timeout: "T",
};
const LETTER_KIND: Readonly<Record<string, TaskRecordKind>> = {
  P: "perEngine",
  S: "skip",
  Z: "zombie",
  K: "killed",
  T: "timeout",
};
const FIELD_COUNT = 15;

/**
 * Python's `'%.3f' % x`: correctly rounded, ties to even (JS `toFixed` rounds exact ties up, e.g.
 * 0.0625 gives `0.063` where Python gives `0.062`), `-0.000` for negative zero, `nan`/`inf`.
 *
 * @param x Any number.
 * @returns The text with exactly three decimals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatFixed3 } from "./status_record.ts";
 *
 * assert.equal(formatFixed3(0.0625), "0.062");
 * assert.equal(formatFixed3(1795621734.2984), "1795621734.298");
 * ```
 */
export function formatFixed3(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  const a = Math.abs(x);
  // a * 1000 ends in exactly .5 only when a = j/16 with j odd (1000 = 125 * 8).
  const sixteenths = a * 16;
  if (Number.isInteger(sixteenths) && sixteenths % 2 === 1) {
    const below = (125n * BigInt(sixteenths) - 1n) / 2n;
    const thousandths = below % 2n === 0n ? below : below + 1n;
    return `${sign}${thousandths / 1000n}.${String(thousandths % 1000n).padStart(3, "0")}`;
  }
  // toFixed switches to exponent notation from 1e21 on; such doubles are integers.
  return sign + (a >= 1e21 ? `${BigInt(a)}.000` : a.toFixed(3));
}

/**
 * The 4-character flags of a task line: `R` (rc ≠ 0), `O` (stdout bytes), `E` (stderr bytes), kind.
 *
 * @param kind Which task line this is.
 * @param rc The return code.
 * @param outBytes Bytes written to stdout.
 * @param errBytes Bytes written to stderr.
 * @returns For example `"R E "`, `"   P"` or `"R  K"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { taskFlags } from "./status_record.ts";
 *
 * assert.equal(taskFlags("normal", 2, 0, 129), "R E ");
 * ```
 */
export function taskFlags(kind: TaskRecordKind, rc: number, outBytes: number, errBytes: number): string {
  return (rc !== 0 ? "R" : " ") + (outBytes > 0 ? "O" : " ") + (errBytes > 0 ? "E" : " ") + KIND_LETTER[kind];
}

/**
 * The 5-character flags of a barrier line.
 *
 * @param check Whether it is a `BARRIER CHECK`.
 * @returns `"C    "` or `"B    "`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { barrierFlags } from "./status_record.ts";
 *
 * assert.equal(barrierFlags(true), "C    ");
 * ```
 */
export function barrierFlags(check: boolean): string {
  return check ? "C    " : "B    ";
}

/**
 * Formats one status line, without the trailing newline.
 *
 * The command is written raw, except when it is not valid UTF-8, holds a line break, or would read
 * back as a bytes literal: then it is written as Python's `repr(bytes)`, as disBatch does for
 * non-UTF-8 commands, and both disBatch and {@linkcode parseStatusLine} read it back exactly.
 *
 * @param r The record.
 * @returns The tab-separated line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatStatusRecord } from "./status_record.ts";
 *
 * const line = formatStatusRecord({
 *   flags: "    ", taskId: 1, line: 9, repeatIndex: -1, host: "vm", pid: 6864, returnCode: 0,
 *   elapsed: 1.013, start: 1795621734.322, end: 1795621735.335, stdoutBytes: 0, stdoutSnippet: "",
 *   stderrBytes: 0, stderrSnippet: "", command: "echo \udcff",
 * });
 * assert.equal(line, "    \t1\t9\t-1\tvm\t6864\t0\t1.013\t1795621734.322\t1795621735.335\t0\t''\t0\t''\tb'echo \\xff'");
 * ```
 */
export function formatStatusRecord(r: StatusRecord): string {
  return [
    r.flags,
    String(r.taskId),
    String(r.line),
    String(r.repeatIndex),
    r.host,
    String(r.pid),
    String(r.returnCode),
    formatFixed3(r.elapsed),
    formatFixed3(r.start),
    formatFixed3(r.end),
    String(r.stdoutBytes),
    pyStrRepr(r.stdoutSnippet),
    String(r.stderrBytes),
    pyStrRepr(r.stderrSnippet),
    formatCommand(r.command),
  ].join("\t");
}

function formatCommand(command: string): string {
  // Raw, as the reference writes it, unless the bytes are not UTF-8 (then `b'…'`) or would break
  // the one-line format. A command that itself looks like `b'…'` is ambiguous in the reference's
  // format too; resume matches such a line on its raw text as well (see resume.ts).
  const raw = !hasEscapedBytes(command) && !/[\n\r]/.test(command);
  return raw ? command : pyBytesRepr(encodeSurrogateEscape(command));
}

/** Field indices of TaskID, LineNum, RepeatIndex, PID, ReturnCode and the two byte counts. */
const INT_FIELDS = [1, 2, 3, 5, 6, 10, 12];
/** Field indices of Elapsed, Start and Finish. */
const FLOAT_FIELDS = [7, 8, 9];
const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;

function parseInt10(text: string): number | undefined {
  return INT.test(text) ? Number(text) : undefined;
}

function parseFloat10(text: string): number | undefined {
  if (!FLOAT.test(text)) return undefined;
  if (/nan$/i.test(text)) return NaN;
  return /inf/i.test(text) ? (text.startsWith("-") ? -Infinity : Infinity) : Number(text);
}

/**
 * Parses one status line as disBatch's `TaskReport(str)` does: split on the first 14 tabs (the
 * command may hold tabs), snippets read back from their Python repr (kept as written if that
 * fails), a command that is a bytes literal decoded with surrogateescape (old disBatch files and
 * non-UTF-8 commands). A trailing `\n` and `\r` are ignored.
 *
 * @param line One line of a status file.
 * @returns The record, `"header"` for the `--status-header` line, or undefined when unparseable
 * (wrong field count, flags shorter than 4 characters, a number field that is not a number).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStatusLine, STATUS_HEADER } from "./status_record.ts";
 *
 * assert.equal(parseStatusLine(STATUS_HEADER), "header");
 * assert.equal(parseStatusLine("garbage line"), undefined);
 * ```
 */
export function parseStatusLine(line: string): StatusRecord | undefined | "header" {
  if (line.endsWith("\n")) line = line.slice(0, -1);
  if (line.endsWith("\r")) line = line.slice(0, -1);
  if (line === STATUS_HEADER) return "header";
  const f = splitFields(line);
  if (f === undefined || f[0].length < 4) return undefined;
  const ints = INT_FIELDS.map((k) => parseInt10(f[k]));
  const floats = FLOAT_FIELDS.map((k) => parseFloat10(f[k]));
  if (ints.includes(undefined) || floats.includes(undefined)) return undefined;
  const [taskId, lineNo, repeatIndex, pid, returnCode, stdoutBytes, stderrBytes] = ints as number[];
  const [elapsed, start, end] = floats as number[];
  // The reference only reads commands written as b'…' back as bytes (l.818-822).
  const bytes = f[14].startsWith("b'") ? parsePyBytesLiteral(f[14]) : undefined;
  return {
    flags: f[0],
    taskId,
    line: lineNo,
    repeatIndex,
    host: f[4],
    pid,
    returnCode,
    elapsed,
    start,
    end,
    stdoutBytes,
    stdoutSnippet: parsePyStrLiteral(f[11]) ?? f[11],
    stderrBytes,
    stderrSnippet: parsePyStrLiteral(f[13]) ?? f[13],
    command: bytes === undefined ? f[14] : decodeSurrogateEscape(bytes),
    ...(bytes === undefined ? {} : { commandText: f[14] }),
  };
}

/** Splits on the first 14 tabs; undefined when there are fewer. */
function splitFields(line: string): string[] | undefined {
  const fields: string[] = [];
  let from = 0;
  while (fields.length < FIELD_COUNT - 1) {
    const tab = line.indexOf("\t", from);
    if (tab < 0) return undefined;
    fields.push(line.slice(from, tab));
    from = tab + 1;
  }
  fields.push(line.slice(from));
  return fields;
}

/**
 * The kind of a status line from its flags, as disBatch's parser decides it: column 4 `P`/`S`/`Z`
 * (and our `K`, `T`), else column 1 other than space or `R` is a barrier, else a normal task.
 *
 * @param flags The first field of a status line.
 * @returns The kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordKind } from "./status_record.ts";
 *
 * assert.equal(recordKind("R  S"), "skip");
 * assert.equal(recordKind("B    "), "barrier");
 * assert.equal(recordKind(" OE "), "normal");
 * ```
 */
export function recordKind(flags: string): RecordKind {
  const kind = LETTER_KIND[flags[3] ?? ""];
  if (kind !== undefined) return kind;
  return flags[0] !== " " && flags[0] !== "R" ? "barrier" : "normal";
}

/**
 * Every non-blank line of a status file's text, read: a record, or the line itself when it is not
 * one (the header line is skipped).
 *
 * @param text The file's text.
 * @returns Records and unreadable lines, in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusLines } from "./status_record.ts";
 *
 * assert.deepEqual([...statusLines("\ngarbage\n")], ["garbage"]);
 * ```
 */
export function* statusLines(text: string): Generator<StatusRecord | string> {
  for (let at = 0; at < text.length;) {
    let nl = text.indexOf("\n", at);
    if (nl < 0) nl = text.length;
    const line = text.slice(at, nl);
    at = nl + 1;
    if (line.trim() === "") continue;
    const r = parseStatusLine(line);
    if (r === "header") continue;
    yield r ?? line;
  }
}

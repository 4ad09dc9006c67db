/**
 * The JSON result of a finished item, for `--results` and for the programs that feed tasks
 * (`--taskcommand`, the Python and Deno clients): one object per line, written as each task,
 * barrier or PERENGINE task finishes (and for each task a resume skips).
 *
 * Field names are those of disBatch's status report dictionaries, so code written for disBatch's
 * `DisBatcher` reads them unchanged; `Kind`, `Reason` and `Attempt` are disbatch's additions.
 *
 * | Field             | Type   | Meaning                                                                  |
 * | ----------------- | ------ | ------------------------------------------------------------------------ |
 * | `Flags`           | string | the status line's flags (`"R  T"`, `"B    "`, …)                          |
 * | `TaskId`          | number | task id (PERENGINE tasks: their own index)                                |
 * | `TaskStreamIndex` | number | line of the task stream (1-based)                                         |
 * | `TaskRepIndex`    | number | REPEAT index, -1 otherwise                                                |
 * | `Host`            | string | node that ran it (the driver's for a barrier)                             |
 * | `PID`             | number | process id (-1 when it never started)                                     |
 * | `ReturnCode`      | number | exit status, or minus the signal; -100 lost with its engines              |
 * | `Elapsed`         | number | seconds                                                                   |
 * | `Start`, `End`    | number | Unix seconds                                                              |
 * | `OutBytes`        | number | bytes the task wrote to stdout                                            |
 * | `OutData`         | string | first 40 and last 40 of them (`…` between)                                |
 * | `ErrBytes`        | number | the same for stderr                                                       |
 * | `ErrData`         | string |                                                                          |
 * | `TaskCmd`         | string | the command as run (PREFIX and SUFFIX included)                           |
 * | `Kind`            | string | `task`, `barrier` or `perEngine`                                          |
 * | `Reason`          | string | `succeeded`, `failed`, `timeout`, `killed`, `lost`, `skipped`, `passed`   |
 * |                   |        | (a barrier; `failed` for a `BARRIER CHECK` that stopped the run)          |
 * | `Attempt`         | number | which run of the task this outcome is (`DISBATCH_ATTEMPT`), 0 the first   |
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resultObject } from "./results.ts";
 *
 * const r = resultObject({
 *   flags: "R   ", taskId: 7, line: 8, repeatIndex: -1, host: "n1", pid: 42, returnCode: 1,
 *   elapsed: 2, start: 100, end: 102, stdoutBytes: 0, stdoutSnippet: "", stderrBytes: 0,
 *   stderrSnippet: "", command: "exit 1",
 * }, 0);
 * assert.equal(r.TaskId, 7);
 * assert.equal(r.Reason, "failed");
 * ```
 *
 * @module
 */

import { formatFixed3, recordKind } from "./status_record.ts";
import type { StatusRecord } from "./types.ts";

/** One result, as written (field order as disBatch's report dictionaries, then ours). */
export interface TaskResult {
  Flags: string;
  TaskId: number;
  TaskStreamIndex: number;
  TaskRepIndex: number;
  Host: string;
  PID: number;
  ReturnCode: number;
  Elapsed: number;
  Start: number;
  End: number;
  OutBytes: number;
  OutData: string;
  ErrBytes: number;
  ErrData: string;
  TaskCmd: string;
  Kind: "task" | "barrier" | "perEngine";
  Reason: "succeeded" | "failed" | "timeout" | "killed" | "lost" | "skipped" | "passed";
  Attempt: number;
}

/** Milliseconds, rounded exactly as the status file writes them. */
function ms(x: number): number {
  return Number(formatFixed3(x));
}

/**
 * @param r a status record @param attempt which run of the task it is
 * @param failedCheck a `BARRIER CHECK` that found failures (its record is a passed one's, as disBatch
 *   writes it): `Reason` is `failed`
 * @returns the result object
 */
export function resultObject(r: StatusRecord, attempt: number, failedCheck = false): TaskResult {
  const k = recordKind(r.flags);
  const kind = k === "barrier" ? "barrier" : k === "perEngine" ? "perEngine" : "task";
  const reason: TaskResult["Reason"] = k === "barrier"
    ? failedCheck ? "failed" : "passed"
    : k === "skip"
    ? "skipped"
    : k === "timeout"
    ? "timeout"
    : k === "killed"
    ? "killed"
    : r.returnCode === -100 && r.pid === -1
    ? "lost"
    : r.returnCode === 0
    ? "succeeded"
    : "failed";
  return {
    Flags: r.flags,
    TaskId: r.taskId,
    TaskStreamIndex: r.line,
    TaskRepIndex: r.repeatIndex,
    Host: r.host,
    PID: r.pid,
    ReturnCode: r.returnCode,
    Elapsed: ms(r.elapsed),
    Start: ms(r.start),
    End: ms(r.end),
    OutBytes: r.stdoutBytes,
    OutData: r.stdoutSnippet,
    ErrBytes: r.stderrBytes,
    ErrData: r.stderrSnippet,
    TaskCmd: r.command,
    Kind: kind,
    Reason: reason,
    Attempt: attempt,
  };
}

/**
 * @param r a status record @param attempt which run of the task it is
 * @param failedCheck a `BARRIER CHECK` that found failures
 * @returns one JSON line, newline included
 */
export function resultLine(r: StatusRecord, attempt: number, failedCheck = false): string {
  return JSON.stringify(resultObject(r, attempt, failedCheck)) + "\n";
}

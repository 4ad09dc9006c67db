/**
 * The scheduler's records and counts: the status line of a task's outcome (or of a barrier, or of
 * a task lost with its engine), and the tallies the summary, `-e` and `BARRIER CHECK` read.
 *
 * @module
 */

import { barrierFlags, taskFlags } from "./status_record.ts";
import { TIMEOUT_RC } from "./scheduler_types.ts";
import type { Barrier, StatusRecord, Task, TaskOutcome } from "./types.ts";

/** A failure a `BARRIER CHECK` looks at. */
export interface SegmentFailure {
  id: number;
  line: number;
  rc: number;
}

/** How many first failures the summary keeps. */
const FIRST_FAILURES = 5;

/** Counts of the run's records. */
export class Tally {
  finished = 0;
  failed = 0;
  /** Tasks killed because the run was ending (`K`): not their own failures. */
  killed = 0;
  /** Tasks an engine was running when it was lost as the run was being killed: not recorded. */
  lostAtEnd = 0;
  barriers = 0;
  skipped = 0;
  /** Attempts stopped at their time limit (retried ones included). */
  timedOut = 0;
  /** Failures first seen, for the summary. */
  readonly firstFailures: StatusRecord[] = [];
  /** Failures since the last barrier (for `BARRIER CHECK`). */
  segment: SegmentFailure[] = [];

  /** A failed record: counted, and kept when among the first. */
  countFailure(r: StatusRecord): void {
    this.failed++;
    if (this.firstFailures.length < FIRST_FAILURES) this.firstFailures.push(r);
  }

  /** A failure `BARRIER CHECK` will see. */
  segmentFailed(id: number, line: number, rc: number): void {
    this.segment.push({ id, line, rc });
  }

  /** A barrier is passed: the failures it judges, which are cleared. */
  passSegment(): SegmentFailure[] {
    const failures = this.segment;
    this.segment = [];
    return failures;
  }

  /**
   * Re-attached: a barrier already recorded at `id`: the failures before it, which are cleared
   * (those after it, reported early by an engine back, stay).
   */
  passSegmentAt(id: number): SegmentFailure[] {
    const before = this.segment.filter((f) => f.id < id);
    this.segment = this.segment.filter((f) => f.id > id);
    return before;
  }
}

/**
 * The status line of an outcome: `T` and a non-zero code for a task stopped at its time limit.
 * @param host the Node column @param t the task @param o its outcome
 * @param kind `perEngine` for a PERENGINE task
 */
export function recordOf(host: string, t: Task, o: TaskOutcome, kind: "normal" | "perEngine"): StatusRecord {
  const flagKind = kind === "perEngine"
    ? "perEngine"
    : o.timedOut
    ? "timeout"
    : o.killed
    ? "killed"
    : "normal";
  const rc = o.timedOut && o.returnCode === 0 ? TIMEOUT_RC : o.returnCode;
  return {
    flags: taskFlags(flagKind, rc, o.stdoutBytes, o.stderrBytes),
    taskId: t.id,
    line: t.line,
    repeatIndex: t.repeatIndex,
    host,
    pid: o.pid,
    returnCode: rc,
    elapsed: o.end - o.start,
    start: o.start,
    end: o.end,
    stdoutBytes: o.stdoutBytes,
    stdoutSnippet: o.stdoutSnippet,
    stderrBytes: o.stderrBytes,
    stderrSnippet: o.stderrSnippet,
    command: t.command,
  };
}

/**
 * The outcome of a task lost with its engine (rc -100, no output, pid -1: the driver never hears
 * them). It ran from when it was sent, as far as the driver knows (an engine starts what it is sent
 * at once while it has a free slot): so its elapsed time counts the work the loss cost.
 * @param t the task @param now seconds @param killed flagged `K` (the run was ending)
 * @param since when it was sent (undefined for a task an engine brought back: then `now`)
 */
export function lostOutcome(t: Task, now: number, killed: boolean, since?: number): TaskOutcome {
  return {
    id: t.id,
    kind: "normal",
    slot: -1,
    pid: -1,
    returnCode: -100,
    start: since !== undefined && since < now ? since : now,
    end: now,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    killed,
  };
}

/**
 * A barrier's status line: written by the driver, from when it was reached to when it was passed.
 * @param b the barrier @param reachedAt seconds @param now seconds
 * @param driver the driver's host and PID
 */
export function barrierRecord(
  b: Barrier,
  reachedAt: number,
  now: number,
  driver: { host: string; pid: number },
): StatusRecord {
  return {
    flags: barrierFlags(b.check),
    taskId: b.id,
    line: b.line,
    repeatIndex: -1,
    host: driver.host,
    pid: driver.pid,
    returnCode: 0,
    elapsed: now - reachedAt,
    start: reachedAt,
    end: now,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    command: b.text,
  };
}

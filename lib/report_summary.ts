/**
 * The numbers of a run report (`disbatch report`, `--json`): a status file parsed, whoever wrote it
 * and in whatever order, and summarized into counts, hosts, spans, rates and duration percentiles.
 * Pure; re-exported from {@linkcode ./report.ts}.
 *
 * @example Summarize two lines
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStatusText, summarize } from "./report_summary.ts";
 *
 * const { records } = parseStatusText(
 *   "R   \t1\t2\t-1\tvm\t11\t3\t0.004\t100.000\t100.004\t0\t''\t0\t''\texit 3\n" +
 *     "    \t0\t1\t-1\tvm\t10\t0\t0.200\t100.000\t100.200\t0\t''\t0\t''\tsleep 0.2\n",
 * );
 * const s = summarize(records);
 * assert.equal(s.tasks, 2);
 * assert.equal(s.failed, 1);
 * assert.equal(s.wall, 0.2);
 * ```
 *
 * @module
 */

import { type LoggedAllocation, loggedAllocationState } from "./report_log.ts";
import { parseStatusLine, type RecordKind, recordKind } from "./status_record.ts";
import type { StatusRecord } from "./types.ts";

/** The numbers of a run; `--json` prints this object. Durations and times are in seconds. */
export interface ReportSummary {
  /** Task lines run in this run: normal and killed (`K`); not skipped, zombie, per-engine or barrier lines. */
  tasks: number;
  /** Tasks with return code 0. */
  succeeded: number;
  /** Tasks with a non-zero return code (killed ones included). */
  failed: number;
  /** Tasks killed by disbatch itself (flag `K`). */
  killed: number;
  /** Tasks stopped at their time limit (flag `T`; counted in `failed` too). */
  timedOut: number;
  /** Earlier attempts that failed and ran again (`<run>_attempts.txt`); 0 when there is none. */
  attempts: number;
  /** Hosts the run quarantined, and why (from the driver log, when it is there). */
  quarantined: { host: string; reason: string }[];
  /** Allocations the run asked for (`--alloc`; from the driver log, when it is there). */
  allocations: LoggedAllocation[];
  /** Lines skipped on resume (flag `S`). */
  skipped: number;
  /** Barrier lines (`B`/`C`). */
  barriers: number;
  /** PERENGINE START/STOP lines, and how many of them failed. */
  perEngine: number;
  perEngineFailed: number;
  /** Late reports of tasks already given up on (flag `Z`). */
  zombies: number;
  /** Tasks per host (status lines name the host, not the engine rank), natural host order. */
  hosts: { host: string; tasks: number; failed: number; busy: number; failedAttempts: number }[];
  /** First start and last end over every line but skipped ones (null when there is none). */
  firstStart: number | null;
  lastEnd: number | null;
  /** lastEnd − firstStart. */
  wall: number;
  /** Sum of task durations. */
  taskTime: number;
  /** Tasks per second over the wall span (0 when the span is 0). */
  throughput: number;
  /** Average number of tasks running at once: taskTime / wall. */
  concurrency: number;
  /** Task duration statistics (linear-interpolated percentiles, as numpy's default); null without tasks. */
  duration: { min: number; mean: number; median: number; p90: number; max: number } | null;
}

/**
 * Parses a whole status file: the header line and blank lines are skipped, unparseable lines counted.
 *
 * @param text The file's text.
 * @returns The records in file order and the number of lines that could not be parsed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStatusText } from "./report_summary.ts";
 *
 * assert.deepEqual(parseStatusText("junk\n\n"), { records: [], badLines: 1 });
 * ```
 */
export function parseStatusText(text: string): { records: StatusRecord[]; badLines: number } {
  const records: StatusRecord[] = [];
  let badLines = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const r = parseStatusLine(line);
    if (r === undefined) badLines++;
    else if (r !== "header") records.push(r);
  }
  return { records, badLines };
}

/**
 * Whether a line of this kind is a task's own (normal, killed or timed out): not skipped, zombie,
 * per-engine or barrier.
 * @param k the line's kind @returns true for a task line
 */
export function isTask(k: RecordKind): boolean {
  return k === "normal" || k === "killed" || k === "timeout";
}

/**
 * Linear-interpolated percentile of sorted values.
 *
 * @param sorted Ascending values (not empty).
 * @param q Between 0 and 1.
 * @returns The percentile.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percentile } from "./report_summary.ts";
 *
 * assert.equal(percentile([1, 2, 3, 4], 0.5), 2.5);
 * ```
 */
export function percentile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const i = Math.floor(pos);
  const next = sorted[Math.min(i + 1, sorted.length - 1)]!;
  return sorted[i]! + (next - sorted[i]!) * (pos - i);
}

/**
 * Computes the run's numbers from its status lines (any order).
 *
 * @param records Parsed status lines.
 * @returns The summary.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarize } from "./report_summary.ts";
 *
 * assert.equal(summarize([]).duration, null);
 * ```
 */
export function summarize(
  records: readonly StatusRecord[],
  attempts: readonly StatusRecord[] = [],
  quarantined: readonly { host: string; reason: string }[] = [],
  allocations: readonly LoggedAllocation[] = [],
): ReportSummary {
  const s: ReportSummary = {
    tasks: 0,
    succeeded: 0,
    failed: 0,
    killed: 0,
    timedOut: 0,
    attempts: attempts.length,
    quarantined: [],
    allocations: [],
    skipped: 0,
    barriers: 0,
    perEngine: 0,
    perEngineFailed: 0,
    zombies: 0,
    hosts: [],
    firstStart: null,
    lastEnd: null,
    wall: 0,
    taskTime: 0,
    throughput: 0,
    concurrency: 0,
    duration: null,
  };
  const hosts = new Map<string, ReportSummary["hosts"][number]>();
  const durations: number[] = [];
  for (const r of records) {
    const k = recordKind(r.flags);
    if (k !== "skip") {
      s.firstStart = Math.min(s.firstStart ?? Infinity, r.start);
      s.lastEnd = Math.max(s.lastEnd ?? -Infinity, r.end, r.start);
    }
    if (k === "skip") s.skipped++;
    else if (k === "barrier") s.barriers++;
    else if (k === "zombie") s.zombies++;
    else if (k === "perEngine") {
      s.perEngine++;
      if (r.returnCode !== 0) s.perEngineFailed++;
    }
    if (!isTask(k)) continue;
    const d = Math.max(0, r.elapsed);
    s.tasks++;
    if (k === "killed") s.killed++;
    if (k === "timeout") s.timedOut++;
    if (r.returnCode !== 0) s.failed++;
    durations.push(d);
    s.taskTime += d;
    const h = hosts.get(r.host) ?? { host: r.host, tasks: 0, failed: 0, busy: 0, failedAttempts: 0 };
    h.tasks++;
    if (r.returnCode !== 0) h.failed++;
    h.busy += d;
    hosts.set(r.host, h);
  }
  for (const a of attempts) {
    const h = hosts.get(a.host) ?? { host: a.host, tasks: 0, failed: 0, busy: 0, failedAttempts: 0 };
    h.failedAttempts++;
    hosts.set(a.host, h);
  }
  s.quarantined = quarantined.map((q) => ({ ...q }));
  s.allocations = allocations.map((a) => ({ ...a, state: loggedAllocationState(a) }));
  s.succeeded = s.tasks - s.failed;
  s.hosts = [...hosts.values()].sort((a, b) => a.host.localeCompare(b.host, "en", { numeric: true }));
  if (s.firstStart !== null && s.lastEnd !== null) s.wall = round6(s.lastEnd - s.firstStart);
  s.taskTime = round6(s.taskTime);
  for (const h of s.hosts) h.busy = round6(h.busy);
  if (s.wall > 0) {
    s.throughput = round6(s.tasks / s.wall);
    s.concurrency = round6(s.taskTime / s.wall);
  }
  if (durations.length > 0) {
    durations.sort((a, b) => a - b);
    s.duration = {
      min: durations[0]!,
      mean: round6(s.taskTime / durations.length),
      median: round6(percentile(durations, 0.5)),
      p90: round6(percentile(durations, 0.9)),
      max: durations[durations.length - 1]!,
    };
  }
  return s;
}

/** Rounds away float noise (status times have millisecond resolution). */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

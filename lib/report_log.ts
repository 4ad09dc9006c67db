/**
 * What the run report (`disbatch report`) reads from a run's driver log: the hosts it quarantined
 * and the allocations it asked for with `--alloc`, with where each allocation stood at the log's
 * end. Pure; re-exported from {@linkcode ./report.ts}.
 *
 * @module
 */

import { allocationStatus, type AllocShownState } from "./allocator.ts";

/**
 * The hosts a run quarantined, from its driver log (`… WARNING Host n3 quarantined: why; it gets no more tasks`).
 *
 * @param log The driver log's text.
 * @returns Host and reason, in log order, each host once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quarantinedInLog } from "./report_log.ts";
 *
 * const log = "2026-12-04 10:00:00,000 WARNING Host n3 quarantined: its engine was lost 2 times; it gets no more tasks\n";
 * assert.deepEqual(quarantinedInLog(log), [{ host: "n3", reason: "its engine was lost 2 times" }]);
 * ```
 */
export function quarantinedInLog(log: string): { host: string; reason: string }[] {
  const out = new Map<string, string>();
  for (const m of log.matchAll(/ WARNING Host (\S+) quarantined: (.*); it gets no more tasks$/gm)) {
    if (!out.has(m[1]!)) out.set(m[1]!, m[2]!);
  }
  return [...out].map(([host, reason]) => ({ host, reason }));
}

/** An allocation as the driver log tells it (times as the log writes them, local). */
export interface LoggedAllocation {
  label: string;
  jobId?: string;
  asked: string;
  running?: string;
  /** Its end as Slurm set it (UTC, ISO 8601). */
  endsAt?: string;
  /**
   * Where it stands at the log's end: `submitting`, `pending`, `running`, `ended`, `cancelled`,
   * `failed` (set by {@linkcode summarize}; see {@linkcode loggedAllocationState}).
   */
  state?: AllocShownState;
  /** Nodes it asked for (`-N`). */
  nodesAsked?: number;
  /** Nodes Slurm gave it, and their names, once it ran. */
  nodeCount?: number;
  nodes?: string;
  /** When it was over, and how. */
  ended?: string;
  outcome?: string;
}

/**
 * The allocations a run asked for (`--alloc`), from its driver log.
 *
 * @param log The driver log's text.
 * @returns One row per allocation, in the order they were asked for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocationsInLog } from "./report_log.ts";
 *
 * const log = "2026-12-04 03:34:02,702 INFO Asking for allocation A1: 60 task(s) ready\n" +
 *   "2026-12-04 03:34:02,716 INFO Allocation A1 is Slurm job 75\n" +
 *   "2026-12-04 03:34:03,087 INFO Allocation A1 is running until 2026-12-04T03:36:02.086Z\n";
 * assert.deepEqual(allocationsInLog(log), [{
 *   label: "A1", asked: "2026-12-04 03:34:02", jobId: "75", running: "2026-12-04 03:34:03",
 *   endsAt: "2026-12-04T03:36:02.086Z",
 * }]);
 * ```
 */
export function allocationsInLog(log: string): LoggedAllocation[] {
  const out = new Map<string, LoggedAllocation>();
  const line = /^(\S+ \S+),\d+ \w+ (.*)$/gm;
  for (const [, at, text] of log.matchAll(line)) {
    const asked = /^Asking for allocation (A\d+):(?:.*; (\d+) node\(s\) asked)?/.exec(text!);
    if (asked) {
      out.set(asked[1]!, {
        label: asked[1]!,
        asked: at!,
        ...(asked[2] ? { nodesAsked: Number(asked[2]) } : {}),
      });
      continue;
    }
    const m = /^Allocation (A\d+)(?: \(job \S+\))? (.*)$/.exec(text!);
    const a = m && out.get(m[1]!);
    if (!a) continue;
    const rest = m[2]!;
    let x: RegExpExecArray | null;
    if ((x = /^is Slurm job (\S+)$/.exec(rest))) a.jobId = x[1]!;
    else if ((x = /^is running(?: until (\S+))?$/.exec(rest))) {
      a.running = at!;
      if (x[1]) a.endsAt = x[1];
    } else if ((x = /^now ends at (\S+)$/.exec(rest))) a.endsAt = x[1]!;
    else if ((x = /^holds (\d+) node\(s\): (\S+)$/.exec(rest))) {
      a.nodeCount = Number(x[1]);
      if (x[2] !== "?") a.nodes = x[2]!;
    } else if ((x = /^is over: (.*)$/.exec(rest))) {
      a.ended = at!;
      a.outcome = x[1]!;
    }
  }
  return [...out.values()];
}

/**
 * Where a logged allocation stands at the log's end.
 *
 * @param a What the log told of it.
 * @returns `ended`, `cancelled` or `failed` once over (as {@linkcode allocationStatus}), else
 *   `running`, `pending` (it has a job id) or `submitting`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loggedAllocationState } from "./report_log.ts";
 *
 * assert.equal(loggedAllocationState({ label: "A1", asked: "", jobId: "7" }), "pending");
 * assert.equal(
 *   loggedAllocationState({ label: "A1", asked: "", jobId: "7", outcome: "cancelled at the end of the run" }),
 *   "cancelled",
 * );
 * ```
 */
export function loggedAllocationState(a: LoggedAllocation): AllocShownState {
  if (a.outcome !== undefined) {
    return allocationStatus({ state: "ended", outcome: a.outcome, ...(a.running ? { startedAt: 0 } : {}) });
  }
  return a.running ? "running" : a.jobId ? "pending" : "submitting";
}

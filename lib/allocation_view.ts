/**
 * How allocations of `--alloc` are shown: their state as the views name it, the nodes they hold,
 * a line of text each (`--status`, the log), and rows for the monitor and the dashboard. Pure;
 * re-exported from {@linkcode ./allocator.ts}.
 *
 * @module
 */

import { formatDuration } from "./progress_view.ts";
import type { Allocation } from "./allocator.ts";

/** Where an allocation is, as the views show it: an ended one says how it ended. */
export type AllocShownState = "submitting" | "pending" | "running" | "ended" | "cancelled" | "failed";

/**
 * An allocation's state as shown: `ended` splits into `cancelled` (at the end of the run, before it
 * ran), `failed` (not submitted, or gone before its engines joined) and `ended`.
 * @param a the allocation (its state, start and outcome)
 * @returns the state word
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocationStatus } from "./allocator.ts";
 * assert.equal(allocationStatus({ state: "ended", outcome: "not submitted: no partition" }), "failed");
 * ```
 */
export function allocationStatus(a: Pick<Allocation, "state" | "startedAt" | "outcome">): AllocShownState {
  if (a.state !== "ended") return a.state;
  if (/^cancelled/.test(a.outcome ?? "")) return "cancelled";
  return a.startedAt === undefined ? "failed" : "ended";
}

/**
 * The nodes an allocation holds or will hold: Slurm's count once it runs, else what it asked for.
 * @param a the allocation @returns a count (1 when nothing is known)
 */
export function allocationNodes(a: Pick<Allocation, "nodeCount" | "nodesAsked">): number {
  return a.nodeCount ?? a.nodesAsked ?? 1;
}

/** Seconds as `45 s` under two minutes, else `3m05s`, `1h02m`. */
function secs(s: number): string {
  const r = Math.max(0, Math.round(s));
  return r < 120 ? `${r} s` : formatDuration(r);
}

/** Seconds as `45s`, `3m05s`, `1h02m` (whole seconds). */
function short(s: number): string {
  const r = Math.max(0, Math.round(s));
  return r < 60 ? `${r}s` : formatDuration(r);
}

/**
 * One line about an allocation, for `--status`: its state, nodes, start and end (or time left).
 * @param a the allocation @param now Unix seconds
 * @returns e.g. `allocation A2 (job 113): running on n2, 1 node(s), started 40 s ago, ends in 85 s`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocationText } from "./allocator.ts";
 * const a = { label: "A1", jobId: "7", state: "pending" as const, submittedAt: 0 };
 * assert.equal(allocationText(a, 30), "allocation A1 (job 7): pending for 30 s");
 * assert.equal(
 *   allocationText({ ...a, state: "ended", startedAt: 40, endedAt: 100, nodeCount: 2, nodes: "n[1-2]",
 *     outcome: "its engines finished" }, 130),
 *   "allocation A1 (job 7): ended (its engines finished), on n[1-2], 2 node(s), started 90 s ago, ended 30 s ago",
 * );
 * ```
 */
export function allocationText(a: Allocation, now: number): string {
  const head = `allocation ${a.label}${a.jobId ? ` (job ${a.jobId})` : ""}: `;
  const asked = a.nodesAsked !== undefined ? `, ${a.nodesAsked} node(s) asked` : "";
  const count = a.nodeCount !== undefined || a.nodesAsked !== undefined
    ? `, ${allocationNodes(a)} node(s)`
    : "";
  const started = a.startedAt !== undefined ? `, started ${secs(now - a.startedAt)} ago` : "";
  switch (a.state) {
    case "submitting":
      return head + "being submitted" + asked;
    case "pending":
      return head + `pending for ${secs(now - a.submittedAt)}` + asked;
    case "running":
      return head + `running${a.nodes ? ` on ${a.nodes}` : ""}` + count + started +
        (a.endsAt !== undefined ? `, ends in ${secs(a.endsAt - now)}` : "") +
        (a.slots ? `, ${a.slots} slot(s)` : "");
    default:
      return head + `${allocationStatus(a)} (${a.outcome ?? "over"})` +
        (a.startedAt !== undefined ? (a.nodes ? `, on ${a.nodes}` : "") + count : asked) + started +
        (a.endedAt !== undefined ? `, ended ${secs(now - a.endedAt)} ago` : "");
  }
}

/** One allocation as a table row (monitor, dashboard): every cell is display text. */
export interface AllocationRow {
  /** `A1`, … */
  label: string;
  /** Slurm job id, or `-` before sbatch answered. */
  job: string;
  state: AllocShownState;
  /** `2 (n[1-2])` once it runs, `2 asked` before. */
  nodes: string;
  /** `5m03s ago` once it ran, else `-`. */
  start: string;
  /** `in 1m25s` (time left) while it runs with a known end, `30s ago` once over, else `-`. */
  end: string;
  /** How long it has been pending, its slots, or how it ended. */
  note: string;
}

/**
 * Every allocation of the run as a row, oldest first: job id, state, nodes, start, end (or time
 * left) and a note.
 * @param allocs the run's allocations @param now Unix seconds
 * @returns the rows
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocationRows } from "./allocator.ts";
 * const [r] = allocationRows([{ label: "A1", jobId: "7", state: "running", submittedAt: 0,
 *   startedAt: 10, endsAt: 200, nodes: "n1", nodeCount: 1, slots: 4 }], 110);
 * assert.deepEqual(r, { label: "A1", job: "7", state: "running", nodes: "1 (n1)", start: "1m40s ago",
 *   end: "in 1m30s", note: "4 slot(s)" });
 * ```
 */
export function allocationRows(allocs: readonly Allocation[], now: number): AllocationRow[] {
  return allocs.map((a) => {
    const state = allocationStatus(a);
    const ran = a.startedAt !== undefined || a.nodeCount !== undefined || a.nodes !== undefined;
    const nodes = ran
      ? `${allocationNodes(a)}${a.nodes ? ` (${a.nodes})` : ""}`
      : a.nodesAsked !== undefined
      ? `${a.nodesAsked} asked`
      : "-";
    const end = a.state === "ended"
      ? (a.endedAt !== undefined ? `${short(now - a.endedAt)} ago` : "-")
      : a.state === "running" && a.endsAt !== undefined
      ? `in ${short(a.endsAt - now)}`
      : "-";
    const note = a.state === "submitting"
      ? "being submitted"
      : a.state === "pending"
      ? `pending for ${short(now - a.submittedAt)}`
      : a.state === "running"
      ? (a.slots ? `${a.slots} slot(s)` : "engines starting")
      : a.outcome ?? "";
    return {
      label: a.label,
      job: a.jobId ?? "-",
      state,
      nodes,
      start: a.startedAt !== undefined ? `${short(now - a.startedAt)} ago` : "-",
      end,
      note,
    };
  });
}

/**
 * The driver log's line when an allocation is over (`disbatch report` reads it back).
 * @param a the allocation @returns e.g. `Allocation A1 (job 75) is over: its engines finished`
 */
export function allocationOverLine(a: Allocation): string {
  return `Allocation ${a.label}${a.jobId ? ` (job ${a.jobId})` : ""} is over: ${a.outcome ?? "ended"}`;
}

/**
 * The driver log's line when Slurm says which nodes an allocation holds (read back by the report).
 * @param a the allocation @returns e.g. `Allocation A1 (job 75) holds 2 node(s): n[1-2]`
 */
export function allocationNodesLine(a: Allocation): string {
  return `Allocation ${a.label}${a.jobId ? ` (job ${a.jobId})` : ""} holds ${allocationNodes(a)} node(s): ${
    a.nodes || "?"
  }`;
}

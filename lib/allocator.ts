/**
 * The allocator's policy (`--alloc`): when to ask Slurm for one more allocation, when to stop
 * asking, and what to cancel. Pure: events in (with `now`), actions out; the adapter runs `sbatch`,
 * `squeue` and `scancel`.
 *
 * Rules:
 * - an allocation is submitted while the ready work (tasks that can start now: not behind a barrier
 *   the running tasks must clear first) exceeds what the free slots of running allocations and the
 *   expected slots of pending ones can absorb, up to `maxAllocs` allocations alive at once and never
 *   more than `backlog` pending;
 * - with `maxNodes`, an allocation is submitted only while the nodes of the allocations alive (pending
 *   or running, those about to end included) plus the `nodesPerAlloc` it asks for stay within
 *   `maxNodes`; an allocation counts the nodes Slurm gave it once it runs, else the ones it asked for;
 * - an allocation that ends within `replaceWithin` seconds (at most half its life) no longer counts
 *   as capacity nor against the cap, so its replacement is asked for in time and a long run chains
 *   allocations;
 * - a submission that fails, or an allocation that ends without its engines ever joining, is a
 *   failure: the next submission waits 5, 10, 20, … s (at most 5 minutes); after `pauseAfter`
 *   failures in a row the allocator pauses for `pauseFor` seconds and says why;
 * - at the end of the run every allocation not yet over is cancelled.
 *
 * @module
 */

import type { SchedulerSnapshot } from "./scheduler.ts";
import { allocationNodes } from "./allocation_view.ts";

export {
  allocationNodes,
  allocationNodesLine,
  allocationOverLine,
  type AllocationRow,
  allocationRows,
  allocationStatus,
  allocationText,
  type AllocShownState,
} from "./allocation_view.ts";

/** Where an allocation is in its life. */
export type AllocState = "submitting" | "pending" | "running" | "ended";

/** One allocation the run asked for. */
export interface Allocation {
  /** `A1`, `A2`, …: the label of its context. */
  label: string;
  /** Slurm job id, once sbatch answered. */
  jobId?: string;
  state: AllocState;
  submittedAt: number;
  startedAt?: number;
  /** When Slurm ends it (Unix seconds), once known. */
  endsAt?: number;
  endedAt?: number;
  /** Slots of its engines, once they joined. */
  slots?: number;
  /** Nodes it runs on, once known. */
  nodes?: string;
  /** Nodes it asked for (`-N` of `--alloc`, the most of a range; 1 without it). */
  nodesAsked?: number;
  /** Nodes Slurm gave it (squeue's count), once it runs. */
  nodeCount?: number;
  /** Why it ended, once over. */
  outcome?: string;
}

/**
 * Pending reasons (squeue `%r`) that no amount of waiting clears: the partition is closed or too
 * small for the request, the account or QOS may not use it, the request cannot be met.
 */
const NEVER_STARTS = new Set([
  "PartitionDown",
  "PartitionInactive",
  "PartitionNodeLimit",
  "PartitionTimeLimit",
  "PartitionConfig",
  "AccountNotAllowed",
  "QOSNotAllowed",
  "InvalidAccount",
  "InvalidQOS",
  "BadConstraints",
  "DependencyNeverSatisfied",
]);

/**
 * @param reason squeue's reason for a pending job
 * @returns true when the job cannot start without an administrator's change
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { neverStarts } from "./allocator.ts";
 * assert.ok(neverStarts("PartitionInactive"));
 * assert.ok(!neverStarts("Resources") && !neverStarts("Priority") && !neverStarts(undefined));
 * ```
 */
export function neverStarts(reason: string | undefined): boolean {
  return reason !== undefined && NEVER_STARTS.has(reason);
}

/** Settings. */
export interface AllocOptions {
  /** At most this many allocations alive (pending or running) at once. */
  maxAllocs: number;
  /** At most this many pending at once. */
  backlog: number;
  /** An allocation ending within this many seconds (at most half its life) is not counted as capacity. */
  replaceWithin: number;
  /** Failures in a row that pause the allocator. */
  pauseAfter: number;
  /** How long a pause lasts (seconds). */
  pauseFor: number;
  /** At most this many nodes held by the allocations alive (pending or running); undefined: no cap. */
  maxNodes?: number;
  /** Nodes one allocation asks for (`-N`; default 1). */
  nodesPerAlloc?: number;
}

/** Default settings beyond `maxAllocs`. */
export const ALLOC_DEFAULTS: Omit<AllocOptions, "maxAllocs"> = {
  backlog: 1,
  replaceWithin: 60,
  pauseAfter: 3,
  pauseFor: 600,
};

/** What the run looks like to the allocator. */
export interface Work {
  /** Tasks that could start now if there were slots. */
  ready: number;
  /** Free slots of the engines of each running allocation, by label. */
  freeSlots: Map<string, number>;
  /** True once the task stream has ended and nothing is left to run or running. */
  over: boolean;
}

/** What the active engines of each context label hold: free slots, all slots, and their nodes. */
export interface LabelCapacity {
  freeSlots: Map<string, number>;
  slots: Map<string, { n: number; nodes: string[] }>;
}

/**
 * @param snap the scheduler's engines and contexts
 * @returns per context label, the free slots, the slots and the nodes of its active engines
 */
export function capacityByLabel(snap: Pick<SchedulerSnapshot, "engines" | "contexts">): LabelCapacity {
  const labels = new Map(snap.contexts.map((c) => [c.id, c.label]));
  const freeSlots = new Map<string, number>();
  const slots = new Map<string, { n: number; nodes: string[] }>();
  for (const e of snap.engines) {
    if (e.state !== "active") continue;
    const l = labels.get(e.context) ?? "";
    freeSlots.set(l, (freeSlots.get(l) ?? 0) + Math.max(0, e.slots - e.running));
    const x = slots.get(l) ?? { n: 0, nodes: [] };
    x.n += e.slots;
    x.nodes.push(e.host);
    slots.set(l, x);
  }
  return { freeSlots, slots };
}

/** Something the adapter must do. */
export type AllocAction =
  | { kind: "submit"; label: string }
  | { kind: "cancel"; jobId: string; label: string }
  | { kind: "log"; level: "info" | "warn"; message: string };

/** The allocation policy's state. */
export class AllocPolicy {
  readonly #o: AllocOptions;
  readonly #allocs = new Map<string, Allocation>();
  #seq = 0;
  #failures = 0;
  #nextTry = 0;
  #pausedUntil = 0;
  #pauseReason: string | undefined;
  #lastFailure: string | undefined;
  #closed = false;

  /** @param o settings */
  constructor(o: AllocOptions) {
    this.#o = o;
  }

  /** Every allocation so far, oldest first. */
  get allocations(): readonly Allocation[] {
    return [...this.#allocs.values()];
  }

  /** Why submissions are paused (undefined when they are not). */
  pausedWhy(now: number): string | undefined {
    return now < this.#pausedUntil ? this.#pauseReason : undefined;
  }

  /** Ends soon enough to be replaced now. */
  #ending(a: Allocation, now: number): boolean {
    if (a.state !== "running" || a.endsAt === undefined) return false;
    const life = a.endsAt - (a.startedAt ?? a.submittedAt);
    return a.endsAt - now < Math.min(this.#o.replaceWithin, life / 2);
  }

  #alive(): Allocation[] {
    return [...this.#allocs.values()].filter((a) => a.state !== "ended");
  }

  /** Slots one allocation brings: the last one that ran, else 1 (a guess until one runs). */
  #slotsPerAlloc(): number {
    let s: number | undefined;
    for (const a of this.#allocs.values()) if (a.slots) s = a.slots;
    return s ?? 1;
  }

  /**
   * Decide, at `now`, whether to submit one more allocation.
   * @param now Unix seconds @param work the run's ready work and free slots
   * @returns actions (at most one submission)
   */
  decide(now: number, work: Work): AllocAction[] {
    if (this.#closed || work.over) return [];
    const alive = this.#alive();
    const pending = alive.filter((a) => a.state === "submitting" || a.state === "pending");
    let capacity = pending.length * this.#slotsPerAlloc();
    for (const a of alive) {
      if (a.state !== "running") continue;
      // One that ends soon is about to be gone: its replacement is wanted now.
      if (this.#ending(a, now)) continue;
      // One whose engines are still starting brings what the last one brought.
      capacity += work.freeSlots.get(a.label) ?? this.#slotsPerAlloc();
    }
    if (work.ready <= capacity) return [];
    // An allocation about to end does not count against the cap: its replacement may overlap it.
    const ending = alive.filter((a) => this.#ending(a, now));
    if (alive.length - ending.length >= this.#o.maxAllocs) return [];
    if (pending.length >= this.#o.backlog) return [];
    // The node cap counts every allocation alive, one about to end too: it still holds its nodes.
    const asks = this.#o.nodesPerAlloc ?? 1;
    const held = alive.reduce((n, a) => n + allocationNodes(a), 0);
    if (this.#o.maxNodes !== undefined && held + asks > this.#o.maxNodes) return [];
    if (now < this.#pausedUntil || now < this.#nextTry) return [];
    const label = `A${++this.#seq}`;
    this.#allocs.set(label, { label, state: "submitting", submittedAt: now, nodesAsked: asks });
    return [{
      kind: "log",
      level: "info",
      message: `Asking for allocation ${label}: ${work.ready} task(s) ready, room for ${capacity} ` +
        `(${alive.length} allocation(s) alive, at most ${this.#o.maxAllocs}; ${asks} node(s) asked` +
        `${this.#o.maxNodes !== undefined ? `, ${held} held, at most ${this.#o.maxNodes}` : ""})`,
    }, { kind: "submit", label }];
  }

  /** sbatch accepted it. @param label its label @param jobId Slurm's id @param now seconds */
  submitted(label: string, jobId: string, now: number): AllocAction[] {
    const a = this.#allocs.get(label);
    if (!a) return [];
    a.jobId = jobId;
    if (a.state === "submitting") a.state = "pending";
    if (this.#closed) return this.#cancel(a, now);
    return [{ kind: "log", level: "info", message: `Allocation ${label} is Slurm job ${jobId}` }];
  }

  /** sbatch refused it. @param label its label @param why sbatch's message @param now seconds */
  submitFailed(label: string, why: string, now: number): AllocAction[] {
    const a = this.#allocs.get(label);
    if (a) {
      a.state = "ended";
      a.endedAt = now;
      a.outcome = `not submitted: ${why}`;
    }
    return this.#failed(`sbatch failed: ${why}`, now);
  }

  /**
   * Its context registered (its engines are starting).
   * @param label the context's label @param now seconds @param endsAt when Slurm ends it, if known
   * @returns true when the label is one of ours
   */
  started(label: string, now: number, endsAt?: number): boolean {
    const a = this.#allocs.get(label);
    if (!a) return false;
    a.state = "running";
    a.startedAt = now;
    if (endsAt !== undefined) a.endsAt = endsAt;
    this.#failures = 0;
    return true;
  }

  /**
   * What squeue says of a job.
   * @param jobId the job
   * @param seen its state, nodes (names and, once it runs, count), end and pending reason, or
   *   undefined when gone
   * @param now seconds
   */
  observed(
    jobId: string,
    seen: { state: string; nodes: string; nodeCount?: number; endsAt?: number; reason?: string } | undefined,
    now: number,
  ): AllocAction[] {
    const a = [...this.#allocs.values()].find((x) => x.jobId === jobId);
    if (!a || a.state === "ended") return [];
    if (seen && seen.state === "PENDING" && a.startedAt === undefined && neverStarts(seen.reason)) {
      // Waiting for an administrator (a closed partition, an account not allowed): it would hold the
      // backlog for ever. Cancel it and count a failure, so that the allocator backs off and says why.
      a.state = "ended";
      a.endedAt = now;
      a.outcome = `cannot start: ${seen.reason}`;
      return [
        { kind: "cancel", jobId, label: a.label },
        ...this.#failed(`allocation ${a.label} (job ${jobId}) cannot start (Slurm: ${seen.reason})`, now),
      ];
    }
    if (seen) {
      if (seen.nodes) a.nodes = seen.nodes;
      if (seen.endsAt !== undefined) a.endsAt = seen.endsAt;
      // A pending job's count is what it asked for (the least of a range): only a running one's counts.
      if (seen.nodeCount !== undefined && seen.nodeCount > 0 && seen.state !== "PENDING") {
        a.nodeCount = seen.nodeCount;
      }
      return [];
    }
    // Gone from the queue.
    a.state = "ended";
    a.endedAt = now;
    if (a.startedAt === undefined && !this.#closed) {
      a.outcome = "ended before its engines joined";
      return this.#failed(`allocation ${a.label} (job ${jobId}) ended before its engines joined`, now);
    }
    a.outcome ??= "left the queue";
    return [];
  }

  /** @param label an allocation's context @param slots its engines' slots in all @param nodes their nodes */
  slots(label: string, slots: number, nodes?: string): void {
    const a = this.#allocs.get(label);
    if (a && slots > 0) a.slots = slots;
    if (a && nodes) a.nodes = nodes;
  }

  /** Its context left (its engines are done). @param label the label @param now seconds */
  contextGone(label: string, now: number): void {
    const a = this.#allocs.get(label);
    if (!a || a.state === "ended") return;
    a.state = "ended";
    a.endedAt = now;
    a.outcome = "its engines finished";
  }

  /**
   * The run ends: nothing more is submitted, and every allocation not over is cancelled.
   * @param now seconds
   * @returns cancel actions
   */
  close(now: number): AllocAction[] {
    this.#closed = true;
    const out: AllocAction[] = [];
    for (const a of this.#alive()) out.push(...this.#cancel(a, now));
    return out;
  }

  #cancel(a: Allocation, now: number): AllocAction[] {
    if (!a.jobId) return [];
    // A running one ends as its engines leave (the adapter cancels it only if it lingers).
    a.outcome ??= a.state === "running" ? "ended with the run" : "cancelled at the end of the run";
    a.state = "ended";
    a.endedAt = now;
    return [{ kind: "cancel", jobId: a.jobId, label: a.label }];
  }

  #failed(why: string, now: number): AllocAction[] {
    this.#failures++;
    this.#lastFailure = why;
    const wait = Math.min(300, 5 * 2 ** (this.#failures - 1));
    this.#nextTry = now + wait;
    if (this.#failures >= this.#o.pauseAfter) {
      this.#pausedUntil = now + this.#o.pauseFor;
      this.#pauseReason = `${this.#failures} failures in a row, the last: ${why}`;
      this.#failures = 0;
      return [{
        kind: "log",
        level: "warn",
        message:
          `The allocator pauses for ${Math.round(this.#o.pauseFor / 60)} min after ${this.#pauseReason}; ` +
          `the run goes on with the engines it has`,
      }];
    }
    return [{ kind: "log", level: "warn", message: `${why}; asking again in ${wait} s` }];
  }

  /** The last failure, for the summary. */
  get lastFailure(): string | undefined {
    return this.#lastFailure;
  }
}

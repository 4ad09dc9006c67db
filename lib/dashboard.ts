/**
 * The web dashboard's data (pure): the {@linkcode DashboardState} that `GET /api/state` returns,
 * a {@linkcode DashboardTracker} the driver feeds so it can build that state cheaply, and the
 * request checks of `adapters/web.ts` (token comparison in constant time; the stop body is read by
 * `control.ts`).
 * The page itself (HTML and its polling script) is `adapters/dashboard_page.ts`.
 *
 * @example Track one task, then read the state
 * ```ts
 * import assert from "node:assert/strict";
 * import { DashboardTracker } from "./dashboard.ts";
 *
 * const t = new DashboardTracker();
 * t.assigned(0, "n1", 7, 100);
 * t.finished(0, { id: 7, slot: 1, start: 100, end: 103, returnCode: 0 });
 * const snapshot = {
 *   finished: 1, failed: 0, barriers: 0, skipped: 0, running: 0, queued: 0, slots: 2, engines: [],
 *   contexts: [], phase: "running" as const, tasksEnded: false, uid: "run", startedAt: 99,
 *   retried: 0, timedOut: 0, quarantined: [],
 * };
 * const state = t.state(snapshot, 104);
 * assert.deepEqual(state.timeline, [{ engine: 0, slot: 1, host: "n1", id: 7, start: 100, end: 103, rc: 0 }]);
 * assert.deepEqual(state.throughput.at(-1), { t: 104, finished: 1, failed: 0 });
 * ```
 *
 * @module
 */

import { type Allocation, type AllocationRow, allocationRows } from "./allocator.ts";
import type { EngineTasks } from "./run_view.ts";
import type { SchedulerSnapshot } from "./scheduler.ts";
import type { StatusRecord } from "./types.ts";

/** One task on the dashboard's timeline. */
export interface TimelineEntry {
  /** Engine rank. */
  engine: number;
  /** Slot within the engine (a provisional free slot while running; the engine's own once ended). */
  slot: number;
  host: string;
  /** Task id. */
  id: number;
  /** Unix seconds (assignment time while running). */
  start: number;
  /** Unix seconds; 0 while the task is still running. */
  end: number;
  /** Return code (0 while running). */
  rc: number;
}

/** What `GET /api/state` returns, polled by the page every second. */
export interface DashboardState {
  /** The scheduler's view plus the run label and its start (unix seconds). */
  snapshot: SchedulerSnapshot & {
    uid: string;
    startedAt: number;
    /** Allocations the run asked for (`--alloc`). */
    allocations?: Allocation[];
    allocatorPaused?: string;
  };
  /** Unix seconds. */
  now: number;
  /** Recent tasks; `end` = 0 means still running. */
  timeline: TimelineEntry[];
  /** Cumulative counts sampled over time. */
  throughput: { t: number; finished: number; failed: number }[];
  /** The first 50 failed status lines. */
  failures: StatusRecord[];
  /** The last 50 attempts that failed and were run again (the attempts file's lines). */
  attempts: StatusRecord[];
  /** Every allocation of the run (`--alloc`) as a row: job id, state, nodes, start, end or time left. */
  allocations?: AllocationRow[];
}

/** Bounds of {@linkcode DashboardTracker}. */
export interface DashboardTrackerOptions {
  /** Ended tasks kept for the timeline. @default 3000 */
  maxTimeline?: number;
  /** Throughput points kept (halved, oldest detail first, when exceeded). @default 720 */
  maxSamples?: number;
  /** Failures kept. @default 50 */
  maxFailures?: number;
}

/**
 * Builds {@linkcode DashboardState} from what the driver already sees: engine outcomes and status
 * records (the history), and the tasks engines hold now — read from the registry
 * ({@linkcode RunView.inFlight}) when {@linkcode state} is given them, else kept from
 * {@linkcode assigned} and {@linkcode engineGone} calls. Memory is bounded; the clock is a parameter.
 */
export class DashboardTracker {
  readonly #maxTimeline: number;
  readonly #maxSamples: number;
  readonly #maxFailures: number;
  #running = new Map<string, TimelineEntry>();
  #ended: TimelineEntry[] = [];
  #samples: DashboardState["throughput"] = [];
  #failures: StatusRecord[] = [];
  #attempts: StatusRecord[] = [];

  /** @param o Bounds. */
  constructor(o: DashboardTrackerOptions = {}) {
    this.#maxTimeline = o.maxTimeline ?? 3000;
    this.#maxSamples = o.maxSamples ?? 720;
    this.#maxFailures = o.maxFailures ?? 50;
  }

  /**
   * A task was sent to an engine (driver's `assign` action).
   * @param engine Rank. @param host Engine host. @param id Task id. @param now Unix seconds.
   */
  assigned(engine: number, host: string, id: number, now: number): void {
    const used = new Set<number>();
    for (const e of this.#running.values()) if (e.engine === engine) used.add(e.slot);
    let slot = 0;
    while (used.has(slot)) slot++;
    this.#running.set(`${engine}:${id}`, { engine, slot, host, id, start: now, end: 0, rc: 0 });
  }

  /**
   * A task ended (an engine outcome). PERENGINE outcomes (slot −1) are not drawn.
   * @param engine Rank. @param o The outcome's id, slot, start, end and return code.
   * @param host The engine's host (else the one it was {@linkcode assigned} with).
   */
  finished(
    engine: number,
    o: { id: number; slot: number; start: number; end: number; returnCode: number },
    host?: string,
  ): void {
    if (o.slot < 0) return;
    const key = `${engine}:${o.id}`;
    host ??= this.#running.get(key)?.host ?? "";
    this.#running.delete(key);
    this.#ended.push({ engine, slot: o.slot, host, id: o.id, start: o.start, end: o.end, rc: o.returnCode });
    if (this.#ended.length > this.#maxTimeline * 1.25) this.#ended = this.#ended.slice(-this.#maxTimeline);
  }

  /** An engine left: its tasks are no longer running. @param engine Rank. */
  engineGone(engine: number): void {
    for (const [k, e] of this.#running) if (e.engine === engine) this.#running.delete(k);
  }

  /** A status line was written: failed ones are kept (first 50). @param r The record. */
  record(r: StatusRecord): void {
    if (r.returnCode !== 0 && this.#failures.length < this.#maxFailures) this.#failures.push(r);
  }

  /** An attempt that failed and runs again: the last 50 are kept. @param r Its line. */
  attempt(r: StatusRecord): void {
    this.#attempts.push(r);
    if (this.#attempts.length > this.#maxFailures) this.#attempts.shift();
  }

  /**
   * Adds a throughput point; points less than a second apart replace the last one.
   * @param now Unix seconds. @param finished Tasks finished. @param failed Tasks failed.
   */
  sample(now: number, finished: number, failed: number): void {
    const last = this.#samples.at(-1);
    if (last && now - last.t < 1 && this.#samples.length > 1) {
      Object.assign(last, { t: now, finished, failed });
      return;
    }
    this.#samples.push({ t: now, finished, failed });
    if (this.#samples.length > this.#maxSamples) {
      const keep = this.#samples.filter((_, i) => i % 2 === 0);
      if (keep.at(-1) !== this.#samples.at(-1)) keep.push(this.#samples.at(-1)!);
      this.#samples = keep;
    }
  }

  /**
   * The state for `GET /api/state` (also records a throughput point).
   * @param snapshot The scheduler snapshot with uid and start. @param now Unix seconds.
   * @param inFlight The tasks engines hold now, from the registry (each drawn from its send time, on
   *   a provisional slot in the order sent); without it, those {@linkcode assigned} to engines.
   * @returns A fresh object (safe to serialize while the run goes on).
   */
  state(snapshot: DashboardState["snapshot"], now: number, inFlight?: EngineTasks[]): DashboardState {
    this.sample(now, snapshot.finished, snapshot.failed);
    const running = inFlight
      ? inFlight.flatMap((e) =>
        e.tasks.map((t, slot) => ({
          engine: e.rank,
          slot,
          host: e.host,
          id: t.id,
          start: t.sentAt,
          end: 0,
          rc: 0,
        }))
      )
      : [...this.#running.values()];
    return {
      snapshot,
      now,
      timeline: [...this.#ended.slice(-this.#maxTimeline), ...running].map((e) => ({ ...e })),
      throughput: this.#samples.map((s) => ({ ...s })),
      failures: [...this.#failures],
      attempts: [...this.#attempts],
      ...(snapshot.allocations ? { allocations: allocationRows(snapshot.allocations, now) } : {}),
    };
  }
}

/**
 * Compares a presented token with the expected one in time that depends only on their lengths,
 * so that response timing does not reveal how many leading characters were right.
 *
 * @param given The token from the request (undefined when absent).
 * @param expected The run's token.
 * @returns True when they are equal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenMatches } from "./dashboard.ts";
 *
 * assert.equal(tokenMatches("abc", "abc"), true);
 * assert.equal(tokenMatches("abd", "abc"), false);
 * assert.equal(tokenMatches(undefined, "abc"), false);
 * ```
 */
export function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined || expected === "") return false;
  let diff = given.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) {
    diff |= (given.charCodeAt(i % Math.max(1, given.length)) || 0) ^ expected.charCodeAt(i);
  }
  return diff === 0;
}

/**
 * The token of a request: the `token` query parameter, else an `Authorization: Bearer` header.
 *
 * @param url The request URL.
 * @param authorization The `Authorization` header (null when absent).
 * @returns The token, or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestToken } from "./dashboard.ts";
 *
 * assert.equal(requestToken(new URL("http://h/?token=t1"), null), "t1");
 * assert.equal(requestToken(new URL("http://h/"), "Bearer t2"), "t2");
 * ```
 */
export function requestToken(url: URL, authorization: string | null): string | undefined {
  const q = url.searchParams.get("token");
  if (q !== null) return q;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return m?.[1];
}

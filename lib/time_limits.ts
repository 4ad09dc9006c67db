/**
 * How long a task is expected to take, for the walltime (`stopAt`) and for contexts whose
 * allocation ends: its time limit (`#DISBATCH TIMEOUT`, `--timeout`), else the median of recent
 * successful tasks; and at least a little more than an earlier run ran it before it stopped it. A
 * task that cannot finish before an end is not started; one whose duration is unknown is given the
 * benefit of the doubt.
 *
 * @module
 */

import type { Task } from "./types.ts";

/** How many recent durations the median is taken over. */
const RING = 1001;
/** The median is sorted again only every this many successes. */
const RESORT_EVERY = 50;

/**
 * What a task that an earlier run stopped after `s` seconds is expected to need at least: a little
 * more, so that an allocation no longer than the one that stopped it does not start it again (a
 * chain of equal allocations would otherwise stop it at the same point every time).
 */
export function neededAfterStop(s: number): number {
  return s * 1.05 + 1;
}

/** Durations of recent successful tasks, and estimates from them. */
export class Durations {
  readonly #ring: number[] = [];
  #at = 0;
  #count = 0;
  #median: number | undefined;
  #medianOf = -1;

  /** A task succeeded after `elapsed` seconds. */
  add(elapsed: number): void {
    this.#count++;
    this.#ring[this.#at] = elapsed;
    this.#at = (this.#at + 1) % RING;
  }

  /**
   * Seconds `t` is expected to take: its time limit, else the median of recent successes; at least
   * {@linkcode neededAfterStop} when an earlier run stopped it.
   * @param t the task @param timeout the run's `--timeout` (0 or undefined: none)
   * @param stoppedAfter seconds an earlier run ran it before it stopped it, if one did
   * @returns seconds, or undefined when nothing is known
   */
  estimate(t: Task, timeout: number | undefined, stoppedAfter?: number): number | undefined {
    const e = this.#estimate(t, timeout);
    // A time limit is a cap: the task never runs longer.
    if (stoppedAfter === undefined || (t.timeout ?? timeout ?? 0) > 0) return e;
    return Math.max(e ?? 0, neededAfterStop(stoppedAfter));
  }

  #estimate(t: Task, timeout: number | undefined): number | undefined {
    const limit = t.timeout ?? timeout ?? 0;
    if (limit > 0) return limit;
    if (this.#ring.length === 0) return undefined;
    if (this.#medianOf < 0 || this.#count - this.#medianOf >= RESORT_EVERY) {
      const d = [...this.#ring].sort((a, b) => a - b);
      this.#median = d[d.length >> 1];
      this.#medianOf = this.#count;
    }
    return this.#median;
  }
}

/**
 * Whether a task started at `now` ends by `end`.
 * @param now seconds @param end seconds (undefined: no end)
 * @param estimate its expected duration, asked only when there is an end (undefined: unknown, taken as 0)
 */
export function endsBy(now: number, end: number | undefined, estimate: () => number | undefined): boolean {
  return end === undefined || now + (estimate() ?? 0) <= end;
}

/**
 * The task as it is sent: with its attempt (when it runs again) and its time limit (the run's
 * `--timeout` when the task file gives none).
 * @param task as read @param attempt which run it is (0: the first) @param timeout `--timeout`
 */
export function taskToSend(task: Task, attempt: number, timeout: number | undefined): Task {
  const limit = task.timeout ?? timeout ?? 0;
  return attempt > 0 || (limit > 0 && task.timeout === undefined)
    ? { ...task, ...(attempt > 0 ? { attempt } : {}), ...(limit > 0 ? { timeout: limit } : {}) }
    : task;
}

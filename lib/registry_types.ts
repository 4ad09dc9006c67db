/**
 * What the registry holds: a task's {@linkcode TaskState} and {@linkcode TaskEntry}, an engine's
 * {@linkcode EngineState}, a context's {@linkcode ContextState}, and how a context starts
 * ({@linkcode newContext}) and when it has had its fill ({@linkcode reachedLimit}). Re-exported by
 * `registry.ts`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newContext, reachedLimit } from "./registry_types.ts";
 *
 * const c = newContext(0, "SSH0", 2, 1, { retires: false });
 * assert.equal(reachedLimit(c), false);
 * c.assigned = 2;
 * assert.equal(reachedLimit(c), true);
 * ```
 *
 * @module
 */

import type { Task } from "./types.ts";

/**
 * Where a task the scheduler holds stands:
 * - `queued`: read from the task file, waiting its turn (file order, behind barriers);
 * - `requeued`: to run again (it failed with retries left, was lost or handed back), ready now;
 * - `waiting`: to run again once `notBefore` has passed (the copy lost with its engine is surely dead);
 * - `held`: a re-attached driver's: on an engine of the last driver that has not come back yet;
 * - `assigned`: sent to an engine, which runs its tasks in the order sent (the first `slots` run,
 *   the others wait there for a free slot);
 * - `done`: recorded (or given up with the run); it has left the registry.
 */
export type TaskState = "queued" | "requeued" | "waiting" | "held" | "assigned" | "done";

/** A task the scheduler holds (in the queue, an item of `kind` "task"). */
export interface TaskEntry {
  readonly kind: "task";
  readonly id: number;
  /** The task as read (as sent, once assigned); undefined for a held task the feeder has not read yet. */
  task: Task | undefined;
  state: TaskState;
  /** `assigned`: the engine it was sent to; `held`: the engine it is held for. */
  rank?: number | undefined;
  /** `waiting`: Unix seconds from which it may run again. */
  notBefore?: number | undefined;
  /** `assigned`: Unix seconds it was sent (undefined for a task an engine brought back). */
  sentAt?: number | undefined;
}

/** Whether an engine takes tasks: `active`; `stopping` (finishes what it has, then leaves); `gone`. */
export type EngineStatus = "active" | "stopping" | "gone";

/** An engine the run has seen. */
export interface EngineState {
  readonly rank: number;
  readonly context: number;
  readonly host: string;
  readonly slots: number;
  /** Its tasks in the order they were sent. */
  readonly outstanding: Map<number, TaskEntry>;
  state: EngineStatus;
  /** Silent (network cut, host frozen, driver lost): its tasks are kept, it gets no new ones. */
  away: boolean;
  assigned: number;
  finished: number;
  failed: number;
  /** Moving mean of its tasks' durations (seconds), once one has finished. */
  meanElapsed: number | undefined;
  /** Its tasks that succeeded in a row, up to now. */
  okStreak: number;
}

/** A context (a grant of resources) and its engines. */
export interface ContextState {
  readonly id: number;
  readonly label: string;
  /** `-C`: how many tasks its engines may be given in all (0: no limit). */
  readonly taskLimit: number;
  assigned: number;
  /** Engines it started (or restarts) that have not joined yet. */
  pendingEngines: number;
  readonly engines: Set<number>;
  /** Its nodes are given back when idle (Slurm, --retire-cmd): its idle engines leave early. */
  readonly retires: boolean;
  /**
   * The node its engines leave last: the driver's (never given back), or the batch node of a job
   * added with `dbUtil.sh` (given back with the rest once the job has nothing left to do).
   */
  readonly keepHost: string | undefined;
  /** Added to the run with `dbUtil.sh` (its own allocation): all of it leaves when it has nothing to do. */
  readonly added: boolean;
  /** When its allocation ends, minus the hand-off margin (Unix seconds): no task starts that cannot finish by then. */
  stopAt?: number;
  /** Stopped (`--stop`, the dashboard): its engines get no more tasks, late ones leave at once. */
  stopped: boolean;
}

/**
 * A context's state as it joins.
 * @param id context id @param label for logs @param taskLimit `-C` (0: none) @param engines engines it will start
 * @param o whether it retires nodes (and the one it keeps), when its allocation ends (hand-off margin
 *   taken off), and tasks its engines were given before a driver's restart
 */
export function newContext(
  id: number,
  label: string,
  taskLimit: number,
  engines: number,
  o: { retires: boolean; keepHost?: string | undefined; added?: boolean; stopAt?: number; assigned?: number },
): ContextState {
  return {
    id,
    label,
    retires: o.retires,
    keepHost: o.keepHost,
    added: o.added === true,
    ...(o.stopAt !== undefined ? { stopAt: o.stopAt } : {}),
    taskLimit,
    stopped: false,
    assigned: o.assigned ?? 0,
    pendingEngines: engines,
    engines: new Set(),
  };
}

/** Its engines have been given as many tasks as `-C` allows. */
export function reachedLimit(c: ContextState): boolean {
  return c.taskLimit > 0 && c.assigned >= c.taskLimit;
}

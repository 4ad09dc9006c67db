/**
 * A {@linkcode SchedulerCore} set up for the unit tests of the scheduler's modules: one context,
 * engines joined, the PERENGINE block complete.
 *
 * @module
 */

import { join } from "../../lib/engine_events.ts";
import type { ContextState } from "../../lib/registry.ts";
import { SchedulerCore } from "../../lib/scheduler_core.ts";
import type { Action, SchedulerOptions } from "../../lib/scheduler_types.ts";
import type { Task } from "../../lib/types.ts";

/** Options unless a test says otherwise. */
export const CORE_OPTIONS: SchedulerOptions = {
  failFast: false,
  startupOnly: false,
  exitCode: false,
  crashLimit: 3,
  driverHost: "drv",
  driverPid: 1,
};

/** A task with id `id` on line `id + 1`. */
export function task(id: number, o: Partial<Task> = {}): Task {
  return { id, line: id + 1, repeatIndex: -1, command: `echo ${id}`, ...o };
}

/**
 * A core with context 0 and engines of the given slots (ranks 0, 1, ... on hosts n0, n1, ...).
 * @param o options @param slots one entry per engine @param ctx context fields
 */
export function coreWith(
  o: Partial<SchedulerOptions>,
  slots: number[],
  ctx: Partial<ContextState> = {},
): SchedulerCore {
  const c = new SchedulerCore({ ...CORE_OPTIONS, ...o });
  c.reg.addContext({
    id: 0,
    label: "C",
    taskLimit: 0,
    assigned: 0,
    pendingEngines: slots.length,
    engines: new Set(),
    retires: false,
    keepHost: undefined,
    added: false,
    stopped: false,
    ...ctx,
  });
  slots.forEach((s, rank) => join(c, rank, 0, `n${rank}`, s));
  c.perEngine = { start: [], stop: [] };
  return c;
}

/** The kinds of actions other than log lines. */
export function kinds(actions: Action[]): string[] {
  return actions.filter((a) => a.kind !== "log").map((a) => a.kind);
}

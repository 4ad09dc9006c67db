/**
 * Which nodes a run gives back: when the last engine of a context that retires nodes (Slurm,
 * `--retire-cmd`) leaves a node while the run goes on, the node is retired — unless it is the one
 * the context keeps (the driver's), or its engine was lost (no goodbye): processes of it may still
 * run there, and Slurm drains a node whose step it cannot kill, so it is held until the job ends.
 * The scheduler decides this from its registry and says it as an action; the driver's retire
 * adapter batches the nodes and runs the command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newContext, Registry } from "./registry.ts";
 * import { nodeLeft } from "./retirement.ts";
 *
 * const reg = new Registry();
 * reg.addContext(newContext(0, "sl", 0, 1, { retires: true }));
 * reg.join(0, 0, "n2", 1);
 * reg.leave(0);
 * assert.deepEqual(nodeLeft(reg, reg.engine(0)!, { kind: "finished" }, true), [
 *   { kind: "retireNode", context: 0, host: "n2" },
 * ]);
 * ```
 *
 * @module
 */

import type { EngineState, Registry } from "./registry.ts";
import type { Action, EngineEnd } from "./scheduler_types.ts";

/**
 * An engine has left (the registry has it gone): give its node back if nothing of its context is
 * left there.
 * @param reg the registry @param e the engine that left @param end how it ended
 * @param running the run goes on (nothing is retired once it is ending)
 * @returns a `retireNode` or `holdNode` action, or none
 */
export function nodeLeft(reg: Registry, e: EngineState, end: EngineEnd, running: boolean): Action[] {
  if (!running) return [];
  const c = reg.context(e.context);
  if (!c || !c.retires || e.host === c.keepHost) return [];
  for (const r of c.engines) if (reg.engine(r)?.host === e.host) return [];
  return [{ kind: end.kind === "lost" ? "holdNode" : "retireNode", context: c.id, host: e.host }];
}

/**
 * The registry of context kinds, and what is decided from it: which kind a context is (the first
 * registered kind that applies: `-s` hosts, else a Slurm allocation, else the local cores), its
 * plan, how each of its engines is started, whether a lost engine is started again, and whether
 * its nodes are retired. A new kind is one file (see `context_kind.ts`) plus a line in
 * {@linkcode CONTEXT_KINDS}.
 *
 * @module
 */

import type { ContextKind, ContextPlan, EngineStarter, HostFacts, PlannedEngine } from "./context_kind.ts";
import { LOCAL_KIND } from "./context_local.ts";
import { SLURM_KIND } from "./context_slurm.ts";
import { SSH_KIND } from "./context_ssh.ts";
import type { ContextOptions } from "./driver_options.ts";
import { noSlotReason, splitEnvResources } from "./task_env.ts";

export type { ContextKind, ContextPlan, EngineStarter, HostFacts, PlannedEngine } from "./context_kind.ts";
export { launcherTookEngine } from "./context_kind.ts";

/** Every kind, in the order they are asked whether they apply (the catch-all last). */
export const CONTEXT_KINDS: readonly ContextKind[] = [SSH_KIND, SLURM_KIND, LOCAL_KIND];

/**
 * The kind these options and this machine call for.
 * @param o context options @param f host facts @param kinds the registry
 * @returns the first kind that applies
 * @throws {Error} when none does (a registry without a catch-all)
 */
export function kindFor(
  o: ContextOptions,
  f: HostFacts,
  kinds: readonly ContextKind[] = CONTEXT_KINDS,
): ContextKind {
  const k = kinds.find((k) => k.applies(o, f));
  if (!k) throw new Error("no context kind applies");
  return k;
}

/**
 * A kind by name.
 * @param name as in {@linkcode ContextPlan.kind} @param kinds the registry
 * @throws {Error} for a name no kind has
 */
export function contextKind(name: string, kinds: readonly ContextKind[] = CONTEXT_KINDS): ContextKind {
  const k = kinds.find((k) => k.name === name);
  if (!k) throw new Error(`unknown context kind ${JSON.stringify(name)}`);
  return k;
}

/**
 * How an engine is started.
 * @param via as in {@linkcode PlannedEngine.via} @param kinds the registry
 * @throws {Error} for a name no kind's starter has
 */
export function engineStarter(via: string, kinds: readonly ContextKind[] = CONTEXT_KINDS): EngineStarter {
  for (const k of kinds) for (const s of k.starters) if (s.via === via) return s;
  throw new Error(`unknown way to start an engine ${JSON.stringify(via)}`);
}

/**
 * Plan a context.
 * @param o context options
 * @param f host facts
 * @param kinds the registry
 * @returns the plan
 * @throws {SyntaxError} for a malformed `-s` or srun options file
 */
export function planContext(
  o: ContextOptions,
  f: HostFacts,
  kinds: readonly ContextKind[] = CONTEXT_KINDS,
): ContextPlan {
  const plan = kindFor(o, f, kinds).plan(o, f);
  if (o.envResource.length === 0) return plan;
  // An engine on this machine splits `-E` values from this environment: one that finds no slot
  // does not join, so say now that it cannot run tasks (fewer slots, it says itself as it joins).
  for (const e of plan.engines) {
    if (e.via !== "local") continue;
    const split = splitEnvResources(o.envResource, f.env, e.slots);
    if (split.slots < 1) {
      plan.warnings.push(`${noSlotReason(split.unset)}: the engine on ${e.host} cannot run tasks`);
    }
  }
  return plan;
}

/**
 * The command that retires this context's nodes — `--retire-cmd`, else its kind's default — or
 * undefined when its nodes are not retired (`--no-retire`, or a kind without a default). The one
 * place that decides whether a context retires nodes.
 * @param plan the context's plan @param o its options @param kinds the registry
 */
export function retireCommand(
  plan: Pick<ContextPlan, "kind">,
  o: Pick<ContextOptions, "noRetire" | "retireCmd">,
  kinds: readonly ContextKind[] = CONTEXT_KINDS,
): string | undefined {
  if (o.noRetire) return undefined;
  return o.retireCmd ?? contextKind(plan.kind, kinds).defaultRetireCmd;
}

/**
 * The engines of a plan for a log line: `a:4, b:2`, or with how each is started: `a:4 via ssh`.
 * @param engines the engines @param via add how each is started
 */
export function describeEngines(engines: readonly PlannedEngine[], via = false): string {
  return engines.map((e) => `${e.host}:${e.slots}${via ? ` via ${e.via}` : ""}`).join(", ");
}

/**
 * Whether a context planned here would start an engine on this machine (the local cores, or
 * `localhost` or this host in `-s`).
 * @param o context options @param f host facts @param kinds the registry
 * @returns false also when the plan is malformed (the driver reports that itself)
 */
export function plansEngineHere(
  o: ContextOptions,
  f: HostFacts,
  kinds: readonly ContextKind[] = CONTEXT_KINDS,
): boolean {
  try {
    return planContext(o, f, kinds).engines.some((e) =>
      e.slots > 0 && engineStarter(e.via, kinds).onThisMachine
    );
  } catch {
    return false;
  }
}

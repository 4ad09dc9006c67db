/**
 * The seam for a kind of context (local cores, `-s` hosts over ssh, a Slurm allocation, …): what a
 * kind must say for the driver's own context and a `dbUtil.sh` context to plan, start, restart and
 * retire its engines without knowing which kind it is. Each kind lives in its own file
 * (`context_local.ts`, `context_ssh.ts`, `context_slurm.ts`) and is registered in
 * `context_plan.ts`; nothing else names a kind.
 *
 * @module
 */

import type { ContextOptions } from "./driver_options.ts";

/** One engine to launch. */
export interface PlannedEngine {
  host: string;
  slots: number;
  coresPerSlot: number;
  /** How it is started: the name of an {@linkcode EngineStarter} (`local`, `ssh`, `srun`). */
  via: string;
  /** Extra environment for the launcher (srun options). */
  env?: Record<string, string>;
  /** Slurm: CPUs the job has on this node (the engine's step asks for at most that many). */
  cpus?: number;
}

/** A context's plan. */
export interface ContextPlan {
  /** The name of its {@linkcode ContextKind}. */
  kind: string;
  label: string;
  engines: PlannedEngine[];
  /** One-line notes for stderr. */
  notes: string[];
  warnings: string[];
  /** Slurm: job id (for retirement). */
  jobId?: string;
  /** Slurm: the node the driver/context runs on (never retired). */
  driverNode?: string;
}

/** Facts about the machine the context runs on. */
export interface HostFacts {
  /** `gethostname()`. */
  hostname: string;
  /** Logical CPUs here. */
  cores: number;
  env: Record<string, string | undefined>;
  /** Content of `DISBATCH_SLURM_SRUN_OPTIONS_FILE`, when set and readable. */
  srunOptionsText?: string;
  /** Context number, for default labels (`SSH<n>`). */
  contextNumber: number;
}

/** What starting one engine needs besides its plan. */
export interface StartInput {
  /** The engine's own arguments (`--engine --connect … --launch …`). */
  engineArgs: string[];
  /** The argv prefix that runs this program on this machine. */
  self: string[];
  /** The run's `<uid>_dbUtil.sh` (runs this program on another node of the shared file system). */
  dbUtil: string;
  /** The run secret (only for a process started here: elsewhere `dbUtil.sh` holds it). */
  secret: string;
}

/** A command that starts an engine (the launcher): a process of its own, ssh, srun, … */
export interface EngineCommand {
  argv: string[];
  /** Environment added to the driver's and the plan's for the launcher. */
  env: Record<string, string>;
}

/** One way to start an engine ({@linkcode PlannedEngine.via}). */
export interface EngineStarter {
  /** The name plans use in `via`. */
  via: string;
  /** Engines started so run on this machine: they connect to its loopback addresses. */
  onThisMachine: boolean;
  /**
   * The launcher's command.
   * @param p the engine @param i what else it needs
   */
  command(p: PlannedEngine, i: StartInput): EngineCommand;
  /**
   * Matches the last line a launcher wrote when it ended because the host could not be reached
   * (a reboot, a network blip): such a start is tried again, within `--engine-restarts`.
   */
  unreachable?: RegExp;
  /**
   * When an engine is surely gone once its launcher has exited, so that its tasks are not kept
   * for it to come back: `always` where the launcher is the engine's own process (it execs the
   * engine), `exitCode` where the launcher returns only when the engine has ended (srun with its
   * one task; an srun killed by a signal itself may leave its step running a while). Without it
   * (ssh: a broken ssh link can leave its engine running), the launcher's end says nothing.
   */
  endsWithEngine?: "always" | "exitCode";
}

/**
 * @param s how an engine was started @param signal the signal that ended its launcher, if one did
 * @returns whether the engine cannot be running any more now that its launcher has exited
 */
export function launcherTookEngine(s: EngineStarter, signal: string | null | undefined): boolean {
  return s.endsWithEngine === "always" || (s.endsWithEngine === "exitCode" && !signal);
}

/** A kind of context. */
export interface ContextKind {
  /** Its name, in plans, log lines (`Context J42 (1, slurm)`) and the `dbUtil.sh` registration. */
  name: string;
  /**
   * Whether these options and this machine call for this kind. The registry asks the kinds in
   * order; the first that says yes plans the context.
   */
  applies(o: ContextOptions, f: HostFacts): boolean;
  /**
   * Plan the context: its label and one engine per node.
   * @throws {SyntaxError} for malformed input (a `-s` list, an srun options file)
   */
  plan(o: ContextOptions, f: HostFacts): ContextPlan;
  /** The ways its plans start engines. */
  starters: readonly EngineStarter[];
  /** The command that gives a node back when its engines have left, unless `--retire-cmd`/`--no-retire`. */
  defaultRetireCmd?: string;
  /** Whether an engine lost mid-run is started again (within `--engine-restarts`). */
  restartsLostEngines: boolean;
  /** Whether the context has a time limit the driver should know (no task is started that cannot end in time). */
  timeLimited: boolean;
  /**
   * Whether a `dbUtil.sh` context registers under the label it planned (a job's `J<id>`); otherwise
   * the driver names it unless `-l` was given.
   */
  namesItself: boolean;
  /**
   * Chosen when the options name no resources (no `-s`, no allocation): a `dbUtil.sh` context of
   * this kind without `-l` adds nothing and is refused.
   */
  implicit: boolean;
}

/**
 * One context runner for every kind of context, used by the driver's own context
 * (`auto_context.ts`) and by a `dbUtil.sh` context (`context_main.ts`): plan on this machine,
 * launch one engine per usable node the way its kind says, and report what happens to the
 * launchers — could not start, ended (before or after joining), started again after a lost engine
 * or an unreachable host (with back-off, within `--engine-restarts`, where the kind allows).
 * What a report means (a message, an event for the driver, a message to it) is the caller's.
 *
 * @module
 */

import {
  type ContextKind,
  contextKind,
  type ContextPlan,
  type EngineStarter,
  engineStarter,
  launcherTookEngine,
  planContext,
  type PlannedEngine,
  retireCommand,
} from "../lib/context_plan.ts";
import type { ContextOptions } from "../lib/driver_options.ts";
import { lastLogLine, type LaunchedEngine, launchEngine, type LaunchInput } from "./launch.ts";
import type { Logger } from "./log.ts";
import { killGroup } from "./process.ts";

/** A context planned on this machine. */
export interface PlannedContext {
  plan: ContextPlan;
  kind: ContextKind;
  /** Engines with a slot for a task: one is started for each. */
  usable: PlannedEngine[];
  /** Engines without a slot for a task of `-c` cores: none is started there. */
  slotless: PlannedEngine[];
  /** Whether its nodes are retired when their engines have left. */
  retires: boolean;
}

/**
 * Plan a context on this machine (its environment, cores, `DISBATCH_SLURM_SRUN_OPTIONS_FILE`).
 * @param o context options @param hostname this machine's name
 * @throws {SyntaxError} for a malformed `-s` or srun options file
 */
export function planHere(o: ContextOptions, hostname: string): PlannedContext {
  let srunOptionsText: string | undefined;
  const optFile = Deno.env.get("DISBATCH_SLURM_SRUN_OPTIONS_FILE");
  if (optFile) srunOptionsText = Deno.readTextFileSync(optFile);
  const plan = planContext(o, {
    hostname,
    cores: navigator.hardwareConcurrency || 1,
    env: Deno.env.toObject(),
    srunOptionsText,
    contextNumber: 0,
  });
  return {
    plan,
    kind: contextKind(plan.kind),
    usable: plan.engines.filter((e) => e.slots > 0),
    slotless: plan.engines.filter((e) => e.slots <= 0),
    retires: retireCommand(plan, o) !== undefined,
  };
}

/** What happens to a context's launchers, for the caller to make known. */
/** How a launcher ended. */
export interface LauncherEnd extends Deno.CommandStatus {
  /** Its engine cannot be running any more (see {@linkcode EngineStarter.endsWithEngine}). */
  tookEngine: boolean;
  /**
   * The launcher was the engine's own process: even a silent engine is surely gone. (An srun can
   * return for a node that Slurm declared down while the engine there, cut off, still runs its tasks
   * until its own grace ends: such a silent engine keeps them for the whole grace.)
   */
  wasEngine: boolean;
}

export interface ContextReports {
  /** An engine's launcher could not be started. @param launch its launch id @param error why */
  startFailed(e: PlannedEngine, launch: string, error: string): void;
  /** An engine's launcher is running. @param seq its number within the context */
  started?(l: LaunchedEngine, seq: number): void;
  /** An engine's launcher ended (reported first, whatever follows). */
  exited(l: LaunchedEngine, s: LauncherEnd): void;
  /**
   * ... and no start again is on its way.
   * @param last the last line of its wrap log ("" when none) @param seq its number within the context
   */
  ended(l: LaunchedEngine, s: LauncherEnd, last: string, seq: number): void;
  /** An engine that had joined is started again: one more engine is coming. */
  coming?(e: PlannedEngine): void;
  /** A start again was given up (the run stopped meanwhile): that engine is not coming. */
  notComing?(e: PlannedEngine): void;
}

/** What a {@linkcode ContextRunner} needs. */
export interface ContextRunnerInput {
  /** The context's id and label (as registered with the driver). */
  id: number;
  label: string;
  kind: ContextKind;
  /** Run facts for the launchers. */
  run: Omit<LaunchInput, "context" | "label">;
  /** Where restarts are logged. */
  log: Logger;
  /** Print a line for the user. */
  say(m: string): void;
  /** Starts again per host at most (`--engine-restarts`; 0: never). */
  restarts: number;
  /** Whether the run still wants engines. */
  going(): boolean;
  /** Whether the engine of a launch id has joined the run. */
  joined(launchId: string): boolean;
  reports: ContextReports;
}

/** Launches, watches and restarts the engines of one context. */
export class ContextRunner {
  readonly #i: ContextRunnerInput;
  readonly #launched = new Map<string, LaunchedEngine>();
  /** What each launch started (to start it again). */
  readonly #plans = new Map<string, PlannedEngine>();
  readonly #restarts = new Map<string, number>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  /** Handlers of launchers that have not ended yet. */
  readonly #watching = new Set<Promise<void>>();
  #seq = 0;

  /** @param i what the runner needs */
  constructor(i: ContextRunnerInput) {
    this.#i = i;
  }

  /** Start one engine (also a start again). @param e what and where */
  launch(e: PlannedEngine): void {
    const { id, label, run, reports } = this.#i;
    const seq = this.#seq++;
    let l: LaunchedEngine;
    try {
      l = launchEngine(e, { ...run, label, context: id }, seq, this.#starter(e));
    } catch (err) {
      reports.startFailed(e, `${id}.${seq}`, `${err instanceof Error ? err.message : err}`);
      return;
    }
    this.#launched.set(l.launchId, l);
    this.#plans.set(l.launchId, e);
    reports.started?.(l, seq);
    const watch = l.status.then((status) => {
      this.#launched.delete(l.launchId);
      const starter = this.#starter(e);
      const s = {
        ...status,
        tookEngine: launcherTookEngine(starter, status.signal),
        wasEngine: starter.endsWithEngine === "always",
      };
      const last = lastLogLine(l.wrapLog);
      reports.exited(l, s);
      if (!this.#i.joined(l.launchId)) {
        // A host that could not be reached may come back (a reboot, a network blip): try again.
        const unreachable = this.#starter(e).unreachable;
        if (
          unreachable && this.#i.going() && unreachable.test(last) &&
          this.#again(e, `cannot reach ${e.host} (${last})`, false)
        ) return;
      }
      reports.ended(l, s, last, seq);
    }).finally(() => this.#watching.delete(watch));
    this.#watching.add(watch);
  }

  /** How an engine is started: by one of its kind's starters, else a registered one. */
  #starter(e: PlannedEngine): EngineStarter {
    return this.#i.kind.starters.find((s) => s.via === e.via) ?? engineStarter(e.via);
  }

  /**
   * Run `fn` after `ms` unless the runner is closed first.
   * @param ms milliseconds @param fn what to run
   */
  later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  /**
   * An engine of this context was lost (its connection ended without a goodbye). It is started
   * again while the run has work, if its kind restarts lost engines (Slurm's do not: their node
   * may be bad, and the allocation decides), after 1, 2, 4, 8 then 16 s, at most `--engine-restarts`
   * times per host: a paused, frozen or killed engine, or a host that rebooted, gives its capacity
   * back.
   * @param launchId the lost engine's launch id
   * @returns true when a restart is on its way (reported as coming)
   */
  engineLost(launchId: string): boolean {
    const plan = this.#plans.get(launchId);
    if (!plan || !this.#i.kind.restartsLostEngines || !this.#i.going()) return false;
    return this.#again(plan, `the engine on ${plan.host} was lost`, true);
  }

  /**
   * Start an engine again after 1, 2, 4, 8 then 16 s, at most `--engine-restarts` times per host.
   * @param plan what to start @param why for the messages
   * @param joined it had joined (reported as coming again) or never did (still counted as coming)
   * @returns true when a start is on its way
   */
  #again(plan: PlannedEngine, why: string, joined: boolean): boolean {
    const { log, say, reports, restarts: max } = this.#i;
    const n = this.#restarts.get(plan.host) ?? 0;
    if (n >= max) {
      if (max > 0) {
        log.warn(`${why}; tried ${n} time(s) again already, not any more (--engine-restarts ${max})`);
      }
      return false;
    }
    this.#restarts.set(plan.host, n + 1);
    const wait = Math.min(16, 2 ** n);
    // Said once the caller has said what was lost (the engine's leaving and its tasks, in this turn).
    queueMicrotask(() => {
      log.warn(`${why}; starting it again in ${wait} s (restart ${n + 1} of ${max})`);
      say(`disbatch: ${why}; starting it again in ${wait} s`);
    });
    if (joined) reports.coming?.(plan);
    this.later(wait * 1000, () => {
      if (!this.#i.going()) {
        reports.notComing?.(plan);
        return;
      }
      this.launch(plan);
    });
    return true;
  }

  /** Resolves when every launcher started so far has ended and been reported. */
  async settled(): Promise<void> {
    while (this.#watching.size > 0) await Promise.all([...this.#watching]);
  }

  /** @param signal sent to the process group of every launcher still running */
  kill(signal: Deno.Signal): void {
    for (const l of this.#launched.values()) killGroup(l.child.pid, signal);
  }

  /** Forget pending starts. */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}

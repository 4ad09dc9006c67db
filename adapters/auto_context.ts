/**
 * The driver's own context, started with the first task (never with `-S`): plans it from `-s`,
 * Slurm or the local cores, keeps `<uid>_<label>.context.log`, launches one engine per usable node
 * and reports a launcher that ends before its engine joined.
 *
 * @module
 */

import { describeEngines, type PlannedEngine } from "../lib/context_plan.ts";
import type { DriverInvocation } from "../lib/driver_options.ts";
import type { RunPorts } from "./actions.ts";
import { ContextRunner, planHere } from "./context_runner.ts";
import { dropStandby } from "./standby.ts";
import { Logger } from "./log.ts";
import type { RetireManager } from "./retire.ts";

/** What {@linkcode AutoContext} needs from the driver. */
export interface AutoContextHost extends RunPorts {
  /** Context options (`-s`, `-c`, `-C`, `-E`, retirement) and the log level. */
  inv: Pick<DriverInvocation, "context" | "logLevel" | "engineRestarts" | "quiet">;
  /** This machine's host name. */
  hostname: string;
  /** Run uid (the context log is `<uid>_<label>.context.log`). */
  uid: string;
  /** Driver addresses for remote engines, comma-separated. */
  connect: string;
  /** Driver addresses for engines on this machine (loopback first). */
  localConnect: string;
  /** Run secret. */
  secret: string;
  retire: RetireManager;
  /** Register a context by label; returns its id. */
  addContext(
    label: string,
    info: { taskLimit: number; engines: number; retires: boolean; jobId?: string },
  ): number;
  /** Whether the engine of a launch id has joined the run. */
  hasJoined(launchId: string): boolean;
  /** A launcher ended and its engine with it ({@linkcode DriverPeers.launcherOver}). */
  launcherOver(launchId: string, how: string, evenIfSilent: boolean): void;
  /**
   * Re-attached: this context's id under the last driver, and the hosts whose engines may come back
   * (an engine is started there only if none did within {@linkcode REATTACH_WAIT_S}).
   */
  restore?: { id: number; hosts: Set<string>; holdUntil: number };
}

/** Seconds a re-attached driver waits for the engines of its own context before starting new ones. */
export const REATTACH_WAIT_S = 15;

/** The context the driver starts itself, and its engines' launchers. */
export class AutoContext {
  readonly #h: AutoContextHost;
  readonly #logs: Logger[] = [];
  #runner: ContextRunner | undefined;
  #started = false;

  /** @param host what the context needs from the driver */
  constructor(host: AutoContextHost) {
    this.#h = host;
  }

  /**
   * Plan the context and launch its engines; later calls do nothing.
   * @throws {SyntaxError} for a malformed srun options file
   */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const { inv, log, sched, react, now, say } = this.#h;
    const { plan, kind, usable, slotless, retires } = planHere(inv.context, this.#h.hostname);
    // Notes are for the eye (how the run found its resources): -q leaves them to the driver log.
    for (const n of plan.notes) {
      if (inv.quiet) log.info(n.replace(/^disbatch: /, ""));
      else say(n);
    }
    for (const w of plan.warnings) say(`disbatch: warning: ${w}`);
    const restore = this.#h.restore;
    const id = restore?.id ?? this.#h.addContext(plan.label, {
      taskLimit: inv.context.taskLimit,
      engines: usable.length,
      retires,
      ...(plan.jobId ? { jobId: plan.jobId } : {}),
    });
    for (const e of slotless) {
      const msg = `${e.host} has no slot for tasks with -c ${
        inv.context.cpusPerTask ?? 1
      } (cores per task exceed its cores); no engine started there`;
      log.error(msg);
      say(`disbatch: ${msg}`);
    }
    log.info(`Context ${plan.label} (${id}, ${plan.kind}): ${describeEngines(usable)}`);
    if (!restore) {
      react({
        kind: "contextJoined",
        id,
        label: plan.label,
        taskLimit: inv.context.taskLimit,
        engines: usable.length,
        retires,
        ...(plan.driverNode !== undefined ? { keepHost: plan.driverNode } : {}),
        now: now(),
      });
    }
    this.#h.retire.contextPlanned(id, plan, inv.context);
    // The reference's context process kept <uid>_<label>.context.log; ours lives in the driver.
    const ctxLog = new Logger(
      `${this.#h.uid}_${plan.label}.context.log`,
      inv.logLevel,
      restore !== undefined,
    );
    ctxLog.info(
      `Context ${plan.label} (${plan.kind}) in driver pid ${Deno.pid}: ${
        describeEngines(usable, true) || "no usable node"
      }`,
    );
    this.#logs.push(ctxLog);
    const notComing = (e: PlannedEngine) =>
      react({ kind: "engineNotComing", context: id, what: `the engine on ${e.host}`, now: now() });
    const runner = new ContextRunner({
      id,
      label: plan.label,
      kind,
      run: {
        uid: this.#h.uid,
        connect: this.#h.connect,
        localConnect: this.#h.localConnect,
        secret: this.#h.secret,
        envResource: inv.context.envResource,
      },
      log,
      say,
      restarts: inv.engineRestarts,
      going: () => sched.phase === "running",
      joined: (launchId) => this.#h.hasJoined(launchId),
      reports: {
        startFailed(e, _launch, error) {
          const msg = `cannot start an engine on ${e.host}: ${error}`;
          log.error(msg);
          say(`disbatch: ${msg}`);
          notComing(e);
        },
        exited: (l, s) => {
          const how = `exited with status ${s.code}${s.signal ? ` (${s.signal})` : ""}`;
          ctxLog.info(`Engine launcher for ${l.plan.host} ${how}`);
          if (s.tookEngine) this.#h.launcherOver(l.launchId, `its launcher ${how}`, s.wasEngine);
        },
        ended: (l, s, last) => {
          if (!this.#h.hasJoined(l.launchId)) {
            const msg =
              `engine on ${l.plan.host} exited (status ${s.code}${
                s.signal ? `, ${s.signal}` : ""
              }) before joining the run; ` +
              `see ${l.wrapLog}${last ? `: ${last}` : ""}`;
            log.error(msg);
            if (sched.phase === "running") say(`disbatch: ${msg}`);
            notComing(l.plan);
          } else if (s.code !== 0) {
            // Its end is told with the engine's ("left: …"); the wrap log only when it says something.
            log.info(
              `Engine launcher on ${l.plan.host} exited with status ${s.code}${
                last ? `; see ${l.wrapLog}: ${last}` : ""
              }`,
            );
          }
        },
        coming: () => react({ kind: "engineComing", context: id, now: now() }),
        notComing,
      },
    });
    this.#runner = runner;
    for (const e of usable) {
      if (!restore?.hosts.has(e.host)) {
        // Re-attached: only engines that may come back were counted as coming; this one is new.
        if (restore) react({ kind: "engineComing", context: id, now: now() });
        runner.launch(e);
        continue;
      }
      // Its engine under the last driver may still run (with tasks): give it time to come back,
      // unless its grace is over (then it surely killed its tasks and left).
      const wait = Math.max(0, Math.min(REATTACH_WAIT_S, restore.holdUntil - Date.now() / 1000 - 1));
      runner.later(wait * 1000, () => {
        if (sched.phase !== "running" || sched.view.engineOn(id, e.host)) return;
        ctxLog.info(`No engine came back from ${e.host} within ${Math.round(wait)} s; starting one`);
        react({ kind: "engineComing", context: id, now: now() });
        runner.launch(e);
      });
    }
    // The context started its engine here from the standby, or needs none.
    dropStandby();
  }

  /**
   * An engine of this context was lost (its connection ended without a goodbye). A local or ssh
   * engine is started again while the run has work, after 1, 2, 4, 8 then 16 s, at most
   * `--engine-restarts` times per host (default 5): a paused, frozen or killed engine, or a host that
   * rebooted, gives its capacity back. Slurm engines are not restarted (their node may be bad,
   * and the allocation decides). See {@linkcode ContextRunner.engineLost}.
   * @param launchId the lost engine's launch id
   * @returns true when a restart is on its way (the scheduler was told)
   */
  engineLost(launchId: string): boolean {
    return this.#runner?.engineLost(launchId) ?? false;
  }

  /** @param signal sent to the process group of every launcher still running */
  kill(signal: Deno.Signal): void {
    this.#runner?.kill(signal);
  }

  /** Close the context log (and forget pending restarts). */
  close(): void {
    this.#runner?.close();
    for (const l of this.#logs) l.close();
  }
}

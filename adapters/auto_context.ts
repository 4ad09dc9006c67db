/**
 * The driver's own context, started with the first task (never with `-S`): plans it from `-s`,
 * Slurm or the local cores, keeps `<uid>_<label>.context.log`, launches one engine per usable node
 * and reports a launcher that ends before its engine joined.
 *
 * @module
 */

import { planContext, type PlannedEngine } from "../lib/context_plan.ts";
import type { DriverInvocation } from "../lib/driver_options.ts";
import type { RunPorts } from "./actions.ts";
import { lastLogLine, type LaunchedEngine, launchEngine } from "./launch.ts";
import { Logger } from "./log.ts";
import type { RetireManager } from "./retire.ts";

/**
 * ssh's words for a host it could not reach (as opposed to one that refused the login, or a name
 * that does not resolve, which trying again will not mend).
 */
const TRANSIENT_SSH =
  /Connection refused|Connection timed out|Operation timed out|No route to host|Network is unreachable|Connection reset|Connection closed|kex_exchange_identification|Host is down/i;

/** What {@linkcode AutoContext} needs from the driver. */
export interface AutoContextHost extends RunPorts {
  /** Context options (`-s`, `-c`, `-C`, `-E`, retirement) and the log level. */
  inv: Pick<DriverInvocation, "context" | "logLevel" | "engineRestarts">;
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
  addContext(label: string, info: { taskLimit: number; engines: number; retires: boolean }): number;
  /** Whether the engine of a launch id has joined the run. */
  hasJoined(launchId: string): boolean;
  /** Whether an engine of this context on this host is connected. */
  engineOn(context: number, host: string): boolean;
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
  readonly #launched = new Map<string, LaunchedEngine>();
  readonly #logs: Logger[] = [];
  /** What each launch started (to start it again). */
  readonly #plans = new Map<string, PlannedEngine>();
  readonly #restarts = new Map<string, number>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #ctx: { id: number; label: string; log: Logger } | undefined;
  #seq = 0;
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
    const { inv, log, sched, apply, say } = this.#h;
    let srunOptionsText: string | undefined;
    const optFile = Deno.env.get("DISBATCH_SLURM_SRUN_OPTIONS_FILE");
    if (optFile) srunOptionsText = Deno.readTextFileSync(optFile);
    const plan = planContext(inv.context, {
      hostname: this.#h.hostname,
      cores: navigator.hardwareConcurrency || 1,
      env: Deno.env.toObject(),
      srunOptionsText,
      contextNumber: 0,
    });
    for (const n of plan.notes) say(n);
    for (const w of plan.warnings) say(`disbatch: warning: ${w}`);
    const usable = plan.engines.filter((e) => e.slots > 0);
    const retires = !inv.context.noRetire && (inv.context.retireCmd !== undefined || plan.kind === "slurm");
    const restore = this.#h.restore;
    const id = restore?.id ?? this.#h.addContext(plan.label, {
      taskLimit: inv.context.taskLimit,
      engines: usable.length,
      retires,
    });
    for (const e of plan.engines.filter((e) => e.slots <= 0)) {
      const msg = `${e.host} has no slot for tasks with -c ${
        inv.context.cpusPerTask ?? 1
      } (cores per task exceed its cores); no engine started there`;
      log.error(msg);
      say(`disbatch: ${msg}`);
    }
    log.info(
      `Context ${plan.label} (${id}, ${plan.kind}): ${usable.map((e) => `${e.host}:${e.slots}`).join(", ")}`,
    );
    if (!restore) {
      apply(
        sched.contextJoined(id, plan.label, inv.context.taskLimit, usable.length, {
          retires,
          keepHost: plan.driverNode,
        }),
      );
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
        usable.map((e) => `${e.host}:${e.slots} via ${e.via}`).join(", ") || "no usable node"
      }`,
    );
    this.#logs.push(ctxLog);
    this.#ctx = { id, label: plan.label, log: ctxLog };
    for (const e of usable) {
      if (!restore?.hosts.has(e.host)) {
        // Re-attached: only engines that may come back were counted as coming; this one is new.
        if (restore) sched.engineComing(id);
        this.#launch(e);
        continue;
      }
      // Its engine under the last driver may still run (with tasks): give it time to come back,
      // unless its grace is over (then it surely killed its tasks and left).
      const wait = Math.max(0, Math.min(REATTACH_WAIT_S, restore.holdUntil - Date.now() / 1000 - 1));
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (sched.phase !== "running" || this.#h.engineOn(id, e.host)) return;
        ctxLog.info(`No engine came back from ${e.host} within ${Math.round(wait)} s; starting one`);
        sched.engineComing(id);
        this.#launch(e);
      }, wait * 1000);
      this.#timers.add(timer);
    }
  }

  /** Start one engine of this context (also a restart). */
  #launch(e: PlannedEngine): void {
    const { inv, log, sched, apply, now, say } = this.#h;
    const { id, label, log: ctxLog } = this.#ctx!;
    let l: LaunchedEngine;
    try {
      l = launchEngine(e, {
        uid: this.#h.uid,
        label,
        context: id,
        connect: this.#h.connect,
        localConnect: this.#h.localConnect,
        secret: this.#h.secret,
        envResource: inv.context.envResource,
      }, this.#seq++);
    } catch (err) {
      const msg = `cannot start an engine on ${e.host}: ${err instanceof Error ? err.message : err}`;
      log.error(msg);
      say(`disbatch: ${msg}`);
      apply(sched.engineNotComing(id, now(), `the engine on ${e.host}`));
      return;
    }
    this.#launched.set(l.launchId, l);
    this.#plans.set(l.launchId, e);
    l.status.then((s) => {
      this.#launched.delete(l.launchId);
      ctxLog.info(
        `Engine launcher for ${e.host} exited with status ${s.code}${s.signal ? ` (${s.signal})` : ""}`,
      );
      if (!this.#h.hasJoined(l.launchId)) {
        const last = lastLogLine(l.wrapLog);
        // A host that could not be reached may come back (a reboot, a network blip): try again.
        if (
          e.via === "ssh" && sched.phase === "running" && TRANSIENT_SSH.test(last ?? "") &&
          this.#again(e, `cannot reach ${e.host} (${last})`, false)
        ) return;
        const msg =
          `engine on ${e.host} exited (status ${s.code}${
            s.signal ? `, ${s.signal}` : ""
          }) before joining the run; ` +
          `see ${l.wrapLog}${last ? `: ${last}` : ""}`;
        log.error(msg);
        if (sched.phase === "running") say(`disbatch: ${msg}`);
        apply(sched.engineNotComing(id, now(), `the engine on ${e.host}`));
      } else if (s.code !== 0) {
        log.warn(`Engine launcher on ${e.host} exited with status ${s.code}; see ${l.wrapLog}`);
      }
    });
  }

  /**
   * An engine of this context was lost (its connection ended without a goodbye). A local or ssh
   * engine is started again while the run has work, after 1, 2, 4, 8 then 16 s, at most
   * `--engine-restarts` times per host (default 5): a paused, frozen or killed engine, or a host that
   * rebooted, gives its capacity back. Slurm engines are not restarted (their node may be bad,
   * and the allocation decides).
   * @param launchId the lost engine's launch id
   * @returns true when a restart is on its way (the scheduler was told)
   */
  engineLost(launchId: string): boolean {
    const plan = this.#plans.get(launchId);
    const { sched } = this.#h;
    if (!plan || !this.#ctx || plan.via === "srun" || sched.phase !== "running") return false;
    return this.#again(plan, `the engine on ${plan.host} was lost`, true);
  }

  /**
   * Start an engine again after 1, 2, 4, 8 then 16 s, at most `--engine-restarts` times per host.
   * @param plan what to start @param why for the messages
   * @param joined it had joined (the scheduler is told one more is coming) or never did (still counted)
   * @returns true when a start is on its way
   */
  #again(plan: PlannedEngine, why: string, joined: boolean): boolean {
    const { sched, log, say } = this.#h;
    const n = this.#restarts.get(plan.host) ?? 0;
    const max = this.#h.inv.engineRestarts;
    if (n >= max) {
      if (max > 0) {
        log.warn(`${why}; tried ${n} time(s) again already, not any more (--engine-restarts ${max})`);
      }
      return false;
    }
    this.#restarts.set(plan.host, n + 1);
    const wait = Math.min(16, 2 ** n);
    log.warn(`${why}; starting it again in ${wait} s (restart ${n + 1} of ${max})`);
    say(`disbatch: ${why}; starting it again in ${wait} s`);
    if (joined) sched.engineComing(this.#ctx!.id);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (sched.phase !== "running") {
        this.#h.apply(sched.engineNotComing(this.#ctx!.id, this.#h.now(), `the engine on ${plan.host}`));
        return;
      }
      this.#launch(plan);
    }, wait * 1000);
    this.#timers.add(timer);
    return true;
  }

  /** @param signal sent to the process group of every launcher still running */
  kill(signal: Deno.Signal): void {
    for (const l of this.#launched.values()) {
      try {
        Deno.kill(-l.child.pid, signal);
      } catch { /* gone */ }
    }
  }

  /** Close the context log (and forget pending restarts). */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const l of this.#logs) l.close();
  }
}

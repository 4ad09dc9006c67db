/**
 * The engine's task processes: carries out the commands of the task runner (`lib/engine_runner.ts`)
 * — start a task, the kill ladder, tell the reaper — and turns what the processes and the clock do
 * into the runner's events. The connection to the driver stays in `engine.ts`, which feeds the
 * driver's messages in through {@linkcode EngineTasks.feed}.
 *
 * @module
 */

import {
  EngineRunner,
  type RunnerCommand,
  type RunnerEvent,
  type RunnerMessage,
} from "../lib/engine_runner.ts";
import type { RunInfo } from "../lib/protocol.ts";
import { engineEnv, splitEnvResources, taskEnv } from "../lib/task_env.ts";
import type { Logger } from "./log.ts";
import { killLadder, type ProcessResult, Reaper, spawnTask } from "./process.ts";
import { Launcher, processCpuMs } from "./launcher.ts";
import { NativeSpawner } from "./native_spawn.ts";
import { bashCommandArg, shellQuote } from "../lib/text.ts";
import { ENGINE_PRIVATE_ENV, LAUNCH_ENV, softVmemOf } from "../lib/launch_contract.ts";

/** Heartbeat to the reaper; it kills the tasks when the engine is silent for its `silentS`. */
const REAPER_BEAT_MS = 1000;

/** What the task side needs of the engine. */
export interface EngineTasksHost {
  /** The engine's log (it changes when the driver names the run). */
  log(): Logger;
  send(message: RunnerMessage): void;
  /** `bye` was sent: leave with `code`. */
  leave(code: number): void;
  /** The tasks of a lost driver are dead: exit. */
  lost(): void;
}

/** The task runner, wired to processes, timers and the reaper. */
export class EngineTasks {
  readonly #host: EngineTasksHost;
  readonly #runner = new EngineRunner();
  /** How each running process group ends (for the kill ladder). */
  #results = new Map<number, Promise<ProcessResult>>();
  #events: RunnerEvent[] = [];
  #busy = false;
  #flushScheduled = false;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt: number | undefined;
  #slotEnv: Record<string, string>[] = [];
  #reaper: Reaper | undefined;
  /** Process groups the reaper was told of: those the engine spawned itself (the launcher kills its own). */
  #reaperGroups = new Set<number>();
  #beat: ReturnType<typeof setInterval> | undefined;
  /** Tasks started (PERENGINE ones included), for the CPU line in the log at the end. */
  #started = 0;
  /** The tasks' soft `ulimit -v` (KiB) to set for tasks the engine starts itself (undefined: none). */
  #softVmem: number | undefined;
  /** The process that starts the tasks (undefined: each task is spawned by the engine). */
  #launcher: Launcher | undefined;
  /** The driver welcomed the engine: its log is the run's. */
  #configured = false;
  /** What the launcher said before that. */
  #launcherSaid: ["info" | "warn" | "error", string][] = [];
  /** A launcher was started (or could not be): once per engine. */
  #launcherTried = false;
  /** The engine's own `posix_spawn` (undefined: the launcher, or `Deno.Command`). */
  #native: NativeSpawner | undefined;
  /** `DISBATCH_LAUNCHER=1`: tasks wait for the launcher rather than start before it is ready. */
  #waitForLauncher = false;

  constructor(host: EngineTasksHost) {
    this.#host = host;
  }

  /** Where the runner is. */
  get state(): EngineRunner["state"] {
    return this.#runner.state;
  }

  /** Processes started and not yet reported. */
  get running(): number {
    return this.#runner.runningCount;
  }

  /** What this engine holds, for a driver it reaches again. */
  resumeState(): ReturnType<EngineRunner["resumeState"]> {
    return this.#runner.resumeState();
  }

  /**
   * Start taking tasks (the driver welcomed the engine): the tasks' environment, the slots, the reaper.
   * @param o the engine's slots, cores per slot and `--env-resource` variables
   * @param rank the engine's rank
   * @param run what the driver said of the run
   * @param address the driver's address as this engine reached it
   * @returns the slots (fewer than asked when an `--env-resource` list is short)
   */
  configure(
    o: { slots: number; coresPerSlot: number; envResource: string[] },
    rank: number,
    run: RunInfo,
    address: string,
  ): number {
    const base = engineEnv({
      jobId: run.jobId,
      nameTasks: run.nameTasks,
      rank,
      coresPerSlot: o.coresPerSlot,
      address,
      srunStep: Deno.env.get(LAUNCH_ENV.srunStep) === "1",
      shellLevel: Deno.env.get("SHLVL"),
    });
    // The soft `ulimit -v` that disbatch's launcher lifted for the runtime: tasks get it back.
    const softVmem = softVmemOf(Deno.env.toObject());
    this.#softVmem = softVmem;
    // Tasks see the reference's DISBATCH_* set, never the run's secret or dbUtil.sh's plumbing.
    for (const k of ENGINE_PRIVATE_ENV) Deno.env.delete(k);
    for (const [k, v] of Object.entries(base)) Deno.env.set(k, v);
    // Frozen longer than the grace, the driver gives this engine up: its tasks must be dead by then.
    const silentS = Math.max(5, Math.round(run.driverGrace));
    this.startLauncher();
    this.openNative();
    // The engine is in the run's directory now (the launcher was started before it moved there).
    this.#launcher?.configure(silentS, Deno.cwd(), Deno.env.toObject(), softVmem);
    try {
      this.#native?.setBase(Deno.env.toObject());
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.#host.log().warn(
        `no posix_spawn (no directory for the tasks' output: ${why}); the engine spawns tasks with Deno, which is slower`,
      );
      this.#native?.close();
      this.#native = undefined;
    }
    this.#reaper = new Reaper(silentS, this.#native?.dir);
    // What the launcher said before the engine's log was the run's.
    for (const [level, text] of this.#launcherSaid.splice(0)) this.#host.log()[level](text);
    this.#host.log().info(
      `Tasks the engine starts itself (without a task launcher, or before it is ready): ${
        this.#native ? "posix_spawn through the C library" : "setsid through Deno.Command"
      }`,
    );
    this.#configured = true;
    this.#beat = setInterval(() => {
      this.#reaper?.beat();
      this.#launcher?.beat();
    }, REAPER_BEAT_MS);
    const split = splitEnvResources(o.envResource, Deno.env.toObject(), o.slots);
    for (const w of split.warnings) this.#host.log().error(w);
    const slots = o.envResource.length ? split.slots : o.slots;
    this.#slotEnv = o.envResource.length ? split.perSlot : [];
    this.feed({ kind: "configure", slots, killGraceS: run.killGrace });
    return slots;
  }

  /**
   * Start the task launcher (unless `DISBATCH_LAUNCHER=0`), as soon as the engine runs: it is ready
   * once {@linkcode EngineTasks.configure} gave it the tasks' environment. Until then (unless
   * `DISBATCH_LAUNCHER=1`: tasks wait for it), and where it cannot start, the engine spawns each
   * task itself: with the C library's `posix_spawn` (unless `DISBATCH_POSIX_SPAWN=0`), else with
   * `Deno.Command`.
   */
  startLauncher(): void {
    if (this.#launcher || this.#launcherTried) return;
    this.#launcherTried = true;
    const log = (level: "info" | "warn" | "error", text: string) => this.#say(level, text);
    // A standby engine started them while it waited for its launch.
    const p = prepared ?? startSpawners();
    prepared = undefined;
    for (const [level, text] of p.said.splice(0)) log(level, text);
    p.sink = log;
    this.#waitForLauncher = p.waitForLauncher;
    const l = this.#launcher = p.launcher;
    if (!l) return;
    // Ready, it takes the tasks held and fills the free slots itself; gone, the engine does again
    // (a prepared one may have ended before this engine took it).
    l.whenReady.then((ok) => {
      if (!ok || !l.ready) return;
      this.#poolSince = {
        started: this.#started,
        cpuMs: processCpuMs(Deno.pid) ?? 0,
        launcherMs: processCpuMs(l.pid),
      };
      this.feed({ kind: "poolReady" });
    });
    l.onEnded = () => this.feed({ kind: "poolLost" });
  }

  /** The engine's own CPU time (not its tasks'), in total and per task started: what the spawn path costs. */
  cpuText(): string {
    const ms = processCpuMs(Deno.pid) ?? 0;
    const per = this.#started ? ` (${(ms / this.#started).toFixed(3)} ms per task)` : "";
    let text = `engine CPU ${(ms / 1000).toFixed(2)} s for ${this.#started} task(s)${per}`;
    const l = this.#launcher && processCpuMs(this.#launcher.pid);
    if (l !== undefined) {
      const lper = this.#started ? ` (${(l / this.#started).toFixed(3)} ms per task)` : "";
      text += `; launcher CPU ${(l / 1000).toFixed(2)} s${lper}`;
    }
    // The start (the engine spawning tasks itself until the launcher is ready) aside.
    const since = this.#poolSince;
    const n = this.#started - (since?.started ?? 0);
    if (since && n > 0) {
      text += `; since the launcher took the tasks: engine ${
        ((ms - since.cpuMs) / n).toFixed(3)
      } ms per task`;
      if (l !== undefined && since.launcherMs !== undefined) {
        text += `, launcher ${((l - since.launcherMs) / n).toFixed(3)} ms per task`;
      }
      text += ` over ${n} task(s)`;
    }
    return text;
  }

  /** Tasks started, the engine's CPU and the launcher's (ms) when the launcher took the tasks over. */
  #poolSince: { started: number; cpuMs: number; launcherMs: number | undefined } | undefined;

  /**
   * Open the C library's `posix_spawn` for the tasks the engine starts itself (unless
   * `DISBATCH_POSIX_SPAWN=0`; where it cannot load, `Deno.Command`). The engine calls this while it
   * waits for the driver's welcome (9-14 ms of loading, which the wait hides); at the latest, the
   * welcome does.
   */
  openNative(): void {
    if (this.#nativeTried) return;
    this.#nativeTried = true;
    if (Deno.env.get("DISBATCH_POSIX_SPAWN") === "0") return;
    const native = NativeSpawner.open();
    if (typeof native !== "string") {
      this.#native = native;
      return;
    }
    this.#say(
      "warn",
      `no posix_spawn through the C library (${native}); the engine spawns tasks with Deno, which is slower`,
    );
  }

  /** Log, in the run's log once the driver welcomed the engine (kept until then). */
  #say(level: "info" | "warn" | "error", text: string): void {
    if (this.#configured) this.#host.log()[level](text);
    else this.#launcherSaid.push([level, text]);
  }

  #nativeTried = false;

  /** Stop the reaper (the engine leaves and its tasks are done). */
  close(): void {
    clearInterval(this.#beat);
    this.#reaper?.close();
    this.#launcher?.close();
    this.#native?.close();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
  }

  /**
   * Hand the runner an event and carry out what it says (and what follows from that), in order.
   * @param e what happened
   */
  feed(e: RunnerEvent): void {
    this.#events.push(e);
    if (this.#busy) return; // a command's own event: taken in turn by the loop below
    this.#busy = true;
    try {
      for (let ev = this.#events.shift(); ev; ev = this.#events.shift()) {
        for (const c of this.#runner.handle(ev)) this.#do(c);
      }
    } finally {
      this.#busy = false;
    }
    this.#arm();
  }

  #do(c: RunnerCommand): void {
    switch (c.kind) {
      case "start":
        this.#start(c.run, c.task, c.slot);
        break;
      case "queue":
        this.#queue(c.run, c.task);
        break;
      case "pool": {
        const slots = new Map<number, Record<string, string>>();
        for (const s of c.slots) slots.set(s, { DISBATCH_CYLINDER_RANK: String(s), ...this.#slotEnv[s] });
        this.#launcher?.pool(slots);
        break;
      }
      case "withdraw":
        this.#launcher?.withdraw(c.runs);
        break;
      case "release":
        this.#launcher?.release();
        break;
      case "killLadder":
        for (const pid of c.pids) killLadder(pid, c.graceMs, this.#results.get(pid) ?? Promise.resolve());
        break;
      case "untrack":
        this.#results.delete(c.pid);
        if (this.#reaperGroups.delete(c.pid)) this.#reaper?.remove(c.pid);
        break;
      case "send":
        this.#host.send(c.message);
        break;
      case "flushSoon":
        if (c.afterMs) {
          this.#flushTimer ??= setTimeout(() => {
            this.#flushTimer = undefined;
            this.feed({ kind: "flush" });
          }, c.afterMs);
          break;
        }
        if (this.#flushScheduled) break;
        this.#flushScheduled = true;
        queueMicrotask(() => {
          this.#flushScheduled = false;
          this.feed({ kind: "flush" });
        });
        break;
      case "log":
        this.#host.log()[c.level](c.text);
        break;
      case "leave":
        this.#host.leave(c.code);
        break;
      case "lost":
        this.#host.lost();
        break;
    }
  }

  #start(run: number, task: Parameters<typeof taskEnv>[0], slot: number): void {
    const env = taskEnv(task, slot);
    const extra = this.#slotEnv[slot < 0 ? 0 : slot];
    if (extra) Object.assign(env, extra);
    if (this.#launcher?.coming && this.#waitForLauncher) {
      // Every task through the launcher: wait until it is ready (or surely not coming).
      this.#launcher.whenReady.then(() => this.#start(run, task, slot));
      return;
    }
    if (this.#launcher?.ready) {
      // Where the launcher cannot start it, the engine does.
      this.#viaLauncher(
        this.#launcher,
        run,
        slot,
        task,
        env,
        () => this.#spawn(run, task.command, env, slot),
      );
      return;
    }
    this.#spawn(run, task.command, env, slot);
  }

  /** Hand a task to the launcher's queue (its slot's variables are the launcher's to add). */
  #queue(run: number, task: Parameters<typeof taskEnv>[0]): void {
    const env = taskEnv(task, null);
    if (!this.#launcher) {
      this.feed({ kind: "startFailed", run, message: "no task launcher", now: Date.now() });
      return;
    }
    this.#viaLauncher(
      this.#launcher,
      run,
      null,
      task,
      env,
      (message, slot) => this.feed({ kind: "startFailed", run, message, now: Date.now(), slot }),
    );
  }

  /**
   * Start a task through the launcher (`slot` null: its queue), its news fed to the runner.
   * @param failed what to do when the launcher cannot start it
   */
  #viaLauncher(
    launcher: Launcher,
    run: number,
    slot: number | null,
    task: Parameters<typeof taskEnv>[0],
    env: Record<string, string>,
    failed: (message: string, slot: number) => void,
  ): void {
    this.#started++;
    let settle: (r: ProcessResult) => void = () => {};
    const result = new Promise<ProcessResult>((r) => settle = r);
    launcher.start(run, slot, bashCommandArg(task.command), env, task.stopsRun === true, {
      started: (pid, startMs, ranIn) => {
        this.#results.set(pid, result);
        // Its time limit counts from its start, which the launcher may tell a little later.
        this.feed({ kind: "started", run, pid, now: Math.min(startMs, Date.now()), slot: ranIn });
      },
      failed: (message, ranIn) => {
        this.#started--;
        failed(message, ranIn);
      },
      exited: (r) => {
        settle(r);
        this.feed({ kind: "exited", run, result: r, now: Date.now() });
      },
      withdrawn: () => {
        this.#started--;
        this.feed({ kind: "withdrawn", run, now: Date.now() });
      },
    });
  }

  /** Spawn a task from the engine itself. */
  #spawn(run: number, command: string, env: Record<string, string>, slot: number): void {
    let rt;
    try {
      // The launcher sets the tasks' soft ulimit -v itself; a task started here sets it first.
      // (Its bash execs the task's own: the pid, the group and a signal death stay the task's.)
      const cmd = this.#softVmem === undefined
        ? command
        : `ulimit -S -v ${this.#softVmem} 2>/dev/null; exec /bin/bash -c ${shellQuote(command)}`;
      rt = this.#native ? this.#native.spawn(cmd, env, slot) : spawnTask(cmd, env);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.feed({ kind: "startFailed", run, message, now: Date.now() });
      return;
    }
    this.#started++;
    this.#results.set(rt.pid, rt.result);
    this.#reaperGroups.add(rt.pid);
    this.#reaper?.add(rt.pid);
    this.feed({ kind: "started", run, pid: rt.pid, now: Date.now() });
    rt.result.then((result) => this.feed({ kind: "exited", run, result, now: Date.now() }));
  }

  /** One timer, for the runner's next due time (a time limit, a settling signal death, a kill's end). */
  #arm(): void {
    const at = this.#runner.nextWake;
    if (at === this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    if (at === undefined) return;
    // setTimeout holds at most 2^31-1 ms (24.8 days): a later time is reached in steps.
    const wait = Math.max(0, at - Date.now());
    this.#timer = setTimeout(() => {
      this.#timerAt = undefined;
      if (wait > 2 ** 30) this.#arm();
      else this.feed({ kind: "tick", now: Date.now() });
    }, Math.min(wait, 2 ** 30));
  }
}

/** What starts an engine's tasks, started before the engine has a run (see {@linkcode prepareTasks}). */
interface Spawners {
  /** The task launcher (undefined: none). */
  launcher?: Launcher;
  /** `DISBATCH_LAUNCHER=1`: tasks wait for the launcher rather than start before it is ready. */
  waitForLauncher: boolean;
  /** What they said before an engine took them. */
  said: ["info" | "warn" | "error", string][];
  /** Where they say it once an engine took them. */
  sink?: (level: "info" | "warn" | "error", text: string) => void;
}

/** Started by {@linkcode prepareTasks}, until an engine takes them. */
let prepared: Spawners | undefined;

/** Start the python launcher, as the environment says (the C library's spawn is opened later). */
function startSpawners(): Spawners {
  const mode = Deno.env.get("DISBATCH_LAUNCHER");
  const s: Spawners = { waitForLauncher: mode === "1", said: [] };
  const log = (level: "info" | "warn" | "error", text: string) => {
    if (s.sink) s.sink(level, text);
    else s.said.push([level, text]);
  };
  if (mode === "0") return s;
  try {
    s.launcher = new Launcher(log);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    log("warn", `no task launcher (python3: ${why}); the engine spawns each task itself`);
  }
  return s;
}

/**
 * Start what starts the tasks before the engine knows its run: a standby engine does this while it
 * waits for its launch (python's start, off the engine's way into the run).
 */
export function prepareTasks(): void {
  prepared ??= startSpawners();
}

/** Stop what {@linkcode prepareTasks} started (the standby was not used). */
export function discardPreparedTasks(): void {
  prepared?.launcher?.close();
  prepared = undefined;
}

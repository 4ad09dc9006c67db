/**
 * The controller's state machine: tasks and barriers in, assignments and status records out.
 *
 * Every method takes `now` (Unix seconds) and returns the {@linkcode Action}s to carry out; there
 * are no timers, promises or I/O here (HyperQueue's reactor, Nomad's planner). The driver adapter
 * feeds it events from the task file and from engines and executes the actions.
 *
 * Rules (disBatch's, plus our own fixes):
 * - tasks go out in id order; a barrier is passed only when every earlier task has finished;
 * - `BARRIER CHECK` stops the run (exit 1) when a task since the previous barrier failed;
 * - `--fail-fast` kills every running task at the first failure and ends the run (exit 1);
 * - a lost engine's tasks are re-queued; a task lost with `crashLimit` engines is recorded failed (rc -100);
 * - `--retries N`: a failed task (non-zero exit, signal, time limit) runs again up to N more times,
 *   on another host when one can take it; only its final outcome is recorded and counted;
 * - a host where `badNodeAfter` tasks in a row failed that then succeeded elsewhere, or whose engine
 *   was lost twice, is quarantined: its engines are stopped and it gets no more tasks;
 * - with a walltime (`stopAt`), no task starts that cannot finish before it (estimated from its
 *   time limit, else from the median of finished tasks); at `stopAt` running tasks are stopped
 *   (recorded `K`) and the run ends with {@linkcode WALLTIME_EXIT};
 * - without `-S`, a run with work left but no engine and none coming ends with exit 1.
 *
 * @module
 */

import { barrierFlags, taskFlags } from "./status_record.ts";
import type { Barrier, PerEngineTask, StatusRecord, Task, TaskOutcome } from "./types.ts";

/** Something the driver must do. */
export type Action =
  /** Send tasks to an engine (the driver batches them per engine). */
  | { kind: "assign"; rank: number; task: Task }
  /** Tell an engine to finish its running tasks, hand back queued ones, run STOP tasks and leave. */
  | { kind: "stopEngine"; rank: number }
  /** Tell an engine to kill its running tasks now and leave. */
  | { kind: "killEngine"; rank: number }
  /** Append a line to the status file (`attempt`: which run of the task it records, 0 the first). */
  | { kind: "record"; record: StatusRecord; attempt?: number }
  /** An attempt that is not the task's last (it is run again): the attempts file, not the status file. */
  | { kind: "attempt"; record: StatusRecord; attempt: number }
  /** Write to the driver log (and, for `warn`, to stderr). */
  | { kind: "log"; level: "debug" | "info" | "warn" | "error"; message: string }
  /** Send an engine the PERENGINE block (START tasks run before any other; STOP tasks when it leaves). */
  | { kind: "perEngine"; rank: number; start: PerEngineTask[]; stop: PerEngineTask[] }
  /** Start no more contexts or engines; the run is ending. */
  | { kind: "finish"; exitCode: number; messages: string[] };

/**
 * How an engine's connection ended: a clean goodbye, a goodbye forced by a signal (Slurm's SIGTERM,
 * an admin: not the tasks' doing), or lost (no goodbye: killed, its host gone, given up as silent).
 */
export type EngineEnd =
  | { kind: "finished" }
  | { kind: "signalled"; signal: string }
  | { kind: "lost"; reason: string };

/** Scheduler settings. */
export interface SchedulerOptions {
  /** `-f`: kill everything at the first failure. */
  failFast: boolean;
  /** `-S`: keep waiting for engines when none is left. */
  startupOnly: boolean;
  /** `-e`: exit 1 when any task failed. */
  exitCode: boolean;
  /** A task lost with this many engines is recorded failed (rc -100) instead of run again. */
  crashLimit: number;
  /** `--retries`: how many more times a failed task runs (0: none). */
  retries?: number;
  /** `--timeout`: seconds a task may run unless `#DISBATCH TIMEOUT` says otherwise (0: no limit). */
  timeout?: number;
  /** Failed-then-succeeded-elsewhere tasks in a row that quarantine a host (0: never quarantine). */
  badNodeAfter?: number;
  /** Unix seconds at which running tasks are stopped for the walltime hand-off (none: no walltime). */
  stopAt?: number;
  /** Host and PID written on barrier lines. */
  driverHost: string;
  driverPid: number;
}

interface EngineState {
  rank: number;
  context: number;
  host: string;
  slots: number;
  outstanding: Map<number, Task>;
  state: "active" | "stopping" | "gone";
  /** Silent (network cut, host frozen, driver lost): its tasks are kept, it gets no new ones. */
  away: boolean;
  assigned: number;
  finished: number;
  failed: number;
  meanElapsed: number | undefined;
}

interface ContextState {
  id: number;
  label: string;
  taskLimit: number;
  assigned: number;
  pendingEngines: number;
  engines: Set<number>;
  /** Its nodes are given back when idle (Slurm, --retire-cmd): its idle engines leave early. */
  retires: boolean;
  /** The node that is never given back (the driver's or the context's own): its engine stays. */
  keepHost: string | undefined;
  /** When its allocation ends, minus the hand-off margin (Unix seconds): no task starts that cannot finish by then. */
  stopAt?: number;
  /** Stopped (`--stop`, the dashboard): its engines get no more tasks, late ones leave at once. */
  stopped: boolean;
}

/** `reachedAt`: when every task before the barrier had been handed out (the reference's "feeder
 * reached it"), the barrier line's Start. */
type QueueItem = { kind: "task"; task: Task } | { kind: "barrier"; barrier: Barrier; reachedAt?: number };

/** Seconds a task lost with its engine waits before it runs elsewhere (its original is surely dead). */
export const REQUEUE_DELAY_S = 1.5;

/** Seconds before the run's end at which running tasks are stopped and recorded (the hand-off). */
export const WALLTIME_MARGIN_S = 15;

/** Exit status of a run ended by its walltime (EX_TEMPFAIL: run it again with `-r`). */
export const WALLTIME_EXIT = 75;

/** Return code recorded for a task stopped at its time limit that exited 0 anyway (as `timeout(1)`). */
export const TIMEOUT_RC = 124;

/** What the scheduler remembers of a task that has been run more than once. */
interface Tries {
  /** The attempt the next run is (`DISBATCH_ATTEMPT`). */
  attempt: number;
  /** Engines lost while running it. */
  crashes: number;
  /** Its own failures (non-zero exit, signal, time limit). */
  failures: number;
  /** Hosts where it failed. */
  failedHosts: Set<string>;
}

/** What the scheduler knows of a host's health. */
interface HostHealth {
  /** Tasks that failed here since the last success here. */
  streak: Set<number>;
  /** Of those, how many succeeded elsewhere since. */
  proven: number;
  /** Engines lost on it. */
  losses: number;
  /** Why it gets no more tasks, once quarantined. */
  quarantined?: string;
}

/** Public counters for progress, the monitor and the end-of-run summary. */
export interface SchedulerSnapshot {
  finished: number;
  failed: number;
  barriers: number;
  skipped: number;
  running: number;
  queued: number;
  slots: number;
  engines: {
    rank: number;
    context: number;
    host: string;
    slots: number;
    state: string;
    running: number;
    assigned: number;
    finished: number;
    failed: number;
    /** Unix seconds the driver last heard from it (filled in by the driver for monitors). */
    lastHeard?: number;
  }[];
  contexts: { id: number; label: string; taskLimit: number; assigned: number; engines: number }[];
  phase: "running" | "draining" | "aborting" | "done";
  tasksEnded: boolean;
  /** Attempts that failed (or were lost with their engine) and were run again. */
  retried: number;
  /** Attempts stopped at their time limit (retried ones included). */
  timedOut: number;
  /** Hosts that get no more tasks, and why. */
  quarantined: { host: string; reason: string }[];
  /** When running tasks are stopped for the walltime (Unix seconds), when there is one. */
  stopAt?: number;
}

/** The controller's state machine. */
export class Scheduler {
  readonly #o: SchedulerOptions;
  #queue: QueueItem[] = [];
  #qHead = 0;
  #requeue: Task[] = [];
  /**
   * When a re-queued task may start again: a lost engine's companion kills its task groups with
   * TERM, then KILL one second later, so a copy elsewhere waits {@linkcode REQUEUE_DELAY_S}.
   */
  #notBefore = new Map<number, number>();
  /** The signal that made engines leave (SIGTERM from Slurm at the time limit, say), for the end message. */
  #signalled: string | undefined;
  #engines = new Map<number, EngineState>();
  /** Active engines with a free slot, and with room only for prefetched tasks (O(1) picking). */
  #freeSlot = new Set<EngineState>();
  #prefetchRoom = new Set<EngineState>();
  #outstandingTotal = 0;
  #live = 0;
  #contexts = new Map<number, ContextState>();
  #tries = new Map<number, Tries>();
  /** Some context has an end (an allocation the run asked for): engines are checked against it. */
  #anyEnding = false;
  #hosts = new Map<string, HostHealth>();
  #retried = 0;
  #timedOut = 0;
  /** Durations of recent successful tasks, for the walltime's estimate (a ring). */
  #durations: number[] = [];
  #durationsAt = 0;
  #median: number | undefined;
  #medianOf = -1;
  #finishes = 0;
  /** Set when the walltime ended the run. */
  #walltime = false;
  #tasksEnded = false;
  #itemsSeen = 0;
  #perEngine: { start: PerEngineTask[]; stop: PerEngineTask[] } | undefined;
  #phase: SchedulerSnapshot["phase"] = "running";
  #exitCode = 0;
  #endMessages: string[] = [];
  #segmentFailures: { id: number; line: number; rc: number }[] = [];
  #finished = 0;
  #failed = 0;
  #barriers = 0;
  #skipped = 0;
  #firstFailures: StatusRecord[] = [];
  /** Engines that could not start (a lost engine whose tasks were re-run does not fail the run). */
  #brokenEngines: string[] = [];
  /** Re-attached: tasks on engines that have not come back yet (`task` once the feeder read it). */
  #held = new Map<number, { rank: number; task?: Task }>();
  #heldRead = 0;
  #holdUntil = 0;
  /** Re-attached: tasks an engine came back with before the feeder read them (skipped when read). */
  #adopted = new Set<number>();
  /** Re-attached: engines of the last driver not back yet (rank → context). */
  #expected = new Map<number, number>();

  /** @param options behaviour switches */
  constructor(options: SchedulerOptions) {
    this.#o = { ...options };
  }

  /** PERENGINE START/STOP tasks, once the block is complete (undefined before). */
  get perEngine(): { start: PerEngineTask[]; stop: PerEngineTask[] } | undefined {
    return this.#perEngine;
  }

  /** True once the run has decided to end. */
  get phase(): SchedulerSnapshot["phase"] {
    return this.#phase;
  }

  /** How many more task-file items the driver should read now (flow control; memory stays O(slots)). */
  demand(): number {
    if (this.#tasksEnded || this.#phase !== "running") return 0;
    let slots = 0;
    for (const e of this.#engines.values()) if (e.state === "active") slots += e.slots;
    const want = 2 * slots + 64;
    return Math.max(0, want - (this.#queue.length - this.#qHead));
  }

  /** Failures first seen (up to 5) for the summary. */
  get firstFailures(): readonly StatusRecord[] {
    return this.#firstFailures;
  }

  /**
   * The PERENGINE block is complete.
   * @param start START tasks in order @param stop STOP tasks in order @param now seconds
   * @returns actions
   */
  setPerEngine(start: PerEngineTask[], stop: PerEngineTask[], now: number): Action[] {
    if (this.#perEngine) return [];
    this.#perEngine = { start, stop };
    return this.#announcePerEngine().concat(this.#dispatch(now));
  }

  /** Every engine still there gets the PERENGINE block (once it is complete). */
  #announcePerEngine(): Action[] {
    const out: Action[] = [];
    for (const e of this.#engines.values()) if (e.state !== "gone") out.push(this.#perEngineFor(e.rank)!);
    return out;
  }

  #perEngineFor(rank: number): Action | undefined {
    const p = this.#perEngine;
    return p ? { kind: "perEngine", rank, start: p.start, stop: p.stop } : undefined;
  }

  /**
   * A task or barrier read from the task file.
   * @param item the item @param now seconds
   * @returns actions
   */
  addItem(item: { kind: "task"; task: Task } | { kind: "barrier"; barrier: Barrier }, now: number): Action[] {
    this.#itemsSeen++;
    if (item.kind === "task") {
      // Re-attached: a task running on an engine that came back, or one held for an engine still away.
      if (this.#adopted.delete(item.task.id)) return [];
      const h = this.#held.get(item.task.id);
      if (h) {
        if (!h.task) this.#heldRead++;
        h.task = item.task;
        return this.#dispatch(now);
      }
    }
    this.#queue.push(item.kind === "barrier" ? { ...item } : item);
    return this.#dispatch(now);
  }

  /**
   * A task skipped because an earlier status file recorded it (`-r`).
   * @param record the line to write (already flagged `S`) @param now seconds
   * @returns actions
   */
  addSkipped(record: StatusRecord, now: number): Action[] {
    this.#itemsSeen++;
    this.#skipped++;
    const out: Action[] = [{ kind: "record", record }];
    if (record.returnCode !== 0) {
      this.#countFailure(record);
      this.#segmentFailures.push({ id: record.taskId, line: record.line, rc: record.returnCode });
      // As disBatch does: a failure kept from an earlier run also stops a --fail-fast run.
      if (this.#o.failFast && this.#phase === "running") {
        out.push(...this.#abort(1, "Quitting early due to task failure with --fail-fast"));
        return out.concat(this.#maybeEnd());
      }
    }
    return out.concat(this.#dispatch(now));
  }

  /**
   * Re-attached: a task (or barrier) the status file already has, from before the driver's restart.
   * It counts as it did then (failures for `-e` and `BARRIER CHECK`) and is not written again.
   * @param record its line in the status file @param now seconds
   * @returns actions
   */
  addRecorded(record: StatusRecord, now: number): Action[] {
    this.#itemsSeen++;
    if (record.flags.startsWith("B") || record.flags.startsWith("C")) {
      this.#barriers++;
      // Failures before it were judged by it; those after it (reported early by an engine back) stay.
      const before = this.#segmentFailures.filter((f) => f.id < record.taskId);
      this.#segmentFailures = this.#segmentFailures.filter((f) => f.id > record.taskId);
      if (record.flags.startsWith("C") && before.length > 0 && this.#phase === "running") {
        return this.#checkFailed(record.line, before).concat(this.#maybeEnd());
      }
      return this.#dispatch(now);
    }
    this.#finished++;
    if (record.returnCode !== 0) {
      this.#countFailure(record);
      this.#segmentFailures.push({ id: record.taskId, line: record.line, rc: record.returnCode });
      if (this.#o.failFast && this.#phase === "running") {
        return this.#abort(1, "Quitting early due to task failure with --fail-fast").concat(this.#maybeEnd());
      }
    }
    return this.#dispatch(now);
  }

  /**
   * Re-attached: the journal says these tasks were on these engines when the last driver died. They
   * are held (not run elsewhere) until their engine comes back, or until `until`: then its grace is
   * surely over, its copies are dead, and they run again.
   * @param sent task id → engine rank @param until Unix seconds
   * @param expected rank → context of the engines that may come back (each counted as coming)
   */
  holdForEngines(
    sent: ReadonlyMap<number, number>,
    until: number,
    expected: ReadonlyMap<number, number>,
  ): void {
    for (const [id, rank] of sent) this.#held.set(id, { rank });
    for (const [rank, ctx] of expected) this.#expected.set(rank, ctx);
    this.#holdUntil = until;
  }

  /**
   * Re-attached: earlier attempts of tasks not finished yet (from the attempts file), so that
   * `--retries`, `--crash-limit`, `DISBATCH_ATTEMPT` and the hosts a task failed on go on.
   * @param attempts per task id: its earlier attempts' return codes and hosts (-100: lost with its engine)
   */
  restoreAttempts(attempts: ReadonlyMap<number, { rc: number; host: string }[]>): void {
    for (const [id, list] of attempts) {
      const t = this.#triesOf(id);
      for (const a of list) {
        t.attempt++;
        this.#retried++;
        if (a.rc === -100) t.crashes++;
        else {
          t.failures++;
          t.failedHosts.add(a.host);
        }
      }
    }
  }

  /** Tasks still held for engines that have not come back. */
  get heldCount(): number {
    return this.#held.size;
  }

  /**
   * An engine stopped answering (network cut, frozen host): it keeps its tasks and gets no new ones
   * until it is heard again, or until the driver gives it up (then {@linkcode engineGone}).
   * @param rank engine @param graceS how long it may stay silent @param now seconds
   * @param why for the log ("is silent", "lost its connection")
   * @returns actions
   */
  engineAway(rank: number, graceS: number, now: number, why = "is silent"): Action[] {
    const e = this.#engines.get(rank);
    if (!e || e.state === "gone" || e.away) return [];
    e.away = true;
    this.#touch(e);
    return [{
      kind: "log",
      level: "warn",
      message: `Engine ${rank} on ${e.host} ${why}; its ${e.outstanding.size} task(s) are kept for it ` +
        `for up to ${Math.round(graceS)} s`,
    }, ...this.#dispatch(now)];
  }

  /**
   * An engine that was silent is heard again.
   * @param rank engine @param now seconds
   * @returns actions
   */
  engineBack(rank: number, now: number): Action[] {
    const e = this.#engines.get(rank);
    if (!e || !e.away) return [];
    e.away = false;
    this.#touch(e);
    return [
      { kind: "log", level: "info", message: `Engine ${rank} on ${e.host} is heard again` },
      ...this
        .#dispatch(now),
    ];
  }

  /**
   * An engine that had lost its driver reached this one: it holds `tasks` (running, queued, or
   * finished with `outcomes` the driver may not have). A driver that knew it (a network cut)
   * reconciles; a restarted one (`--reattach`) adopts what the journal held for it. Tasks the driver
   * had sent it that it neither holds nor reports never arrived: they are queued again. An outcome
   * the driver already has is ignored.
   * @param rank its rank (as before) @param context its context @param host Node column
   * @param slots its slots @param tasks what it holds @param outcomes what it finished
   * @param now seconds
   * @returns actions
   */
  engineResumed(
    rank: number,
    context: number,
    host: string,
    slots: number,
    tasks: Task[],
    outcomes: TaskOutcome[],
    now: number,
  ): Action[] {
    let e = this.#engines.get(rank);
    const out: Action[] = [];
    if (!e) {
      out.push(...this.#join(rank, context, host, slots).filter((a) => a.kind !== "log"));
      e = this.#engines.get(rank)!;
    } else {
      // It may have missed the block, or a stop or kill, while away (it ignores what it has).
      const block = this.#perEngineFor(rank);
      if (block) out.push(block);
      if (this.#phase === "aborting") out.push({ kind: "killEngine", rank });
      else if (e.state === "stopping") out.push({ kind: "stopEngine", rank });
    }
    e.away = false;
    this.#expected.delete(rank);
    const holds = new Set(tasks.map((t) => t.id));
    for (const o of outcomes) if (o.kind === "normal") holds.add(o.id);
    for (const [id, t] of [...e.outstanding]) {
      if (holds.has(id)) continue;
      e.outstanding.delete(id);
      this.#outstandingTotal--;
      this.#requeueTask(t);
    }
    let adopted = 0;
    for (const t of tasks) {
      const h = this.#held.get(t.id);
      // Known here; or already recorded, or run elsewhere (held for another engine: a newer attempt).
      if (e.outstanding.has(t.id) || !h || h.rank !== rank) continue;
      this.#held.delete(t.id);
      if (h.task) this.#heldRead--;
      else this.#adopted.add(t.id);
      e.outstanding.set(t.id, t);
      this.#outstandingTotal++;
      e.assigned++; // its context's -C count has it already (the journal)
      adopted++;
    }
    // What was held for this engine and it does not hold: it never started there.
    for (const [id, h] of [...this.#held]) {
      if (h.rank !== rank) continue;
      this.#held.delete(id);
      if (h.task) {
        this.#heldRead--;
        this.#requeueTask(h.task);
      }
    }
    out.push({
      kind: "log",
      level: "info",
      message: `Engine ${rank} on ${host} is back${adopted ? ` with ${adopted} task(s) it kept` : ""}`,
    });
    this.#touch(e);
    const fresh = outcomes.filter((o) => o.kind === "perEngine" || e.outstanding.has(o.id));
    return out.concat(this.tasksDone(rank, fresh, now));
  }

  /**
   * The task file has no more items.
   * @param now seconds
   * @returns actions
   */
  endOfTasks(now: number): Action[] {
    this.#tasksEnded = true;
    for (const [id, h] of this.#held) if (!h.task) this.#held.delete(id);
    this.#adopted.clear();
    const announce = !this.#perEngine;
    if (!this.#perEngine) this.#perEngine = { start: [], stop: [] };
    if (announce) return this.#announcePerEngine().concat(this.#dispatch(now));
    return this.#dispatch(now);
  }

  /** True when the file held nothing to run at all (no task, barrier or skipped line). */
  get nothingToDo(): boolean {
    return this.#tasksEnded && this.#itemsSeen === 0;
  }

  /**
   * A context (resource grant) announced itself.
   * @param id context id @param label label for logs @param taskLimit `-C` (0 = none)
   * @param expectedEngines engines it will try to start
   * @param retire `retires`: its nodes are given back when idle (Slurm or --retire-cmd), so its
   *   engines leave as soon as the task file is exhausted and they have nothing to do, except the
   *   one on `keepHost` (never given back); other engines stay until the end, ready to take tasks
   *   re-queued from a lost engine. `endsAt`: when its allocation ends; its engines get no task
   *   that cannot finish by then
   * @returns actions
   */
  contextJoined(
    id: number,
    label: string,
    taskLimit: number,
    expectedEngines: number,
    retire: { retires: boolean; keepHost?: string | undefined; endsAt?: number; assigned?: number } = {
      retires: false,
    },
  ): Action[] {
    this.#contexts.set(id, {
      id,
      label,
      retires: retire.retires,
      keepHost: retire.keepHost,
      ...(retire.endsAt !== undefined ? { stopAt: retire.endsAt - WALLTIME_MARGIN_S } : {}),
      taskLimit,
      stopped: false,
      assigned: retire.assigned ?? 0,
      pendingEngines: expectedEngines,
      engines: new Set(),
    });
    if (retire.endsAt !== undefined) this.#anyEnding = true;
    return [];
  }

  /**
   * An engine that a context tried to start will not come (start failed or the context gave up).
   * @param context context id @param now seconds
   * @returns actions
   */
  engineNotComing(context: number, now: number, what = `an engine of context ${context}`): Action[] {
    const c = this.#contexts.get(context);
    if (c && c.pendingEngines > 0) c.pendingEngines--;
    if (this.#phase === "running") this.#brokenEngines.push(`${what} could not start`);
    return this.#dispatch(now);
  }

  /**
   * An engine of a context is on its way again (a lost one restarted), so the run does not end
   * for want of engines while it starts.
   * @param context the context id
   */
  engineComing(context: number): void {
    const c = this.#contexts.get(context);
    if (c) c.pendingEngines++;
  }

  /**
   * An authenticated engine joined.
   * @param rank its rank @param context its context @param host Node column @param slots concurrent tasks
   * @param now seconds
   * @returns actions
   */
  engineJoined(rank: number, context: number, host: string, slots: number, now: number): Action[] {
    return this.#join(rank, context, host, slots).concat(this.#dispatch(now));
  }

  #join(rank: number, context: number, host: string, slots: number): Action[] {
    const c = this.#contexts.get(context);
    if (c) {
      if (c.pendingEngines > 0) c.pendingEngines--;
      c.engines.add(rank);
    }
    this.#live++;
    this.#engines.set(rank, {
      rank,
      context,
      host,
      slots,
      outstanding: new Map(),
      state: "active",
      away: false,
      assigned: 0,
      finished: 0,
      failed: 0,
      meanElapsed: undefined,
    });
    const out: Action[] = [{
      kind: "log",
      level: "info",
      message: `Engine ${rank} joined from ${host} with ${slots} slots`,
    }];
    const block = this.#perEngineFor(rank);
    if (block) out.push(block);
    const q = this.#hosts.get(host)?.quarantined;
    if (this.#phase !== "running") {
      out.push(this.#phase === "aborting" ? { kind: "killEngine", rank } : { kind: "stopEngine", rank });
    } else if (q !== undefined) {
      out.push({
        kind: "log",
        level: "info",
        message: `Engine ${rank} on quarantined host ${host} stopped (${q})`,
      });
      out.push({ kind: "stopEngine", rank });
      this.#engines.get(rank)!.state = "stopping";
    } else if (c && (c.stopped || (c.taskLimit > 0 && c.assigned >= c.taskLimit))) {
      out.push({ kind: "stopEngine", rank });
      this.#engines.get(rank)!.state = "stopping";
    }
    this.#touch(this.#engines.get(rank)!);
    return out;
  }

  /**
   * An engine reported finished tasks.
   * @param rank engine @param outcomes what ended @param now seconds
   * @returns actions
   */
  tasksDone(rank: number, outcomes: TaskOutcome[], now: number): Action[] {
    const e = this.#engines.get(rank);
    const out: Action[] = [];
    if (!e) return out;
    for (const o of outcomes) {
      if (o.kind === "perEngine") {
        const list = o.phase === "stop" ? this.#perEngine?.stop : this.#perEngine?.start;
        const t = list?.[o.id];
        if (!t) continue;
        out.push(...this.#finishRecord(e, t, o, "perEngine"));
        continue;
      }
      const task = e.outstanding.get(o.id);
      if (task && (o.attempt ?? 0) !== (task.attempt ?? 0)) {
        // An earlier attempt's outcome sent again after a reconnect: this attempt still runs.
        out.push({
          kind: "log",
          level: "debug",
          message: `Engine ${rank}: stale outcome of task ${o.id} ignored`,
        });
        continue;
      }
      if (!task) {
        out.push({
          kind: "log",
          level: "warn",
          message: `Engine ${rank} reported task ${o.id}, which it was not running; ignored`,
        });
        continue;
      }
      e.outstanding.delete(o.id);
      this.#outstandingTotal--;
      e.finished++;
      e.meanElapsed = e.meanElapsed === undefined
        ? o.end - o.start
        : 0.8 * e.meanElapsed + 0.2 * (o.end - o.start);
      if (o.timedOut) this.#timedOut++;
      const failed = o.returnCode !== 0 || o.timedOut === true;
      if (failed) this.#hostFailed(e.host, task.id);
      if (failed && !o.killed && this.#phase === "running" && this.#retryLeft(task.id)) {
        out.push(...this.#retry(e, task, o));
        continue;
      }
      if (!failed) out.push(...this.#hostSucceeded(e.host, task.id, o.end - o.start));
      out.push(...this.#finishRecord(e, task, o, "normal"));
    }
    this.#touch(e);
    return out.concat(this.#dispatch(now));
  }

  /**
   * An engine handed back tasks it had queued but not started (soft stop).
   * @param rank engine @param ids task ids @param now seconds
   * @returns actions
   */
  released(rank: number, ids: number[], now: number): Action[] {
    const e = this.#engines.get(rank);
    if (!e) return [];
    for (const id of ids) {
      const t = e.outstanding.get(id);
      if (!t) continue;
      e.outstanding.delete(id);
      this.#outstandingTotal--;
      e.assigned--;
      const c = this.#contexts.get(e.context);
      if (c) c.assigned--;
      this.#requeueTask(t);
    }
    this.#touchContext(e.context);
    return this.#dispatch(now);
  }

  /**
   * An engine's connection ended. After a clean goodbye nothing is outstanding; otherwise its
   * tasks are re-queued (or written off at the crash limit).
   * @param rank engine @param end how it ended @param now seconds
   * @returns actions
   */
  engineGone(rank: number, end: EngineEnd, now: number): Action[] {
    const reason = end.kind === "finished"
      ? "finished"
      : end.kind === "signalled"
      ? `stopped by ${end.signal}`
      : end.reason;
    const e = this.#engines.get(rank);
    if (!e || e.state === "gone") return [];
    const out: Action[] = [];
    const lost = [...e.outstanding.values()];
    e.state = "gone";
    this.#live--;
    this.#outstandingTotal -= e.outstanding.size;
    e.outstanding.clear();
    this.#touch(e);
    this.#contexts.get(e.context)?.engines.delete(rank);
    const signal = end.kind === "signalled" ? end.signal : undefined;
    if (signal) this.#signalled = signal;
    if (lost.length > 0 || end.kind !== "finished") {
      out.push({
        kind: "log",
        level: lost.length && this.#phase === "running" ? "warn" : "info",
        message: `Engine ${rank} on ${e.host} left: ${reason}`,
      });
    }
    const crashed = end.kind === "lost";
    if (crashed && lost.length > 0) out.push(...this.#hostLost(e.host, reason));
    // The engine runs its tasks in the order they were sent: beyond its slots, the rest were most
    // likely handed ahead and never started: queued again without a crash or an attempt counted (but
    // after the same delay: a finish still on its way may have let the next one start).
    for (const [i, t] of lost.entries()) {
      if (i >= e.slots && this.#phase === "running") {
        this.#notBefore.set(t.id, now + REQUEUE_DELAY_S);
        this.#requeueTask(t);
        continue;
      }
      const tries = this.#triesOf(t.id);
      if (this.#phase === "aborting") {
        // The run is being killed: whatever this engine still held (queued or running) is not
        // recorded; a resume runs it again, like every task that never started.
        out.push({
          kind: "log",
          level: "info",
          message: `Task ${t.id} (line ${t.line}) was on engine ${rank} when the run was aborted`,
        });
      } else if (this.#phase === "running" && (signal || tries.crashes + 1 < this.#o.crashLimit)) {
        // A signal to the engine (Slurm's SIGTERM, an admin) is not the task's doing: no crash counted.
        if (!signal) tries.crashes++;
        tries.attempt++;
        this.#retried++;
        out.push({
          kind: "attempt",
          attempt: tries.attempt - 1,
          record: this.#lostRecord(e, t, now, true),
        });
        out.push({
          kind: "log",
          level: "warn",
          message:
            `Task ${t.id} (line ${t.line}) lost with engine ${rank}; runs again (attempt ${tries.attempt}` +
            (signal ? ")" : `; lost ${tries.crashes} of ${this.#o.crashLimit} times)`),
        });
        this.#notBefore.set(t.id, now + REQUEUE_DELAY_S);
        this.#requeueTask(t);
      } else {
        const ending = this.#phase !== "running";
        out.push({
          kind: "log",
          level: "error",
          message: `Task ${t.id} (line ${t.line}) lost with engine ${rank}; ` +
            (ending
              ? "the run is ending: recorded as killed (K, rc -100), a plain -r runs it again"
              : `engines running it were lost ${this.#o.crashLimit} times (--crash-limit): recorded as failed (rc -100)`),
        });
        out.push(...this.#finishRecord(e, t, this.#lostOutcome(t, now, ending), "normal"));
      }
    }
    return out.concat(this.#dispatch(now));
  }

  /**
   * Soft stop of one engine (monitor, `dbUtil.sh --stop`).
   * @param rank engine @param now seconds
   * @returns actions
   */
  stopEngine(rank: number, now: number): Action[] {
    const e = this.#engines.get(rank);
    if (!e || e.state !== "active") return [];
    e.state = "stopping";
    this.#touch(e);
    return [{ kind: "log", level: "info", message: `Stopping engine ${rank} on ${e.host} (soft)` }, {
      kind: "stopEngine",
      rank,
    }, ...this.#dispatch(now)];
  }

  /**
   * Soft stop of every engine of a context.
   * @param id context @param now seconds
   * @returns actions
   */
  stopContext(id: number, now: number): Action[] {
    const c = this.#contexts.get(id);
    if (!c) return [];
    c.pendingEngines = 0;
    c.stopped = true;
    this.#touchContext(id);
    const out: Action[] = [];
    for (const r of c.engines) out.push(...this.stopEngine(r, now));
    return out.concat(this.#dispatch(now));
  }

  /**
   * A context process went away: none of its engines still to come will come.
   * @param id context @param now seconds
   * @returns actions
   */
  contextGone(id: number, now: number): Action[] {
    const c = this.#contexts.get(id);
    if (c) c.pendingEngines = 0;
    return this.#dispatch(now);
  }

  /**
   * The clock moved (called about once a second): re-queued tasks whose wait is over are sent.
   * @param now seconds
   * @returns actions
   */
  tick(now: number): Action[] {
    if ((this.#held.size > 0 || this.#expected.size > 0) && now >= this.#holdUntil) {
      return this.#releaseHeld(now).concat(this.#maybeEnd());
    }
    if (this.#o.stopAt !== undefined && now >= this.#o.stopAt && this.#phase === "running") {
      return this.#walltimeEnd("its time is up").concat(this.#maybeEnd());
    }
    if (this.#requeue.length === 0 && this.#o.stopAt === undefined) return [];
    return this.#dispatch(now).concat(this.#maybeEnd());
  }

  /**
   * The run's end moved (a Slurm time limit raised while the run goes on).
   * @param stopAt new hand-off instant (Unix seconds)
   */
  setStopAt(stopAt: number): void {
    this.#o.stopAt = stopAt;
  }

  /**
   * The end of a context's allocation moved (its time limit was raised or lowered).
   * @param label the context's label @param endsAt its new end (Unix seconds) @param now seconds
   * @returns actions (tasks that fit now)
   */
  setContextEnd(label: string, endsAt: number, now: number): Action[] {
    for (const c of this.#contexts.values()) {
      if (c.label === label) {
        c.stopAt = endsAt - WALLTIME_MARGIN_S;
        this.#anyEnding = true;
      }
    }
    return this.#dispatch(now);
  }

  /**
   * Tasks that could start now if there were free slots: those queued again, and those queued
   * before the first barrier (which waits for running tasks: work behind it is not ready).
   * @returns a count (the queue holds what flow control let in: about two tasks per slot, or 64)
   */
  readyWork(): number {
    let n = this.#requeue.length;
    // A barrier still in the queue waits for tasks before it: what follows it is not ready.
    for (let i = this.#qHead; i < this.#queue.length && this.#queue[i]!.kind !== "barrier"; i++) n++;
    return this.#phase === "running" ? n : 0;
  }

  /** True when the walltime ended the run (the driver prints how to resume). */
  get endedByWalltime(): boolean {
    return this.#walltime;
  }

  /**
   * @param host a host name (the Node column)
   * @returns why it gets no more tasks, or undefined when it is not quarantined
   */
  quarantined(host: string): string | undefined {
    return this.#hosts.get(host)?.quarantined;
  }

  /**
   * End the run softly: start nothing new, let running tasks finish, then exit with `exitCode`.
   * @param exitCode status @param message for stderr
   * @returns actions
   */
  stopRun(exitCode: number, message: string): Action[] {
    if (this.#phase !== "running") return [];
    return this.#drain(exitCode, message).concat(this.#maybeEnd());
  }

  /**
   * The driver was told to stop (SIGINT/SIGTERM): kill everything, exit 128+signal.
   * @param exitCode 128+signal @param message for stderr
   * @returns actions
   */
  abort(exitCode: number, message: string): Action[] {
    if (this.#phase === "aborting" || this.#phase === "done") return [];
    return this.#abort(exitCode, message).concat(this.#maybeEnd());
  }

  /** Plain counters for progress, the monitor and the summary. */
  snapshot(): SchedulerSnapshot {
    let running = 0, slots = 0, ahead = 0;
    const engines: SchedulerSnapshot["engines"] = [];
    for (const e of this.#engines.values()) {
      if (e.state !== "gone") {
        slots += e.slots;
        // Tasks handed ahead to an engine wait there for a free slot: they are not running yet.
        running += Math.min(e.outstanding.size, e.slots);
        ahead += Math.max(0, e.outstanding.size - e.slots);
      }
      engines.push({
        rank: e.rank,
        context: e.context,
        host: e.host,
        slots: e.slots,
        state: e.away && e.state !== "gone" ? "away" : e.state,
        running: Math.min(e.outstanding.size, e.slots),
        assigned: e.assigned,
        finished: e.finished,
        failed: e.failed,
      });
    }
    return {
      finished: this.#finished,
      failed: this.#failed,
      barriers: this.#barriers,
      skipped: this.#skipped,
      running,
      queued: this.#queue.length - this.#qHead + this.#requeue.length + ahead,
      slots,
      engines,
      contexts: [...this.#contexts.values()].map((c) => ({
        id: c.id,
        label: c.label,
        taskLimit: c.taskLimit,
        assigned: c.assigned,
        engines: c.engines.size,
      })),
      phase: this.#phase,
      tasksEnded: this.#tasksEnded,
      retried: this.#retried,
      timedOut: this.#timedOut,
      quarantined: [...this.#hosts].filter(([, h]) => h.quarantined !== undefined).map(([host, h]) => ({
        host,
        reason: h.quarantined!,
      })),
      ...(this.#o.stopAt !== undefined ? { stopAt: this.#o.stopAt } : {}),
    };
  }

  // ---------------------------------------------------------------------------------------------

  #requeueTask(t: Task): void {
    let i = this.#requeue.length;
    while (i > 0 && this.#requeue[i - 1]!.id > t.id) i--;
    this.#requeue.splice(i, 0, t);
  }

  #countFailure(r: StatusRecord): void {
    this.#failed++;
    if (this.#firstFailures.length < 5) this.#firstFailures.push(r);
  }

  /** The status line of an outcome: `T` and a non-zero code for a task stopped at its time limit. */
  #recordOf(e: EngineState, t: Task, o: TaskOutcome, kind: "normal" | "perEngine"): StatusRecord {
    const flagKind = kind === "perEngine"
      ? "perEngine"
      : o.timedOut
      ? "timeout"
      : o.killed
      ? "killed"
      : "normal";
    const rc = o.timedOut && o.returnCode === 0 ? TIMEOUT_RC : o.returnCode;
    return {
      flags: taskFlags(flagKind, rc, o.stdoutBytes, o.stderrBytes),
      taskId: t.id,
      line: t.line,
      repeatIndex: t.repeatIndex,
      host: e.host,
      pid: o.pid,
      returnCode: rc,
      elapsed: o.end - o.start,
      start: o.start,
      end: o.end,
      stdoutBytes: o.stdoutBytes,
      stdoutSnippet: o.stdoutSnippet,
      stderrBytes: o.stderrBytes,
      stderrSnippet: o.stderrSnippet,
      command: t.command,
    };
  }

  #finishRecord(e: EngineState, t: Task, o: TaskOutcome, kind: "normal" | "perEngine"): Action[] {
    const record = this.#recordOf(e, t, o, kind);
    const attempt = kind === "normal" ? this.#tries.get(t.id)?.attempt ?? 0 : 0;
    const out: Action[] = [attempt ? { kind: "record", record, attempt } : { kind: "record", record }];
    if (kind === "normal") {
      this.#finished++;
      this.#tries.delete(t.id);
    }
    if (record.returnCode !== 0) {
      e.failed++;
      this.#countFailure(record);
      // Any failed report counts for BARRIER CHECK, PERENGINE tasks included (as the reference).
      this.#segmentFailures.push({ id: t.id, line: t.line, rc: record.returnCode });
      if (this.#o.failFast && this.#phase === "running") {
        out.push(...this.#abort(1, "Quitting early due to task failure with --fail-fast"));
      }
    }
    return out;
  }

  #triesOf(id: number): Tries {
    let t = this.#tries.get(id);
    if (!t) this.#tries.set(id, t = { attempt: 0, crashes: 0, failures: 0, failedHosts: new Set() });
    return t;
  }

  #retryLeft(id: number): boolean {
    const r = this.#o.retries ?? 0;
    return r > 0 && (this.#tries.get(id)?.failures ?? 0) < r;
  }

  /** A failed attempt with retries left: kept in the attempts file, the task queued again. */
  #retry(e: EngineState, t: Task, o: TaskOutcome): Action[] {
    const tries = this.#triesOf(t.id);
    const record = this.#recordOf(e, t, o, "normal");
    tries.failures++;
    tries.attempt++;
    tries.failedHosts.add(e.host);
    this.#retried++;
    e.failed++;
    this.#requeueTask(t);
    const what = o.timedOut
      ? `stopped at its time limit (${t.timeout ?? this.#o.timeout} s)`
      : `failed (rc ${record.returnCode})`;
    return [
      { kind: "attempt", record, attempt: tries.attempt - 1 },
      {
        kind: "log",
        level: "info",
        message:
          `Task ${t.id} (line ${t.line}) ${what} on ${e.host}; retry ${tries.failures} of ${this.#o.retries}`,
      },
    ];
  }

  #lostOutcome(t: Task, now: number, killed: boolean): TaskOutcome {
    return {
      id: t.id,
      kind: "normal",
      slot: -1,
      pid: -1,
      returnCode: -100,
      start: now,
      end: now,
      stdoutBytes: 0,
      stdoutSnippet: "",
      stderrBytes: 0,
      stderrSnippet: "",
      killed,
    };
  }

  #lostRecord(e: EngineState, t: Task, now: number, killed: boolean): StatusRecord {
    return this.#recordOf(e, t, this.#lostOutcome(t, now, killed), "normal");
  }

  #health(host: string): HostHealth {
    let h = this.#hosts.get(host);
    if (!h) this.#hosts.set(host, h = { streak: new Set(), proven: 0, losses: 0 });
    return h;
  }

  #hostFailed(host: string, id: number): void {
    if (!this.#o.badNodeAfter) return;
    // A task that fails on several hosts is its own fault: no evidence against any of them.
    const before = this.#tries.get(id)?.failedHosts;
    if (before && [...before].some((h) => h !== host)) {
      for (const h of before) this.#hosts.get(h)?.streak.delete(id);
      return;
    }
    this.#health(host).streak.add(id);
  }

  /**
   * A host whose last `badNodeAfter` tasks all failed (not yet proven its fault), with `--retries`:
   * it gets no task while a host in good standing can take it, so a node where everything fails at
   * once does not swallow the queue while the proof (their retries succeeding elsewhere) comes in.
   */
  #suspect(host: string): boolean {
    // Only with --retries: without them no failure is ever proven to be the host's.
    const n = this.#o.retries ? this.#o.badNodeAfter ?? 0 : 0;
    return n > 0 && (this.#hosts.get(host)?.streak.size ?? 0) >= n;
  }

  #healthyElsewhere(host: string): boolean {
    for (const e of this.#engines.values()) {
      if (e.state === "active" && e.host !== host && !this.#limited(e) && !this.#suspect(e.host)) return true;
    }
    return false;
  }

  /** A task succeeded on `host`: its streak ends; hosts where it failed before are suspect. */
  #hostSucceeded(host: string, id: number, elapsed: number): Action[] {
    this.#finishes++;
    this.#durations[this.#durationsAt] = elapsed;
    this.#durationsAt = (this.#durationsAt + 1) % 1001;
    const n = this.#o.badNodeAfter ?? 0;
    if (!n) return [];
    const here = this.#hosts.get(host);
    if (here) {
      here.streak.clear();
      here.proven = 0;
    }
    const out: Action[] = [];
    const failedOn = this.#tries.get(id)?.failedHosts;
    // It failed here too before: a flaky task, no proof against the other hosts.
    if (failedOn?.has(host)) return out;
    for (const h of failedOn ?? []) {
      const bad = this.#hosts.get(h);
      if (h === host || !bad?.streak.has(id) || bad.quarantined !== undefined) continue;
      if (++bad.proven >= n) {
        out.push(
          ...this.#quarantine(h, `${bad.proven} tasks in a row failed there and then succeeded elsewhere`),
        );
      }
    }
    return out;
  }

  #hostLost(host: string, reason: string): Action[] {
    if (!this.#o.badNodeAfter) return [];
    const h = this.#health(host);
    h.losses++;
    if (h.losses < 2 || h.quarantined !== undefined) return [];
    return this.#quarantine(host, `its engine was lost ${h.losses} times (last: ${reason})`);
  }

  /** No more tasks for `host`, unless it is the only host left to run them. */
  #quarantine(host: string, reason: string): Action[] {
    const h = this.#health(host);
    let elsewhere = false;
    for (const e of this.#engines.values()) {
      if (e.state === "active" && e.host !== host && this.#hosts.get(e.host)?.quarantined === undefined) {
        elsewhere = true;
        break;
      }
    }
    if (!elsewhere) {
      return [{
        kind: "log",
        level: "warn",
        message:
          `Host ${host} looks bad (${reason}), but no other host can take its tasks: it keeps running them`,
      }];
    }
    h.quarantined = reason;
    const out: Action[] = [
      { kind: "log", level: "warn", message: `Host ${host} quarantined: ${reason}; it gets no more tasks` },
    ];
    for (const e of this.#engines.values()) {
      if (e.host === host && e.state === "active") {
        e.state = "stopping";
        this.#touch(e);
        out.push({ kind: "stopEngine", rank: e.rank });
      }
    }
    return out;
  }

  /** Seconds `t` is expected to take: its time limit, else the median of recent successes. */
  #estimate(t: Task): number | undefined {
    const limit = t.timeout ?? this.#o.timeout ?? 0;
    if (limit > 0) return limit;
    if (this.#durations.length === 0) return undefined;
    // Sorting up to 1001 numbers: only every 50 finishes.
    if (this.#medianOf < 0 || this.#finishes - this.#medianOf >= 50) {
      const d = [...this.#durations].sort((a, b) => a - b);
      this.#median = d[d.length >> 1];
      this.#medianOf = this.#finishes;
    }
    return this.#median;
  }

  /** The walltime is reached (or nothing left can finish before it): stop and record the running tasks. */
  #walltimeEnd(why: string): Action[] {
    this.#walltime = true;
    const queued = this.#queue.length - this.#qHead + this.#requeue.length;
    const running = this.#outstandingTotal;
    return this.#abort(
      WALLTIME_EXIT,
      `The walltime is reached (${why}): ` +
        (running
          ? `the ${running} task(s) still running were stopped and flagged K; `
          : "no task was running; ") +
        `${queued}${this.#tasksEnded ? "" : "+"} task(s) were not started`,
    );
  }

  #abort(exitCode: number, message: string): Action[] {
    this.#phase = "aborting";
    this.#exitCode = exitCode;
    this.#endMessages.push(message);
    const out: Action[] = [{ kind: "log", level: "info", message }];
    for (const e of this.#engines.values()) {
      if (e.state !== "gone") {
        e.state = "stopping";
        out.push({ kind: "killEngine", rank: e.rank });
      }
    }
    return out;
  }

  #drain(exitCode: number, message?: string): Action[] {
    this.#phase = "draining";
    this.#exitCode = Math.max(this.#exitCode, exitCode);
    if (message) this.#endMessages.push(message);
    const out: Action[] = [];
    for (const e of this.#engines.values()) {
      if (e.state === "active") {
        e.state = "stopping";
        out.push({ kind: "stopEngine", rank: e.rank });
      }
    }
    return out;
  }

  #liveEngines(): number {
    return this.#live;
  }

  #enginesComing(): boolean {
    for (const c of this.#contexts.values()) if (c.pendingEngines > 0) return true;
    return false;
  }

  #limited(e: EngineState): boolean {
    const c = this.#contexts.get(e.context);
    return c !== undefined && (c.stopped || (c.taskLimit > 0 && c.assigned >= c.taskLimit));
  }

  /** Put an engine in the right candidate set (call after any change to it). */
  #touch(e: EngineState): void {
    this.#freeSlot.delete(e);
    this.#prefetchRoom.delete(e);
    if (e.state !== "active" || e.away || this.#limited(e)) return;
    // Prefetch (one queued task per slot) only once the engine's tasks are known to be short:
    // it hides the round trip for tiny tasks and never holds long tasks back from idle engines.
    const prefetch = e.meanElapsed !== undefined && e.meanElapsed < 1 ? e.slots : 0;
    const n = e.outstanding.size;
    if (n < e.slots) this.#freeSlot.add(e);
    else if (n < e.slots + prefetch) this.#prefetchRoom.add(e);
  }

  #touchContext(id: number): void {
    const c = this.#contexts.get(id);
    if (!c) return;
    for (const r of c.engines) {
      const e = this.#engines.get(r);
      if (e) this.#touch(e);
    }
  }

  /**
   * An engine with a free slot first (round robin), else one with prefetch room; with `avoid`
   * (hosts where the task failed), one elsewhere, or none while an engine elsewhere could take it later.
   */
  #pickEngine(avoid?: ReadonlySet<string>, fits?: (e: EngineState) => boolean): EngineState | undefined {
    for (const set of [this.#freeSlot, this.#prefetchRoom]) {
      for (const e of set) {
        if (e.state !== "active" || e.away || this.#limited(e)) {
          set.delete(e);
          continue;
        }
        if (avoid?.has(e.host) || (fits && !fits(e))) continue;
        if (this.#suspect(e.host) && this.#healthyElsewhere(e.host)) continue;
        return e;
      }
    }
    if (!avoid || avoid.size === 0) return undefined;
    // Engines still starting may be on other hosts: wait for them rather than retry where it failed.
    if (this.#enginesComing()) return undefined;
    // Wait for an engine elsewhere only if it could take the task (not suspect, the task fits).
    for (const e of this.#engines.values()) {
      if (
        e.state === "active" && !avoid.has(e.host) && !this.#limited(e) && !this.#suspect(e.host) &&
        (!fits || fits(e))
      ) return undefined;
    }
    return this.#pickEngine(undefined, fits);
  }

  /** Whether `t` can finish on `e` before the end of its allocation (always, when that is not known). */
  #fitsEngine(e: EngineState, t: Task, now: number): boolean {
    const stopAt = this.#contexts.get(e.context)?.stopAt;
    return stopAt === undefined || now + (this.#estimate(t) ?? 0) <= stopAt;
  }

  #assign(e: EngineState, task: Task): Action {
    const attempt = this.#tries.get(task.id)?.attempt ?? 0;
    const limit = task.timeout ?? this.#o.timeout ?? 0;
    const t: Task = attempt > 0 || (limit > 0 && task.timeout === undefined)
      ? { ...task, ...(attempt > 0 ? { attempt } : {}), ...(limit > 0 ? { timeout: limit } : {}) }
      : task;
    e.outstanding.set(t.id, t);
    this.#outstandingTotal++;
    e.assigned++;
    const c = this.#contexts.get(e.context);
    if (c) c.assigned++;
    this.#touch(e);
    if (c && c.taskLimit > 0 && c.assigned >= c.taskLimit) this.#touchContext(c.id);
    return { kind: "assign", rank: e.rank, task: t };
  }

  #dispatch(now: number): Action[] {
    const out: Action[] = [];
    if (this.#phase === "running" && this.#perEngine) {
      const stopAt = this.#o.stopAt;
      /** Cannot finish before the walltime (unknown durations are given the benefit of the doubt). */
      const tooLong = (t: Task) => stopAt !== undefined && now + (this.#estimate(t) ?? 0) > stopAt;
      let held = false;
      for (;;) {
        let placed = false;
        const anyFree = this.#freeSlot.size > 0 || this.#prefetchRoom.size > 0;
        for (let i = 0; anyFree && i < this.#requeue.length; i++) {
          const t = this.#requeue[i]!;
          if ((this.#notBefore.get(t.id) ?? 0) > now) continue;
          if (tooLong(t)) {
            held = true;
            continue;
          }
          const e = this.#pickEngine(this.#tries.get(t.id)?.failedHosts, (x) => this.#fitsEngine(x, t, now));
          if (!e) continue;
          this.#requeue.splice(i, 1);
          this.#notBefore.delete(t.id);
          out.push(this.#assign(e, t));
          placed = true;
          break;
        }
        if (placed) continue;
        const item = this.#queue[this.#qHead];
        if (!item) break;
        if (item.kind === "barrier") {
          item.reachedAt ??= now;
          // Tasks before the barrier waiting to run again hold it too.
          if (this.#anyOutstanding() || this.#requeue.length > 0) break;
          this.#qHead++;
          out.push(...this.#passBarrier(item.barrier, item.reachedAt, now));
          if (this.#phase !== "running") break;
          continue;
        }
        if (tooLong(item.task)) {
          held = true;
          break;
        }
        const e = this.#pickEngine(
          undefined,
          this.#anyEnding ? (x) => this.#fitsEngine(x, item.task, now) : undefined,
        );
        if (!e) break;
        this.#qHead++;
        out.push(this.#assign(e, item.task));
      }
      // Nothing runs and nothing left can finish in time: hand off now rather than idle to the end.
      if (held && !this.#anyOutstanding() && this.#phase === "running") {
        out.push(...this.#walltimeEnd("no task left can finish before it"));
      }
      if (this.#qHead > 1024 && this.#qHead * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#qHead);
        this.#qHead = 0;
      }
    }
    out.push(...this.#limitStops());
    out.push(...this.#idleStops());
    out.push(...this.#maybeEnd());
    return out;
  }

  #anyOutstanding(): boolean {
    return this.#outstandingTotal > 0 || this.#heldRead > 0;
  }

  /** The engines that did not come back are surely without their tasks now: run those again. */
  #releaseHeld(now: number): Action[] {
    const out: Action[] = [];
    let n = 0;
    for (const [id, h] of this.#held) {
      this.#held.delete(id);
      if (!h.task) continue;
      this.#heldRead--;
      n++;
      const tries = this.#triesOf(id);
      tries.attempt++;
      tries.crashes++;
      this.#retried++;
      this.#requeueTask(h.task);
    }
    // The engines that did not come back will not: they no longer count as coming.
    for (const ctx of this.#expected.values()) {
      const c = this.#contexts.get(ctx);
      if (c && c.pendingEngines > 0) c.pendingEngines--;
    }
    this.#expected.clear();
    if (n) {
      out.push({
        kind: "log",
        level: "warn",
        message: `${n} task(s) of engines that did not come back within --driver-grace run again`,
      });
    }
    return out.concat(this.#dispatch(now));
  }

  #passBarrier(b: Barrier, reachedAt: number, now: number): Action[] {
    this.#barriers++;
    const record: StatusRecord = {
      flags: barrierFlags(b.check),
      taskId: b.id,
      line: b.line,
      repeatIndex: -1,
      host: this.#o.driverHost,
      pid: this.#o.driverPid,
      returnCode: 0,
      elapsed: now - reachedAt,
      start: reachedAt,
      end: now,
      stdoutBytes: 0,
      stdoutSnippet: "",
      stderrBytes: 0,
      stderrSnippet: "",
      command: b.text,
    };
    const out: Action[] = [{ kind: "record", record }];
    const failures = this.#segmentFailures;
    this.#segmentFailures = [];
    if (b.check && failures.length > 0) {
      out.push(...this.#checkFailed(b.line, failures));
    } else {
      out.push({
        kind: "log",
        level: "info",
        message: `Barrier on line ${b.line} passed${b.key ? ` (key ${b.key})` : ""}`,
      });
    }
    return out;
  }

  /** A `BARRIER CHECK` found failures before it: the run drains and exits 1. */
  #checkFailed(line: number, failures: { id: number; line: number; rc: number }[]): Action[] {
    const f = failures[0]!;
    return this.#drain(
      1,
      `BARRIER CHECK on line ${line} failed: ${failures.length} task(s) before it failed ` +
        `(first: task ${f.id}, line ${f.line}, exit code ${f.rc}); the tasks after it were not run`,
    );
  }

  #limitStops(): Action[] {
    const out: Action[] = [];
    for (const c of this.#contexts.values()) {
      if (c.taskLimit <= 0 || c.assigned < c.taskLimit) continue;
      for (const r of c.engines) {
        const e = this.#engines.get(r)!;
        if (e.state === "active" && e.outstanding.size === 0) {
          e.state = "stopping";
          out.push({
            kind: "log",
            level: "info",
            message: `Context ${c.label} reached its task limit (${c.taskLimit}); stopping engine ${r}`,
          });
          out.push({ kind: "stopEngine", rank: r });
        }
      }
    }
    return out;
  }

  /** Once the task file is exhausted, an engine with nothing to do leaves (and its node can be retired). */
  #idleStops(): Action[] {
    const out: Action[] = [];
    if (
      this.#phase !== "running" || !this.#tasksEnded || this.#qHead < this.#queue.length ||
      this.#requeue.length > 0
    ) {
      return out;
    }
    // Idle active engines are all in the free-slot set (limited ones stop through #limitStops).
    for (const e of [...this.#freeSlot]) {
      const c = this.#contexts.get(e.context);
      if (e.state === "active" && e.outstanding.size === 0 && c?.retires && e.host !== c.keepHost) {
        e.state = "stopping";
        this.#touch(e);
        out.push({ kind: "stopEngine", rank: e.rank });
      }
    }
    return out;
  }

  #maybeEnd(): Action[] {
    if (this.#phase === "done") return [];
    const out: Action[] = [];
    if (this.#phase === "running") {
      const allDone = this.#tasksEnded && this.#qHead >= this.#queue.length && this.#requeue.length === 0 &&
        !this.#anyOutstanding();
      if (allDone) out.push(...this.#drain(0));
      else if (
        !this.#o.startupOnly && this.#liveEngines() === 0 && !this.#enginesComing() && this.#contexts.size > 0
      ) {
        const queued = this.#queue.length - this.#qHead + this.#requeue.length;
        const next = this.#requeue[0] ?? (this.#queue[this.#qHead] as { task?: Task } | undefined)?.task;
        const left = `${queued}${this.#tasksEnded ? "" : "+"} task(s) not run` +
          (next ? `, starting with task ${next.id} (line ${next.line})` : "");
        out.push(...this.#drain(
          1,
          this.#signalled
            // Slurm's SIGTERM at the job's time limit or on scancel reaches the engines first.
            ? `The engines were stopped by ${this.#signalled} (under Slurm: the job's time limit or scancel): ` +
              `${left}; the tasks they were running are flagged K, so a plain -r runs them again`
            : `No engine is left to run the remaining tasks and none can join (start disbatch with -S to wait ` +
              `for contexts added with dbUtil.sh): ${left}; see the driver log`,
        ));
      }
    }
    if ((this.#phase === "draining" || this.#phase === "aborting") && this.#liveEngines() === 0) {
      this.#phase = "done";
      let code = this.#exitCode;
      const messages = [...this.#endMessages];
      if (code === 0 && this.#brokenEngines.length > 0) {
        code = 1;
        messages.push(
          `Some engine processes failed -- please check the logs (${
            this.#brokenEngines.slice(0, 3).join("; ")
          }` +
            `${this.#brokenEngines.length > 3 ? `; and ${this.#brokenEngines.length - 3} more` : ""})`,
        );
      }
      if (code === 0 && this.#o.exitCode && this.#failed > 0) {
        code = 1;
        messages.push("Some tasks failed with non-zero exit codes -- please check the logs");
      }
      out.push({ kind: "finish", exitCode: code, messages });
    }
    return out;
  }
}

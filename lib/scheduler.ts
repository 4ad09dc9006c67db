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
 * The {@linkcode Scheduler} is a thin coordinator over its parts: `registry.ts` (contexts, engines,
 * slots, tasks with explicit states; `slot_index.ts` picks engines), `task_queue.ts` (file order,
 * barriers, tasks to run again), `holds.ts` (a re-attached driver's inheritance), `failure_policy.ts`
 * (retries, crash limit, host health, quarantine), `time_limits.ts` (walltime and allocation ends),
 * `run_records.ts` (status lines, tallies), `scheduler_core.ts` (the state in one place and how a run
 * ends), and the handlers `task_stream.ts`, `engine_events.ts` and `dispatch.ts`.
 *
 * @module
 */

import type { HoldKind } from "./holds.ts";
import * as engineEvents from "./engine_events.ts";
import { newContext, type TaskState } from "./registry.ts";
import { dispatch } from "./dispatch.ts";
import { nodeLeft } from "./retirement.ts";
import { RunView } from "./run_view.ts";
import { SchedulerCore } from "./scheduler_core.ts";
import type { Action, EngineEnd, SchedulerOptions, SchedulerSnapshot } from "./scheduler_types.ts";
import { WALLTIME_MARGIN_S } from "./scheduler_types.ts";
import * as taskStream from "./task_stream.ts";
import type { Barrier, PerEngineTask, StatusRecord, Task, TaskOutcome } from "./types.ts";

export * from "./scheduler_types.ts";
export type { TaskState } from "./registry.ts";

/** The controller's state machine. */
export class Scheduler {
  readonly #c: SchedulerCore;
  /** The registry's contexts, engines and tasks in flight, for views to read. */
  readonly view: RunView;

  /** @param options behaviour switches */
  constructor(options: SchedulerOptions) {
    this.#c = new SchedulerCore(options);
    this.view = new RunView(this.#c.reg);
  }

  /** PERENGINE START/STOP tasks, once the block is complete (undefined before). */
  get perEngine(): { start: PerEngineTask[]; stop: PerEngineTask[] } | undefined {
    return this.#c.perEngine;
  }

  /** True once the run has decided to end. */
  get phase(): SchedulerSnapshot["phase"] {
    return this.#c.phase;
  }

  /** How many more task-file items the driver should read now (flow control; memory stays O(slots)). */
  demand(): number {
    return taskStream.demand(this.#c);
  }

  /** Failures first seen (up to 5) for the summary. */
  get firstFailures(): readonly StatusRecord[] {
    return this.#c.tally.firstFailures;
  }

  /**
   * The PERENGINE block is complete.
   * @param start START tasks in order @param stop STOP tasks in order @param now seconds
   * @returns actions
   */
  setPerEngine(start: PerEngineTask[], stop: PerEngineTask[], now: number): Action[] {
    return taskStream.perEngineBlock(this.#c, { start, stop }, now);
  }

  /**
   * A task or barrier read from the task file.
   * @param item the item @param now seconds
   * @param stopped the line of an earlier run that stopped this task (`-r`, flag `K`)
   * @returns actions
   */
  addItem(
    item: { kind: "task"; task: Task } | { kind: "barrier"; barrier: Barrier },
    now: number,
    stopped?: StatusRecord,
  ): Action[] {
    return taskStream.addItem(this.#c, item, now, stopped);
  }

  /**
   * A task skipped because an earlier status file recorded it (`-r`).
   * @param record the line to write (already flagged `S`) @param now seconds
   * @returns actions
   */
  addSkipped(record: StatusRecord, now: number): Action[] {
    return taskStream.addSkipped(this.#c, record, now);
  }

  /**
   * Re-attached: a task (or barrier) the status file already has, from before the driver's restart.
   * It counts as it did then (failures for `-e` and `BARRIER CHECK`) and is not written again.
   * @param record its line in the status file @param now seconds
   * @returns actions
   */
  addRecorded(record: StatusRecord, now: number): Action[] {
    return taskStream.addRecorded(this.#c, record, now);
  }

  /**
   * Re-attached: the journal says these tasks were on these engines when the last driver died. They
   * are held (not run elsewhere) until their engine comes back, or until `until`: then its grace is
   * surely over, its copies are dead, and they run again.
   * @param sent task id → engine rank @param until Unix seconds
   * @param expected rank → context of the engines that may come back (each counted as coming)
   * @param o whose engines they are
   */
  holdForEngines(
    sent: ReadonlyMap<number, number>,
    until: number,
    expected: ReadonlyMap<number, number>,
    o: HoldKind = {},
  ): void {
    this.#c.holds.hold(sent, until, expected, o);
  }

  /**
   * Re-attached: earlier attempts of tasks not finished yet (from the attempts file), so that
   * `--retries`, `--crash-limit`, `DISBATCH_ATTEMPT` and the hosts a task failed on go on.
   * @param attempts per task id: its earlier attempts' return codes and hosts (-100: lost with its engine)
   */
  restoreAttempts(attempts: ReadonlyMap<number, { rc: number; host: string }[]>): void {
    this.#c.policy.restore(attempts);
  }

  /** Tasks still held for engines that have not come back. */
  get heldCount(): number {
    return this.#c.holds.count;
  }

  /**
   * An engine stopped answering (network cut, frozen host): it keeps its tasks and gets no new ones
   * until it is heard again, or until the driver gives it up (then {@linkcode engineGone}).
   * @param rank engine @param graceS how long it may stay silent @param now seconds
   * @param why for the log ("is silent", "lost its connection")
   * @returns actions
   */
  engineAway(rank: number, graceS: number, now: number, why = "is silent"): Action[] {
    const out = engineEvents.engineAway(this.#c, rank, graceS, why);
    return out ? out.concat(dispatch(this.#c, now)) : [];
  }

  /** An engine that was silent is heard again. @param rank engine @param now seconds @returns actions */
  engineBack(rank: number, now: number): Action[] {
    const out = engineEvents.engineBack(this.#c, rank);
    return out ? out.concat(dispatch(this.#c, now)) : [];
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
    const { out, fresh } = engineEvents.engineResumed(
      this.#c,
      { rank, context, host, slots },
      tasks,
      outcomes,
    );
    return out.concat(this.tasksDone(rank, fresh, now));
  }

  /** The task file has no more items. @param now seconds @returns actions */
  endOfTasks(now: number): Action[] {
    return taskStream.endOfTasks(this.#c, now);
  }

  /** True when the file held nothing to run at all (no task, barrier or skipped line). */
  get nothingToDo(): boolean {
    return this.#c.tasksEnded && this.#c.itemsSeen === 0;
  }

  /**
   * A context (resource grant) announced itself.
   * @param id context id @param label label for logs @param taskLimit `-C` (0 = none)
   * @param expectedEngines engines it will try to start
   * @param retire `retires`: its nodes are given back when idle (Slurm or --retire-cmd), so its
   *   engines leave as soon as the task file is exhausted and they have nothing to do, except the
   *   one on `keepHost` (the driver's node, never given back), ready to take tasks re-queued from
   *   a lost engine. `added` (a `dbUtil.sh` job): its `keepHost` is its own batch node, which
   *   leaves too (last) once all of the job is idle and nothing is left, so that the job ends.
   *   `endsAt`: when its allocation ends; its engines get no task that cannot finish by then
   * @returns actions
   */
  contextJoined(
    id: number,
    label: string,
    taskLimit: number,
    expectedEngines: number,
    retire: {
      retires: boolean;
      keepHost?: string | undefined;
      added?: boolean;
      endsAt?: number;
      assigned?: number;
    } = {
      retires: false,
    },
  ): Action[] {
    const { endsAt, ...rest } = retire;
    const stopAt = endsAt === undefined ? {} : { stopAt: endsAt - WALLTIME_MARGIN_S };
    this.#c.reg.addContext(newContext(id, label, taskLimit, expectedEngines, { ...rest, ...stopAt }));
    return [];
  }

  /**
   * An engine that a context tried to start will not come (start failed or the context gave up).
   * @param context context id @param now seconds
   * @returns actions
   */
  engineNotComing(context: number, now: number, what = `an engine of context ${context}`): Action[] {
    this.#c.reg.engineNotComing(context);
    if (this.#c.phase === "running") this.#c.brokenEngines.push(`${what} could not start`);
    return dispatch(this.#c, now);
  }

  /**
   * An engine of a context is on its way again (a lost one restarted), so the run does not end
   * for want of engines while it starts.
   * @param context the context id
   */
  engineComing(context: number): void {
    this.#c.reg.engineComing(context);
  }

  /**
   * An authenticated engine joined.
   * @param rank its rank @param context its context @param host Node column @param slots concurrent tasks
   * @param now seconds
   * @returns actions
   */
  engineJoined(rank: number, context: number, host: string, slots: number, now: number): Action[] {
    return engineEvents.join(this.#c, rank, context, host, slots).concat(dispatch(this.#c, now));
  }

  /**
   * An engine reported finished tasks.
   * @param rank engine @param outcomes what ended @param now seconds
   * @returns actions
   */
  tasksDone(rank: number, outcomes: TaskOutcome[], now: number): Action[] {
    const e = this.#c.reg.engine(rank);
    if (!e) return [];
    return engineEvents.tasksDone(this.#c, e, outcomes).concat(dispatch(this.#c, now));
  }

  /**
   * An engine handed back tasks it had queued but not started (soft stop).
   * @param rank engine @param ids task ids @param now seconds
   * @returns actions
   */
  released(rank: number, ids: number[], now: number): Action[] {
    return engineEvents.released(this.#c, rank, ids) ? dispatch(this.#c, now) : [];
  }

  /**
   * An engine's connection ended. After a clean goodbye nothing is outstanding; otherwise its
   * tasks are re-queued (or written off at the crash limit).
   * @param rank engine @param end how it ended @param now seconds
   * @returns actions
   */
  engineGone(rank: number, end: EngineEnd, now: number): Action[] {
    const out = engineEvents.engineGone(this.#c, rank, end, now);
    if (!out) return [];
    const after = dispatch(this.#c, now);
    return out.concat(
      after,
      nodeLeft(this.#c.reg, this.#c.reg.engine(rank)!, end, this.#c.phase === "running"),
    );
  }

  /**
   * Soft stop of one engine (monitor, `dbUtil.sh --stop`).
   * @param rank engine @param now seconds
   * @returns actions
   */
  stopEngine(rank: number, now: number): Action[] {
    const e = this.#c.reg.engine(rank);
    if (!e || !this.#c.reg.stop(e)) return [];
    return [{ kind: "log", level: "info", message: `Stopping engine ${rank} on ${e.host} (soft)` }, {
      kind: "stopEngine",
      rank,
    }, ...dispatch(this.#c, now)];
  }

  /** Soft stop of every engine of a context. @param id context @param now seconds @returns actions */
  stopContext(id: number, now: number): Action[] {
    const c = this.#c.reg.stopContext(id);
    if (!c) return [];
    const out: Action[] = [];
    for (const r of c.engines) out.push(...this.stopEngine(r, now));
    return out.concat(dispatch(this.#c, now));
  }

  /**
   * A context process went away: none of its engines still to come will come.
   * @param id context @param now seconds
   * @returns actions
   */
  contextGone(id: number, now: number): Action[] {
    this.#c.reg.noMoreEngines(id);
    return dispatch(this.#c, now);
  }

  /**
   * The clock moved (called about once a second): re-queued tasks whose wait is over are sent.
   * @param now seconds
   * @returns actions
   */
  tick(now: number): Action[] {
    return taskStream.tick(this.#c, now);
  }

  /**
   * The run's end moved (a Slurm time limit raised while the run goes on).
   * @param stopAt new hand-off instant (Unix seconds)
   */
  setStopAt(stopAt: number): void {
    this.#c.o.stopAt = stopAt;
  }

  /**
   * The end of a context's allocation moved (its time limit was raised or lowered).
   * @param label the context's label @param endsAt its new end (Unix seconds) @param now seconds
   * @returns actions (tasks that fit now)
   */
  setContextEnd(label: string, endsAt: number, now: number): Action[] {
    this.#c.reg.setContextStopAt(label, endsAt - WALLTIME_MARGIN_S);
    return dispatch(this.#c, now);
  }

  /**
   * Tasks that could start now if there were free slots: those queued again, and those queued
   * before the first barrier (which waits for running tasks: work behind it is not ready).
   * @returns a count (the queue holds what flow control let in: about two tasks per slot, or 64)
   */
  readyWork(): number {
    return this.#c.phase === "running" ? this.#c.queue.ready() : 0;
  }

  /** True when the walltime ended the run (the driver prints how to resume). */
  get endedByWalltime(): boolean {
    return this.#c.endedByWalltime;
  }

  /**
   * @param host a host name (the Node column)
   * @returns why it gets no more tasks, or undefined when it is not quarantined
   */
  quarantined(host: string): string | undefined {
    return this.#c.policy.quarantined(host);
  }

  /**
   * End the run softly: start nothing new, let running tasks finish, then exit with `exitCode`.
   * @param exitCode status @param message for stderr
   * @returns actions
   */
  stopRun(exitCode: number, message: string): Action[] {
    if (this.#c.phase !== "running") return [];
    return this.#c.drain(exitCode, message).concat(this.#c.maybeEnd());
  }

  /**
   * The driver was told to stop (SIGINT/SIGTERM): kill everything, exit 128+signal.
   * @param exitCode 128+signal @param message for stderr
   * @returns actions
   */
  abort(exitCode: number, message: string): Action[] {
    if (this.#c.phase === "aborting" || this.#c.phase === "done") return [];
    return this.#c.abort(exitCode, message).concat(this.#c.maybeEnd());
  }

  /** @param id task id @returns where it stands while the scheduler holds it (undefined: not read, or ended) */
  taskState(id: number): TaskState | undefined {
    return this.#c.task(id)?.state;
  }

  /** Plain counters for progress, the monitor and the summary. */
  snapshot(): SchedulerSnapshot {
    return this.#c.snapshot();
  }
}

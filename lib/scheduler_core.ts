/**
 * The scheduler's state in one place, and how a run ends: the registry, the queue, the failure
 * policy, the durations and the tallies, with the run's phase (`running`, then `draining` or
 * `aborting`, then `done`). The event handlers (`dispatch.ts`, `engine_events.ts`) and the
 * {@linkcode Scheduler} act on a {@linkcode SchedulerCore}.
 *
 * @module
 */

import { FailurePolicy } from "./failure_policy.ts";
import { Holds } from "./holds.ts";
import { type EngineState, Registry, type TaskEntry } from "./registry.ts";
import { recordOf, Tally } from "./run_records.ts";
import {
  type Action,
  type SchedulerOptions,
  type SchedulerSnapshot,
  WALLTIME_EXIT,
  WALLTIME_MARGIN_S,
} from "./scheduler_types.ts";
import { TaskQueue } from "./task_queue.ts";
import { Durations } from "./time_limits.ts";
import type { PerEngineTask, StatusRecord, Task, TaskOutcome } from "./types.ts";

/** How many engines that could not start the closing message names. */
const BROKEN_SHOWN = 3;

/** The run's phase. */
export type RunPhase = SchedulerSnapshot["phase"];

/** The scheduler's state and the run's ending. */
export class SchedulerCore {
  readonly o: SchedulerOptions;
  readonly reg = new Registry();
  /** A re-attached driver's tasks held for engines of the last driver. */
  readonly holds = new Holds(this.reg);
  readonly queue = new TaskQueue();
  readonly policy: FailurePolicy;
  readonly durations = new Durations();
  /**
   * Tasks an earlier run stopped (`-r`, flag `K`) that have not ended in this one: their line there,
   * whose elapsed time they need more than (until they end here, or the run ends and it is kept).
   */
  readonly stoppedBefore = new Map<number, StatusRecord>();
  readonly tally = new Tally();
  phase: RunPhase = "running";
  /** The task file has no more items. */
  tasksEnded = false;
  /** Items read from the task file (tasks, barriers, skipped and recorded lines). */
  itemsSeen = 0;
  /** Of those, tasks (run, skipped by a resume or recorded before a re-attach). */
  tasksSeen = 0;
  /** PERENGINE START/STOP tasks, once the block is complete. */
  perEngine: { start: PerEngineTask[]; stop: PerEngineTask[] } | undefined;
  /** The signal that made engines leave (SIGTERM from Slurm at the time limit, say), for the end message. */
  signalled: string | undefined;
  /** Set when the walltime ended the run. */
  endedByWalltime = false;
  /** Engines that could not start (a lost engine whose tasks were re-run does not fail the run). */
  readonly brokenEngines: string[] = [];
  #exitCode = 0;
  readonly #endMessages: string[] = [];
  /** `-S`: said that work waits with no engine left (said again after engines came and went). */
  #saidNoEngine = false;
  /** Per engine, the tasks it was most likely running when the run was aborted (its first `slots`). */
  readonly runningAtAbort = new Map<number, Set<number>>();

  /** @param options the scheduler's options (copied: the walltime may move) */
  constructor(options: SchedulerOptions) {
    this.o = { ...options };
    this.policy = new FailurePolicy(this.o, this.reg);
  }

  /** A task runs again: `waiting` until `notBefore` when given, else `requeued`. */
  requeue(entry: TaskEntry, notBefore?: number): void {
    this.reg.requeued(entry, notBefore);
    this.queue.requeue(entry);
  }

  /** @param id task id @returns the task while the scheduler holds it, with its state (a query for views) */
  task(id: number): TaskEntry | undefined {
    return this.holds.get(id) ?? this.reg.onEngine(id) ?? this.queue.find(id);
  }

  /** Hosts that get a task only when no host in good standing can take it (for picking engines). */
  readonly suspect = (host: string): boolean => this.policy.suspect(host);

  /** Tasks on engines, or held for engines of the last driver, that have not ended. */
  anyOutstanding(): boolean {
    return this.reg.outstanding > 0 || this.holds.read > 0;
  }

  /** The PERENGINE block for engine `rank`, once it is complete. */
  perEngineFor(rank: number): Action | undefined {
    const p = this.perEngine;
    return p ? { kind: "perEngine", rank, start: p.start, stop: p.stop } : undefined;
  }

  /** Every engine still there gets the PERENGINE block (once it is complete). */
  announcePerEngine(): Action[] {
    const out: Action[] = [];
    for (const e of this.reg.engines()) if (e.state !== "gone") out.push(this.perEngineFor(e.rank)!);
    return out;
  }

  /** Seconds `t` is expected to take. */
  estimate(t: Task): number | undefined {
    return this.durations.estimate(t, this.o.timeout, this.stoppedBefore.get(t.id)?.elapsed);
  }

  /** Record an outcome as final: counted, and a failure judged (`BARRIER CHECK`, `--fail-fast`). */
  finishRecord(e: EngineState, t: Task, o: TaskOutcome, kind: "normal" | "perEngine"): Action[] {
    const record = recordOf(e.host, t, o, kind);
    const attempt = kind === "normal" ? this.policy.attemptOf(t.id) : 0;
    const out: Action[] = [attempt ? { kind: "record", record, attempt } : { kind: "record", record }];
    if (kind === "normal") {
      this.tally.finished++;
      this.policy.forget(t.id);
      this.stoppedBefore.delete(t.id);
    }
    if (record.returnCode !== 0 && o.killed && !o.timedOut && kind === "normal") {
      // Killed because the run was ending: not a failure of its own (a resume runs it again).
      this.tally.killed++;
    } else if (record.returnCode !== 0) {
      e.failed++;
      this.tally.countFailure(record);
      // Any failed report counts for BARRIER CHECK, PERENGINE tasks included (as the reference).
      this.tally.segmentFailed(t.id, t.line, record.returnCode);
      out.push(...this.failFast());
    }
    return out;
  }

  /** With `--fail-fast`, a failure while running ends the run at once. */
  failFast(): Action[] {
    if (!this.o.failFast || this.phase !== "running") return [];
    return this.abort(1, "Quitting early due to task failure with --fail-fast");
  }

  /** Kill every engine's tasks and end the run with `exitCode`. */
  abort(exitCode: number, message: string): Action[] {
    this.phase = "aborting";
    this.#exitCode = exitCode;
    this.#endMessages.push(message);
    const out: Action[] = [{ kind: "log", level: "info", message }];
    for (const e of this.reg.engines()) {
      if (e.state !== "gone") {
        e.state = "stopping";
        // It runs its tasks in the order they were sent: those beyond its slots never started.
        this.runningAtAbort.set(e.rank, new Set([...e.outstanding.keys()].slice(0, e.slots)));
        out.push({ kind: "killEngine", rank: e.rank });
      }
    }
    return out;
  }

  /** Start nothing new; let the running tasks finish, then end the run with `exitCode`. */
  drain(exitCode: number, message?: string): Action[] {
    this.phase = "draining";
    this.#exitCode = Math.max(this.#exitCode, exitCode);
    if (message) this.#endMessages.push(message);
    const out: Action[] = [];
    for (const e of this.reg.engines()) {
      if (e.state === "active") {
        e.state = "stopping";
        out.push({ kind: "stopEngine", rank: e.rank });
      }
    }
    return out;
  }

  /**
   * The walltime is reached (or nothing left can finish before it): stop and record the running tasks.
   * @param why for the message @param note a sentence after it (what a resume needs)
   */
  walltimeEnd(why: string, note?: string): Action[] {
    this.endedByWalltime = true;
    const queued = this.queue.pending;
    const running = this.reg.outstanding;
    const out = this.abort(
      WALLTIME_EXIT,
      `The walltime is reached (${why}): ` +
        (running
          ? `the ${running} task(s) still running were stopped and flagged K; `
          : "no task was running; ") +
        `${queued}${this.tasksEnded ? "" : "+"} task(s) were not started` + (note ? `. ${note}` : ""),
    );
    return out.concat(this.#keepEarlierStops());
  }

  /**
   * The tasks an earlier run stopped that this one never started keep that run's line (flag `K`) in
   * this run's status file: a resume from it runs them again (`K` is never skipped) and still knows
   * how long they need, so a chain of resumes each from the last status file does not start them
   * in an allocation that cannot hold them.
   */
  #keepEarlierStops(atEnd = false): Action[] {
    const out: Action[] = [];
    for (const [id, record] of this.stoppedBefore) {
      // Still on an engine or held: its outcome comes (and replaces the entry), or it is kept at the end.
      if (!atEnd && (this.reg.onEngine(id) || this.holds.get(id))) continue;
      out.push({ kind: "record", record, earlier: true });
      this.stoppedBefore.delete(id);
    }
    return out;
  }

  /** A `BARRIER CHECK` found failures before it: the run drains and exits 1. */
  checkFailed(line: number, failures: { id: number; line: number; rc: number }[]): Action[] {
    const f = failures[0]!;
    return this.drain(
      1,
      `BARRIER CHECK on line ${line} failed: ${failures.length} task(s) before it failed ` +
        `(first: task ${f.id}, line ${f.line}, exit code ${f.rc}); the tasks after it were not run. ` +
        `A plain -r stops here again (it keeps those failures): once their cause is fixed, resume with -r and -R, ` +
        `which runs them again`,
    );
  }

  /** End the run when all is done or nothing can run what is left; finish once no engine is left. */
  maybeEnd(): Action[] {
    if (this.phase === "done") return [];
    const out: Action[] = [];
    if (this.phase === "running") {
      if (this.tasksEnded && this.queue.empty && !this.anyOutstanding()) out.push(...this.drain(0));
      else if (
        !this.o.startupOnly && this.reg.live === 0 && !this.reg.enginesComing() && this.reg.contextCount > 0
      ) {
        out.push(...this.drain(1, this.#strandedMessage()));
      } else if (
        this.o.startupOnly && this.reg.live === 0 && !this.reg.enginesComing() && this.reg.contextCount > 0
      ) {
        // -S: the run waits for resources; say it once, so that a run whose last engine was lost
        // with a task does not look finished.
        if (!this.#saidNoEngine && !this.queue.empty) {
          this.#saidNoEngine = true;
          out.push({
            kind: "log",
            level: "warn",
            message:
              `No engine is left, and ${this.queue.pending}${
                this.tasksEnded ? "" : "+"
              } task(s) wait to run: ` +
              `the run waits for resources (add some with its dbUtil.sh)`,
          });
        }
      } else if (this.reg.live > 0) this.#saidNoEngine = false;
    }
    if ((this.phase === "draining" || this.phase === "aborting") && this.reg.live === 0) {
      this.phase = "done";
      let code = this.#exitCode;
      const messages = [...this.#endMessages];
      const broken = this.brokenEngines;
      // Said, but the work was done: the status is the run's (a Slurm afterok chain goes on), as in
      // disBatch, whose ssh context ends well whatever its engines did.
      if (code === 0 && broken.length > 0) {
        messages.push(
          `Some engine processes failed -- please check the logs (${
            broken.slice(0, BROKEN_SHOWN).join("; ")
          }` +
            `${broken.length > BROKEN_SHOWN ? `; and ${broken.length - BROKEN_SHOWN} more` : ""})`,
        );
      }
      if (code === 0 && this.o.exitCode && this.tally.failed > 0) {
        code = 1;
        messages.push("Some tasks failed with non-zero exit codes -- please check the logs");
      }
      // However the run ended (a signal, --fail-fast, a failed BARRIER CHECK), what it did not
      // start keeps its earlier K line (the walltime's end keeps them at once).
      out.push(...this.#keepEarlierStops(true));
      out.push({ kind: "finish", exitCode: code, messages });
    }
    return out;
  }

  /** Plain counters for progress, the monitor and the summary. */
  snapshot(): SchedulerSnapshot {
    return snapshotOf(this);
  }

  /** Work is left but no engine is, and none can join. */
  #strandedMessage(): string {
    const next = this.queue.next();
    const left = `${this.queue.pending}${this.tasksEnded ? "" : "+"} task(s) not run` +
      (next ? `, starting with task ${next.id} (line ${next.line})` : "");
    return this.signalled
      // Slurm's SIGTERM at the job's time limit or on scancel reaches the engines first.
      ? `The engines were stopped by ${this.signalled} (under Slurm: the job's time limit or scancel): ` +
        `${left}; the tasks they were running are flagged K, so a plain -r runs them again`
      : `No engine is left to run the remaining tasks and none can join (start disbatch with -S to wait ` +
        `for contexts added with dbUtil.sh): ${left}; see the driver log`;
  }
}

/** The public counters of a scheduler's state. */
function snapshotOf(c: SchedulerCore): SchedulerSnapshot {
  let running = 0, slots = 0, ahead = 0;
  const engines: SchedulerSnapshot["engines"] = [];
  for (const e of c.reg.engines()) {
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
    finished: c.tally.finished,
    failed: c.tally.failed,
    killed: c.tally.killed,
    ...(c.tally.lostAtEnd ? { lostAtEnd: c.tally.lostAtEnd } : {}),
    barriers: c.tally.barriers,
    skipped: c.tally.skipped,
    running,
    queued: c.queue.pending + ahead,
    tasksSeen: c.tasksSeen,
    slots,
    engines,
    contexts: [...c.reg.contexts()].map((x) => ({
      id: x.id,
      label: x.label,
      taskLimit: x.taskLimit,
      assigned: x.assigned,
      engines: x.engines.size,
      ...(x.stopAt !== undefined ? { endsAt: x.stopAt + WALLTIME_MARGIN_S } : {}),
    })),
    phase: c.phase,
    tasksEnded: c.tasksEnded,
    retried: c.policy.retried,
    timedOut: c.tally.timedOut,
    quarantined: c.policy.quarantinedHosts(),
    ...(c.o.stopAt !== undefined ? { stopAt: c.o.stopAt } : {}),
    ...(c.holds.count > 0 ? { held: c.holds.count, heldUntil: c.holds.until } : {}),
  };
}

/**
 * A test harness for the pure {@linkcode Scheduler} (HyperQueue's `TestEnv` and Nomad's `Harness`
 * in one): contexts, engines and task files in, actions out, with a fake clock.
 *
 * Every action the scheduler returns is queued; `take(kind, n)` removes the actions of one kind
 * and asserts how many there were, `assertQuiet()` asserts nothing else is left. Log actions go
 * to their own list (`logs`), since almost every event writes one, and so do attempts (`attempts`).
 *
 * @example
 * ```ts
 * import { SchedulerHarness } from "./scheduler_harness.ts";
 * const h = new SchedulerHarness();
 * h.engine(2);
 * h.tasks("a\nb\n#DISBATCH BARRIER\nc");
 * h.take("assign", 2);
 * h.finish(0, 0);
 * h.finish(1, 0);
 * h.take("record", 3); // two tasks and the barrier
 * h.take("assign", 1);
 * h.assertQuiet();
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Action, type EngineEnd, Scheduler, type SchedulerOptions } from "../../lib/scheduler.ts";
import { TaskFileParser } from "../../lib/task_file.ts";
import { taskFlags } from "../../lib/status_record.ts";
import type { PerEngineTask, StatusRecord, Task, TaskOutcome } from "../../lib/types.ts";

/** The action of one kind. */
export type ActionOf<K extends Action["kind"]> = Extract<Action, { kind: K }>;

/** Scheduler options used unless a test overrides them. */
export const DEFAULT_OPTIONS: SchedulerOptions = {
  failFast: false,
  startupOnly: false,
  exitCode: false,
  crashLimit: 3,
  driverHost: "drv",
  driverPid: 4242,
};

/** Extra fields of a reported outcome. */
export interface OutcomeExtra {
  stdoutBytes?: number;
  stdoutSnippet?: string;
  stderrBytes?: number;
  stderrSnippet?: string;
  killed?: boolean;
  timedOut?: boolean;
  pid?: number;
}

/** Drives a {@linkcode Scheduler} with a fake clock and records its actions. */
export class SchedulerHarness {
  /** The scheduler under test. */
  readonly scheduler: Scheduler;
  /** Fake clock (Unix seconds). */
  now = 1_795_621_000;
  /** Log actions, oldest first. */
  readonly logs: ActionOf<"log">[] = [];
  /** Attempts that are run again (the attempts file), oldest first. */
  readonly attempts: ActionOf<"attempt">[] = [];
  /** Engines sent the PERENGINE block, in order. */
  readonly perEngineSent: number[] = [];
  /** Task ids an earlier status file recorded (`-r`), with their old exit codes: fed as skipped. */
  readonly skip = new Map<number, number>();
  #pending: Action[] = [];
  #parser = new TaskFileParser("Tasks");
  #lineNo = 0;
  #perEngineStart: PerEngineTask[] = [];
  #perEngineStop: PerEngineTask[] = [];
  #perEngineSent = false;
  #nextContext = 0;
  #nextRank = 0;
  #lastContext: number | undefined;
  /** taskId → [rank, start time] of every assigned, not yet ended task. */
  #running = new Map<number, { rank: number; start: number; attempt: number }>();

  /** @param options overrides of {@linkcode DEFAULT_OPTIONS} */
  constructor(options: Partial<SchedulerOptions> = {}) {
    this.scheduler = new Scheduler({ ...DEFAULT_OPTIONS, ...options });
  }

  /** Queue actions and follow assignments. */
  apply(actions: Action[]): Action[] {
    for (const a of actions) {
      if (a.kind === "log") {
        this.logs.push(a);
        continue;
      }
      if (a.kind === "attempt") {
        this.attempts.push(a);
        continue;
      }
      if (a.kind === "perEngine") {
        this.perEngineSent.push(a.rank);
        continue;
      }
      if (a.kind === "assign") {
        assert.ok(!this.#running.has(a.task.id), `task ${a.task.id} assigned twice`);
        this.#running.set(a.task.id, { rank: a.rank, start: this.now, attempt: a.task.attempt ?? 0 });
      }
      this.#pending.push(a);
    }
    return actions;
  }

  /** Move the clock. @param seconds how far */
  advance(seconds: number): void {
    this.now += seconds;
  }

  /** Move the clock and give the scheduler its tick (as the driver does every second). @param seconds how far */
  tick(seconds: number): Action[] {
    this.now += seconds;
    return this.apply(this.scheduler.tick(this.now));
  }

  /**
   * A context joins.
   * @param o expected engines (default 1), `-C` limit (default 0), label
   * @returns its id
   */
  context(
    o: { engines?: number; taskLimit?: number; label?: string; retires?: boolean; keepHost?: string } = {},
  ): number {
    const id = this.#nextContext++;
    this.apply(
      this.scheduler.contextJoined(
        id,
        o.label ?? `SSH${id}`,
        o.taskLimit ?? 0,
        o.engines ?? 1,
        { retires: o.retires ?? true, keepHost: o.keepHost },
      ),
    );
    this.#lastContext = id;
    return id;
  }

  /**
   * An engine joins (in the last context, or a new one expecting it).
   * @param slots concurrent tasks @param o context and host
   * @returns its rank
   */
  engine(slots: number, o: { context?: number; host?: string } = {}): number {
    const context = o.context ?? this.#lastContext ?? this.context();
    const rank = this.#nextRank++;
    this.apply(this.scheduler.engineJoined(rank, context, o.host ?? `node${rank}`, slots, this.now));
    return rank;
  }

  /**
   * Feed task-file lines (continuing line numbers and ids from earlier calls).
   * @param text lines separated by `\n`
   * @param o `end: false` keeps the stream open (default: the file ends here)
   */
  tasks(text: string, o: { end?: boolean } = {}): void {
    for (const physical of text.split("\n")) {
      this.#lineNo++;
      for (const item of this.#parser.feed(physical, this.#lineNo)) {
        switch (item.kind) {
          case "perEngine":
            (item.task.phase === "start" ? this.#perEngineStart : this.#perEngineStop).push(item.task);
            break;
          case "perEngineDone":
            this.#perEngineSent = true;
            this.apply(this.scheduler.setPerEngine(this.#perEngineStart, this.#perEngineStop, this.now));
            break;
          case "task":
            if (this.skip.has(item.task.id)) {
              this.apply(
                this.scheduler.addSkipped(skippedLine(item.task, this.skip.get(item.task.id)!), this.now),
              );
            } else {
              this.apply(this.scheduler.addItem({ kind: "task", task: item.task }, this.now));
            }
            break;
          case "barrier":
            this.apply(this.scheduler.addItem({ kind: "barrier", barrier: item.barrier }, this.now));
            break;
          case "warning":
            break;
        }
      }
    }
    if (o.end ?? true) this.end();
  }

  /** The task file ends. */
  end(): void {
    if (!this.#perEngineSent) {
      this.#perEngineSent = true;
      if (this.#perEngineStart.length + this.#perEngineStop.length > 0) {
        this.apply(this.scheduler.setPerEngine(this.#perEngineStart, this.#perEngineStop, this.now));
      }
    }
    this.apply(this.scheduler.endOfTasks(this.now));
  }

  /** The engine running `taskId`. @param taskId a running task @returns its rank */
  rankOf(taskId: number): number {
    const r = this.#running.get(taskId);
    assert.ok(r, `task ${taskId} is not running`);
    return r.rank;
  }

  /**
   * The engine running `taskId` reports it ended.
   * @param taskId the task @param rc its exit code @param extra output counts, killed, pid
   */
  finish(taskId: number, rc: number, extra: OutcomeExtra = {}): Action[] {
    const r = this.#running.get(taskId);
    assert.ok(r, `task ${taskId} is not running`);
    this.#running.delete(taskId);
    return this.apply(
      this.scheduler.tasksDone(
        r.rank,
        [{
          ...this.#outcome(taskId, "normal", rc, r.start, extra),
          ...(r.attempt ? { attempt: r.attempt } : {}),
        }],
        this.now,
      ),
    );
  }

  /**
   * An engine reports a PERENGINE task.
   * @param rank engine @param phase START or STOP list @param id index in that list @param rc exit code
   */
  perEngineDone(
    rank: number,
    phase: "start" | "stop",
    id: number,
    rc: number,
    extra: OutcomeExtra = {},
  ): Action[] {
    const o = { ...this.#outcome(id, "perEngine", rc, this.now, extra), phase, slot: -1 };
    return this.apply(this.scheduler.tasksDone(rank, [o], this.now));
  }

  /** An engine's connection ended. @param rank engine @param reason "finished", "stopped by SIGX", or why it was lost */
  gone(rank: number, reason = "finished"): Action[] {
    for (const [id, r] of this.#running) if (r.rank === rank) this.#running.delete(id);
    const signal = /^stopped by (SIG\w+)$/.exec(reason)?.[1];
    const end: EngineEnd = reason === "finished"
      ? { kind: "finished" }
      : signal
      ? { kind: "signalled", signal }
      : { kind: "lost", reason };
    return this.apply(this.scheduler.engineGone(rank, end, this.now));
  }

  /** An engine hands back queued tasks. @param rank engine @param ids tasks */
  released(rank: number, ids: number[]): Action[] {
    for (const id of ids) if (this.#running.get(id)?.rank === rank) this.#running.delete(id);
    return this.apply(this.scheduler.released(rank, ids, this.now));
  }

  /** Ids of the tasks now running on `rank` (or anywhere). */
  running(rank?: number): number[] {
    return [...this.#running].filter(([, r]) => rank === undefined || r.rank === rank).map(([id]) => id)
      .sort((a, b) => a - b);
  }

  /**
   * Remove and return the queued actions of one kind.
   * @param kind action kind
   * @param count when given, assert exactly this many were queued
   */
  take<K extends Action["kind"]>(kind: K, count?: number): ActionOf<K>[] {
    if (kind === "log" || kind === "attempt") {
      const list = (kind === "log" ? this.logs.splice(0) : this.attempts.splice(0)) as ActionOf<K>[];
      if (count !== undefined) assert.equal(list.length, count, `${kind} actions: ${JSON.stringify(list)}`);
      return list;
    }
    const mine = this.#pending.filter((a) => a.kind === kind) as ActionOf<K>[];
    this.#pending = this.#pending.filter((a) => a.kind !== kind);
    if (count !== undefined) {
      assert.equal(mine.length, count, `${kind} actions: ${JSON.stringify(mine)}`);
    }
    return mine;
  }

  /** Take `assign` actions and return `[rank, taskId]` pairs. @param count asserted count */
  assigned(count?: number): [rank: number, taskId: number][] {
    return this.take("assign", count).map((a) => [a.rank, a.task.id]);
  }

  /** Take `record` actions and return their records. @param count asserted count */
  records(count?: number) {
    return this.take("record", count).map((a) => a.record);
  }

  /** Assert no action other than logs is left. */
  assertQuiet(): void {
    assert.deepEqual(this.#pending, [], "unexpected actions left");
  }

  #outcome(
    id: number,
    kind: "normal" | "perEngine",
    rc: number,
    start: number,
    x: OutcomeExtra,
  ): TaskOutcome {
    return {
      id,
      kind,
      slot: 0,
      pid: x.pid ?? 10_000 + id,
      returnCode: rc,
      start,
      end: this.now,
      stdoutBytes: x.stdoutBytes ?? 0,
      stdoutSnippet: x.stdoutSnippet ?? "",
      stderrBytes: x.stderrBytes ?? 0,
      stderrSnippet: x.stderrSnippet ?? "",
      killed: x.killed ?? false,
      ...(x.timedOut ? { timedOut: true } : {}),
    };
  }
}

/** The `S` line a resume writes for `task` when the old run ended it with `rc`. */
export function skippedLine(task: Task, rc: number): StatusRecord {
  return {
    flags: taskFlags("skip", rc, 0, 0),
    taskId: task.id,
    line: task.line,
    repeatIndex: task.repeatIndex,
    host: "oldhost",
    pid: 19493,
    returnCode: rc,
    elapsed: 0.006,
    start: 1795621825.169,
    end: 1795621825.175,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    command: task.command,
  };
}

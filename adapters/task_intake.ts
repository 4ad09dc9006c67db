/**
 * What the driver does with each item of the task stream: a warning is printed (unless the
 * prescan already did) and logged, PERENGINE lines are collected until their block ends, and
 * tasks and barriers go to the {@linkcode Scheduler}, a task checked first against the `-r`
 * records (skipped, re-run, or a mismatch).
 *
 * @module
 */

import { ResumeMismatchError, type ResumeTable, skippedRecord } from "../lib/resume.ts";
import type { TaskFileItem } from "../lib/task_file.ts";
import type { PerEngineTask, StatusRecord } from "../lib/types.ts";
import type { RunPorts } from "./actions.ts";
import type { TaskCommand } from "./task_command.ts";
import { readTaskItems, TaskFileChangedError, type TaskSource } from "./task_source.ts";

/** What {@linkcode TaskIntake} needs from the driver. */
export interface IntakeHost extends RunPorts {
  /** `-r` records, if any. */
  table?: ResumeTable;
  /** `-R` and `--force-resume`. */
  resume: { retry: boolean; force: boolean };
  /** Re-attached: the status file's lines by task or barrier id (counted, not run or written again). */
  recorded?: ReadonlyMap<number, StatusRecord>;
  /** Warnings the prescan already printed. */
  printed: ReadonlySet<string>;
}

/**
 * Hands task-file items to the scheduler, one at a time, as fast as it asks for work (its
 * `demand`): the driver holds about two tasks per slot, never the whole file.
 */
export class TaskIntake {
  readonly #h: IntakeHost;
  readonly #perEngineStart: PerEngineTask[] = [];
  readonly #perEngineStop: PerEngineTask[] = [];
  #perEngineDone = false;
  #wake: (() => void) | undefined;
  #failed = false;

  /** @param host what the intake acts on */
  constructor(host: IntakeHost) {
    this.#h = host;
  }

  /** True when the task stream ended the run early (a bad line, a resume mismatch, a failed task program). */
  get failed(): boolean {
    return this.#failed;
  }

  /** The scheduler may want more: a feeder waiting for demand reads on. */
  wake(): void {
    if (this.#wake && this.#h.sched.demand() > 0) this.release();
  }

  /** Let a waiting feeder go on whatever the demand (the run is over: it sees that and stops). */
  release(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /**
   * Read the task stream to its end (or until the run stops), then tell the scheduler the tasks
   * ended. A stream that cannot be read on stops the run (exit 2; a task program that failed: 1).
   * @param source the task file or program output @param name for messages
   * @param program the task program, with `--taskcommand`
   */
  async feed(source: TaskSource, name: string, program?: TaskCommand): Promise<void> {
    const { sched, react, now, log, say } = this.#h;
    const stop = (why: string, exitCode: number, message: string) => {
      say(`disbatch: ${why}`);
      log.error(why);
      this.#failed = true;
      react({ kind: "stopRun", exitCode, message, now: now() });
    };
    try {
      for await (const item of readTaskItems(source, name)) {
        if (sched.phase !== "running") break;
        if (!this.take(item)) continue;
        while (sched.demand() <= 0 && sched.phase === "running") {
          await new Promise<void>((r) => this.#wake = r);
        }
      }
      this.closePerEngine();
      // A task program that failed, or wrote nothing, ends the run: its stream is not complete.
      const why = await program?.failure(1000);
      if (why !== undefined) {
        stop(
          why,
          1,
          "The run stops here: tasks that had started finished and are in the status file; no other task runs",
        );
        return;
      }
    } catch (e) {
      if (e instanceof ResumeMismatchError || e instanceof SyntaxError || e instanceof TaskFileChangedError) {
        this.closePerEngine();
        stop(e.message, 2, "The tasks after it were not run; tasks that ran are in the status file");
        return;
      }
      throw e;
    } finally {
      source.close();
    }
    if (sched.phase === "running") react({ kind: "tasksEnded", now: now() });
  }

  /**
   * Take one item of the task stream.
   * @param item the item
   * @returns true for a task or barrier (work: the feeder then waits for demand)
   * @throws {ResumeMismatchError} when a task changed since the `-r` status file was written
   */
  take(item: TaskFileItem): boolean {
    const { react, now, log } = this.#h;
    switch (item.kind) {
      case "warning":
        if (!this.#h.printed.has(item.message)) this.#h.say(`disbatch: warning: ${item.message}`);
        log.warn(item.message);
        return false;
      case "perEngine":
        (item.task.phase === "start" ? this.#perEngineStart : this.#perEngineStop).push(item.task);
        // engines start with the first task or barrier; PERENGINE lines alone are no work
        return false;
      case "perEngineDone":
        this.closePerEngine();
        return false;
      case "barrier": {
        const r = this.#h.recorded?.get(item.barrier.id);
        react(r ? { kind: "recorded", record: r, now: now() } : { kind: "item", item, now: now() });
        return true;
      }
      case "task": {
        const r = this.#h.recorded?.get(item.task.id);
        if (r) {
          react({ kind: "recorded", record: r, now: now() });
          return true;
        }
        const d = this.#h.table?.decide(item.task, this.#h.resume);
        if (d?.action === "mismatch") throw new ResumeMismatchError(item.task, d.record, d.source);
        if (d?.action === "skip") {
          if (d.mismatch) {
            log.warn(`Task ${item.task.id} skipped by id although it changed (--force-resume)`);
          }
          react({ kind: "skipped", record: skippedRecord(d.record), now: now() });
        } else if (d?.action === "run" && d.stopped) {
          react({ kind: "item", item, stopped: d.stopped, now: now() });
        } else react({ kind: "item", item, now: now() });
        return true;
      }
    }
  }

  /** End the PERENGINE block (once): the scheduler and every connected engine get it. */
  closePerEngine(): void {
    if (this.#perEngineDone) return;
    this.#perEngineDone = true;
    const start = this.#perEngineStart;
    const stop = this.#perEngineStop;
    this.#h.react({ kind: "perEngineBlock", start, stop, now: this.#h.now() });
  }
}

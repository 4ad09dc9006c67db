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
import { stderrLine } from "./stderr.ts";

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
  /** Called before each task or barrier is handed over (the first one starts the context). */
  startContext(): void;
}

/** Hands task-file items to the scheduler, one at a time. */
export class TaskIntake {
  readonly #h: IntakeHost;
  readonly #perEngineStart: PerEngineTask[] = [];
  readonly #perEngineStop: PerEngineTask[] = [];
  #perEngineDone = false;

  /** @param host what the intake acts on */
  constructor(host: IntakeHost) {
    this.#h = host;
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
        if (!this.#h.printed.has(item.message)) stderrLine(`disbatch: warning: ${item.message}`);
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
        this.#h.startContext();
        const r = this.#h.recorded?.get(item.barrier.id);
        react(r ? { kind: "recorded", record: r, now: now() } : { kind: "item", item, now: now() });
        return true;
      }
      case "task": {
        this.#h.startContext();
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

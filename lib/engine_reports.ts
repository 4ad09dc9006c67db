/**
 * The engine's book of task ends on their way to the driver: ends not yet sent (the outbox),
 * numbered `done` messages not yet acknowledged, and the tasks behind them (a restarted driver
 * needs their text to record them). Pure: the runner (`engine_runner.ts`) decides when to send.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReportBook } from "./engine_reports.ts";
 *
 * const book = new ReportBook();
 * book.add({ id: 1, kind: "normal" } as never, { id: 1, line: 2, repeatIndex: -1, command: "true" });
 * assert.deepEqual(book.takeDone()?.seq, 1);
 * book.ack(1);
 * assert.equal(book.held().outcomes.length, 0);
 * ```
 *
 * @module
 */

import type { Task, TaskOutcome } from "./types.ts";

/** Ends waiting to be sent and sent ones waiting for the driver's acknowledgement. */
export class ReportBook {
  #outbox: TaskOutcome[] = [];
  #seq = 0;
  /** `done` messages not yet acknowledged by a driver (sent again to the next one). */
  #unacked: { seq: number; outcomes: TaskOutcome[] }[] = [];
  /** The tasks of unacknowledged outcomes. */
  #tasks = new Map<number, Task>();

  /** Ends not yet sent. */
  get pending(): number {
    return this.#outbox.length;
  }

  /**
   * An end to report.
   * @param outcome the end
   * @param task the task (not for PERENGINE ones)
   */
  add(outcome: TaskOutcome, task: Task | undefined): void {
    if (task) this.#tasks.set(task.id, task);
    this.#outbox.push(outcome);
  }

  /**
   * The ends not yet sent, numbered as one `done` message, kept until acknowledged.
   * @returns the message's number and ends, or undefined when there is none
   */
  takeDone(): { seq: number; outcomes: TaskOutcome[] } | undefined {
    if (this.#outbox.length === 0) return undefined;
    const done = { seq: ++this.#seq, outcomes: this.#outbox };
    this.#outbox = [];
    this.#unacked.push(done);
    return done;
  }

  /** @param seq the driver has every `done` up to this number */
  ack(seq: number): void {
    while (this.#unacked.length > 0 && this.#unacked[0]!.seq <= seq) {
      for (const o of this.#unacked.shift()!.outcomes) if (o.kind === "normal") this.#tasks.delete(o.id);
    }
  }

  /** A driver was told what the engine holds: ends not yet sent count as sent (they were in it). */
  sealForResume(): void {
    this.takeDone();
  }

  /**
   * Every end a driver may not have, with the tasks they are of.
   * @returns the ends (sent first, in order) and their tasks
   */
  held(): { outcomes: TaskOutcome[]; tasks: Task[] } {
    const outcomes = this.#unacked.flatMap((u) => u.outcomes).concat(this.#outbox);
    const tasks: Task[] = [];
    for (const o of outcomes) {
      const t = o.kind === "normal" ? this.#tasks.get(o.id) : undefined;
      if (t) tasks.push(t);
    }
    return { outcomes, tasks };
  }
}

/**
 * A re-attached driver's inheritance: the tasks the last driver had sent to engines that have not
 * come back yet are `held` for them (not run elsewhere, since they may still be running there),
 * and those engines count as coming, until a deadline (the engines' grace): then their copies are
 * surely dead, and the tasks run again.
 *
 * @module
 */

import type { Registry, TaskEntry } from "./registry.ts";
import type { Task } from "./types.ts";

/** Whose engines tasks are held for. */
export interface HoldKind {
  /** An earlier run's (a `-r` of a run whose driver died): released, they run as first attempts. */
  earlier?: boolean;
  /** None of those engines is left (known when the hold is set): released at its end, said so. */
  gone?: boolean;
}

/** Tasks held for engines of the last driver, and those engines. */
export class Holds {
  readonly #reg: Registry;
  /** Held tasks by id, in the order they were held. */
  readonly #held = new Map<number, TaskEntry>();
  /** Engines of the last driver not back yet (rank → context). */
  readonly #expected = new Map<number, number>();
  #read = 0;
  /** When the held tasks run again (Unix seconds). */
  until = 0;
  /** Held for an earlier run (a `-r` of a run whose driver died), not for this run's own engines. */
  earlier = false;
  /** None of the engines held for is left (known when the hold was set). */
  gone = false;

  /** @param reg the registry whose contexts count the engines to come */
  constructor(reg: Registry) {
    this.#reg = reg;
  }

  /**
   * The last driver's journal: tasks on its engines, and those engines.
   * @param sent task id → engine rank @param until Unix seconds
   * @param expected rank → context of the engines that may come back (each counted as coming)
   * @param o whose engines they are (see {@linkcode HoldKind})
   */
  hold(
    sent: ReadonlyMap<number, number>,
    until: number,
    expected: ReadonlyMap<number, number>,
    o: HoldKind = {},
  ): void {
    this.earlier = o.earlier === true;
    this.gone = o.gone === true;
    for (const [id, rank] of sent) {
      const entry: TaskEntry = {
        kind: "task",
        id,
        task: undefined,
        state: "held",
        rank,
        notBefore: undefined,
        sentAt: undefined,
      };
      this.#held.set(id, entry);
    }
    for (const [rank, ctx] of expected) this.#expected.set(rank, ctx);
    this.until = until;
  }

  /** Tasks held. */
  get count(): number {
    return this.#held.size;
  }

  /** Of those, the ones the feeder has read. */
  get read(): number {
    return this.#read;
  }

  /** Something is held, or some engine may still come back. */
  get pending(): boolean {
    return this.#held.size > 0 || this.#expected.size > 0;
  }

  /** @param id task id @returns its entry while it is held */
  get(id: number): TaskEntry | undefined {
    return this.#held.get(id);
  }

  /** The feeder read a held task. */
  readTask(entry: TaskEntry, task: Task): void {
    if (!entry.task) this.#read++;
    entry.task = task;
  }

  /** Held tasks, in the order they were held. */
  list(): TaskEntry[] {
    return [...this.#held.values()];
  }

  /** A task is no longer held (its engine is back, or will not come back). */
  release(entry: TaskEntry): void {
    this.#held.delete(entry.id);
    if (entry.task) this.#read--;
  }

  /** Engine `rank` of the last driver is back. */
  arrived(rank: number): void {
    this.#expected.delete(rank);
  }

  /** The engines that did not come back will not: they no longer count as coming. */
  giveUpEngines(): void {
    for (const ctx of this.#expected.values()) this.#reg.engineNotComing(ctx);
    this.#expected.clear();
  }
}

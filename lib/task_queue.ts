/**
 * The scheduler's queue: tasks and barriers in the order they were read, and tasks to run again
 * (failed with retries left, lost with their engine, handed back), kept in id order and served
 * before the file's next item. Tasks are {@linkcode TaskEntry}s of the registry; the queue keeps
 * their state (`queued`, `requeued`, `waiting`) as it moves them.
 *
 * @module
 */

import type { Barrier, Task } from "./types.ts";
import type { TaskEntry } from "./registry.ts";

/**
 * An item of the task file: a task, or a barrier. `reachedAt`: when every task before the barrier
 * had been handed out (the reference's "feeder reached it"), the barrier line's Start.
 */
export type QueueItem = TaskEntry | { kind: "barrier"; barrier: Barrier; reachedAt?: number };

/** Tasks and barriers in file order, and tasks to run again in id order. */
export class TaskQueue {
  #items: QueueItem[] = [];
  #head = 0;
  #requeue: TaskEntry[] = [];
  /** Re-attached: tasks an engine came back with before the feeder read them (skipped when read). */
  #skipOnRead = new Set<number>();

  /** Append an item read from the task file. */
  push(item: QueueItem): void {
    this.#items.push(item);
  }

  /** The file's next item, still in the queue. */
  head(): QueueItem | undefined {
    return this.#items[this.#head];
  }

  /** Take the file's next item off the queue (after {@linkcode head}). */
  shift(): void {
    this.#head++;
  }

  /** Items of the file not handed out yet (barriers included). */
  get fileItems(): number {
    return this.#items.length - this.#head;
  }

  /** Tasks waiting to run again. */
  get requeuedCount(): number {
    return this.#requeue.length;
  }

  /** Tasks and barriers not handed out yet, tasks to run again included. */
  get pending(): number {
    return this.fileItems + this.#requeue.length;
  }

  /** Nothing left: the file's items are all handed out and nothing waits to run again. */
  get empty(): boolean {
    return this.#head >= this.#items.length && this.#requeue.length === 0;
  }

  /** The task the queue would hand out first (for messages). */
  next(): Task | undefined {
    const item = this.#items[this.#head];
    return this.#requeue[0]?.task ?? (item?.kind === "task" ? item.task : undefined);
  }

  /**
   * Tasks that could start now if there were free slots: those to run again, and those queued
   * before the first barrier (which waits for running tasks: what follows it is not ready).
   */
  ready(): number {
    let n = this.#requeue.length;
    for (let i = this.#head; i < this.#items.length && this.#items[i]!.kind !== "barrier"; i++) n++;
    return n;
  }

  /** A task runs again: into the id-ordered list, `waiting` until `notBefore` when given. */
  requeue(entry: TaskEntry): void {
    let i = this.#requeue.length;
    while (i > 0 && this.#requeue[i - 1]!.id > entry.id) i--;
    this.#requeue.splice(i, 0, entry);
  }

  /** The tasks to run again, in id order (read only: take one with {@linkcode takeRequeued}). */
  requeued(): readonly TaskEntry[] {
    return this.#requeue;
  }

  /** @param id task id @returns the task while it is queued or to run again (a query for views: O(queue)) */
  find(id: number): TaskEntry | undefined {
    for (const t of this.#requeue) if (t.id === id) return t;
    for (let i = this.#head; i < this.#items.length; i++) {
      const it = this.#items[i]!;
      if (it.kind === "task" && it.id === id) return it;
    }
    return undefined;
  }

  /**
   * @param f a test of a task
   * @returns whether a task not handed out yet (queued or to run again) passes it
   */
  someTask(f: (t: Task) => boolean): boolean {
    for (const e of this.#requeue) if (e.task && f(e.task)) return true;
    for (let i = this.#head; i < this.#items.length; i++) {
      const it = this.#items[i]!;
      if (it.kind === "task" && it.task && f(it.task)) return true;
    }
    return false;
  }

  /** Take the `i`th task to run again off the list. */
  takeRequeued(i: number): TaskEntry {
    return this.#requeue.splice(i, 1)[0]!;
  }

  /** Drop the items handed out, once they are many (keeps the queue's memory O(what is left)). */
  compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Re-attached: task `id` is already on an engine: when the feeder reads it, it is skipped. */
  skipOnRead(id: number): void {
    this.#skipOnRead.add(id);
  }

  /** @returns true (once) when the task just read is to be skipped */
  skipRead(id: number): boolean {
    return this.#skipOnRead.delete(id);
  }

  /** The task file ended: nothing more will be read. */
  endOfFile(): void {
    this.#skipOnRead.clear();
  }
}

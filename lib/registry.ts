/**
 * The run's registry: contexts, engines, their slots and the tasks they hold, each task a
 * {@linkcode TaskEntry} with an explicit {@linkcode TaskState} (the queue and a re-attached driver's
 * holds keep the entries not on an engine). The scheduler owns it and changes it only through the
 * operations here (join, leave, assign, finish, hand back, adopt, stop, engines to come); the rest
 * of the scheduler reads it. An engine leaving is one operation ({@linkcode Registry.leave}).
 *
 * Engines with room for a task are indexed for picking one in O(1) (`slot_index.ts`): every
 * change to an engine refreshes its place ({@linkcode Registry.touch}). What it holds (task, engine
 * and context states) is in `registry_types.ts`, re-exported here.
 *
 * @module
 */

import { SlotIndex } from "./slot_index.ts";
import type { Task } from "./types.ts";
import type { ContextState, EngineState, TaskEntry } from "./registry_types.ts";
import { reachedLimit } from "./registry_types.ts";

export * from "./registry_types.ts";

/** Contexts, engines, slots and tasks in flight. */
export class Registry {
  readonly #engines = new Map<number, EngineState>();
  readonly #contexts = new Map<number, ContextState>();
  /** Engines with room for a task, for picking one. */
  readonly slots: SlotIndex<EngineState> = new SlotIndex(this);
  #live = 0;
  #outstanding = 0;
  #anyEnding = false;

  // -- contexts ----------------------------------------------------------------------------------

  /** A context joined. @param c its state (engines empty) */
  addContext(c: ContextState): void {
    this.#contexts.set(c.id, c);
    if (c.stopAt !== undefined) this.#anyEnding = true;
  }

  /** @param id context id @returns its state */
  context(id: number): ContextState | undefined {
    return this.#contexts.get(id);
  }

  /** Every context, in the order they joined. */
  contexts(): IterableIterator<ContextState> {
    return this.#contexts.values();
  }

  /** How many contexts joined. */
  get contextCount(): number {
    return this.#contexts.size;
  }

  /** Some context has an end (an allocation the run asked for): engines are checked against it. */
  get anyEnding(): boolean {
    return this.#anyEnding;
  }

  /** The allocation of the contexts labelled `label` ends at `stopAt` (hand-off margin taken off). */
  setContextStopAt(label: string, stopAt: number): void {
    for (const c of this.#contexts.values()) {
      if (c.label === label) {
        c.stopAt = stopAt;
        this.#anyEnding = true;
      }
    }
  }

  /** One more engine of context `id` is on its way. */
  engineComing(id: number): void {
    const c = this.#contexts.get(id);
    if (c) c.pendingEngines++;
  }

  /** One engine of context `id` will not come. */
  engineNotComing(id: number): void {
    const c = this.#contexts.get(id);
    if (c && c.pendingEngines > 0) c.pendingEngines--;
  }

  /** No engine of context `id` still to come will come. */
  noMoreEngines(id: number): void {
    const c = this.#contexts.get(id);
    if (c) c.pendingEngines = 0;
  }

  /** Some context still has engines on their way. */
  enginesComing(): boolean {
    for (const c of this.#contexts.values()) if (c.pendingEngines > 0) return true;
    return false;
  }

  /** Context `id` is stopped: its engines get no more tasks, none of its engines still to come will come. */
  stopContext(id: number): ContextState | undefined {
    const c = this.#contexts.get(id);
    if (!c) return undefined;
    c.pendingEngines = 0;
    c.stopped = true;
    this.touchContext(id);
    return c;
  }

  /** Its context is stopped or has reached its task limit (`-C`). */
  limited(e: EngineState): boolean {
    const c = this.#contexts.get(e.context);
    return c !== undefined && (c.stopped || reachedLimit(c));
  }

  // -- engines -----------------------------------------------------------------------------------

  /** @param rank engine rank @returns its state, gone ones included */
  engine(rank: number): EngineState | undefined {
    return this.#engines.get(rank);
  }

  /** Every engine the run has seen, gone ones included, in the order they joined. */
  engines(): IterableIterator<EngineState> {
    return this.#engines.values();
  }

  /** Engines not gone. */
  get live(): number {
    return this.#live;
  }

  /** Slots of the active engines. */
  activeSlots(): number {
    let slots = 0;
    for (const e of this.#engines.values()) if (e.state === "active") slots += e.slots;
    return slots;
  }

  /**
   * An engine joined (or came back to a driver that did not know it): it counts against its
   * context's engines to come and is active. The caller refreshes it ({@linkcode touch}).
   */
  join(rank: number, context: number, host: string, slots: number): EngineState {
    const c = this.#contexts.get(context);
    if (c) {
      if (c.pendingEngines > 0) c.pendingEngines--;
      c.engines.add(rank);
    }
    this.#live++;
    const e: EngineState = {
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
      okStreak: 0,
    };
    this.#engines.set(rank, e);
    return e;
  }

  /**
   * An engine left (its connection ended for good): it is gone, and the tasks it held, in the
   * order they were sent, are returned for the caller to run again, record or drop.
   * @returns undefined when it had left already
   */
  leave(rank: number): TaskEntry[] | undefined {
    const e = this.#engines.get(rank);
    if (!e || e.state === "gone") return undefined;
    const lost = [...e.outstanding.values()];
    e.state = "gone";
    this.#live--;
    this.#outstanding -= e.outstanding.size;
    e.outstanding.clear();
    this.touch(e);
    this.#contexts.get(e.context)?.engines.delete(rank);
    return lost;
  }

  /** An engine went silent (`away`) or is heard again. */
  setAway(e: EngineState, away: boolean): void {
    e.away = away;
    this.touch(e);
  }

  /** An active engine is told to stop: it gets no more tasks. @returns false when it was not active */
  stop(e: EngineState): boolean {
    if (e.state !== "active") return false;
    e.state = "stopping";
    this.touch(e);
    return true;
  }

  /** Refresh an engine's place among those with room (call after any change to it). */
  touch(e: EngineState): void {
    this.slots.refresh(e);
  }

  /** Refresh every engine of a context. */
  touchContext(id: number): void {
    const c = this.#contexts.get(id);
    if (!c) return;
    for (const r of c.engines) {
      const e = this.#engines.get(r);
      if (e) this.touch(e);
    }
  }

  // -- tasks -------------------------------------------------------------------------------------

  /** @param id task id @returns the task while an engine has it (a query for views: O(engines)) */
  onEngine(id: number): TaskEntry | undefined {
    for (const e of this.#engines.values()) {
      const t = e.outstanding.get(id);
      if (t) return t;
    }
    return undefined;
  }

  /** A task read from the task file joins the queue. @returns its entry (`queued`) */
  enqueue(task: Task): TaskEntry {
    const entry: TaskEntry = {
      kind: "task",
      id: task.id,
      task,
      state: "queued",
      rank: undefined,
      notBefore: undefined,
      sentAt: undefined,
    };
    return entry;
  }

  /** Tasks sent to engines and not ended yet. */
  get outstanding(): number {
    return this.#outstanding;
  }

  /** Send `entry` to `e` as `task` (the copy with its attempt and time limit) at `now`. */
  assign(e: EngineState, entry: TaskEntry, task: Task, now?: number): void {
    entry.state = "assigned";
    entry.task = task;
    entry.rank = e.rank;
    entry.notBefore = undefined;
    entry.sentAt = now;
    e.outstanding.set(entry.id, entry);
    this.#outstanding++;
    e.assigned++;
    const c = this.#contexts.get(e.context);
    if (c) c.assigned++;
    this.touch(e);
    if (c && reachedLimit(c)) this.touchContext(c.id);
  }

  /** An engine reported a task it has ended: it is `done` and leaves the registry. */
  finish(e: EngineState, entry: TaskEntry): void {
    e.outstanding.delete(entry.id);
    this.#outstanding--;
    entry.state = "done";
  }

  /** An engine handed back `id`, which it had not started: it no longer counts as given to it. */
  release(e: EngineState, id: number): TaskEntry | undefined {
    const entry = this.#take(e, id);
    if (!entry) return undefined;
    e.assigned--;
    const c = this.#contexts.get(e.context);
    if (c) c.assigned--;
    return entry;
  }

  /** An engine back from a lost connection does not hold `id`: it never arrived there. */
  missing(e: EngineState, id: number): TaskEntry | undefined {
    return this.#take(e, id);
  }

  #take(e: EngineState, id: number): TaskEntry | undefined {
    const entry = e.outstanding.get(id);
    if (!entry) return undefined;
    e.outstanding.delete(id);
    this.#outstanding--;
    return entry;
  }

  /** A task to run again goes back into the registry (`requeued`, or `waiting` until `notBefore`). */
  requeued(entry: TaskEntry, notBefore?: number): void {
    entry.state = notBefore === undefined ? "requeued" : "waiting";
    entry.rank = undefined;
    if (notBefore !== undefined) entry.notBefore = notBefore;
  }

  /** A task leaves the registry without a record (the run was aborted while it ran). */
  drop(entry: TaskEntry): void {
    entry.state = "done";
  }

  /** An engine came back holding `task`: it is `assigned` to it (its context's count has it already). */
  adopt(e: EngineState, task: Task): void {
    const entry: TaskEntry = {
      kind: "task",
      id: task.id,
      task,
      state: "assigned",
      rank: e.rank,
      notBefore: undefined,
      sentAt: undefined,
    };
    e.outstanding.set(task.id, entry);
    this.#outstanding++;
    e.assigned++;
  }
}

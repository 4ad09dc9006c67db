/**
 * Which engine gets the next task, in O(1): active engines with a free slot, and those with room
 * only for tasks handed ahead (prefetch), sit in two ordered sets. Each change to an engine
 * refreshes it ({@linkcode SlotIndex.refresh}), which moves it to the end of its set: picking the
 * first one that fits is round robin. Engines that stopped taking tasks are dropped lazily.
 *
 * @module
 */

/** What the index needs to know of an engine. */
export interface SlotHolder {
  readonly host: string;
  readonly slots: number;
  readonly state: "active" | "stopping" | "gone";
  readonly away: boolean;
  /** Its tasks (running, then handed ahead). */
  readonly outstanding: { readonly size: number };
  /** Moving mean of its tasks' durations (seconds), once one has finished. */
  readonly meanElapsed: number | undefined;
  /** Its tasks that succeeded in a row, up to now. */
  readonly okStreak: number;
}

/** What the index asks of the engines' owner. */
export interface SlotSource<E extends SlotHolder> {
  /** Every engine, gone ones included. */
  engines(): Iterable<E>;
  /** Its context is stopped or at its task limit. */
  limited(e: E): boolean;
  /** Engines are still on their way. */
  enginesComing(): boolean;
}

/** Seconds of work per slot that an engine of very short tasks is handed ahead. */
export const PREFETCH_COVER_S = 0.25;
/** Tasks per slot handed ahead at most. */
export const PREFETCH_MAX = 32;

/** Engines with room for a task, in round-robin order. */
export class SlotIndex<E extends SlotHolder> {
  readonly #src: SlotSource<E>;
  readonly #freeSlot = new Set<E>();
  readonly #prefetchRoom = new Set<E>();

  /** @param src the engines' owner */
  constructor(src: SlotSource<E>) {
    this.#src = src;
  }

  /** Put an engine in the right set (call after any change to it). */
  refresh(e: E): void {
    this.#freeSlot.delete(e);
    this.#prefetchRoom.delete(e);
    if (!this.#takes(e)) return;
    // Prefetch only once the engine's tasks are known to be short: it hides the round trip for tiny
    // tasks and never holds long tasks back from idle engines. One task per slot; when tasks are
    // shorter still, as many as cover PREFETCH_COVER_S of work (at most PREFETCH_MAX per slot), so
    // that the engine reports and is refilled in batches rather than task by task — but only while
    // its last tasks succeeded: a node that fails everything at once is not handed a pile of tasks.
    const perSlot = e.okStreak >= 2 * e.slots && e.meanElapsed !== undefined
      ? Math.min(PREFETCH_MAX, Math.max(1, Math.floor(PREFETCH_COVER_S / e.meanElapsed)))
      : 1;
    const prefetch = e.meanElapsed === undefined || e.meanElapsed >= 1 ? 0 : e.slots * perSlot;
    const n = e.outstanding.size;
    if (n < e.slots) this.#freeSlot.add(e);
    else if (n < e.slots + prefetch) this.#prefetchRoom.add(e);
  }

  /** Some engine has a free slot or room for a task handed ahead. */
  get anyRoom(): boolean {
    return this.#freeSlot.size > 0 || this.#prefetchRoom.size > 0;
  }

  /** Engines with a free slot, least recently refreshed first (some may have stopped taking tasks). */
  withFreeSlot(): E[] {
    return [...this.#freeSlot];
  }

  /**
   * An engine with a free slot first (round robin), else one with prefetch room; with `avoid`
   * (hosts where the task failed), one elsewhere, or none while an engine elsewhere could take it later.
   * @param suspect hosts that get a task only when no host in good standing can take it
   * @param avoid hosts to avoid @param fits only engines the task fits on (it can finish before
   *   their allocation ends)
   */
  pick(
    suspect: (host: string) => boolean,
    avoid?: ReadonlySet<string>,
    fits?: (e: E) => boolean,
  ): E | undefined {
    for (const set of [this.#freeSlot, this.#prefetchRoom]) {
      for (const e of set) {
        if (!this.#takes(e)) {
          set.delete(e);
          continue;
        }
        if (avoid?.has(e.host) || (fits && !fits(e))) continue;
        if (suspect(e.host) && this.#healthyElsewhere(e.host, suspect)) continue;
        return e;
      }
    }
    if (!avoid || avoid.size === 0) return undefined;
    // Engines still starting may be on other hosts: wait for them rather than retry where it failed.
    if (this.#src.enginesComing()) return undefined;
    // Wait for an engine elsewhere only if it could take the task (not suspect, the task fits).
    for (const e of this.#src.engines()) {
      if (
        e.state === "active" && !avoid.has(e.host) && !this.#src.limited(e) && !suspect(e.host) &&
        (!fits || fits(e))
      ) return undefined;
    }
    return this.pick(suspect, undefined, fits);
  }

  /** Active, heard from, and its context gives it tasks. */
  #takes(e: E): boolean {
    return e.state === "active" && !e.away && !this.#src.limited(e);
  }

  #healthyElsewhere(host: string, suspect: (host: string) => boolean): boolean {
    for (const e of this.#src.engines()) {
      if (e.state === "active" && e.host !== host && !this.#src.limited(e) && !suspect(e.host)) return true;
    }
    return false;
  }
}

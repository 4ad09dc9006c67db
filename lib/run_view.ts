/**
 * What the run's views read: a read-only window on the {@linkcode Registry} the scheduler owns.
 * The adapters (`--stop` answers, the dashboard, node retirement, the driver's own context) ask
 * here which engines and contexts there are and what engines hold, instead of keeping copies of
 * their own; every answer is a fresh plain object, so nothing a view does can change the run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newContext, Registry } from "./registry.ts";
 * import { RunView } from "./run_view.ts";
 *
 * const reg = new Registry();
 * reg.addContext(newContext(0, "n", 0, 1, { retires: false }));
 * reg.join(3, 0, "n1", 2);
 * const view = new RunView(reg);
 * assert.deepEqual(view.liveEngines().map((e) => [e.rank, e.host]), [[3, "n1"]]);
 * assert.equal(view.engineOn(0, "n1"), true);
 * ```
 *
 * @module
 */

import type { EngineStatus, Registry } from "./registry.ts";

/** An engine as views see it. */
export interface EngineView {
  rank: number;
  context: number;
  host: string;
  slots: number;
  state: EngineStatus;
  /** Silent: it keeps its tasks and gets no new ones. */
  away: boolean;
}

/** A context as views see it. */
export interface ContextView {
  id: number;
  label: string;
  /** Its nodes are given back when idle. */
  retires: boolean;
  /** The node it never gives back. */
  keepHost: string | undefined;
}

/** The tasks one live engine holds, in the order they were sent. */
export interface EngineTasks {
  rank: number;
  host: string;
  /** Tasks sent by this driver (`sentAt`: Unix seconds); tasks an engine brought back are left out. */
  tasks: { id: number; sentAt: number }[];
}

/** Read-only queries over the run's registry. */
export class RunView {
  readonly #reg: Registry;

  /** @param reg the registry the scheduler owns */
  constructor(reg: Registry) {
    this.#reg = reg;
  }

  /** @param rank engine rank @returns the engine, gone ones included */
  engine(rank: number): EngineView | undefined {
    const e = this.#reg.engine(rank);
    return e && { rank, context: e.context, host: e.host, slots: e.slots, state: e.state, away: e.away };
  }

  /** @returns the engines that have not left, in the order they joined */
  liveEngines(): EngineView[] {
    const out: EngineView[] = [];
    for (const e of this.#reg.engines()) if (e.state !== "gone") out.push(this.engine(e.rank)!);
    return out;
  }

  /** @param context context id @param host a node @returns whether an engine of it on that node has not left */
  engineOn(context: number, host: string): boolean {
    for (const e of this.#reg.engines()) {
      if (e.state !== "gone" && e.context === context && e.host === host) return true;
    }
    return false;
  }

  /**
   * @param context context id
   * @returns every node an engine of the context joined from, in the order first joined, and
   *   whether an engine of it is there now
   */
  hostsOf(context: number): Map<string, boolean> {
    const out = new Map<string, boolean>();
    for (const e of this.#reg.engines()) {
      if (e.context !== context) continue;
      out.set(e.host, out.get(e.host) === true || e.state !== "gone");
    }
    return out;
  }

  /** @param id context id @returns the context */
  context(id: number): ContextView | undefined {
    const c = this.#reg.context(id);
    return c && { id, label: c.label, retires: c.retires, keepHost: c.keepHost };
  }

  /** @returns every context, in the order they joined */
  contexts(): ContextView[] {
    return [...this.#reg.contexts()].map((c) => this.context(c.id)!);
  }

  /** @returns per live engine, the tasks it holds that this driver sent it */
  inFlight(): EngineTasks[] {
    const out: EngineTasks[] = [];
    for (const e of this.#reg.engines()) {
      if (e.state === "gone") continue;
      const tasks: EngineTasks["tasks"] = [];
      for (const t of e.outstanding.values()) {
        if (t.sentAt !== undefined) tasks.push({ id: t.id, sentAt: t.sentAt });
      }
      out.push({ rank: e.rank, host: e.host, tasks });
    }
    return out;
  }
}

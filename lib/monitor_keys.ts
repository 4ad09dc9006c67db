/**
 * The monitor's keyboard, as pure functions: {@linkcode decodeKeys} turns raw terminal input into
 * key names, {@linkcode monitorEngines} lists the engine rows the selection moves over,
 * {@linkcode followSelection} keeps the selection on its engine as snapshots come, and
 * {@linkcode monitorKey} decides what a key does (move, ask, stop, quit). Re-exported from
 * {@linkcode ./monitor_view.ts}.
 *
 * @module
 */

import type { RunState, WireEngine } from "./protocol.ts";
import type { StopTarget } from "./control.ts";

/**
 * The engines the monitor lists, in rank order (engines that have left are not shown, as in
 * disBatch's dbMon).
 * @param state the snapshot
 * @returns the rows' engines; the monitor's selection indexes this list
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { monitorEngines } from "./monitor_keys.ts";
 *
 * const e = (rank: number, state: string) => ({ rank, context: 0, host: "h", slots: 1, state,
 *   running: 0, assigned: 0, finished: 0, failed: 0 });
 * const rows = monitorEngines({ engines: [e(2, "active"), e(0, "gone"), e(1, "stopping")] });
 * assert.deepEqual(rows.map((r) => r.rank), [1, 2]);
 * ```
 */
export function monitorEngines(state: Pick<RunState, "engines">): WireEngine[] {
  return state.engines.filter((e) => e.state !== "gone").sort((a, b) => a.rank - b.rank);
}

/** A key the monitor understands: a named key or the typed character. */
export type MonitorKeyName = "up" | "down" | "escape" | "enter" | "interrupt" | string;

/**
 * Split raw terminal input into keys: arrow keys (`ESC [ A`, `ESC O A`…), Escape, Enter, Ctrl-C,
 * and single characters; other escape sequences are dropped.
 * @param input text read from the terminal in raw mode
 * @returns key names in order
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeKeys } from "./monitor_keys.ts";
 *
 * assert.deepEqual(decodeKeys("\x1b[Bj\x1b[1;5Aq\x03"), ["down", "j", "up", "q", "interrupt"]);
 * ```
 */
export function decodeKeys(input: string): MonitorKeyName[] {
  const keys: MonitorKeyName[] = [];
  for (let i = 0; i < input.length;) {
    const ch = input[i]!;
    if (ch === "\x1b") {
      // deno-lint-ignore no-control-regex
      const m = /^\x1b(?:\[[0-9;]*[A-Za-z~]|O[A-Za-z])/.exec(input.slice(i));
      if (!m) {
        keys.push("escape");
        i++;
        continue;
      }
      const final = m[0].at(-1);
      if (final === "A") keys.push("up");
      else if (final === "B") keys.push("down");
      i += m[0].length;
      continue;
    }
    if (ch === "\x03") keys.push("interrupt");
    else if (ch === "\r" || ch === "\n") keys.push("enter");
    else keys.push(ch);
    i++;
  }
  return keys;
}

/** A yes/no question on screen, and what `y` stops. */
export interface MonitorDialog {
  target: StopTarget;
  text: string;
}

/** The monitor's own state between frames. */
export interface MonitorUi {
  /** Index into {@linkcode monitorEngines}. */
  selected: number;
  /** Rank of the selected engine (kept across snapshots in which rows come and go). */
  rank?: number;
  dialog?: MonitorDialog;
  help: boolean;
  /** Set once the driver is gone. */
  ended?: string;
  notice?: string;
}

/** What a key leads to. */
export interface MonitorStep {
  ui: MonitorUi;
  /** Ask the driver to stop this. */
  send?: StopTarget;
  /** Leave the monitor. */
  quit?: boolean;
}

/**
 * Keep the selection on the same engine when a new snapshot adds or removes rows (or on the row
 * that took its place when it left).
 * @param ui the monitor state
 * @param state the new snapshot
 * @returns the updated monitor state
 */
export function followSelection(ui: MonitorUi, state: RunState | undefined): MonitorUi {
  if (!state) return ui;
  const engines = monitorEngines(state);
  let selected = ui.rank === undefined ? -1 : engines.findIndex((e) => e.rank === ui.rank);
  if (selected < 0) selected = Math.min(Math.max(0, ui.selected), Math.max(0, engines.length - 1));
  return { ...ui, selected, rank: engines[selected]?.rank };
}

/**
 * What one key does (dbMon's keys: `u`/Up and `d`/Down move, `E` stops the engine, `C` its
 * context, each after a yes/no question; `h`/`?` help; `q` quits).
 * @param ui the monitor state
 * @param key from {@linkcode decodeKeys}
 * @param state the last snapshot (undefined before the first)
 * @returns the next monitor state, and a request to send or a request to quit
 * @example Stop engine 3 after confirming
 * ```ts
 * import assert from "node:assert/strict";
 * import { monitorKey } from "./monitor_keys.ts";
 *
 * const state = { uid: "r", startedAt: 0, finished: 0, failed: 0, barriers: 0, skipped: 0,
 *   retried: 0, timedOut: 0, running: 0, queued: 0, slots: 1, phase: "running" as const,
 *   tasksEnded: false, quarantined: [], contexts: [], engines: [{ rank: 3, context: 1, host: "h", slots: 1, state: "active",
 *   running: 0, assigned: 0, finished: 0, failed: 0 }] };
 * const asked = monitorKey({ selected: 0, rank: 3, help: false }, "E", state);
 * assert.equal(asked.ui.dialog?.text, "Stop engine 3 softly? y/n");
 * assert.deepEqual(monitorKey(asked.ui, "y", state).send, { kind: "engine", rank: 3 });
 * ```
 */
export function monitorKey(ui: MonitorUi, key: MonitorKeyName, state: RunState | undefined): MonitorStep {
  if (key === "interrupt") return { ui, quit: true };
  if (ui.dialog) {
    const d = ui.dialog;
    const next: MonitorUi = { ...ui, dialog: undefined };
    if ((key === "y" || key === "Y") && !ui.ended) {
      return { ui: { ...next, notice: "Request sent..." }, send: d.target };
    }
    return { ui: { ...next, notice: "Cancelled" } };
  }
  // The help box says any key closes it: q too (a second q quits).
  if (ui.help) return { ui: { ...ui, help: false } };
  if (key === "q" || key === "Q") return { ui, quit: true };
  if (key === "h" || key === "?") return { ui: { ...ui, help: true } };
  const engines = state ? monitorEngines(state) : [];
  const move = (by: number): MonitorStep => {
    const selected = Math.min(Math.max(0, ui.selected + by), Math.max(0, engines.length - 1));
    return { ui: { ...ui, selected, rank: engines[selected]?.rank } };
  };
  if (key === "up" || key === "k" || key === "u") return move(-1);
  if (key === "down" || key === "j" || key === "d") return move(1);
  if (key === "E" || key === "C") {
    if (ui.ended) return { ui: { ...ui, notice: undefined } };
    const e = engines[Math.min(ui.selected, engines.length - 1)];
    if (!e || !state) return { ui: { ...ui, notice: "No engine to stop" } };
    if (key === "E") {
      if (e.state !== "active") return { ui: { ...ui, notice: `Engine ${e.rank} is already ${e.state}` } };
      return {
        ui: {
          ...ui,
          dialog: { target: { kind: "engine", rank: e.rank }, text: `Stop engine ${e.rank} softly? y/n` },
        },
      };
    }
    const c = state.contexts.find((x) => x.id === e.context);
    const n = engines.filter((x) => x.context === e.context).length;
    const label = c ? `${c.label} (c${e.context})` : `c${e.context}`;
    return {
      ui: {
        ...ui,
        dialog: {
          target: { kind: "context", id: e.context },
          text: `Stop context ${label} and its ${n} engine${n === 1 ? "" : "s"} softly? y/n`,
        },
      },
    };
  }
  return { ui };
}

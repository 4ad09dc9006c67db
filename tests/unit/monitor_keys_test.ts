import assert from "node:assert/strict";
import * as monitorView from "../../lib/monitor_view.ts";
import {
  decodeKeys,
  followSelection,
  monitorEngines,
  monitorKey,
  type MonitorUi,
} from "../../lib/monitor_keys.ts";
import type { RunState, WireEngine } from "../../lib/protocol.ts";
import type { StopTarget } from "../../lib/control.ts";

/** What a key should lead to: these fields of the next state, a request to send, a quit. */
interface Want {
  ui?: Partial<MonitorUi>;
  send?: StopTarget;
  quit?: boolean;
}

function engine(rank: number, context: number, state = "active"): WireEngine {
  return {
    rank,
    context,
    host: `h${rank}`,
    slots: 1,
    state,
    running: 0,
    assigned: 0,
    finished: 0,
    failed: 0,
  };
}

function run(engines: WireEngine[]): RunState {
  return {
    uid: "/r/Tasks_disBatch_1",
    startedAt: 0,
    finished: 0,
    failed: 0,
    barriers: 0,
    skipped: 0,
    retried: 0,
    timedOut: 0,
    running: 0,
    queued: 0,
    slots: engines.length,
    phase: "running",
    tasksEnded: true,
    quarantined: [],
    contexts: [{ id: 0, label: "SSH0", taskLimit: 0, assigned: 0, engines: 2 }, {
      id: 1,
      label: "SLURM1",
      taskLimit: 0,
      assigned: 0,
      engines: 1,
    }],
    engines,
  };
}

const three = run([engine(2, 1), engine(0, 0), engine(1, 0, "stopping"), engine(3, 0, "gone")]);

Deno.test("monitor_keys: lib/monitor_view.ts re-exports the keyboard", () => {
  assert.equal(monitorView.decodeKeys, decodeKeys);
  assert.equal(monitorView.monitorKey, monitorKey);
  assert.equal(monitorView.followSelection, followSelection);
  assert.equal(monitorView.monitorEngines, monitorEngines);
});

Deno.test("monitorEngines() lists the engines still there, by rank", () => {
  const cases: [WireEngine[], number[]][] = [
    [[], []],
    [[engine(0, 0, "gone")], []],
    [three.engines, [0, 1, 2]],
    [[engine(5, 0, "silent"), engine(4, 0)], [4, 5]],
  ];
  for (const [engines, ranks] of cases) {
    assert.deepEqual(monitorEngines({ engines }).map((e) => e.rank), ranks, JSON.stringify(ranks));
  }
});

Deno.test("decodeKeys() turns raw input into key names", () => {
  const cases: [string, string[]][] = [
    ["", []],
    ["\x1b[A\x1bOB", ["up", "down"]],
    ["\x1b[C\x1b[D", []],
    ["\x1b[1;5B", ["down"]],
    ["\x1b[3~y", ["y"]],
    ["\x1b\x1b[A", ["escape", "up"]],
    ["\r\x03q", ["enter", "interrupt", "q"]],
    ["é", ["é"]],
  ];
  for (const [input, want] of cases) assert.deepEqual(decodeKeys(input), want, JSON.stringify(input));
});

Deno.test("followSelection() keeps the selected engine, else the row in its place", () => {
  const cases: [MonitorUi, RunState | undefined, [number, number | undefined]][] = [
    [{ selected: 0, rank: 2, help: false }, three, [2, 2]],
    [{ selected: 1, rank: 3, help: false }, three, [1, 1]],
    [{ selected: 9, help: false }, three, [2, 2]],
    [{ selected: -4, help: false }, three, [0, 0]],
    [{ selected: 0, rank: 0, help: false }, run([]), [0, undefined]],
    [{ selected: 1, rank: 7, help: false }, undefined, [1, 7]],
  ];
  for (const [ui, state, [selected, rank]] of cases) {
    const got = followSelection(ui, state);
    assert.deepEqual([got.selected, got.rank], [selected, rank], JSON.stringify(ui));
  }
});

Deno.test("monitorKey() maps each key to a move, a question, a request or a quit", () => {
  const at = (selected: number, more: Partial<MonitorUi> = {}): MonitorUi => ({
    selected,
    rank: selected,
    help: false,
    ...more,
  });
  const dialog = { target: { kind: "engine" as const, rank: 2 }, text: "Stop engine 2 softly? y/n" };
  const cases: [
    string,
    MonitorUi,
    string,
    RunState | undefined,
    Want,
  ][] = [
    ["down moves", at(0), "down", three, { ui: { selected: 1, rank: 1 } }],
    ["j moves", at(1), "j", three, { ui: { selected: 2, rank: 2 } }],
    ["down stops at the end", at(2), "d", three, { ui: { selected: 2, rank: 2 } }],
    ["up stops at the top", at(0), "u", three, { ui: { selected: 0, rank: 0 } }],
    ["k moves up", at(2), "k", three, { ui: { selected: 1, rank: 1 } }],
    ["moving without a snapshot", at(0), "down", undefined, { ui: { selected: 0, rank: undefined } }],
    ["q quits", at(0), "q", three, { quit: true }],
    ["Q quits", at(0), "Q", three, { quit: true }],
    ["Ctrl-C quits in a dialog", at(2, { dialog }), "interrupt", three, { quit: true }],
    ["? opens help", at(0), "?", three, { ui: { help: true } }],
    ["any key closes help", at(0, { help: true }), "down", three, { ui: { help: false, selected: 0 } }],
    ["q closes help too (it says any key)", at(0, { help: true }), "q", three, { ui: { help: false } }],
    ["E asks", at(2), "E", three, { ui: { dialog } }],
    ["y sends", at(2, { dialog }), "y", three, {
      send: { kind: "engine", rank: 2 },
      ui: { dialog: undefined, notice: "Request sent..." },
    }],
    ["n cancels", at(2, { dialog }), "n", three, { ui: { dialog: undefined, notice: "Cancelled" } }],
    ["y once the run is over cancels", at(2, { dialog, ended: "over" }), "y", three, {
      ui: { dialog: undefined, notice: "Cancelled" },
    }],
    ["E on a stopping engine", at(1), "E", three, { ui: { notice: "Engine 1 is already stopping" } }],
    ["E with no engine", at(0), "E", run([]), { ui: { notice: "No engine to stop" } }],
    ["E once the run is over", at(0, { ended: "over", notice: "x" }), "E", three, {
      ui: { notice: undefined },
    }],
    ["C asks about the context", at(0), "C", three, {
      ui: {
        dialog: {
          target: { kind: "context", id: 0 },
          text: "Stop context SSH0 (c0) and its 2 engines softly? y/n",
        },
      },
    }],
    ["C on a context of one engine", at(2), "C", three, {
      ui: {
        dialog: {
          target: { kind: "context", id: 1 },
          text: "Stop context SLURM1 (c1) and its 1 engine softly? y/n",
        },
      },
    }],
    ["C on an unknown context", at(0), "C", run([engine(0, 7)]), {
      ui: {
        dialog: { target: { kind: "context", id: 7 }, text: "Stop context c7 and its 1 engine softly? y/n" },
      },
    }],
    ["other keys do nothing", at(1), "x", three, { ui: at(1) }],
  ];
  for (const [name, ui, key, state, want] of cases) {
    const got = monitorKey(ui, key, state);
    assert.equal(got.quit, want.quit, name);
    assert.deepEqual(got.send, want.send, name);
    if (want.ui) {
      for (const [k, v] of Object.entries(want.ui)) {
        assert.deepEqual(got.ui[k as keyof MonitorUi], v, `${name}: ${k}`);
      }
    }
  }
});

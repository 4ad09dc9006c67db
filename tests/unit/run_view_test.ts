import assert from "node:assert/strict";
import { newContext, Registry } from "../../lib/registry.ts";
import { RunView } from "../../lib/run_view.ts";
import type { Task } from "../../lib/types.ts";

function task(id: number): Task {
  return { id, line: id + 1, repeatIndex: -1, command: `echo ${id}` };
}

/** Context 0 ("a", retires, keeps n0) and 1 ("b"); engines 0 (a, n0), 1 (a, n1), 2 (b, n1). */
function run(): { reg: Registry; view: RunView } {
  const reg = new Registry();
  reg.addContext(newContext(0, "a", 0, 2, { retires: true, keepHost: "n0" }));
  reg.addContext(newContext(1, "b", 0, 1, { retires: false }));
  for (const [rank, ctx, host] of [[0, 0, "n0"], [1, 0, "n1"], [2, 1, "n1"]] as const) {
    reg.touch(reg.join(rank, ctx, host, 2));
  }
  return { reg, view: new RunView(reg) };
}

Deno.test("RunView: engines, contexts and where engines are, after each change", () => {
  const cases: {
    name: string;
    change: (reg: Registry) => void;
    live: number[];
    on: [number, string, boolean][];
    engine1: string | undefined;
  }[] = [
    {
      name: "as joined",
      change: () => {},
      live: [0, 1, 2],
      on: [[0, "n0", true], [0, "n1", true], [1, "n1", true], [1, "n0", false]],
      engine1: "active",
    },
    {
      name: "engine 1 stopped",
      change: (reg) => reg.stop(reg.engine(1)!),
      live: [0, 1, 2],
      on: [[0, "n1", true]],
      engine1: "stopping",
    },
    {
      name: "engine 1 left",
      change: (reg) => reg.leave(1),
      live: [0, 2],
      on: [[0, "n1", false], [1, "n1", true]],
      engine1: "gone",
    },
    {
      name: "engine 1 away (still there)",
      change: (reg) => reg.setAway(reg.engine(1)!, true),
      live: [0, 1, 2],
      on: [[0, "n1", true]],
      engine1: "active",
    },
  ];
  for (const c of cases) {
    const { reg, view } = run();
    c.change(reg);
    assert.deepEqual(view.liveEngines().map((e) => e.rank), c.live, c.name);
    for (const [ctx, host, want] of c.on) {
      assert.equal(view.engineOn(ctx, host), want, `${c.name}: ${ctx} ${host}`);
    }
    assert.equal(view.engine(1)?.state, c.engine1, c.name);
    assert.equal(view.engine(9), undefined, c.name);
  }
});

Deno.test("RunView: contexts as they joined", () => {
  const { view } = run();
  assert.deepEqual(view.contexts(), [
    { id: 0, label: "a", retires: true, keepHost: "n0" },
    { id: 1, label: "b", retires: false, keepHost: undefined },
  ]);
  assert.equal(view.context(2), undefined);
  assert.deepEqual(view.engine(2), {
    rank: 2,
    context: 1,
    host: "n1",
    slots: 2,
    state: "active",
    away: false,
  });
});

Deno.test("RunView.inFlight(): tasks sent, in order, with when; none of engines gone or brought back", () => {
  const cases: {
    name: string;
    change: (reg: Registry) => void;
    want: [number, [number, number][]][];
  }[] = [
    { name: "nothing sent", change: () => {}, want: [[0, []], [1, []], [2, []]] },
    {
      name: "three sent",
      change: (reg) => {
        for (const [rank, id, at] of [[0, 5, 100], [0, 3, 101], [2, 4, 102]]) {
          reg.assign(reg.engine(rank!)!, reg.enqueue(task(id!)), task(id!), at);
        }
      },
      want: [[0, [[5, 100], [3, 101]]], [1, []], [2, [[4, 102]]]],
    },
    {
      name: "one finished, engine 2 left",
      change: (reg) => {
        const e = reg.engine(0)!;
        reg.assign(e, reg.enqueue(task(5)), task(5), 100);
        reg.assign(e, reg.enqueue(task(3)), task(3), 101);
        reg.finish(e, e.outstanding.get(5)!);
        reg.assign(reg.engine(2)!, reg.enqueue(task(4)), task(4), 102);
        reg.leave(2);
      },
      want: [[0, [[3, 101]]], [1, []]],
    },
    {
      name: "brought back by an engine (no send time)",
      change: (reg) => reg.adopt(reg.engine(1)!, task(8)),
      want: [[0, []], [1, []], [2, []]],
    },
  ];
  for (const c of cases) {
    const { reg, view } = run();
    c.change(reg);
    assert.deepEqual(
      view.inFlight().map((e) => [e.rank, e.tasks.map((t) => [t.id, t.sentAt])]),
      c.want,
      c.name,
    );
  }
});

Deno.test("RunView.hostsOf(): a context's nodes in the order joined, and whether an engine is there", () => {
  const cases: { name: string; change: (reg: Registry) => void; a: [string, boolean][] }[] = [
    { name: "as joined", change: () => {}, a: [["n0", true], ["n1", true]] },
    { name: "n1's engine left", change: (reg) => reg.leave(1), a: [["n0", true], ["n1", false]] },
    {
      name: "n1's engine left and another came",
      change: (reg) => {
        reg.leave(1);
        reg.join(5, 0, "n1", 2);
      },
      a: [["n0", true], ["n1", true]],
    },
    {
      name: "a new node",
      change: (reg) => reg.join(6, 0, "n7", 1),
      a: [["n0", true], ["n1", true], ["n7", true]],
    },
  ];
  for (const c of cases) {
    const { reg, view } = run();
    c.change(reg);
    assert.deepEqual([...view.hostsOf(0)], c.a, c.name);
    assert.deepEqual([...view.hostsOf(1)], [["n1", true]], c.name);
  }
});

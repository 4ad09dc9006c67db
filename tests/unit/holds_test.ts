import assert from "node:assert/strict";
import { Holds } from "../../lib/holds.ts";
import { Registry } from "../../lib/registry.ts";
import type { Task } from "../../lib/types.ts";

function task(id: number): Task {
  return { id, line: id + 1, repeatIndex: -1, command: `echo ${id}` };
}

function setup(): { reg: Registry; h: Holds } {
  const reg = new Registry();
  reg.addContext({
    id: 0,
    label: "C",
    taskLimit: 0,
    assigned: 0,
    pendingEngines: 0,
    engines: new Set(),
    retires: false,
    keepHost: undefined,
    added: false,
    stopped: false,
  });
  const h = new Holds(reg);
  h.hold(new Map([[4, 9], [6, 0], [2, 9]]), 500, new Map([[9, 0]]));
  reg.engineComing(0);
  return { reg, h };
}

Deno.test("Holds: held tasks are registry entries, in the order held, counted once read", () => {
  const { h } = setup();
  assert.deepEqual(h.list().map((e) => [e.id, e.rank, e.state]), [[4, 9, "held"], [6, 0, "held"], [
    2,
    9,
    "held",
  ]]);
  assert.deepEqual([h.count, h.read, h.until, h.pending], [3, 0, 500, true]);
  const steps: { name: string; run: () => void; count: number; read: number }[] = [
    { name: "read", run: () => h.readTask(h.get(4)!, task(4)), count: 3, read: 1 },
    { name: "read again", run: () => h.readTask(h.get(4)!, task(4)), count: 3, read: 1 },
    { name: "released, read", run: () => h.release(h.get(4)!), count: 2, read: 0 },
    { name: "released, never read", run: () => h.release(h.get(2)!), count: 1, read: 0 },
  ];
  for (const s of steps) {
    s.run();
    assert.deepEqual([h.count, h.read], [s.count, s.read], s.name);
  }
  assert.equal(h.get(4), undefined, "a released task is no longer held");
});

Deno.test("Holds: the last driver's engines count as coming until they are back or given up", () => {
  const cases: { name: string; run: (h: Holds) => void; coming: boolean; pending: boolean }[] = [
    { name: "waiting", run: () => {}, coming: true, pending: true },
    { name: "given up", run: (h) => h.giveUpEngines(), coming: false, pending: true },
    {
      name: "back, nothing held: nothing pending",
      run: (h) => (h.arrived(9), h.list().forEach((e) => h.release(e))),
      coming: true,
      pending: false,
    },
  ];
  for (const c of cases) {
    const { reg, h } = setup();
    c.run(h);
    assert.equal(reg.enginesComing(), c.coming, c.name);
    assert.equal(h.pending, c.pending, c.name);
  }
});

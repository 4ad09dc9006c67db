import assert from "node:assert/strict";
import { type ContextState, newContext, reachedLimit } from "../../lib/registry_types.ts";

Deno.test("newContext(): a context's state as it joins", () => {
  const cases: {
    name: string;
    args: Parameters<typeof newContext>;
    want: Partial<ContextState>;
    stopAt: boolean;
  }[] = [
    {
      name: "plain",
      args: [0, "SSH0", 0, 2, { retires: false }],
      want: {
        id: 0,
        label: "SSH0",
        taskLimit: 0,
        assigned: 0,
        pendingEngines: 2,
        retires: false,
        added: false,
        stopped: false,
      },
      stopAt: false,
    },
    {
      name: "retiring, keeps the driver's node, ends",
      args: [3, "J7", 5, 3, { retires: true, keepHost: "n1", stopAt: 1000 }],
      want: {
        id: 3,
        label: "J7",
        taskLimit: 5,
        pendingEngines: 3,
        retires: true,
        keepHost: "n1",
        stopAt: 1000,
      },
      stopAt: true,
    },
    {
      name: "added with dbUtil.sh: its own batch node is kept last, not for good",
      args: [4, "J9", 0, 2, { retires: true, keepHost: "n4", added: true }],
      want: { retires: true, keepHost: "n4", added: true },
      stopAt: false,
    },
    {
      name: "re-attached: tasks given before the restart count",
      args: [1, "A1", 10, 0, { retires: false, assigned: 4 }],
      want: { assigned: 4, pendingEngines: 0, keepHost: undefined },
      stopAt: false,
    },
  ];
  for (const c of cases) {
    const got = newContext(...c.args);
    for (const [k, v] of Object.entries(c.want)) {
      assert.deepEqual(got[k as keyof ContextState], v, `${c.name}: ${k}`);
    }
    assert.equal("stopAt" in got, c.stopAt, c.name);
    assert.equal(got.engines.size, 0, c.name);
  }
});

Deno.test("reachedLimit(): a context's engines have had as many tasks as -C allows", () => {
  const cases: [taskLimit: number, assigned: number, want: boolean][] = [
    [0, 0, false],
    [0, 1000, false],
    [3, 2, false],
    [3, 3, true],
    [3, 4, true],
  ];
  for (const [taskLimit, assigned, want] of cases) {
    const c = newContext(0, "x", taskLimit, 1, { retires: false });
    c.assigned = assigned;
    assert.equal(reachedLimit(c), want, `-C ${taskLimit}, ${assigned} given`);
  }
});

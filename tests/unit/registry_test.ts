import assert from "node:assert/strict";
import {
  type ContextState,
  reachedLimit,
  Registry,
  type TaskEntry,
  type TaskState,
} from "../../lib/registry.ts";
import type { Task } from "../../lib/types.ts";

function task(id: number): Task {
  return { id, line: id + 1, repeatIndex: -1, command: `echo ${id}` };
}

function context(id: number, o: Partial<ContextState> = {}): ContextState {
  return {
    id,
    label: `SSH${id}`,
    taskLimit: 0,
    assigned: 0,
    pendingEngines: 1,
    engines: new Set(),
    retires: false,
    keepHost: undefined,
    added: false,
    stopped: false,
    ...o,
  };
}

/** A registry with context 0 and engines of the given slots (ranks 0, 1, ...; hosts n0, n1, ...). */
function registry(slots: number[], ctx: Partial<ContextState> = {}): Registry {
  const reg = new Registry();
  reg.addContext(context(0, { pendingEngines: slots.length, ...ctx }));
  slots.forEach((s, rank) => reg.touch(reg.join(rank, 0, `n${rank}`, s)));
  return reg;
}

const noSuspect = () => false;

Deno.test("Registry: a task's state follows each operation", () => {
  type Step = {
    name: string;
    run: (reg: Registry, t: TaskEntry) => void;
    state: TaskState;
    rank: number | undefined;
    outstanding: number;
  };
  const steps: Step[] = [
    {
      name: "assigned",
      run: (r, t) => r.assign(r.engine(0)!, t, { ...task(7), timeout: 5 }),
      state: "assigned",
      rank: 0,
      outstanding: 1,
    },
    {
      name: "handed back",
      run: (r) => r.requeued(r.release(r.engine(0)!, 7)!),
      state: "requeued",
      rank: undefined,
      outstanding: 0,
    },
    {
      name: "assigned again",
      run: (r, t) => r.assign(r.engine(0)!, t, task(7)),
      state: "assigned",
      rank: 0,
      outstanding: 1,
    },
    {
      name: "lost: waits before it runs again",
      run: (r) => r.requeued(r.leave(0)![0]!, 100),
      state: "waiting",
      rank: undefined,
      outstanding: 0,
    },
    {
      name: "assigned on another engine",
      run: (r, t) => r.assign(r.engine(1)!, t, task(7)),
      state: "assigned",
      rank: 1,
      outstanding: 1,
    },
    { name: "finished", run: (r, t) => r.finish(r.engine(1)!, t), state: "done", rank: 1, outstanding: 0 },
  ];
  const reg = registry([1, 1]);
  const t = reg.enqueue(task(7));
  assert.equal(t.state, "queued");
  for (const s of steps) {
    s.run(reg, t);
    assert.deepEqual([t.state, t.rank, reg.outstanding], [s.state, s.rank, s.outstanding], s.name);
    assert.equal(reg.onEngine(7), s.state === "assigned" ? t : undefined, s.name);
  }
  assert.equal(reg.engine(1)!.assigned, 1);
  assert.equal(reg.engine(0)!.assigned, 1, "the hand-back took one off");
  assert.equal(reg.context(0)!.assigned, 2);
});

Deno.test("Registry.assign() keeps the sent copy and clears the wait", () => {
  const reg = registry([2]);
  const entry = reg.enqueue(task(1));
  reg.requeued(entry, 50);
  assert.equal(entry.notBefore, 50);
  reg.assign(reg.engine(0)!, entry, { ...task(1), attempt: 2 });
  assert.deepEqual(
    { state: entry.state, rank: entry.rank, attempt: entry.task?.attempt, notBefore: entry.notBefore },
    { state: "assigned", rank: 0, attempt: 2, notBefore: undefined },
  );
});

Deno.test("Registry.leave() is one operation: the engine is gone, its tasks returned in the order sent", () => {
  const reg = registry([2, 1]);
  const e = reg.engine(0)!;
  for (const id of [3, 1, 2]) reg.assign(e, reg.enqueue(task(id)), task(id));
  const lost = reg.leave(0)!;
  assert.deepEqual(lost.map((t) => t.id), [3, 1, 2]);
  assert.equal(e.state, "gone");
  assert.equal(e.outstanding.size, 0);
  assert.equal(reg.live, 1);
  assert.equal(reg.outstanding, 0);
  assert.deepEqual([...reg.context(0)!.engines], [1]);
  assert.equal(reg.onEngine(3), undefined);
  assert.deepEqual(
    lost.map((t) => t.state),
    ["assigned", "assigned", "assigned"],
    "the caller decides their fate",
  );
  assert.equal(reg.leave(0), undefined, "leaving twice");
  assert.equal(reg.slots.pick(noSuspect)?.rank, 1);
});

Deno.test("Registry: engines to come, per context", () => {
  const cases: { name: string; run: (reg: Registry) => void; coming: boolean }[] = [
    { name: "two expected, none joined", run: () => {}, coming: true },
    { name: "both joined", run: (r) => [0, 1].forEach((k) => r.join(k, 0, "h", 1)), coming: false },
    {
      name: "one joined, one failed",
      run: (r) => (r.join(0, 0, "h", 1), r.engineNotComing(0)),
      coming: false,
    },
    {
      name: "one restarted after both joined",
      run: (r) => ([0, 1].forEach((k) => r.join(k, 0, "h", 1)), r.engineComing(0)),
      coming: true,
    },
    { name: "the context went away", run: (r) => r.noMoreEngines(0), coming: false },
    { name: "the context was stopped", run: (r) => void r.stopContext(0), coming: false },
  ];
  for (const c of cases) {
    const reg = new Registry();
    reg.addContext(context(0, { pendingEngines: 2 }));
    c.run(reg);
    assert.equal(reg.enginesComing(), c.coming, c.name);
  }
});

Deno.test("Registry: a context at its task limit or stopped gives its engines no more tasks", () => {
  const cases: { name: string; ctx: Partial<ContextState>; tasks: number; limited: boolean }[] = [
    { name: "no limit", ctx: {}, tasks: 3, limited: false },
    { name: "below the limit", ctx: { taskLimit: 3 }, tasks: 2, limited: false },
    { name: "at the limit", ctx: { taskLimit: 3 }, tasks: 3, limited: true },
    { name: "stopped", ctx: { stopped: true }, tasks: 0, limited: true },
  ];
  for (const c of cases) {
    const reg = registry([8], c.ctx);
    const e = reg.engine(0)!;
    for (let id = 0; id < c.tasks; id++) reg.assign(e, reg.enqueue(task(id)), task(id));
    assert.equal(reg.limited(e), c.limited, c.name);
    assert.equal(reachedLimit(reg.context(0)!), c.limited && !c.ctx.stopped, c.name);
    assert.equal(reg.slots.pick(noSuspect) === undefined, c.limited, c.name);
  }
});

Deno.test("Registry: stop, away and back", () => {
  const reg = registry([1, 1]);
  const [a, b] = [reg.engine(0)!, reg.engine(1)!];
  reg.setAway(a, true);
  assert.equal(reg.slots.pick(noSuspect), b, "an engine away gets nothing");
  reg.setAway(a, false);
  assert.equal(reg.stop(b), true);
  assert.equal(reg.stop(b), false, "stopping twice");
  assert.equal(b.state, "stopping");
  assert.equal(reg.slots.pick(noSuspect), a);
  assert.equal(reg.activeSlots(), 1);
});

Deno.test("Registry.adopt(): a task an engine came back with is assigned to it, its context's count untouched", () => {
  const reg = registry([2]);
  reg.adopt(reg.engine(0)!, task(6));
  assert.equal(reg.onEngine(6)?.state, "assigned");
  assert.deepEqual([reg.outstanding, reg.engine(0)!.assigned, reg.context(0)!.assigned], [1, 1, 0]);
  const six = reg.onEngine(6)!;
  reg.finish(reg.engine(0)!, six);
  assert.deepEqual([six.state, reg.outstanding], ["done", 0]);
});

Deno.test("Registry.setContextStopAt() gives the labelled contexts an end", () => {
  const reg = new Registry();
  reg.addContext(context(0, { label: "A" }));
  reg.addContext(context(1, { label: "B" }));
  assert.equal(reg.anyEnding, false);
  reg.setContextStopAt("B", 500);
  assert.deepEqual([...reg.contexts()].map((c) => c.stopAt), [undefined, 500]);
  assert.equal(reg.anyEnding, true);
});

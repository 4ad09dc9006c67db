import assert from "node:assert/strict";
import { addItem, addRecorded, addSkipped, endOfTasks, tick } from "../../lib/task_stream.ts";
import type { StatusRecord } from "../../lib/types.ts";
import { coreWith, kinds, task } from "../helpers/scheduler_core_fixture.ts";

function recorded(taskId: number, flags: string, rc: number): StatusRecord {
  return { taskId, line: taskId + 1, flags, returnCode: rc } as StatusRecord;
}

Deno.test("addItem(): a task read is queued, matched with its hold, or skipped", () => {
  const cases: {
    name: string;
    setup: (c: ReturnType<typeof coreWith>) => void;
    state: string | undefined;
    queued: number;
    heldRead: number;
  }[] = [
    { name: "plain: queued", setup: () => {}, state: "queued", queued: 1, heldRead: 0 },
    {
      name: "held for an engine away: stays held",
      setup: (c) => c.holds.hold(new Map([[0, 7]]), 200, new Map()),
      state: "held",
      queued: 0,
      heldRead: 1,
    },
    {
      name: "an engine came back with it: skipped",
      setup: (c) => c.queue.skipOnRead(0),
      state: undefined,
      queued: 0,
      heldRead: 0,
    },
  ];
  for (const c of cases) {
    const s = coreWith({}, []);
    c.setup(s);
    addItem(s, { kind: "task", task: task(0) }, 100);
    assert.equal(s.task(0)?.state, c.state, c.name);
    assert.equal(s.queue.fileItems, c.queued, c.name);
    assert.equal(s.holds.read, c.heldRead, c.name);
    assert.equal(s.itemsSeen, 1, c.name);
  }
});

Deno.test("addRecorded(): a re-attached driver's records count as they did", () => {
  const cases: {
    name: string;
    records: StatusRecord[];
    finished: number;
    failed: number;
    barriers: number;
    phase: string;
  }[] = [
    {
      name: "a success",
      records: [recorded(0, "    ", 0)],
      finished: 1,
      failed: 0,
      barriers: 0,
      phase: "running",
    },
    {
      name: "a failure",
      records: [recorded(0, "R   ", 1)],
      finished: 1,
      failed: 1,
      barriers: 0,
      phase: "running",
    },
    {
      name: "a failure, then a BARRIER CHECK after it: drains",
      records: [recorded(0, "R   ", 1), recorded(1, "C    ", 0)],
      finished: 1,
      failed: 1,
      barriers: 1,
      phase: "draining",
    },
    {
      name: "a failure after the BARRIER CHECK (an engine back reported it early): judged later",
      records: [recorded(2, "R   ", 1), recorded(1, "C    ", 0)],
      finished: 1,
      failed: 1,
      barriers: 1,
      phase: "running",
    },
  ];
  for (const c of cases) {
    const s = coreWith({}, [1]);
    for (const r of c.records) addRecorded(s, r, 100);
    assert.deepEqual(
      [s.tally.finished, s.tally.failed, s.tally.barriers, s.phase],
      [c.finished, c.failed, c.barriers, c.phase],
      c.name,
    );
  }
});

Deno.test("endOfTasks() forgets holds never read; tick() gives up the others at the deadline", () => {
  const s = coreWith({}, [1]);
  s.holds.hold(new Map([[0, 7], [1, 7]]), 200, new Map([[7, 0]]));
  s.reg.engineComing(0);
  addItem(s, { kind: "task", task: task(0) }, 100);
  endOfTasks(s, 100);
  assert.deepEqual(s.holds.list().map((h) => h.id), [0]);
  assert.deepEqual(kinds(tick(s, 150)), [], "before the deadline");
  const out = tick(s, 200);
  assert.deepEqual(kinds(out), ["assign"]);
  assert.equal(s.policy.attemptOf(0), 1, "counted as lost with its engine");
  assert.equal(s.holds.count, 0);
  assert.equal(s.reg.enginesComing(), false);
});

Deno.test("the first item read, whatever it is, launches the driver's own context, once; without one, never", () => {
  type Feed = (c: ReturnType<typeof coreWith>, i: number) => ReturnType<typeof addItem>;
  const feeds: [string, Feed][] = [
    ["a task", (c, i) => addItem(c, { kind: "task", task: task(i) }, 100)],
    [
      "a barrier",
      (c, i) => addItem(c, { kind: "barrier", barrier: { id: i, line: i + 1, check: false } } as never, 100),
    ],
    ["a task skipped by -r", (c, i) => addSkipped(c, { ...recorded(i, "S", 0) }, 100)],
    ["a task recorded before a restart", (c, i) => addRecorded(c, recorded(i, "  ", 0), 100)],
  ];
  for (const [name, feed] of feeds) {
    for (const launchContext of [true, false]) {
      const c = coreWith({ launchContext }, []);
      const launches = [0, 1, 2].map((i) => kinds(feed(c, i)).filter((k) => k === "launchContext").length);
      assert.deepEqual(
        launches,
        launchContext ? [1, 0, 0] : [0, 0, 0],
        `${name}, launchContext ${launchContext}`,
      );
      if (launchContext) assert.equal(kinds(feed(c, 3))[0] === "launchContext", false, name);
    }
  }
  // It comes before what the item itself asks for.
  const c = coreWith({ launchContext: true }, []);
  assert.equal(kinds(addSkipped(c, recorded(0, "S", 0), 100))[0], "launchContext");
});

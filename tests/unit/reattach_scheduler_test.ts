import assert from "node:assert/strict";
import { SchedulerHarness } from "../helpers/scheduler_harness.ts";
import type { StatusRecord, Task, TaskOutcome } from "../../lib/types.ts";

function task(id: number, command = `t${id}`): Task {
  return { id, line: id + 1, repeatIndex: -1, command };
}

/** A status line of task (or barrier) `id`. */
function rec(id: number, flags: string, rc = 0): StatusRecord {
  return {
    flags,
    taskId: id,
    line: id + 1,
    repeatIndex: -1,
    host: "h",
    pid: 1,
    returnCode: rc,
    elapsed: 1,
    start: 1,
    end: 2,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    command: `t${id}`,
  };
}

/** An engine's report of task `id`. */
const outcome = (id: number, rc: number, attempt = 0, start = 1, end = 2): TaskOutcome => ({
  id,
  kind: "normal" as const,
  slot: 0,
  pid: 9,
  returnCode: rc,
  start,
  end,
  stdoutBytes: 0,
  stdoutSnippet: "",
  stderrBytes: 0,
  stderrSnippet: "",
  killed: false,
  ...(attempt ? { attempt } : {}),
});

Deno.test("a silent engine keeps its tasks and gets none; heard again it gets work; nothing runs twice", () => {
  const h = new SchedulerHarness();
  const a = h.engine(1);
  const b = h.engine(1);
  h.tasks("a\nb\nc\nd");
  assert.deepEqual(h.assigned(2), [[a, 0], [b, 1]]);
  h.apply(h.scheduler.engineAway(a, 300, h.now));
  h.finish(1, 0);
  // the rest goes to b, none to the away engine
  const next = h.assigned();
  assert.ok(next.length > 0 && next.every(([r]) => r === b), JSON.stringify(next));
  h.take("record", 1);
  assert.equal(h.scheduler.snapshot().engines.find((e) => e.rank === a)?.state, "away");
  h.apply(h.scheduler.engineBack(a, h.now));
  assert.equal(h.scheduler.snapshot().engines.find((e) => e.rank === a)?.state, "active");
  h.finish(0, 0); // its task was kept, not re-queued
  assert.deepEqual(h.records(1).map((r) => r.taskId), [0]);
  assert.equal(h.attempts.length, 0);
});

Deno.test("a resumed engine reports what finished while cut off; what it never got runs again", () => {
  const h = new SchedulerHarness();
  const a = h.engine(2);
  h.tasks("a\nb\nc");
  assert.deepEqual(h.assigned(2), [[a, 0], [a, 1]]);
  h.apply(h.scheduler.engineAway(a, 300, h.now));
  // back on a new connection: it finished 0, still runs nothing else; 1 never arrived
  const o = outcome(0, 0, 0, h.now, h.now);
  const acts = h.scheduler.engineResumed(a, 0, "node0", 2, [task(0)], [o, o], h.now);
  const recs = acts.filter((x) => x.kind === "record").map((x) => x.kind === "record" ? x.record.taskId : -1);
  assert.deepEqual(recs, [0], "recorded once though reported twice");
  const sent = acts.filter((x) => x.kind === "assign").map((x) => x.kind === "assign" ? x.task.id : -1);
  assert.deepEqual(sent.sort(), [1, 2], "1 never arrived: sent again, with 2");
});

Deno.test("re-attached: held tasks wait for their engine; one that comes back keeps them, the rest run at the hold's end", () => {
  const h = new SchedulerHarness();
  const s = h.scheduler;
  h.apply(s.contextJoined(0, "n", 0, 2, { retires: false }));
  // the last driver had sent 0,1 to engine 5 and 2 to engine 6; 3 was never sent
  s.holdForEngines(new Map([[0, 5], [1, 5], [2, 6]]), h.now + 100, new Map([[5, 0], [6, 0]]));
  h.tasks("a\nb\nc\nd");
  // engine 5 comes back with 0 running and 1 finished
  const done = outcome(1, 0, 0, h.now - 5, h.now - 1);
  h.apply(s.engineResumed(5, 0, "n1", 2, [task(0), task(1)], [done], h.now));
  assert.deepEqual(h.records().map((r) => [r.taskId, r.end]), [[1, h.now - 1]], "the real end time is kept");
  // 3 starts on engine 5's free slot; 2 stays held for engine 6
  assert.deepEqual(h.take("assign").map((a) => a.task.id), [3]);
  assert.equal(s.heldCount, 1);
  h.tick(50);
  assert.equal(h.take("assign").length, 0, "still held");
  h.tick(51);
  assert.equal(s.heldCount, 0);
  h.finish(3, 0);
  h.take("record", 1);
  const again = h.take("assign");
  assert.deepEqual(again.map((a) => [a.task.id, a.task.attempt]), [[2, 1]], "runs again, counted as lost");
});

Deno.test("re-attached: recorded tasks and barriers count as before and are not written again", () => {
  const h = new SchedulerHarness();
  const s = h.scheduler;
  h.engine(1);
  h.apply(s.addRecorded(rec(0, "R   ", 1), h.now));
  h.apply(s.addRecorded(rec(1, "B    "), h.now));
  assert.equal(h.take("record").length, 0);
  const snap = s.snapshot();
  assert.deepEqual([snap.finished, snap.failed, snap.barriers], [1, 1, 1]);
});

Deno.test("re-attached: earlier attempts count on (DISBATCH_ATTEMPT, the retries left)", () => {
  const h = new SchedulerHarness({ retries: 1 });
  h.scheduler.restoreAttempts(new Map([[0, [{ rc: 3, host: "bad" }]]]));
  h.engine(1, { host: "bad" });
  h.engine(1, { host: "good" });
  h.tasks("a");
  const [a] = h.take("assign", 1);
  assert.equal(a!.task.attempt, 1);
  h.finish(0, 5);
  // its one retry was used before the restart: this failure is final
  assert.deepEqual(h.records(1).map((r) => r.returnCode), [5]);
  assert.equal(h.scheduler.snapshot().retried, 1);
});

Deno.test("re-attached: an engine back with an older attempt of a task held for another engine does not take it", () => {
  const h = new SchedulerHarness({ retries: 2 });
  const s = h.scheduler;
  h.apply(s.contextJoined(0, "n", 0, 2, { retires: false }));
  s.holdForEngines(new Map([[0, 6]]), h.now + 100, new Map([[5, 0], [6, 0]]));
  h.tasks("a");
  // engine 5 ran attempt 0 (failed), its outcome unacknowledged; attempt 1 runs on engine 6
  const acts = s.engineResumed(5, 0, "n1", 1, [task(0)], [outcome(0, 3)], h.now);
  assert.deepEqual(
    acts.filter((a) => a.kind === "record" || a.kind === "assign"),
    [],
    "nothing recorded or sent",
  );
  assert.equal(s.heldCount, 1, "still held for engine 6");
  const back = s.engineResumed(6, 0, "n2", 1, [{ ...task(0), attempt: 1 }], [outcome(0, 0, 1)], h.now);
  const recs = back.filter((a) => a.kind === "record");
  assert.equal(recs.length, 1);
});

Deno.test("an engine back on a new connection while stopping is told again to stop", () => {
  const h = new SchedulerHarness();
  const a = h.engine(1);
  h.apply(h.scheduler.stopEngine(a, h.now));
  h.take("stopEngine", 1);
  const acts = h.scheduler.engineResumed(a, 0, "node0", 1, [], [], h.now);
  assert.deepEqual(acts.filter((x) => x.kind === "stopEngine").length, 1);
});

Deno.test("re-attached: a recorded BARRIER CHECK after a recorded failure ends the run as it would have", () => {
  const h = new SchedulerHarness();
  const s = h.scheduler;
  h.engine(1);
  h.apply(s.addRecorded(rec(0, "R   ", 1), h.now));
  h.apply(s.addRecorded(rec(1, "C    "), h.now));
  assert.equal(s.phase, "draining");
  h.take("stopEngine", 1);
});

Deno.test("held tasks keep the idle engines of a context that gives nodes back: released, they run there", () => {
  const h = new SchedulerHarness();
  const s = h.scheduler;
  h.apply(s.contextJoined(0, "J7", 0, 2, { retires: true }));
  // An earlier run's engines may still run task 1 until h.now + 100 (a -r of a run whose driver died).
  s.holdForEngines(new Map([[1, 9]]), h.now + 100, new Map(), { earlier: true });
  h.engine(1, { context: 0, host: "n1" });
  h.engine(1, { context: 0, host: "n2" });
  h.tasks("a\nb");
  assert.deepEqual(h.take("assign").map((a) => a.task.id), [0]);
  h.finish(0, 0);
  h.take("record", 1);
  assert.deepEqual(h.take("stopEngine"), [], "no engine leaves while a task is held");
  // --status and the monitor see the hold.
  assert.deepEqual([s.snapshot().held, s.snapshot().heldUntil], [1, h.now + 100]);
  h.tick(101);
  assert.deepEqual(h.take("assign").map((a) => a.task.id), [1], "the held task runs once released");
  h.finish(1, 0);
  h.take("record", 1);
  assert.equal(h.take("stopEngine").length, 2, "then the idle engines leave");
  assert.equal(s.snapshot().held, undefined);
});

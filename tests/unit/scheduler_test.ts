import assert from "node:assert/strict";
import { REQUEUE_DELAY_S, Scheduler } from "../../lib/scheduler.ts";
import { DEFAULT_OPTIONS, SchedulerHarness, skippedLine } from "../helpers/scheduler_harness.ts";

/** `n` plain task lines `t0`…. */
function lines(n: number): string {
  return Array.from({ length: n }, (_, i) => `t${i}`).join("\n");
}

Deno.test("Scheduler assigns tasks in id order up to the free slots", () => {
  const cases: { slots: number[]; tasks: number; perRank: number[] }[] = [
    { slots: [1], tasks: 5, perRank: [1] },
    { slots: [2], tasks: 5, perRank: [2] },
    { slots: [4], tasks: 3, perRank: [3] },
    { slots: [2, 1], tasks: 5, perRank: [2, 1] },
    { slots: [1, 1, 1], tasks: 2, perRank: [1, 1, 0] },
  ];
  for (const { slots, tasks, perRank } of cases) {
    const label = `slots ${slots} tasks ${tasks}`;
    for (const enginesFirst of [true, false]) {
      const h = new SchedulerHarness();
      h.context({ engines: slots.length });
      if (enginesFirst) { for (const s of slots) h.engine(s); }
      h.tasks(lines(tasks));
      if (!enginesFirst) { for (const s of slots) h.engine(s); }
      const got = h.assigned();
      assert.deepEqual(got.map(([, id]) => id), got.map((_, i) => i), label);
      assert.deepEqual(slots.map((_, r) => got.filter(([rank]) => rank === r).length), perRank, label);
      h.take("stopEngine"); // idle engines once the file is exhausted
      h.assertQuiet();
    }
  }
});

Deno.test("Scheduler sends the next task when one ends, never more than the slots for long tasks", () => {
  const h = new SchedulerHarness();
  h.engine(2);
  h.tasks(lines(5));
  assert.deepEqual(h.assigned(2), [[0, 0], [0, 1]]);
  h.advance(5);
  h.finish(1, 0);
  h.records(1);
  assert.deepEqual(h.assigned(1), [[0, 2]]);
  h.advance(5);
  h.finish(0, 0);
  h.records(1);
  assert.deepEqual(h.assigned(1), [[0, 3]]);
  assert.deepEqual(h.running(), [2, 3]);
  h.assertQuiet();
});

Deno.test("Scheduler prefetches a slot's worth of tasks only after short tasks", () => {
  const cases: { seconds: number; extra: number }[] = [
    { seconds: 0.05, extra: 3 }, // 1 slot freed + 2 prefetched
    { seconds: 0.9, extra: 3 },
    { seconds: 1, extra: 1 },
    { seconds: 30, extra: 1 },
  ];
  for (const { seconds, extra } of cases) {
    const h = new SchedulerHarness();
    h.engine(2);
    h.tasks(lines(20));
    h.assigned(2);
    h.advance(seconds);
    h.finish(0, 0);
    assert.deepEqual(
      h.assigned().map(([, id]) => id),
      Array.from({ length: extra }, (_, i) => 2 + i),
      `${seconds}s`,
    );
    // Tasks handed ahead wait on the engine: running never exceeds the slots, they count as queued.
    const snap = h.scheduler.snapshot();
    assert.equal(snap.running, Math.min(1 + extra, 2), `${seconds}s`);
    assert.equal(snap.queued, 20 - (2 + extra) + Math.max(0, 1 + extra - 2), `${seconds}s`);
  }
});

Deno.test("Scheduler records a finished task with its outcome", () => {
  const h = new SchedulerHarness();
  h.engine(1, { host: "n042" });
  h.tasks("#DISBATCH REPEAT 1 start 7 echo hi");
  h.assigned(1);
  const t0 = h.now;
  h.advance(1.5);
  h.finish(0, 3, { stdoutBytes: 3, stdoutSnippet: "hi\n", pid: 777 });
  assert.deepEqual(h.records(1), [{
    flags: "RO  ",
    taskId: 0,
    line: 1,
    repeatIndex: 7,
    host: "n042",
    pid: 777,
    returnCode: 3,
    elapsed: 1.5,
    start: t0,
    end: t0 + 1.5,
    stdoutBytes: 3,
    stdoutSnippet: "hi\n",
    stderrBytes: 0,
    stderrSnippet: "",
    command: "echo hi",
  }]);
  const snap = h.scheduler.snapshot();
  assert.equal(snap.finished, 1);
  assert.equal(snap.failed, 1);
  assert.deepEqual(h.scheduler.firstFailures.map((r) => r.taskId), [0]);
});

Deno.test("Scheduler holds a barrier until every earlier task ended and records it as the driver", () => {
  for (const check of [false, true]) {
    const directive = check ? "#DISBATCH BARRIER CHECK" : "#DISBATCH BARRIER mykey";
    const h = new SchedulerHarness({ driverHost: "drvhost", driverPid: 999 });
    h.engine(4);
    const reached = h.now;
    h.tasks(`a\nb\n${directive}\nc\nd`);
    assert.deepEqual(h.assigned(2), [[0, 0], [0, 1]], directive);
    h.advance(2);
    h.finish(1, 0);
    h.records(1);
    h.assertQuiet(); // task 0 still runs: nothing passes the barrier
    h.advance(3);
    h.finish(0, 0);
    const recs = h.records(2);
    assert.equal(recs[0]!.taskId, 0, "the task line comes before the barrier line");
    assert.deepEqual(recs[1], {
      flags: check ? "C    " : "B    ",
      taskId: 2,
      line: 3,
      repeatIndex: -1,
      host: "drvhost",
      pid: 999,
      returnCode: 0,
      elapsed: 5,
      start: reached,
      end: reached + 5,
      stdoutBytes: 0,
      stdoutSnippet: "",
      stderrBytes: 0,
      stderrSnippet: "",
      command: directive,
    }, directive);
    assert.deepEqual(h.assigned(2), [[0, 3], [0, 4]], directive);
    assert.equal(h.scheduler.snapshot().barriers, 1);
    h.assertQuiet();
  }
});

Deno.test("Scheduler passes a barrier at once when nothing runs before it", () => {
  const h = new SchedulerHarness();
  h.engine(1);
  h.tasks("#DISBATCH BARRIER\n#DISBATCH BARRIER CHECK\na");
  const recs = h.records(2);
  assert.deepEqual(recs.map((r) => [r.flags, r.taskId, r.elapsed]), [["B    ", 0, 0], ["C    ", 1, 0]]);
  assert.deepEqual(h.assigned(1), [[0, 2]]);
});

Deno.test("Scheduler passes consecutive barriers one after the other", () => {
  const h = new SchedulerHarness();
  h.engine(2);
  h.tasks("a\n#DISBATCH BARRIER\nb\n#DISBATCH BARRIER\nc");
  assert.deepEqual(h.assigned(1), [[0, 0]]);
  h.finish(0, 0);
  assert.deepEqual(h.records(2).map((r) => r.taskId), [0, 1]);
  assert.deepEqual(h.assigned(1), [[0, 2]]);
  h.finish(2, 0);
  assert.deepEqual(h.records(2).map((r) => r.taskId), [2, 3]);
  assert.deepEqual(h.assigned(1), [[0, 4]]);
});

Deno.test("Scheduler stops at a BARRIER CHECK after a failure and finishes with exit 1", () => {
  const h = new SchedulerHarness();
  h.engine(2);
  h.tasks("exit 5\nexit 7\n#DISBATCH BARRIER CHECK\ntouch x\ntouch y");
  h.assigned(2);
  h.finish(0, 5);
  h.finish(1, 7);
  const acts = h.take("record", 3);
  assert.deepEqual(acts.map(({ record: r, failedCheck }) => [r.flags, r.taskId, r.returnCode, failedCheck]), [
    ["R   ", 0, 5, undefined],
    ["R   ", 1, 7, undefined],
    ["C    ", 2, 0, true], // rc 0 in the status file, as disBatch writes it; --results says it failed
  ]);
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 0 }]);
  h.take("assign", 0);
  assert.equal(h.scheduler.phase, "draining");
  assert.equal(h.scheduler.demand(), 0);
  h.assertQuiet();
  h.gone(0);
  const [fin] = h.take("finish", 1);
  assert.equal(fin!.exitCode, 1);
  assert.equal(fin!.messages.length, 1);
  assert.match(fin!.messages[0]!, /BARRIER CHECK on line 3 failed: 2 task\(s\)/);
  assert.match(fin!.messages[0]!, /A plain -r stops here again .*resume with -r and -R/);
  assert.match(fin!.messages[0]!, /first: task 0, line 1, exit code 5/);
  assert.equal(h.scheduler.phase, "done");
  h.assertQuiet();
});

Deno.test("Scheduler's BARRIER CHECK looks only at tasks since the previous barrier", () => {
  const h = new SchedulerHarness();
  h.engine(1);
  h.tasks("exit 1\n#DISBATCH BARRIER\ntrue\n#DISBATCH BARRIER CHECK\nlater");
  h.finish(0, 1);
  h.finish(2, 0);
  assert.deepEqual(h.records(4).map((r) => r.taskId), [0, 1, 2, 3]);
  assert.deepEqual(h.assigned().map(([, id]) => id), [0, 2, 4]);
  assert.equal(h.scheduler.phase, "running");
});

Deno.test("Scheduler's BARRIER CHECK counts failures kept from a resumed status file", () => {
  const h = new SchedulerHarness();
  h.engine(1);
  h.skip.set(0, 2);
  h.tasks("exit 2\n#DISBATCH BARRIER CHECK\nlater");
  assert.deepEqual(h.records(2).map((r) => [r.flags, r.taskId]), [["R  S", 0], ["C    ", 1]]);
  h.take("stopEngine", 1);
  h.take("assign", 0);
  h.gone(0);
  assert.equal(h.take("finish", 1)[0]!.exitCode, 1);
});

Deno.test("Scheduler with --fail-fast kills every engine at the first failure and finishes with exit 1", () => {
  const h = new SchedulerHarness({ failFast: true });
  h.context({ engines: 2 });
  h.engine(1);
  h.engine(1);
  h.tasks("sleep 1000\nexit 1\ntouch A.txt");
  assert.deepEqual(h.assigned(2), [[0, 0], [1, 1]]);
  h.finish(1, 1);
  h.records(1);
  assert.deepEqual(h.take("killEngine", 2).map((a) => a.rank).sort(), [0, 1]);
  assert.equal(h.scheduler.phase, "aborting");
  h.take("assign", 0);
  h.assertQuiet();
  // The killed task is reported as killed (flag K) and does not count as a second trigger.
  h.finish(0, -9, { killed: true });
  assert.deepEqual(h.records(1).map((r) => [r.flags, r.returnCode]), [["R  K", -9]]);
  // Counted as killed, not as a failure of its own (the summary tells the two apart).
  const s = h.scheduler.snapshot();
  assert.deepEqual([s.finished, s.failed, s.killed], [2, 1, 1]);
  h.gone(0);
  h.assertQuiet();
  h.gone(1);
  const [fin] = h.take("finish", 1);
  assert.deepEqual(fin, {
    kind: "finish",
    exitCode: 1,
    messages: ["Quitting early due to task failure with --fail-fast"],
  });
  // An engine that joins after the end is told to leave.
  h.engine(1);
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 2 }]);
  h.assertQuiet();
});

Deno.test("Scheduler with --fail-fast kills a late engine while aborting", () => {
  const h = new SchedulerHarness({ failFast: true });
  h.context({ engines: 2 });
  h.engine(1);
  h.tasks("exit 1\nb");
  h.assigned(1);
  h.finish(0, 1);
  h.records(1);
  h.take("killEngine", 1);
  h.engine(1);
  assert.deepEqual(h.take("killEngine", 1), [{ kind: "killEngine", rank: 1 }]);
  h.take("assign", 0);
  h.gone(0);
  h.gone(1);
  assert.equal(h.take("finish", 1)[0]!.exitCode, 1);
});

Deno.test("Scheduler with --fail-fast also stops at a failed PERENGINE task", () => {
  const h = new SchedulerHarness({ failFast: true });
  h.engine(1);
  h.tasks("#DISBATCH PERENGINE START false\na\nb");
  h.assigned(1);
  h.perEngineDone(0, "start", 0, 1);
  assert.deepEqual(h.records(1).map((r) => r.flags), ["R  P"]);
  h.take("killEngine", 1);
  h.finish(0, -15, { killed: true });
  h.records(1);
  h.gone(0);
  assert.equal(h.take("finish", 1)[0]!.exitCode, 1);
});

Deno.test("Scheduler's exit code follows -e", () => {
  const cases: { exitCode: boolean; rcs: number[]; code: number }[] = [
    { exitCode: false, rcs: [0, 0], code: 0 },
    { exitCode: false, rcs: [5, 0], code: 0 },
    { exitCode: true, rcs: [0, 0], code: 0 },
    { exitCode: true, rcs: [0, 5], code: 1 },
    { exitCode: true, rcs: [-9, 0], code: 1 },
  ];
  for (const { exitCode, rcs, code } of cases) {
    const label = `-e ${exitCode} rcs ${rcs}`;
    const h = new SchedulerHarness({ exitCode });
    h.engine(2);
    h.tasks(lines(rcs.length));
    rcs.forEach((rc, id) => h.finish(id, rc));
    h.records(rcs.length);
    h.take("assign", rcs.length);
    assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 0 }], label);
    h.assertQuiet();
    h.gone(0);
    const [fin] = h.take("finish", 1);
    assert.equal(fin!.exitCode, code, label);
    assert.deepEqual(
      fin!.messages,
      code ? ["Some tasks failed with non-zero exit codes -- please check the logs"] : [],
      label,
    );
    h.assertQuiet();
  }
});

Deno.test("Scheduler re-queues a lost engine's tasks on another engine, then records rc -100 at the crash limit", () => {
  const h = new SchedulerHarness({ crashLimit: 2 });
  h.context({ engines: 2 });
  h.engine(1, { host: "a" });
  h.engine(1, { host: "b" });
  h.tasks("sleep 20\nsleep 1\nlast");
  assert.deepEqual(h.assigned(2), [[0, 0], [1, 1]]);
  h.gone(0, "connection lost");
  h.take("holdNode", 1); // its node stays in the job: the engine was lost
  h.assertQuiet(); // engine 1 is busy
  assert.ok(
    h.logs.some((l) =>
      l.level === "warn" && /Task 0 .*runs again \(attempt 1; lost 1 of 2 times\)/.test(l.message)
    ),
  );
  assert.deepEqual(
    h.take("attempt", 1).map((a) => [a.attempt, a.record.flags, a.record.host, a.record.returnCode]),
    [
      [0, "R  K", "a", -100],
    ],
  );
  h.advance(5);
  h.finish(1, 0);
  h.records(1);
  assert.deepEqual(h.assigned(1), [[1, 0]], "the re-queued task goes before task 2");
  h.advance(1);
  h.gone(1, "heartbeat timeout");
  const recs = h.records(1);
  assert.deepEqual(recs.map((r) => [r.flags, r.taskId, r.host, r.pid, r.returnCode, r.elapsed]), [
    ["R   ", 0, "b", -1, -100, 1],
  ]);
  assert.equal(recs[0]!.command, "sleep 20");
  // No engine left and none coming: the run ends, naming the next task.
  const [fin] = h.take("finish", 1);
  assert.equal(fin!.exitCode, 1);
  assert.match(fin!.messages[0]!, /No engine is left/);
  assert.match(fin!.messages[0]!, /1 task\(s\) not run, starting with task 2 \(line 3\)/);
  h.assertQuiet();
});

Deno.test("Scheduler keeps re-queued tasks in id order", () => {
  const h = new SchedulerHarness();
  h.context({ engines: 2 });
  h.engine(3);
  h.tasks(lines(6));
  h.assigned(3);
  h.gone(0, "crashed");
  h.tick(REQUEUE_DELAY_S);
  h.engine(2);
  assert.deepEqual(h.assigned(2), [[1, 0], [1, 1]]);
});

Deno.test("Scheduler runs a lost engine's task elsewhere only after REQUEUE_DELAY_S (its original is surely dead)", () => {
  const h = new SchedulerHarness();
  h.context({ engines: 2, retires: false });
  h.engine(1);
  h.engine(1);
  h.tasks("a\nb");
  h.assigned(2);
  h.advance(1);
  h.finish(1, 0);
  h.records(1);
  h.gone(0, "connection reset"); // task 0 lost; engine 1 is free
  h.take("log");
  assert.deepEqual(h.assigned(0), [], "not at once");
  h.tick(REQUEUE_DELAY_S / 2);
  assert.deepEqual(h.assigned(0), [], "not before the delay");
  h.tick(REQUEUE_DELAY_S / 2);
  assert.deepEqual(h.assigned(1), [[1, 0]], "after the delay");
});

Deno.test("Scheduler with crashLimit 1 writes a lost task off at once", () => {
  const h = new SchedulerHarness({ crashLimit: 1 });
  h.context({ engines: 2 });
  h.engine(1);
  h.engine(1);
  h.tasks("a\nb\nc");
  h.assigned(2);
  h.gone(0, "crashed");
  assert.deepEqual(h.records(1).map((r) => [r.flags, r.taskId, r.returnCode]), [["R   ", 0, -100]]);
  assert.equal(h.scheduler.snapshot().failed, 1);
  h.take("holdNode", 1); // its node stays in the job: the engine was lost
  h.assertQuiet();
});

Deno.test("Scheduler re-queues tasks an engine released and assigns them elsewhere", () => {
  const h = new SchedulerHarness();
  h.context({ engines: 2 });
  h.engine(1);
  h.engine(1);
  h.tasks(lines(4));
  assert.deepEqual(h.assigned(2), [[0, 0], [1, 1]]);
  // Engine 0 gets more tasks after short ones (prefetch), then is asked to stop.
  h.finish(0, 0);
  h.records(1);
  assert.deepEqual(h.assigned(2), [[0, 2], [0, 3]]);
  h.apply(h.scheduler.stopEngine(0, h.now));
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 0 }]);
  h.released(0, [3, 99]); // 99 was never there: ignored
  h.assertQuiet(); // engine 1 is busy, engine 0 is stopping
  assert.equal(h.scheduler.snapshot().engines[0]!.assigned, 2);
  h.advance(2);
  h.finish(1, 0);
  h.records(1);
  assert.deepEqual(h.assigned(1), [[1, 3]]);
});

Deno.test("Scheduler stops a context's engines once it was assigned its -C task limit", () => {
  const h = new SchedulerHarness();
  const c = h.context({ engines: 1, taskLimit: 3 });
  h.engine(2, { context: c });
  h.tasks(lines(6));
  h.assigned(2);
  h.advance(5);
  h.finish(0, 0);
  assert.deepEqual(h.assigned(1), [[0, 2]]);
  h.advance(5);
  h.finish(1, 0);
  h.take("assign", 0);
  h.take("stopEngine", 0); // task 2 still runs
  h.finish(2, 0);
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 0 }]);
  h.records(3);
  assert.deepEqual(h.scheduler.snapshot().contexts, [{
    id: 0,
    label: "SSH0",
    taskLimit: 3,
    assigned: 3,
    engines: 1,
  }]);
  h.assertQuiet();
  // Without -S the run cannot go on.
  h.gone(0);
  const [fin] = h.take("finish", 1);
  assert.equal(fin!.exitCode, 1);
  assert.match(fin!.messages[0]!, /3 task\(s\) not run, starting with task 3 \(line 4\)/);
});

Deno.test("Scheduler with -S waits for another context after a -C limit", () => {
  const h = new SchedulerHarness({ startupOnly: true });
  h.context({ engines: 1, taskLimit: 2 });
  h.engine(1);
  h.tasks(lines(4));
  h.finish(0, 0);
  h.finish(1, 0);
  h.records(2);
  h.assigned(2);
  h.take("stopEngine", 1);
  h.gone(0);
  h.take("retireNode", 1); // its node is given back
  h.assertQuiet();
  assert.equal(h.scheduler.phase, "running");
  const c2 = h.context({ engines: 1, label: "mylabel" });
  h.engine(2, { context: c2 });
  assert.deepEqual(h.assigned(2), [[1, 2], [1, 3]]);
});

Deno.test("Scheduler tells an engine joining a context at its -C limit to stop", () => {
  const h = new SchedulerHarness();
  const c = h.context({ engines: 2, taskLimit: 1 });
  h.engine(1, { context: c });
  h.tasks(lines(3));
  h.assigned(1);
  h.engine(1, { context: c });
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 1 }]);
  h.take("assign", 0);
});

Deno.test("Scheduler soft-stops one engine: its task finishes, others take the rest", () => {
  const h = new SchedulerHarness();
  h.context({ engines: 2 });
  h.engine(1);
  h.engine(1);
  h.tasks(lines(4));
  h.assigned(2);
  h.apply(h.scheduler.stopEngine(0, h.now));
  h.take("stopEngine", 1);
  assert.deepEqual(h.scheduler.stopEngine(0, h.now), [], "a second stop does nothing");
  h.advance(3);
  h.finish(0, 0);
  assert.deepEqual(h.records(1).map((r) => r.taskId), [0]);
  h.take("assign", 0);
  h.gone(0);
  h.finish(1, 0);
  h.records(1);
  assert.deepEqual(h.assigned(1), [[1, 2]]);
  assert.deepEqual(h.scheduler.snapshot().engines.map((e) => e.state), ["gone", "active"]);
});

Deno.test("Scheduler soft-stops every engine of a context, including one that joins later", () => {
  const h = new SchedulerHarness();
  const c = h.context({ engines: 2 });
  h.engine(1, { context: c });
  h.tasks(lines(4));
  h.assigned(1);
  h.apply(h.scheduler.stopContext(c, h.now));
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 0 }]);
  // The second engine was already starting; it must not sit idle in a stopped context.
  h.engine(1, { context: c });
  h.take("assign", 0);
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 1 }]);
});

Deno.test("Scheduler ends with exit 1 when no engine is left and none can come", () => {
  const h = new SchedulerHarness({ crashLimit: 1 });
  h.context({ engines: 1 });
  h.engine(1);
  h.tasks("a\nb\nc", { end: false });
  h.assigned(1);
  h.gone(0, "crashed");
  h.records(1);
  const [fin] = h.take("finish", 1);
  assert.equal(fin!.exitCode, 1);
  assert.match(fin!.messages[0]!, /2\+ task\(s\) not run, starting with task 1 \(line 2\)/);
  assert.match(fin!.messages[0]!, /-S/);
  assert.equal(h.scheduler.demand(), 0);
});

Deno.test("Scheduler waits while a context still expects engines, and until any context joined", () => {
  const h = new SchedulerHarness();
  h.tasks(lines(2));
  h.assertQuiet(); // no context yet: the automatic one is starting
  const c = h.context({ engines: 2 });
  h.engine(1, { context: c });
  h.assigned(1);
  h.gone(0, "crashed");
  h.take("holdNode", 1); // its node stays in the job: the engine was lost
  h.assertQuiet(); // one engine of the context is still to come
  h.apply(h.scheduler.engineNotComing(c, h.now));
  const [fin] = h.take("finish", 1);
  assert.equal(fin!.exitCode, 1);
  assert.match(fin!.messages[0]!, /starting with task 0 \(line 1\)/);
});

Deno.test("Scheduler ends when a context that still expected engines goes away", () => {
  const h = new SchedulerHarness();
  const c = h.context({ engines: 3 });
  h.tasks(lines(2));
  h.assertQuiet();
  h.apply(h.scheduler.contextGone(c, h.now));
  assert.equal(h.take("finish", 1)[0]!.exitCode, 1);
});

Deno.test("Scheduler with -S waits for engines instead of ending", () => {
  const h = new SchedulerHarness({ startupOnly: true, crashLimit: 1 });
  h.context({ engines: 1 });
  h.engine(1);
  h.tasks(lines(3));
  h.assigned(1);
  h.gone(0, "crashed");
  h.records(1);
  h.take("holdNode", 1); // its node stays in the job: the engine was lost
  h.assertQuiet();
  assert.equal(h.scheduler.phase, "running");
  h.context({ engines: 1 });
  h.engine(2);
  assert.deepEqual(h.assigned(2), [[1, 1], [1, 2]]);
});

Deno.test("Scheduler records PERENGINE START/STOP outcomes per engine with flag P", () => {
  const h = new SchedulerHarness({ exitCode: true });
  h.context({ engines: 2 });
  h.tasks("#DISBATCH PREFIX cd w && \n#DISBATCH PERENGINE START echo s\n#DISBATCH PERENGINE STOP echo t\na");
  assert.deepEqual(
    h.scheduler.perEngine?.start.map((t) => [t.id, t.line, t.command]),
    [[0, 2, "cd w && echo s"]],
  );
  assert.deepEqual(h.scheduler.perEngine?.stop.map((t) => [t.id, t.line, t.command]), [[
    0,
    3,
    "cd w && echo t",
  ]]);
  h.engine(1, { host: "n1" });
  h.engine(1, { host: "n2" });
  h.perEngineDone(0, "start", 0, 0, { stdoutBytes: 2, stdoutSnippet: "s\n" });
  h.perEngineDone(1, "start", 0, 0);
  h.finish(0, 0);
  h.perEngineDone(0, "stop", 0, 0);
  h.perEngineDone(1, "stop", 0, 3);
  h.perEngineDone(1, "stop", 5, 0); // no such STOP task: ignored
  const recs = h.records(5);
  assert.deepEqual(
    recs.map((r) => [r.flags, r.taskId, r.line, r.repeatIndex, r.host, r.returnCode, r.command]),
    [
      [" O P", 0, 2, -1, "n1", 0, "cd w && echo s"],
      ["   P", 0, 2, -1, "n2", 0, "cd w && echo s"],
      ["    ", 0, 4, -1, "n1", 0, "cd w && a"],
      ["   P", 0, 3, -1, "n1", 0, "cd w && echo t"],
      ["R  P", 0, 3, -1, "n2", 3, "cd w && echo t"],
    ],
  );
  const snap = h.scheduler.snapshot();
  assert.equal(snap.finished, 1, "PERENGINE tasks are not counted as tasks");
  assert.equal(snap.failed, 1, "a failed PERENGINE task is a failure");
  h.take("stopEngine");
  h.gone(0);
  h.gone(1);
  assert.equal(h.take("finish", 1)[0]!.exitCode, 1);
});

Deno.test("Scheduler assigns nothing until the PERENGINE block is complete", () => {
  const h = new SchedulerHarness();
  h.engine(1);
  const perEngine = () => h.scheduler.perEngine;
  h.tasks("#DISBATCH PERENGINE START a", { end: false });
  assert.equal(perEngine(), undefined);
  h.assertQuiet();
  h.tasks("b");
  assert.equal(perEngine()?.start.length, 1);
  assert.deepEqual(h.assigned(1), [[0, 0]]);
});

Deno.test("Scheduler writes and counts skipped tasks from -r", () => {
  const cases: { rcs: number[]; exitCode: boolean; code: number }[] = [
    { rcs: [0, 0], exitCode: false, code: 0 },
    { rcs: [0, 2], exitCode: false, code: 0 },
    { rcs: [0, 2], exitCode: true, code: 1 },
  ];
  for (const { rcs, exitCode, code } of cases) {
    const label = `${JSON.stringify(rcs)} -e ${exitCode}`;
    const h = new SchedulerHarness({ exitCode });
    rcs.forEach((rc, id) => h.skip.set(id, rc));
    h.tasks(lines(rcs.length));
    const recs = h.records(rcs.length);
    assert.deepEqual(
      recs,
      rcs.map((rc, id) => skippedLine({ id, line: id + 1, repeatIndex: -1, command: `t${id}` }, rc)),
    );
    assert.equal(h.scheduler.nothingToDo, false);
    // Everything was done already: the run ends at once, no engine needed.
    const [fin] = h.take("finish", 1);
    assert.equal(fin!.exitCode, code, label);
    const snap = h.scheduler.snapshot();
    assert.equal(snap.skipped, rcs.length);
    assert.equal(snap.finished, 0);
    assert.equal(snap.failed, rcs.filter((rc) => rc !== 0).length);
    h.assertQuiet();
  }
});

Deno.test("Scheduler runs the tasks a resume did not skip", () => {
  const h = new SchedulerHarness();
  h.engine(2);
  h.skip.set(0, 0);
  h.skip.set(2, 1);
  h.tasks(lines(4));
  assert.deepEqual(h.records(2).map((r) => [r.flags, r.taskId]), [["   S", 0], ["R  S", 2]]);
  assert.deepEqual(h.assigned(2), [[0, 1], [0, 3]]);
});

Deno.test("Scheduler ends at once with exit 0 for an empty task file", () => {
  const h = new SchedulerHarness({ exitCode: true });
  h.tasks("# only a comment\n#DISBATCH PREFIX x");
  assert.equal(h.scheduler.nothingToDo, true);
  assert.deepEqual(h.take("finish", 1), [{ kind: "finish", exitCode: 0, messages: [] }]);
  h.assertQuiet();
});

Deno.test("Scheduler.demand() asks for a bounded read-ahead", () => {
  const h = new SchedulerHarness();
  const s = h.scheduler;
  assert.equal(s.demand(), 64);
  h.tasks(lines(10), { end: false });
  assert.equal(s.demand(), 54);
  h.tasks(lines(100), { end: false });
  assert.equal(s.demand(), 0, "never negative");
  h.engine(2);
  h.assigned(2);
  assert.equal(s.demand(), 0, "68 wanted, 108 queued");
  const h2 = new SchedulerHarness();
  h2.context({ engines: 2 });
  h2.engine(2);
  h2.engine(3);
  assert.equal(h2.scheduler.demand(), 2 * 5 + 64);
  h2.tasks(lines(20), { end: false });
  h2.assigned(5);
  assert.equal(h2.scheduler.demand(), 74 - 15);
  h2.apply(h2.scheduler.stopEngine(1, h2.now));
  assert.equal(h2.scheduler.demand(), 2 * 2 + 64 - 15, "stopping engines do not count");
  h2.end();
  assert.equal(h2.scheduler.demand(), 0, "nothing more to read");
});

Deno.test("Scheduler stops idle engines once the task file is exhausted", () => {
  const h = new SchedulerHarness();
  h.context({ engines: 2 });
  h.engine(1);
  h.engine(1);
  h.tasks("a", { end: false });
  h.assigned(1);
  h.assertQuiet(); // more tasks may come
  h.end();
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 1 }]);
  h.advance(1);
  h.finish(0, 0);
  h.records(1);
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 0 }]);
  h.gone(1);
  h.assertQuiet();
  h.gone(0);
  assert.deepEqual(h.take("finish", 1), [{ kind: "finish", exitCode: 0, messages: [] }]);
  h.assertQuiet();
});

Deno.test("Scheduler keeps idle engines of a non-retiring context until the end, for re-queued tasks", () => {
  const h = new SchedulerHarness();
  h.context({ engines: 2, retires: false });
  h.engine(1);
  h.engine(1);
  h.tasks("a\nb");
  h.assigned(2);
  h.advance(1);
  h.finish(1, 0);
  h.records(1);
  h.assertQuiet(); // engine 1 is idle but stays
  h.gone(0, "connection closed by peer"); // engine 0 is lost with task 0
  h.take("log");
  h.tick(REQUEUE_DELAY_S);
  assert.deepEqual(h.assigned(1), [[1, 0]], "task 0 re-runs on the engine that stayed");
  h.finish(0, 0);
  h.records(1);
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 1 }]);
  h.gone(1);
  assert.deepEqual(h.take("finish", 1), [{ kind: "finish", exitCode: 0, messages: [] }]);
});

Deno.test("Scheduler keeps the engine on a retiring context's own node for re-queued tasks", () => {
  const h = new SchedulerHarness();
  h.context({ engines: 2, retires: true, keepHost: "n1" });
  h.engine(1, { host: "n1" });
  h.engine(1, { host: "n2" });
  h.tasks("a\nb");
  h.assigned(2);
  h.advance(1);
  h.finish(0, 0); // n1's engine is idle now but its node is never retired: it stays
  h.records(1);
  h.assertQuiet();
  h.gone(1, "connection closed by peer"); // n2 lost with task 1
  h.take("log");
  h.tick(REQUEUE_DELAY_S);
  assert.deepEqual(h.assigned(1), [[0, 1]], "task 1 re-runs on n1");
  h.finish(1, 0);
  h.records(1);
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 0 }]);
  h.gone(0);
  assert.deepEqual(h.take("finish", 1), [{ kind: "finish", exitCode: 0, messages: [] }]);
});

Deno.test("Scheduler.abort() kills every engine and finishes with 128+n once they left", () => {
  const h = new SchedulerHarness();
  h.context({ engines: 2 });
  h.engine(1);
  h.engine(1);
  h.tasks(lines(5));
  h.assigned(2);
  h.apply(h.scheduler.abort(130, "Interrupted (SIGINT)"));
  assert.deepEqual(h.take("killEngine", 2).map((a) => a.rank), [0, 1]);
  assert.deepEqual(h.scheduler.abort(143, "again"), [], "a second abort does nothing");
  h.finish(0, -15, { killed: true });
  assert.deepEqual(h.records(1).map((r) => r.flags), ["R  K"]);
  h.gone(0);
  h.assertQuiet();
  // An engine that leaves without reporting: its task is neither re-queued nor recorded (a resume runs it).
  h.gone(1, "connection lost");
  h.records(0);
  assert.ok(h.logs.some((l) => /Task 1 \(line 2\) was on engine 1 when the run was aborted/.test(l.message)));
  assert.deepEqual(h.take("finish", 1), [{
    kind: "finish",
    exitCode: 130,
    messages: ["Interrupted (SIGINT)"],
  }]);
  h.take("assign", 0);
  h.assertQuiet();
});

Deno.test("Scheduler.abort() with no engine finishes at once", () => {
  const s = new Scheduler(DEFAULT_OPTIONS);
  const actions = s.abort(143, "Terminated (SIGTERM)");
  assert.deepEqual(actions.filter((a) => a.kind !== "log"), [
    { kind: "finish", exitCode: 143, messages: ["Terminated (SIGTERM)"] },
  ]);
  assert.equal(s.phase, "done");
});

Deno.test("Scheduler.stopRun() lets running tasks finish, then exits with the given code", () => {
  const h = new SchedulerHarness();
  h.engine(2);
  h.tasks(lines(5));
  h.assigned(2);
  h.apply(h.scheduler.stopRun(3, "stopped by request"));
  h.take("stopEngine", 1);
  h.finish(0, 0);
  h.finish(1, 0);
  h.records(2);
  h.take("assign", 0);
  h.gone(0);
  assert.deepEqual(h.take("finish", 1), [{ kind: "finish", exitCode: 3, messages: ["stopped by request"] }]);
  assert.deepEqual(h.scheduler.stopRun(4, "late"), []);
});

Deno.test("Scheduler tells an engine that joins while the run drains to stop", () => {
  const h = new SchedulerHarness();
  h.context({ engines: 2 });
  h.engine(1);
  h.tasks("a");
  h.finish(0, 0);
  h.take("stopEngine", 1);
  h.records(1);
  h.take("assign", 1);
  h.engine(1);
  assert.deepEqual(h.take("stopEngine", 1), [{ kind: "stopEngine", rank: 1 }]);
  h.take("assign", 0);
});

Deno.test("Scheduler ignores a report of a task the engine was not running", () => {
  const h = new SchedulerHarness();
  h.engine(1);
  h.tasks("a");
  h.assigned(1);
  const actions = h.apply(h.scheduler.tasksDone(0, [{
    id: 7,
    kind: "normal",
    slot: 0,
    pid: 1,
    returnCode: 0,
    start: h.now,
    end: h.now,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    killed: false,
  }], h.now));
  assert.deepEqual(actions.filter((a) => a.kind !== "log"), []);
  assert.ok(h.logs.some((l) => l.level === "warn" && l.message.includes("task 7")));
  assert.deepEqual(h.scheduler.tasksDone(99, [], h.now), [], "unknown engine");
});

Deno.test("Scheduler.snapshot() counts engines, slots and queue", () => {
  const h = new SchedulerHarness();
  h.context({ engines: 2, label: "J42", taskLimit: 10 });
  h.engine(2, { host: "n1" });
  h.engine(1, { host: "n2" });
  h.tasks(lines(6) + "\n#DISBATCH BARRIER");
  assert.deepEqual(h.running(0).length, 2);
  assert.deepEqual(h.running(1).length, 1);
  h.assigned(3);
  h.advance(2);
  h.finish(h.running(1)[0]!, 4);
  assert.deepEqual(h.assigned(1), [[1, 3]]);
  const snap = h.scheduler.snapshot();
  assert.deepEqual(
    { ...snap, engines: undefined },
    {
      finished: 1,
      failed: 1,
      killed: 0,
      barriers: 0,
      skipped: 0,
      running: 3,
      queued: 3, // tasks 4, 5 and the barrier
      slots: 3,
      engines: undefined,
      contexts: [{ id: 0, label: "J42", taskLimit: 10, assigned: 4, engines: 2 }],
      phase: "running",
      tasksEnded: true,
      tasksSeen: 6,
      retried: 0,
      timedOut: 0,
      quarantined: [],
    },
  );
  assert.deepEqual(snap.engines, [
    {
      rank: 0,
      context: 0,
      host: "n1",
      slots: 2,
      state: "active",
      running: 2,
      assigned: 2,
      finished: 0,
      failed: 0,
    },
    {
      rank: 1,
      context: 0,
      host: "n2",
      slots: 1,
      state: "active",
      running: 1,
      assigned: 2,
      finished: 1,
      failed: 1,
    },
  ]);
});

Deno.test("Scheduler.engineComing() keeps the run alive while a lost engine is started again", () => {
  const h = new SchedulerHarness();
  const ctx = h.context({ engines: 1, retires: false });
  h.engine(1);
  h.tasks("a\nb");
  h.assigned(1);
  h.scheduler.engineComing(ctx); // the adapter restarts it
  h.gone(0, "connection reset");
  h.take("log");
  assert.deepEqual(h.take("finish", 0), [], "no end for want of engines");
  h.engine(2, { context: ctx });
  assert.deepEqual(h.assigned(1), [[1, 1]], "the new engine takes fresh work at once");
  h.tick(REQUEUE_DELAY_S);
  assert.deepEqual(h.assigned(1), [[1, 0]], "and task 0 once its wait is over");
});

Deno.test("the PERENGINE block reaches every engine as an action: those there when it completes, and later ones", () => {
  const h = new SchedulerHarness();
  const a = h.engine(1);
  assert.deepEqual(h.perEngineSent, [], "not before the block is complete");
  h.tasks("#DISBATCH PERENGINE START echo hi\nx", { end: false });
  assert.deepEqual(h.perEngineSent, [a]);
  const b = h.engine(1);
  assert.deepEqual(h.perEngineSent, [a, b]);
  h.end();
  assert.deepEqual(h.perEngineSent, [a, b], "sent once");
});

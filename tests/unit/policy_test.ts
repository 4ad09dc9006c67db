/**
 * The scheduler's failure policies: retries, time limits, the crash limit, quarantine of bad hosts
 * and the walltime. Time comes with events (the harness's fake clock); no timers.
 */

import assert from "node:assert/strict";
import { TIMEOUT_RC, WALLTIME_EXIT } from "../../lib/scheduler.ts";
import { SchedulerHarness } from "../helpers/scheduler_harness.ts";

Deno.test("retries: what is recorded for a task that fails k times with --retries N", async (t) => {
  // [retries, failures before success (Infinity: never succeeds), runs, final flags, final rc, attempts kept]
  const cases: [number, number, number, string, number, number][] = [
    [0, 1, 1, "R   ", 3, 0],
    [1, 1, 2, "    ", 0, 1],
    [2, 1, 2, "    ", 0, 1],
    [2, 2, 3, "    ", 0, 2],
    [2, Infinity, 3, "R   ", 3, 2],
    [3, 0, 1, "    ", 0, 0],
  ];
  for (const [retries, failures, runs, flags, rc, kept] of cases) {
    await t.step(`--retries ${retries}, ${failures} failure(s)`, () => {
      const h = new SchedulerHarness({ retries, exitCode: true });
      h.context({ engines: 2 });
      h.engine(1, { host: "a" });
      h.engine(1, { host: "b" });
      h.tasks("flaky");
      let ran = 0;
      for (;;) {
        const [a] = h.take("assign");
        if (!a) break;
        assert.equal(a.task.attempt ?? 0, ran, "DISBATCH_ATTEMPT counts the runs");
        h.finish(0, ran < failures ? 3 : 0);
        ran++;
      }
      assert.equal(ran, runs);
      const recs = h.records(1);
      assert.deepEqual([recs[0]!.flags, recs[0]!.returnCode], [flags, rc]);
      assert.deepEqual(h.take("attempt").map((a) => a.attempt), [...Array(kept).keys()]);
      for (const s of h.take("stopEngine", 2)) h.gone(s.rank);
      const [fin] = h.take("finish", 1);
      assert.equal(fin!.exitCode, rc === 0 ? 0 : 1, "only the final outcome counts for -e");
      const snap = h.scheduler.snapshot();
      assert.deepEqual([snap.finished, snap.failed, snap.retried], [1, rc === 0 ? 0 : 1, kept]);
    });
  }
});

Deno.test("retries: a failed task runs again on another host while one can take it", () => {
  const h = new SchedulerHarness({ retries: 1 });
  h.context({ engines: 2, retires: false });
  const a = h.engine(1, { host: "a" });
  const b = h.engine(1, { host: "b" });
  h.tasks("t0\nt1\nt2");
  assert.deepEqual(h.assigned(2), [[a, 0], [b, 1]]);
  h.finish(0, 1); // t0 fails on a; b is busy: t2 goes to a, t0 waits for b
  assert.deepEqual(h.assigned(), [[a, 2]]);
  h.finish(1, 0);
  h.records(1);
  assert.deepEqual(h.assigned(), [[b, 0]], "the retry runs on b");
});

Deno.test("retries: a retiring context keeps an idle node while a running task may still fail and run again", async (t) => {
  for (const retries of [0, 1]) {
    await t.step(`--retries ${retries}`, () => {
      const h = new SchedulerHarness({ retries });
      h.context({ engines: 3, retires: true, keepHost: "a" });
      const a = h.engine(1, { host: "a" });
      const b = h.engine(1, { host: "b" });
      const c = h.engine(1, { host: "c" });
      h.tasks("t0\nt1\nt2");
      assert.deepEqual(h.assigned(3), [[a, 0], [b, 1], [c, 2]]);
      h.finish(2, 0); // the file is over: c is idle
      h.records(1);
      // t0 (on a) and t1 (on b) may still fail: with retries, c stays for them.
      assert.deepEqual(h.take("stopEngine").map((s) => s.rank), retries ? [] : [c]);
      if (!retries) return;
      h.finish(1, 0);
      h.records(1);
      // b is idle too now, but t0 needs only one other host: b leaves, c stays.
      assert.deepEqual(h.take("stopEngine").map((s) => s.rank), [b]);
      h.gone(b);
      h.finish(0, 1);
      assert.deepEqual(h.assigned(), [[c, 0]], "the retry runs on c, not where it failed");
      h.finish(0, 0);
      h.records(1);
    });
  }
});

Deno.test("retries: with one host only, the retry runs there", () => {
  const h = new SchedulerHarness({ retries: 1 });
  h.context({ engines: 1 });
  const a = h.engine(1, { host: "a" });
  h.tasks("t0");
  h.assigned(1);
  h.finish(0, 1);
  assert.deepEqual(h.assigned(), [[a, 0]]);
});

Deno.test("retries: a failure that is retried triggers neither --fail-fast nor BARRIER CHECK", () => {
  const h = new SchedulerHarness({ retries: 1, failFast: true });
  h.context({ engines: 1 });
  h.engine(1);
  h.tasks("t0\n#DISBATCH BARRIER CHECK\nt2");
  h.assigned(1);
  h.finish(0, 5);
  assert.equal(h.scheduler.phase, "running");
  h.assigned(1);
  h.finish(0, 0);
  h.records(2); // t0 and the barrier
  assert.deepEqual(h.assigned(), [[0, 2]], "the barrier passed: the final outcome succeeded");
});

Deno.test("retries: a task killed by disbatch (fail-fast, signal) is not retried", () => {
  const h = new SchedulerHarness({ retries: 2 });
  h.context({ engines: 1 });
  h.engine(1);
  h.tasks("t0");
  h.assigned(1);
  h.finish(0, -15, { killed: true });
  assert.deepEqual(h.records(1).map((r) => r.flags), ["R  K"]);
  assert.deepEqual(h.take("attempt"), []);
});

Deno.test("timeouts: flag T, the real return code, and 124 for a task that exited 0 when stopped", async (t) => {
  const cases: [number, string, number][] = [[-15, "R  T", -15], [-9, "R  T", -9], [0, "R  T", TIMEOUT_RC], [
    2,
    "R  T",
    2,
  ]];
  for (const [rc, flags, recorded] of cases) {
    await t.step(`rc ${rc}`, () => {
      const h = new SchedulerHarness({ exitCode: true });
      h.context({ engines: 1 });
      h.engine(1);
      h.tasks("sleep 9");
      h.assigned(1);
      h.finish(0, rc, { timedOut: true });
      const [r] = h.records(1);
      assert.deepEqual([r!.flags, r!.returnCode], [flags, recorded]);
      assert.equal(h.scheduler.snapshot().timedOut, 1);
      h.gone(h.take("stopEngine", 1)[0]!.rank);
      assert.equal(h.take("finish", 1)[0]!.exitCode, 1, "a timeout is a failure");
    });
  }
});

Deno.test("timeouts: --timeout reaches tasks without a directive; TIMEOUT 0 lifts it; TIMEOUT N overrides", () => {
  const h = new SchedulerHarness({ timeout: 60 });
  h.context({ engines: 1 });
  h.engine(4);
  h.tasks("a\n#DISBATCH TIMEOUT 5\nb\n#DISBATCH TIMEOUT 0\nc");
  assert.deepEqual(h.take("assign", 3).map((x) => x.task.timeout), [60, 5, 0]);
});

Deno.test("timeouts: a timed-out task is retried like any failure", () => {
  const h = new SchedulerHarness({ retries: 1, timeout: 2 });
  h.context({ engines: 1 });
  h.engine(1);
  h.tasks("sleep 9");
  h.assigned(1);
  h.finish(0, -15, { timedOut: true });
  assert.deepEqual(h.take("attempt", 1).map((a) => a.record.flags), ["R  T"]);
  const [again] = h.take("assign", 1);
  assert.equal(again!.task.attempt, 1);
});

Deno.test("crash limit: a task is written off (R, rc -100) when its engines were lost N times", async (t) => {
  for (const limit of [1, 2, 3]) {
    await t.step(`--crash-limit ${limit}`, () => {
      const h = new SchedulerHarness({ crashLimit: limit, badNodeAfter: 0 });
      h.context({ engines: 5 });
      h.tasks("poison");
      let lost = 0;
      for (;;) {
        const rank = h.engine(1);
        h.tick(2);
        const [a] = h.take("assign");
        if (!a) break;
        h.gone(rank, "connection reset");
        lost++;
        const recs = h.records();
        if (recs.length) {
          assert.deepEqual(recs.map((r) => [r.flags, r.returnCode]), [["R   ", -100]]);
          break;
        }
      }
      assert.equal(lost, limit);
    });
  }
});

Deno.test("crash limit: an engine stopped by a signal does not count as a crash", () => {
  const h = new SchedulerHarness({ crashLimit: 1 });
  h.context({ engines: 2 });
  const a = h.engine(1);
  h.engine(1);
  h.tasks("t0\nt1");
  h.assigned(2);
  h.gone(a, "stopped by SIGTERM");
  assert.deepEqual(h.records(), [], "not written off");
  h.tick(2);
  h.finish(1, 0);
  h.records(1);
  assert.deepEqual(h.assigned(), [[1, 0]]);
});

Deno.test("barrier: it waits for a task that is queued again after its engine was lost", () => {
  const h = new SchedulerHarness({ badNodeAfter: 0 });
  h.context({ engines: 2, retires: false });
  const a = h.engine(1);
  const b = h.engine(1);
  h.tasks("t0\nt1\n#DISBATCH BARRIER\nt3");
  h.assigned(2);
  h.finish(1, 0);
  h.records(1);
  h.gone(a, "crashed");
  h.assertQuiet(); // t0 waits REQUEUE_DELAY_S; the barrier must not pass meanwhile
  h.tick(2);
  assert.deepEqual(h.assigned(), [[b, 0]]);
  h.finish(0, 0);
  assert.equal(h.records(2)[1]!.flags, "B    ");
  assert.deepEqual(h.assigned(), [[b, 3]]);
});

Deno.test("quarantine: a host where N tasks in a row failed and then succeeded elsewhere gets no more tasks", async (t) => {
  for (const n of [1, 2, 3]) {
    await t.step(`--bad-node-after ${n}`, () => {
      const h = new SchedulerHarness({ retries: 1, badNodeAfter: n });
      h.context({ engines: 2, retires: false });
      const bad = h.engine(1, { host: "bad" });
      const good = h.engine(1, { host: "good" });
      h.tasks(Array.from({ length: 10 }, (_, i) => `t${i}`).join("\n"));
      let failedThere = 0;
      for (let step = 0; step < 40 && !h.scheduler.quarantined("bad"); step++) {
        h.assigned();
        h.advance(0.5); // tasks of half a second: "good" is handed one ahead, not the whole file
        for (const id of h.running(bad)) {
          h.finish(id, 1);
          failedThere++;
        }
        for (const id of h.running(good)) h.finish(id, 0);
      }
      assert.match(h.scheduler.quarantined("bad") ?? "", new RegExp(`${n} tasks in a row failed`));
      assert.ok(failedThere >= n);
      assert.deepEqual(h.take("stopEngine").map((s) => s.rank), [bad]);
      assert.deepEqual(h.scheduler.snapshot().quarantined.map((q) => q.host), ["bad"]);
      // Nothing more goes there; an engine joining from there is stopped.
      h.assigned();
      const again = h.engine(2, { host: "bad" });
      assert.deepEqual(h.take("stopEngine").map((s) => s.rank), [again]);
      assert.ok(h.assigned().every(([rank]) => rank === good));
    });
  }
});

Deno.test("quarantine: a success on the host ends its streak", () => {
  const h = new SchedulerHarness({ retries: 1, badNodeAfter: 2 });
  h.context({ engines: 2, retires: false });
  const flaky = h.engine(1, { host: "flaky" });
  h.engine(1, { host: "good" });
  h.tasks("t0\nt1\nt2\nt3\nt4\nt5");
  h.assigned(2); // t0 on flaky, t1 on good
  h.finish(0, 1); // fails on flaky; t2 goes there
  h.finish(1, 0); // good is free: the retry of t0 runs there
  h.assigned();
  h.finish(0, 0); // ... and succeeds: flaky's streak is 1 proven failure
  h.finish(2, 0); // a success on flaky: the streak is over
  h.assigned();
  const next = h.running(flaky)[0]!;
  h.finish(next, 1); // one more failure there, proven elsewhere: 1 in a row again, not 2
  h.assigned();
  for (const id of h.running()) if (id === next) h.finish(id, 0);
  assert.equal(h.scheduler.quarantined("flaky"), undefined);
});

Deno.test("quarantine: an engine lost twice on a host; never the last host standing", () => {
  const h = new SchedulerHarness({ badNodeAfter: 3 });
  h.context({ engines: 4, retires: false });
  h.engine(1, { host: "a" });
  h.engine(1, { host: "b" });
  h.tasks("t0\nt1\nt2\nt3\nt4\nt5");
  h.assigned(2);
  h.gone(0, "heartbeat timeout");
  const a2 = h.engine(1, { host: "a" });
  h.tick(2);
  h.assigned();
  h.gone(a2, "heartbeat timeout");
  assert.match(h.scheduler.quarantined("a") ?? "", /lost 2 times/);
  // b is now the only host: losing it twice warns but keeps it.
  h.gone(1, "heartbeat timeout");
  const b2 = h.engine(1, { host: "b" });
  h.tick(2);
  h.assigned();
  h.gone(b2, "heartbeat timeout");
  assert.equal(h.scheduler.quarantined("b"), undefined);
  assert.ok(h.logs.some((l) => /Host b looks bad .* no other host/.test(l.message)));
});

Deno.test("walltime: no task starts that cannot finish; at stopAt running tasks are stopped; exit 75", () => {
  const h = new SchedulerHarness({ timeout: 0 });
  const stopAt = h.now + 100;
  h.scheduler.setStopAt(stopAt);
  h.context({ engines: 1 });
  h.engine(1);
  h.tasks("t0\nt1\nt2\nt3");
  h.assigned(1);
  h.advance(40);
  h.finish(0, 0); // the median is now 40 s: t1 (40..80) fits
  h.records(1);
  assert.deepEqual(h.assigned(), [[0, 1]]);
  h.advance(30);
  h.finish(1, 0); // now 70: t2 would end at 110 > stopAt and nothing runs: hand off now
  h.records(1);
  assert.deepEqual(h.assigned(), []);
  assert.deepEqual(h.take("killEngine").map((k) => k.rank), [0]);
  h.gone(0, "finished");
  const [fin] = h.take("finish", 1);
  assert.equal(fin!.exitCode, WALLTIME_EXIT);
  assert.match(
    fin!.messages[0]!,
    /walltime is reached \(no task left can finish in the \d+ s left before it\): no task was running; 2 task\(s\) were not started/,
  );
  assert.ok(h.scheduler.endedByWalltime);
});

Deno.test("walltime: at stopAt the running tasks are killed and recorded K; a time limit is the estimate", () => {
  const h = new SchedulerHarness({ timeout: 30 });
  h.scheduler.setStopAt(h.now + 50);
  h.context({ engines: 1 });
  h.engine(2);
  h.tasks("t0\nt1\n#DISBATCH TIMEOUT 60\nt3");
  assert.deepEqual(h.assigned(), [[0, 0], [0, 1]], "30 s each fits");
  h.advance(25);
  h.finish(0, 0);
  h.records(1);
  assert.deepEqual(h.assigned(), [], "t3 may take 60 s: it does not start");
  h.tick(26); // past stopAt
  assert.deepEqual(h.take("killEngine").map((k) => k.rank), [0]);
  h.finish(1, -15, { killed: true });
  assert.deepEqual(h.records(1).map((r) => r.flags), ["R  K"]);
  h.gone(0, "finished");
  assert.equal(h.take("finish", 1)[0]!.exitCode, WALLTIME_EXIT);
});

Deno.test("readyWork: tasks behind a barrier that waits for running tasks are not ready", () => {
  const h = new SchedulerHarness();
  h.context({ engines: 1 });
  h.engine(1);
  h.tasks("a\nb\nc\n#DISBATCH BARRIER\nd\ne");
  h.assigned(1); // a runs; b, c ready; d, e wait behind the barrier
  assert.equal(h.scheduler.readyWork(), 2);
  h.advance(5); // a long task: no prefetch
  h.finish(0, 0);
  h.records(1);
  h.assigned(1); // b
  assert.equal(h.scheduler.readyWork(), 1);
});

Deno.test("allocation end: an engine gets no task that cannot finish before its allocation's end", () => {
  const h = new SchedulerHarness({ timeout: 0 });
  const short = h.context({ engines: 1, label: "A1" });
  h.apply(h.scheduler.contextJoined(7, "A2", 0, 1, { retires: true, endsAt: h.now + 1000 }));
  h.engine(1, { context: short, host: "n1" });
  h.engine(1, { context: 7, host: "n2" });
  // A1 has no end; A2 ends in 1000 s (hand-off 15 s before).
  h.tasks("#DISBATCH TIMEOUT 2000\nlong\n#DISBATCH TIMEOUT 100\nshort");
  assert.deepEqual(h.assigned(), [[0, 0], [1, 1]], "the 2000 s task on n1, the 100 s one on n2");
});

Deno.test("quarantine: a host where everything fails gets no more tasks after N failures while the proof comes in", () => {
  const h = new SchedulerHarness({ retries: 2, badNodeAfter: 3 });
  h.context({ engines: 2, retires: false });
  const bad = h.engine(1, { host: "bad" });
  h.engine(1, { host: "good" });
  h.tasks(Array.from({ length: 20 }, (_, i) => `t${i}`).join("\n"));
  h.assigned(2);
  let failed = 0;
  // "good" is busy with a long task; "bad" fails everything at once.
  for (let i = 0; i < 10; i++) {
    const ids = h.running(bad);
    if (ids.length === 0) break;
    h.finish(ids[0]!, 1);
    failed++;
    h.assigned();
  }
  // Three failures, and the one task already handed ahead to it (tasks that short are prefetched).
  assert.ok(failed <= 4, `${failed} failures, then no task while good can take them`);
  assert.equal(h.scheduler.quarantined("bad"), undefined, "not proven yet");
});

Deno.test("quarantine: a task that fails on two hosts is no evidence against either", () => {
  const h = new SchedulerHarness({ retries: 3, badNodeAfter: 1 });
  h.context({ engines: 2, retires: false });
  const a = h.engine(1, { host: "a" });
  const b = h.engine(1, { host: "b" });
  h.tasks("poison\nok");
  h.assigned(2); // poison on a, ok on b
  h.advance(5);
  h.finish(0, 1); // poison fails on a (a: 1 unproven)
  h.finish(1, 0); // ok succeeds on b: poison retries there
  assert.deepEqual(h.assigned(), [[b, 0]]);
  h.finish(0, 1); // fails on b too: its own fault
  assert.deepEqual(h.assigned(), [[a, 0]], "a is in good standing again");
  h.finish(0, 0);
  assert.equal(h.scheduler.quarantined("a"), undefined);
  assert.equal(h.scheduler.quarantined("b"), undefined);
});

Deno.test("quarantine: a retry never waits for ever on hosts made suspect by tasks that fail everywhere", () => {
  const h = new SchedulerHarness({ retries: 1, badNodeAfter: 2 });
  h.context({ engines: 2, retires: false });
  const a = h.engine(1, { host: "a" });
  const b = h.engine(1, { host: "b" });
  h.tasks("f0\nx\nf1\ny");
  // f0 and f1 fail on both hosts (their own fault); then y fails on a.
  for (let step = 0; step < 30 && h.scheduler.phase === "running"; step++) {
    h.assigned();
    h.tick(2);
    const ids = h.running();
    if (ids.length === 0) break;
    for (const id of ids) h.finish(id, id === 0 || id === 2 || (id === 3 && h.rankOf(id) === a) ? 1 : 0);
  }
  assert.equal(h.running().length, 0);
  assert.equal(h.scheduler.snapshot().queued, 0, "nothing left waiting");
  void b;
});

Deno.test("allocation end: a raised time limit moves the context's end", () => {
  const h = new SchedulerHarness({ timeout: 100 });
  // Not retiring: a retiring context's idle engine would leave at once, as nothing fits in 50 s.
  h.apply(h.scheduler.contextJoined(0, "A1", 0, 1, { retires: false, endsAt: h.now + 50 }));
  h.engine(1, { context: 0 });
  h.tasks("t0");
  assert.deepEqual(h.assigned(), [], "100 s does not fit in 50");
  h.apply(h.scheduler.setContextEnd("A1", h.now + 3600, h.now));
  assert.deepEqual(h.assigned(), [[0, 0]]);
});

Deno.test("crash limit: tasks handed ahead to a lost engine (never started) are re-queued without a crash", () => {
  const h = new SchedulerHarness({ crashLimit: 1, badNodeAfter: 0 });
  h.context({ engines: 2, retires: false });
  const a = h.engine(1, { host: "a" });
  h.tasks("q0\nq1\nq2\nq3");
  h.assigned(1);
  h.finish(0, 0); // short: the next tasks are handed ahead (one per slot)
  h.records(1);
  assert.deepEqual(h.assigned(), [[a, 1], [a, 2]]);
  h.gone(a, "connection reset");
  // Task 1 was running: written off at --crash-limit 1; task 2 never started: queued again.
  assert.deepEqual(h.records().map((r) => [r.taskId, r.returnCode]), [[1, -100]]);
  const b = h.engine(1, { host: "b" });
  assert.deepEqual(h.assigned(), [[b, 3]], "task 2 waits for the re-queue delay; task 3 goes meanwhile");
  h.advance(5);
  h.finish(3, 0);
  h.records(1);
  h.tick(2);
  assert.deepEqual(h.assigned().map(([, id]) => id), [2]);
});

Deno.test("retries: while engines are still starting, a retry waits for them rather than run where it failed", () => {
  const h = new SchedulerHarness({ retries: 1 });
  h.context({ engines: 2, retires: false });
  const bad = h.engine(1, { host: "bad" }); // the first of two to join
  h.tasks("t0\nt1");
  assert.deepEqual(h.assigned(), [[bad, 0]]);
  h.finish(0, 1);
  assert.deepEqual(h.assigned(), [[bad, 1]], "the next task goes there, the retry waits");
  const good = h.engine(1, { host: "good" });
  assert.deepEqual(h.assigned(), [[good, 0]], "the retry runs on the engine that joined");
});

Deno.test("--fail-fast: a task is sent marked stopsRun when its failure would end the run (no retry left)", () => {
  const cases: { failFast: boolean; retries: number; marks: boolean[] }[] = [
    { failFast: false, retries: 0, marks: [false] },
    { failFast: true, retries: 0, marks: [true] },
    { failFast: false, retries: 2, marks: [false, false, false] },
    { failFast: true, retries: 2, marks: [false, false, true] },
  ];
  for (const c of cases) {
    const h = new SchedulerHarness({ failFast: c.failFast, retries: c.retries });
    h.context({ engines: 1 });
    h.engine(1);
    h.tasks("exit 3");
    const marks: boolean[] = [];
    for (;;) {
      const [a] = h.take("assign");
      if (!a) break;
      marks.push(a.task.stopsRun === true);
      h.finish(0, 3);
    }
    assert.deepEqual(marks, c.marks, JSON.stringify(c));
  }
});

import assert from "node:assert/strict";
import { endReason, engineGone, released, tasksDone } from "../../lib/engine_events.ts";
import type { SchedulerCore } from "../../lib/scheduler_core.ts";
import type { EngineEnd, SchedulerOptions } from "../../lib/scheduler_types.ts";
import type { TaskOutcome } from "../../lib/types.ts";
import { coreWith, kinds, task } from "../helpers/scheduler_core_fixture.ts";

function outcome(id: number, rc: number, o: Partial<TaskOutcome> = {}): TaskOutcome {
  return {
    id,
    kind: "normal",
    slot: 0,
    pid: 100 + id,
    returnCode: rc,
    start: 10,
    end: 12,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    killed: false,
    ...o,
  };
}

/** A core with engine 0 (on n0, `slots`) holding `ids` in order, and an idle engine 1 on n1. */
function core(o: Partial<SchedulerOptions>, slots: number, ids: number[]): SchedulerCore {
  const c = coreWith(o, [slots, 1]);
  const e = c.reg.engine(0)!;
  for (const id of ids) c.reg.assign(e, c.reg.enqueue(task(id)), task(id));
  return c;
}

Deno.test("endReason() words each end for the log", () => {
  const cases: [EngineEnd, string][] = [
    [{ kind: "finished" }, "finished"],
    [{ kind: "signalled", signal: "SIGTERM" }, "stopped by SIGTERM"],
    [{ kind: "lost", reason: "connection reset" }, "connection reset"],
  ];
  for (const [end, want] of cases) assert.equal(endReason(end), want);
});

Deno.test("engineGone(): what becomes of each task the engine held", () => {
  const cases: {
    name: string;
    o?: Partial<SchedulerOptions>;
    phase?: "running" | "draining" | "aborting";
    end: EngineEnd;
    actions: string[];
    states: (string | undefined)[];
    crashes?: boolean;
    /** Counted as killed with their engine at the end (not recorded): the one within its 1 slot. */
    lostAtEnd?: number;
  }[] = [
    {
      name: "lost: the running one runs again as a new attempt, the one handed ahead without",
      end: { kind: "lost", reason: "gone" },
      actions: ["attempt"],
      states: ["waiting", "waiting"],
    },
    {
      name: "signalled: runs again, no crash counted",
      o: { crashLimit: 1 },
      end: { kind: "signalled", signal: "SIGTERM" },
      actions: ["attempt"],
      states: ["waiting", "waiting"],
    },
    {
      name: "lost at the crash limit: recorded failed",
      o: { crashLimit: 1 },
      end: { kind: "lost", reason: "gone" },
      actions: ["record"],
      states: [undefined, "waiting"],
    },
    {
      name: "the run drains: recorded killed, both",
      phase: "draining",
      end: { kind: "lost", reason: "gone" },
      actions: ["record", "record"],
      states: [undefined, undefined],
    },
    {
      name: "the run is aborted: dropped, not recorded; the running one counted as killed",
      phase: "aborting",
      end: { kind: "lost", reason: "gone" },
      actions: [],
      states: [undefined, undefined],
      lostAtEnd: 1,
    },
  ];
  for (const c of cases) {
    const s = core(c.o ?? {}, 1, [5, 6]);
    if (c.phase === "aborting") s.abort(143, "Terminated");
    else if (c.phase) s.phase = c.phase;
    const out = engineGone(s, 0, c.end, 100)!;
    assert.deepEqual(kinds(out), c.actions, c.name);
    assert.deepEqual([s.task(5)?.state, s.task(6)?.state], c.states, c.name);
    assert.equal(s.reg.engine(0)!.state, "gone", c.name);
    assert.equal(s.tally.lostAtEnd, c.lostAtEnd ?? 0, c.name);
    for (const id of [5, 6]) {
      const t = s.task(id);
      if (t) assert.equal(t.notBefore, 101.5, c.name);
    }
    assert.equal(engineGone(s, 0, c.end, 101), undefined, `${c.name}: leaving twice`);
  }
});

Deno.test("engineGone(): aborted, a task its engine reported killed is not counted again, nor one it never started", () => {
  const s = core({}, 1, [5, 6]);
  s.abort(143, "Terminated");
  // Task 5 (running) is reported killed and recorded K; task 6 was only handed ahead.
  s.reg.finish(s.reg.engine(0)!, s.reg.onEngine(5)!);
  engineGone(s, 0, { kind: "lost", reason: "gone" }, 100);
  assert.equal(s.tally.lostAtEnd, 0);
});

Deno.test("engineGone(): a lost task's record says how long it ran, as far as the driver knows", () => {
  const cases: { name: string; o?: Partial<SchedulerOptions>; sentAt: number | undefined; start: number }[] =
    [
      { name: "sent at 90, lost at 100: ran 10 s (a new attempt)", sentAt: 90, start: 90 },
      { name: "written off at the crash limit: the same", o: { crashLimit: 1 }, sentAt: 90, start: 90 },
      { name: "brought back by its engine (no send time): 0 s", sentAt: undefined, start: 100 },
      { name: "a send time after the loss (clock step): 0 s", sentAt: 105, start: 100 },
    ];
  for (const c of cases) {
    const s = coreWith(c.o ?? {}, [1, 1]);
    s.reg.assign(s.reg.engine(0)!, s.reg.enqueue(task(5)), task(5), c.sentAt);
    const out = engineGone(s, 0, { kind: "lost", reason: "gone" }, 100)!;
    const rec = out.flatMap((a) => a.kind === "attempt" || a.kind === "record" ? [a.record] : [])[0]!;
    assert.deepEqual(
      [rec.start, rec.end, rec.elapsed, rec.pid, rec.returnCode],
      [c.start, 100, 100 - c.start, -1, -100],
      c.name,
    );
  }
});

Deno.test("engineGone(): a signal is remembered for the closing message", () => {
  const s = core({}, 1, []);
  engineGone(s, 0, { kind: "signalled", signal: "SIGTERM" }, 100);
  assert.equal(s.signalled, "SIGTERM");
  assert.deepEqual(
    engineGone(s, 1, { kind: "finished" }, 100),
    [],
    "a clean goodbye with nothing held: quiet",
  );
});

Deno.test("tasksDone(): success, failure, retry, stale and unknown outcomes", () => {
  const cases: {
    name: string;
    o?: Partial<SchedulerOptions>;
    report: TaskOutcome;
    actions: string[];
    state: string | undefined;
    finished: number;
  }[] = [
    { name: "success", report: outcome(5, 0), actions: ["record"], state: undefined, finished: 1 },
    { name: "failure", report: outcome(5, 1), actions: ["record"], state: undefined, finished: 1 },
    {
      name: "failure, retries left",
      o: { retries: 1 },
      report: outcome(5, 1),
      actions: ["attempt"],
      state: "requeued",
      finished: 0,
    },
    {
      name: "killed: not retried",
      o: { retries: 1 },
      report: outcome(5, -9, { killed: true }),
      actions: ["record"],
      state: undefined,
      finished: 1,
    },
    {
      name: "an earlier attempt's outcome",
      report: outcome(5, 0, { attempt: 1 }),
      actions: [],
      state: "assigned",
      finished: 0,
    },
    { name: "a task it was not running", report: outcome(9, 0), actions: [], state: "assigned", finished: 0 },
  ];
  for (const c of cases) {
    const s = core(c.o ?? {}, 1, [5]);
    const out = tasksDone(s, s.reg.engine(0)!, [c.report]);
    assert.deepEqual(kinds(out), c.actions, c.name);
    assert.equal(s.task(5)?.state, c.state, c.name);
    assert.equal(s.tally.finished, c.finished, c.name);
  }
});

Deno.test("released(): tasks handed back run again and no longer count for the engine", () => {
  const s = core({}, 1, [5, 6]);
  assert.equal(released(s, 0, [6, 7]), true);
  assert.equal(s.task(6)?.state, "requeued");
  assert.equal(s.reg.engine(0)!.assigned, 1);
  assert.equal(s.reg.context(0)!.assigned, 1);
  assert.equal(released(s, 9, [5]), false);
});

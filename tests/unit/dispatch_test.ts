import assert from "node:assert/strict";
import { dispatch } from "../../lib/dispatch.ts";
import type { SchedulerCore } from "../../lib/scheduler_core.ts";
import type { Action } from "../../lib/scheduler_types.ts";
import type { StatusRecord } from "../../lib/types.ts";
import { newContext } from "../../lib/registry_types.ts";
import { join } from "../../lib/engine_events.ts";
import { coreWith, kinds, task } from "../helpers/scheduler_core_fixture.ts";

/** Queue a compact file: numbers are tasks, "B" a barrier, "C" a BARRIER CHECK (ids follow position). */
function feed(c: SchedulerCore, items: (number | "B" | "C")[]): void {
  items.forEach((it, i) => {
    if (typeof it === "number") c.queue.push(c.reg.enqueue(task(it)));
    else {c.queue.push({
        kind: "barrier",
        barrier: { id: i, line: i + 1, check: it === "C", text: "#DISBATCH BARRIER" },
      });}
  });
}

/** A status line of task `id` (flag `K`: stopped by the walltime). */
function record(id: number): StatusRecord {
  return {
    flags: "R  K",
    taskId: id,
    line: id + 1,
    repeatIndex: -1,
    host: "n0",
    pid: 4000 + id,
    returnCode: -15,
    elapsed: 1,
    start: 10,
    end: 11,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    command: `echo ${id}`,
  };
}

function assigned(actions: Action[]): [number, number][] {
  return actions.flatMap((a) => a.kind === "assign" ? [[a.rank, a.task.id] as [number, number]] : []);
}

Deno.test("dispatch(): tasks out in order, round robin, up to the slots; barriers wait", () => {
  const cases: {
    name: string;
    slots: number[];
    items: (number | "B" | "C")[];
    want: [number, number][];
    records: number;
  }[] = [
    { name: "one slot each", slots: [1, 1], items: [0, 1, 2], want: [[0, 0], [1, 1]], records: 0 },
    { name: "two slots", slots: [2], items: [0, 1, 2], want: [[0, 0], [0, 1]], records: 0 },
    {
      name: "a barrier waits for the task before it",
      slots: [2],
      items: [0, "B", 2],
      want: [[0, 0]],
      records: 0,
    },
    { name: "a barrier first is passed at once", slots: [1], items: ["B", 1], want: [[0, 1]], records: 1 },
    { name: "no engine", slots: [], items: [0], want: [], records: 0 },
  ];
  for (const c of cases) {
    const s = coreWith({}, c.slots);
    feed(s, c.items);
    const out = dispatch(s, 100);
    assert.deepEqual(assigned(out), c.want, c.name);
    assert.equal(out.filter((a) => a.kind === "record").length, c.records, c.name);
  }
});

Deno.test("dispatch(): nothing goes out before the PERENGINE block is complete, or once the run ends", () => {
  for (const phase of ["block", "draining", "aborting"] as const) {
    const s = coreWith({}, [1]);
    if (phase === "block") s.perEngine = undefined;
    else s.phase = phase;
    feed(s, [0]);
    assert.deepEqual(assigned(dispatch(s, 100)), [], phase);
  }
});

Deno.test("dispatch(): a BARRIER CHECK after a failure drains the run", () => {
  const s = coreWith({}, [1]);
  s.tally.segmentFailed(0, 1, 2);
  feed(s, ["C", 1]);
  const out = dispatch(s, 100);
  assert.deepEqual(kinds(out), ["record", "stopEngine"]);
  assert.equal(s.phase, "draining");
});

Deno.test("dispatch(): a task re-queued waits out its delay, away from the host where it failed", () => {
  const s = coreWith({ retries: 1 }, [1, 1]);
  const entry = s.reg.enqueue(task(3));
  s.policy.failedAttempt(3, "n0");
  s.requeue(entry, 101);
  assert.deepEqual(assigned(dispatch(s, 100)), [], "still waiting");
  assert.equal(entry.state, "waiting");
  const out = dispatch(s, 101);
  assert.deepEqual(assigned(out), [[1, 3]]);
  const sent = out.find((a) => a.kind === "assign");
  assert.equal(sent?.kind === "assign" ? sent.task.attempt : undefined, 1, "sent as its second attempt");
});

Deno.test("dispatch(): the walltime and allocation ends", () => {
  const cases: { name: string; stopAt?: number; ctxStopAt?: number; timeout: number; want: string[] }[] = [
    { name: "fits", stopAt: 200, timeout: 50, want: ["assign"] },
    {
      name: "cannot finish before the walltime, nothing runs: hand off now",
      stopAt: 120,
      timeout: 50,
      want: ["killEngine"],
    },
    {
      name: "cannot finish before its engine's allocation ends: waits",
      ctxStopAt: 120,
      timeout: 50,
      want: [],
    },
  ];
  for (const c of cases) {
    const s = coreWith({ ...(c.stopAt !== undefined ? { stopAt: c.stopAt } : {}), timeout: c.timeout }, [1]);
    if (c.ctxStopAt !== undefined) s.reg.setContextStopAt("C", c.ctxStopAt);
    feed(s, [0]);
    assert.deepEqual(kinds(dispatch(s, 100)), c.want, c.name);
  }
});

Deno.test("dispatch(): a task an earlier run stopped waits for a later run when it cannot fit; what follows goes", () => {
  /** Tasks 0..3; task 0 stopped after `ran` s in an earlier run; a walltime at 140; it is 100 now. */
  const cases: {
    name: string;
    ran: number;
    items: (number | "B")[];
    ended: boolean;
    want: [number, number][];
    end: boolean;
  }[] = [
    {
      name: "ran 10 s, 40 s left: it runs",
      ran: 10,
      items: [0, 1],
      ended: true,
      want: [[0, 0], [1, 1]],
      end: false,
    },
    {
      name: "ran 39 s, 40 s left: set aside, 1 runs",
      ran: 39,
      items: [0, 1],
      ended: true,
      want: [[0, 1]],
      end: false,
    },
    { name: "ran 39 s, nothing else: hand off", ran: 39, items: [0], ended: true, want: [], end: true },
    {
      name: "ran 39 s, file not read to its end: wait for what follows",
      ran: 39,
      items: [0],
      ended: false,
      want: [],
      end: false,
    },
    {
      name: "ran 39 s, a barrier next: it holds it; hand off",
      ran: 39,
      items: [0, "B", 2],
      ended: true,
      want: [],
      end: true,
    },
  ];
  for (const c of cases) {
    const s = coreWith({ stopAt: 140 }, [1, 1]);
    s.stoppedBefore.set(0, { ...record(0), elapsed: c.ran });
    feed(s, c.items);
    s.tasksEnded = c.ended;
    const out = dispatch(s, 100);
    assert.deepEqual(assigned(out), c.want, c.name);
    assert.equal(s.endedByWalltime, c.end, c.name);
    if (!c.end) continue;
    const kept = out.filter((a) => a.kind === "record" && a.earlier);
    assert.deepEqual(
      kept.map((a) => a.kind === "record" && a.record.taskId),
      [0],
      `${c.name}: its line is kept`,
    );
    const msg = out.find((a) => a.kind === "log" && /The walltime is reached/.test(a.message));
    assert.match(
      msg?.kind === "log" ? msg.message : "",
      /no task left can finish in the 40 s left before it\).*Task 0 \(line 1\) ran 39\.0 s in an earlier run without ending and needs more than 42 s, but 40 s are left before the hand-off \(15 s before the walltime\): a resume needs a time limit of more than 57 s$/,
      c.name,
    );
  }
});

Deno.test("dispatch(): engines at a context's task limit, and idle ones of a retiring context, are stopped", () => {
  const cases: {
    name: string;
    ctx: { taskLimit?: number; retires?: boolean; keepHost?: string; added?: boolean };
    ended: boolean;
    stopped: number[];
    /** Why the engines leave, as told to a dbUtil.sh. */
    why?: string;
  }[] = [
    { name: "limit reached: the idle engines stop", ctx: { taskLimit: 1 }, ended: false, stopped: [1, 2] },
    {
      name: "retiring, file ended: idle engines leave but the kept host's (the driver's)",
      ctx: { retires: true, keepHost: "n2" },
      ended: true,
      stopped: [1],
    },
    {
      name: "a dbUtil.sh job, file ended: its kept host stays while engine 0 runs a task",
      ctx: { retires: true, keepHost: "n2", added: true },
      ended: true,
      stopped: [1],
      why: "nothing is left to run",
    },
    { name: "retiring, file not ended: they stay", ctx: { retires: true }, ended: false, stopped: [] },
    { name: "not retiring: they stay", ctx: {}, ended: true, stopped: [] },
  ];
  for (const c of cases) {
    const s = coreWith({}, [1, 1, 1], c.ctx);
    feed(s, [0]);
    s.tasksEnded = c.ended;
    const out = dispatch(s, 100);
    assert.deepEqual(assigned(out), [[0, 0]], c.name);
    assert.deepEqual(
      out.flatMap((a) => a.kind === "stopEngine" ? [a.rank] : []),
      c.stopped,
      c.name,
    );
    if (c.why) {
      assert.deepEqual(out.flatMap((a) => a.kind === "stopEngine" ? [a.why] : []), [c.why], c.name);
    }
  }
});

Deno.test("dispatch(): once nothing is left, a dbUtil.sh job gives back all of its nodes; the driver's keeps its own", () => {
  // Engines 0 (n0, the kept node) and 1 (n1), one slot each, idle; the file is read, and engine 2
  // (n2) of another context runs task 9, so the run goes on.
  const cases: { name: string; added: boolean; busy?: boolean; retries?: number; stopped: number[] }[] = [
    { name: "the driver's own allocation: its node stays", added: false, stopped: [1] },
    {
      name: "a dbUtil.sh job: both leave, its batch node last, so that the job ends",
      added: true,
      stopped: [1, 0],
    },
    { name: "a dbUtil.sh job, n1 busy: n0 stays with it", added: true, busy: true, stopped: [] },
    {
      name: "a dbUtil.sh job while task 9 may be retried: one node stays for it",
      added: true,
      retries: 1,
      stopped: [1],
    },
  ];
  for (const c of cases) {
    const s = coreWith({ retries: c.retries ?? 0 }, [1, 1], {
      retires: true,
      keepHost: "n0",
      added: c.added,
    });
    s.reg.addContext(newContext(1, "D", 0, 1, { retires: false }));
    join(s, 2, 1, "n2", 1);
    s.reg.assign(s.reg.engine(2)!, s.reg.enqueue(task(9)), task(9), 90);
    if (c.busy) s.reg.assign(s.reg.engine(1)!, s.reg.enqueue(task(8)), task(8), 90);
    s.tasksEnded = true;
    const out = dispatch(s, 100);
    const stopped = out.flatMap((a) => a.kind === "stopEngine" ? [a.rank] : []);
    assert.deepEqual(stopped, c.stopped, c.name);
  }
});

Deno.test("dispatch(): an allocation that ends before anything left could finish leaves, its own node last", () => {
  // Engines 0 (n0, the context's own node) and 1 (n1), one slot each; tasks take 50 s (--timeout).
  const cases: {
    name: string;
    stopAt: number;
    ctx?: { retires?: boolean };
    busy?: boolean;
    ended?: boolean;
    stopped: number[];
  }[] = [
    { name: "30 s left: both leave, its own node too", stopAt: 130, stopped: [0, 1] },
    { name: "80 s left: they take tasks", stopAt: 180, stopped: [] },
    { name: "30 s left, n0 busy: n1 leaves", stopAt: 130, busy: true, stopped: [1] },
    { name: "30 s left, --no-retire: they stay", stopAt: 130, ctx: { retires: false }, stopped: [] },
    { name: "30 s left, the file not read to its end: they stay", stopAt: 130, ended: false, stopped: [] },
  ];
  for (const c of cases) {
    const s = coreWith({ timeout: 50 }, [1, 1], { retires: true, keepHost: "n0", ...c.ctx });
    s.reg.setContextStopAt("C", c.stopAt);
    if (c.busy) s.reg.assign(s.reg.engine(0)!, s.reg.enqueue(task(9)), task(9), 90);
    feed(s, [0, 1, 2]);
    s.tasksEnded = c.ended ?? true;
    const out = dispatch(s, 100);
    const stopped = out.flatMap((a) => a.kind === "stopEngine" ? [a.rank] : []);
    assert.deepEqual(stopped.sort(), c.stopped, c.name);
    if (c.stopAt === 180) assert.equal(assigned(out).length, c.busy ? 1 : 2, c.name);
  }
});

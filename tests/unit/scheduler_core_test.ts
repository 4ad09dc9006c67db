import assert from "node:assert/strict";
import { engineGone } from "../../lib/engine_events.ts";
import type { SchedulerCore } from "../../lib/scheduler_core.ts";
import { type Action, WALLTIME_EXIT } from "../../lib/scheduler_types.ts";
import { coreWith, kinds, task } from "../helpers/scheduler_core_fixture.ts";

function finish(c: SchedulerCore) {
  for (const e of [...c.reg.engines()]) engineGone(c, e.rank, { kind: "finished" }, 100);
  const end = c.maybeEnd().find((a) => a.kind === "finish");
  return end?.kind === "finish" ? { code: end.exitCode, messages: end.messages } : undefined;
}

Deno.test("SchedulerCore.maybeEnd(): when a running run ends, and how", () => {
  const cases: {
    name: string;
    engines: number[];
    ended: boolean;
    queued?: boolean;
    coming?: boolean;
    startupOnly?: boolean;
    phase: string;
  }[] = [
    { name: "all done", engines: [1], ended: true, phase: "draining" },
    { name: "all done, no engine left", engines: [], ended: true, phase: "done" },
    { name: "the file goes on", engines: [1], ended: false, phase: "running" },
    { name: "work left, an engine", engines: [1], ended: true, queued: true, phase: "running" },
    { name: "work left, no engine and none coming", engines: [], ended: true, queued: true, phase: "done" },
    {
      name: "work left, an engine coming",
      engines: [],
      ended: true,
      queued: true,
      coming: true,
      phase: "running",
    },
    {
      name: "work left, -S waits",
      engines: [],
      ended: true,
      queued: true,
      startupOnly: true,
      phase: "running",
    },
  ];
  for (const c of cases) {
    const s = coreWith({ startupOnly: c.startupOnly ?? false }, c.engines, {
      pendingEngines: c.coming ? 1 : 0,
    });
    s.tasksEnded = c.ended;
    if (c.queued) s.queue.push(s.reg.enqueue(task(0)));
    s.maybeEnd();
    assert.equal(s.phase, c.phase, c.name);
  }
});

Deno.test("SchedulerCore: the exit status and closing messages", () => {
  const cases: {
    name: string;
    run: (c: SchedulerCore) => void;
    exitCode?: boolean;
    code: number;
    messages: RegExp[];
  }[] = [
    { name: "clean", run: (c) => c.drain(0), code: 0, messages: [] },
    {
      name: "an engine could not start, the others did the work",
      run: (c) => (c.brokenEngines.push("a", "b", "c", "d"), c.drain(0)),
      code: 0,
      messages: [/^Some engine processes failed .*\(a; b; c; and 1 more\)$/],
    },
    {
      name: "-e with a failure",
      run: (c) => (c.tally.countFailure({ taskId: 1 } as never), c.drain(0)),
      exitCode: true,
      code: 1,
      messages: [/^Some tasks failed/],
    },
    {
      name: "a failure without -e",
      run: (c) => (c.tally.countFailure({ taskId: 1 } as never), c.drain(0)),
      code: 0,
      messages: [],
    },
    {
      name: "aborted by a signal",
      run: (c) => c.abort(130, "Interrupted"),
      code: 130,
      messages: [/^Interrupted$/],
    },
    {
      name: "the walltime",
      run: (c) => c.walltimeEnd("its time is up"),
      code: WALLTIME_EXIT,
      messages: [/^The walltime is reached \(its time is up\): no task was running; 0\+ task\(s\)/],
    },
    {
      name: "the worst drain wins",
      run: (c) => (c.drain(1, "first"), c.drain(0, "second")),
      code: 1,
      messages: [/^first$/, /^second$/],
    },
  ];
  for (const c of cases) {
    const s = coreWith({ exitCode: c.exitCode ?? false }, [1]);
    c.run(s);
    const end = finish(s);
    assert.equal(end?.code, c.code, c.name);
    assert.equal(end?.messages.length, c.messages.length, `${c.name}: ${end?.messages}`);
    c.messages.forEach((m, i) => assert.match(end!.messages[i]!, m, c.name));
    assert.equal(s.phase, "done", c.name);
  }
});

Deno.test("SchedulerCore: abort kills every engine, drain stops the active ones", () => {
  const s = coreWith({}, [1, 1]);
  s.reg.stop(s.reg.engine(1)!);
  assert.deepEqual(kinds(s.drain(0)), ["stopEngine"]);
  assert.deepEqual(kinds(s.abort(1, "x")), ["killEngine", "killEngine"]);
  assert.equal(s.phase, "aborting");
});

Deno.test("SchedulerCore.failFast(): only with -f, only while running", () => {
  const cases: { failFast: boolean; phase: "running" | "draining"; aborts: boolean }[] = [
    { failFast: true, phase: "running", aborts: true },
    { failFast: false, phase: "running", aborts: false },
    { failFast: true, phase: "draining", aborts: false },
  ];
  for (const c of cases) {
    const s = coreWith({ failFast: c.failFast }, [1]);
    s.phase = c.phase;
    assert.equal(s.failFast().length > 0, c.aborts, JSON.stringify(c));
  }
});

Deno.test("SchedulerCore: however a run ends, a task an earlier run stopped and this one never started keeps its K line", () => {
  const cases: { name: string; run: (c: SchedulerCore) => unknown }[] = [
    { name: "a signal", run: (c) => c.abort(143, "Terminated") },
    { name: "--fail-fast", run: (c) => c.abort(1, "Quitting early") },
    { name: "a failed BARRIER CHECK", run: (c) => c.checkFailed(3, [{ id: 0, line: 1, rc: 1 }]) },
    { name: "the walltime", run: (c) => c.walltimeEnd("its time is up") },
  ];
  for (const c of cases) {
    const s = coreWith({}, [1]);
    const earlier = { taskId: 5, line: 6, flags: "R  K", elapsed: 40 } as never;
    s.stoppedBefore.set(5, earlier);
    const now = c.run(s) as Action[];
    for (const e of [...s.reg.engines()]) engineGone(s, e.rank, { kind: "finished" }, 100);
    const end = s.maybeEnd();
    const kept = [...now, ...end].flatMap((a) => a.kind === "record" && a.earlier ? [a.record] : []);
    assert.deepEqual(kept, [earlier], c.name);
    assert.equal(end.at(-1)?.kind, "finish", c.name);
  }
});

Deno.test("SchedulerCore: with -S, a task left with no engine to run it is said once; the run waits", () => {
  const s = coreWith({ startupOnly: true }, [1]);
  s.reg.assign(s.reg.engine(0)!, s.reg.enqueue(task(5)), task(5), 90);
  s.tasksEnded = true;
  const lost = engineGone(s, 0, { kind: "lost", reason: "node died" }, 100)!;
  const said = [...lost, ...s.maybeEnd()].filter((a) => a.kind === "log" && a.level === "warn");
  assert.ok(
    said.some((a) =>
      a.kind === "log" && /^No engine is left, and 1 task\(s\) wait to run: the run waits/.test(a.message)
    ),
    JSON.stringify(said),
  );
  assert.equal(s.phase, "running");
  assert.deepEqual(
    s.maybeEnd().filter((a) => a.kind === "log" && /No engine is left/.test(a.message)),
    [],
    "said once",
  );
});

import assert from "node:assert/strict";
import {
  EngineRunner,
  type ProcessResult,
  type RunnerCommand,
  type RunnerEvent,
  type RunnerState,
} from "../../lib/engine_runner.ts";
import type { PerEngineTask, Task } from "../../lib/types.ts";

const task = (id: number, extra: Partial<Task> = {}): Task => ({
  id,
  line: id + 1,
  repeatIndex: -1,
  command: `echo ${id}`,
  ...extra,
});
const pe = (id: number, phase: "start" | "stop"): PerEngineTask => ({
  ...task(id),
  command: `pe ${id}`,
  phase,
});
const result = (pid: number, returnCode = 0): ProcessResult => ({
  pid,
  returnCode,
  start: 1,
  end: 2,
  stdoutBytes: 0,
  stdoutSnippet: "",
  stderrBytes: 0,
  stderrSnippet: "",
});

// Event shorthands. Runs are numbered from 1 in start order; run N gets pid 100 + N.
const configure = (slots: number, killGraceS = 10): RunnerEvent => ({ kind: "configure", slots, killGraceS });
const noPerEngine: RunnerEvent = { kind: "perEngine", start: [], stop: [] };
const tasks = (...ids: number[]): RunnerEvent => ({ kind: "tasks", tasks: ids.map((i) => task(i)) });
const started = (run: number, now = 0): RunnerEvent => ({ kind: "started", run, pid: 100 + run, now });
const exited = (run: number, rc = 0, now = 0, times?: { start: number; end: number }): RunnerEvent => ({
  kind: "exited",
  run,
  result: { ...result(100 + run, rc), ...times },
  now,
});
const flush: RunnerEvent = { kind: "flush" };
const poolReady: RunnerEvent = { kind: "poolReady" };
/** A queued run started by the launcher in `slot`. */
const startedIn = (run: number, slot: number, now = 0): RunnerEvent => ({
  kind: "started",
  run,
  pid: 100 + run,
  now,
  slot,
});
const withdrawn = (run: number, now = 0): RunnerEvent => ({ kind: "withdrawn", run, now });
const tick = (now: number): RunnerEvent => ({ kind: "tick", now });

/** One command as a short line (debug log lines are left out: see the case that checks one). */
function show(c: RunnerCommand): string | undefined {
  switch (c.kind) {
    case "start":
      return `start run ${c.run} task ${c.task.id} slot ${c.slot}`;
    case "queue":
      return `queue run ${c.run} task ${c.task.id}`;
    case "pool":
      return `pool slots ${c.slots.join(",")}`;
    case "withdraw":
      return `withdraw runs ${c.runs.join(",")}`;
    case "killLadder":
      return `ladder ${c.pids.join(",")} grace ${c.graceMs}`;
    case "untrack":
      return `untrack ${c.pid}`;
    case "flushSoon":
      return c.afterMs ? `flushSoon ${c.afterMs}ms` : "flushSoon";
    case "log":
      return c.level === "debug" ? undefined : `${c.level}: ${c.text}`;
    case "leave":
      return `leave ${c.code}`;
    case "lost":
      return "lost";
    case "release":
      return "release";
    case "send": {
      const m = c.message;
      if (m.kind === "done") {
        const os = m.outcomes.map((o) =>
          `${o.phase ?? ""}${o.id}:${o.returnCode}${o.killed ? "K" : ""}${o.timedOut ? "T" : ""}${
            o.attempt ? `a${o.attempt}` : ""
          }`
        );
        return `done seq ${m.seq} [${os.join(" ")}]`;
      }
      if (m.kind === "released") return `released [${m.ids.join(",")}]`;
      if (m.kind === "bye") return `bye${m.signal ? ` ${m.signal}` : ""}`;
      return `resume tasks [${m.tasks.map((t) => t.id).join(",")}] outcomes [${
        m.outcomes.map((o) => o.id).join(",")
      }] startDone ${m.startDone}`;
    }
  }
}

/** Commands as lines, with `>` before the event each group follows from (its kind). */
function play(r: EngineRunner, events: RunnerEvent[]): string[] {
  const lines: string[] = [];
  for (const e of events) {
    const cs = r.handle(e).map(show).filter((l): l is string => l !== undefined);
    if (cs.length) lines.push(`> ${e.kind}`, ...cs);
  }
  return lines;
}

interface Case {
  name: string;
  events: RunnerEvent[];
  expect: string[];
  state?: RunnerState;
  running?: number;
  nextWake?: number | "none";
}

const cases: Case[] = [
  {
    name:
      "--fail-fast: after the failure of a task that ends the run nothing starts, until the kill or HOLD_MS",
    events: [
      configure(1),
      noPerEngine,
      { kind: "tasks", tasks: [task(0, { stopsRun: true }), task(1), task(2, { stopsRun: true })] },
      started(1),
      exited(1, 3, 1000),
      tick(5999),
      tick(6000),
      started(2, 6000),
      exited(2, 0, 6001),
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> exited",
      "info: Task 0 failed with --fail-fast: starting nothing more",
      "untrack 101",
      "flushSoon",
      "> tick",
      "warn: No end of the run came 5 s after a failure with --fail-fast; going on",
      "release",
      "start run 2 task 1 slot 0",
      "> exited",
      "untrack 102", // its end goes with the flush asked for before
      "start run 3 task 2 slot 0",
    ],
    state: "running",
    running: 1,
  },
  {
    name:
      "--fail-fast: while held, the engine asks for a tick when the hold ends (nothing else would wake it)",
    events: [
      configure(1),
      noPerEngine,
      { kind: "tasks", tasks: [task(0, { stopsRun: true }), task(1)] },
      started(1),
      exited(1, 3, 1000),
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> exited",
      "info: Task 0 failed with --fail-fast: starting nothing more",
      "untrack 101",
      "flushSoon",
    ],
    state: "running",
    running: 0,
    nextWake: 6000,
  },
  {
    name:
      "--fail-fast: a task that ends the run and succeeds, or one that may be retried and fails, holds nothing",
    events: [
      configure(1),
      noPerEngine,
      { kind: "tasks", tasks: [task(0, { stopsRun: true }), task(1), task(2)] },
      started(1),
      exited(1, 0),
      started(2),
      exited(2, 1),
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> exited",
      "untrack 101",
      "flushSoon 20ms",
      "start run 2 task 1 slot 0",
      "> exited",
      "untrack 102",
      "flushSoon",
      "start run 3 task 2 slot 0",
    ],
    state: "running",
    running: 1,
  },
  {
    name: "launcher ready: the free slots become its pool and every task held is queued to it",
    events: [configure(2), noPerEngine, tasks(0), started(1), poolReady, tasks(1, 2, 3), startedIn(2, 1)],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> poolReady",
      "pool slots 1",
      "> tasks",
      "queue run 2 task 1",
      "queue run 3 task 2",
      "queue run 4 task 3",
    ],
    state: "running",
    running: 4,
  },
  {
    name: "pool: a task the engine started gives its slot to the pool; queued ones report their slot",
    events: [
      configure(2),
      noPerEngine,
      tasks(0),
      started(1),
      poolReady,
      tasks(1, 2),
      startedIn(2, 1),
      exited(1),
      startedIn(3, 0),
      exited(2),
      exited(3),
      flush,
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> poolReady",
      "pool slots 1",
      "> tasks",
      "queue run 2 task 1",
      "queue run 3 task 2",
      "> exited",
      "untrack 101",
      // Two runs held for two slots: nothing queued behind them, the report goes at once.
      "flushSoon",
      "pool slots 0",
      "> exited",
      "untrack 102",
      "> exited",
      "untrack 103",
      "> flush",
      "done seq 1 [0:0 1:0 2:0]",
    ],
    running: 0,
  },
  {
    name: "pool: an end goes out at the end of the turn (the launcher's queue sends its ends in batches)",
    events: [configure(1), noPerEngine, poolReady, tasks(0, 1, 2), startedIn(1, 0), exited(1)],
    expect: [
      "> poolReady",
      "pool slots 0",
      "> tasks",
      "queue run 1 task 0",
      "queue run 2 task 1",
      "queue run 3 task 2",
      "> exited",
      "untrack 101",
      "flushSoon",
    ],
    running: 2,
  },
  {
    name: "pool: stop asks back what has not started; what comes back is released, then the engine leaves",
    events: [
      configure(1),
      noPerEngine,
      poolReady,
      tasks(0, 1, 2),
      startedIn(1, 0),
      { kind: "stop" },
      // Run 2 started before the request reached the launcher: it runs to its end.
      startedIn(2, 0),
      withdrawn(3),
      withdrawn(2),
      flush,
      exited(1),
      exited(2),
    ],
    expect: [
      "> poolReady",
      "pool slots 0",
      "> tasks",
      "queue run 1 task 0",
      "queue run 2 task 1",
      "queue run 3 task 2",
      "> stop",
      "withdraw runs 2,3",
      "info: Stopping: 0 queued task(s) handed back, 2 asked back from the launcher, 1 running",
      "> withdrawn",
      "flushSoon",
      "> flush",
      "released [2]",
      "> exited",
      "untrack 101",
      "flushSoon",
      "> exited",
      "untrack 102",
      "done seq 1 [0:0 1:0]",
      "bye",
      "leave 0",
    ],
    state: "left",
  },
  {
    name:
      "pool: a kill asks back what has not started (before any signal) and leaves once nothing runs; a late start is killed",
    events: [
      configure(1),
      noPerEngine,
      poolReady,
      tasks(0, 1, 2),
      startedIn(1, 0),
      { kind: "kill", reason: "asked", now: 0 },
      startedIn(2, 0),
      withdrawn(3),
      exited(1, -15),
      exited(2, -15),
    ],
    expect: [
      "> poolReady",
      "pool slots 0",
      "> tasks",
      "queue run 1 task 0",
      "queue run 2 task 1",
      "queue run 3 task 2",
      "> kill",
      "info: Killing 1 running task(s) (2 queued in the launcher asked back): asked",
      "withdraw runs 2,3",
      "ladder 101 grace 1000",
      "> started",
      "ladder 102 grace 1000",
      "> exited",
      "untrack 101",
      "flushSoon",
      "> exited",
      "untrack 102",
      "done seq 1 [0:-15K 1:-15K]",
      "bye",
      "leave 0",
    ],
    state: "left",
  },
  {
    name: "pool lost: unstarted tasks go back to the driver, the slots no task holds are the engine's again",
    events: [
      configure(3),
      noPerEngine,
      tasks(0),
      started(1),
      poolReady,
      tasks(1, 2, 3, 4),
      startedIn(2, 2),
      // The launcher dies: what it ran is killed, what it had not started comes back.
      exited(2, -9, 1000),
      withdrawn(3),
      withdrawn(4),
      withdrawn(5),
      { kind: "poolLost" },
      flush,
      tasks(5),
      tick(1400),
      tasks(6),
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> poolReady",
      "pool slots 1,2",
      "> tasks",
      "queue run 2 task 1",
      "queue run 3 task 2",
      "queue run 4 task 3",
      "queue run 5 task 4",
      "> withdrawn",
      "flushSoon",
      "> flush",
      "released [2,3,4]",
      // Slot 2 is held until the killed task's end is reported (a signal death waits a moment).
      "> tasks",
      "start run 6 task 5 slot 1",
      "> tick",
      "untrack 102",
      "flushSoon",
      "> tasks",
      "start run 7 task 6 slot 2",
    ],
    running: 3,
  },
  {
    name: "tasks wait for the PERENGINE block, then fill the slots lowest first; the rest queue",
    events: [configure(2), tasks(0, 1, 2), noPerEngine, started(1), started(2)],
    expect: ["> perEngine", "start run 1 task 0 slot 0", "start run 2 task 1 slot 1"],
    state: "running",
    running: 2,
  },
  {
    name: "an end frees its slot for the next queued task; ends of one turn go out in one numbered done",
    events: [
      configure(2),
      noPerEngine,
      tasks(0, 1, 2, 3),
      started(1),
      started(2),
      exited(1),
      exited(2, 3),
      flush,
      flush,
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "start run 2 task 1 slot 1",
      "> exited",
      "untrack 101",
      // Task 3 still waits for a slot: the report may wait for the next end ...
      "flushSoon 20ms",
      "start run 3 task 2 slot 0",
      "> exited",
      "untrack 102",
      // ... which leaves nothing queued: both go out at the end of the turn.
      "flushSoon",
      "start run 4 task 3 slot 1",
      "> flush",
      "done seq 1 [0:0 1:3]",
    ],
    running: 2,
  },
  {
    name:
      "PERENGINE START tasks run one at a time before any task, STOP ones after stop; a second block is ignored",
    events: [
      configure(1),
      { kind: "perEngine", start: [pe(0, "start"), pe(1, "start")], stop: [pe(0, "stop")] },
      tasks(5),
      { kind: "perEngine", start: [pe(7, "start")], stop: [] },
      started(1),
      exited(1),
      started(2),
      exited(2),
      started(3),
      { kind: "stop" },
      exited(3),
      started(4),
      exited(4),
    ],
    expect: [
      "> perEngine",
      "start run 1 task 0 slot -1",
      "> exited",
      "untrack 101",
      "flushSoon",
      "start run 2 task 1 slot -1",
      "> exited",
      "untrack 102",
      "start run 3 task 5 slot 0",
      "> stop",
      "info: Stopping: 0 queued task(s) handed back, 1 running",
      "> exited",
      "untrack 103",
      "start run 4 task 0 slot -1",
      "> exited",
      "untrack 104",
      "done seq 1 [start0:0 start1:0 5:0 stop0:0]",
      "bye",
      "leave 0",
    ],
    state: "left",
  },
  {
    name: "stop hands back the queued tasks, lets the running ones finish, then leaves",
    events: [configure(1), noPerEngine, tasks(0, 1, 2), started(1), { kind: "stop" }, exited(1, 1)],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> stop",
      "released [1,2]",
      "info: Stopping: 2 queued task(s) handed back, 1 running",
      "> exited",
      "untrack 101",
      "flushSoon",
      "done seq 1 [0:1]",
      "bye",
      "leave 0",
    ],
    state: "left",
  },
  {
    name: "stop with nothing queued or running leaves at once; a second stop does nothing",
    events: [configure(1), noPerEngine, { kind: "stop" }, { kind: "stop" }],
    expect: ["> stop", "info: Stopping: 0 queued task(s) handed back, 0 running", "bye", "leave 0"],
    state: "left",
  },
  {
    name: "stop while START tasks run: STOP tasks once they are done",
    events: [
      configure(1),
      { kind: "perEngine", start: [pe(0, "start")], stop: [pe(0, "stop")] },
      started(1),
      { kind: "stop" },
      exited(1),
      started(2),
      exited(2),
    ],
    expect: [
      "> perEngine",
      "start run 1 task 0 slot -1",
      "> stop",
      "info: Stopping: 0 queued task(s) handed back, 1 running",
      "> exited",
      "untrack 101",
      "flushSoon",
      "start run 2 task 0 slot -1",
      "> exited",
      "untrack 102",
      "done seq 1 [start0:0 stop0:0]",
      "bye",
      "leave 0",
    ],
  },
  {
    name:
      "kill: the ladder for every running group; ends are reported, failures flagged killed; bye when all ended",
    events: [
      configure(2),
      noPerEngine,
      tasks(0, 1, 2),
      started(1),
      started(2),
      { kind: "kill", reason: "fail-fast", now: 1000 },
      exited(1, -15, 1100),
      exited(2, 0, 1200),
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "start run 2 task 1 slot 1",
      "> kill",
      "info: Killing 2 running task(s): fail-fast",
      "ladder 101,102 grace 1000",
      "> exited",
      "untrack 101",
      "flushSoon",
      "> exited",
      "untrack 102",
      "done seq 1 [0:-15K 1:0]",
      "bye",
      "leave 0",
    ],
    state: "left",
  },
  {
    name: "kill: the engine leaves 2 s after SIGTERM whatever still runs",
    events: [
      configure(1),
      noPerEngine,
      tasks(0),
      started(1),
      { kind: "kill", reason: "r", now: 1000 },
      tick(2999),
      tick(3000),
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> kill",
      "info: Killing 1 running task(s): r",
      "ladder 101 grace 1000",
      "> tick",
      "bye",
      "leave 0",
    ],
    state: "left",
  },
  {
    name: "kill: a process whose start is told after the kill began gets the ladder too",
    events: [
      configure(2),
      noPerEngine,
      tasks(0, 1),
      started(1),
      { kind: "kill", reason: "r", now: 1000 },
      started(2, 1001),
      exited(1, -15, 1100),
      exited(2, -15, 1200),
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "start run 2 task 1 slot 1",
      "> kill",
      "info: Killing 2 running task(s): r",
      "ladder 101 grace 1000",
      "> started",
      "ladder 102 grace 1000",
      "> exited",
      "untrack 101",
      "flushSoon",
      "> exited",
      "untrack 102",
      "done seq 1 [0:-15K 1:-15K]",
      "bye",
      "leave 0",
    ],
    state: "left",
  },
  {
    name: "kill with nothing running leaves at once; a second kill does nothing",
    events: [configure(1), noPerEngine, { kind: "kill", reason: "r", now: 0 }, {
      kind: "kill",
      reason: "r",
      now: 0,
    }],
    expect: ["> kill", "info: Killing 0 running task(s): r", "bye", "leave 0"],
    state: "left",
  },
  {
    name: "a signal kills the tasks, says nothing of those it killed, and leaves with bye SIGTERM and 143",
    events: [
      configure(2),
      noPerEngine,
      tasks(0, 1),
      started(1),
      started(2),
      { kind: "signal", signal: "SIGTERM", number: 15, now: 0 },
      { kind: "signal", signal: "SIGINT", number: 2, now: 0 },
      exited(1, 143),
      exited(2, 0),
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "start run 2 task 1 slot 1",
      "> signal",
      "info: Killing 2 running task(s): received SIGTERM",
      "ladder 101,102 grace 1000",
      "> exited",
      "untrack 101",
      "info: Task 0 (line 1) killed: this engine received SIGTERM",
      "> exited",
      "untrack 102",
      "flushSoon",
      "done seq 1 [1:0]",
      "bye SIGTERM",
      "leave 143",
    ],
  },
  {
    name: "a lost driver: the tasks are killed, their ends not reported, and the engine exits without bye",
    events: [
      configure(1),
      noPerEngine,
      tasks(0),
      started(1),
      { kind: "driverLost", givenUp: true, now: 0 },
      { kind: "kill", reason: "r", now: 0 },
      exited(1, -9),
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> driverLost",
      "ladder 101 grace 1000",
      "> exited",
      "untrack 101",
      "info: Task 0 (line 1) killed: this engine received undefined",
      "lost",
    ],
    state: "left",
  },
  {
    name: "a time limit: the ladder with --kill-grace at the limit, the end flagged timed out",
    events: [
      configure(1, 3),
      noPerEngine,
      { kind: "tasks", tasks: [task(0, { timeout: 5, attempt: 2 })] },
      started(1, 1000),
      tick(5999),
      tick(6000),
      exited(1, -15, 6100, { start: 1, end: 6.1 }),
      flush,
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> tick",
      "ladder 101 grace 3000",
      "> exited",
      "info: Task 0 (line 1) stopped at its time limit of 5 s",
      "untrack 101",
      "flushSoon",
      "> flush",
      "done seq 1 [0:-15Ta2]",
    ],
  },
  {
    name:
      "a task whose own process ended within its limit, its output held past it by what it left: its own end",
    events: [
      configure(1, 3),
      noPerEngine,
      { kind: "tasks", tasks: [task(0, { timeout: 5 })] },
      started(1, 1000),
      tick(6000),
      exited(1, 0, 6100, { start: 1, end: 2 }),
      flush,
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> tick",
      "ladder 101 grace 3000",
      "> exited",
      "info: Task 0 (line 1) ended within its time limit of 5 s; what it left running, holding its output, " +
      "was stopped at the limit",
      "untrack 101",
      "flushSoon",
      "> flush",
      "done seq 1 [0:0]",
    ],
  },
  {
    name: "PERENGINE tasks have no time limit",
    events: [
      configure(1),
      { kind: "perEngine", start: [{ ...pe(0, "start"), timeout: 1 }], stop: [] },
      started(1, 0),
    ],
    expect: ["> perEngine", "start run 1 task 0 slot -1"],
    nextWake: "none",
  },
  {
    name: "a task dead of a signal waits 300 ms for the engine's own signal, else it is a failure",
    events: [configure(1), noPerEngine, tasks(0), started(1), exited(1, -15, 1000), tick(1299), tick(1300)],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> tick",
      "untrack 101",
      "flushSoon",
    ],
    running: 0,
  },
  {
    name: "... and when the engine's signal comes meanwhile, the task is not reported",
    events: [
      configure(1),
      noPerEngine,
      tasks(0),
      started(1),
      exited(1, -15, 1000),
      { kind: "signal", signal: "SIGTERM", number: 15, now: 1010 },
      tick(1300),
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> signal",
      "info: Killing 1 running task(s): received SIGTERM",
      "ladder 101 grace 1000",
      "> tick",
      "untrack 101",
      "info: Task 0 (line 1) killed: this engine received SIGTERM",
      "bye SIGTERM",
      "leave 143",
    ],
  },
  {
    name: "a task that cannot start is reported with the errno of the message (else 200) and frees its slot",
    events: [
      configure(1),
      noPerEngine,
      tasks(0, 1, 2),
      { kind: "startFailed", run: 1, message: "Argument list too long (os error 7)", now: 5000 },
      { kind: "startFailed", run: 2, message: "no bash", now: 5000 },
      flush,
    ],
    expect: [
      "> tasks",
      "start run 1 task 0 slot 0",
      "> startFailed",
      "error: Task 0 could not start: Argument list too long (os error 7)",
      "flushSoon 20ms",
      "start run 2 task 1 slot 0",
      "> startFailed",
      "error: Task 1 could not start: no bash",
      "flushSoon",
      "start run 3 task 2 slot 0",
      "> flush",
      "done seq 1 [0:7 1:200]",
    ],
  },
];

for (const c of cases) {
  Deno.test(`engine runner: ${c.name}`, () => {
    const r = new EngineRunner();
    assert.deepEqual(play(r, c.events), c.expect);
    if (c.state !== undefined) assert.equal(r.state, c.state);
    if (c.running !== undefined) assert.equal(r.runningCount, c.running);
    if (c.nextWake !== undefined) assert.equal(r.nextWake, c.nextWake === "none" ? undefined : c.nextWake);
  });
}

Deno.test("engine runner: outcomes are byte-for-byte what the driver reads (field order included)", () => {
  const r = new EngineRunner();
  for (
    const e of [configure(1), noPerEngine, { kind: "tasks", tasks: [task(4, { attempt: 1 })] } as RunnerEvent]
  ) {
    r.handle(e);
  }
  r.handle(started(1));
  const cs = r.handle(exited(1, 3));
  assert.deepEqual(cs.find((c) => c.kind === "log"), {
    kind: "log",
    level: "debug",
    text: "Task 4 (line 5) slot 0 pid 101 rc 3",
  });
  const done = r.handle(flush)[0]!;
  assert.equal(
    JSON.stringify(done.kind === "send" ? done.message : undefined),
    '{"kind":"done","outcomes":[{"id":4,"kind":"normal","slot":0,"pid":101,"returnCode":3,"start":1,"end":2,' +
      '"stdoutBytes":0,"stdoutSnippet":"","stderrBytes":0,"stderrSnippet":"","killed":false,"attempt":1}],"seq":1}',
  );
  const failed = new EngineRunner();
  failed.handle(configure(1));
  failed.handle(noPerEngine);
  failed.handle(tasks(0));
  failed.handle({ kind: "startFailed", run: 1, message: "x".repeat(100), now: 1500 });
  const sent = failed.handle(flush)[0]!;
  assert.equal(
    JSON.stringify(sent.kind === "send" ? sent.message : undefined),
    `{"kind":"done","outcomes":[{"id":0,"kind":"normal","slot":0,"pid":-1,"returnCode":200,"start":1.5,"end":1.5,` +
      `"stdoutBytes":0,"stdoutSnippet":"","stderrBytes":100,"stderrSnippet":"${
        "x".repeat(83)
      }","killed":false}],"seq":1}`,
  );
});

Deno.test("engine runner: what a driver found again is told, and the acknowledged outcomes are forgotten", () => {
  const r = new EngineRunner();
  play(r, [
    configure(2),
    noPerEngine,
    tasks(0, 1, 2, 3),
    started(1),
    started(2),
    exited(1),
    flush,
    exited(2),
  ]);
  // Task 0 is in done seq 1 (not acknowledged), task 1 ended but waits in the outbox, 2 and 3 run.
  assert.deepEqual(play(r, [{ kind: "reattached", killGraceS: 10 }]), [
    "> reattached",
    "resume tasks [2,3,0,1] outcomes [0,1] startDone true",
  ]);
  // The outbox went with the resume as seq 2: the next done is seq 3.
  assert.deepEqual(play(r, [started(3), started(4), exited(3), flush]), [
    "> exited",
    "untrack 103",
    "flushSoon",
    "> flush",
    "done seq 3 [2:0]",
  ]);
  r.handle({ kind: "ack", seq: 2 });
  assert.deepEqual(r.resumeState().tasks.map((t) => t.id), [3, 2]);
  assert.deepEqual(r.resumeState().outcomes.map((o) => o.id), [2]);
  r.handle({ kind: "ack", seq: 3 });
  assert.deepEqual(r.resumeState(), { tasks: [task(3)], outcomes: [], startDone: true });
});

Deno.test("engine runner: nextWake is the earliest time limit, settling end or kill deadline", () => {
  const r = new EngineRunner();
  play(r, [configure(3), noPerEngine, {
    kind: "tasks",
    tasks: [task(0, { timeout: 10 }), task(1, { timeout: 4 })],
  }]);
  assert.equal(r.nextWake, undefined);
  r.handle(started(1, 1000));
  r.handle(started(2, 1000));
  assert.equal(r.nextWake, 5000);
  r.handle(exited(2, -9, 2000));
  assert.equal(r.nextWake, 2300);
  r.handle(tick(2300));
  assert.equal(r.nextWake, 11000);
  r.handle({ kind: "kill", reason: "r", now: 3000 });
  assert.equal(r.nextWake, 5000);
});

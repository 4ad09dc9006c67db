import assert from "node:assert/strict";
import {
  type DriverEvent,
  EVENT_STREAM_VERSION,
  type EventStep,
  type EventStreamHead,
  parseEventStream,
  react,
  replay,
} from "../../lib/reactor.ts";
import { type Action, Scheduler, type SchedulerOptions } from "../../lib/scheduler.ts";
import { formatStatusRecord } from "../../lib/status_record.ts";
import type { StatusRecord, Task, TaskOutcome } from "../../lib/types.ts";

const OPTIONS: SchedulerOptions = {
  failFast: false,
  startupOnly: false,
  exitCode: false,
  crashLimit: 3,
  retries: 0,
  timeout: 0,
  badNodeAfter: 3,
  driverHost: "driverhost",
  driverPid: 42,
};

function task(id: number, command = `echo ${id}`): Task {
  return { id, line: id + 1, repeatIndex: -1, command };
}

function outcome(id: number, rc: number, at: number): TaskOutcome {
  return {
    id,
    kind: "normal",
    slot: 0,
    pid: 1000 + id,
    returnCode: rc,
    start: at - 1,
    end: at,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    killed: false,
  };
}

/** A run's events: one context with one engine of `slots`, two tasks, both done. */
function smallRun(slots: number, rc1: number): DriverEvent[] {
  return [
    { kind: "contextJoined", id: 0, label: "SSH0", taskLimit: 0, engines: 1, retires: false, now: 10 },
    { kind: "engineJoined", rank: 0, context: 0, host: "n1", slots, now: 11 },
    { kind: "perEngineBlock", start: [], stop: [], now: 12 },
    { kind: "item", item: { kind: "task", task: task(0) }, now: 12 },
    { kind: "item", item: { kind: "task", task: task(1) }, now: 12 },
    { kind: "tasksEnded", now: 12 },
    { kind: "tasksDone", rank: 0, outcomes: [outcome(0, 0, 13)], now: 13 },
    { kind: "tick", now: 14 },
    { kind: "tasksDone", rank: 0, outcomes: [outcome(1, rc1, 15)], now: 15 },
    { kind: "engineGone", rank: 0, end: { kind: "finished" }, now: 16 },
  ];
}

function kinds(actions: Action[]): string[] {
  return actions.map((a) => a.kind);
}

Deno.test("react() turns each event into the scheduler's actions", () => {
  const cases: { name: string; slots: number; rc1: number; want: string[][] }[] = [
    {
      name: "one slot: the second task goes out when the first is done",
      slots: 1,
      rc1: 0,
      want: [[], [], ["perEngine"], ["assign"], [], [], ["record", "assign"], [], ["record", "stopEngine"], [
        "finish",
      ]],
    },
    {
      name: "two slots: both go out at once",
      slots: 2,
      rc1: 0,
      want: [[], [], ["perEngine"], ["assign"], ["assign"], [], ["record"], [], ["record", "stopEngine"], [
        "finish",
      ]],
    },
    {
      name: "a failure is recorded like a success (no -e)",
      slots: 2,
      rc1: 1,
      want: [[], [], ["perEngine"], ["assign"], ["assign"], [], ["record"], [], ["record", "stopEngine"], [
        "finish",
      ]],
    },
  ];
  for (const c of cases) {
    const s = new Scheduler(OPTIONS);
    const got = smallRun(c.slots, c.rc1).map((e) => kinds(react(s, e)).filter((k) => k !== "log"));
    assert.deepEqual(got, c.want, c.name);
    assert.equal(s.phase, "done", c.name);
    assert.equal(s.snapshot().failed, c.rc1 === 0 ? 0 : 1, c.name);
  }
});

Deno.test("react() handles the events that only change state (no actions)", () => {
  const cases: { name: string; event: DriverEvent; check: (s: Scheduler) => void }[] = [
    {
      name: "engineComing keeps a run with no engine from ending",
      event: { kind: "engineComing", context: 0, now: 1 },
      check: (s) => {
        react(s, { kind: "item", item: { kind: "task", task: task(0) }, now: 2 });
        react(s, { kind: "tasksEnded", now: 2 });
        assert.equal(s.phase, "running");
      },
    },
    {
      name: "stopAt: a task that cannot finish before it does not start",
      event: { kind: "stopAt", stopAt: 5, now: 1 },
      check: (s) => {
        react(s, { kind: "engineJoined", rank: 0, context: 0, host: "n1", slots: 1, now: 6 });
        react(s, { kind: "tick", now: 6 });
        assert.equal(s.phase, "aborting");
        assert.equal(s.endedByWalltime, true);
      },
    },
    {
      name: "held: tasks of the last driver are held, not queued",
      event: { kind: "held", sent: [[0, 3]], until: 100, expected: [[3, 0]], now: 1 },
      check: (s) => assert.equal(s.heldCount, 1),
    },
    {
      name: "attempts: earlier attempts count toward DISBATCH_ATTEMPT",
      event: { kind: "attempts", attempts: [[0, [{ rc: 1, host: "n9" }]]], now: 1 },
      check: (s) => assert.equal(s.snapshot().retried, 1),
    },
  ];
  for (const c of cases) {
    const s = new Scheduler(OPTIONS);
    react(s, { kind: "contextJoined", id: 0, label: "L", taskLimit: 0, engines: 0, retires: false, now: 0 });
    assert.deepEqual(react(s, c.event), [], c.name);
    c.check(s);
  }
});

function stream(events: DriverEvent[], options = OPTIONS): string {
  const s = new Scheduler(options);
  const head: EventStreamHead = { disbatchEvents: EVENT_STREAM_VERSION, options };
  const lines = [JSON.stringify(head)];
  for (const e of events) {
    const seen = JSON.stringify(e);
    lines.push(`{"e":${seen},"a":${JSON.stringify(react(s, e))}}`);
  }
  return lines.join("\n") + "\n";
}

Deno.test("parseEventStream() reads a stream and refuses what is not one, naming the line", () => {
  const good = stream(smallRun(1, 0));
  assert.equal(parseEventStream(good).steps.length, 10);
  // A driver killed mid-write leaves a last line cut short: the rest replays.
  assert.equal(parseEventStream(good.slice(0, -20)).steps.length, 9);
  const cases: { text: string; error: RegExp }[] = [
    { text: "", error: /empty/ },
    { text: '{"hello":1}\n', error: /line 1: not a disbatch event stream of format 1/ },
    { text: '{"disbatchEvents":2,"options":{}}\n', error: /line 1: not a disbatch event stream/ },
    { text: good.replace(/\n\{"e"/, '\nnope\n{"e"'), error: /line 2: not JSON/ },
    { text: good.replace('"kind":"tick","now":14', '"kind":"tick"'), error: /line 9: a step must be/ },
    { text: good.replace(',"a":[]}', "}"), error: /line 2: a step must be/ },
  ];
  for (const c of cases) assert.throws(() => parseEventStream(c.text), c.error, c.text.slice(0, 60));
});

Deno.test("replay() finds a step whose actions differ from the recorded ones", () => {
  const { head, steps } = parseEventStream(stream(smallRun(1, 0)));
  assert.deepEqual(replay(head, steps).differences, []);
  const cases: { name: string; change: (s: EventStep[]) => void; line: number }[] = [
    {
      name: "a recorded return code that the replay does not give",
      change: (s) => {
        const a = s[6]!.a.find((x) => x.kind === "record")!;
        if (a.kind === "record") a.record.returnCode = 7;
      },
      line: 8,
    },
    {
      name: "an action the replay does not give",
      change: (s) => s[0]!.a.push({ kind: "stopEngine", rank: 0 }),
      line: 2,
    },
    {
      name: "an engine that joined with other slots (its join is logged otherwise)",
      change: (s) => {
        const e = s[1]!.e;
        if (e.kind === "engineJoined") e.slots = 2;
      },
      line: 3,
    },
  ];
  for (const c of cases) {
    const copy = structuredClone(steps);
    c.change(copy);
    const d = replay(head, copy).differences;
    assert.ok(d.length > 0, c.name);
    assert.equal(d[0]!.line, c.line, c.name);
  }
});

/** Recorded runs (`--event-log`) of real runs, with the status files those runs wrote. */
const RECORDED = [
  { name: "local_barrier_perengine", kinds: ["perEngineBlock", "item", "tasksDone", "engineGone"] },
  { name: "ssh_engine_killed", kinds: ["engineAway", "engineComing", "engineGone", "tasksDone"] },
  { name: "slurm_retire", kinds: ["contextJoined", "engineJoined", "tasksDone", "engineGone"] },
];

Deno.test("a recorded run replays: the same actions, and the status file it wrote", () => {
  for (const r of RECORDED) {
    const dir = new URL("../fixtures/replay/", import.meta.url);
    const { head, steps } = parseEventStream(Deno.readTextFileSync(new URL(`${r.name}.jsonl`, dir)));
    for (const k of r.kinds) assert.ok(steps.some((s) => s.e.kind === k), `${r.name} has a ${k} event`);
    const { scheduler, differences } = replay(head, steps);
    assert.deepEqual(differences, [], r.name);
    assert.equal(scheduler.phase, "done", r.name);
    const records: StatusRecord[] = steps.flatMap((s) =>
      s.a.flatMap((a) => a.kind === "record" ? [a.record] : [])
    );
    const status = Deno.readTextFileSync(new URL(`${r.name}.status.txt`, dir)).split("\n").filter(Boolean);
    assert.deepEqual(records.map(formatStatusRecord), status, `${r.name}: the status file's lines, in order`);
  }
});

Deno.test("the ssh recording holds a lost engine's tasks run again; the slurm one retires nodes", () => {
  const dir = new URL("../fixtures/replay/", import.meta.url);
  const read = (n: string) => parseEventStream(Deno.readTextFileSync(new URL(`${n}.jsonl`, dir))).steps;
  const ssh = read("ssh_engine_killed");
  const lost = ssh.find((s) => s.e.kind === "engineGone" && s.e.end.kind === "lost");
  assert.ok(lost, "an engine lost");
  assert.ok(lost.a.some((a) => a.kind === "attempt"), "its tasks' attempts are kept, and they run again");
  const slurm = read("slurm_retire");
  assert.ok(
    slurm.some((s) => s.e.kind === "contextJoined" && s.e.retires),
    "the Slurm context gives nodes back",
  );
  assert.ok(
    slurm.some((s) => s.e.kind === "tasksDone" && s.a.some((a) => a.kind === "stopEngine")),
    "an idle engine of it is stopped while tasks still run",
  );
});

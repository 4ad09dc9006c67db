import assert from "node:assert/strict";
import { formatDuration, leftForResume, progressLine, summaryLines } from "../../lib/progress_view.ts";
import type { SchedulerSnapshot } from "../../lib/scheduler.ts";
import type { StatusRecord } from "../../lib/types.ts";

/** An SGR colour sequence. */
const ESC_RE = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g");

function snap(o: Partial<SchedulerSnapshot> = {}): SchedulerSnapshot {
  const engine = {
    rank: 0,
    context: 0,
    host: "vm",
    slots: 2,
    state: "active",
    running: 2,
    assigned: 7,
    finished: 5,
    failed: 0,
  };
  return {
    finished: 5,
    failed: 0,
    barriers: 0,
    skipped: 0,
    running: 2,
    queued: 3,
    slots: 2,
    engines: [engine, { ...engine, rank: 1, state: "gone", running: 0 }],
    contexts: [],
    phase: "running",
    tasksEnded: true,
    retried: 0,
    timedOut: 0,
    quarantined: [],
    ...o,
  };
}

function failure(taskId: number, command: string): StatusRecord {
  return {
    flags: "R   ",
    taskId,
    line: taskId + 1,
    repeatIndex: -1,
    host: "vm",
    pid: 1,
    returnCode: 2,
    elapsed: 0,
    start: 0,
    end: 0,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    command,
  };
}

Deno.test("formatDuration() is short and picks its unit", () => {
  const cases: [number, string][] = [
    [0, "0.00s"],
    [0.123, "0.12s"],
    [9.5, "9.50s"],
    [12.34, "12.3s"],
    [59.4, "59.4s"],
    [60, "1m00s"],
    [125.9, "2m05s"],
    [3599, "59m59s"],
    [3600, "1h00m"],
    [3725, "1h02m"],
    [90000, "25h00m"],
    [-1, "?"],
    [NaN, "?"],
    [Infinity, "?"],
  ];
  for (const [s, want] of cases) assert.equal(formatDuration(s), want, String(s));
});

Deno.test("progressLine() shows counts, a total, live engines, rate and ETA", () => {
  const cases: {
    s: Partial<SchedulerSnapshot>;
    rate: number | undefined;
    total?: number;
    want: string;
  }[] = [
    {
      s: {},
      rate: 4.5,
      want:
        "disbatch 12.3s | done 5/10 | failed 0 | running 2 | queued 3 | 1 engine(s)/2 slot(s) 4.5/s eta 1.11s",
    },
    {
      s: { tasksEnded: false },
      rate: 25,
      want: "disbatch 12.3s | done 5 | failed 0 | running 2 | queued 3+ | 1 engine(s)/2 slot(s) 25/s",
    },
    // A regular file was counted before the run: total and ETA from the start.
    {
      s: { tasksEnded: false, queued: 4 },
      rate: 2,
      total: 2000,
      want:
        "disbatch 12.3s | done 5/2000 | failed 0 | running 2 | queued 1993 | 1 engine(s)/2 slot(s) 2.0/s eta 16m37s",
    },
    // A resume: skipped tasks are done.
    {
      s: { tasksEnded: false, skipped: 1500 },
      rate: undefined,
      total: 2000,
      want: "disbatch 12.3s | done 1505/2000 | failed 0 | running 2 | queued 493 | 1 engine(s)/2 slot(s)",
    },
    {
      s: {},
      rate: undefined,
      want: "disbatch 12.3s | done 5/10 | failed 0 | running 2 | queued 3 | 1 engine(s)/2 slot(s)",
    },
    {
      s: { failed: 2 },
      rate: 0,
      want: "disbatch 12.3s | done 5/10 | failed 2 | running 2 | queued 3 | 1 engine(s)/2 slot(s) 0.0/s",
    },
  ];
  for (const { s, rate, total, want } of cases) {
    assert.equal(progressLine(snap(s), { rate, elapsed: 12.34, columns: 200, color: false, total }), want);
  }
});

Deno.test("progressLine() paints failures red only with colours", () => {
  const line = progressLine(snap({ failed: 2 }), { rate: undefined, elapsed: 1, columns: 200, color: true });
  assert.ok(line.includes("\x1b[31mfailed 2\x1b[0m"), JSON.stringify(line));
  const calm = progressLine(snap(), { rate: undefined, elapsed: 1, columns: 200, color: true });
  assert.ok(!calm.includes("\x1b"), JSON.stringify(calm));
});

Deno.test("progressLine() fits the terminal width", () => {
  for (const columns of [10, 21, 40, 60, 80]) {
    for (const color of [false, true]) {
      const line = progressLine(snap({ failed: 3 }), { rate: 3, elapsed: 1000, columns, color });
      const visible = line.replaceAll(ESC_RE, "");
      assert.ok(visible.length <= Math.max(20, columns - 1), `${columns}: ${JSON.stringify(line)}`);
      assert.ok(line.startsWith("disbatch 16m40s"), line);
    }
  }
});

Deno.test("summaryLines() says what a run stopped early never started", () => {
  const o = { wall: 2.5, statusPath: "s.txt", failures: [], color: false };
  assert.equal(
    summaryLines(snap({ queued: 4, killed: 1, failed: 0 }), o)[0],
    "disbatch: 5 task(s) run, 0 failed, 1 killed as the run ended (a resume runs them again), 4 not started " +
      "(a resume runs them) in 2.50s (2.00 tasks/s)",
  );
  // The task file was not read to its end: at least that many.
  assert.match(
    summaryLines(snap({ queued: 2, tasksEnded: false }), o)[0]!,
    /, 2\+ not started \(a resume runs them\)/,
  );
  assert.doesNotMatch(summaryLines(snap({ queued: 0 }), o)[0]!, /not started/);
  // Tasks that ran on an engine lost as the run was killed (scancel) were not recorded: killed,
  // not "not started".
  assert.match(
    summaryLines(snap({ finished: 0, tasksSeen: 40, running: 0, lostAtEnd: 1 }), o)[0]!,
    /^disbatch: 0 task\(s\) run, 0 failed, 1 killed with their engine as the run ended \(not recorded; a resume runs them again\), 39 not started /,
  );
});

Deno.test("summaryLines() names the attempts file only when there is one", () => {
  const o = { wall: 2.5, statusPath: "/w/T_status.txt", failures: [], color: false };
  assert.equal(
    summaryLines(snap({ retried: 2, queued: 0 }), { ...o, attemptsPath: "/w/T_attempts.txt" })[1],
    "disbatch: 2 attempt(s) did not count (retries, lost engines); earlier attempts: /w/T_attempts.txt",
  );
  assert.equal(
    summaryLines(snap({ retried: 2, queued: 0 }), o)[1],
    "disbatch: 2 attempt(s) did not count (retries, lost engines)",
  );
});

Deno.test("summaryLines() sums up the run and lists the first failures", () => {
  assert.deepEqual(
    summaryLines(snap({ failed: 0, queued: 0 }), {
      wall: 2.5,
      statusPath: "/w/T_status.txt",
      failures: [],
      color: false,
    }),
    ["disbatch: 5 task(s) run, 0 failed in 2.50s (2.00 tasks/s)", "disbatch: status file /w/T_status.txt"],
  );
  // Killed tasks are not failures; time limits without retries say nothing of attempts.
  assert.deepEqual(
    summaryLines(snap({ failed: 1, killed: 2, timedOut: 1, retried: 0, queued: 0 }), {
      wall: 2.5,
      statusPath: "/w/T_status.txt",
      failures: [],
      color: false,
    }).slice(0, 2),
    [
      "disbatch: 5 task(s) run, 1 failed, 2 killed as the run ended (a resume runs them again) in 2.50s (2.00 tasks/s)",
      "disbatch: 1 stopped at their time limit",
    ],
  );
  // Just under 10 tasks/s rounds to 10, as 10 and above are written.
  assert.match(
    summaryLines(snap({ failed: 0, finished: 9996, queued: 0 }), {
      wall: 1000,
      statusPath: "/w/T_status.txt",
      failures: [],
      color: false,
    })[0]!,
    / \(10 tasks\/s\)$/,
  );
  const failures = [
    failure(0, "exit 2"),
    failure(3, "x".repeat(70)),
    failure(4, "false"),
    failure(6, "not shown"),
  ];
  assert.deepEqual(
    summaryLines(snap({ finished: 1200, failed: 5, skipped: 4, barriers: 2, queued: 0 }), {
      wall: 60,
      statusPath: "s.txt",
      failures,
      color: false,
    }),
    [
      "disbatch: 1200 task(s) run, 5 failed, 4 skipped (resume), 2 barrier(s) in 1m00s (20 tasks/s)",
      "  failed: task 0 line 1 exit 2: exit 2",
      `  failed: task 3 line 4 exit 2: ${"x".repeat(57)}...`,
      "  failed: task 4 line 5 exit 2: false",
      "  … and 2 more (flag R in the status file)",
      "disbatch: status file s.txt",
    ],
  );
  const red = summaryLines(snap({ failed: 1, queued: 0 }), {
    wall: 0,
    statusPath: "s",
    failures: [failure(0, "x")],
    color: true,
  });
  assert.equal(red[0], "disbatch: 5 task(s) run, 1 failed in 0.00s (0.00 tasks/s)");
  assert.equal(red[1], "\x1b[31m  failed: task 0 line 1 exit 2: x\x1b[0m");
});

Deno.test("leftForResume(): a run stopped by a signal prints the resume command when anything is left for it", () => {
  const cases: [Partial<SchedulerSnapshot>, boolean, string][] = [
    [{ tasksSeen: 4, finished: 4, running: 0 }, false, "all done"],
    [{ tasksSeen: 4, finished: 3, running: 0 }, true, "one not started"],
    [{ tasksSeen: 4, finished: 4, running: 0, tasksEnded: false }, true, "the file not read to its end"],
    [{ tasksSeen: 4, finished: 4, running: 0, killed: 1 }, true, "one recorded K"],
    [
      { tasksSeen: 4, finished: 2, running: 0, lostAtEnd: 2 },
      true,
      "two lost with their engine, not recorded",
    ],
  ];
  for (const [o, want, name] of cases) assert.equal(leftForResume(snap({ queued: 0, ...o })), want, name);
});

import assert from "node:assert/strict";
import * as report from "../../lib/report.ts";
import {
  isTask,
  parseStatusText,
  percentile,
  type ReportSummary,
  summarize,
} from "../../lib/report_summary.ts";
import { formatStatusRecord, type RecordKind } from "../../lib/status_record.ts";
import type { StatusRecord } from "../../lib/types.ts";

function record(over: Partial<StatusRecord>): StatusRecord {
  return {
    flags: "    ",
    taskId: 0,
    line: 1,
    repeatIndex: -1,
    host: "n1",
    pid: 1,
    returnCode: 0,
    elapsed: 1,
    start: 100,
    end: 101,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    command: "true",
    ...over,
  };
}

Deno.test("report_summary: lib/report.ts re-exports the numbers", () => {
  assert.equal(report.summarize, summarize);
  assert.equal(report.parseStatusText, parseStatusText);
  assert.equal(report.percentile, percentile);
});

Deno.test("parseStatusText() keeps records, skips the header and blank lines, counts the rest", () => {
  const line = formatStatusRecord(record({ taskId: 3, command: "echo hi" }));
  const cases: [string, number, number][] = [
    ["", 0, 0],
    ["\n  \n", 0, 0],
    [`${line}\n`, 1, 0],
    [`${line}\n${line}\nnot a status line\n`, 2, 1],
    ["junk\nmore junk", 0, 2],
  ];
  for (const [text, records, badLines] of cases) {
    const got = parseStatusText(text);
    assert.deepEqual([got.records.length, got.badLines], [records, badLines], JSON.stringify(text));
  }
  assert.equal(parseStatusText(line).records[0]!.command, "echo hi");
});

Deno.test("isTask() is true for a task's own lines only", () => {
  const cases: [RecordKind, boolean][] = [
    ["normal", true],
    ["killed", true],
    ["timeout", true],
    ["skip", false],
    ["zombie", false],
    ["perEngine", false],
    ["barrier", false],
  ];
  for (const [k, want] of cases) assert.equal(isTask(k), want, k);
});

Deno.test("percentile() interpolates between the sorted values", () => {
  const cases: [number[], number, number][] = [
    [[5], 0.5, 5],
    [[1, 2, 3, 4], 0, 1],
    [[1, 2, 3, 4], 1, 4],
    [[1, 2, 3, 4], 0.5, 2.5],
    [[0, 10], 0.9, 9],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9.1],
  ];
  for (const [sorted, q, want] of cases) {
    assert.ok(Math.abs(percentile(sorted, q) - want) < 1e-9, `${sorted} ${q}: ${percentile(sorted, q)}`);
  }
});

Deno.test("summarize() counts each kind of line and where it ran", () => {
  type Want = Partial<Omit<ReportSummary, "duration">> & { duration?: ReportSummary["duration"] };
  const cases: [string, StatusRecord[], Want][] = [
    ["nothing", [], {
      tasks: 0,
      wall: 0,
      throughput: 0,
      concurrency: 0,
      firstStart: null,
      lastEnd: null,
      duration: null,
      hosts: [],
    }],
    ["one ok, one failed on two hosts", [
      record({ host: "n10", start: 100, end: 102, elapsed: 2 }),
      record({ host: "n9", start: 100, end: 104, elapsed: 4, returnCode: 1 }),
    ], {
      tasks: 2,
      succeeded: 1,
      failed: 1,
      firstStart: 100,
      lastEnd: 104,
      wall: 4,
      taskTime: 6,
      throughput: 0.5,
      concurrency: 1.5,
      duration: { min: 2, mean: 3, median: 3, p90: 3.8, max: 4 },
      hosts: [
        { host: "n9", tasks: 1, failed: 1, busy: 4, failedAttempts: 0 },
        { host: "n10", tasks: 1, failed: 0, busy: 2, failedAttempts: 0 },
      ],
    }],
    ["killed and timed out count as failed", [
      record({ flags: "   K", returnCode: -9 }),
      record({ flags: "   T", returnCode: 124 }),
    ], { tasks: 2, failed: 2, killed: 1, timedOut: 1, succeeded: 0 }],
    ["skipped lines are outside the span", [
      record({ flags: "R  S", start: 10, end: 11 }),
      record({ start: 100, end: 101 }),
    ], { tasks: 1, skipped: 1, firstStart: 100, lastEnd: 101 }],
    ["barriers, per-engine lines and zombies are not tasks", [
      record({ flags: "B   ", start: 100, end: 110, elapsed: 0 }),
      record({ flags: "   P", returnCode: 2 }),
      record({ flags: "   P" }),
      record({ flags: "   Z" }),
    ], { tasks: 0, barriers: 1, perEngine: 2, perEngineFailed: 1, zombies: 1, wall: 10, duration: null }],
    ["a negative elapsed counts as 0", [record({ elapsed: -3 })], { tasks: 1, taskTime: 0 }],
    ["float noise is rounded away", [
      record({ start: 0.1, end: 0.3, elapsed: 0.1 }),
      record({ start: 0.1, end: 0.3, elapsed: 0.2 }),
    ], { wall: 0.2, taskTime: 0.3, concurrency: 1.5 }],
  ];
  for (const [name, records, want] of cases) {
    const s = summarize(records);
    for (const [k, v] of Object.entries(want)) {
      assert.deepEqual(s[k as keyof ReportSummary], v, `${name}: ${k}`);
    }
  }
});

Deno.test("summarize() adds the attempts, the quarantined hosts and each allocation's state", () => {
  const s = summarize(
    [record({ host: "n1" })],
    [record({ host: "n1", returnCode: 1 }), record({ host: "n2", returnCode: 1 })],
    [{ host: "n2", reason: "its engine was lost 2 times" }],
    [{ label: "A1", asked: "t", jobId: "7" }, { label: "A2", asked: "t", outcome: "not submitted: x" }],
  );
  assert.equal(s.attempts, 2);
  assert.deepEqual(s.hosts.map((h) => [h.host, h.tasks, h.failedAttempts]), [["n1", 1, 1], ["n2", 0, 1]]);
  assert.deepEqual(s.quarantined, [{ host: "n2", reason: "its engine was lost 2 times" }]);
  assert.deepEqual(s.allocations.map((a) => [a.label, a.state]), [["A1", "pending"], ["A2", "failed"]]);
});

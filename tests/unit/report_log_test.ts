import assert from "node:assert/strict";
import * as report from "../../lib/report.ts";
import {
  allocationsInLog,
  type LoggedAllocation,
  loggedAllocationState,
  quarantinedInLog,
} from "../../lib/report_log.ts";

const at = (s: number) => `2026-12-04 10:00:${String(s).padStart(2, "0")},123`;

Deno.test("report_log: lib/report.ts re-exports the log readers", () => {
  assert.equal(report.allocationsInLog, allocationsInLog);
  assert.equal(report.quarantinedInLog, quarantinedInLog);
  assert.equal(report.loggedAllocationState, loggedAllocationState);
});

Deno.test("quarantinedInLog() lists each quarantined host once, with its first reason", () => {
  const q = (host: string, why: string) =>
    `${at(1)} WARNING Host ${host} quarantined: ${why}; it gets no more tasks`;
  const cases: [string, { host: string; reason: string }[]][] = [
    ["", []],
    [`${at(0)} INFO nothing here\n`, []],
    [q("n3", "its engine was lost 2 times") + "\n", [{ host: "n3", reason: "its engine was lost 2 times" }]],
    [
      [q("n3", "first"), q("n1", "other"), q("n3", "second")].join("\n"),
      [{ host: "n3", reason: "first" }, { host: "n1", reason: "other" }],
    ],
    [`${at(1)} INFO Host n3 quarantined: x; it gets no more tasks\n`, []],
    [q("n3", "x") + " (later)\n", []],
  ];
  for (const [log, want] of cases) assert.deepEqual(quarantinedInLog(log), want, log);
});

Deno.test("allocationsInLog() follows each allocation through the log's lines", () => {
  const cases: [string, string[], LoggedAllocation[]][] = [
    ["no allocation", [`${at(0)} INFO Run started`], []],
    ["asked only", [`${at(0)} INFO Asking for allocation A1: 5 task(s) ready`], [{
      label: "A1",
      asked: "2026-12-04 10:00:00",
    }]],
    ["nodes asked", [`${at(0)} INFO Asking for allocation A1: 5 task(s) ready; 2 node(s) asked`], [{
      label: "A1",
      asked: "2026-12-04 10:00:00",
      nodesAsked: 2,
    }]],
    ["a whole life", [
      `${at(0)} INFO Asking for allocation A1: 5 task(s) ready`,
      `${at(1)} INFO Allocation A1 is Slurm job 75`,
      `${at(2)} INFO Allocation A1 (job 75) is running until 2026-12-04T11:00:00.000Z`,
      `${at(3)} INFO Allocation A1 (job 75) now ends at 2026-12-04T10:30:00.000Z`,
      `${at(4)} INFO Allocation A1 (job 75) holds 2 node(s): n[1-2]`,
      `${at(9)} INFO Allocation A1 (job 75) is over: its engines left`,
    ], [{
      label: "A1",
      asked: "2026-12-04 10:00:00",
      jobId: "75",
      running: "2026-12-04 10:00:02",
      endsAt: "2026-12-04T10:30:00.000Z",
      nodeCount: 2,
      nodes: "n[1-2]",
      ended: "2026-12-04 10:00:09",
      outcome: "its engines left",
    }]],
    ["unknown nodes, running without an end", [
      `${at(0)} INFO Asking for allocation A2: 1 task(s) ready`,
      `${at(1)} INFO Allocation A2 is running`,
      `${at(2)} INFO Allocation A2 holds 1 node(s): ?`,
    ], [{ label: "A2", asked: "2026-12-04 10:00:00", running: "2026-12-04 10:00:01", nodeCount: 1 }]],
    ["lines of an allocation never asked for are ignored", [
      `${at(1)} INFO Allocation A7 is Slurm job 80`,
    ], []],
    ["asked again: the later ask wins", [
      `${at(0)} INFO Asking for allocation A1: 5 task(s) ready`,
      `${at(1)} INFO Allocation A1 is Slurm job 75`,
      `${at(2)} INFO Asking for allocation A1: 3 task(s) ready`,
    ], [{ label: "A1", asked: "2026-12-04 10:00:02" }]],
  ];
  for (const [name, lines, want] of cases) {
    assert.deepEqual(allocationsInLog(lines.join("\n") + "\n"), want, name);
  }
});

Deno.test("loggedAllocationState() says where an allocation stood at the log's end", () => {
  const base: LoggedAllocation = { label: "A1", asked: "2026-12-04 10:00:00" };
  const cases: [Partial<LoggedAllocation>, string][] = [
    [{}, "submitting"],
    [{ jobId: "7" }, "pending"],
    [{ jobId: "7", running: "t" }, "running"],
    [{ jobId: "7", running: "t", outcome: "its engines left" }, "ended"],
    [{ jobId: "7", outcome: "cancelled at the end of the run" }, "cancelled"],
    [{ outcome: "not submitted: Invalid partition" }, "failed"],
  ];
  for (const [over, want] of cases) {
    assert.equal(loggedAllocationState({ ...base, ...over }), want, JSON.stringify(over));
  }
});

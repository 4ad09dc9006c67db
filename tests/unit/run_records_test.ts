import assert from "node:assert/strict";
import { barrierRecord, lostOutcome, recordOf, Tally } from "../../lib/run_records.ts";
import { TIMEOUT_RC } from "../../lib/scheduler_types.ts";
import type { StatusRecord, Task, TaskOutcome } from "../../lib/types.ts";

const t: Task = { id: 4, line: 9, repeatIndex: 2, command: "sleep 1" };

function outcome(o: Partial<TaskOutcome> = {}): TaskOutcome {
  return {
    id: 4,
    kind: "normal",
    slot: 0,
    pid: 77,
    returnCode: 0,
    start: 100,
    end: 102.5,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    killed: false,
    ...o,
  };
}

Deno.test("recordOf(): flags and return code of each kind of outcome", () => {
  const cases: { name: string; o: Partial<TaskOutcome>; kind?: "perEngine"; flags: string; rc: number }[] = [
    { name: "success", o: {}, flags: "    ", rc: 0 },
    { name: "failure", o: { returnCode: 3 }, flags: "R   ", rc: 3 },
    { name: "killed", o: { returnCode: -9, killed: true }, flags: "R  K", rc: -9 },
    { name: "time limit, exit 0: 124 as timeout(1)", o: { timedOut: true }, flags: "R  T", rc: TIMEOUT_RC },
    { name: "time limit, signal", o: { timedOut: true, returnCode: -15 }, flags: "R  T", rc: -15 },
    { name: "PERENGINE", o: {}, kind: "perEngine", flags: "   P", rc: 0 },
    { name: "output", o: { stdoutBytes: 5, stderrBytes: 1 }, flags: " OE ", rc: 0 },
  ];
  for (const c of cases) {
    const r = recordOf("n1", t, outcome(c.o), c.kind ?? "normal");
    assert.deepEqual([r.flags, r.returnCode], [c.flags, c.rc], c.name);
    assert.deepEqual([r.taskId, r.line, r.repeatIndex, r.host, r.pid, r.elapsed], [4, 9, 2, "n1", 77, 2.5]);
  }
});

Deno.test("lostOutcome() and barrierRecord()", () => {
  const lost = recordOf("n2", t, lostOutcome(t, 50, true), "normal");
  assert.deepEqual([lost.returnCode, lost.pid, lost.start, lost.end, lost.flags], [-100, -1, 50, 50, "R  K"]);
  const b = barrierRecord({ id: 5, line: 10, check: true, text: "#DISBATCH BARRIER CHECK" }, 40, 45, {
    host: "drv",
    pid: 1,
  });
  assert.deepEqual([b.flags, b.taskId, b.repeatIndex, b.host, b.elapsed, b.command], [
    "C    ",
    5,
    -1,
    "drv",
    5,
    "#DISBATCH BARRIER CHECK",
  ]);
});

Deno.test("Tally: failures counted, the first five kept, segments cut at barriers", () => {
  const tally = new Tally();
  for (let i = 0; i < 7; i++) tally.countFailure({ taskId: i } as StatusRecord);
  assert.equal(tally.failed, 7);
  assert.deepEqual(tally.firstFailures.map((r) => r.taskId), [0, 1, 2, 3, 4]);
  const cases: { name: string; ids: number[]; at?: number; judged: number[]; left: number[] }[] = [
    { name: "a barrier judges all", ids: [1, 2], judged: [1, 2], left: [] },
    { name: "a recorded barrier judges those before it", ids: [1, 5, 9], at: 6, judged: [1, 5], left: [9] },
    { name: "nothing failed", ids: [], at: 3, judged: [], left: [] },
  ];
  for (const c of cases) {
    const s = new Tally();
    for (const id of c.ids) s.segmentFailed(id, id + 1, 1);
    const judged = c.at === undefined ? s.passSegment() : s.passSegmentAt(c.at);
    assert.deepEqual(judged.map((f) => f.id), c.judged, c.name);
    assert.deepEqual(s.segment.map((f) => f.id), c.left, c.name);
  }
});

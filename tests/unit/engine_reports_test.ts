import assert from "node:assert/strict";
import { ReportBook } from "../../lib/engine_reports.ts";
import { KILL_GRACE_MS, KILL_WAIT_MS, SIGNAL_RCS } from "../../lib/engine_runner_types.ts";
import type { Task, TaskOutcome } from "../../lib/types.ts";

const task = (id: number): Task => ({ id, line: id + 1, repeatIndex: -1, command: `echo ${id}` });
const end = (id: number, kind: "normal" | "perEngine" = "normal") => ({ id, kind } as unknown as TaskOutcome);

type Step =
  | { add: number; perEngine?: boolean }
  | { take: number | undefined }
  | { ack: number }
  | { seal: true }
  | { held: number[]; tasks: number[] };

const cases: { name: string; steps: Step[] }[] = [
  {
    name: "ends go out numbered, in order, and stay until acknowledged",
    steps: [
      { add: 1 },
      { add: 2 },
      { take: 1 },
      { add: 3 },
      { held: [1, 2, 3], tasks: [1, 2, 3] },
      { take: 2 },
      { ack: 1 },
      { held: [3], tasks: [3] },
      { ack: 2 },
      { held: [], tasks: [] },
      { take: undefined },
    ],
  },
  {
    name: "PERENGINE ends are reported but have no task to hand back",
    steps: [{ add: 7, perEngine: true }, { add: 8 }, { held: [7, 8], tasks: [8] }, { take: 1 }],
  },
  {
    name: "after a resume, unsent ends count as sent: the next done has the next number",
    steps: [{ add: 1 }, { seal: true }, { held: [1], tasks: [1] }, { add: 2 }, { take: 2 }, { ack: 2 }, {
      held: [],
      tasks: [],
    }],
  },
];

for (const c of cases) {
  Deno.test(`ReportBook: ${c.name}`, () => {
    const b = new ReportBook();
    for (const s of c.steps) {
      if ("add" in s) {
        b.add(end(s.add, s.perEngine ? "perEngine" : "normal"), s.perEngine ? undefined : task(s.add));
      } else if ("take" in s) assert.equal(b.takeDone()?.seq, s.take);
      else if ("ack" in s) b.ack(s.ack);
      else if ("seal" in s) b.sealForResume();
      else {
        const h = b.held();
        assert.deepEqual(h.outcomes.map((o) => o.id), s.held);
        assert.deepEqual(h.tasks.map((t) => t.id), s.tasks);
      }
    }
  });
}

Deno.test("engine runner times: the kill's grace ends before the engine leaves; signal deaths of a job-wide signal", () => {
  assert.ok(KILL_GRACE_MS < KILL_WAIT_MS);
  for (const rc of [-1, -2, -9, -15, 129, 130, 137, 143]) assert.ok(SIGNAL_RCS.has(rc), String(rc));
  for (const rc of [0, 1, -11, 139, 255]) assert.ok(!SIGNAL_RCS.has(rc), String(rc));
});

import assert from "node:assert/strict";
import type { TaskState } from "../../lib/scheduler.ts";
import { SchedulerHarness } from "../helpers/scheduler_harness.ts";

/** Each step does something to the run, then says where tasks 0 and 1 stand. */
interface Step {
  name: string;
  run: (h: SchedulerHarness) => void;
  states: (TaskState | undefined)[];
}

Deno.test("Scheduler.taskState(): a task's state through a run", () => {
  const cases: {
    name: string;
    options?: ConstructorParameters<typeof SchedulerHarness>[0];
    steps: Step[];
  }[] = [
    {
      name: "one slot: queued, assigned, done",
      steps: [
        { name: "read", run: (h) => (h.engine(1), h.tasks("a\nb")), states: ["assigned", "queued"] },
        { name: "0 ends", run: (h) => void h.finish(0, 0), states: [undefined, "assigned"] },
        { name: "1 ends", run: (h) => void h.finish(1, 0), states: [undefined, undefined] },
      ],
    },
    {
      name: "a retry is requeued, then assigned again",
      options: { retries: 1 },
      steps: [
        {
          name: "read",
          run: (h) => (h.engine(1, { host: "x" }), h.engine(1, { host: "y" }), h.tasks("a\nb")),
          states: ["assigned", "assigned"],
        },
        {
          name: "0 fails on x, runs again on y once 1 is done",
          run: (h) => void h.finish(0, 3),
          states: ["requeued", "assigned"],
        },
        { name: "1 ends", run: (h) => void h.finish(1, 0), states: ["assigned", undefined] },
      ],
    },
    {
      name: "an engine lost: its task waits, then runs elsewhere",
      steps: [
        {
          name: "read",
          run: (h) => (h.context({ engines: 2 }), h.engine(1), h.tasks("a")),
          states: ["assigned", undefined],
        },
        { name: "lost", run: (h) => void h.gone(0, "connection reset"), states: ["waiting", undefined] },
        { name: "another engine", run: (h) => void h.engine(1), states: ["waiting", undefined] },
        { name: "the delay is over", run: (h) => void h.tick(2), states: ["assigned", undefined] },
      ],
    },
    {
      name: "a re-attached driver holds a task for its engine",
      steps: [
        {
          name: "held",
          run: (
            h,
          ) => (h.context({ engines: 1 }),
            h.scheduler.holdForEngines(new Map([[0, 7]]), h.now + 10, new Map([[7, 0]])),
            h.tasks("a\nb")),
          states: ["held", "queued"],
        },
        { name: "the hold ends", run: (h) => void h.tick(11), states: ["requeued", "queued"] },
      ],
    },
  ];
  for (const c of cases) {
    const h = new SchedulerHarness(c.options);
    for (const s of c.steps) {
      s.run(h);
      assert.deepEqual([0, 1].map((id) => h.scheduler.taskState(id)), s.states, `${c.name}: ${s.name}`);
    }
  }
});

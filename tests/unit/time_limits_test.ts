import assert from "node:assert/strict";
import { Durations, endsBy, neededAfterStop, taskToSend } from "../../lib/time_limits.ts";
import type { Task } from "../../lib/types.ts";

const base: Task = { id: 1, line: 2, repeatIndex: -1, command: "x" };

Deno.test("Durations.estimate(): the task's limit, else --timeout, else the median of successes", () => {
  const cases: { name: string; task: Task; timeout?: number; done: number[]; want: number | undefined }[] = [
    { name: "nothing known", task: base, done: [], want: undefined },
    { name: "its own limit", task: { ...base, timeout: 7 }, timeout: 3, done: [100], want: 7 },
    { name: "--timeout", task: base, timeout: 3, done: [100], want: 3 },
    { name: "--timeout 0 is none", task: base, timeout: 0, done: [4, 1, 9], want: 4 },
    { name: "median of an even count: the upper", task: base, done: [1, 2, 3, 10], want: 3 },
  ];
  for (const c of cases) {
    const d = new Durations();
    for (const x of c.done) d.add(x);
    assert.equal(d.estimate(c.task, c.timeout), c.want, c.name);
  }
});

Deno.test("Durations.estimate(): a task an earlier run stopped needs a little more than it ran there", () => {
  const cases: { name: string; task: Task; done: number[]; stopped: number; want: number }[] = [
    { name: "nothing else known", task: base, done: [], stopped: 40, want: 43 },
    { name: "the median is shorter", task: base, done: [5, 5, 5], stopped: 40, want: 43 },
    { name: "its limit is longer", task: { ...base, timeout: 100 }, done: [], stopped: 40, want: 100 },
    { name: "stopped at once", task: base, done: [], stopped: 0, want: 1 },
  ];
  for (const c of cases) {
    const d = new Durations();
    for (const x of c.done) d.add(x);
    assert.equal(d.estimate(c.task, undefined, c.stopped), c.want, c.name);
    assert.equal(neededAfterStop(c.stopped) > c.stopped, true, c.name);
  }
});

Deno.test("Durations: the median is sorted again every 50 successes, over the last 1001", () => {
  const d = new Durations();
  d.add(1);
  assert.equal(d.estimate(base, undefined), 1);
  for (let i = 0; i < 49; i++) d.add(100);
  assert.equal(d.estimate(base, undefined), 1, "cached until 50 more");
  d.add(100);
  assert.equal(d.estimate(base, undefined), 100);
  for (let i = 0; i < 2000; i++) d.add(5);
  assert.equal(d.estimate(base, undefined), 5, "old ones leave the ring");
});

Deno.test("endsBy() asks for the estimate only when there is an end", () => {
  const cases: {
    name: string;
    end: number | undefined;
    est: number | undefined;
    want: boolean;
    asked: boolean;
  }[] = [
    { name: "no end", end: undefined, est: 100, want: true, asked: false },
    { name: "fits", end: 20, est: 10, want: true, asked: true },
    { name: "just fits", end: 20, est: 20, want: true, asked: true },
    { name: "too long", end: 20, est: 21, want: false, asked: true },
    { name: "unknown: benefit of the doubt", end: 20, est: undefined, want: true, asked: true },
    { name: "unknown, end passed", end: -1, est: undefined, want: false, asked: true },
  ];
  for (const c of cases) {
    let asked = false;
    const got = endsBy(0, c.end, () => (asked = true, c.est));
    assert.deepEqual([got, asked], [c.want, c.asked], c.name);
  }
});

Deno.test("taskToSend() adds the attempt and the run's --timeout, and leaves a plain task as it is", () => {
  const cases: { name: string; task: Task; attempt: number; timeout?: number; want: Task; same: boolean }[] =
    [
      { name: "plain", task: base, attempt: 0, want: base, same: true },
      {
        name: "its own limit",
        task: { ...base, timeout: 4 },
        attempt: 0,
        timeout: 9,
        want: { ...base, timeout: 4 },
        same: true,
      },
      { name: "--timeout", task: base, attempt: 0, timeout: 9, want: { ...base, timeout: 9 }, same: false },
      { name: "a retry", task: base, attempt: 2, want: { ...base, attempt: 2 }, same: false },
      {
        name: "a retry with its own limit",
        task: { ...base, timeout: 4 },
        attempt: 1,
        timeout: 9,
        want: { ...base, timeout: 4, attempt: 1 },
        same: false,
      },
    ];
  for (const c of cases) {
    const got = taskToSend(c.task, c.attempt, c.timeout);
    assert.deepEqual(got, c.want, c.name);
    assert.equal(got === c.task, c.same, c.name);
  }
});

import assert from "node:assert/strict";
import { ALLOC_DEFAULTS, type AllocAction, AllocPolicy, type Work } from "../../lib/allocator.ts";

const T0 = 1_796_000_000;

function work(ready: number, free: Record<string, number> = {}, over = false): Work {
  return { ready, freeSlots: new Map(Object.entries(free)), over };
}

const submits = (a: AllocAction[]) =>
  a.filter((x) => x.kind === "submit").map((x) => (x as { label: string }).label);

Deno.test("AllocPolicy asks while ready work exceeds room, up to the cap, one pending at a time", () => {
  const p = new AllocPolicy({ ...ALLOC_DEFAULTS, maxAllocs: 3 });
  assert.deepEqual(submits(p.decide(T0, work(0))), [], "no work, no allocation");
  assert.deepEqual(submits(p.decide(T0, work(50))), ["A1"]);
  assert.deepEqual(submits(p.decide(T0 + 1, work(50))), [], "backlog 1: A1 still submitting");
  p.submitted("A1", "101", T0 + 1);
  assert.deepEqual(submits(p.decide(T0 + 2, work(50))), [], "backlog 1: A1 pending");
  p.started("A1", T0 + 3);
  p.slots("A1", 4);
  assert.deepEqual(submits(p.decide(T0 + 3, work(50, { A1: 0 }))), ["A2"]);
  p.submitted("A2", "102", T0 + 3);
  p.started("A2", T0 + 4);
  assert.deepEqual(submits(p.decide(T0 + 4, work(50, { A1: 0, A2: 0 }))), ["A3"]);
  p.submitted("A3", "103", T0 + 4);
  p.started("A3", T0 + 5);
  assert.deepEqual(submits(p.decide(T0 + 5, work(50, { A1: 0, A2: 0, A3: 0 }))), [], "at the cap");
  // Room for the ready work: nothing more even below the cap.
  p.contextGone("A3", T0 + 6);
  assert.deepEqual(submits(p.decide(T0 + 6, work(3, { A1: 2, A2: 1 }))), []);
  assert.deepEqual(submits(p.decide(T0 + 6, work(4, { A1: 2, A2: 1 }))), ["A4"]);
});

Deno.test("AllocPolicy counts a pending allocation as the slots the last one brought", () => {
  const p = new AllocPolicy({ ...ALLOC_DEFAULTS, maxAllocs: 5, backlog: 2 });
  p.decide(T0, work(10));
  p.submitted("A1", "1", T0);
  p.started("A1", T0 + 1);
  p.slots("A1", 8);
  p.decide(T0 + 1, work(10, { A1: 0 })); // A2: 10 > 0
  p.submitted("A2", "2", T0 + 1);
  assert.deepEqual(submits(p.decide(T0 + 2, work(8, { A1: 0 }))), [], "A2 will bring 8");
  assert.deepEqual(
    submits(p.decide(T0 + 2, work(9, { A1: 0 }))),
    ["A3"],
    "backlog 2 allows a second pending",
  );
});

Deno.test("AllocPolicy asks for a replacement when a running allocation nears its end (chaining)", () => {
  const p = new AllocPolicy({ ...ALLOC_DEFAULTS, maxAllocs: 1 });
  p.decide(T0, work(100));
  p.submitted("A1", "7", T0);
  p.started("A1", T0 + 5, T0 + 5 + 3600);
  assert.deepEqual(submits(p.decide(T0 + 100, work(100, { A1: 0 }))), [], "at the cap of 1");
  // 60 s before its end (at most half its life) it no longer counts: its replacement goes out.
  assert.deepEqual(submits(p.decide(T0 + 5 + 3600 - 59, work(100, { A1: 0 }))), ["A2"]);
  // A short allocation: half its life.
  const q = new AllocPolicy({ ...ALLOC_DEFAULTS, maxAllocs: 1 });
  q.decide(T0, work(100));
  q.submitted("A1", "8", T0);
  q.started("A1", T0, T0 + 60);
  assert.deepEqual(submits(q.decide(T0 + 29, work(100, { A1: 0 }))), []);
  assert.deepEqual(submits(q.decide(T0 + 31, work(100, { A1: 0 }))), ["A2"]);
});

Deno.test("AllocPolicy backs off after failures and pauses after three in a row, saying why", () => {
  const p = new AllocPolicy({ ...ALLOC_DEFAULTS, maxAllocs: 4 });
  let t = T0;
  const waits: number[] = [];
  for (let i = 0; i < 3; i++) {
    const [label] = submits(p.decide(t, work(10)));
    assert.ok(label, `a submission at failure ${i}`);
    const logs = p.submitFailed(label, "sbatch: error: Batch job submission failed: Invalid partition", t);
    if (i < 2) {
      const wait = Number(/asking again in (\d+) s/.exec((logs[0] as { message: string }).message)?.[1]);
      waits.push(wait);
      assert.deepEqual(submits(p.decide(t + wait - 1, work(10))), [], "not before the back-off");
      t += wait;
    } else {
      assert.match((logs[0] as { message: string }).message, /pauses for 10 min after 3 failures in a row/);
    }
  }
  assert.deepEqual(waits, [5, 10]);
  assert.match(p.pausedWhy(t + 1) ?? "", /Invalid partition/);
  assert.deepEqual(submits(p.decide(t + 599, work(10))), [], "paused");
  assert.deepEqual(submits(p.decide(t + 601, work(10))).length, 1, "tries again after the pause");
});

Deno.test("AllocPolicy: an allocation gone from the queue before its engines joined is a failure", () => {
  const p = new AllocPolicy({ ...ALLOC_DEFAULTS, maxAllocs: 2 });
  p.decide(T0, work(10));
  p.submitted("A1", "5", T0);
  assert.deepEqual(p.observed("5", { state: "PENDING", nodes: "" }, T0 + 5), []);
  const a = p.observed("5", undefined, T0 + 10);
  assert.match(
    (a[0] as { message: string }).message,
    /A1 \(job 5\) ended before its engines joined; asking again in 5 s/,
  );
  assert.equal(p.allocations[0]!.state, "ended");
});

Deno.test("AllocPolicy.close() cancels every allocation not over, and one submitted later", () => {
  const p = new AllocPolicy({ ...ALLOC_DEFAULTS, maxAllocs: 3, backlog: 3 });
  p.decide(T0, work(30));
  p.decide(T0, work(30));
  p.decide(T0, work(30));
  p.submitted("A1", "11", T0);
  p.submitted("A2", "12", T0);
  p.started("A1", T0 + 1);
  p.contextGone("A1", T0 + 2);
  assert.deepEqual(p.close(T0 + 3), [{ kind: "cancel", jobId: "12", label: "A2" }]);
  assert.deepEqual(p.submitted("A3", "13", T0 + 4), [{ kind: "cancel", jobId: "13", label: "A3" }]);
  assert.deepEqual(p.decide(T0 + 5, work(30)), [], "nothing after the end");
});

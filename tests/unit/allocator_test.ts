import assert from "node:assert/strict";
import {
  ALLOC_DEFAULTS,
  type AllocAction,
  type Allocation,
  allocationOverLine,
  allocationStatus,
  allocationText,
  AllocPolicy,
  capacityByLabel,
  type Work,
} from "../../lib/allocator.ts";

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

Deno.test("AllocPolicy: a pending job that Slurm says cannot start is cancelled and counts as a failure", () => {
  const cases: { reason: string; cancelled: boolean }[] = [
    { reason: "Resources", cancelled: false },
    { reason: "Priority", cancelled: false },
    { reason: "BeginTime", cancelled: false },
    { reason: "PartitionInactive", cancelled: true },
    { reason: "PartitionDown", cancelled: true },
    { reason: "AccountNotAllowed", cancelled: true },
  ];
  for (const c of cases) {
    const p = new AllocPolicy({ ...ALLOC_DEFAULTS, maxAllocs: 2 });
    p.decide(T0, work(10));
    p.submitted("A1", "5", T0);
    const out = p.observed("5", { state: "PENDING", nodes: "", reason: c.reason }, T0 + 5);
    if (!c.cancelled) {
      assert.deepEqual(out, [], c.reason);
      assert.equal(p.allocations[0]!.state, "pending", c.reason);
      continue;
    }
    assert.deepEqual(out[0], { kind: "cancel", jobId: "5", label: "A1" }, c.reason);
    assert.match(
      (out[1] as { message: string }).message,
      new RegExp(`A1 \\(job 5\\) cannot start \\(Slurm: ${c.reason}\\); asking again in 5 s`),
    );
    assert.equal(p.allocations[0]!.state, "ended", c.reason);
    assert.equal(p.allocations[0]!.outcome, `cannot start: ${c.reason}`);
    assert.deepEqual(p.observed("5", undefined, T0 + 6), [], "its end later is not a second failure");
    assert.deepEqual(p.decide(T0 + 9, work(10)), [], "backs off");
    assert.equal(p.decide(T0 + 11, work(10)).filter((a) => a.kind === "submit").length, 1, "then asks again");
  }
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

/** One event of a node-cap case: the policy is fed in order, time in each event. */
type NodeEvent =
  | { t: number; decide: number; free?: Record<string, number>; want: string[]; why: string }
  | { t: number; submitted: string; job: string }
  | { t: number; failed: string }
  | { t: number; started: string; endsAt?: number }
  | { t: number; squeue: string; state: string; nodes: string; count: number }
  | { t: number; gone: string };

Deno.test("AllocPolicy keeps the nodes of the allocations alive within --max-alloc-nodes", () => {
  const cases: {
    name: string;
    opts: { maxAllocs: number; backlog: number; nodesPerAlloc: number; maxNodes?: number };
    events: NodeEvent[];
  }[] = [
    {
      name: "no cap: only --max-allocs and the backlog limit",
      opts: { maxAllocs: 3, backlog: 3, nodesPerAlloc: 4 },
      events: [
        { t: 0, decide: 50, want: ["A1"], why: "first" },
        { t: 0, decide: 50, want: ["A2"], why: "second" },
        { t: 0, decide: 50, want: ["A3"], why: "third" },
        { t: 0, decide: 50, want: [], why: "at --max-allocs" },
      ],
    },
    {
      name: "-N 2 under a cap of 4: two allocations, the third once one is over",
      opts: { maxAllocs: 5, backlog: 5, nodesPerAlloc: 2, maxNodes: 4 },
      events: [
        { t: 0, decide: 50, want: ["A1"], why: "2 of 4" },
        { t: 0, decide: 50, want: ["A2"], why: "4 of 4" },
        { t: 1, decide: 50, want: [], why: "a third would hold 6 nodes" },
        { t: 2, submitted: "A1", job: "11" },
        { t: 3, started: "A1" },
        { t: 4, decide: 50, free: { A1: 0 }, want: [], why: "running, still 2 nodes" },
        { t: 5, gone: "A1" },
        { t: 6, decide: 50, want: ["A3"], why: "A1 gave its nodes back" },
      ],
    },
    {
      name: "a cap that is not a multiple: -N 2 under 5 stops at two",
      opts: { maxAllocs: 5, backlog: 5, nodesPerAlloc: 2, maxNodes: 5 },
      events: [
        { t: 0, decide: 50, want: ["A1"], why: "2" },
        { t: 0, decide: 50, want: ["A2"], why: "4" },
        { t: 0, decide: 50, want: [], why: "6 > 5" },
      ],
    },
    {
      name: "-N 2-4: a pending one counts 4, a running one what Slurm gave it",
      opts: { maxAllocs: 5, backlog: 5, nodesPerAlloc: 4, maxNodes: 6 },
      events: [
        { t: 0, decide: 50, want: ["A1"], why: "4 of 6" },
        { t: 1, submitted: "A1", job: "21" },
        { t: 2, squeue: "21", state: "PENDING", nodes: "", count: 2 },
        { t: 3, decide: 50, want: [], why: "a pending job's count is the least of its range: 4 still" },
        { t: 4, squeue: "21", state: "RUNNING", nodes: "n[1-2]", count: 2 },
        { t: 5, decide: 50, want: ["A2"], why: "A1 runs on 2: 2 + 4 = 6" },
        { t: 6, decide: 50, want: [], why: "6 of 6" },
      ],
    },
    {
      name: "an allocation about to end still holds its nodes: its successor waits for them",
      opts: { maxAllocs: 1, backlog: 1, nodesPerAlloc: 1, maxNodes: 1 },
      events: [
        { t: 0, decide: 50, want: ["A1"], why: "1 of 1" },
        { t: 1, submitted: "A1", job: "31" },
        { t: 2, started: "A1", endsAt: 3602 },
        {
          t: 3560,
          decide: 50,
          free: { A1: 0 },
          want: [],
          why: "--max-allocs would let A2 go, the node cap not",
        },
        { t: 3603, gone: "A1" },
        { t: 3603, decide: 50, want: ["A2"], why: "A1 is over" },
      ],
    },
    {
      name: "a submission that failed holds nothing",
      opts: { maxAllocs: 3, backlog: 3, nodesPerAlloc: 2, maxNodes: 2 },
      events: [
        { t: 0, decide: 50, want: ["A1"], why: "2 of 2" },
        { t: 1, failed: "A1" },
        { t: 6, decide: 50, want: ["A2"], why: "after the back-off, A1's nodes are free" },
      ],
    },
  ];
  for (const c of cases) {
    const p = new AllocPolicy({ ...ALLOC_DEFAULTS, ...c.opts });
    for (const e of c.events) {
      const at = `${c.name}, t=${e.t}`;
      if ("decide" in e) {
        assert.deepEqual(submits(p.decide(T0 + e.t, work(e.decide, e.free))), e.want, `${at}: ${e.why}`);
      } else if ("submitted" in e) p.submitted(e.submitted, e.job, T0 + e.t);
      else if ("failed" in e) p.submitFailed(e.failed, "Invalid partition", T0 + e.t);
      else if ("started" in e) {
        p.started(e.started, T0 + e.t, e.endsAt === undefined ? undefined : T0 + e.endsAt);
      } else if ("squeue" in e) {
        p.observed(e.squeue, { state: e.state, nodes: e.nodes, nodeCount: e.count }, T0 + e.t);
      } else p.contextGone(e.gone, T0 + e.t);
    }
    assert.ok(p.allocations.every((a) => a.nodesAsked === c.opts.nodesPerAlloc), c.name);
  }
});

Deno.test("AllocPolicy says in its log line how many nodes it asks for and holds under the cap", () => {
  const p = new AllocPolicy({ ...ALLOC_DEFAULTS, maxAllocs: 4, nodesPerAlloc: 2, maxNodes: 8 });
  p.decide(T0, work(10));
  p.submitted("A1", "1", T0);
  p.started("A1", T0 + 1);
  const [log] = p.decide(T0 + 2, work(10, { A1: 0 }));
  assert.match(
    (log as { message: string }).message,
    /^Asking for allocation A2: .*\(1 allocation\(s\) alive, at most 4; 2 node\(s\) asked, 2 held, at most 8\)$/,
  );
});

Deno.test("allocationStatus() and allocationText() tell how each allocation stands", () => {
  const base: Allocation = { label: "A1", jobId: "7", state: "pending", submittedAt: 0, nodesAsked: 2 };
  const cases: { a: Allocation; status: string; text: string }[] = [
    {
      a: { ...base, state: "submitting", jobId: undefined },
      status: "submitting",
      text: "allocation A1: being submitted, 2 node(s) asked",
    },
    { a: base, status: "pending", text: "allocation A1 (job 7): pending for 30 s, 2 node(s) asked" },
    {
      a: { ...base, state: "running", startedAt: 10, endsAt: 400, nodes: "n[1-2]", nodeCount: 2, slots: 8 },
      status: "running",
      text: "allocation A1 (job 7): running on n[1-2], 2 node(s), started 20 s ago, ends in 6m10s, 8 slot(s)",
    },
    {
      a: {
        ...base,
        state: "ended",
        startedAt: 10,
        endedAt: 25,
        nodeCount: 1,
        outcome: "its engines finished",
      },
      status: "ended",
      text: "allocation A1 (job 7): ended (its engines finished), 1 node(s), started 20 s ago, ended 5 s ago",
    },
    {
      a: { ...base, state: "ended", endedAt: 20, outcome: "cancelled at the end of the run" },
      status: "cancelled",
      text:
        "allocation A1 (job 7): cancelled (cancelled at the end of the run), 2 node(s) asked, ended 10 s ago",
    },
    {
      a: { ...base, state: "ended", endedAt: 20, outcome: "ended before its engines joined" },
      status: "failed",
      text:
        "allocation A1 (job 7): failed (ended before its engines joined), 2 node(s) asked, ended 10 s ago",
    },
  ];
  for (const c of cases) {
    assert.equal(allocationStatus(c.a), c.status, c.text);
    assert.equal(allocationText(c.a, 30), c.text);
  }
});

Deno.test("AllocPolicy.close(): pending ones are cancelled, running ones end with the run", () => {
  const p = new AllocPolicy({ ...ALLOC_DEFAULTS, maxAllocs: 2, backlog: 2 });
  p.decide(T0, work(30));
  p.decide(T0, work(30));
  p.submitted("A1", "11", T0);
  p.submitted("A2", "12", T0);
  p.started("A1", T0 + 1);
  p.close(T0 + 2);
  assert.deepEqual(
    p.allocations.map((a) => [a.label, allocationStatus(a), a.outcome]),
    [["A1", "ended", "ended with the run"], ["A2", "cancelled", "cancelled at the end of the run"]],
  );
  assert.deepEqual(p.allocations.map(allocationOverLine), [
    "Allocation A1 (job 11) is over: ended with the run",
    "Allocation A2 (job 12) is over: cancelled at the end of the run",
  ]);
});

Deno.test("capacityByLabel() sums the active engines' slots, free slots and nodes per context label", () => {
  const engine = (
    rank: number,
    context: number,
    host: string,
    slots: number,
    running: number,
    state = "active",
  ) => ({
    rank,
    context,
    host,
    slots,
    state,
    running,
    assigned: 0,
    finished: 0,
    failed: 0,
  });
  const contexts = [
    { id: 0, label: "A1", taskLimit: 0, assigned: 0, engines: 2 },
    { id: 1, label: "A2", taskLimit: 0, assigned: 0, engines: 1 },
  ];
  const cases: {
    name: string;
    engines: ReturnType<typeof engine>[];
    free: [string, number][];
    slots: [string, number, string][];
  }[] = [
    { name: "no engine", engines: [], free: [], slots: [] },
    {
      name: "two labels",
      engines: [engine(0, 0, "n1", 4, 1), engine(1, 0, "n2", 2, 2), engine(2, 1, "n3", 3, 0)],
      free: [["A1", 3], ["A2", 3]],
      slots: [["A1", 6, "n1,n2"], ["A2", 3, "n3"]],
    },
    {
      name: "stopping and gone engines do not count",
      engines: [
        engine(0, 0, "n1", 4, 1, "stopping"),
        engine(1, 0, "n2", 2, 0),
        engine(2, 1, "n3", 3, 0, "gone"),
      ],
      free: [["A1", 2]],
      slots: [["A1", 2, "n2"]],
    },
    {
      name: "more running than slots is no free slot",
      engines: [engine(0, 1, "n1", 1, 2)],
      free: [["A2", 0]],
      slots: [["A2", 1, "n1"]],
    },
    {
      name: "an engine of an unknown context",
      engines: [engine(0, 7, "n1", 1, 0)],
      free: [["", 1]],
      slots: [["", 1, "n1"]],
    },
  ];
  for (const c of cases) {
    const got = capacityByLabel({ engines: c.engines, contexts });
    assert.deepEqual([...got.freeSlots], c.free, c.name);
    assert.deepEqual([...got.slots].map(([l, x]) => [l, x.n, x.nodes.join(",")]), c.slots, c.name);
  }
});

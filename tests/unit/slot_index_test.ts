import assert from "node:assert/strict";
import { type SlotHolder, SlotIndex } from "../../lib/slot_index.ts";

interface E extends SlotHolder {
  rank: number;
  state: "active" | "stopping" | "gone";
  away: boolean;
  outstanding: { size: number };
  meanElapsed: number | undefined;
  okStreak: number;
  limited?: boolean;
}

function engines(spec: Partial<E>[]): E[] {
  return spec.map((s, rank) => ({
    rank,
    host: `n${rank}`,
    slots: 1,
    state: "active",
    away: false,
    outstanding: { size: 0 },
    meanElapsed: undefined,
    okStreak: 0,
    ...s,
  }));
}

function index(list: E[], coming = false): SlotIndex<E> {
  const ix = new SlotIndex<E>({
    engines: () => list,
    limited: (e) => e.limited === true,
    enginesComing: () => coming,
  });
  for (const e of list) ix.refresh(e);
  return ix;
}

const none = () => false;

Deno.test("SlotIndex.pick(): free slots first, then prefetch room; never an engine that takes no tasks", () => {
  const cases: { name: string; spec: Partial<E>[]; want: number | undefined }[] = [
    { name: "the first with a free slot", spec: [{}, {}], want: 0 },
    { name: "a full engine is skipped", spec: [{ outstanding: { size: 1 } }, {}], want: 1 },
    {
      name: "stopping, gone, away, limited: skipped",
      spec: [{ state: "stopping" }, { state: "gone" }, { away: true }, { limited: true }, {}],
      want: 4,
    },
    {
      name: "short tasks: a full engine takes one ahead per slot",
      spec: [{ outstanding: { size: 1 }, meanElapsed: 0.1 }],
      want: 0,
    },
    {
      name: "long tasks: no prefetch",
      spec: [{ outstanding: { size: 1 }, meanElapsed: 5 }],
      want: undefined,
    },
    {
      name: "a free slot beats prefetch room",
      spec: [{ outstanding: { size: 1 }, meanElapsed: 0.1 }, { slots: 2, outstanding: { size: 1 } }],
      want: 1,
    },
    { name: "nothing", spec: [], want: undefined },
  ];
  for (const c of cases) {
    assert.equal(index(engines(c.spec)).pick(none)?.rank, c.want, c.name);
  }
});

Deno.test("SlotIndex: how many tasks an engine is handed ahead, by its tasks' length and its success streak", () => {
  const cases: { name: string; spec: Partial<E>; ahead: number }[] = [
    { name: "no task finished yet", spec: { slots: 2 }, ahead: 0 },
    { name: "long tasks", spec: { slots: 2, meanElapsed: 1, okStreak: 10 }, ahead: 0 },
    { name: "short tasks: one per slot", spec: { slots: 2, meanElapsed: 0.5, okStreak: 10 }, ahead: 2 },
    {
      name: "very short tasks: 250 ms of work per slot",
      spec: { slots: 2, meanElapsed: 0.01, okStreak: 10 },
      ahead: 50,
    },
    {
      name: "tasks of a tenth of a second: two per slot",
      spec: { slots: 2, meanElapsed: 0.1, okStreak: 10 },
      ahead: 4,
    },
    { name: "tiny tasks: 32 per slot at most", spec: { slots: 2, meanElapsed: 0, okStreak: 4 }, ahead: 64 },
    {
      name: "tiny tasks that failed lately: one per slot",
      spec: { slots: 2, meanElapsed: 0, okStreak: 3 },
      ahead: 2,
    },
  ];
  for (const c of cases) {
    const [e] = engines([{ ...c.spec, outstanding: { size: 2 } }]);
    const ix = index([e!]);
    let ahead = 0;
    while (ix.pick(none)) {
      e!.outstanding.size++;
      ix.refresh(e!);
      ahead++;
    }
    assert.equal(ahead, c.ahead, c.name);
  }
});

Deno.test("SlotIndex.refresh() moves an engine to the end: round robin", () => {
  const list = engines([{ slots: 4 }, { slots: 4 }, { slots: 4 }]);
  const ix = index(list);
  const order: number[] = [];
  for (let i = 0; i < 6; i++) {
    const e = ix.pick(none)!;
    order.push(e.rank);
    e.outstanding.size++;
    ix.refresh(e);
  }
  assert.deepEqual(order, [0, 1, 2, 0, 1, 2]);
});

Deno.test("SlotIndex.pick() with hosts to avoid and suspect hosts", () => {
  const cases: {
    name: string;
    spec: Partial<E>[];
    avoid: string[];
    suspect?: string[];
    coming?: boolean;
    fits?: (e: E) => boolean;
    want: number | undefined;
  }[] = [
    { name: "elsewhere", spec: [{}, {}], avoid: ["n0"], want: 1 },
    {
      name: "wait for a busy engine elsewhere",
      spec: [{}, { outstanding: { size: 1 } }],
      avoid: ["n0"],
      want: undefined,
    },
    { name: "wait for engines still coming", spec: [{}], avoid: ["n0"], coming: true, want: undefined },
    { name: "no engine elsewhere at all: where it failed", spec: [{}], avoid: ["n0"], want: 0 },
    {
      name: "the only engine elsewhere is suspect: where it failed",
      spec: [{}, { outstanding: { size: 1 } }],
      avoid: ["n0"],
      suspect: ["n1"],
      want: 0,
    },
    {
      name: "the engine elsewhere cannot fit it: where it failed",
      spec: [{}, { outstanding: { size: 1 } }],
      avoid: ["n0"],
      fits: (e) => e.rank === 0,
      want: 0,
    },
    {
      name: "a suspect host waits while a healthy one can take it",
      spec: [{}, { outstanding: { size: 1 } }],
      avoid: [],
      suspect: ["n0"],
      want: undefined,
    },
    {
      name: "a suspect host takes it when all are suspect",
      spec: [{}, {}],
      avoid: [],
      suspect: ["n0", "n1"],
      want: 0,
    },
  ];
  for (const c of cases) {
    const ix = index(engines(c.spec), c.coming);
    const suspect = new Set(c.suspect ?? []);
    const got = ix.pick((h) => suspect.has(h), new Set(c.avoid), c.fits);
    assert.equal(got?.rank, c.want, c.name);
  }
});

Deno.test("SlotIndex.withFreeSlot() and anyRoom", () => {
  const list = engines([{}, { outstanding: { size: 1 } }, {}]);
  const ix = index(list);
  assert.deepEqual(ix.withFreeSlot().map((e) => e.rank), [0, 2]);
  assert.equal(ix.anyRoom, true);
  for (const e of list) {
    e.outstanding.size = 1;
    ix.refresh(e);
  }
  assert.equal(ix.anyRoom, false);
});

import assert from "node:assert/strict";
import { FailurePolicy, type FailureSettings } from "../../lib/failure_policy.ts";
import { Registry } from "../../lib/registry.ts";
import type { Action } from "../../lib/scheduler_types.ts";

/** A registry with one engine on each host (ranks in order), all in context 0. */
function setup(o: Partial<FailureSettings>, hosts: string[]): { p: FailurePolicy; reg: Registry } {
  const reg = new Registry();
  reg.addContext({
    id: 0,
    label: "C",
    taskLimit: 0,
    assigned: 0,
    pendingEngines: 0,
    engines: new Set(),
    retires: false,
    keepHost: undefined,
    added: false,
    stopped: false,
  });
  hosts.forEach((h, rank) => reg.touch(reg.join(rank, 0, h, 1)));
  return { p: new FailurePolicy({ crashLimit: 3, ...o }, reg), reg };
}

function stops(actions: Action[]): number[] {
  return actions.flatMap((a) => a.kind === "stopEngine" ? [a.rank] : []);
}

Deno.test("FailurePolicy.retryLeft(): --retries counts a task's own failures", () => {
  const cases: { retries: number | undefined; failures: number; want: boolean }[] = [
    { retries: undefined, failures: 0, want: false },
    { retries: 0, failures: 0, want: false },
    { retries: 2, failures: 0, want: true },
    { retries: 2, failures: 1, want: true },
    { retries: 2, failures: 2, want: false },
  ];
  for (const c of cases) {
    const { p } = setup({ retries: c.retries }, ["a"]);
    for (let i = 0; i < c.failures; i++) p.failedAttempt(7, "a");
    assert.equal(p.retryLeft(7), c.want, JSON.stringify(c));
    assert.equal(p.attemptOf(7), c.failures);
  }
});

Deno.test("FailurePolicy: --crash-limit, signals and attempts of a lost task", () => {
  const cases: { name: string; limit: number; losses: boolean[]; may: boolean; attempt: number }[] = [
    { name: "first loss of 3", limit: 3, losses: [], may: true, attempt: 0 },
    { name: "two losses of 3", limit: 3, losses: [true, true], may: false, attempt: 2 },
    { name: "signals do not count", limit: 3, losses: [false, false, false, true], may: true, attempt: 4 },
    { name: "--crash-limit 1", limit: 1, losses: [], may: false, attempt: 0 },
  ];
  for (const c of cases) {
    const { p } = setup({ crashLimit: c.limit }, ["a"]);
    for (const crash of c.losses) p.lostAttempt(3, crash);
    assert.equal(p.mayRunAfterLoss(3), c.may, c.name);
    assert.equal(p.attemptOf(3), c.attempt, c.name);
    assert.equal(p.retried, c.losses.length, c.name);
    p.forget(3);
    assert.equal(p.attemptOf(3), 0, c.name);
  }
});

Deno.test("FailurePolicy.restore(): a re-attached driver's earlier attempts", () => {
  const { p } = setup({ retries: 2, crashLimit: 2 }, ["a"]);
  p.restore(new Map([[5, [{ rc: 1, host: "a" }, { rc: -100, host: "b" }]]]));
  assert.equal(p.attemptOf(5), 2);
  assert.equal(p.retried, 2);
  assert.equal(p.retryLeft(5), true);
  assert.equal(p.mayRunAfterLoss(5), false);
  assert.deepEqual([...p.failedHosts(5)!], ["a"]);
});

Deno.test("FailurePolicy: a host is quarantined when N of its failures succeed elsewhere", () => {
  const cases: {
    name: string;
    after: number;
    retries?: number;
    fails: [string, number][];
    successes: [string, number][];
    quarantined: string[];
    stopped: number[];
  }[] = [
    {
      name: "two tasks failed on a, then succeeded on b",
      after: 2,
      fails: [["a", 1], ["a", 2]],
      successes: [["b", 1], ["b", 2]],
      quarantined: ["a"],
      stopped: [0],
    },
    {
      name: "only one proven",
      after: 2,
      fails: [["a", 1], ["a", 2]],
      successes: [["b", 1]],
      quarantined: [],
      stopped: [],
    },
    {
      name: "a success on a in between ends its streak",
      after: 2,
      fails: [["a", 1], ["a", 2]],
      successes: [["a", 3], ["b", 1], ["b", 2]],
      quarantined: [],
      stopped: [],
    },
    {
      name: "a task that fails on several hosts is no evidence",
      after: 2,
      fails: [["a", 1], ["b", 1], ["a", 2]],
      successes: [["c", 1], ["b", 2]],
      quarantined: [],
      stopped: [],
    },
    {
      name: "off (0)",
      after: 0,
      fails: [["a", 1], ["a", 2]],
      successes: [["b", 1], ["b", 2]],
      quarantined: [],
      stopped: [],
    },
  ];
  for (const c of cases) {
    const { p } = setup({ badNodeAfter: c.after, retries: 1 }, ["a", "b", "c"]);
    for (const [host, id] of c.fails) {
      p.hostFailed(host, id);
      p.failedAttempt(id, host);
    }
    const actions = c.successes.flatMap(([host, id]) => p.hostSucceeded(host, id));
    assert.deepEqual(p.quarantinedHosts().map((q) => q.host), c.quarantined, c.name);
    assert.deepEqual(stops(actions), c.stopped, c.name);
  }
});

Deno.test("FailurePolicy.hostLost(): a second lost engine quarantines the host, unless it is the only one", () => {
  const cases: { name: string; hosts: string[]; losses: number; quarantined: boolean; warned: boolean }[] = [
    { name: "one loss", hosts: ["a", "b"], losses: 1, quarantined: false, warned: false },
    { name: "two losses", hosts: ["a", "b"], losses: 2, quarantined: true, warned: true },
    { name: "two losses, no other host", hosts: ["a"], losses: 2, quarantined: false, warned: true },
  ];
  for (const c of cases) {
    const { p, reg } = setup({ badNodeAfter: 3 }, c.hosts);
    let actions: Action[] = [];
    for (let i = 0; i < c.losses; i++) actions = p.hostLost("a", "connection reset");
    assert.equal(p.quarantined("a") !== undefined, c.quarantined, c.name);
    assert.equal(actions.some((a) => a.kind === "log" && a.level === "warn"), c.warned, c.name);
    assert.equal(reg.engine(0)!.state, c.quarantined ? "stopping" : "active", c.name);
  }
});

Deno.test("FailurePolicy.suspect(): a failing streak of N, only with --retries", () => {
  const cases: { retries?: number; streak: number; want: boolean }[] = [
    { retries: 1, streak: 2, want: false },
    { retries: 1, streak: 3, want: true },
    { streak: 3, want: false },
  ];
  for (const c of cases) {
    const { p } = setup({ badNodeAfter: 3, retries: c.retries }, ["a", "b"]);
    for (let id = 0; id < c.streak; id++) p.hostFailed("a", id);
    assert.equal(p.suspect("a"), c.want, JSON.stringify(c));
    assert.equal(p.suspect("b"), false);
  }
});

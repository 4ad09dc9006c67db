import assert from "node:assert/strict";
import { formatLock, LOCK_STALE_S, lockIsStale, parseLock } from "../../lib/run_lock.ts";

Deno.test("parseLock() reads back formatLock() and rejects other text", () => {
  const cases: [string, ReturnType<typeof parseLock>][] = [
    [formatLock({ host: "n1", pid: 42 }), { host: "n1", pid: 42 }],
    ["login.cluster 7", { host: "login.cluster", pid: 7 }],
    ["", undefined],
    ["n1 x\n", undefined],
    ["n1 4", { host: "n1", pid: 4 }],
    ["garbage with spaces 3\n", undefined],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseLock(text), want, JSON.stringify(text));
});

Deno.test("lockIsStale() asks the pid on this host and the heartbeat's age elsewhere", () => {
  const alive = new Set([100]);
  const cases: [ReturnType<typeof parseLock>, number, boolean][] = [
    [{ host: "here", pid: 100 }, 9999, false], // same host, alive: never stale, however old
    [{ host: "here", pid: 101 }, 0, true], // same host, dead: stale at once
    [{ host: "there", pid: 100 }, LOCK_STALE_S - 1, false], // other host, fresh heartbeat
    [{ host: "there", pid: 100 }, LOCK_STALE_S + 1, true], // other host, no heartbeat for long
    [undefined, 1, false], // torn or unreadable: by age only
    [undefined, LOCK_STALE_S + 1, true],
  ];
  for (const [owner, ageS, want] of cases) {
    assert.equal(
      lockIsStale(owner, { host: "here", ageS, pidAlive: (p) => alive.has(p) }),
      want,
      `${JSON.stringify(owner)} age ${ageS}`,
    );
  }
});

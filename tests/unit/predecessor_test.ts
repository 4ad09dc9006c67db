import assert from "node:assert/strict";
import { contextLine, endLine, headerLine, joinLine, replayJournal, sentLine } from "../../lib/journal.ts";
import { judgePredecessor, type Predecessor } from "../../lib/predecessor.ts";

const HEAD = headerLine({ argv: ["-p", "x", "T"], cwd: "/w", epoch: "h:1:2", host: "h", pid: 7, at: 1000 });
const RUNNING = HEAD +
  contextLine(0, { label: "SSH0", origin: "auto", taskLimit: 0, engines: 1, retires: false }) +
  joinLine(0, 0, 2, "h") + sentLine(0, [0, 1, 2, 3]);

Deno.test("judgePredecessor(): an earlier run's tasks are held while its engines may still run them", () => {
  const base = (o: Partial<Predecessor>): Predecessor => ({
    journal: replayJournal(RUNNING),
    lastAliveS: 2000,
    graceS: 300,
    recorded: new Set([0, 1]),
    ...o,
  });
  const alive = (pid: number) => pid === 99;
  const cases: { name: string; p: Predecessor; now: number; want: string }[] = [
    { name: "no journal line at all", p: base({ journal: replayJournal("") }), now: 2001, want: "none" },
    { name: "it ended", p: base({ journal: replayJournal(RUNNING + endLine(0)) }), now: 2001, want: "none" },
    {
      name: "its driver lives here",
      p: base({ lock: { owner: { host: "h", pid: 99 }, ageS: 1 } }),
      now: 2001,
      want: "live 99",
    },
    {
      name: "its driver on another host beats its lock",
      p: base({ lock: { owner: { host: "other", pid: 5 }, ageS: 20 } }),
      now: 2001,
      want: "live 5",
    },
    // Died by now (2001; its heartbeat would be due by 2016): held until 2001 + 300 + 10.
    {
      name: "dead, in its grace",
      p: base({ lock: { owner: { host: "h", pid: 5 }, ageS: 1 } }),
      now: 2001,
      want: "hold 2,3 until 2311",
    },
    { name: "dead, no lock", p: base({}), now: 2100, want: "hold 2,3 until 2326" },
    { name: "dead, grace over", p: base({}), now: 2326, want: "none" },
    {
      name: "dead, everything sent recorded",
      p: base({ recorded: new Set([0, 1, 2, 3]) }),
      now: 2001,
      want: "none",
    },
  ];
  for (const c of cases) {
    const v = judgePredecessor(c.p, { host: "h", now: c.now, pidAlive: alive, marginS: 10 });
    const got = v.kind === "live"
      ? `live ${v.owner?.pid}`
      : v.kind === "hold"
      ? `hold ${[...v.sent.keys()].join(",")} until ${v.until}`
      : "none";
    assert.equal(got, c.want, c.name);
  }
});

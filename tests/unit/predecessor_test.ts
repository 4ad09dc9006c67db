import assert from "node:assert/strict";
import {
  contextLine,
  endLine,
  goneLine,
  headerLine,
  joinLine,
  replayJournal,
  sentLine,
} from "../../lib/journal.ts";
import { jobsElsewhere, judgePredecessor, type Predecessor } from "../../lib/predecessor.ts";

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
  // Started in job 40, re-attached in job 41.
  const inJob = replayJournal(
    RUNNING.replace(HEAD, HEAD.replace('"at":1000', '"at":1000,"slurmJob":"40"')) +
      headerLine({
        argv: ["-p", "x", "T"],
        cwd: "/w",
        epoch: "n1:5:6",
        host: "n1",
        pid: 5,
        at: 1500,
        slurmJob: "41",
      }),
  );
  const cases: { name: string; p: Predecessor; now: number; want: string; over?: string[] }[] = [
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
    {
      name: "its driver's Slurm job goes on: its heartbeat counts",
      p: base({ journal: inJob, lock: { owner: { host: "n1", pid: 5 }, ageS: 20 } }),
      now: 2001,
      want: "live 5",
      over: [],
    },
    {
      name: "its driver's Slurm job is over: it is gone, whatever its heartbeat says",
      p: base({ journal: inJob, lock: { owner: { host: "n1", pid: 5 }, ageS: 20 } }),
      now: 2001,
      want: "hold 2,3 until 2311",
      over: ["41"],
    },
    {
      name: "a lock of another driver (one that has not written its journal line yet) is judged by itself",
      p: base({ journal: inJob, lock: { owner: { host: "n3", pid: 77 }, ageS: 20 } }),
      now: 2001,
      want: "live 77",
      over: ["40", "41"],
    },
    {
      name: "only its last driver's job counts (the lock is its)",
      p: base({ journal: inJob, lock: { owner: { host: "n1", pid: 5 }, ageS: 20 } }),
      now: 2001,
      want: "live 5",
      over: ["40"],
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
    const v = judgePredecessor(c.p, {
      host: "h",
      now: c.now,
      pidAlive: alive,
      marginS: 10,
      over: new Set(c.over),
    });
    const got = v.kind === "live"
      ? `live ${v.owner?.pid}`
      : v.kind === "hold"
      ? `hold ${[...v.sent.keys()].join(",")} until ${v.until}`
      : "none";
    assert.equal(got, c.want, c.name);
  }
});

Deno.test("jobsElsewhere(): the Slurm jobs whose end leaves nothing of an earlier run on other hosts", () => {
  const slurm = (id: number, job?: string) =>
    contextLine(id, {
      label: `J${job ?? id}`,
      origin: id ? "added" : "auto",
      taskLimit: 0,
      engines: 2,
      retires: false,
      ...(job ? { jobId: job } : {}),
    });
  const cases: { name: string; journal: string; host: string; want: string[] | undefined }[] = [
    { name: "engines only here", journal: RUNNING, host: "h", want: [] },
    {
      name: "an ssh engine elsewhere: no job to ask about",
      journal: RUNNING,
      host: "other",
      want: undefined,
    },
    {
      name: "the driver's job and a dbUtil.sh job",
      journal: HEAD + slurm(0, "41") + slurm(1, "42") + joinLine(0, 0, 4, "n1") + joinLine(1, 0, 4, "n2") +
        joinLine(2, 1, 4, "n3") + joinLine(3, 1, 4, "n3"),
      host: "n1",
      want: ["41", "42"],
    },
    {
      name: "an ssh engine that left does not count",
      journal: HEAD + slurm(0, "41") +
        contextLine(1, { label: "SSH1", origin: "added", taskLimit: 0, engines: 1, retires: false }) +
        joinLine(5, 1, 2, "other") + goneLine(5) + joinLine(0, 0, 4, "n2"),
      host: "n1",
      want: ["41"],
    },
    {
      name: "a journal from before contexts named their job",
      journal: HEAD + slurm(0) + joinLine(0, 0, 4, "n2"),
      host: "n1",
      want: undefined,
    },
  ];
  for (const c of cases) assert.deepEqual(jobsElsewhere(replayJournal(c.journal), c.host), c.want, c.name);
});

/**
 * Interrupted is never failed: a SIGTERM that reaches an engine and its tasks at once (what Slurm
 * does at a job's time limit or on scancel) makes the engine kill its tasks and report them as
 * killed (flag K), and the driver says what happened; a plain `-r` then runs exactly what did not
 * finish. Each task counts its own runs in a file.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import {
  killSleepers,
  pollUntil,
  processes,
  readRows,
  show,
  sleepers,
  start,
  uniqueSleep,
} from "./e2e_helpers.ts";

Deno.test("interrupted: a job-wide SIGTERM to engine and tasks records them K; -r runs exactly the rest", async () => {
  await using d = await tempDir();
  const marker = uniqueSleep(60);
  // Tasks 0-1 finish at once; 2-3 sleep (SIGTERM'd with their engine); 4-5 never start.
  const tasks = [
    "echo 0 >> runs_0",
    "echo 1 >> runs_1",
    `echo 2 >> runs_2; [ -e resumed ] || sleep ${marker}`,
    `echo 3 >> runs_3; [ -e resumed ] || sleep ${marker}`,
    "echo 4 >> runs_4",
    "echo 5 >> runs_5",
  ];
  Deno.writeTextFileSync(`${d.path}/Tasks`, tasks.join("\n") + "\n");
  const run = start(["-s", "localhost:2", "-p", "r1", "Tasks"], { cwd: d.path });
  try {
    const sleeping = await pollUntil("two sleeping tasks", async () => {
      const s = await sleepers(marker);
      return s.length === 2 ? s : undefined;
    }, 30_000);
    // Our engine is the sleeping tasks' ancestor: sleep <- bash (setsid) <- engine.
    const procs = await processes();
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    let engine = byPid.get(sleeping[0]!.pid);
    while (engine && !engine.args.includes("--engine")) engine = byPid.get(engine.ppid);
    assert.ok(engine, "the engine process");
    // Everything of the "job" at once: the engine and each task's processes.
    for (const pid of [engine.pid, ...sleeping.map((p) => p.pid)]) {
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* already gone: the engine was quicker */ }
    }
    const r = await run.done;
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stderr,
      /The engines were stopped by SIGTERM .*task\(s\) not run.*flagged K, so a plain -r runs them again/,
    );
    assert.doesNotMatch(r.stderr, /No engine is left/);
    const rows = readRows(`${d.path}/r1_status.txt`);
    const byId = new Map(rows.map((x) => [x.id, x]));
    assert.equal(byId.get(0)?.rc, 0);
    assert.equal(byId.get(1)?.rc, 0);
    for (const id of [2, 3]) {
      const row = byId.get(id);
      assert.ok(row, `task ${id} recorded`);
      assert.equal(row.flags[3], "K", `task ${id} flagged K: ${JSON.stringify(row)}`);
    }
  } finally {
    await killSleepers(marker);
  }
  Deno.writeTextFileSync(`${d.path}/resumed`, "");
  const again = await runCli(["-s", "localhost:2", "-p", "r2", "-r", "r1_status.txt", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(again.code, 0, show(again));
  const count = (i: number) => Deno.readTextFileSync(`${d.path}/runs_${i}`).trim().split("\n").length;
  assert.deepEqual([0, 1, 2, 3, 4, 5].map(count), [1, 1, 2, 2, 1, 1], "each task finished exactly once");
});

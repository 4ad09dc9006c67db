/**
 * Interrupted is never failed: a SIGTERM that reaches an engine and its tasks at once (what Slurm
 * does at a job's time limit or on scancel) makes the engine kill its tasks and leave, telling the
 * driver why; the tasks are taken back as lost with it (run again on a restarted engine), or, when
 * no engine can come back, left unrecorded so that a plain `-r` runs them. Each task counts its
 * completions in a file.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import {
  doneCounts,
  killSleepers,
  pollUntil,
  processes,
  readRows,
  show,
  sleepers,
  start,
  uniqueSleep,
} from "./e2e_helpers.ts";

/**
 * Six tasks; the first run of tasks 2 and 3 sleeps (until it is killed) and then does nothing more:
 * a killed sleep must not let the task go on to count itself done.
 */
function taskFile(marker: string): string {
  return Array.from(
    { length: 6 },
    (_, i) =>
      i === 2 || i === 3
        ? `if mkdir started_${i} 2>/dev/null; then sleep ${marker} && echo x >> done_${i}; else echo x >> done_${i}; fi`
        : `echo x >> done_${i}`,
  ).join("\n") + "\n";
}

/** SIGTERM to the engine of the two sleeping tasks and to the tasks, as a job-wide signal does. */
async function termJob(marker: string): Promise<void> {
  const sleeping = await pollUntil("two sleeping tasks", async () => {
    const s = await sleepers(marker);
    return s.length === 2 ? s : undefined;
  }, 30_000);
  // Our engine is the sleeping tasks' ancestor: sleep <- bash (setsid) <- engine.
  const byPid = new Map((await processes()).map((p) => [p.pid, p]));
  let engine = byPid.get(sleeping[0]!.pid);
  while (engine && !engine.args.includes("--engine")) engine = byPid.get(engine.ppid);
  assert.ok(engine, "the engine process");
  for (const pid of [engine.pid, ...sleeping.map((p) => p.pid)]) {
    try {
      Deno.kill(pid, "SIGTERM");
    } catch { /* already gone: the engine was quicker */ }
  }
}

Deno.test("interrupted: a job-wide SIGTERM to an engine: its tasks run again on the restarted engine, none failed", async () => {
  await using d = await tempDir();
  const marker = uniqueSleep(60);
  Deno.writeTextFileSync(`${d.path}/Tasks`, taskFile(marker));
  const run = start(["-s", "localhost:2", "-p", "r1", "Tasks"], { cwd: d.path });
  try {
    await termJob(marker);
    const r = await run.done;
    assert.equal(r.code, 0, show(r));
  } finally {
    await killSleepers(marker);
  }
  assert.deepEqual(doneCounts(d.path, 6), [1, 1, 1, 1, 1, 1], "each task finished exactly once");
  const rows = readRows(`${d.path}/r1_status.txt`);
  assert.deepEqual(rows.map((x) => x.id).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
  assert.ok(rows.every((x) => x.rc === 0), JSON.stringify(rows));
  assert.match(Deno.readTextFileSync(`${d.path}/r1_driver.log`), /left: stopped by SIGTERM/);
});

Deno.test("interrupted: with no engine to come back, the driver says SIGTERM stopped them; -r runs exactly the rest", async () => {
  await using d = await tempDir();
  const marker = uniqueSleep(60);
  Deno.writeTextFileSync(`${d.path}/Tasks`, taskFile(marker));
  const run = start(["--engine-restarts", "0", "-s", "localhost:2", "-p", "r1", "Tasks"], { cwd: d.path });
  try {
    await termJob(marker);
    const r = await run.done;
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /The engines were stopped by SIGTERM .*task\(s\) not run/);
    assert.doesNotMatch(r.stderr, /No engine is left/);
  } finally {
    await killSleepers(marker);
  }
  // Nothing interrupted is recorded as a failure of its own.
  for (const row of readRows(`${d.path}/r1_status.txt`)) {
    assert.ok(row.rc === 0 || row.flags[3] === "K", JSON.stringify(row));
  }
  const again = await runCli(["-s", "localhost:2", "-p", "r2", "-r", "r1_status.txt", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(again.code, 0, show(again));
  assert.deepEqual(
    doneCounts(d.path, 6),
    [1, 1, 1, 1, 1, 1],
    "each task finished exactly once over both runs",
  );
});

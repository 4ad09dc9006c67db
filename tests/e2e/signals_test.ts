/**
 * Stopping runs: SIGTERM/SIGINT to the driver (tasks killed, flagged K, exit 128+signal, resumable),
 * loss of the only engine (no hang), `-e` exit codes and the speed of --fail-fast.
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import {
  exists,
  finish,
  killAndWait,
  killSleepers,
  leftoverSleepers,
  pollUntil,
  processes,
  readRows,
  show,
  sleepers,
  start,
  statusFields,
  statusOf,
  taskRowsById,
  uniqueSleep,
  writeText,
} from "./e2e_helpers.ts";

/**
 * Task 0 is quick; tasks 1..4 create s<id> and then sleep unless the file `fast` exists (so the
 * very same task file finishes at once on resume).
 */
function killableTasks(marker: string): string {
  const lines = ["touch q0"];
  for (let i = 1; i <= 4; i++) lines.push(`touch s${i}; [ -e fast ] || sleep ${marker}`);
  return lines.join("\n") + "\n";
}

async function signalTest(signal: "SIGTERM" | "SIGINT", expectedCode: number): Promise<void> {
  await using d = await tempDir();
  const marker = uniqueSleep(30);
  writeText(d.path, "Tasks", killableTasks(marker));
  const run = start(["-s", "localhost:2", "-p", "r1", "Tasks"], { cwd: d.path });
  try {
    // Task 0 done and tasks 1, 2 sleeping in the two slots.
    await pollUntil("task 0 recorded and two sleeping tasks", async () => {
      if (!exists(statusOf(d.path, "r1"))) return false;
      const done = statusFields(statusOf(d.path, "r1")).some((f) => f[1] === "0");
      return done && (await sleepers(marker)).length === 2 && exists(`${d.path}/s1`) &&
        exists(`${d.path}/s2`);
    });
    run.child.kill(signal);
    const r = await run.done;
    assert.equal(r.code, expectedCode, show(r));
    assert.deepEqual(await leftoverSleepers(marker), [], `tasks left running after ${signal}`);
    assert.ok(!exists(`${d.path}/s3`) && !exists(`${d.path}/s4`), "tasks 3 and 4 never started");
    // The summary counts what was killed and what never started, and the resume command is given.
    assert.match(r.stderr, /2 killed as the run ended .*, 2 not started \(a resume runs them\)/, show(r));
    assert.match(
      r.stderr,
      /to run what is left, from .*:\n {2}\S*disbatch.* -r \S*r1_status\.txt .*Tasks/,
      show(r),
    );
    assert.match(
      Deno.readTextFileSync(`${d.path}/r1_driver.log`),
      /3 task\(s\) run, 0 failed, 2 killed .*, 2 not started/,
    );

    const rows = taskRowsById(readRows(statusOf(d.path, "r1")));
    assert.deepEqual([rows.get(0)?.flags, rows.get(0)?.rc], ["    ", 0]);
    for (const id of [1, 2]) {
      const k = rows.get(id);
      assert.ok(k, `no status line for the killed task ${id}`);
      assert.equal(k.flags, "R  K", `task ${id} flags`);
      assert.ok([-15, -9].includes(k.rc), `task ${id} rc ${k.rc}`);
      assert.ok(k.pid > 0, `task ${id} pid ${k.pid}`);
    }
    // Checked at the end so that the resume below is exercised even when this fails.
    const neverStarted = [3, 4].filter((id) => rows.has(id)).map((id) => rows.get(id)!);

    // A plain -r runs exactly the killed and the never-started tasks.
    for (const f of ["q0", "s1", "s2"]) Deno.removeSync(`${d.path}/${f}`);
    writeText(d.path, "fast", "");
    const again = await runCli(["-s", "localhost:2", "-p", "r2", "-r", "r1_status.txt", "Tasks"], {
      cwd: d.path,
    });
    assert.equal(again.code, 0, show(again));
    assert.ok(!exists(`${d.path}/q0`), "the finished task must not run again");
    for (const f of ["s1", "s2", "s3", "s4"]) assert.ok(exists(`${d.path}/${f}`), `${f} not run on resume`);
    const rows2 = taskRowsById(readRows(statusOf(d.path, "r2")));
    assert.equal(rows2.get(0)?.flags, "   S");
    for (const id of [1, 2, 3, 4]) assert.deepEqual([rows2.get(id)?.flags, rows2.get(id)?.rc], ["    ", 0]);

    assert.deepEqual(
      neverStarted.map((x) => [x.id, x.flags, x.pid, x.rc]),
      [],
      "tasks that never started must not be recorded (K is for running tasks that were killed)",
    );
  } finally {
    await killAndWait(run);
    await killSleepers(marker);
  }
}

Deno.test("disbatch: SIGTERM to the driver kills running tasks, flags them K, exits 143, and -r re-runs them", async () => {
  await signalTest("SIGTERM", 143);
});

Deno.test("disbatch: SIGINT to the driver kills running tasks, flags them K, exits 130, and -r re-runs them", async () => {
  await signalTest("SIGINT", 130);
});

Deno.test("disbatch: --engine-restarts 0: SIGKILL of the only engine ends the run non-zero promptly, naming the unfinished tasks", async () => {
  await using d = await tempDir();
  const marker = uniqueSleep(30);
  writeText(d.path, "Tasks", `sleep ${marker}\nsleep ${marker}\nsleep ${marker}\n`);
  const run = start(["--engine-restarts", "0", "-s", "localhost:2", "-p", "r1", "Tasks"], { cwd: d.path });
  try {
    await pollUntil("two sleeping tasks", async () => (await sleepers(marker)).length === 2);
    const engines = (await processes()).filter((p) => p.ppid === run.pid && p.args.includes("--engine"));
    assert.equal(engines.length, 1, `engine processes: ${JSON.stringify(engines)}`);
    const t0 = performance.now();
    Deno.kill(engines[0]!.pid, "SIGKILL");
    const r = await finish(run, 30_000);
    const after = (performance.now() - t0) / 1000;
    assert.ok(after < 15, `the run took ${after.toFixed(1)} s to end after the engine died\n${show(r)}`);
    assert.notEqual(r.code, 0, show(r));
    assert.equal(r.signal, null, "the run ended by itself");
    const namesAll = [0, 1, 2].every((id) => new RegExp(`task ${id}\\b`, "i").test(r.stderr));
    assert.ok(
      namesAll || /\b3 task\(s\) not run/.test(r.stderr),
      `unfinished tasks not reported\n${show(r)}`,
    );
  } finally {
    await killAndWait(run);
    await killSleepers(marker);
  }
});

Deno.test("disbatch: -e exits 1 when a task failed; without -e a failed task does not change the exit code", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "exit 5\ntouch ok\n");
  const withE = await runCli(["-s", "localhost:2", "-e", "Tasks"], { cwd: d.path });
  assert.equal(withE.code, 1, show(withE));
  assert.match(withE.stderr, /Some tasks failed/);
  assert.ok(exists(`${d.path}/ok`), "-e does not stop the run");
  Deno.removeSync(`${d.path}/ok`);
  const without = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(without.code, 0, show(without));
  assert.ok(exists(`${d.path}/ok`));
  writeText(d.path, "Good", "true\n");
  const good = await runCli(["-s", "localhost:1", "-e", "Good"], { cwd: d.path });
  assert.equal(good.code, 0, show(good));
});

Deno.test("disbatch: --fail-fast ends the run at once after the failure and kills the running task", async () => {
  await using d = await tempDir();
  const marker = uniqueSleep(30);
  writeText(d.path, "Tasks", `sleep ${marker}\nsleep 0.3; exit 1\ntouch after\n`);
  const run = start(["-s", "localhost:2", "-p", "r1", "--fail-fast", "Tasks"], { cwd: d.path });
  try {
    const r = await finish(run, 30_000);
    assert.equal(r.code, 1, show(r));
    assert.ok(!exists(`${d.path}/after`), "a task started after the failure");
    const rows = taskRowsById(readRows(statusOf(d.path, "r1")));
    const failed = rows.get(1);
    assert.ok(failed, show(r));
    assert.equal(failed.rc, 1);
    const lag = r.exitEpoch - failed.end;
    // Well under a second on a quiet machine (the running task sleeps 30 s).
    assert.ok(lag < 5, `the run ended ${lag.toFixed(2)} s after the failure`);
    assert.deepEqual(await leftoverSleepers(marker), [], "the running task was not killed");
  } finally {
    await killAndWait(run);
    await killSleepers(marker);
  }
});

/**
 * Failure policies as a user meets them, with real processes: retries of a flaky task, a time limit
 * that takes the whole process tree, and a walltime that hands off cleanly to a resume. Each task's
 * runs are counted from its own side effects.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import { doneCounts, killSleepers, leftoverSleepers, readRows, show, uniqueSleep } from "./e2e_helpers.ts";

Deno.test("policies: a flaky task with --retries 1 and -e: exit 0, one line per task, the failed attempt kept", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(
    `${d.path}/Tasks`,
    // Task 1 fails on its first attempt only; every run leaves a line in runs_<id>.
    Array.from({ length: 4 }, (_, i) =>
      `echo "$DISBATCH_ATTEMPT" >> runs_${i}; ` +
      (i === 1 ? `[ "$DISBATCH_ATTEMPT" -ge 1 ] || { echo flaky >&2; exit 7; }; ` : "") +
      `echo x >> done_${i}`).join("\n") + "\n",
  );
  const r = await runCli(["--retries", "1", "-e", "-s", "localhost:2", "-p", "run", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(doneCounts(d.path, 4), [1, 1, 1, 1]);
  assert.equal(Deno.readTextFileSync(`${d.path}/runs_1`), "0\n1\n", "DISBATCH_ATTEMPT 0, then 1");
  const rows = readRows(`${d.path}/run_status.txt`);
  assert.deepEqual(rows.map((x) => [x.id, x.flags, x.rc]).sort(), [[0, "    ", 0], [1, "    ", 0], [
    2,
    "    ",
    0,
  ], [
    3,
    "    ",
    0,
  ]]);
  const attempts = readRows(`${d.path}/run_attempts.txt`);
  assert.deepEqual(attempts.map((x) => [x.id, x.flags, x.rc, x.errSnip]), [[1, "R E ", 7, "'flaky\\n'"]]);
  assert.match(
    r.stderr,
    /1 attempt\(s\) did not count \(retries, lost engines\); earlier attempts: \S+_attempts\.txt/,
  );
  // The report reads the attempts file next to the status file.
  const rep = await runCli(["report", "run_status.txt", "--json"], { cwd: d.path });
  assert.equal(rep.code, 0, show(rep));
  const summary = JSON.parse(rep.stdout);
  assert.deepEqual([summary.tasks, summary.failed, summary.attempts], [4, 0, 1]);
});

Deno.test("policies: a task that always fails is retried N times and recorded once, failed", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, "echo r >> runs; exit 3\n");
  const r = await runCli(["--retries", "2", "-e", "-s", "localhost:1", "-p", "run", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(r.code, 1, show(r));
  assert.equal(Deno.readTextFileSync(`${d.path}/runs`), "r\nr\nr\n");
  assert.deepEqual(readRows(`${d.path}/run_status.txt`).map((x) => [x.flags, x.rc]), [["R   ", 3]]);
  assert.equal(readRows(`${d.path}/run_attempts.txt`).length, 2);
});

Deno.test("policies: --timeout stops the whole process tree within the grace; flag T; -R runs it again", async () => {
  await using d = await tempDir();
  const marker = uniqueSleep(1000);
  // The task starts a child that ignores SIGTERM: only the SIGKILL after the grace takes it.
  Deno.writeTextFileSync(
    `${d.path}/Tasks`,
    `echo r >> runs; (trap '' TERM; sleep ${marker}) & sleep ${marker}; echo never\necho quick\n`,
  );
  try {
    const t0 = performance.now();
    const r = await runCli(
      ["--timeout", "1", "--kill-grace", "1", "-s", "localhost:2", "-p", "run", "Tasks"],
      {
        cwd: d.path,
      },
    );
    const wall = (performance.now() - t0) / 1000;
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(await leftoverSleepers(marker, 500), [], "no process of the task is left");
    assert.ok(wall < 1 + 1 + 5, `the run ended ${wall.toFixed(1)} s after it started`);
    const rows = readRows(`${d.path}/run_status.txt`);
    const t = rows.find((x) => x.id === 0)!;
    assert.equal(t.flags, "R  T");
    assert.ok(t.rc === -15 || t.rc === -9, `rc ${t.rc}`);
    assert.ok(t.elapsed >= 1 && t.elapsed < 4, `elapsed ${t.elapsed}`);
    assert.match(r.stderr, /failed: task 0 line 1 timed out/);
    // A plain -r skips it (a failure); -R runs it again.
    const again = await runCli(["-r", "run_status.txt", "-s", "localhost:1", "-p", "run2", "Tasks"], {
      cwd: d.path,
    });
    assert.equal(again.code, 0, show(again));
    assert.equal(Deno.readTextFileSync(`${d.path}/runs`), "r\n");
    const retry = await runCli(
      [
        "-r",
        "run_status.txt",
        "-R",
        "--timeout",
        "1",
        "--kill-grace",
        "1",
        "-s",
        "localhost:1",
        "-p",
        "run3",
        "Tasks",
      ],
      { cwd: d.path },
    );
    assert.equal(retry.code, 0, show(retry));
    assert.equal(Deno.readTextFileSync(`${d.path}/runs`), "r\nr\n");
    assert.deepEqual(await leftoverSleepers(marker, 500), []);
  } finally {
    await killSleepers(marker);
  }
});

Deno.test("policies: --timeout does not fail a task that ended in time but left a process holding its output", async () => {
  await using d = await tempDir();
  const marker = uniqueSleep(1000);
  Deno.writeTextFileSync(`${d.path}/Tasks`, `(sleep ${marker}) & sleep 0.3; exit 0\n`);
  try {
    const r = await runCli(["--timeout", "2", "-e", "-s", "localhost:1", "-p", "run", "Tasks"], {
      cwd: d.path,
    });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(readRows(`${d.path}/run_status.txt`).map((x) => [x.flags, x.rc]), [["    ", 0]]);
    assert.deepEqual(await leftoverSleepers(marker, 500), [], "what it left was stopped at the limit");
  } finally {
    await killSleepers(marker);
  }
});

Deno.test("policies: a walltime hands off cleanly (exit 75, the resume command) and the resume runs exactly the rest", async () => {
  await using d = await tempDir();
  // 2 slots, 2 s tasks, the hand-off 5 s in (20 s - 15 s): two waves fit, the third cannot.
  Deno.writeTextFileSync(
    `${d.path}/Tasks`,
    Array.from({ length: 7 }, (_, i) => `sleep 2; echo x >> done_${i}`).join("\n") + "\n",
  );
  const r = await runCli(["--walltime", "20", "-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 75, show(r));
  assert.match(r.stderr, /The walltime is reached/);
  const cmd = /\n {2}(disbatch -r \S+run_status\.txt .*)\n/.exec(r.stderr)?.[1];
  assert.ok(cmd, `the resume command is printed:\n${r.stderr}`);
  const first = doneCounts(d.path, 7);
  assert.ok(first.every((n) => n <= 1), `nothing ran twice: ${first}`);
  const ran = first.filter((n) => n === 1).length;
  assert.ok(ran >= 2 && ran < 7, `${ran} task(s) finished before the hand-off`);
  // Every line is a finished task (none was running at the hand-off: nothing is recorded K).
  assert.equal(readRows(`${d.path}/run_status.txt`).length, ran);
  const args = cmd.split(" ").slice(1);
  const again = await runCli(args.map((a) => a === "20" ? "60" : a), { cwd: d.path });
  assert.equal(again.code, 0, show(again));
  assert.deepEqual(doneCounts(d.path, 7), Array(7).fill(1), "each task finished exactly once over both runs");
});

Deno.test("policies: at the walltime a running task is stopped and flagged K; a plain -r runs it again", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(
    `${d.path}/Tasks`,
    // The first run of task 0 would take 60 s; the second is quick.
    "if [ -e started ]; then echo x >> done_0; else touch started; sleep 60; fi\n",
  );
  const t0 = performance.now();
  const r = await runCli(["--walltime", "17", "-s", "localhost:1", "-p", "run", "Tasks"], { cwd: d.path });
  const wall = (performance.now() - t0) / 1000;
  assert.equal(r.code, 75, show(r));
  assert.ok(wall < 10, `handed off ${wall.toFixed(1)} s after the start (2 s expected)`);
  assert.deepEqual(readRows(`${d.path}/run_status.txt`).map((x) => [x.flags, x.rc]), [["R  K", -15]]);
  const again = await runCli(["-r", "run_status.txt", "-s", "localhost:1", "-p", "run2", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(again.code, 0, show(again));
  assert.deepEqual(doneCounts(d.path, 1), [1]);
});

Deno.test("policies: a chain of resumes in equal walltimes runs what fits and does not start again what cannot", async () => {
  await using d = await tempDir();
  // Tasks 0 and 1 need 9 s; a walltime of 20 s leaves 5 s of work (20 - 15). Task 2 is quick.
  const long = (i: number) => `echo x >> started_${i}; sleep 9; echo x >> done_${i}`;
  Deno.writeTextFileSync(`${d.path}/Tasks`, `${long(0)}\n${long(1)}\necho x >> done_2\n`);
  const counts = (name: string) =>
    [0, 1, 2].map((i) => {
      try {
        return Deno.readTextFileSync(`${d.path}/${name}_${i}`).length / 2;
      } catch {
        return 0;
      }
    });
  const run = (args: string[]) => runCli([...args, "-s", "localhost:2", "Tasks"], { cwd: d.path });
  const r1 = await run(["--walltime", "20", "-p", "run"]);
  assert.equal(r1.code, 75, show(r1));
  assert.deepEqual(readRows(`${d.path}/run_status.txt`).map((x) => [x.id, x.flags]).sort(), [[0, "R  K"], [
    1,
    "R  K",
  ]]);
  // The same walltime again: tasks 0 and 1 cannot make it (they ran 5 s without ending); task 2 runs.
  const r2 = await run(["-r", "run_status.txt", "--walltime", "20", "-p", "run2"]);
  assert.equal(r2.code, 75, show(r2));
  assert.match(
    r2.stderr,
    /Task 0 \(line 1\) ran \d+\.\d s in an earlier run without ending and needs more than \d+ s, but \d+ s are left before the hand-off \(15 s before the walltime\): a resume needs a time limit of more than \d+ s \(1 more such task\(s\) are in the driver log\)/,
  );
  assert.deepEqual(counts("started"), [1, 1, 0], "tasks 0 and 1 were not started again");
  assert.deepEqual(counts("done"), [0, 0, 1]);
  // Its status file keeps the earlier lines of the tasks it did not start: a resume from it knows them too.
  const rows2 = readRows(`${d.path}/run2_status.txt`).map((x) => [x.id, x.flags]);
  assert.deepEqual(rows2.sort(), [[0, "R  K"], [1, "R  K"], [2, "    "]]);
  const r3 = await run(["-r", "run2_status.txt", "--walltime", "20", "-p", "run3"]);
  assert.equal(r3.code, 75, show(r3));
  assert.deepEqual(counts("started"), [1, 1, 0], "nor from the resume of the resume");
  // A longer walltime runs them.
  const r4 = await run(["-r", "run3_status.txt", "--walltime", "40", "-p", "run4"]);
  assert.equal(r4.code, 0, show(r4));
  assert.deepEqual(counts("started"), [2, 2, 0]);
  assert.deepEqual(counts("done"), [1, 1, 1], "each task finished exactly once over the chain");
});

Deno.test("policies: an end time that leaves no time to run is refused before any file is made", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, "true\n");
  const r = await runCli(["--end-time", String(Math.floor(Date.now() / 1000) + 5), "-p", "run", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /The run would have to end in \d+ s \(--end-time\): no time to run anything/);
  assert.deepEqual([...Deno.readDirSync(d.path)].map((e) => e.name), ["Tasks"]);
});

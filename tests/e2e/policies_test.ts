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
  assert.match(r.stderr, /1 attempt\(s\) run again/);
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

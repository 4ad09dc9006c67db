/**
 * A driver that dies costs nothing: its engines keep running their tasks and re-attach to a driver
 * restarted with `--reattach`; tasks that finished meanwhile are recorded once; nothing runs again
 * or twice at once. After `--driver-grace` without a driver the engines kill their tasks and exit,
 * and a late restart runs exactly those again. Every count comes from the tasks' own side effects.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import {
  assertOnceEach,
  doneCounts,
  exists,
  onceTasks,
  pollUntil,
  processes,
  readRows,
  show,
  start,
} from "./e2e_helpers.ts";

/**
 * Start a run of {@linkcode onceTasks} in `dir` and wait until its first two tasks run.
 * @param n tasks @param seconds each one's sleep @param args the driver's arguments
 * @returns the driver
 */
async function twoRunning(dir: string, n: number, seconds: number, args: string[]) {
  Deno.writeTextFileSync(`${dir}/Tasks`, onceTasks(n, seconds));
  const first = start(args, { cwd: dir });
  await pollUntil(
    "two tasks running",
    () => exists(`${dir}/running_0`) && exists(`${dir}/running_1`),
    30_000,
  );
  return first;
}

/** Processes working in `dir` (engines chdir to the run's directory; tasks run there). */
async function workingIn(dir: string): Promise<{ pid: number; args: string }[]> {
  const real = Deno.realPathSync(dir);
  return (await processes()).filter((p) => {
    try {
      return Deno.readLinkSync(`/proc/${p.pid}/cwd`) === real;
    } catch {
      return false;
    }
  });
}

async function enginesOf(dir: string): Promise<number[]> {
  return (await workingIn(dir)).filter((p) => p.args.includes("--engine")).map((p) => p.pid);
}

Deno.test("reattach: a SIGKILLed driver restarted with --reattach picks up the running engines; each task once", async () => {
  await using d = await tempDir();
  const n = 14;
  Deno.writeTextFileSync(`${d.path}/Tasks`, onceTasks(n, 1.5));
  const began = Date.now();
  const first = start(["-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  await pollUntil("a few tasks done", () => doneCounts(d.path, n).filter((c) => c > 0).length >= 3, 30_000);
  Deno.kill(first.pid, "SIGKILL");
  await first.done;
  // The engine lives on, with its tasks.
  const before = doneCounts(d.path, n).reduce((a, b) => a + b, 0);
  await new Promise((r) => setTimeout(r, 2500)); // tasks finish while no driver is there
  assert.equal((await enginesOf(d.path)).length > 0 || doneCounts(d.path, n).every((c) => c === 1), true);
  const t0 = Date.now();
  const again = await runCli(["--reattach", "run", "Tasks"], { cwd: d.path, timeoutMs: 90_000 });
  assert.equal(again.code, 0, show(again));
  assert.match(again.stderr, /re-attaching to \S+run: \d+ finished item\(s\) kept, \d+ task\(s\) in flight/);
  // The summary's time is the run's, from its first driver's start.
  const wall = Number(/task\(s\) run, .* in ([0-9.]+)s \(/.exec(again.stderr)?.[1]);
  assert.ok(
    wall >= (t0 - began) / 1000,
    `the summary says ${wall} s; the run began ${(Date.now() - began) / 1000} s ago`,
  );
  assertOnceEach(d.path, n);
  const rows = readRows(`${d.path}/run_status.txt`);
  assert.deepEqual(rows.map((r) => r.id).sort((a, b) => a - b), [...Array(n).keys()], "one line per task");
  assert.ok(rows.every((r) => r.rc === 0), JSON.stringify(rows.filter((r) => r.rc !== 0)));
  const log = Deno.readTextFileSync(`${d.path}/run_driver.log`);
  assert.match(log, /Engine 0 on \S+ reconnected from/);
  assert.doesNotMatch(log, /runs again/);
  // Tasks that ended while no driver was there keep their real times (not the restart's).
  const restart = t0 / 1000;
  assert.ok(rows.some((r) => r.end < restart), "some outcome from the gap kept its end time");
  console.log(
    `done before the restart: ${before}; restart to exit ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  assert.deepEqual(await enginesOf(d.path), [], "no engine left behind");
});

Deno.test("reattach: after --driver-grace without a driver the engines kill their tasks and exit; a late restart runs exactly those", async () => {
  await using d = await tempDir();
  const n = 6;
  const first = await twoRunning(d.path, n, 4, [
    "-s",
    "localhost:2",
    "--driver-grace",
    "2",
    "-p",
    "run",
    "Tasks",
  ]);
  Deno.kill(first.pid, "SIGKILL");
  await first.done;
  await pollUntil(
    "the orphaned engine to give up",
    async () => (await enginesOf(d.path)).length === 0,
    20_000,
  );
  // Its launcher kills their groups as it ends: gone at once (well before their 4 s are up).
  const sleepers = async () => (await workingIn(d.path)).filter((p) => p.args.includes("sleep 4"));
  await pollUntil("the tasks to be gone", async () => (await sleepers()).length === 0, 1_000).catch(() => {});
  assert.deepEqual((await sleepers()).map((p) => p.args), [], "no task left running");
  assert.match(Deno.readTextFileSync(`${d.path}/run_SSH0_${Deno.hostname()}_engine_0.log`), /--driver-grace/);
  const again = await runCli(["--reattach", `${d.path}/run_status.txt`], { cwd: "/", timeoutMs: 120_000 });
  assert.equal(again.code, 0, show(again));
  assertOnceEach(d.path, n);
  const rows = readRows(`${d.path}/run_status.txt`);
  assert.deepEqual(rows.map((r) => r.id).sort((a, b) => a - b), [...Array(n).keys()]);
  assert.match(
    Deno.readTextFileSync(`${d.path}/run_driver.log`),
    // Its engines gave up and left this host: nothing of them is left to wait for.
    /2 task\(s\) in flight on the last driver's engines run again \(none of those engines is left\)/,
  );
});

Deno.test("reattach: a run that ended, or one that is not there, is refused with what to do", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, "true\n");
  const r = await runCli(["-p", "run", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const ended = await runCli(["--reattach", "run"], { cwd: d.path });
  assert.equal(ended.code, 2, show(ended));
  assert.match(
    ended.stderr,
    /ended \(exit status 0\); there is nothing to re-attach to.*-r \S+run_status\.txt/,
  );
  const none = await runCli(["--reattach", "nothere"], { cwd: d.path });
  assert.equal(none.code, 2, show(none));
  assert.match(none.stderr, /No run journal at \S+nothere_journal/);
  const bad = await runCli(["--reattach", "run", "--retries", "3"], { cwd: d.path });
  assert.equal(bad.code, 2, show(bad));
  assert.match(bad.stderr, /keeps the options it was started with/);
});

Deno.test("reattach: an engine frozen for 10 s (SIGSTOP) keeps its tasks; nothing runs again", async () => {
  await using d = await tempDir();
  const n = 8;
  Deno.writeTextFileSync(`${d.path}/Tasks`, onceTasks(n, 1));
  const run = start(["-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  await pollUntil("a task running", () => exists(`${d.path}/running_0`), 30_000);
  const [engine] = await enginesOf(d.path);
  assert.ok(engine, "the engine");
  Deno.kill(engine, "SIGSTOP");
  await new Promise((r) => setTimeout(r, 10_000));
  Deno.kill(engine, "SIGCONT");
  const r = await run.done;
  assert.equal(r.code, 0, show(r));
  assertOnceEach(d.path, n);
  const log = Deno.readTextFileSync(`${d.path}/run_driver.log`);
  assert.match(log, /it is away/);
  assert.match(log, /is heard again/);
  assert.doesNotMatch(log, /runs again/);
});

Deno.test("reattach: a driver stopped for 7 s (Ctrl-Z) is heard again; its engines do not give up at the grace", async () => {
  await using d = await tempDir();
  const n = 24;
  Deno.writeTextFileSync(`${d.path}/Tasks`, onceTasks(n, 1));
  const run = start(["-s", "localhost:2", "--driver-grace", "10", "-p", "run", "Tasks"], { cwd: d.path });
  await pollUntil("a task done", () => doneCounts(d.path, n).some((c) => c > 0), 30_000);
  Deno.kill(run.pid, "SIGSTOP");
  await new Promise((r) => setTimeout(r, 7000));
  Deno.kill(run.pid, "SIGCONT");
  const r = await run.done; // about 10 s more: past the engines' grace, counted from their loss
  assert.equal(r.code, 0, show(r));
  assertOnceEach(d.path, n);
  const engineLog = Deno.readTextFileSync(`${d.path}/run_SSH0_${Deno.hostname()}_engine_0.log`);
  assert.match(engineLog, /The driver is heard again after/);
  assert.doesNotMatch(engineLog, /Killing|--driver-grace/);
});

Deno.test("reattach: -r from the status file of a SIGKILLed run waits for what its engines may still run; nothing twice at once", async () => {
  await using d = await tempDir();
  const n = 6;
  const first = await twoRunning(d.path, n, 4, [
    "-s",
    "localhost:2",
    "-p",
    "run",
    "--driver-grace",
    "3s",
    "Tasks",
  ]);
  Deno.kill(first.pid, "SIGKILL");
  await first.done;
  // A disBatch user resumes with -r: the first copies of tasks 0 and 1 still run on the engine.
  const again = await runCli(["-s", "localhost:2", "-p", "run2", "-r", "run_status.txt", "Tasks"], {
    cwd: d.path,
    timeoutMs: 90_000,
  });
  assert.equal(again.code, 0, show(again));
  assert.match(
    again.stderr,
    /the run \S*run did not end \(its driver died\); its engines may still be running 2 of its task\(s\) until \d\d:\d\d:\d\d .*\(this run takes it over: it can no longer be re-attached\)\n/,
  );
  const dups = [...Deno.readDirSync(d.path)].filter((e) => e.name.startsWith("dup_")).map((e) => e.name);
  assert.deepEqual(dups, [], "a task ran twice at once");
  assert.ok(doneCounts(d.path, n).every((c) => c >= 1), JSON.stringify(doneCounts(d.path, n)));
  const rows = readRows(`${d.path}/run2_status.txt`);
  assert.deepEqual(rows.map((r) => r.id).sort((a, b) => a - b), [...Array(n).keys()], show(again));
});

Deno.test("reattach: -r from the status file of a run that is still going is refused (exit 2), nothing runs", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, onceTasks(2, 20));
  const first = start(["-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  try {
    await pollUntil("its tasks running", () => exists(`${d.path}/running_0`), 30_000);
    const r = await runCli(["-s", "localhost:1", "-p", "run2", "-r", "run_status.txt", "Tasks"], {
      cwd: d.path,
    });
    assert.equal(r.code, 2, show(r));
    assert.match(
      r.stderr,
      /-r run_status\.txt: that run is still going \(its driver, pid \d+ on \S+, holds \S*run_lock\)/,
    );
    assert.equal(exists(`${d.path}/run2_status.txt`), false, "the refused run made no file");
  } finally {
    Deno.kill(first.pid, "SIGTERM");
    await first.done;
  }
});

Deno.test("reattach: -r from a run killed whole (as pkill -9 -f disbatch) waits only while its orphaned tasks run", async () => {
  await using d = await tempDir();
  const n = 4;
  const first = await twoRunning(d.path, n, 3, ["-s", "localhost:2", "-p", "run", "Tasks"]);
  // Every process of it whose command line names disbatch: the driver, its engine, the engine's task
  // launcher and reaper. The two tasks' groups live on, orphaned, until their sleep ends.
  // The reaper and the launcher first: the reaper would kill the task groups once the engine is gone.
  const ours = (await workingIn(d.path)).filter((p) => /disbatch|--engine|main\.ts/.test(p.args));
  const last = (p: { args: string }) => /--engine|main\.ts/.test(p.args) ? 1 : 0;
  for (const pid of [...ours.sort((a, b) => last(a) - last(b)).map((p) => p.pid), first.pid]) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  await first.done;
  await pollUntil("the engine gone", async () => (await enginesOf(d.path)).length === 0, 10_000);
  const orphans = (await workingIn(d.path)).filter((p) => /^sleep 3/.test(p.args)).length;
  const t0 = Date.now();
  const again = await runCli(["-s", "localhost:2", "-p", "run2", "-r", "run_status.txt", "Tasks"], {
    cwd: d.path,
    timeoutMs: 90_000,
  });
  assert.equal(again.code, 0, show(again));
  // With orphans left, their tasks wait for them (not for the 300 s grace); without, nothing waits.
  if (orphans > 0) assert.match(again.stderr, /did not end \(its driver died\)/, show(again));
  else assert.doesNotMatch(again.stderr, /did not end/, show(again));
  assert.ok(Date.now() - t0 < 30_000, `took ${Date.now() - t0} ms: it waited for the default 300 s grace`);
  assert.ok(doneCounts(d.path, n).every((c) => c >= 1), JSON.stringify(doneCounts(d.path, n)));
  const dups = [...Deno.readDirSync(d.path)].filter((e) => e.name.startsWith("dup_")).map((e) => e.name);
  assert.deepEqual(dups, [], "a task ran again while its orphaned first copy still ran");
});

Deno.test("reattach: --reattach after the run was killed whole (driver and engines) does not wait for the grace", async () => {
  await using d = await tempDir();
  const n = 4;
  const first = await twoRunning(d.path, n, 3, ["-s", "localhost:2", "-p", "run", "Tasks"]);
  for (const pid of [first.pid, ...await enginesOf(d.path)]) Deno.kill(pid, "SIGKILL");
  await first.done;
  await pollUntil("the engine gone", async () => (await enginesOf(d.path)).length === 0, 10_000);
  const t0 = Date.now();
  const again = await runCli(["--reattach", "run"], { cwd: d.path, timeoutMs: 90_000 });
  assert.equal(again.code, 0, show(again));
  assert.match(
    again.stderr,
    /2 task\(s\) in flight on 1 engine\(s\) of the last driver: none of those engines is left/,
  );
  assert.match(again.stderr, /2 task\(s\) in flight on the last driver's engines run again \(none of those/);
  assert.doesNotMatch(again.stderr, /did not come back within --driver-grace/, "no grace passed");
  assert.ok(Date.now() - t0 < 30_000, `took ${Date.now() - t0} ms: it waited for the default 300 s grace`);
  assert.ok(doneCounts(d.path, n).every((c) => c >= 1), JSON.stringify(doneCounts(d.path, n)));
});

Deno.test("reattach: a run resumed with -r is never re-attached, nor resumed twice at once", async () => {
  await using d = await tempDir();
  const n = 8;
  const first = await twoRunning(d.path, n, 1, [
    "-s",
    "localhost:2",
    "--driver-grace",
    "5",
    "-p",
    "run",
    "Tasks",
  ]);
  Deno.kill(first.pid, "SIGKILL");
  await first.done;
  // The resume takes the run over (its engines' tasks wait for them, as they may still run).
  const second = start(["-s", "localhost:2", "-r", "run_status.txt", "-p", "run2", "Tasks"], { cwd: d.path });
  await pollUntil("the resume holds its prefix", () => exists(`${d.path}/run2_lock`), 30_000);
  const twice = await runCli(["-s", "localhost:2", "-r", "run_status.txt", "-p", "run3", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(twice.code, 2, show(twice));
  assert.match(twice.stderr, /that run is being resumed by \S+run2 now .*Wait for that run to end/);
  const during = await runCli(["--reattach", "run"], { cwd: d.path });
  assert.equal(during.code, 2, show(during));
  assert.match(
    during.stderr,
    /was resumed by \S+run2 \(-r, .*re-attach that one: disbatch --reattach \S+run2/,
  );
  const r = await second.done;
  assert.equal(r.code, 0, show(r));
  const after = await runCli(["--reattach", "run"], { cwd: d.path });
  assert.equal(after.code, 2, show(after));
  // The tasks in flight when the driver died ended under its engines and again in the resume (which
  // waited for them): never two at once, and nothing more after the refusals.
  const done = doneCounts(d.path, n);
  assert.ok(done.every((c) => c >= 1 && c <= 2), `${done}`);
  assert.equal(done.filter((c) => c === 2).length <= 2, true, `only the 2 in flight ran twice: ${done}`);
  assert.deepEqual(Array.from({ length: n }, (_, i) => i).filter((i) => exists(`${d.path}/dup_${i}`)), []);
  assert.deepEqual(readRows(`${d.path}/run2_status.txt`).map((x) => x.id).sort((a, b) => a - b), [
    ...Array(n).keys(),
  ]);
});

Deno.test("reattach: dbUtil.sh of a run whose driver died says so and how to go on, not that the run ended", async () => {
  await using d = await tempDir();
  const first = await twoRunning(d.path, 4, 1, [
    "-s",
    "localhost:2",
    "--driver-grace",
    "5",
    "-p",
    "run",
    "Tasks",
  ]);
  Deno.kill(first.pid, "SIGKILL");
  await first.done;
  const s = await new Deno.Command("bash", { args: [`${d.path}/run_dbUtil.sh`, "--status"], cwd: d.path })
    .output();
  const err = new TextDecoder().decode(s.stderr);
  assert.equal(s.code, 1, err);
  assert.match(
    err,
    /The run did not end: its driver died or is stopped\. Restart it with: disbatch --reattach \S+run/,
  );
});

/**
 * Slurm contexts on the local rig (scripts/rig/slurm-up.sh: nodes n1..n3, 4 CPUs each, network
 * namespaces, shared /tmp and PIDs). Covers a multi-node batch job, the job shrinking while a
 * long task runs (and `--no-retire`), the reference suite under `salloc -n 2` from the login
 * host, a Slurm allocation added to a `-S` driver with `sbatch <run>_dbUtil.sh`, the srun options
 * file, and the slots/cores tasks get for `-n 6 -c 2`.
 *
 * The cluster is shared with other test files: no slurmReset(), small jobs, generous deadlines
 * (a job may pend while others run), polling instead of fixed sleeps.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cliCommand, decoded, spawnPiped } from "../helpers/run_cli.ts";
import { gate, RIG_SCRIPTS, sbatchWait, type SbatchWaitResult } from "../helpers/gates.ts";
import {
  appendTaskForResume,
  assertOnlyNewTaskRan,
  assertRefFilesMade,
  countBy,
  ids,
  type Ran,
  range,
  REF_TASKS,
  sh,
  sharedDir,
  showRan,
  snippet,
  taskRowsIn,
  waitDbUtil,
} from "../helpers/rig_helpers.ts";
import {
  assertOnceEach,
  doneCounts,
  exists,
  finish,
  isTaskRow,
  killAndWait,
  killSleepers,
  leftoverSleepers,
  lockPid,
  onceTasks,
  pollUntil,
  readOr,
  readRows,
  RENDEZVOUS_SH,
  sleepers,
  start,
  uniqueSleep,
  writeText,
} from "./e2e_helpers.ts";

const IGNORE = await gate("slurm");

/** Longest a job may pend or run before the test gives up (other files share the cluster). */
const JOB_DEADLINE_MS = 180_000;

// ---------------------------------------------------------------------------------------------
// helpers

/**
 * `disbatch install` of the CLI under test into a fresh bin directory, once per file; every test
 * submits `disbatch` by name with that directory on PATH, as the README tells users to do.
 */
const BIN = await (async () => {
  const home = await Deno.makeTempDir({ dir: "/tmp", prefix: "disbatch_slurm_home_" });
  const [cmd, ...pre] = cliCommand();
  const r = await sh(cmd!, [...pre, "install", `${home}/bin`], { env: { HOME: home }, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`disbatch install failed: ${showRan(r)}`);
  globalThis.addEventListener("unload", () => Deno.removeSync(home, { recursive: true }));
  return `${home}/bin`;
})();

/** The environment for sbatch/salloc: the installed launcher first on PATH. */
const ENV = { PATH: `${BIN}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}` };

/** A fresh directory under /tmp (see {@linkcode sharedDir}) for a job's files. */
function jobDir(prefix: string): Promise<{ path: string } & AsyncDisposable> {
  return sharedDir(prefix);
}

/** Everything a failed assertion should show about a run directory. */
function dirReport(dir: string): string {
  const parts: string[] = [];
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.isFile || !/(\.log|\.out|_status\.txt)$/.test(e.name)) continue;
    parts.push(`--- ${e.name}:\n${(readOr(`${dir}/${e.name}`) ?? "").slice(-3000)}`);
  }
  return parts.join("\n");
}

/** Assert that a run on the login host exited 0 (the message shows its output and `dir`). */
function assertRanOk(r: Ran, dir: string): void {
  assert.equal(r.code, 0, `${showRan(r)}\n${dirReport(dir)}`);
}

/** Assert that a {@linkcode sbatchWait} job exited 0 (the message shows its output and `dir`). */
function assertJobOk(job: SbatchWaitResult, dir: string): void {
  assert.equal(job.code, 0, `${job.output}\n${dirReport(dir)}`);
}

/** `scontrol show hostnames LIST`. */
async function hostnames(list: string): Promise<string[]> {
  if (!list) return [];
  const r = await sh("scontrol", ["show", "hostnames", list], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, showRan(r));
  return r.stdout.split("\n").filter((s) => s);
}

/** One `squeue` observation of a job. */
interface Seen {
  t: number;
  state: string;
  nodes: string;
}

/** Final state of a job (from `scontrol show job -o`, kept MinJobAge=300 s). */
interface JobEnd {
  state: string;
  code: number;
  signal: number;
  seen: Seen[];
}

/**
 * Submit with `sbatch --parsable` in `cwd` and poll `squeue` every 100 ms until the job has left
 * the queue; scancel our own job if it exceeds the deadline.
 */
async function runJob(args: string[], cwd: string): Promise<JobEnd & { id: string }> {
  const sub = await sh("sbatch", ["--parsable", ...args], { cwd, env: ENV, timeoutMs: 30_000 });
  assert.equal(sub.code, 0, `sbatch failed: ${showRan(sub)}`);
  const id = sub.stdout.trim().split(";")[0]!;
  const seen: Seen[] = [];
  const deadline = performance.now() + JOB_DEADLINE_MS;
  for (;;) {
    const r = await sh("squeue", ["-h", "-j", id, "-o", "%T|%N"], { timeoutMs: 20_000 });
    const line = r.stdout.trim();
    if (r.code !== 0 || line === "") break;
    const [state, nodes] = line.split("|");
    seen.push({ t: performance.now(), state: state!, nodes: nodes ?? "" });
    if (performance.now() > deadline) {
      await sh("scancel", [id]);
      assert.fail(`job ${id} still ${state} after ${JOB_DEADLINE_MS / 1000} s\n${dirReport(cwd)}`);
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  const info = (await sh("scontrol", ["show", "job", "-o", id], { timeoutMs: 20_000 })).stdout;
  const state = /JobState=(\S+)/.exec(info)?.[1] ?? "?";
  const ec = /ExitCode=(\d+):(\d+)/.exec(info);
  return { id, state, code: ec ? Number(ec[1]) : -1, signal: ec ? Number(ec[2]) : -1, seen };
}

/**
 * {@linkcode runJob}, then assert that the job COMPLETED with exit code 0. Returns a report of the
 * job for assertion messages and the `squeue` observations of it RUNNING.
 */
async function completedJob(args: string[], cwd: string): Promise<{ report: string; running: Seen[] }> {
  const job = await runJob(args, cwd);
  const report = `job ${job.id} ${job.state} ${job.code}:${job.signal}\nseen: ${
    job.seen.map((s) => `${s.state} ${s.nodes}`).join("; ")
  }\n${dirReport(cwd)}`;
  assert.equal(job.state, "COMPLETED", report);
  assert.equal(job.code, 0, report);
  return { report, running: job.seen.filter((s) => s.state === "RUNNING") };
}

/** Files scontrol's resize writes into its current directory. */
function resizeFiles(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /^slurm_job_.*_resize\./.test(n));
}

/** `rig-on.sh login CMD…` in `cwd` (the login host: a submit host that is not a node). */
function onLogin(cmd: string[], cwd: string, timeoutMs = 120_000): Promise<Ran> {
  return sh("bash", [`${RIG_SCRIPTS}rig-on.sh`, "login", ...cmd], { cwd, env: ENV, timeoutMs });
}

/** `salloc -n 2 ./disbatch ARGS` on the login host (disBatch's tests/test_slurm/run.sh). */
function sallocDisbatch(args: string[], cwd: string): Promise<Ran> {
  return onLogin(["salloc", "-n", "2", "disbatch", ...args], cwd);
}

// ---------------------------------------------------------------------------------------------
// batch jobs

Deno.test({ name: "slurm: sbatch -N 3 -n 6 runs tasks on n1, n2 and n3", ignore: IGNORE }, async () => {
  await using d = await jobDir("disbatch_slurm_n3_");
  writeText(d.path, "rdv.sh", RENDEZVOUS_SH);
  // The first 6 tasks meet (every slot of the job busy at once), so every node takes part.
  writeText(
    d.path,
    "T",
    "bash rdv.sh 6 && sleep 0.3 && hostname\n".repeat(6) + "sleep 0.3; hostname\n".repeat(6),
  );
  const r = await sbatchWait(["-N", "3", "-n", "6", "disbatch", "T"], d.path, ENV);
  assertJobOk(r, d.path);
  const rows = taskRowsIn(d.path);
  assert.deepEqual(ids(rows), range(12), dirReport(d.path));
  for (const row of rows) {
    assert.equal(row.rc, 0, `task ${row.id}: ${JSON.stringify(row.fields)}\n${dirReport(d.path)}`);
    assert.equal(snippet(row), row.node, `task ${row.id}: hostname vs Node column`);
  }
  assert.deepEqual(Object.keys(countBy(rows, (x) => x.node)).sort(), ["n1", "n2", "n3"]);
});

Deno.test({
  name: "slurm: nodes whose engines are done are retired while a long task runs (no resize files left)",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_shrink_");
  writeText(d.path, "T2", "sleep 8\n" + "sleep 0.2\n".repeat(4));
  const { report, running } = await completedJob(["-N", "3", "-n", "3", "disbatch", "T2"], d.path);
  const counts: number[] = [];
  for (const s of running) counts.push((await hostnames(s.nodes)).length);
  const full = counts.indexOf(3);
  assert.ok(full >= 0, `never saw the job on 3 nodes\n${report}`);
  assert.ok(counts.slice(full).some((n) => n < 3), `the job never shrank before it ended\n${report}`);
  assert.deepEqual(resizeFiles(d.path), [], "scontrol's resize scripts were left in the work directory");
  const rows = taskRowsIn(d.path);
  assert.deepEqual(ids(rows), range(5), report);
  assert.ok(rows.every((x) => x.rc === 0), `a task failed (the shrink killed it?)\n${report}`);
  assert.match(readOr(statusDriverLog(d.path)) ?? "", /Retir/, report);
});

function statusDriverLog(dir: string): string {
  const f = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith("_driver.log"));
  assert.equal(f.length, 1, `driver logs: ${f}`);
  return `${dir}/${f[0]}`;
}

Deno.test({ name: "slurm: --no-retire keeps every node until the end", ignore: IGNORE }, async () => {
  await using d = await jobDir("disbatch_slurm_noretire_");
  writeText(d.path, "T2", "sleep 5\n" + "sleep 0.2\n".repeat(4));
  const { report, running } = await completedJob(
    ["-N", "3", "-n", "3", "disbatch", "--no-retire", "T2"],
    d.path,
  );
  assert.ok(running.length > 0, report);
  // The watch must cover the time after the short tasks were done (the long one takes 5 s).
  const span = (running.at(-1)!.t - running[0]!.t) / 1000;
  assert.ok(span > 3, `observed the running job for only ${span.toFixed(1)} s\n${report}`);
  for (const s of running) {
    assert.equal((await hostnames(s.nodes)).length, 3, `job shrank: ${s.nodes}\n${report}`);
  }
  const log = readOr(statusDriverLog(d.path)) ?? "";
  assert.doesNotMatch(log, /Retiring/, report);
  const rows = taskRowsIn(d.path);
  assert.deepEqual(ids(rows), range(5), report);
  assert.ok(rows.every((x) => x.rc === 0), report);
});

// ---------------------------------------------------------------------------------------------
// the reference's Slurm suite: salloc -n 2 disbatch … from the login host

Deno.test({ name: "slurm reference suite: salloc -n 2: three tasks all run", ignore: IGNORE }, async () => {
  await using d = await jobDir("disbatch_slurm_ref1_");
  writeText(d.path, "Tasks", REF_TASKS);
  const r = await sallocDisbatch(["Tasks"], d.path);
  assertRanOk(r, d.path);
  assertRefFilesMade(d.path, showRan(r));
  const rows = taskRowsIn(d.path);
  assert.deepEqual(ids(rows), [0, 1, 2]);
  assert.ok(rows.every((x) => x.rc === 0 && /^n\d$/.test(x.node)), JSON.stringify(rows.map((x) => x.fields)));
});

Deno.test({
  name: "slurm reference suite: salloc -n 2: resume after append runs only the new task",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_ref2_");
  writeText(d.path, "Tasks", REF_TASKS);
  const first = await sallocDisbatch(["Tasks"], d.path);
  assertRanOk(first, d.path);
  const status = appendTaskForResume(d.path);
  const r = await sallocDisbatch(["Tasks", "-r", status], d.path);
  assertRanOk(r, d.path);
  assertOnlyNewTaskRan(d.path, showRan(r));
});

Deno.test({ name: "slurm reference suite: salloc -n 2: /dev/null exits 0", ignore: IGNORE }, async () => {
  await using d = await jobDir("disbatch_slurm_ref3_");
  const r = await sallocDisbatch(["/dev/null"], d.path);
  assertRanOk(r, d.path);
});

Deno.test({
  name: "slurm reference suite: salloc -n 2 --fail-fast: nothing more starts, non-zero exit, no task left",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_ref4_");
  const marker = uniqueSleep(1000);
  writeText(d.path, "Tasks_failfast", `sleep ${marker}\nexit 1\ntouch A.txt\n`);
  try {
    const t0 = performance.now();
    const r = await sallocDisbatch(["--fail-fast", "Tasks_failfast"], d.path);
    const wall = (performance.now() - t0) / 1000;
    assert.ok(!exists(`${d.path}/A.txt`), `A.txt was created after the failure\n${showRan(r)}`);
    assert.notEqual(r.code, 0, `${showRan(r)}\n${dirReport(d.path)}`);
    assert.ok(wall < 30, `fail-fast run took ${wall.toFixed(1)} s`);
    // All rig hosts share one PID namespace: this sees the nodes' processes too.
    assert.deepEqual(await leftoverSleepers(marker, 5_000), [], `sleep ${marker} still running`);
  } finally {
    await killSleepers(marker);
  }
});

// ---------------------------------------------------------------------------------------------
// a Slurm allocation added to a -S driver

Deno.test({
  name: "slurm: sbatch -n 2 run_dbUtil.sh adds the job's nodes to a -S driver on the login host",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_slurm_addjob_");
  const pp = `${d.path}/run`;
  writeText(d.path, "T", 'sleep 0.3; echo "$(hostname) ${SLURM_JOB_ID:-none}"\n'.repeat(6));
  const onLoginHost = [`${RIG_SCRIPTS}rig-on.sh`, "login", ...cliCommand(), "-S", "-p", pp, "T"];
  const child = spawnPiped("bash", onLoginHost, { cwd: d.path });
  const drv = { child, done: child.output().then(decoded) };
  try {
    const dbu = await waitDbUtil(pp, 30_000);
    const job = await sbatchWait(["-n", "2", dbu], d.path);
    assertJobOk(job, d.path);
    const r = await finish(drv, 30_000);
    assert.equal(r.code, 0, `driver: ${showRan(r)}\n${dirReport(d.path)}`);
    assert.match(r.stdout, /Run this script to add compute contexts:/);
    const log = readOr(`${pp}_driver.log`) ?? "";
    assert.match(log, / on login\)/, `the driver did not run on the login host:\n${log}`);
    const rows = taskRowsIn(d.path);
    assert.deepEqual(ids(rows), range(6), dirReport(d.path));
    for (const row of rows) {
      assert.equal(row.rc, 0, JSON.stringify(row.fields));
      const [host, jobId] = snippet(row).split(" ");
      assert.equal(host, row.node, `task ${row.id}: hostname vs Node column`);
      assert.ok(/^n\d$/.test(row.node), `task ${row.id} ran on ${row.node}`);
      assert.equal(jobId, job.jobId, `task ${row.id} did not run inside the added job`);
    }
  } finally {
    await killAndWait(drv);
  }
});

Deno.test({
  name: "slurm: a dbUtil.sh job too short for any task left leaves at once instead of idling to its limit",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_slurm_shortjob_");
  const pp = `${d.path}/run`;
  writeText(d.path, "T", 'echo "$SLURM_JOB_ID" >> ran_in\n'.repeat(4));
  // Every task may take 50 s (--timeout); a 1-minute job leaves 45 s before its hand-off margin.
  const onLoginHost = [
    `${RIG_SCRIPTS}rig-on.sh`,
    "login",
    ...cliCommand(),
    "-S",
    "--timeout",
    "50",
    "-p",
    pp,
    "T",
  ];
  const child = spawnPiped("bash", onLoginHost, { cwd: d.path });
  const drv = { child, done: child.output().then(decoded) };
  try {
    const dbu = await waitDbUtil(pp, 30_000);
    const t0 = performance.now();
    const short = await sbatchWait(["-t", "1", "-n", "2", dbu], d.path);
    const took = (performance.now() - t0) / 1000;
    assertJobOk(short, d.path);
    assert.ok(
      took < 40,
      `the 1-minute job ended after ${took.toFixed(0)} s, not at once\n${dirReport(d.path)}`,
    );
    const log = readOr(`${pp}_driver.log`) ?? "";
    assert.match(
      log,
      new RegExp(`\\(context J${short.jobId}\\) leaves: nothing left can finish before the allocation ends`),
      log,
    );
    assert.equal(readOr(`${d.path}/ran_in`) ?? "", "", "no task started in the short job");
    // A job without that limit runs them all; the driver then ends.
    const long = await sbatchWait(["-n", "2", dbu], d.path);
    assertJobOk(long, d.path);
    const r = await finish(drv, 30_000);
    assert.equal(r.code, 0, `driver: ${showRan(r)}\n${dirReport(d.path)}`);
    assert.equal(readOr(`${d.path}/ran_in`), `${long.jobId}\n`.repeat(4));
  } finally {
    await killAndWait(drv);
  }
});

Deno.test({
  name: "slurm: a dbUtil.sh job with nothing left to run ends at once, saying why, while the run goes on",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_slurm_idlejob_");
  const pp = `${d.path}/run`;
  // The long task goes to the first job; the second gets the short one and then has nothing to do.
  writeText(
    d.path,
    "T",
    'sleep 30; echo "$SLURM_JOB_ID" >> long\n' + 'echo "$SLURM_JOB_ID" >> short\n',
  );
  const onLoginHost = [`${RIG_SCRIPTS}rig-on.sh`, "login", ...cliCommand(), "-S", "-p", pp, "T"];
  const child = spawnPiped("bash", onLoginHost, { cwd: d.path });
  const drv = { child, done: child.output().then(decoded) };
  try {
    const dbu = await waitDbUtil(pp, 30_000);
    const first = sbatchWait(["-n", "1", "-o", "first.out", dbu], d.path);
    await pollUntil(
      "the first job's engine joins (and takes the long task)",
      () => /Engine \d+ joined from/.test(readOr(`${pp}_driver.log`) ?? ""),
      60_000,
    );
    const t0 = performance.now();
    const second = await sbatchWait(["-t", "5", "-n", "1", "-o", "second.out", dbu], d.path);
    const took = (performance.now() - t0) / 1000;
    assertJobOk(second, d.path);
    const out = readOr(`${d.path}/second.out`) ?? "";
    assert.ok(
      took < 25,
      `the idle job ended after ${took.toFixed(0)} s, not at once\n${out}\n${dirReport(d.path)}`,
    );
    assert.match(out, /the engine on n\d leaves: nothing is left to run/, out);
    assert.equal(
      readOr(`${d.path}/long`) ?? "",
      "",
      "the long task was still running when the second job ended",
    );
    const r = await finish(drv, 60_000);
    assert.equal(r.code, 0, `driver: ${showRan(r)}\n${dirReport(d.path)}`);
    const a = await first;
    assertJobOk(a, d.path);
    assert.equal(readOr(`${d.path}/long`), `${a.jobId}\n`, "the long task ran once, in the first job");
    assert.equal(
      readOr(`${d.path}/short`),
      `${second.jobId}\n`,
      "the short task ran once, in the second job",
    );
  } finally {
    await killAndWait(drv);
  }
});

Deno.test({
  name:
    "slurm: a -S driver SIGKILLed on the login host and restarted with --reattach keeps the job's engines",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_slurm_reattach_");
  const pp = `${d.path}/run`;
  const n = 8;
  writeText(d.path, "T", onceTasks(n, 2));
  const child = spawnPiped(
    "bash",
    [`${RIG_SCRIPTS}rig-on.sh`, "login", ...cliCommand(), "-S", "-p", pp, "T"],
    {
      cwd: d.path,
    },
  );
  const drv = { child, done: child.output().then(decoded) };
  try {
    const dbu = await waitDbUtil(pp, 30_000);
    const job = runJob(["-n", "2", dbu], d.path);
    const done = () => doneCounts(d.path, n);
    await pollUntil("two tasks done", () => done().filter((c) => c > 0).length >= 2 || undefined, 60_000);
    Deno.kill(lockPid(pp), "SIGKILL");
    await drv.done;
    const again = await onLogin([...cliCommand(), "--reattach", pp], d.path);
    assert.equal(again.code, 0, showRan(again));
    const end = await job;
    assert.equal(end.state, "COMPLETED", JSON.stringify(end));
    assertOnceEach(d.path, n, dirReport(d.path));
    assert.deepEqual(ids(taskRowsIn(d.path)), range(n));
    assert.match(readOr(`${pp}_driver.log`) ?? "", /Engine \d+ on n\d reconnected from/);
  } finally {
    await killAndWait(drv);
  }
});

Deno.test({
  name: "slurm: a dbUtil.sh job whose driver died and was not restarted says so in its output and fails",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_slurm_lostdriver_");
  const pp = `${d.path}/run`;
  writeText(d.path, "T", "sleep 60\n");
  const child = spawnPiped(
    "bash",
    [`${RIG_SCRIPTS}rig-on.sh`, "login", ...cliCommand(), "-S", "--driver-grace", "5", "-p", pp, "T"],
    { cwd: d.path },
  );
  const drv = { child, done: child.output().then(decoded) };
  try {
    const dbu = await waitDbUtil(pp, 30_000);
    const job = runJob(["-n", "1", "-o", "add.out", dbu], d.path);
    await pollUntil(
      "the task is sent",
      () => /Engine \d+ joined from/.test(readOr(`${pp}_driver.log`) ?? ""),
      60_000,
    );
    Deno.kill(lockPid(pp), "SIGKILL");
    await drv.done;
    const end = await job;
    const out = readOr(`${d.path}/add.out`) ?? "";
    assert.equal(end.state, "FAILED", `${JSON.stringify(end)}\n${out}`);
    assert.match(
      out,
      /disbatch: lost the driver of run \S+: no driver came back within --driver-grace, and the engines here stopped\. The run did not end: its driver died or is stopped\. Restart it with: disbatch --reattach /,
      out,
    );
  } finally {
    await killAndWait(drv);
  }
});

Deno.test({
  name:
    "slurm: -E with fewer values than a node's slots: each srun engine's warning reaches the job's output",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_envres_");
  // Tasks long enough that the engine of the second node joins before the first runs them all.
  writeText(d.path, "T", 'echo "G=$G" >> seen; sleep 2\n'.repeat(4));
  const job = await runJob(
    [
      "-N",
      "2",
      "--ntasks-per-node",
      "2",
      "--export=ALL,G=g0",
      "-o",
      "job.out",
      "disbatch",
      "-E",
      "G",
      "-p",
      "run",
      "T",
    ],
    d.path,
  );
  const out = readOr(`${d.path}/job.out`) ?? "";
  assert.equal(job.state, "COMPLETED", `${JSON.stringify(job)}\n${out}\n${dirReport(d.path)}`);
  const warned = out.match(
    /warning: engine \d+ on n\d: -E G has 1 value\(s\) for 2 slot\(s\): using 1 slot\(s\)/g,
  );
  assert.equal(warned?.length, 2, `one warning per node:\n${out}`);
  assert.equal(readOr(`${d.path}/seen`), "G=g0\n".repeat(4));
});

Deno.test({
  name:
    "slurm: a driver in a batch job killed by SIGKILL (as the OOM killer does) is started again; each task once",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_restart_");
  const n = 12;
  writeText(d.path, "T", onceTasks(n, 2));
  const job = runJob(["-N", "2", "-n", "4", "-o", "job.out", "disbatch", "-p", "run", "T"], d.path);
  await pollUntil(
    "two tasks done",
    () => doneCounts(d.path, n).filter((c) => c > 0).length >= 2 || undefined,
    60_000,
  );
  Deno.kill(lockPid(`${d.path}/run`), "SIGKILL");
  const end = await job;
  assert.equal(end.state, "COMPLETED", `${JSON.stringify(end)}\n${dirReport(d.path)}`);
  assertOnceEach(d.path, n, dirReport(d.path));
  assert.deepEqual(ids(readRows(`${d.path}/run_status.txt`).filter(isTaskRow)), range(n));
  assert.match(
    readOr(`${d.path}/job.out`) ?? "",
    /the driver died \(status 137\); starting it again: disbatch --reattach/,
  );
  assert.match(readOr(`${d.path}/run_driver.log`) ?? "", /Engine \d+ on n\d reconnected from/);
});

Deno.test({
  name:
    "slurm: a job killed outright and resumed at once with -r in a new job: its tasks that were running " +
    "run again without waiting out the grace",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_resume_killed_");
  const n = 6;
  writeText(d.path, "T", onceTasks(n, 3));
  const first = runJob(["-N", "2", "-n", "4", "-o", "job1.out", "disbatch", "-p", "run", "T"], d.path);
  const job = await pollUntil(
    "the journal names the driver's job",
    () => /"slurmJob":"(\d+)"/.exec(readOr(`${d.path}/run_journal`) ?? "")?.[1],
    60_000,
  );
  await pollUntil(
    "three tasks running",
    () => range(n).filter((i) => exists(`${d.path}/running_${i}`)).length >= 3 || undefined,
    60_000,
  );
  // A node failure, say: every process of the job dies at once, the driver's journal has no end.
  // (The rig's nodes share one process table; scancel would give the driver a SIGTERM first.)
  const real = Deno.realPathSync(d.path);
  await pollUntil(
    "nothing of the job left",
    () => {
      let left = 0;
      for (const e of Deno.readDirSync("/proc")) {
        if (!/^\d+$/.test(e.name)) continue;
        try {
          if (Deno.readLinkSync(`/proc/${e.name}/cwd`) !== real) continue;
          Deno.kill(Number(e.name), "SIGKILL");
          left++;
        } catch { /* gone, or not ours */ }
      }
      return left === 0 || undefined;
    },
    30_000,
    50,
  );
  const ended = await first;
  const journal = readOr(`${d.path}/run_journal`) ?? "";
  assert.doesNotMatch(journal, /^E /m, `the first run did not end\n${journal}`);
  assert.match(journal, new RegExp(`"jobId":"${job}"`), "the journal names the engines' job");
  const t0 = performance.now();
  const second = await completedJob(
    ["-n", "2", "-o", "job2.out", "disbatch", "-r", "run_status.txt", "-p", "run2", "T"],
    d.path,
  );
  const took = (performance.now() - t0) / 1000;
  const out = readOr(`${d.path}/job2.out`) ?? "";
  const detail = `first job ${JSON.stringify(ended)}\n${second.report}`;
  // Its grace is 300 s: nothing waits for engines whose job is over.
  assert.doesNotMatch(out, /did not end \(its driver died\)|still going/, detail);
  assert.ok(took < 120, `the resumed job took ${took.toFixed(0)} s\n${detail}`);
  const before = new Set(ids(readRows(`${d.path}/run_status.txt`).filter(isTaskRow)));
  const after = ids(readRows(`${d.path}/run2_status.txt`).filter(isTaskRow));
  assert.deepEqual([...after].sort((a, b) => a - b), range(n).filter((i) => !before.has(i)), detail);
  assert.ok(doneCounts(d.path, n).every((c) => c >= 1), `every task finished\n${detail}`);
  const dups = range(n).filter((i) => exists(`${d.path}/dup_${i}`));
  assert.deepEqual(dups, [], `no task ran twice at the same time\n${detail}`);
});

// ---------------------------------------------------------------------------------------------
// srun options and task environment

Deno.test({
  name: "slurm: DISBATCH_SLURM_SRUN_OPTIONS_FILE (SLURM_CPU_BIND=none) reaches the tasks",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_srunopts_");
  writeText(d.path, "srun_options", "SLURM_CPU_BIND=none\n");
  writeText(d.path, "T", 'echo "${SLURM_CPU_BIND:-unset}"\n'.repeat(2));
  const r = await sbatchWait(
    [
      "-n",
      "2",
      `--export=ALL,DISBATCH_SLURM_SRUN_OPTIONS_FILE=${d.path}/srun_options`,
      "disbatch",
      "-p",
      "with",
      "T",
    ],
    d.path,
    ENV,
  );
  assertJobOk(r, d.path);
  // Control: without the file disbatch sets its default (cores).
  const c = await sbatchWait(["-n", "2", "--export=ALL", "disbatch", "-p", "without", "T"], d.path, ENV);
  assertJobOk(c, d.path);
  const bind = (prefix: string) => {
    const text = readOr(`${d.path}/${prefix}_status.txt`) ?? "";
    return text.split("\n").filter((l) => l).map((l) => l.split("\t")[11]!);
  };
  const withFile = bind("with");
  const without = bind("without");
  assert.equal(withFile.length, 2, dirReport(d.path));
  assert.equal(without.length, 2, dirReport(d.path));
  for (const b of withFile) {
    assert.match(b, /none/, `SLURM_CPU_BIND in a task with the options file: ${b}`);
    assert.doesNotMatch(b, /cores/, `SLURM_CPU_BIND in a task with the options file: ${b}`);
  }
  for (const b of without) {
    assert.match(b, /cores/, `SLURM_CPU_BIND in a task without the options file: ${b}`);
  }
});

Deno.test({
  name: "slurm: sbatch -n 6 -c 2: 2 slots per node, DISBATCH_CORES_PER_TASK=2 and SLURM_CPUS_PER_TASK=2",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_cores_");
  writeText(d.path, "rdv.sh", RENDEZVOUS_SH);
  // 6 tasks that must all run at once: exactly the 6 slots of the job.
  writeText(
    d.path,
    "T",
    ('bash rdv.sh 6 && echo "$(hostname) $DISBATCH_CORES_PER_TASK $DISBATCH_ENGINE_RANK $DISBATCH_CYLINDER_RANK ' +
      '$SLURM_CPUS_PER_TASK $SRUN_CPUS_PER_TASK"\n').repeat(6),
  );
  const r = await sbatchWait(["-n", "6", "-c", "2", "disbatch", "T"], d.path, ENV);
  assertJobOk(r, d.path);
  const rows = taskRowsIn(d.path);
  assert.deepEqual(ids(rows), range(6), dirReport(d.path));
  const seen = rows.map((row) => {
    assert.equal(
      row.rc,
      0,
      `6 slots were not busy at once: ${JSON.stringify(row.fields)}\n${dirReport(d.path)}`,
    );
    const [host, cores, engine, cyl, slurmCpus, srunCpus] = snippet(row).trim().split(" ");
    assert.equal(host, row.node);
    assert.equal(cores, "2", `task ${row.id}: DISBATCH_CORES_PER_TASK`);
    // One slot's cores, as `srun -n SLOTS -c 2` would give (OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK).
    assert.equal(slurmCpus, "2", `task ${row.id}: SLURM_CPUS_PER_TASK`);
    assert.equal(srunCpus, "2", `task ${row.id}: SRUN_CPUS_PER_TASK (what an srun inside reads)`);
    return { host: host!, engine: engine!, cyl: cyl! };
  });
  assert.deepEqual(countBy(seen, (x) => x.host), { n1: 2, n2: 2, n3: 2 }, "2 slots on each node");
  for (const h of ["n1", "n2", "n3"]) {
    const mine = seen.filter((x) => x.host === h);
    assert.deepEqual(mine.map((x) => x.cyl).sort(), ["0", "1"], `${h}: cylinder ranks`);
    assert.equal(new Set(mine.map((x) => x.engine)).size, 1, `${h}: one engine per node`);
  }
});

Deno.test({
  name:
    "slurm: scancel mid-run records the interrupted tasks K (or not at all); a resume job runs exactly the rest",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_scancel_");
  const marker = uniqueSleep(120);
  // 12 tasks on a 2-node job; each counts its completions; the first run of tasks 2 and 3 sleeps
  // until scancel, and whatever else runs at that moment is interrupted too.
  const tasks = Array.from(
    { length: 12 },
    (_, i) =>
      i === 2 || i === 3
        ? `{ [ -e resumed ] || sleep ${marker}; } && echo x >> done_${i}`
        : `sleep 0.2 && echo x >> done_${i}`,
  );
  writeText(d.path, "T", tasks.join("\n") + "\n");
  const sub = await sh("sbatch", ["--parsable", "-N", "2", "-n", "4", "disbatch", "-p", "first", "T"], {
    cwd: d.path,
    env: ENV,
    timeoutMs: 30_000,
  });
  assert.equal(sub.code, 0, showRan(sub));
  const id = sub.stdout.trim().split(";")[0]!;
  try {
    await pollUntilSh(
      "tasks 2 and 3 sleeping",
      async () => (await sleepers(marker)).length === 2,
      JOB_DEADLINE_MS,
    );
    const c = await sh("scancel", [id]);
    assert.equal(c.code, 0, showRan(c));
    await pollUntilSh("the job to leave the queue", async () => {
      const q = await sh("squeue", ["-h", "-j", id]);
      return q.stdout.trim() === "";
    }, 60_000);
    await pollUntilSh("no task left", async () => (await sleepers(marker)).length === 0, 20_000);
  } finally {
    await killSleepers(marker);
  }
  const first = readRows(`${d.path}/first_status.txt`).filter(isTaskRow);
  // Nothing interrupted is recorded as a plain failure: flag K, or no line at all.
  for (const row of first) {
    assert.ok(
      row.rc === 0 || row.flags[3] === "K",
      `task ${row.id}: ${JSON.stringify(row)}\n${dirReport(d.path)}`,
    );
  }
  for (const id of [2, 3]) {
    const row = first.find((r) => r.id === id);
    assert.ok(row === undefined || row.flags[3] === "K", `task ${id}: ${JSON.stringify(row)}`);
  }
  writeText(d.path, "resumed", "");
  const again = await sbatchWait(
    ["-n", "2", "disbatch", "-p", "second", "-r", "first_status.txt", "T"],
    d.path,
    ENV,
  );
  assertJobOk(again, d.path);
  // Every task finished exactly once over the two jobs (counted by the tasks themselves).
  assert.deepEqual(doneCounts(d.path, 12), Array(12).fill(1), dirReport(d.path));
  const second = readOr(`${d.path}/second_status.txt`) ?? "";
  assert.doesNotMatch(second, /^R/m, `no failure in the resume job:\n${second}`);
});

/** Poll an async condition every 200 ms until true, or fail after `ms`. */
async function pollUntilSh(what: string, f: () => Promise<boolean>, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!(await f())) {
    if (performance.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test({
  name:
    "slurm: a 1-minute job hands off before Slurm's limit (exit 75, tasks K or done); a resume job runs exactly the rest",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_walltime_");
  // 4 slots: two 40 s tasks and ten 10 s ones; the hand-off is 15 s before the job's end.
  const tasks = Array.from(
    { length: 12 },
    (_, i) => `sleep ${i < 2 ? 40 : 10} && echo x >> done_${i}`,
  );
  writeText(d.path, "T", tasks.join("\n") + "\n");
  const first = await sbatchWait(
    ["-t", "1", "-N", "2", "-n", "4", "disbatch", "-p", "first", "T"],
    d.path,
    ENV,
  );
  const info = (await sh("scontrol", ["show", "job", "-o", first.jobId], { timeoutMs: 20_000 })).stdout;
  const state = /JobState=(\S+)/.exec(info)?.[1];
  assert.equal(state, "FAILED", `ended by disbatch, not by Slurm's TIMEOUT: ${info}\n${dirReport(d.path)}`);
  assert.match(info, /ExitCode=75:0/, `${info}\n${dirReport(d.path)}`);
  const out = readOr(`${d.path}/slurm-${first.jobId}.out`) ?? "";
  assert.match(out, /The walltime is reached/, out);
  assert.match(out, /disbatch -r \S+first_status\.txt -p first\.2 T/, out);
  const done1 = doneCounts(d.path, 12);
  const rows = readRows(`${d.path}/first_status.txt`).filter(isTaskRow);
  for (const row of rows) {
    // Finished, or stopped by the hand-off (K): never a plain failure.
    assert.ok(
      row.rc === 0 || row.flags === "R  K",
      `task ${row.id}: ${JSON.stringify(row)}\n${dirReport(d.path)}`,
    );
    assert.equal(done1[row.id], row.rc === 0 ? 1 : 0, `task ${row.id}`);
  }
  assert.ok(rows.filter((r) => r.rc === 0).length >= 4, `some tasks finished:\n${dirReport(d.path)}`);
  assert.ok(done1.some((n) => n === 0), "some work was left for the next job");
  const again = await sbatchWait(
    ["-t", "3", "-N", "2", "-n", "4", "disbatch", "-p", "second", "-r", "first_status.txt", "T"],
    d.path,
    ENV,
  );
  assertJobOk(again, d.path);
  // Every task finished exactly once over the two jobs (counted by the tasks themselves).
  assert.deepEqual(doneCounts(d.path, 12), Array(12).fill(1), dirReport(d.path));
});

Deno.test({
  name:
    "slurm: a node whose tasks always fail is quarantined and retired; --retries runs its tasks elsewhere",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_quarantine_");
  // n3 is not the batch host (the job's first node runs the driver, and its node is never retired).
  const tasks = Array.from(
    { length: 24 },
    (_, i) => `[ "$(hostname)" = n3 ] && { echo broken >&2; exit 9; }; sleep 0.3; echo x >> done_${i}`,
  );
  writeText(d.path, "T", tasks.join("\n") + "\n");
  const r = await sbatchWait(
    ["-w", "n1,n2,n3", "-N", "3", "-n", "3", "disbatch", "--retries", "2", "-e", "-p", "run", "T"],
    d.path,
    ENV,
  );
  assertJobOk(r, d.path);
  assert.deepEqual(doneCounts(d.path, 24), Array(24).fill(1), dirReport(d.path));
  const rows = readRows(`${d.path}/run_status.txt`).filter(isTaskRow);
  assert.ok(rows.every((x) => x.rc === 0 && x.node !== "n3"), dirReport(d.path));
  const attempts = readRows(`${d.path}/run_attempts.txt`);
  assert.ok(attempts.length >= 3 && attempts.every((a) => a.node === "n3" && a.rc === 9), dirReport(d.path));
  const log = readOr(`${d.path}/run_driver.log`) ?? "";
  assert.match(log, /Host n3 quarantined: \d+ tasks in a row failed there and then succeeded elsewhere/, log);
  assert.match(log, /Retiring (\S+,)?n3\b/, log);
  const out = readOr(`${d.path}/slurm-${r.jobId}.out`) ?? "";
  assert.match(out, /quarantined: n3: /, out);
  // The report names it too (from the driver log next to the status file).
  const [cmd, ...pre] = cliCommand();
  const rep = await sh(cmd!, [...pre, "report", "run_status.txt", "--json"], { cwd: d.path });
  assert.equal(rep.code, 0, showRan(rep));
  assert.deepEqual(JSON.parse(rep.stdout).quarantined.map((q: { host: string }) => q.host), ["n3"]);
});

Deno.test({
  name: "slurm: the Python DisBatcher inside a batch job runs its tasks on the job's nodes",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_python_");
  const root = new URL("../../", import.meta.url).pathname;
  writeText(
    d.path,
    "job.sh",
    `#!/bin/bash\nexport PYTHONPATH=${root}clients/python\npython3 ${root}clients/python/examples/squares.py 12 > out.txt\n`,
  );
  const r = await sbatchWait(["-N", "2", "-n", "4", "job.sh"], d.path, ENV);
  assertJobOk(r, d.path);
  const out = readOr(`${d.path}/out.txt`) ?? "";
  assert.match(out, /all results as expected/, `${out}\n${dirReport(d.path)}`);
  const status = [...Deno.readDirSync(d.path)].find((e) => e.name.endsWith("_status.txt"))!.name;
  // Quick tasks may all run on the first engine to join (and the job shrinks as nodes are retired):
  // every task ran on a node of the cluster, through an engine of the job.
  const nodes = new Set(readRows(`${d.path}/${status}`).map((x) => x.node));
  assert.ok(nodes.size > 0 && [...nodes].every((n) => /^n[123]$/.test(n)), [...nodes].join());
});

Deno.test({
  name: "slurm: the node of a lost engine is not retired (never left drained); its tasks finish elsewhere",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_slurm_lostnode_");
  // Each task says where it started; the engine on n3 is killed just after a task started there,
  // long before it could finish (a task that finished but whose report was lost would run again).
  const tasks = Array.from(
    { length: 9 },
    (_, i) => `hostname > started_${i} && sleep 4 && echo x >> done_${i}`,
  );
  writeText(d.path, "T", tasks.join("\n") + "\n");
  const sub = await sh("sbatch", [
    "--parsable",
    "-w",
    "n1,n2,n3",
    "-N",
    "3",
    "-n",
    "3",
    "disbatch",
    "-p",
    "run",
    "T",
  ], {
    cwd: d.path,
    env: ENV,
    timeoutMs: 30_000,
  });
  assert.equal(sub.code, 0, showRan(sub));
  const id = sub.stdout.trim().split(";")[0]!;
  // SIGKILL the engine on n3 (not the batch host) while it runs a task.
  const engine = await (async () => {
    for (const end = performance.now() + JOB_DEADLINE_MS; performance.now() < end;) {
      // Our engines connect to our driver's port (other tests' engines may run on n3 too).
      const port = /DISBATCH_DRIVER='[^']*:(\d+)/.exec(readOr(`${d.path}/run_dbUtil.sh`) ?? "")?.[1];
      const ps = await sh("ps", ["-eo", "pid=,args="]);
      const line = port === undefined
        ? undefined
        : ps.stdout.split("\n").find((l) =>
          / --engine /.test(l) && l.includes(" --host n3 ") &&
          new RegExp(`--connect \\S*:${port}\\b`).test(l) &&
          // The engine, not the srun that started it (whose arguments are the same): killing srun
          // would end the whole step, the engine's reaper with it.
          !/^\s*\d+\s+\S*\bsrun\s/.test(l)
        );
      const startedOnN3 = [...Deno.readDirSync(d.path)].some((e) =>
        e.name.startsWith("started_") && readOr(`${d.path}/${e.name}`)?.trim() === "n3"
      );
      if (line && startedOnN3) return Number(line.trim().split(/\s+/)[0]);
      await new Promise((r) => setTimeout(r, 200));
    }
    return undefined;
  })();
  assert.ok(engine, `the engine on n3\n${dirReport(d.path)}`);
  Deno.kill(engine, "SIGKILL");
  await pollUntilSh(
    "the job to end",
    async () => (await sh("squeue", ["-h", "-j", id])).stdout.trim() === "",
    JOB_DEADLINE_MS,
  );
  assert.deepEqual(doneCounts(d.path, 9), Array(9).fill(1), dirReport(d.path));
  const log = readOr(`${d.path}/run_driver.log`) ?? "";
  assert.match(log, /Not retiring n3: its engine was lost/, log);
  // srun returned with its one task: its tasks were not kept for an engine that cannot come back.
  assert.match(log, /Engine \d+ on n3 left: its launcher exited with status 137\b/, log);
  assert.doesNotMatch(log, /Retiring (\S+,)?n3\b/, log);
  const state = (await sh("sinfo", ["-h", "-n", "n3", "-o", "%T"])).stdout.trim();
  assert.doesNotMatch(state, /drain/i, `n3 is ${state}`);
});

// ---------------------------------------------------------------------------------------------
// allocations the driver asks for itself (--alloc)

/** The run's jobs in the queue (job names `<run>_A<n>`): `id state` lines. */
async function runJobs(run: string): Promise<string[]> {
  const q = await sh("squeue", ["-h", "-o", "%i %T %j"], { timeoutMs: 20_000 });
  return q.stdout.split("\n").filter((l) =>
    l.trim().endsWith(` ${run}`) || new RegExp(` ${run}_A\\d+$`).test(l.trim())
  );
}

Deno.test({
  name:
    "slurm --alloc: up to --max-allocs 3 allocations at once drain 60 tasks; nothing of the run is left in squeue",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_alloc_peak_");
  writeText(
    d.path,
    "T",
    Array.from({ length: 60 }, (_, i) => `sleep 2 && echo x >> done_${i}`).join("\n") + "\n",
  );
  const run = start(["--alloc", "-N 1 -n 2 -t 2", "--max-allocs", "3", "-p", "arun", "T"], {
    cwd: d.path,
    env: ENV,
  });
  let peak = 0;
  let status = "";
  try {
    for (let done = false; !done;) {
      const running = (await runJobs("arun")).filter((l) => l.includes(" RUNNING ")).length;
      peak = Math.max(peak, running);
      if (running === 3 && !status) {
        const st = await sh(`${d.path}/arun_dbUtil.sh`, ["--status"], { cwd: d.path, env: ENV });
        status = st.stdout;
      }
      done = await Promise.race([
        run.done.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 300)),
      ]);
    }
  } finally {
    await killAndWait(run);
  }
  const r = await run.done;
  assert.equal(r.code, 0, `${r.stderr}\n${dirReport(d.path)}`);
  assert.equal(peak, 3, `at most and at the peak 3 allocations ran at once (seen ${peak})`);
  assert.match(status, /allocation A1 \(job \d+\): running on n\d/, status);
  const [cmd, ...pre] = cliCommand();
  const rep = await sh(cmd!, [...pre, "report", "arun_status.txt", "--json"], { cwd: d.path });
  assert.deepEqual(JSON.parse(rep.stdout).allocations.map((a: { label: string }) => a.label), [
    "A1",
    "A2",
    "A3",
  ]);
  assert.deepEqual(doneCounts(d.path, 60), Array(60).fill(1), dirReport(d.path));
  assert.match(r.stderr, /3 allocation\(s\) asked for \(Slurm jobs \d+ \d+ \d+\): 3 ran/);
  await pollUntilSh(
    "the run's jobs to leave the queue",
    async () => (await runJobs("arun")).length === 0,
    30_000,
  );
});

Deno.test({
  name: "slurm --alloc: a run longer than one allocation's limit goes on in the next, each task exactly once",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_alloc_chain_");
  // 36 × 3 s on 2 slots is 54 s of work; a 1-minute allocation takes tasks until 15 s before its end.
  writeText(
    d.path,
    "T",
    Array.from({ length: 36 }, (_, i) => `sleep 3 && echo x >> done_${i}`).join("\n") + "\n",
  );
  const r = await sh(
    cliCommand()[0]!,
    [...cliCommand().slice(1), "--alloc", "-N 1 -n 2 -t 1", "--max-allocs", "1", "-p", "crun", "T"],
    { cwd: d.path, env: ENV, timeoutMs: 240_000 },
  );
  assert.equal(r.code, 0, `${showRan(r)}\n${dirReport(d.path)}`);
  assert.deepEqual(doneCounts(d.path, 36), Array(36).fill(1), dirReport(d.path));
  const ran = Number(/allocation\(s\) asked for \([^)]*\): (\d+) ran/.exec(r.stderr)?.[1]);
  assert.ok(ran >= 2, `chained over at least two allocations: ${r.stderr}`);
  assert.doesNotMatch(
    readOr(`${d.path}/crun_status.txt`) ?? "",
    /^R/m,
    "no task failed or was recorded killed",
  );
  await pollUntilSh(
    "the run's jobs to leave the queue",
    async () => (await runJobs("crun")).length === 0,
    30_000,
  );
});

Deno.test({
  name: "slurm --alloc: options sbatch refuses fail at once, before any file",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_alloc_bad_");
  writeText(d.path, "T", "true\n");
  const t0 = performance.now();
  const r = await sh(cliCommand()[0]!, [
    ...cliCommand().slice(1),
    "--alloc",
    "-p nosuchpartition",
    "-p",
    "brun",
    "T",
  ], {
    cwd: d.path,
    env: ENV,
  });
  const wall = (performance.now() - t0) / 1000;
  assert.equal(r.code, 2, showRan(r));
  assert.match(r.stderr, /argument --alloc: sbatch refuses these options: .*[Ii]nvalid partition/);
  // Well under a second on a quiet machine; the bound leaves room for a loaded one (sbatch --test-only answers at once).
  assert.ok(wall < 1 + 2, `${wall.toFixed(2)} s (the CLI's own start included)`);
  assert.deepEqual([...Deno.readDirSync(d.path)].map((e) => e.name), ["T"]);
});

Deno.test({
  name:
    "slurm --alloc: a partition that refuses jobs pauses the allocator with a clear message; the run goes on",
  ignore: IGNORE,
}, async () => {
  await using d = await jobDir("disbatch_alloc_pause_");
  const part = `refuse${Math.floor(Math.random() * 1e6)}`;
  const mk = await sh("scontrol", ["create", `PartitionName=${part}`, "Nodes=n1,n2,n3", "State=UP"]);
  assert.equal(mk.code, 0, showRan(mk));
  try {
    // The first task drains the partition: later submissions fail; the run finishes on what it has.
    // DRAIN, not INACTIVE: an allocation submitted just before still starts (it would never start in an
    // inactive partition, where the allocator cancels it as one that cannot start).
    writeText(
      d.path,
      "T",
      `scontrol update PartitionName=${part} State=DRAIN\n` +
        Array.from({ length: 40 }, (_, i) => `sleep 2 && echo x >> done_${i}`).join("\n") + "\n",
    );
    const r = await sh(
      cliCommand()[0]!,
      [...cliCommand().slice(1), "--alloc", `-p ${part} -N 1 -n 1`, "--max-allocs", "3", "-p", "prun", "T"],
      { cwd: d.path, env: ENV, timeoutMs: 240_000 },
    );
    assert.equal(r.code, 0, `${showRan(r)}\n${dirReport(d.path)}`);
    assert.match(
      r.stderr,
      /The allocator pauses for 10 min after 3 failures in a row, the last: sbatch failed: .*partition not available/,
    );
    assert.deepEqual(doneCounts(d.path, 40), Array(40).fill(1), dirReport(d.path));
  } finally {
    await sh("scontrol", ["delete", `PartitionName=${part}`]);
  }
});

Deno.test(
  { name: "slurm --alloc: SIGINT mid-run cancels the pending allocations", ignore: IGNORE },
  async () => {
    await using d = await jobDir("disbatch_alloc_sigint_");
    writeText(d.path, "T", "sleep 1\n".repeat(10));
    // They can only start in an hour: both stay pending.
    const run = start(
      ["--alloc", "-N 1 --begin=now+3600", "--max-allocs", "2", "--alloc-backlog", "2", "-p", "irun", "T"],
      { cwd: d.path, env: ENV },
    );
    try {
      await pollUntilSh(
        "two pending allocations",
        async () => (await runJobs("irun")).filter((l) => l.includes(" PENDING ")).length === 2,
        30_000,
      );
      Deno.kill(run.pid, "SIGINT");
      const r = await run.done;
      assert.equal(r.code, 130, r.stderr);
    } finally {
      await killAndWait(run);
    }
    await pollUntilSh(
      "the run's jobs to leave the queue",
      async () => (await runJobs("irun")).length === 0,
      10_000,
    );
  },
);

/**
 * More of what a run survives (issue 13): a local engine SIGKILLed under a task that ignores
 * SIGTERM (the task is gone before its re-queued copy starts), and a `--results -` reader that
 * closes early (the run goes on and exits as a normal run does). Every task counts its own
 * executions through the files it writes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cliCommand, type Decoded, decoded, tempDir } from "../helpers/run_cli.ts";
import {
  exists,
  finish,
  isTaskRow,
  killAndWait,
  killPid,
  pollUntil,
  processes,
  readOr,
  readRows,
  type Running,
  show,
  start,
  writeText,
} from "./e2e_helpers.ts";

/** Live (not zombie) processes whose working directory is `dir` or below: the run's engines, reapers, tasks. */
async function processesIn(dir: string): Promise<{ pid: number; args: string }[]> {
  const out: { pid: number; args: string }[] = [];
  for (const p of await processes()) {
    if (p.pid === Deno.pid) continue;
    let cwd = "";
    let state = "";
    try {
      cwd = Deno.readLinkSync(`/proc/${p.pid}/cwd`);
      state = /\) (\S)/.exec(Deno.readTextFileSync(`/proc/${p.pid}/stat`))?.[1] ?? "";
    } catch {
      continue; // gone, or not ours to see
    }
    if ((cwd === dir || cwd.startsWith(`${dir}/`)) && state !== "Z") out.push({ pid: p.pid, args: p.args });
  }
  return out;
}

/** Wait up to `ms` for every process of the run in `dir` to be gone; those still alive then. */
async function leftoverIn(dir: string, ms = 3_000): Promise<{ pid: number; args: string }[]> {
  const deadline = performance.now() + ms;
  for (;;) {
    const left = await processesIn(dir);
    if (left.length === 0 || performance.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stamps as numbers (seconds with nanoseconds), one a line. */
function stamps(path: string): number[] {
  return (readOr(path) ?? "").split("\n").filter(Boolean).map(Number);
}

Deno.test("survive: a SIGKILLed local engine's task that ignores SIGTERM is gone before its re-queued copy starts", async () => {
  await using d = await tempDir();
  const n = 6;
  // Every run of task i holds the lock lock_i (a second holder notes dup_i) and stamps its start
  // in starts_i. The first run of the first task to start becomes the victim: it writes its pid,
  // ignores SIGTERM (so do its children) and stamps `alive` every 50 ms until it is killed for
  // good. A later run of the victim task notes in `overlap` when the victim's pid still lives (a
  // zombie does not count). A run that gets to its end appends to done_i.
  const task = [
    "id=$DISBATCH_TASKID; exec 9>lock_$id; flock -n 9 || echo dup >> dup_$id; date +%s.%N >> starts_$id",
    "if mkdir victim.d 2>/dev/null; then echo $$ > victim_pid; echo $id > victim; trap '' TERM; " +
    "while :; do date +%s.%N >> alive; sleep 0.05; done; fi",
    'if [ "$(cat victim 2>/dev/null)" = "$id" ]; then p=$(cat victim_pid); s=$(ps -o stat= -p "$p"); ' +
    'case "$s" in ""|Z*) ;; *) echo "$p $s" >> overlap;; esac; sleep 1; fi',
    "sleep 0.2; echo x >> done_$id",
  ].join("; ");
  writeText(d.path, "Tasks", `${task}\n`.repeat(n));
  const run = start(["-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  let spare: Running<Decoded> | undefined;
  try {
    await pollUntil("the victim to stamp", () => stamps(`${d.path}/alive`).length > 3, 30_000);
    const victimPid = Number(readOr(`${d.path}/victim_pid`));
    const victim = Number(readOr(`${d.path}/victim`));
    assert.ok(victimPid > 0, "the victim's pid");
    // Its engine is its ancestor: bash (setsid) <- engine, a child of the driver.
    const byPid = new Map((await processes()).map((p) => [p.pid, p]));
    let engine = byPid.get(victimPid);
    while (engine && !engine.args.includes("--engine")) engine = byPid.get(engine.ppid);
    assert.ok(engine, "the victim's engine process");
    assert.equal(engine.ppid, run.pid, "a local engine, started by the driver");
    // A spare local engine (a second context, as `<run>_dbUtil.sh -s localhost:1` adds), idle when
    // the victim's engine dies: it could start the victim's copy at once, long before the restarted
    // engine is up, were the copy not held back until the original is surely gone.
    const dbUtil = `${d.path}/run_dbUtil.sh`;
    await pollUntil("the run's dbUtil.sh", () => /DISBATCH_DRIVER='[^']+'/.test(readOr(dbUtil) ?? ""));
    const ctx = new Deno.Command(dbUtil, {
      args: ["-s", "localhost:1", "-l", "spare"],
      cwd: d.path,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    spare = { child: ctx, done: ctx.output().then(decoded) };
    await pollUntil(
      "the spare engine to join",
      () => /Engine 1 joined/.test(readOr(`${d.path}/run_driver.log`) ?? ""),
    );
    // Done as the driver knows it: a task whose end has not reached the driver when its engine
    // dies is rightly run again, so wait for the status lines, not the tasks' own files.
    const recorded = (): Set<number> => {
      try {
        return new Set(readRows(`${d.path}/run_status.txt`).filter(isTaskRow).map((x) => x.id));
      } catch {
        return new Set();
      }
    };
    await pollUntil(
      "every other task recorded in the status file",
      () => [...Array(n).keys()].every((i) => i === victim || recorded().has(i)),
      30_000,
    );
    const killedAt = Date.now() / 1000;
    Deno.kill(engine.pid, "SIGKILL");
    const r = await finish(run, 60_000);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /the engine on \S+ was lost; starting it again in 1 s/, show(r));
    const c = await finish(spare, 30_000);
    assert.equal(c.code, 0, `the spare context exited ${c.code}: ${c.stderr}`);

    const alive = stamps(`${d.path}/alive`);
    const starts = stamps(`${d.path}/starts_${victim}`);
    assert.equal(starts.length, 2, `the victim task ran twice (the killed run and its copy): ${starts}`);
    const copy = starts[1]!;
    const last = Math.max(...alive);
    console.log(
      `engine killed; last stamp of the killed run +${(last - killedAt).toFixed(2)} s, ` +
        `its copy started +${(copy - killedAt).toFixed(2)} s`,
    );
    assert.ok(last > killedAt, "the victim outlived its engine (it ignores SIGTERM)");
    assert.ok(
      last < copy,
      `the killed run stamped ${(last - copy).toFixed(2)} s after its copy started (engine killed at ` +
        `${killedAt.toFixed(2)}, last stamp ${last.toFixed(2)}, copy ${copy.toFixed(2)})`,
    );
    assert.equal(readOr(`${d.path}/overlap`), undefined, "the victim's pid was alive when its copy started");
    const dups = [...Array(n).keys()].filter((i) => exists(`${d.path}/dup_${i}`));
    assert.deepEqual(dups, [], "a task's lock was still held when another run of it started");

    const done = [...Array(n).keys()].map((i) =>
      (readOr(`${d.path}/done_${i}`) ?? "").split("\n").filter(Boolean).length
    );
    assert.deepEqual(done, Array(n).fill(1), "each task finished exactly once");
    const rows = readRows(`${d.path}/run_status.txt`).filter(isTaskRow);
    assert.deepEqual(
      rows.map((x) => x.id).sort((a, b) => a - b),
      [...Array(n).keys()],
      "one status line per task",
    );
    assert.deepEqual(rows.filter((x) => x.rc !== 0 || x.flags.trim() !== ""), [], "every task succeeded");

    assert.deepEqual(await leftoverIn(d.path), [], "processes of the run left after it ended");
  } finally {
    await killAndWait(run);
    if (spare) await killAndWait(spare);
    for (const p of await processesIn(d.path)) killPid(p.pid);
  }
});

Deno.test("survive: a --results - reader that closes early: every task runs, the exit status is a normal run's", async () => {
  await using d = await tempDir();
  const n = 30;
  writeText(d.path, "Tasks", "sleep 0.1; echo x >> done_$DISBATCH_TASKID\n".repeat(n));
  const [cmd, ...pre] = cliCommand();
  const spawn = (prefix: string) =>
    new Deno.Command(cmd!, {
      args: [...pre, "--results", "-", "-s", "localhost:2", "-p", prefix, "Tasks"],
      cwd: d.path,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  const check = (prefix: string, what: string) => {
    const rows = readRows(`${d.path}/${prefix}_status.txt`).filter(isTaskRow);
    assert.deepEqual(
      rows.map((x) => x.id).sort((a, b) => a - b),
      [...Array(n).keys()],
      `${what}: every task recorded`,
    );
    assert.deepEqual(rows.filter((x) => x.rc !== 0), [], `${what}: every task rc 0`);
  };

  let child: Deno.ChildProcess | undefined;
  let exited = false;
  try {
    // A normal run, its results read to the end: the status to compare with.
    child = spawn("normal");
    const normal = decoded(await child.output());
    exited = true;
    assert.equal(normal.stdout.trim().split("\n").length, n, "a result line per task");
    check("normal", "normal run");
    for (let i = 0; i < n; i++) Deno.removeSync(`${d.path}/done_${i}`);

    // The same run, its results reader gone after the first bytes (`| head -c 1`).
    const early = child = spawn("early");
    exited = false;
    const stderr = new Response(early.stderr).text();
    const reader = early.stdout.getReader();
    const first = await reader.read();
    assert.ok(!first.done && first.value.length > 0, "the first result arrived");
    await reader.cancel(); // the reader goes away
    const timer = setTimeout(() => early.kill("SIGKILL"), 60_000);
    const status = await early.status;
    exited = true;
    clearTimeout(timer);
    const err = await stderr;
    assert.equal(status.signal, null, `the driver died of ${status.signal}\n${err}`);
    assert.equal(status.code, normal.code, `the exit status of a normal run\n${err}`);
    assert.equal(status.code, 0, err);
    check("early", "reader closed early");
    for (let i = 0; i < n; i++) {
      assert.equal(readOr(`${d.path}/done_${i}`), "x\n", `task ${i} ran exactly once`);
    }
    // The documented behaviour: the results output stops with one message; the run goes on.
    const said = err.split("\n").filter((l) => l.includes("cannot write results to stdout"));
    assert.equal(said.length, 1, `one message on stderr\n${err}`);
    assert.match(said[0]!, /the run goes on and the status file has every result/);
    assert.match(Deno.readTextFileSync(`${d.path}/early_driver.log`), /cannot write results to stdout/);
    assert.doesNotMatch(err, /Uncaught|internal error|\n\s+at /);
    assert.deepEqual(await leftoverIn(d.path), [], "processes of the run left after it ended");
  } finally {
    if (child && !exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
    for (const p of await processesIn(d.path)) killPid(p.pid);
  }
});

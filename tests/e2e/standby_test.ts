/**
 * The standby engine: a driver whose own context starts an engine on its machine starts that
 * process as it starts itself, and hands it its launch later. The run sees the same engine; a
 * standby that is not used, or whose driver dies, leaves no process and no file behind.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cliCommand, tempDir } from "../helpers/run_cli.ts";
import { doneCounts, pollUntil, processes, readRows, show, start } from "./e2e_helpers.ts";

/** Processes working in `dir` (the driver's directory: a standby and its python start there). */
function workingIn(dir: string): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      const cwd = Deno.readLinkSync(`/proc/${e.name}/cwd`);
      if (cwd !== dir && !cwd.startsWith(`${dir}/`)) continue;
      const cmdline = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ").trim();
      if (cmdline) out.push({ pid: Number(e.name), cmdline });
    } catch { /* gone */ }
  }
  return out;
}

/** disbatch reading its tasks from stdin (`-`), which the test holds open. */
function startReading(args: string[], cwd: string, env: Record<string, string>) {
  const [cmd, ...pre] = cliCommand();
  const child = new Deno.Command(cmd!, {
    args: [...pre, ...args],
    cwd,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, done: child.output() };
}

Deno.test("standby: the local engine is the process the driver started ahead; every task runs once", async () => {
  await using d = await tempDir();
  const n = 6;
  Deno.writeTextFileSync(
    `${d.path}/Tasks`,
    Array.from({ length: n }, (_, i) => `sleep 0.3; echo x >> done_${i}`).join("\n") + "\n",
  );
  const run = start(["-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  let engine: string | undefined;
  await pollUntil("the engine", async () => {
    engine = (await processes()).find((p) => p.ppid === run.pid && p.args.includes("--engine"))?.args;
    return engine !== undefined;
  }, 30_000);
  const r = await run.done;
  assert.equal(r.code, 0, show(r));
  assert.match(engine!, /--engine --standby$/, "the engine was the standby");
  assert.deepEqual(doneCounts(d.path, n), Array(n).fill(1));
  assert.equal(readRows(`${d.path}/run_status.txt`).length, n);
  const log = Deno.readTextFileSync(`${d.path}/run_SSH0_${Deno.hostname()}_engine_0.log`);
  assert.match(log, /Engine 0 started on \S+ \(pid \d+\) with 2 slots/);
  // The engine lets its launcher and reaper go without waiting for them: they end just after it.
  await pollUntil("nothing left running", () => workingIn(d.path).length === 0, 10_000);
});

Deno.test("standby: a driver killed while its standby waits leaves no process and no file", async () => {
  await using d = await tempDir();
  await using tmp = await tempDir("disbatch_tmp_");
  const env = { TMPDIR: tmp.path };
  // No task comes: the context (and the standby's launch) waits for the first one.
  const run = startReading(["-s", "localhost:2", "-p", "run", "-"], d.path, env);
  try {
    await pollUntil("the standby and the python it started", () => {
      const here = workingIn(d.path);
      return here.some((p) => p.cmdline.includes("--engine --standby")) &&
        here.some((p) => /python3? -I -S -c/.test(p.cmdline));
    }, 30_000);
    run.child.kill("SIGKILL");
    await run.done;
    await pollUntil("the standby and its python gone", () => workingIn(d.path).length === 0, 5_000);
    await pollUntil(
      "the python launcher's directory removed",
      () => [...Deno.readDirSync(tmp.path)].filter((e) => e.name.startsWith("disbatch-")).length === 0,
      5_000,
    );
  } finally {
    try {
      run.child.kill("SIGKILL");
    } catch { /* gone */ }
    for (const p of workingIn(d.path)) Deno.kill(p.pid, "SIGKILL");
  }
});

Deno.test("standby: SIGTERM to the driver, its standby and the python at once (pkill -f disbatch) leaves no file", async () => {
  await using d = await tempDir();
  await using tmp = await tempDir("disbatch_tmp_");
  const run = startReading(["-s", "localhost:2", "-p", "run", "-"], d.path, { TMPDIR: tmp.path });
  try {
    const [standby, python] = await pollUntil("the standby and the python it started", () => {
      const here = workingIn(d.path);
      const s = here.find((p) => p.cmdline.includes("--engine --standby"));
      // python itself, not the shell that execs it
      const py = here.find((p) => /^\S*python3? -I -S -c/.test(p.cmdline));
      return s && py ? [s.pid, py.pid] : undefined;
    }, 30_000);
    assert.ok([...Deno.readDirSync(tmp.path)].some((e) => e.name.startsWith("disbatch-tasks-")));
    // As a signal to every process of the user or the job: the python gets it before any welcome.
    for (const pid of [python, standby, run.child.pid]) Deno.kill(pid, "SIGTERM");
    await run.done;
    await pollUntil("the standby and its python gone", () => workingIn(d.path).length === 0, 10_000);
    await pollUntil(
      "the python launcher's directory removed",
      () => [...Deno.readDirSync(tmp.path)].filter((e) => e.name.startsWith("disbatch-")).length === 0,
      5_000,
    );
  } finally {
    try {
      run.child.kill("SIGKILL");
    } catch { /* gone */ }
    for (const p of workingIn(d.path)) Deno.kill(p.pid, "SIGKILL");
  }
});

Deno.test("standby: a run that ends before its first task drops the standby at once", async () => {
  await using d = await tempDir();
  await using tmp = await tempDir("disbatch_tmp_");
  const run = startReading(["-s", "localhost:2", "-p", "run", "-"], d.path, { TMPDIR: tmp.path });
  await pollUntil(
    "the standby",
    () => workingIn(d.path).some((p) => p.cmdline.includes("--engine --standby")),
    30_000,
  );
  await run.child.stdin.close(); // no task at all
  const out = await run.done;
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(
    new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
    /No tasks to run/,
  );
  await pollUntil("the standby gone", () => workingIn(d.path).length === 0, 2_000);
  await pollUntil(
    "no directory of it left",
    () => [...Deno.readDirSync(tmp.path)].filter((e) => e.name.startsWith("disbatch-")).length === 0,
    3_000,
  );
});

Deno.test("standby: none for a run whose context starts no engine here (-S)", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, "true\n");
  const run = start(["-S", "-p", "run", "Tasks"], { cwd: d.path });
  try {
    await pollUntil("the run's address file", () => {
      try {
        return Deno.statSync(`${d.path}/run_dbUtil.sh`).isFile;
      } catch {
        return false;
      }
    }, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    const engines = (await processes()).filter((p) => p.ppid === run.pid && p.args.includes("--engine"));
    assert.deepEqual(engines, [], "no engine process started ahead");
  } finally {
    Deno.kill(run.pid, "SIGTERM");
    await run.done;
  }
});

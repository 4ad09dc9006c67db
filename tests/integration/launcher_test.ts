/**
 * The task launcher against the engine's own spawn: the same commands through both must give the
 * same return codes, byte counts and snippets, and the launcher's tasks must lead process groups of
 * their own, see only `/dev/null` on stdin and die with the engine.
 */
import assert from "node:assert/strict";
import { Launcher, processCpuMs, sessionGroups } from "../../adapters/launcher.ts";
import { killGroup, type ProcessResult, spawnTask } from "../../adapters/process.ts";
import { bashCommandArg } from "../../lib/text.ts";
import {
  assertStragglerRun,
  CUT_COMMANDS,
  isLive as running,
  peakDiskWhile,
  pick,
  SAME_RESULT_COMMANDS,
  SAME_RESULT_ENV,
  stragglerRun,
} from "../helpers/spawn_cases.ts";

function requirePython(): void {
  const ok = (() => {
    try {
      return new Deno.Command("python3", { args: ["-c", "import os; os.posix_spawn"] }).outputSync().success;
    } catch {
      return false;
    }
  })();
  if (!ok) {
    throw new Error("python3 (3.8 or newer) is needed for the launcher tests: apt-get install python3");
  }
}

/**
 * A ready launcher.
 * @param cutBytes where it cuts output files back
 * @param ctypes false: it starts tasks with os.posix_spawn (`DISBATCH_LAUNCHER_CTYPES=0`)
 */
async function launcherFor(
  cutBytes?: number,
  ctypes = true,
  waitS?: number,
): Promise<{ l: Launcher; lines: string[] }> {
  requirePython();
  const lines: string[] = [];
  if (!ctypes) Deno.env.set("DISBATCH_LAUNCHER_CTYPES", "0");
  if (waitS !== undefined) Deno.env.set("DISBATCH_LAUNCHER_WAIT_S", String(waitS));
  let l: Launcher;
  try {
    l = new Launcher((level, text) => lines.push(`${level} ${text}`), cutBytes);
  } finally {
    Deno.env.delete("DISBATCH_LAUNCHER_CTYPES");
    Deno.env.delete("DISBATCH_LAUNCHER_WAIT_S");
  }
  l.configure(30, Deno.cwd(), Deno.env.toObject());
  assert.equal(await l.whenReady, true, lines.join("\n"));
  return { l, lines };
}

let nextRun = 1;
function viaLauncher(
  l: Launcher,
  command: string,
  env: Record<string, string> = {},
  slot: number | null = 0,
  stopsRun = false,
) {
  let pid: number | undefined;
  let ranIn: number | undefined;
  const result = new Promise<ProcessResult | "withdrawn">((resolve, reject) => {
    l.start(nextRun++, slot, bashCommandArg(command), env, stopsRun, {
      started: (p, _at, s) => {
        pid = p;
        ranIn = s;
      },
      failed: (m) => reject(new Error(m)),
      exited: resolve,
      withdrawn: () => resolve("withdrawn"),
    });
  });
  return { result: result as Promise<ProcessResult>, withdrawn: result, pid: () => pid, slot: () => ranIn };
}

Deno.test("launcher: the same results as the engine's own spawn", async () => {
  const { l } = await launcherFor();
  try {
    for (const command of SAME_RESULT_COMMANDS) {
      const env = { ...SAME_RESULT_ENV };
      const direct = await spawnTask(command, env).result;
      const launched = await viaLauncher(l, command, env).result;
      assert.deepEqual(pick(launched), pick(direct), command);
    }
  } finally {
    l.close();
  }
});

Deno.test("launcher: posix_spawn through ctypes and os.posix_spawn give the same results, and the log says which ran", async () => {
  const viaCtypes = await launcherFor();
  const viaOs = await launcherFor(undefined, false);
  try {
    assert.match(viaCtypes.lines.join("\n"), /task launcher ready .*; posix_spawn through ctypes\)/);
    assert.match(
      viaOs.lines.join("\n"),
      /task launcher ready .*; os\.posix_spawn \(DISBATCH_LAUNCHER_CTYPES=0\)\)/,
    );
    for (const command of SAME_RESULT_COMMANDS) {
      const env = { ...SAME_RESULT_ENV };
      const a = await viaLauncher(viaCtypes.l, command, env).result;
      const b = await viaLauncher(viaOs.l, command, env).result;
      assert.deepEqual(pick(a), pick(b), command);
    }
  } finally {
    viaCtypes.l.close();
    viaOs.l.close();
  }
});

for (const ctypes of [true, false]) {
  const way = ctypes ? "ctypes" : "os.posix_spawn";
  Deno.test(`launcher (${way}): a task's variable replaces the base environment's, a pool slot's the task's; one entry each`, async () => {
    const { l } = await launcherFor(undefined, ctypes);
    try {
      const count = `$(tr '\\0' '\\n' < /proc/$$/environ | grep -c -e '^HOME=' -e '^GPU=')`;
      const direct = await viaLauncher(l, `echo "$HOME $GPU ${count}"`, { HOME: "/elsewhere", GPU: "task" })
        .result;
      assert.equal(direct.stdoutSnippet, "/elsewhere task 2\n");
      l.pool(new Map([[3, { DISBATCH_CYLINDER_RANK: "3", GPU: "slot" }]]));
      const queued = await viaLauncher(l, `echo "$HOME $GPU ${count}"`, { GPU: "task" }, null).result;
      assert.equal(queued.stdoutSnippet, `${Deno.env.get("HOME")} slot 2\n`);
    } finally {
      l.close();
    }
  });

  Deno.test(`launcher (${way}): a NUL in the command or a variable, or a name with "=", fails that start, and the next one runs`, async () => {
    const { l } = await launcherFor(undefined, ctypes);
    try {
      await assert.rejects(viaLauncher(l, "echo a\0b").result, /embedded null byte/);
      await assert.rejects(viaLauncher(l, "echo a", { X: "a\0b" }).result, /embedded null byte/);
      await assert.rejects(viaLauncher(l, "echo a", { Y: "1", "X\0": "b" }).result, /embedded null byte/);
      await assert.rejects(
        viaLauncher(l, "echo a", { "A=B": "1" }).result,
        /illegal environment variable name/,
      );
      await assert.rejects(viaLauncher(l, "echo a", { "": "1" }).result, /illegal environment variable name/);
      assert.equal(
        (await viaLauncher(l, "echo \u00e9t\u00e9", { V: "\u00e9" }).result).stdoutSnippet,
        "\u00e9t\u00e9\n",
      );
      assert.equal((await viaLauncher(l, "echo fine").result).stdoutSnippet, "fine\n");
    } finally {
      l.close();
    }
  });
}

Deno.test("launcher: a task leads its own process group, on its slot's files, tasks of several slots at once", async () => {
  const { l } = await launcherFor();
  try {
    const runs = [0, 1, 2].map((slot) =>
      viaLauncher(l, `sleep 0.3; echo "$$ $(ps -o pgid= $$ | tr -d ' ') $SLOT"`, { SLOT: String(slot) }, slot)
    );
    const results = await Promise.all(runs.map((r) => r.result));
    for (const [slot, r] of results.entries()) {
      const [pid, pgid, s] = r.stdoutSnippet.trim().split(" ");
      assert.equal(Number(pid), r.pid);
      assert.equal(pgid, pid, "the task leads its process group");
      assert.equal(s, String(slot));
    }
  } finally {
    l.close();
  }
});

Deno.test("launcher: a straggler holding a task's output is waited for without keeping the launcher busy; its late output counts and the other slot goes on", async () => {
  const { l } = await launcherFor();
  try {
    const r = await stragglerRun((c, slot) => viaLauncher(l, c, {}, slot).result, () => processCpuMs(l.pid)!);
    assertStragglerRun(r, 0.05, "the launcher");
  } finally {
    l.close();
  }
});

Deno.test("launcher: a real-time signal's death is minus its number", async () => {
  const { l } = await launcherFor();
  try {
    assert.equal((await viaLauncher(l, "kill -RTMIN+3 $$").result).returnCode, -37);
  } finally {
    l.close();
  }
});

Deno.test("launcher: a group kill reaches the whole tree, and the end is a signal death", async () => {
  const { l } = await launcherFor();
  const dir = await Deno.makeTempDir();
  try {
    const run = viaLauncher(l, `sleep 60 & echo $! > ${dir}/child; wait`);
    while (!run.pid() || !(await Deno.stat(`${dir}/child`).then((s) => s.size > 0, () => false))) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const child = Number((await Deno.readTextFile(`${dir}/child`)).trim());
    assert.ok(killGroup(run.pid()!, "SIGTERM"));
    const r = await run.result;
    assert.equal(r.returnCode, -15);
    // Dead at once (it would sleep 60 s otherwise); a busy machine may take a moment to reap it.
    for (let i = 0; i < 250 && running(child); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!running(child), "the task's child died with it");
  } finally {
    l.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("launcher: when the engine's side closes, what still runs is killed and the launcher's files go", async () => {
  const { l } = await launcherFor();
  const dir = await Deno.makeTempDir();
  const run = viaLauncher(l, `echo $$ > ${dir}/pid; exec sleep 60`);
  while (!(await Deno.stat(`${dir}/pid`).then((s) => s.size > 0, () => false))) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const pid = Number((await Deno.readTextFile(`${dir}/pid`)).trim());
  l.close();
  const r = await run.result;
  assert.equal(r.returnCode, -15, "SIGTERM from the launcher");
  for (let i = 0; i < 250 && running(pid); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(!running(pid), "the task is gone");
  let gone = false;
  for (let i = 0; i < 50 && !gone; i++) {
    gone = await Deno.stat(l.dir).then(() => false, () => true);
    if (!gone) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(gone, "the launcher removed its directory");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("launcher: before it is configured, SIGTERM, SIGINT, SIGHUP and SIGQUIT do not end it; its stdin's end does, and its directory goes", async () => {
  requirePython();
  const l = new Launcher(() => {});
  try {
    // Signalled once python runs (not the shell that execs it), as a job-wide signal would find it.
    const deadline = Date.now() + 10_000;
    while (!/python3?$/.test(Deno.readTextFileSync(`/proc/${l.pid}/cmdline`).split("\0")[0]!)) {
      assert.ok(Date.now() < deadline, "python runs");
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const sig of ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT"] as const) Deno.kill(l.pid, sig);
    l.configure(30, Deno.cwd(), Deno.env.toObject());
    assert.equal(await l.whenReady, true, "it lived on to be configured");
  } finally {
    l.close();
  }
  let gone = false;
  for (let i = 0; i < 50 && !gone; i++) {
    gone = await Deno.stat(l.dir).then(() => false, () => true);
    if (!gone) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(gone, "the launcher removed its directory");
});

Deno.test("launcher: output that is cut back to save space is still counted exactly, first and last bytes kept", async () => {
  // Cut at 1 MB: the task writes 6 MB over 3 s, so the launcher cuts its files several times.
  const { l } = await launcherFor(1 << 20);
  try {
    for (const command of CUT_COMMANDS) {
      const direct = await spawnTask(command, {}).result;
      const run = viaLauncher(l, command);
      // What the slot's files take on disk while the task runs.
      const most = await peakDiskWhile(l.dir, run.result, /^[oe]0\./);
      assert.deepEqual(pick(await run.result), pick(direct), command);
      assert.ok(most < 4_500_000, `the files took ${most} bytes for 6 MB written`);
    }
  } finally {
    l.close();
  }
});

Deno.test("launcher: queued tasks fill the pool's slots as they free, with each slot's variables; unstarted ones can be taken back", async () => {
  const { l } = await launcherFor();
  try {
    l.pool(
      new Map([[4, { DISBATCH_CYLINDER_RANK: "4", GPU: "a" }], [7, {
        DISBATCH_CYLINDER_RANK: "7",
        GPU: "b",
      }]]),
    );
    const cmd = 'echo "$DISBATCH_CYLINDER_RANK $GPU $DISBATCH_TASKID"; sleep 2';
    const runs = [0, 1, 2, 3, 4, 5].map((i) => viaLauncher(l, cmd, { DISBATCH_TASKID: String(i) }, null));
    // Two slots, each task 2 s: the last two are still queued when asked back.
    await new Promise((r) => setTimeout(r, 100));
    l.withdraw([nextRun - 2, nextRun - 1]);
    const ends = await Promise.all(runs.map((r) => r.withdrawn));
    assert.deepEqual(ends.slice(4), ["withdrawn", "withdrawn"]);
    const done = ends.slice(0, 4) as ProcessResult[];
    for (const [i, r] of done.entries()) {
      const slot = runs[i]!.slot();
      assert.ok(slot === 4 || slot === 7, `task ${i} ran in slot ${slot}`);
      assert.equal(r.returnCode, 0);
      assert.equal(r.stdoutSnippet, `${slot} ${slot === 4 ? "a" : "b"} ${i}\n`);
    }
    // Never more at once than the pool's two slots.
    const edges = done.flatMap((r) => [[r.start, 1], [r.end, -1]] as [number, number][])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let now = 0;
    let most = 0;
    for (const [, d] of edges) most = Math.max(most, now += d);
    assert.equal(most, 2);
  } finally {
    l.close();
  }
});

Deno.test("launcher: while tasks wait in its queue, a failure's end is reported at once, not with the next batch", async () => {
  // Start and success lines wait 4 s here (100 ms in a run) to go out together: far from "at once".
  const { l } = await launcherFor(undefined, true, 4);
  try {
    l.pool(new Map([[0, { DISBATCH_CYLINDER_RANK: "0" }]]));
    const heard: number[] = [];
    const fails = [3, 4, 5].map((rc) => viaLauncher(l, `exit ${rc}`, {}, null));
    const rest = Array.from({ length: 12 }, () => viaLauncher(l, "sleep 2", {}, null));
    for (const f of fails) {
      const r = await f.result;
      heard.push(Date.now() / 1000 - r.end);
    }
    assert.ok(
      Math.min(...heard) < 2,
      `ends heard ${heard.map((s) => (s * 1000).toFixed(0)).join(", ")} ms late`,
    );
    l.withdraw(Array.from({ length: 12 }, (_, i) => nextRun - 12 + i));
    await Promise.all(rest.map((r) => r.withdrawn));
  } finally {
    l.close();
  }
});

Deno.test("launcher: queued tasks taken back, then the running one killed: the freed slot starts none of them", async () => {
  const { l } = await launcherFor();
  try {
    l.pool(new Map([[0, { DISBATCH_CYLINDER_RANK: "0" }]]));
    const runs = [0, 1, 2].map(() => viaLauncher(l, "sleep 30.9", {}, null));
    for (let i = 0; i < 500 && runs[0]!.pid() === undefined; i++) await new Promise((r) => setTimeout(r, 20));
    const pid = runs[0]!.pid();
    assert.ok(pid !== undefined, "the first task started");
    // What an engine that is killed does, in one turn: take the queue back, then kill what runs. The
    // engine stays busy for a while after (the launcher sees the end long before the turn is over).
    l.withdraw([nextRun - 2, nextRun - 1]);
    killGroup(pid, "SIGKILL");
    const until = Date.now() + 300;
    while (Date.now() < until) { /* busy */ }
    const ends = await Promise.all(runs.map((r) => r.withdrawn));
    assert.equal((ends[0] as ProcessResult).returnCode, -9);
    assert.deepEqual(ends.slice(1), ["withdrawn", "withdrawn"], "a queued task started in the freed slot");
  } finally {
    l.close();
  }
});

Deno.test("launcher: tasks run in the directory it is given, not the one it was started in", async () => {
  const where = Deno.makeTempDirSync({ prefix: "launcher_cwd_" });
  const l = new Launcher(() => {});
  try {
    l.configure(30, where, Deno.env.toObject());
    assert.ok(await l.whenReady);
    // Into a file of its own: the output snippet keeps 40 bytes, less than a long $TMPDIR's path.
    const r = await viaLauncher(l, "pwd -P > here").result;
    assert.equal(r.returnCode, 0);
    assert.equal(Deno.readTextFileSync(`${where}/here`), `${Deno.realPathSync(where)}\n`);
  } finally {
    l.close();
    Deno.removeSync(where, { recursive: true });
  }
});

Deno.test("launcher: killed outright, what it ran is killed (none left behind) and what it had not started comes back", async () => {
  const { l } = await launcherFor();
  let ended = false;
  l.onEnded = () => ended = true;
  l.pool(new Map([[0, { DISBATCH_CYLINDER_RANK: "0" }]]));
  // The first runs (its start line may still be held back when the launcher dies); the others wait.
  const runs = [0, 1, 2].map(() => viaLauncher(l, "sleep 31.7", {}, null));
  // Its tasks are in its session: found even before it told their pids.
  const deadline = Date.now() + 10_000;
  while (runs[0]!.pid() === undefined || !sessionGroups(l.pid, 3).includes(runs[0]!.pid()!)) {
    assert.ok(Date.now() < deadline, "the running task's group is in the launcher's session");
    await new Promise((r) => setTimeout(r, 25));
  }
  Deno.kill(l.pid, "SIGKILL");
  const ends = await Promise.all(runs.map((r) => r.withdrawn));
  assert.equal((ends[0] as ProcessResult).returnCode, -9);
  assert.deepEqual(ends.slice(1), ["withdrawn", "withdrawn"]);
  assert.ok(ended, "the engine is told the launcher is gone");
  // A task handed to it now goes back at once.
  assert.equal(await viaLauncher(l, "true", {}, null).withdrawn, "withdrawn");
  // SIGKILL takes a moment to land.
  let left = "";
  for (let i = 0; i < 30; i++) {
    const out = new Deno.Command("pgrep", { args: ["-f", "^sleep 31.7$"] }).outputSync();
    left = new TextDecoder().decode(out.stdout).trim().split("\n").filter((p) => p && running(Number(p)))
      .join(" ");
    if (!left) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(left, "", "no task left running");
  assert.throws(() => Deno.statSync(l.dir), Deno.errors.NotFound, `its directory ${l.dir} is removed`);
  l.close();
});

Deno.test("launcher: after a failure that ends the run (--fail-fast) its queue starts nothing until released", async () => {
  const where = Deno.makeTempDirSync({ prefix: "launcher_hold_" });
  const l = new Launcher(() => {});
  try {
    l.configure(30, where, Deno.env.toObject());
    assert.ok(await l.whenReady);
    l.pool(new Map([[0, { DISBATCH_CYLINDER_RANK: "0" }]]));
    // A success of a marked task holds nothing; a failure of an unmarked one neither.
    const ok = viaLauncher(l, "true", {}, null, true);
    const plain = viaLauncher(l, "exit 4", {}, null);
    const failing = viaLauncher(l, "exit 3", {}, null, true);
    const after = [0, 1].map((i) => viaLauncher(l, `touch after_${i}`, {}, null));
    assert.equal((await ok.result).returnCode, 0);
    assert.equal((await plain.result).returnCode, 4);
    assert.equal((await failing.result).returnCode, 3);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(
      [...Deno.readDirSync(where)].map((e) => e.name),
      [],
      "nothing started after the failure",
    );
    l.release();
    for (const a of after) assert.equal((await a.result).returnCode, 0);
    assert.deepEqual([...Deno.readDirSync(where)].map((e) => e.name).sort(), ["after_0", "after_1"]);
  } finally {
    l.close();
    Deno.removeSync(where, { recursive: true });
  }
});

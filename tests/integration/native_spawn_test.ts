/**
 * The engine's `posix_spawn` (through the C library) against its `Deno.Command` spawn: the same
 * commands through both must give the same return codes, byte counts and snippets; its tasks must
 * lead sessions and process groups of their own, inherit no descriptor, signal disposition or mask
 * of the engine's, and a straggler holding a task's output must neither be cut short nor count for
 * the slot's next task.
 */
import assert from "node:assert/strict";
import { NativeSpawner } from "../../adapters/native_spawn.ts";
import { killGroup, spawnTask } from "../../adapters/process.ts";
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

function spawner(cutBytes?: number): NativeSpawner {
  const s = NativeSpawner.open(cutBytes);
  if (typeof s === "string") throw new Error(`posix_spawn through the C library: ${s}`);
  s.setBase(Deno.env.toObject());
  return s;
}

Deno.test("native spawn: the same results as Deno.Command's, for exits, signals, output and environment", async () => {
  const s = spawner();
  try {
    const commands = [
      ...SAME_RESULT_COMMANDS,
      'echo "id=$DISBATCH_TASKID x=$X_VAR home=${HOME:+set}"',
      "ls /proc/self/fd | tr '\\n' ' '",
      "grep -E '^Sig(Blk|Ign)' /proc/self/status | tr '\\n' ' '",
      'ps -o sid=,pgid= $$ | tr -s " " | sed "s/^ //"; echo $$',
      "echo \udcff-byte",
    ];
    for (const command of commands) {
      const env = { ...SAME_RESULT_ENV };
      const direct = await spawnTask(command, env).result;
      const native = await s.spawn(command, env, 0).result;
      if (command.startsWith("ps ")) {
        // Session and group are the task's own pid both ways.
        for (const r of [direct, native]) {
          const [sid, pgid, pid] = r.stdoutSnippet.trim().split(/\s+/);
          assert.equal(sid, pid, "session leader");
          assert.equal(pgid, pid, "group leader");
          assert.equal(Number(pid), r.pid);
        }
        continue;
      }
      assert.deepEqual(pick(native), pick(direct), command);
    }
  } finally {
    s.close();
  }
});

Deno.test("native spawn: tasks of several slots at once, each ended when it ends", async () => {
  const s = spawner();
  try {
    const t0 = Date.now();
    const runs = [0.6, 0.1, 0.3].map((d, slot) => s.spawn(`sleep ${d}; echo ${slot}`, {}, slot));
    const ends: number[] = [];
    await Promise.all(runs.map((r, i) => r.result.then((x) => (ends[i] = Date.now() - t0, x))));
    assert.ok(ends[1]! < ends[2]! && ends[2]! < ends[0]!, `ends in order of duration: ${ends}`);
    for (const [slot, r] of runs.entries()) assert.equal((await r.result).stdoutSnippet, `${slot}\n`);
    assert.equal(s.running, 0);
  } finally {
    s.close();
  }
});

Deno.test("native spawn: a group kill reaches the whole tree, and the end is a signal death", async () => {
  const s = spawner();
  const dir = await Deno.makeTempDir();
  try {
    const run = s.spawn(`sleep 60 & echo $! > ${dir}/child; wait`, {}, 0);
    while (!(await Deno.stat(`${dir}/child`).then((s) => s.size > 0, () => false))) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const child = Number((await Deno.readTextFile(`${dir}/child`)).trim());
    assert.ok(killGroup(run.pid, "SIGTERM"));
    assert.equal((await run.result).returnCode, -15);
    // Dead at once (it would sleep 60 s otherwise); a busy machine may take a moment to reap it.
    for (let i = 0; i < 250 && running(child); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!running(child), "the task's child died with it");
  } finally {
    s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("native spawn: a start that fails says why, and nothing is left running", async () => {
  const s = spawner();
  try {
    assert.throws(
      () => s.spawn("echo " + "x".repeat(200_000), {}, 0),
      /Argument list too long \(os error 7\)/,
    );
    assert.throws(() => s.spawn("echo a\0b", {}, 0), /NUL/);
    assert.equal(s.running, 0);
    assert.equal((await s.spawn("echo fine", {}, 0).result).stdoutSnippet, "fine\n");
  } finally {
    s.close();
  }
});

Deno.test("native spawn: output that is cut back to save space is still counted exactly, first and last bytes kept", async () => {
  // Cut at 1 MB: the task writes 6 MB over 3 s, so its files are cut several times.
  const s = spawner(1 << 20);
  try {
    for (const command of CUT_COMMANDS) {
      const direct = await spawnTask(command, {}).result;
      const run = s.spawn(command, {}, 0);
      const most = await peakDiskWhile(s.dir!, run.result);
      assert.deepEqual(pick(await run.result), pick(direct), command);
      assert.ok(most < 4_500_000, `the files took ${most} bytes for 6 MB written`);
    }
  } finally {
    s.close();
  }
});

Deno.test("native spawn: a straggler that holds the output past 5 s ends the wait, and the slot's next task counts only its own", async () => {
  const s = spawner();
  try {
    const t0 = Date.now();
    const first = await s.spawn("(sleep 7; echo straggler) & echo first", {}, 0).result;
    const waited = Date.now() - t0;
    assert.ok(waited >= 4900 && waited < 6500, `waited ${waited} ms for the straggler`);
    assert.equal(first.stdoutSnippet, "first\n");
    const second = await s.spawn("sleep 2.5; echo second", {}, 0).result;
    assert.equal(second.stdoutSnippet, "second\n", "the straggler's late line is not the next task's");
    assert.equal(second.stdoutBytes, 7);
  } finally {
    s.close();
  }
});

/** This thread's CPU time so far (ms): test files run in parallel share the process. */
function ownCpuMs(): number {
  const stat = Deno.readTextFileSync("/proc/thread-self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

Deno.test("native spawn: a straggler holding a task's output is waited for without keeping the engine busy; its late output counts and the other slot goes on", async () => {
  const s = spawner();
  try {
    assertStragglerRun(
      await stragglerRun((c, slot) => s.spawn(c, {}, slot).result, ownCpuMs),
      0.25,
      "this thread",
    );
  } finally {
    s.close();
  }
});

Deno.test("native spawn: closing removes the output files", () => {
  const s = spawner();
  const dir = s.dir!;
  assert.ok(Deno.statSync(dir).isDirectory);
  s.close();
  assert.throws(() => Deno.statSync(dir));
});

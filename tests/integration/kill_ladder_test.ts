import assert from "node:assert/strict";
import { killGroup, killLadder, spawnTask } from "../../adapters/process.ts";

/** True while a process exists (signal 0). */
function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** True once a file exists and is not empty. */
function written(path: string): boolean {
  try {
    return Deno.statSync(path).size > 0;
  } catch {
    return false;
  }
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

Deno.test("kill ladder: a task that ignores SIGTERM gets SIGKILL after the grace", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rt = spawnTask(`trap "" TERM; echo ready; echo 1 > ${dir}/ready; sleep 60`, {});
    assert.ok(await waitFor(() => written(`${dir}/ready`), 10_000), "the trap is set");
    killLadder(rt.pid, 500, rt.result);
    const r = await rt.result;
    assert.equal(r.returnCode, -9);
    assert.equal(r.stdoutSnippet, "ready\n");
    assert.equal(killGroup(rt.pid, "SIGTERM"), false, "the group is gone");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kill ladder: a task that dies of SIGTERM is reported so, and what it left in its group is killed at once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A child that ignores SIGTERM and holds no pipe of the task; bash itself dies of the SIGTERM.
    const rt = spawnTask(
      `(trap "" TERM; exec sleep 60 >/dev/null 2>&1 </dev/null) & echo $! > ${dir}/child; wait`,
      {},
    );
    assert.ok(await waitFor(() => written(`${dir}/child`), 10_000), "the child started");
    const child = Number(Deno.readTextFileSync(`${dir}/child`).trim());
    assert.ok(alive(child));
    // A grace far longer than the test: only the task's exit can bring the SIGKILL.
    killLadder(rt.pid, 600_000, rt.result);
    const r = await rt.result;
    assert.equal(r.returnCode, -15);
    assert.ok(await waitFor(() => !alive(child), 10_000), "the child that ignored SIGTERM is gone");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("killGroup: false for a group that does not exist", () => {
  // Process groups are pids; 2^22 + 1 is above Linux's pid_max limit.
  assert.equal(killGroup(4194305, "SIGTERM"), false);
});

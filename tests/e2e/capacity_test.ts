/**
 * Capacity comes back: a local engine that was killed is started again, and a driver that was
 * stopped (Ctrl-Z, SIGSTOP) for longer than its engines wait for it goes on with a new engine.
 * Every task finishes exactly once (counted by the tasks themselves) and is recorded.
 *
 * @module
 */

import assert from "node:assert/strict";
import { tempDir } from "../helpers/run_cli.ts";
import { doneCounts, pollUntil, processes, readRows, show, start } from "./e2e_helpers.ts";

function tasks(n: number): string {
  return Array.from({ length: n }, (_, i) => `sleep 0.4; echo x >> done_${i}`).join("\n") + "\n";
}

Deno.test("capacity: a killed local engine is started again and the run completes, each task once", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, tasks(12));
  const run = start(["-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  // Killed between two ends: a task whose end is not yet reported when its engine is lost runs again
  // (at least once, never lost), so the kill comes once every finished task is recorded and none
  // finished in the last 150 ms (the next ends are about 250 ms away).
  await pollUntil(
    "a few tasks done and recorded, none just ending",
    () => {
      const finished = doneCounts(d.path, 12).map((n, i) => n > 0 ? i : -1).filter((i) => i >= 0);
      if (finished.length < 2) return false;
      let recorded = 0;
      try {
        recorded = readRows(`${d.path}/run_status.txt`).length;
      } catch {
        return false;
      }
      const newest = Math.max(
        ...finished.map((i) => Deno.statSync(`${d.path}/done_${i}`).mtime?.getTime() ?? 0),
      );
      return recorded >= finished.length && Date.now() - newest >= 150;
    },
    30_000,
    10,
  );
  const engine = (await processes()).find((p) => p.ppid === run.pid && p.args.includes("--engine"));
  assert.ok(engine, "the engine process");
  Deno.kill(engine.pid, "SIGKILL");
  const r = await run.done;
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /the engine on \S+ was lost; starting it again in 1 s/);
  // Its launcher was the engine itself: its exit ends the wait for the engine to come back.
  assert.match(
    Deno.readTextFileSync(`${d.path}/run_driver.log`),
    /Engine 0 on \S+ left: its launcher exited with status 137 \(SIGKILL\)/,
  );
  assert.deepEqual(doneCounts(d.path, 12), Array(12).fill(1));
  assert.deepEqual(readRows(`${d.path}/run_status.txt`).map((x) => x.id).sort((a, b) => a - b), [
    ...Array(12).keys(),
  ]);
});

Deno.test("capacity: a driver stopped for 7 s (Ctrl-Z) goes on; nothing finished meanwhile is lost", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, tasks(20));
  const run = start(["-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  await pollUntil("a few tasks done", () => doneCounts(d.path, 20).filter((n) => n > 0).length >= 2, 30_000);
  Deno.kill(run.pid, "SIGSTOP");
  await new Promise((res) => setTimeout(res, 7000)); // longer than the engines wait for a silent driver
  Deno.kill(run.pid, "SIGCONT");
  const r = await run.done;
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(doneCounts(d.path, 20), Array(20).fill(1), "each task finished exactly once");
  const rows = readRows(`${d.path}/run_status.txt`);
  assert.deepEqual(rows.map((x) => x.id).sort((a, b) => a - b), [...Array(20).keys()], "every task recorded");
  assert.ok(rows.every((x) => x.rc === 0), JSON.stringify(rows.filter((x) => x.rc !== 0)));
});

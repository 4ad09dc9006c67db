/**
 * An engine that goes silent without closing its connection (its node hangs or the network is cut;
 * simulated with SIGSTOP) is away: its tasks are kept for it for `--driver-grace`. Woken within the
 * grace, it goes on and nothing runs again. Silent longer, it is given up 10 s after the grace, its
 * task is re-queued to the other engine, and every task is recorded exactly once: the engine's
 * companion process killed the stopped engine's task at the grace, before the re-queue, so no task
 * runs twice at once; when the engine wakes up (SIGCONT) the driver does not take it back and it
 * exits: nothing is left behind.
 *
 * @module
 */

import assert from "node:assert/strict";
import { gate } from "../helpers/gates.ts";
import { sharedDir } from "../helpers/rig_helpers.ts";
import { spawnCli } from "../helpers/run_cli.ts";
import { isTaskRow, pollUntil, readRows, sleepers, uniqueSleep } from "./e2e_helpers.ts";

Deno.test({
  name: "silence: a SIGSTOPped engine is given up after --driver-grace and its task re-runs elsewhere",
  ignore: await gate("ssh"),
}, async () => {
  await using dir = await sharedDir("disbatch_silence_");
  const marker = uniqueSleep(60);
  // Long only on otherhost (its tasks alone have SSH_CONNECTION) and only once; the rest is short.
  // Under load ssh can be slow to start the otherhost engine: the localhost tasks wait (at most 60 s)
  // until otherhost has taken one, so the long task always lands there.
  const long = `if [ -n "$SSH_CONNECTION" ]; then [ -e ${dir.path}/first ] || ` +
    `{ touch ${dir.path}/first; sleep ${marker}; }; else for i in $(seq 600); do ` +
    `[ -e ${dir.path}/first ] && break; sleep 0.1; done; fi`;
  const first = `${long}; echo done`;
  Deno.writeTextFileSync(
    `${dir.path}/Tasks`,
    `${first}\n${long}; sleep 0.2\n`.repeat(1) + `${long}; sleep 0.2\n`.repeat(4),
  );
  const child = spawnCli([
    "-s",
    "otherhost:1,localhost:1",
    "--driver-grace",
    "5",
    "-p",
    `${dir.path}/run`,
    "Tasks",
  ], {
    cwd: dir.path,
  });
  let stopped: number | undefined;
  try {
    const sleeper = await pollUntil(
      "the long task on otherhost",
      async () => (await sleepers(marker))[0],
      60_000,
    );
    // The engine on otherhost is the long sleep's grandparent: sleep <- bash (setsid) <- engine.
    const ppid = (pid: number) => {
      const st = Deno.readTextFileSync(`/proc/${pid}/stat`);
      return Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]);
    };
    let engine = ppid(sleeper.pid);
    while (!Deno.readTextFileSync(`/proc/${engine}/cmdline`).includes("--engine")) engine = ppid(engine);
    assert.match(Deno.readTextFileSync(`/proc/${engine}/cmdline`), /--host\0otherhost\0/);
    Deno.kill(engine, "SIGSTOP");
    stopped = engine;
    const t0 = Date.now();
    const log = `${dir.path}/run_driver.log`;
    await pollUntil(
      "the driver seeing the engine away",
      () =>
        /No word from engine \d+ on otherhost for [\d.]+ s; it is away/.test(Deno.readTextFileSync(log)) ||
        undefined,
      15_000,
    );
    await pollUntil(
      "the driver giving the engine up",
      () =>
        /No word from engine \d+ on otherhost for [\d.]+ s; treating it as lost/.test(
          Deno.readTextFileSync(log),
        ) || undefined,
      25_000,
    );
    const detection = (Date.now() - t0) / 1000;
    // The stopped engine's companion killed the original copy (5 s of silence) before the driver
    // re-queued it (grace + 10 s): the task never runs twice at once.
    assert.deepEqual(await sleepers(marker), [], "the stopped engine's task was already killed");
    assert.ok(detection >= 14 && detection <= 20, `given up after ${detection.toFixed(1)} s`);
    const out = await child.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const rows = readRows(`${dir.path}/run_status.txt`).filter(isTaskRow);
    assert.deepEqual(rows.map((r) => r.id).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5], "one line per task");
    assert.ok(rows.every((r) => r.rc === 0), "all succeeded");
    assert.match(
      Deno.readTextFileSync(log),
      /Task \d+ \(line \d+\) lost with engine \d+; runs again \(attempt 1; lost 1 of 3 times\)/,
    );
    // Wake it: the driver does not take it back; it kills its task and leaves.
    Deno.kill(engine, "SIGCONT");
    stopped = undefined;
    await pollUntil(
      "the woken engine's task to be killed",
      async () => (await sleepers(marker)).length === 0 || undefined,
      15_000,
    );
    console.log(`silent engine given up after ${detection.toFixed(1)} s`);
  } finally {
    if (stopped) Deno.kill(stopped, "SIGCONT");
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
  }
});

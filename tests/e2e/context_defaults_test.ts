/**
 * A context added with `<run>_dbUtil.sh` takes the driver's `-c`, `-t` and `-E` where its own
 * command line does not give them: `disbatch -S -c 4 Tasks` then `sbatch -n 10 run_dbUtil.sh`
 * must not start a task per core.
 *
 * @module
 */

import assert from "node:assert/strict";
import { spawnCli, tempDir } from "../helpers/run_cli.ts";
import { pollUntil, readOr } from "./e2e_helpers.ts";

/**
 * Run `Tasks` with the driver's `args`, add one context `dbUtil.sh ctxArgs` (with `ctxEnv` in its
 * environment) once the run is up, and return the lines the tasks wrote to `seen`.
 */
async function runWithContext(
  driverArgs: string[],
  ctxArgs: string[],
  tasks: string,
  ctxEnv: Record<string, string> = {},
  driverEnv: Record<string, string> = {},
): Promise<string[]> {
  await using d = await tempDir("disbatch_ctxdef_");
  const run = `${d.path}/run`;
  Deno.writeTextFileSync(`${d.path}/Tasks`, tasks);
  const driver = spawnCli([...driverArgs, "-p", run, "Tasks"], { cwd: d.path, env: driverEnv });
  const driverOut = driver.output();
  let ctx: Deno.ChildProcess | undefined;
  try {
    await pollUntil(
      "the run's dbUtil.sh",
      () => /DISBATCH_DRIVER='[^']+'/.test(readOr(`${run}_dbUtil.sh`) ?? ""),
      30_000,
    );
    ctx = new Deno.Command(`${run}_dbUtil.sh`, {
      args: ctxArgs,
      cwd: d.path,
      env: ctxEnv,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const out = await driverOut;
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr) + (readOr(`${run}_driver.log`) ?? ""));
    await ctx.status;
    return (readOr(`${d.path}/seen`) ?? "").split("\n").filter(Boolean).sort();
  } finally {
    try {
      driver.kill("SIGKILL");
    } catch { /* ended */ }
    await driverOut.catch(() => {});
    try {
      ctx?.kill("SIGKILL");
    } catch { /* ended */ }
    await ctx?.status;
  }
}

// Each task holds its slot a while, so that every slot of the context is used.
const SEEN = "#DISBATCH REPEAT 6 " +
  'echo "$DISBATCH_ENGINE_RANK $DISBATCH_CYLINDER_RANK $DISBATCH_CORES_PER_TASK $MYRES" >> seen; sleep 0.4\n';

Deno.test("dbUtil.sh context: -c not given is the driver's (-S -c 2, then -s localhost:4 gives 2 slots of 2 cores)", async () => {
  const seen = await runWithContext(["-S", "-c", "2"], ["-s", "localhost:4"], SEEN);
  assert.equal(seen.length, 6, seen.join("\n"));
  for (const l of seen) assert.match(l, /^0 [01] 2 $/, seen.join("\n"));
});

Deno.test("dbUtil.sh context: its own -c wins over the driver's; -t not given is the driver's", async () => {
  const own = await runWithContext(["-S", "-c", "2"], ["-s", "localhost:4", "-c", "1"], SEEN);
  assert.equal(own.length, 6, own.join("\n"));
  assert.ok(own.every((l) => / 1 $/.test(l)), own.join("\n"));
  assert.ok(own.some((l) => /^0 [23] /.test(l)), `4 slots used:\n${own.join("\n")}`);
  const t = await runWithContext(["-S", "-t", "1"], ["-s", "localhost:3"], SEEN);
  assert.equal(t.length, 6, t.join("\n"));
  // One slot on the host's 3 cores: each task has all 3.
  for (const l of t) assert.match(l, /^0 0 3 $/, t.join("\n"));
});

Deno.test("dbUtil.sh context: -E not given is the driver's, split over the context's own slots from its own environment", async () => {
  const seen = await runWithContext(
    ["-s", "localhost:1", "-E", "MYRES", "-C", "1"],
    ["-s", "localhost:2"],
    SEEN,
    { MYRES: "x,y" },
    { MYRES: "p,q" },
  );
  assert.equal(seen.length, 6, seen.join("\n"));
  // The driver's engine (rank 0) runs one task (-C 1) with p; the added context's run the rest.
  for (const l of seen) assert.match(l, /^(0 0 1 p|1 0 1 x|1 1 1 y)$/, seen.join("\n"));
  assert.ok(seen.some((l) => l.startsWith("1 ")), seen.join("\n"));
});

Deno.test("dbUtil.sh context after the run ended: 'Run done', exit 0 (a late sbatch job is not a failure)", async () => {
  await using d = await tempDir("disbatch_ctxdone_");
  Deno.writeTextFileSync(`${d.path}/Tasks`, "true\n");
  const driver = spawnCli(["-s", "localhost:1", "-p", "run", "Tasks"], { cwd: d.path });
  assert.equal((await driver.output()).code, 0);
  const ctx = await new Deno.Command(`${d.path}/run_dbUtil.sh`, {
    args: ["-s", "localhost:1"],
    cwd: d.path,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(ctx.stderr);
  assert.equal(ctx.code, 0, err);
  assert.equal(err, "Run done (exit status 0), context not registering.\n");
});

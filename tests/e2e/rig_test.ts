/**
 * The rig itself: fails in CI (DISBATCH_E2E_REQUIRE=ssh,slurm) when sshd or Slurm is missing,
 * so that a broken rig cannot pass as "all e2e tests ignored".
 *
 * @module
 */

import assert from "node:assert/strict";
import { gate } from "../helpers/gates.ts";

/** Run a command, killing it after `ms`; stdout and stderr decoded. */
async function sh(
  cmd: string,
  args: string[],
  ms: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, ms);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test({ name: "rig: ssh to otherhost works", ignore: await gate("ssh") }, async () => {
  const r = await sh(
    "ssh",
    ["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "otherhost", "echo", "rig-ok"],
    30_000,
  );
  assert.equal(r.code, 0, `ssh otherhost failed: ${r.stderr}`);
  assert.equal(r.stdout, "rig-ok\n");
});

Deno.test({ name: "rig: slurm runs a job on n1..n3", ignore: await gate("slurm") }, async () => {
  // No slurmReset() here: other test files may have jobs running; srun waits for free nodes.
  const r = await sh("srun", ["-N", "3", "-n", "3", "hostname"], 120_000);
  assert.equal(r.code, 0, `srun -N 3 -n 3 hostname failed: ${r.stderr}`);
  assert.deepEqual(r.stdout.trim().split("\n").sort(), ["n1", "n2", "n3"]);
});

/**
 * The rig itself: fails when sshd or Slurm is missing (see tests/helpers/gates.ts), so that a
 * broken rig cannot pass as "all e2e tests ignored".
 *
 * @module
 */

import assert from "node:assert/strict";
import { gate } from "../helpers/gates.ts";
import { sh } from "../helpers/rig_helpers.ts";

Deno.test({ name: "rig: ssh to otherhost works", ignore: await gate("ssh") }, async () => {
  const r = await sh(
    "ssh",
    ["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "otherhost", "echo", "rig-ok"],
    { timeoutMs: 30_000 },
  );
  assert.equal(r.code, 0, `ssh otherhost failed: ${r.stderr}`);
  assert.equal(r.stdout, "rig-ok\n");
});

Deno.test({ name: "rig: slurm runs a job on n1..n3", ignore: await gate("slurm") }, async () => {
  // No slurmReset() here: other test files may have jobs running; srun waits for free nodes.
  const r = await sh("srun", ["-N", "3", "-n", "3", "hostname"], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `srun -N 3 -n 3 hostname failed: ${r.stderr}`);
  assert.deepEqual(r.stdout.trim().split("\n").sort(), ["n1", "n2", "n3"]);
});

import assert from "node:assert/strict";
import { engineEnv, noSlotReason, splitEnvResources, taskEnv, zeroPad } from "../../lib/task_env.ts";

Deno.test("zeroPad() matches Python's f'{x:06d}'", () => {
  const cases: [number, string][] = [
    [0, "000000"],
    [6, "000006"],
    [42, "000042"],
    [999999, "999999"],
    [1000000, "1000000"],
    [123456789, "123456789"],
    [-1, "-00001"],
    [-12, "-00012"],
    [-99999, "-99999"],
    [-100000, "-100000"],
  ];
  for (const [x, want] of cases) assert.equal(zeroPad(x), want, String(x));
});

Deno.test("taskEnv() gives the per-task DISBATCH_ variables", () => {
  assert.deepEqual(taskEnv({ id: 0, line: 6, repeatIndex: -1, command: "x" }, 0), {
    DISBATCH_CYLINDER_RANK: "0",
    DISBATCH_TASKID: "0",
    DISBATCH_TASKID_ZP: "000000",
    DISBATCH_STREAM_INDEX: "6",
    DISBATCH_STREAM_INDEX_ZP: "000006",
    DISBATCH_REPEAT_INDEX: "-1",
    DISBATCH_REPEAT_INDEX_ZP: "-00001",
    DISBATCH_ATTEMPT: "0",
  });
  // A PERENGINE task: its own index, slot -1.
  assert.deepEqual(taskEnv({ id: 2, line: 4, repeatIndex: -1, command: "x" }, -1), {
    DISBATCH_CYLINDER_RANK: "-1",
    DISBATCH_TASKID: "2",
    DISBATCH_TASKID_ZP: "000002",
    DISBATCH_STREAM_INDEX: "4",
    DISBATCH_STREAM_INDEX_ZP: "000004",
    DISBATCH_REPEAT_INDEX: "-1",
    DISBATCH_REPEAT_INDEX_ZP: "-00001",
    DISBATCH_ATTEMPT: "0",
  });
  const big = taskEnv({ id: 1234567, line: 1234568, repeatIndex: 15, command: "x" }, 3);
  assert.equal(big.DISBATCH_TASKID_ZP, "1234567");
  assert.equal(big.DISBATCH_STREAM_INDEX_ZP, "1234568");
  assert.equal(big.DISBATCH_REPEAT_INDEX_ZP, "000015");
  assert.equal(big.DISBATCH_CYLINDER_RANK, "3");
  // For the launcher's queue: the slot (and its DISBATCH_CYLINDER_RANK) comes with the slot it runs in.
  const queued = taskEnv({ id: 2, line: 4, repeatIndex: -1, command: "x" }, null);
  assert.ok(!("DISBATCH_CYLINDER_RANK" in queued));
  assert.equal(queued.DISBATCH_TASKID, "2");
});

Deno.test("engineEnv() gives the per-engine DISBATCH_ variables", () => {
  assert.deepEqual(
    engineEnv({
      jobId: "Tasks_disBatch_261125154851_846",
      nameTasks: "Tasks",
      rank: 3,
      coresPerSlot: 0,
      address: "10.0.0.1:4444",
      shellLevel: "1",
    }),
    {
      DISBATCH_JOBID: "Tasks_disBatch_261125154851_846",
      DISBATCH_NAMETASKS: "Tasks",
      DISBATCH_ENGINE_RANK: "3",
      DISBATCH_CORES_PER_TASK: "0",
      DISBATCH_KVSSTCP_HOST: "10.0.0.1:4444",
    },
  );
});

Deno.test("engineEnv() gives tasks a shell level of at least 1 (a task's bash never reads ~/.bashrc as sshd's)", () => {
  const base = { jobId: "J", nameTasks: "T", rank: 0, coresPerSlot: 1, address: "a:1" };
  const cases: [string | undefined, string | undefined][] = [
    ["0", "1"],
    [undefined, "1"],
    ["", "1"],
    ["x", "1"],
    ["-3", "1"],
    ["1", undefined],
    ["4", undefined],
  ];
  for (const [shellLevel, want] of cases) {
    assert.equal(engineEnv({ ...base, shellLevel }).SHLVL, want, `SHLVL=${shellLevel}`);
  }
});

Deno.test("engineEnv() in a node's srun step gives tasks one slot's SLURM_CPUS_PER_TASK", () => {
  const base = { jobId: "J", nameTasks: "T", rank: 0, address: "a:1", srunStep: true };
  const cases: [number, string][] = [[2, "2"], [1, "1"], [0, "1"], [0.5, "1"], [2.5, "2"], [64, "64"]];
  for (const [coresPerSlot, want] of cases) {
    const env = engineEnv({ ...base, coresPerSlot });
    assert.equal(env.SLURM_CPUS_PER_TASK, want, String(coresPerSlot));
    assert.equal(env.SRUN_CPUS_PER_TASK, want, `${coresPerSlot}: what srun reads from Slurm 22.05 on`);
  }
  assert.equal(engineEnv({ ...base, coresPerSlot: 2, srunStep: false }).SLURM_CPUS_PER_TASK, undefined);
});

Deno.test("splitEnvResources() gives slot i element i of each -E variable", () => {
  const cases: {
    vars: string[];
    env: Record<string, string>;
    slots: number;
    perSlot: Record<string, string>[];
    warnings: RegExp[];
  }[] = [
    {
      vars: ["CUDA_VISIBLE_DEVICES"],
      env: { CUDA_VISIBLE_DEVICES: "5,7" },
      slots: 2,
      perSlot: [{ CUDA_VISIBLE_DEVICES: "5" }, { CUDA_VISIBLE_DEVICES: "7" }],
      warnings: [],
    },
    {
      vars: ["CUDA_VISIBLE_DEVICES"],
      env: { CUDA_VISIBLE_DEVICES: "5" },
      slots: 2,
      perSlot: [{ CUDA_VISIBLE_DEVICES: "5" }],
      warnings: [/-E CUDA_VISIBLE_DEVICES has 1 value\(s\) for 2 slot\(s\): using 1 slot\(s\)/],
    },
    {
      vars: ["G"],
      env: { G: "0,1,2,3" },
      slots: 2,
      perSlot: [{ G: "0" }, { G: "1" }],
      warnings: [/-E G has 4 values for 2 slot\(s\): the extra values are not used/],
    },
    {
      vars: ["A", "B"],
      env: { A: "a0,a1,a2", B: "b0,b1" },
      slots: 3,
      perSlot: [{ A: "a0", B: "b0" }, { A: "a1", B: "b1" }],
      warnings: [/-E B has 2 value\(s\) for 3 slot\(s\)/],
    },
    { vars: ["UNSET"], env: {}, slots: 2, perSlot: [], warnings: [/-E UNSET has 0 value\(s\)/] },
    { vars: [], env: {}, slots: 2, perSlot: [{}, {}], warnings: [] },
  ];
  for (const { vars, env, slots, perSlot, warnings } of cases) {
    const label = JSON.stringify({ vars, env, slots });
    const r = splitEnvResources(vars, env, slots);
    assert.deepEqual(r.perSlot, perSlot, label);
    assert.equal(r.slots, perSlot.length, label);
    assert.equal(r.warnings.length, warnings.length, `${label}: ${r.warnings}`);
    warnings.forEach((w, i) => assert.match(r.warnings[i]!, w, label));
  }
});

Deno.test("noSlotReason() names the -E variables not set, else says one has no value", () => {
  const cases: [string[], Record<string, string>, string][] = [
    [["GPU", "PORT"], {}, "-E GPU, PORT is not set"],
    [["GPU", "PORT"], { GPU: "0" }, "-E PORT is not set"],
    [["GPU"], { GPU: "" }, "an -E variable has no value"],
  ];
  for (const [vars, env, want] of cases) {
    assert.equal(noSlotReason(splitEnvResources(vars, env, 2).unset), want, JSON.stringify(env));
  }
});

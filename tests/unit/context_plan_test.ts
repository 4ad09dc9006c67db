import assert from "node:assert/strict";
import { type HostFacts, planContext, plansEngineHere } from "../../lib/context_plan.ts";
import type { ContextOptions } from "../../lib/driver_options.ts";

const FIXTURES = new URL("../fixtures/slurm/", import.meta.url);

/** An `env | grep ^SLURM_ | sort` dump from the rig. */
function readEnv(name: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of Deno.readTextFileSync(new URL(name, FIXTURES)).split("\n")) {
    const eq = line.indexOf("=");
    if (line.startsWith("#") || eq < 0) continue;
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

function opts(o: Partial<ContextOptions> = {}): ContextOptions {
  return { taskLimit: 0, envResource: [], fill: false, noRetire: false, sshNodes: [], ...o };
}

function facts(o: Partial<HostFacts> = {}): HostFacts {
  return { hostname: "vm", cores: 8, env: {}, contextNumber: 0, ...o };
}

type Row = [host: string, slots: number, coresPerSlot: number, via: string];

Deno.test("planContext() plans one engine per -s host, localhost being this machine", () => {
  const cases: { o: Partial<ContextOptions>; f?: Partial<HostFacts>; engines: Row[]; warnings: RegExp[] }[] =
    [
      { o: { sshNodes: ["localhost:2"] }, engines: [["vm", 2, 1, "local"]], warnings: [] },
      { o: { sshNodes: ["vm:2"] }, engines: [["vm", 2, 1, "local"]], warnings: [] },
      { o: { sshNodes: ["vm.example.org:2"] }, engines: [["vm.example.org", 2, 1, "local"]], warnings: [] },
      {
        o: { sshNodes: ["n1.example.org:2"] },
        f: { hostname: "vm.example.org" },
        engines: [["n1.example.org", 2, 1, "ssh"]],
        warnings: [],
      },
      {
        o: { sshNodes: ["localhost:2,n1:4", "n2:1"] },
        engines: [["vm", 2, 1, "local"], ["n1", 4, 1, "ssh"], ["n2", 1, 1, "ssh"]],
        warnings: [],
      },
      {
        o: { sshNodes: ["localhost:2,localhost:1"] },
        engines: [["vm", 3, 1, "local"]],
        warnings: [/localhost is repeated.*2 \+ 1 = 3/],
      },
      {
        o: { sshNodes: ["localhost:2", "vm:1"] },
        engines: [["vm", 3, 1, "local"]],
        warnings: [/vm more than once \(localhost is vm\): using 3 cores/],
      },
      {
        o: { sshNodes: ["n1:4,n2:3"], cpusPerTask: 2 },
        engines: [["n1", 2, 2, "ssh"], ["n2", 1, 3, "ssh"]],
        warnings: [],
      },
      { o: { sshNodes: ["localhost:2"], cpusPerTask: 0.5 }, engines: [["vm", 4, 0, "local"]], warnings: [] },
      { o: { sshNodes: ["localhost:2"], tasksPerNode: 5 }, engines: [["vm", 5, 0, "local"]], warnings: [] },
      { o: { sshNodes: ["localhost:2"], cpusPerTask: 3 }, engines: [["vm", 0, 2, "local"]], warnings: [] },
    ];
  for (const { o, f, engines, warnings } of cases) {
    const label = JSON.stringify(o);
    const plan = planContext(opts(o), facts(f));
    assert.equal(plan.kind, "ssh", label);
    assert.equal(plan.label, "SSH0", label);
    assert.deepEqual(plan.engines.map((e) => [e.host, e.slots, e.coresPerSlot, e.via]), engines, label);
    assert.equal(plan.warnings.length, warnings.length, `${label}: ${plan.warnings}`);
    warnings.forEach((w, i) => assert.match(plan.warnings[i]!, w, label));
    assert.deepEqual(plan.notes, [], label);
    assert.equal(plan.jobId, undefined, label);
  }
});

Deno.test("planContext() labels SSH contexts by number unless -l is given", () => {
  assert.equal(planContext(opts({ sshNodes: ["n1:1"] }), facts({ contextNumber: 3 })).label, "SSH3");
  assert.equal(planContext(opts({ sshNodes: ["n1:1"], label: "mine" }), facts()).label, "mine");
  assert.equal(planContext(opts({ label: "mine" }), facts()).label, "mine");
});

Deno.test("planContext() rejects a malformed -s item", () => {
  for (const item of ["localhost", "localhost:x", "n1:0", ":2"]) {
    assert.throws(() => planContext(opts({ sshNodes: [item] }), facts()), SyntaxError, item);
  }
});

Deno.test("planContext() lets -s win over a Slurm allocation", () => {
  const env = readEnv("sbatch_N2_n4.txt");
  const plan = planContext(opts({ sshNodes: ["localhost:1"] }), facts({ env }));
  assert.equal(plan.kind, "ssh");
  assert.deepEqual(plan.engines.map((e) => e.host), ["vm"]);
});

Deno.test("planContext() plans one srun engine per Slurm node from the rig's environments", () => {
  const cases: { file: string; jobId: string; engines: [string, number, number][] }[] = [
    { file: "salloc_N3_n3.txt", jobId: "7", engines: [["n1", 1, 1], ["n2", 1, 1], ["n3", 1, 1]] },
    { file: "sbatch_N1_n1_c3.txt", jobId: "6", engines: [["n1", 1, 3]] },
    { file: "sbatch_N2_n3_n2_busy.txt", jobId: "9", engines: [["n1", 2, 1], ["n3", 1, 1]] },
    { file: "sbatch_N2_n4.txt", jobId: "2", engines: [["n1", 3, 1], ["n2", 1, 1]] },
    { file: "sbatch_N2_ntasks_per_node_2.txt", jobId: "3", engines: [["n1", 2, 1], ["n2", 2, 1]] },
    { file: "sbatch_exclusive_N2.txt", jobId: "5", engines: [["n1", 4, 1], ["n2", 4, 1]] },
    { file: "sbatch_n5.txt", jobId: "1", engines: [["n1", 4, 1], ["n2", 1, 1]] },
    { file: "sbatch_n6_c2.txt", jobId: "4", engines: [["n1", 2, 2], ["n2", 2, 2], ["n3", 2, 2]] },
  ];
  for (const { file, jobId, engines } of cases) {
    const plan = planContext(opts(), facts({ env: readEnv(file) }));
    assert.equal(plan.kind, "slurm", file);
    assert.equal(plan.label, `J${jobId}`, file);
    assert.equal(plan.jobId, jobId, file);
    assert.deepEqual(plan.engines.map((e) => [e.host, e.slots, e.coresPerSlot]), engines, file);
    for (const e of plan.engines) {
      assert.equal(e.via, "srun", file);
      assert.deepEqual(e.env, { SLURM_CPU_BIND: "cores", SLURM_MPI_TYPE: "none" }, file);
    }
    assert.deepEqual(plan.notes, [], file);
    assert.equal(plan.driverNode, undefined, file); // SLURMD_NODENAME is not in the dumps
  }
});

Deno.test("planContext() applies -c, -t, --fill and -l to a Slurm allocation", () => {
  const env = readEnv("sbatch_exclusive_N2.txt"); // 2 nodes x 4 CPUs, 4 tasks per node
  const cases: { o: Partial<ContextOptions>; engines: [string, number, number][]; label?: string }[] = [
    { o: { cpusPerTask: 2 }, engines: [["n1", 2, 2], ["n2", 2, 2]] },
    { o: { tasksPerNode: 1 }, engines: [["n1", 1, 4], ["n2", 1, 4]] },
    { o: { label: "batch" }, engines: [["n1", 4, 1], ["n2", 4, 1]], label: "batch" },
  ];
  for (const { o, engines, label } of cases) {
    const plan = planContext(opts(o), facts({ env }));
    assert.deepEqual(plan.engines.map((e) => [e.host, e.slots, e.coresPerSlot]), engines, JSON.stringify(o));
    assert.equal(plan.label, label ?? "J5");
  }
  const n4 = readEnv("sbatch_N2_n4.txt"); // 3+1 tasks on 3+1 CPUs
  const filled = planContext(opts({ fill: true }), facts({ env: n4 }));
  assert.deepEqual(filled.engines.map((e) => e.slots), [3, 1]);
  const gpus = planContext(opts({ fill: true }), facts({ env: { ...n4, CUDA_VISIBLE_DEVICES: "0" } }));
  assert.ok(gpus.warnings.some((w) => /--fill ignored/.test(w)), String(gpus.warnings));
});

Deno.test("planContext() takes srun variables from the environment or the options file", () => {
  const env = { ...readEnv("sbatch_n5.txt"), SLURM_CPU_BIND: "none", SLURMD_NODENAME: "n1" };
  const plan = planContext(opts(), facts({ env }));
  assert.deepEqual(plan.engines[0]!.env, { SLURM_CPU_BIND: "none", SLURM_MPI_TYPE: "none" });
  assert.equal(plan.driverNode, "n1");
  const withFile = planContext(
    opts(),
    facts({ env, srunOptionsText: "# site options\nSLURM_CPU_BIND=verbose,cores\n\nSLURM_MPI_TYPE=pmix\n" }),
  );
  assert.deepEqual(withFile.engines[1]!.env, { SLURM_CPU_BIND: "verbose,cores", SLURM_MPI_TYPE: "pmix" });
  assert.throws(() => planContext(opts(), facts({ env, srunOptionsText: "not an assignment" })), SyntaxError);
});

Deno.test("planContext() accepts the old SLURM_JOBID and SLURM_NODELIST names", () => {
  const env = {
    SLURM_JOBID: "12",
    SLURM_NODELIST: "c[01-02]",
    SLURM_TASKS_PER_NODE: "2(x2)",
    SLURM_JOB_CPUS_PER_NODE: "2(x2)",
  };
  const plan = planContext(opts(), facts({ env }));
  assert.equal(plan.kind, "slurm");
  assert.equal(plan.label, "J12");
  assert.deepEqual(plan.engines.map((e) => [e.host, e.slots]), [["c01", 2], ["c02", 2]]);
});

Deno.test("planContext() falls back to every local core with a note", () => {
  const cases: {
    o: Partial<ContextOptions>;
    cores: number;
    slots: number;
    coresPerSlot: number;
    how: string;
  }[] = [
    { o: {}, cores: 8, slots: 8, coresPerSlot: 1, how: "one per core" },
    { o: {}, cores: 1, slots: 1, coresPerSlot: 1, how: "one per core" },
    { o: { cpusPerTask: 2 }, cores: 8, slots: 4, coresPerSlot: 2, how: "on its 8 core(s) (-c 2)" },
    { o: { tasksPerNode: 3 }, cores: 8, slots: 3, coresPerSlot: 2, how: "on its 8 core(s) (-t 3)" },
    { o: { tasksPerNode: 3 }, cores: 2, slots: 3, coresPerSlot: 0, how: "on its 2 core(s) (-t 3)" },
    { o: { cpusPerTask: 0.5 }, cores: 2, slots: 4, coresPerSlot: 0, how: "on its 2 core(s) (-c 0.5)" },
    {
      o: { cpusPerTask: 2, tasksPerNode: 1 },
      cores: 2,
      slots: 1,
      coresPerSlot: 2,
      how: "on its 2 core(s) (-t 1, -c 2)",
    },
  ];
  for (const { o, cores, slots, coresPerSlot, how } of cases) {
    const label = `${JSON.stringify(o)} on ${cores} cores`;
    const plan = planContext(opts(o), facts({ cores, env: { DISBATCH_SSH_NODELIST: "ignored:1" } }));
    assert.equal(plan.kind, "local", label);
    assert.equal(plan.label, "SSH0", label);
    assert.deepEqual(plan.engines, [{ host: "vm", slots, coresPerSlot, via: "local" }], label);
    assert.deepEqual(plan.warnings, [], label);
    assert.equal(plan.notes.length, 1, label);
    assert.match(plan.notes[0]!, /no -s and no Slurm allocation/, label);
    assert.ok(plan.notes[0]!.includes(`(vm) with ${slots} slot(s), ${how}; `), plan.notes[0]);
    assert.match(plan.notes[0]!, /-s localhost:N/, label);
  }
});

Deno.test("plansEngineHere(): whether the context would start an engine on this machine", () => {
  const slurm = {
    SLURM_JOB_ID: "12",
    SLURM_NODELIST: "c01",
    SLURM_TASKS_PER_NODE: "2",
    SLURM_JOB_CPUS_PER_NODE: "2",
  };
  const cases: [string, Partial<ContextOptions>, Partial<HostFacts>, boolean][] = [
    ["no -s, no Slurm: the local cores", {}, {}, true],
    ["-s localhost", { sshNodes: ["localhost:2"] }, {}, true],
    ["-s this host, by its short name", { sshNodes: ["vm:2"] }, { hostname: "vm.example.org" }, true],
    ["-s another host and localhost", { sshNodes: ["n1:3", "localhost:1"] }, {}, true],
    ["-s other hosts only", { sshNodes: ["n1:3", "n2:1"] }, {}, false],
    ["a Slurm allocation", {}, { env: slurm }, false],
    ["-s localhost inside a Slurm allocation", { sshNodes: ["localhost:2"] }, { env: slurm }, true],
    [
      "-s localhost with no slot for -c 4 on 2 cores",
      { sshNodes: ["localhost:2"], cpusPerTask: 4 },
      {},
      false,
    ],
    ["a malformed -s (the driver reports it)", { sshNodes: ["localhost:x"] }, {}, false],
  ];
  for (const [label, o, f, want] of cases) assert.equal(plansEngineHere(opts(o), facts(f)), want, label);
});

Deno.test("planContext() says what -E will find on this machine's engine", () => {
  const cases: { env: Record<string, string>; o?: Partial<ContextOptions>; warnings: RegExp[] }[] = [
    { env: { GPU: "0,1" }, warnings: [] },
    { env: {}, warnings: [/^-E GPU is not set: the engine on vm cannot run tasks$/] },
    // Fewer slots: the engine says so as it joins (for every kind of engine alike).
    { env: { GPU: "0" }, warnings: [] },
    { env: {}, o: { sshNodes: ["n1:2"] }, warnings: [] }, // an ssh host: its own environment
  ];
  for (const c of cases) {
    const plan = planContext(
      opts({ sshNodes: ["localhost:2"], envResource: ["GPU"], ...c.o }),
      facts({ env: c.env }),
    );
    assert.equal(plan.warnings.length, c.warnings.length, JSON.stringify(plan.warnings));
    c.warnings.forEach((re, i) => assert.match(plan.warnings[i]!, re));
  }
});

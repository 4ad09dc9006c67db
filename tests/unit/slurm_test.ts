import assert from "node:assert/strict";
import {
  compressHostList,
  DEFAULT_RETIRE_CMD,
  expandCountList,
  expandHostList,
  jobsOver,
  jobsOverQuery,
  parseSrunOptionsFile,
  retireCommandEnv,
  type SlurmSlotOptions,
  slurmSlots,
  squeueEnvToDrop,
  srunEnvDefaults,
} from "../../lib/slurm.ts";

// Fixtures were captured on the rig (scripts/rig, Slurm 22.05.8, n1..n3 with 4 CPUs each);
// each file's first lines say how.
const FIXTURES = new URL("../fixtures/slurm/", import.meta.url);

function readFixture(name: string): string {
  return Deno.readTextFileSync(new URL(name, FIXTURES));
}

/** `# comment` lines skipped; the rest split on the first tab. */
function readTable(name: string): [string, string][] {
  return readFixture(name).split("\n").filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const tab = line.indexOf("\t");
      return [line.slice(0, tab), line.slice(tab + 1)];
    });
}

/** An `env | grep ^SLURM_ | sort` dump. */
function readEnv(name: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFixture(name).split("\n")) {
    const eq = line.indexOf("=");
    if (line.startsWith("#") || eq < 0) continue;
    env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

Deno.test("expandHostList() matches scontrol show hostnames", () => {
  const table = readTable("scontrol_hostnames.txt");
  assert.ok(table.length > 50);
  for (const [spec, output] of table) {
    if (output === "!invalid") {
      assert.throws(() => expandHostList(spec), SyntaxError, spec);
    } else {
      assert.deepEqual(expandHostList(spec), output.split(" "), spec);
    }
  }
});

Deno.test("expandHostList() rejects inputs that Slurm garbles", () => {
  for (const [spec, output] of readTable("scontrol_hostnames_quirks.txt")) {
    assert.throws(() => expandHostList(spec), SyntaxError, `${spec} (scontrol printed ${output})`);
  }
});

Deno.test("expandHostList() reads empty lists and whitespace separators", () => {
  const cases: [string, string[]][] = [
    ["", []],
    [" , ,", []],
    ["n1\tn2\nn[3-4]", ["n1", "n2", "n3", "n4"]],
    ["n[1-65536]", Array.from({ length: 65536 }, (_, i) => `n${i + 1}`)],
  ];
  for (const [spec, names] of cases) assert.deepEqual(expandHostList(spec), names, spec);
});

Deno.test("expandHostList() gives messages that name the problem", () => {
  const cases: [string, RegExp][] = [
    ["n[1-", /"\[" is never closed/],
    ["n1]", /unbalanced or nested "\]"/],
    ["n[3-1]", /bad range "3-1"/],
    ["x[1-2]y", /nothing may follow the last "\]"/],
    ["n[0-65536]", /too many hosts in range "0-65536"/],
    ["a[1-1000][1-1001]", /more than 1000000 hosts/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(() => expandHostList(spec), { name: "SyntaxError", message }, spec);
  }
});

Deno.test("compressHostList() matches scontrol show hostlist", () => {
  for (const [names, output] of readTable("scontrol_hostlist.txt")) {
    assert.equal(compressHostList(names.split(",")), output, names);
    assert.deepEqual(expandHostList(output), names.split(","), names);
  }
});

Deno.test("compressHostList() round-trips through expandHostList()", () => {
  const lists = readTable("scontrol_hostnames.txt").filter(([, out]) => out !== "!invalid")
    .map(([, out]) => out.split(" "));
  lists.push([], ["n1"], ["n", "n1", "n2"], ["n99", "n100", "n0100"], ["x12345678901234567890"]);
  for (const names of lists) {
    assert.deepEqual(expandHostList(compressHostList(names)), names, names.join());
  }
});

Deno.test("compressHostList() throws RangeError for names a hostlist cannot hold", () => {
  for (const name of ["", "a,b", "n[1]", "a b", "x]"]) {
    assert.throws(() => compressHostList(["n1", name]), RangeError, JSON.stringify(name));
  }
});

Deno.test("expandCountList() decodes Slurm count lists", () => {
  const cases: [string, number[]][] = [
    ["4", [4]],
    ["4,1", [4, 1]],
    ["2(x3)", [2, 2, 2]],
    ["2(x3),1", [2, 2, 2, 1]],
    ["40,128(x3)", [40, 128, 128, 128]], // disBatch's comment
    ["0", [0]],
  ];
  for (const [spec, counts] of cases) assert.deepEqual(expandCountList(spec), counts, spec);
});

Deno.test("expandCountList() throws SyntaxError for malformed lists", () => {
  for (const spec of ["", "x", "2(x)", "2(x0)", "2(3)", "2x3", "4,", "-1", "1.5"]) {
    assert.throws(() => expandCountList(spec), SyntaxError, spec);
  }
});

Deno.test("slurmSlots() computes slots from captured job environments", () => {
  type Case = {
    fixture: string;
    options?: Partial<SlurmSlotOptions>;
    extra?: Record<string, string>;
    hosts: string[];
    slots: number[];
    coresPerSlot: number[];
    warnings?: number;
  };
  const cases: Case[] = [
    { fixture: "sbatch_n5.txt", hosts: ["n1", "n2"], slots: [4, 1], coresPerSlot: [1, 1] },
    {
      fixture: "sbatch_n5.txt",
      options: { fill: true },
      hosts: ["n1", "n2"],
      slots: [4, 1],
      coresPerSlot: [1, 1],
    },
    {
      fixture: "sbatch_n5.txt",
      options: { cpusPerTask: 2 },
      hosts: ["n1", "n2"],
      slots: [2, 0],
      coresPerSlot: [2, 2],
    },
    { fixture: "sbatch_N2_n4.txt", hosts: ["n1", "n2"], slots: [3, 1], coresPerSlot: [1, 1] },
    { fixture: "sbatch_N2_ntasks_per_node_2.txt", hosts: ["n1", "n2"], slots: [2, 2], coresPerSlot: [1, 1] },
    {
      fixture: "sbatch_N2_ntasks_per_node_2.txt",
      options: { tasksPerNode: 3 },
      hosts: ["n1", "n2"],
      slots: [3, 3],
      coresPerSlot: [0, 0],
      warnings: 1,
    },
    { fixture: "sbatch_n6_c2.txt", hosts: ["n1", "n2", "n3"], slots: [2, 2, 2], coresPerSlot: [2, 2, 2] },
    {
      fixture: "sbatch_n6_c2.txt",
      options: { cpusPerTask: 1 },
      hosts: ["n1", "n2", "n3"],
      slots: [2, 2, 2],
      coresPerSlot: [1, 1, 1],
      warnings: 1,
    },
    {
      fixture: "sbatch_n6_c2.txt",
      options: { cpusPerTask: 1, fill: true },
      hosts: ["n1", "n2", "n3"],
      slots: [4, 4, 4],
      coresPerSlot: [1, 1, 1],
      warnings: 1,
    },
    {
      fixture: "sbatch_n6_c2.txt",
      options: { cpusPerTask: 1, fill: true },
      extra: { CUDA_VISIBLE_DEVICES: "0" },
      hosts: ["n1", "n2", "n3"],
      slots: [2, 2, 2],
      coresPerSlot: [1, 1, 1],
      warnings: 2,
    },
    { fixture: "sbatch_exclusive_N2.txt", hosts: ["n1", "n2"], slots: [4, 4], coresPerSlot: [1, 1] },
    {
      fixture: "sbatch_exclusive_N2.txt",
      options: { cpusPerTask: 3 },
      hosts: ["n1", "n2"],
      slots: [1, 1],
      coresPerSlot: [3, 3],
    },
    { fixture: "sbatch_N1_n1_c3.txt", hosts: ["n1"], slots: [1], coresPerSlot: [3] },
    { fixture: "sbatch_N1_n1_c3.txt", options: { fill: true }, hosts: ["n1"], slots: [1], coresPerSlot: [3] },
    { fixture: "sbatch_N2_n3_n2_busy.txt", hosts: ["n1", "n3"], slots: [2, 1], coresPerSlot: [1, 1] },
    { fixture: "salloc_N3_n3.txt", hosts: ["n1", "n2", "n3"], slots: [1, 1, 1], coresPerSlot: [1, 1, 1] },
  ];
  for (const c of cases) {
    const env = { ...readEnv(c.fixture), ...c.extra };
    const hosts = expandHostList(env.SLURM_JOB_NODELIST!);
    const label = `${c.fixture} ${JSON.stringify(c.options ?? {})} ${JSON.stringify(c.extra ?? {})}`;
    assert.deepEqual(hosts, c.hosts, label);
    assert.deepEqual(expandHostList(env.SLURM_NODELIST!), hosts, label);
    const { nodes, warnings } = slurmSlots(env, { fill: false, ...c.options }, hosts);
    assert.deepEqual(nodes.map((n) => n.host), c.hosts, label);
    assert.deepEqual(nodes.map((n) => n.slots), c.slots, label);
    assert.deepEqual(nodes.map((n) => n.coresPerSlot), c.coresPerSlot, label);
    assert.equal(warnings.length, c.warnings ?? 0, `${label}: ${warnings.join("; ")}`);
  }
});

Deno.test("slurmSlots() needs no SLURM_NTASKS in --exclusive jobs", () => {
  const env = readEnv("sbatch_exclusive_N2.txt");
  assert.equal(env.SLURM_NTASKS, undefined);
  assert.equal(env.SLURM_NPROCS, undefined);
  assert.equal(slurmSlots(env, { fill: false }, ["n1", "n2"]).nodes.length, 2);
});

Deno.test("slurmSlots() fills CPUs with a warning when SLURM_TASKS_PER_NODE is unset", () => {
  // What the resize script leaves after `scontrol update NodeList=n1` (rig NOTES.md).
  const env = { SLURM_JOB_NODELIST: "n1", SLURM_JOB_CPUS_PER_NODE: "4" };
  const { nodes, warnings } = slurmSlots(env, { fill: false }, ["n1"]);
  assert.deepEqual(nodes, [{ host: "n1", slots: 4, coresPerSlot: 1 }]);
  assert.match(warnings.join(), /SLURM_TASKS_PER_NODE is not set/);
});

Deno.test("slurmSlots() throws for unusable environments or options", () => {
  const env = readEnv("sbatch_n5.txt");
  const cases: {
    env: Record<string, string | undefined>;
    options?: Partial<SlurmSlotOptions>;
    error: unknown;
  }[] = [
    {
      env,
      error: { name: "SyntaxError", message: /describes 2 nodes but the node list has 3 \(n\[1-3\]\)/ },
    },
    {
      env: { ...env, SLURM_JOB_CPUS_PER_NODE: undefined },
      error: { message: /SLURM_JOB_CPUS_PER_NODE is not set/ },
    },
    { env: { ...env, SLURM_TASKS_PER_NODE: "4(x)" }, error: SyntaxError },
    { env: { ...env, SLURM_CPUS_PER_TASK: "two" }, error: { message: /SLURM_CPUS_PER_TASK="two"/ } },
    { env, options: { cpusPerTask: 0 }, error: RangeError },
    { env, options: { tasksPerNode: -1 }, error: RangeError },
  ];
  for (const c of cases) {
    const hosts = c.options ? ["n1", "n2"] : ["n1", "n2", "n3"];
    assert.throws(() => slurmSlots(c.env, { fill: false, ...c.options }, hosts), c.error as Error);
  }
});

Deno.test("slurmSlots() keeps Python's float semantics for fractional -c", () => {
  const env = { SLURM_TASKS_PER_NODE: "1", SLURM_JOB_CPUS_PER_NODE: "1" };
  const { nodes } = slurmSlots(env, { fill: true, cpusPerTask: 0.1 }, ["n1"]);
  assert.deepEqual(nodes, [{ host: "n1", slots: 9, coresPerSlot: 0 }]); // 1 // 0.1 == 9.0, int(0.1) == 0
});

Deno.test("parseSrunOptionsFile() reads NAME=VALUE lines", () => {
  const cases: [string, Record<string, string>][] = [
    ["", {}],
    ["# only a comment\n\n   \n", {}],
    ["SLURM_CPU_BIND=none\nSLURM_MPI_TYPE=pmix\n", { SLURM_CPU_BIND: "none", SLURM_MPI_TYPE: "pmix" }],
    ["A=b=c\r\n  # indented comment\n  B=\n", { A: "b=c", B: "" }],
    ["X=1\nX=2", { X: "2" }],
  ];
  for (const [text, vars] of cases) assert.deepEqual(parseSrunOptionsFile(text), vars, JSON.stringify(text));
});

Deno.test("parseSrunOptionsFile() throws SyntaxError naming the line", () => {
  const cases: [string, number][] = [["A=1\n\nnot a var\n", 3], ["=x", 1], ["# ok\n1A=2", 2], ["A =1", 1]];
  for (const [text, line] of cases) {
    assert.throws(() => parseSrunOptionsFile(text), {
      name: "SyntaxError",
      message: new RegExp(`line ${line}: expected NAME=VALUE`),
    });
  }
});

Deno.test("srunEnvDefaults() uses the file's vars or disBatch's defaults", () => {
  const cases: [
    Record<string, string | undefined>,
    Record<string, string> | undefined,
    Record<string, string>,
  ][] = [
    [{}, undefined, { SLURM_CPU_BIND: "cores", SLURM_MPI_TYPE: "none" }],
    [{ SLURM_CPU_BIND: "none" }, undefined, { SLURM_CPU_BIND: "none", SLURM_MPI_TYPE: "none" }],
    [{ SLURM_CPU_BIND: "none" }, { SLURM_MPI_TYPE: "pmix" }, { SLURM_MPI_TYPE: "pmix" }],
    [{}, {}, {}],
  ];
  for (const [env, file, vars] of cases) assert.deepEqual(srunEnvDefaults(env, file), vars);
});

Deno.test("retireCommandEnv() sets disBatch's variables as comma lists", () => {
  assert.deepEqual(
    retireCommandEnv({
      retiring: ["n2", "n3"],
      retCodes: [0, 1],
      active: ["n4"],
      retired: ["n2", "n3"],
      driverNode: "n1",
    }),
    { NODES: "n2,n3", NODE: "n2,n3", RETCODES: "0,1", ACTIVE: "n4", RETIRED: "n2,n3", DRIVER_NODE: "n1" },
  );
  assert.deepEqual(
    retireCommandEnv({ retiring: ["n2"], retCodes: [0], active: [], retired: ["n2"] }),
    { NODES: "n2", NODE: "n2", RETCODES: "0", ACTIVE: "", RETIRED: "n2", DRIVER_NODE: "" },
  );
});

Deno.test("DEFAULT_RETIRE_CMD is disBatch's scontrol shrink command", () => {
  assert.equal(
    DEFAULT_RETIRE_CMD,
    'scontrol update JobId="$SLURM_JOBID" NodeList="${DRIVER_NODE:+$DRIVER_NODE,}$ACTIVE"',
  );
});

Deno.test("jobsOver() reads squeue's answer about earlier jobs", () => {
  const cases: {
    name: string;
    ids: string[];
    answer: { success: boolean; stdout: string; stderr: string };
    over: string[] | undefined;
  }[] = [
    {
      name: "running and pending jobs go on",
      ids: ["1", "2"],
      answer: { success: true, stdout: "1 RUNNING\n2 PENDING\n", stderr: "" },
      over: [],
    },
    {
      name: "a completing job may still have processes",
      ids: ["1"],
      answer: { success: true, stdout: "1 COMPLETING\n", stderr: "" },
      over: [],
    },
    {
      name: "final states are over",
      ids: ["1", "2", "3"],
      answer: { success: true, stdout: "1 TIMEOUT\n2 CANCELLED\n3 NODE_FAIL\n", stderr: "" },
      over: ["1", "2", "3"],
    },
    {
      name: "a job squeue no longer lists is over",
      ids: ["1", "2"],
      answer: { success: true, stdout: "2 RUNNING\n", stderr: "" },
      over: ["1"],
    },
    {
      name: "an empty answer: all over",
      ids: ["5"],
      answer: { success: true, stdout: "", stderr: "" },
      over: ["5"],
    },
    {
      name: "squeue knows none of them",
      ids: ["5"],
      answer: { success: false, stdout: "", stderr: "slurm_load_jobs error: Invalid job id specified\n" },
      over: ["5"],
    },
    {
      name: "squeue failed otherwise: cannot say",
      ids: ["5"],
      answer: {
        success: false,
        stdout: "",
        stderr: "slurm_load_jobs error: Unable to contact slurm controller\n",
      },
      over: undefined,
    },
    {
      name: "padded columns",
      ids: ["12"],
      answer: { success: true, stdout: "  12   RUNNING  \n", stderr: "" },
      over: [],
    },
  ];
  for (const c of cases) {
    const got = jobsOver(c.ids, c.answer);
    assert.deepEqual(got === undefined ? undefined : [...got].sort(), c.over, c.name);
  }
  assert.deepEqual(jobsOverQuery(["3", "4"]), ["-h", "-t", "all", "-j", "3,4", "-o", "%A %T"]);
  assert.deepEqual(
    squeueEnvToDrop({
      SQUEUE_PARTITION: "x",
      SQUEUE_STATES: "R",
      SQUEUE_USERS: "bob",
      SLURM_CLUSTERS: "c2",
      PATH: "/bin",
    })
      .sort(),
    ["SLURM_CLUSTERS", "SQUEUE_PARTITION", "SQUEUE_STATES", "SQUEUE_USERS"],
  );
});

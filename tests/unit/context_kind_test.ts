import assert from "node:assert/strict";
import type { ContextKind, EngineStarter, HostFacts, PlannedEngine } from "../../lib/context_kind.ts";
import { CLOSE_FDS_AND_EXEC, LOCAL_KIND, LOCAL_STARTER } from "../../lib/context_local.ts";
import {
  CONTEXT_KINDS,
  contextKind,
  describeEngines,
  engineStarter,
  kindFor,
  launcherTookEngine,
  planContext,
  retireCommand,
} from "../../lib/context_plan.ts";
import { SLURM_KIND, SRUN_STARTER } from "../../lib/context_slurm.ts";
import { SSH_KIND, SSH_STARTER, SSH_UNREACHABLE } from "../../lib/context_ssh.ts";
import type { ContextOptions } from "../../lib/driver_options.ts";
import { DEFAULT_RETIRE_CMD } from "../../lib/slurm.ts";

function opts(o: Partial<ContextOptions> = {}): ContextOptions {
  return { taskLimit: 0, envResource: [], fill: false, noRetire: false, sshNodes: [], ...o };
}

function facts(o: Partial<HostFacts> = {}): HostFacts {
  return { hostname: "vm", cores: 8, contextNumber: 0, ...o, env: o.env ?? {} };
}

const SLURM_ENV = {
  SLURM_JOB_ID: "42",
  SLURM_JOB_NODELIST: "n[1-2]",
  SLURM_TASKS_PER_NODE: "2(x2)",
  SLURM_JOB_CPUS_PER_NODE: "2(x2)",
};

Deno.test("kindFor() asks the kinds in order: -s hosts, then a Slurm allocation, then the local cores", () => {
  const cases: { o?: Partial<ContextOptions>; env?: Record<string, string | undefined>; kind: string }[] = [
    { kind: "local" },
    { o: { sshNodes: ["n1:2"] }, kind: "ssh" },
    { o: { sshNodes: ["localhost:2"] }, kind: "ssh" },
    { env: SLURM_ENV, kind: "slurm" },
    { env: { ...SLURM_ENV, SLURM_JOB_ID: undefined, SLURM_JOBID: "7" }, kind: "slurm" },
    { env: { SLURM_JOB_ID: "" }, kind: "local" },
    { o: { sshNodes: ["n1:2"] }, env: SLURM_ENV, kind: "ssh" },
    { o: { label: "mine" }, kind: "local" },
  ];
  for (const { o, env, kind } of cases) {
    const what = JSON.stringify({ o, env });
    assert.equal(kindFor(opts(o), facts({ env })).name, kind, what);
    assert.equal(planContext(opts(o), facts({ env })).kind, kind, what);
  }
  assert.deepEqual(CONTEXT_KINDS.map((k) => k.name), ["ssh", "slurm", "local"]);
  assert.throws(() => kindFor(opts(), facts(), [SSH_KIND]), /no context kind applies/);
});

Deno.test("each kind says what it differs in", () => {
  const cases: {
    kind: ContextKind;
    restarts: boolean;
    timeLimited: boolean;
    namesItself: boolean;
    implicit: boolean;
    starters: string[];
  }[] = [
    {
      kind: LOCAL_KIND,
      restarts: true,
      timeLimited: false,
      namesItself: false,
      implicit: true,
      starters: ["local"],
    },
    {
      kind: SSH_KIND,
      restarts: true,
      timeLimited: false,
      namesItself: false,
      implicit: false,
      starters: ["ssh", "local"],
    },
    {
      kind: SLURM_KIND,
      restarts: false,
      timeLimited: true,
      namesItself: true,
      implicit: false,
      starters: ["srun"],
    },
  ];
  for (const c of cases) {
    const k = c.kind;
    assert.equal(contextKind(k.name), k, k.name);
    assert.equal(k.restartsLostEngines, c.restarts, k.name);
    assert.equal(k.timeLimited, c.timeLimited, k.name);
    assert.equal(k.namesItself, c.namesItself, k.name);
    assert.equal(k.implicit, c.implicit, k.name);
    assert.deepEqual(k.starters.map((s) => s.via), c.starters, k.name);
  }
  assert.throws(() => contextKind("pbs"), /unknown context kind "pbs"/);
});

Deno.test("every engine a kind plans is started by one of its own starters", () => {
  const cases: { o?: Partial<ContextOptions>; env?: Record<string, string> }[] = [
    {},
    { o: { sshNodes: ["localhost:2,n1:3"] } },
    { env: SLURM_ENV },
  ];
  for (const { o, env } of cases) {
    const plan = planContext(opts(o), facts({ env }));
    const kind = contextKind(plan.kind);
    for (const e of plan.engines) {
      assert.ok(kind.starters.includes(engineStarter(e.via)), `${plan.kind}: ${e.host} via ${e.via}`);
    }
  }
  assert.throws(() => engineStarter("qsub"), /unknown way to start an engine "qsub"/);
});

Deno.test("retireCommand() is --retire-cmd, else the kind's default, and nothing with --no-retire", () => {
  const cases: { kind: string; o: Partial<ContextOptions>; command: string | undefined }[] = [
    { kind: "slurm", o: {}, command: DEFAULT_RETIRE_CMD },
    { kind: "slurm", o: { retireCmd: "echo $NODE" }, command: "echo $NODE" },
    { kind: "slurm", o: { noRetire: true }, command: undefined },
    { kind: "slurm", o: { noRetire: true, retireCmd: "echo $NODE" }, command: undefined },
    { kind: "ssh", o: {}, command: undefined },
    { kind: "ssh", o: { retireCmd: "echo $NODE" }, command: "echo $NODE" },
    { kind: "ssh", o: { noRetire: true, retireCmd: "x" }, command: undefined },
    { kind: "local", o: {}, command: undefined },
    { kind: "local", o: { retireCmd: "" }, command: "" },
  ];
  for (const { kind, o, command } of cases) {
    assert.equal(retireCommand({ kind }, opts(o)), command, `${kind} ${JSON.stringify(o)}`);
  }
});

Deno.test("the starters build the launcher's command", () => {
  const input = {
    engineArgs: ["--engine", "--host", "h"],
    self: ["/bin/disbatch"],
    dbUtil: "run 1_dbUtil.sh",
    secret: "s3cret",
  };
  const engine = (o: Partial<PlannedEngine>): PlannedEngine => ({
    host: "n1",
    slots: 2,
    coresPerSlot: 1,
    via: "x",
    ...o,
  });
  const cases: {
    starter: EngineStarter;
    p: Partial<PlannedEngine>;
    argv: string[];
    env: Record<string, string>;
    here: boolean;
  }[] = [
    {
      starter: LOCAL_STARTER,
      p: {},
      argv: [
        "/bin/bash",
        "-c",
        CLOSE_FDS_AND_EXEC,
        "disbatch-engine",
        "/bin/disbatch",
        "--engine",
        "--host",
        "h",
      ],
      env: { DISBATCH_SECRET: "s3cret" },
      here: true,
    },
    {
      starter: SSH_STARTER,
      p: {},
      argv: [
        "ssh",
        "-T",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "ServerAliveInterval=5",
        "-o",
        "ServerAliveCountMax=3",
        "n1",
        "'run 1_dbUtil.sh' --engine --host h",
      ],
      env: {},
      here: false,
    },
    ...([
      [{}, "2"],
      [{ coresPerSlot: 3 }, "6"],
      [{ coresPerSlot: 3, cpus: 4 }, "4"],
      [{ coresPerSlot: 0 }, "2"],
      [{ slots: 1, coresPerSlot: 0, cpus: 0 }, "1"],
    ] as [Partial<PlannedEngine>, string][]).map(([p, c]) => ({
      starter: SRUN_STARTER,
      p: { ...p, env: { SLURM_CPU_BIND: "cores" } },
      argv: [
        "srun",
        "-N",
        "1",
        "-n",
        "1",
        "-c",
        c,
        "-w",
        "n1",
        "--overlap",
        "--kill-on-bad-exit=0",
        "--no-kill",
        "run 1_dbUtil.sh",
        "--engine",
        "--host",
        "h",
      ],
      // The engine tells its tasks one slot's SLURM_CPUS_PER_TASK.
      env: { DISBATCH_SRUN_STEP: "1" },
      here: false,
    })),
  ];
  for (const { starter, p, argv, env, here } of cases) {
    const what = `${starter.via} ${JSON.stringify(p)}`;
    const cmd = starter.command(engine(p), input);
    assert.deepEqual(cmd.argv, argv, what);
    assert.deepEqual(cmd.env, env, what);
    assert.equal(starter.onThisMachine, here, what);
    assert.equal(engineStarter(starter.via), starter, what);
  }
});

Deno.test("an ssh launcher's last line tells an unreachable host from one that will not do", () => {
  const cases: [string, boolean][] = [
    ["ssh: connect to host n1 port 22: Connection refused", true],
    ["ssh: connect to host n1 port 22: Connection timed out", true],
    ["ssh: connect to host n1 port 22: No route to host", true],
    ["ssh: connect to host n1 port 22: Network is unreachable", true],
    ["kex_exchange_identification: read: Connection reset by peer", true],
    ["Connection closed by 10.0.0.1 port 22", true],
    ["ssh: connect to host n1 port 22: Host is down", true],
    ["u@n1: Permission denied (publickey,password).", false],
    ["ssh: Could not resolve hostname nosuch: Name or service not known", false],
    ["", false],
  ];
  for (const [line, unreachable] of cases) {
    assert.equal(SSH_UNREACHABLE.test(line), unreachable, line);
    assert.equal(SSH_STARTER.unreachable!.test(line), unreachable, line);
  }
  assert.equal(LOCAL_STARTER.unreachable, undefined);
  assert.equal(SRUN_STARTER.unreachable, undefined);
});

Deno.test("launcherTookEngine(): whether a launcher's end means its engine has ended too", () => {
  const cases: [EngineStarter, string | null, boolean, string][] = [
    [LOCAL_STARTER, null, true, "local: the launcher execs the engine"],
    [LOCAL_STARTER, "SIGKILL", true, "local, killed: the engine was killed"],
    [SRUN_STARTER, null, true, "srun returned its one task's status"],
    [SRUN_STARTER, "SIGKILL", false, "srun itself killed: its step may run on a while"],
    [SSH_STARTER, null, false, "ssh: a broken link can leave its engine running"],
    [SSH_STARTER, "SIGTERM", false, "ssh, signalled"],
  ];
  for (const [starter, signal, want, name] of cases) {
    assert.equal(launcherTookEngine(starter, signal), want, name);
  }
});

Deno.test("a new kind is one object in the registry: planned, started and retired through it", () => {
  const PBSDSH: EngineStarter = {
    via: "pbsdsh",
    onThisMachine: false,
    command: (p, i) => ({ argv: ["pbsdsh", "-h", p.host, i.dbUtil, ...i.engineArgs], env: {} }),
  };
  const PBS: ContextKind = {
    name: "pbs",
    applies: (_o, f) => Boolean(f.env.PBS_JOBID),
    plan: (o, f) => ({
      kind: "pbs",
      label: o.label ?? `P${f.env.PBS_JOBID}`,
      engines: ["c1", "c2"].map((host) => ({ host, slots: 4, coresPerSlot: 1, via: "pbsdsh" })),
      notes: [],
      warnings: [],
    }),
    starters: [PBSDSH],
    defaultRetireCmd: "pbs_release_nodes -j $PBS_JOBID $NODE",
    restartsLostEngines: false,
    timeLimited: true,
    namesItself: true,
    implicit: false,
  };
  const kinds = [SSH_KIND, PBS, SLURM_KIND, LOCAL_KIND];
  const f = facts({ env: { PBS_JOBID: "9.server" } });
  const plan = planContext(opts(), f, kinds);
  assert.equal(plan.kind, "pbs");
  assert.equal(plan.label, "P9.server");
  assert.equal(engineStarter(plan.engines[0]!.via, kinds), PBSDSH);
  assert.equal(retireCommand(plan, opts(), kinds), PBS.defaultRetireCmd);
  assert.equal(retireCommand(plan, opts({ noRetire: true }), kinds), undefined);
  assert.equal(planContext(opts({ sshNodes: ["n1:1"] }), f, kinds).kind, "ssh");
  assert.equal(planContext(opts(), facts(), kinds).kind, "local");
  // The default registry does not know it.
  assert.equal(planContext(opts(), f).kind, "local");
});

Deno.test("describeEngines() lists host:slots, with how each is started on request", () => {
  const engines: PlannedEngine[] = [
    { host: "vm", slots: 2, coresPerSlot: 1, via: "local" },
    { host: "n1", slots: 4, coresPerSlot: 2, via: "ssh" },
  ];
  const cases: [PlannedEngine[], boolean, string][] = [
    [engines, false, "vm:2, n1:4"],
    [engines, true, "vm:2 via local, n1:4 via ssh"],
    [[], false, ""],
    [[], true, ""],
  ];
  for (const [e, via, text] of cases) assert.equal(describeEngines(e, via), text);
});

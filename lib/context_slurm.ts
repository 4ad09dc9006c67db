/**
 * The Slurm context: the nodes of the allocation it runs in (`SLURM_JOB_ID`), one engine per node
 * started with `srun -w NODE`; a node whose engines have left is given back to Slurm.
 *
 * @module
 */

import type { ContextKind, ContextPlan, EngineStarter, PlannedEngine } from "./context_kind.ts";
import { LAUNCH_ENV } from "./launch_contract.ts";
import {
  DEFAULT_RETIRE_CMD,
  expandCountList,
  expandHostList,
  parseSrunOptionsFile,
  slurmSlots,
  srunEnvDefaults,
} from "./slurm.ts";

/** An engine on a node of the allocation: a one-task step of `dbUtil.sh` that overlaps the others. */
export const SRUN_STARTER: EngineStarter = {
  via: "srun",
  onThisMachine: false,
  command: (p, i) => ({
    argv: [
      "srun",
      "-N",
      "1",
      "-n",
      "1",
      "-c",
      String(Math.max(1, Math.min(p.cpus ?? Infinity, p.slots * Math.max(1, p.coresPerSlot)))),
      "-w",
      p.host,
      "--overlap",
      "--kill-on-bad-exit=0",
      "--no-kill",
      i.dbUtil,
      ...i.engineArgs,
    ],
    env: { [LAUNCH_ENV.srunStep]: "1" },
  }),
  endsWithEngine: "exitCode",
};

/**
 * The allocation's nodes. Its lost engines are not started again (their node may be bad, and the
 * allocation decides); its nodes are retired by default; its time limit counts.
 */
export const SLURM_KIND: ContextKind = {
  name: "slurm",
  applies: (_o, f) => Boolean(f.env.SLURM_JOB_ID ?? f.env.SLURM_JOBID),
  plan(o, f) {
    const jobId = (f.env.SLURM_JOB_ID ?? f.env.SLURM_JOBID)!;
    const nodeList = f.env.SLURM_JOB_NODELIST ?? f.env.SLURM_NODELIST ?? "";
    const hosts = expandHostList(nodeList);
    const r = slurmSlots(
      f.env,
      { cpusPerTask: o.cpusPerTask, tasksPerNode: o.tasksPerNode, fill: o.fill },
      hosts,
    );
    const fileVars = f.srunOptionsText !== undefined ? parseSrunOptionsFile(f.srunOptionsText) : undefined;
    const env = srunEnvDefaults(f.env, fileVars);
    let cpus: number[] = [];
    try {
      cpus = expandCountList(f.env.SLURM_JOB_CPUS_PER_NODE ?? "");
    } catch { /* unknown: srun gets slots x cores */ }
    const engines = r.nodes.map((n, i) => {
      const e: PlannedEngine = {
        host: n.host,
        slots: n.slots,
        coresPerSlot: n.coresPerSlot,
        via: "srun",
        env,
      };
      if (cpus[i] !== undefined) e.cpus = cpus[i];
      return e;
    });
    const plan: ContextPlan = {
      kind: "slurm",
      label: o.label ?? `J${jobId}`,
      engines,
      notes: [],
      warnings: [...r.warnings],
      jobId,
    };
    const me = f.env.SLURMD_NODENAME;
    if (me) plan.driverNode = me;
    return plan;
  },
  starters: [SRUN_STARTER],
  defaultRetireCmd: DEFAULT_RETIRE_CMD,
  restartsLostEngines: false,
  timeLimited: true,
  namesItself: true,
  implicit: false,
};

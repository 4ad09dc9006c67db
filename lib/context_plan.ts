/**
 * Which engines a context starts: `-s` hosts (ssh, or directly for this machine),
 * the nodes of a Slurm allocation, or all local cores when there is neither.
 *
 * @module
 */

import type { ContextOptions } from "./driver_options.ts";
import {
  expandCountList,
  expandHostList,
  parseSrunOptionsFile,
  slurmSlots,
  srunEnvDefaults,
} from "./slurm.ts";
import { parseSshNodeList, sshSlots } from "./ssh.ts";

/** One engine to launch. */
export interface PlannedEngine {
  host: string;
  slots: number;
  coresPerSlot: number;
  /** How: `local` child process, `ssh HOST`, or `srun -w HOST`. */
  via: "local" | "ssh" | "srun";
  /** Extra environment for the launcher (srun options). */
  env?: Record<string, string>;
  /** Slurm: CPUs the job has on this node (the engine's step asks for at most that many). */
  cpus?: number;
}

/** A context's plan. */
export interface ContextPlan {
  kind: "local" | "ssh" | "slurm";
  label: string;
  engines: PlannedEngine[];
  /** One-line notes for stderr. */
  notes: string[];
  warnings: string[];
  /** Slurm: job id (for retirement). */
  jobId?: string;
  /** Slurm: the node the driver/context runs on (never retired). */
  driverNode?: string;
}

/** Facts about the machine the context runs on. */
export interface HostFacts {
  /** `gethostname()`. */
  hostname: string;
  /** Logical CPUs here. */
  cores: number;
  env: Record<string, string | undefined>;
  /** Content of `DISBATCH_SLURM_SRUN_OPTIONS_FILE`, when set and readable. */
  srunOptionsText?: string;
  /** Context number, for default labels (`SSH<n>`). */
  contextNumber: number;
}

function shortName(h: string): string {
  return h.split(".", 1)[0]!;
}

/**
 * Plan a context.
 * @param o context options
 * @param f host facts
 * @returns the plan
 * @throws {SyntaxError} for a malformed `-s` or srun options file
 */
export function planContext(o: ContextOptions, f: HostFacts): ContextPlan {
  const warnings: string[] = [];
  const notes: string[] = [];
  if (o.sshNodes.length > 0) {
    const parsed = parseSshNodeList(o.sshNodes);
    warnings.push(...parsed.warnings);
    const engines: PlannedEngine[] = [];
    const merged = new Map<string, number>();
    for (const { host, cores } of parsed.hosts) {
      const name = host === "localhost" ? f.hostname : host;
      if (merged.has(name)) {
        warnings.push(
          `-s lists ${name} more than once (localhost is ${f.hostname}): using ${
            merged.get(name)! + cores
          } cores in all`,
        );
      }
      merged.set(name, (merged.get(name) ?? 0) + cores);
    }
    for (const [host, cores] of merged) {
      const s = sshSlots(cores, { cpusPerTask: o.cpusPerTask, tasksPerNode: o.tasksPerNode });
      const local = shortName(host) === shortName(f.hostname);
      engines.push({ host, slots: s.slots, coresPerSlot: s.coresPerSlot, via: local ? "local" : "ssh" });
    }
    return { kind: "ssh", label: o.label ?? `SSH${f.contextNumber}`, engines, notes, warnings };
  }
  const jobId = f.env.SLURM_JOB_ID ?? f.env.SLURM_JOBID;
  if (jobId) {
    const nodeList = f.env.SLURM_JOB_NODELIST ?? f.env.SLURM_NODELIST ?? "";
    const hosts = expandHostList(nodeList);
    const r = slurmSlots(
      f.env,
      { cpusPerTask: o.cpusPerTask, tasksPerNode: o.tasksPerNode, fill: o.fill },
      hosts,
    );
    warnings.push(...r.warnings);
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
        via: "srun" as const,
        env,
      };
      if (cpus[i] !== undefined) e.cpus = cpus[i];
      return e;
    });
    const plan: ContextPlan = {
      kind: "slurm",
      label: o.label ?? `J${jobId}`,
      engines,
      notes,
      warnings,
      jobId,
    };
    const me = f.env.SLURMD_NODENAME;
    if (me) plan.driverNode = me;
    return plan;
  }
  const s = sshSlots(f.cores, { cpusPerTask: o.cpusPerTask, tasksPerNode: o.tasksPerNode });
  notes.push(
    `disbatch: no -s and no Slurm allocation: running on this machine (${f.hostname}) with ${s.slots} slot(s), ` +
      `one per core; use -s localhost:N to choose`,
  );
  return {
    kind: "local",
    label: o.label ?? `SSH${f.contextNumber}`,
    engines: [{ host: f.hostname, slots: s.slots, coresPerSlot: s.coresPerSlot, via: "local" }],
    notes,
    warnings,
  };
}

/**
 * Node retirement: when every engine on a node of a context has left while the
 * run goes on (in the driver: the scheduler's `retireNode` action), give the node back — by default, for a Slurm context, by shrinking the job with
 * `scontrol update JobId=… NodeList=<driver node + active nodes>` — or run `--retire-cmd` with
 * `NODE`, `NODES`, `RETCODES`, `ACTIVE`, `RETIRED` and `DRIVER_NODE` set. Requests within one
 * second are batched into one command. scontrol writes `slurm_job_<id>_resize.*` into its current
 * directory, so the default command runs in a private temporary directory, never the user's; a
 * `--retire-cmd` runs in the run's directory.
 *
 * @module
 */

import { type ContextPlan, retireCommand } from "../lib/context_plan.ts";
import type { ContextOptions } from "../lib/driver_options.ts";
import { LAUNCH_ENV } from "../lib/launch_contract.ts";
import type { RunView } from "../lib/run_view.ts";
import { DEFAULT_RETIRE_CMD, retireCommandEnv } from "../lib/slurm.ts";
import type { Logger } from "./log.ts";

interface Ctx {
  id: number;
  command: string | undefined;
  driverNode?: string;
  jobId?: string;
  /** The nodes of its plan that have slots, in order. */
  planned: string[];
  /** Live engine ranks per host (without a registry to read: `dbUtil.sh`'s context). */
  hosts: Map<string, Set<number>>;
  /** Hosts whose engine was lost: kept in the job (never retired), their processes may live on. */
  held: Set<string>;
  retired: string[];
  pending: string[];
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Retires nodes that have nothing left to do. In the driver, the scheduler says which
 * ({@linkcode nodeFree}) and the registry which nodes are still busy; `dbUtil.sh`'s context, which
 * has no registry, tells it of the engines it started ({@linkcode engineJoined},
 * {@linkcode engineLeft}).
 */
export class RetireManager {
  #contexts = new Map<number, Ctx>();
  #engines = new Map<number, { context: number; host: string }>();
  #log: Logger;
  #say: (m: string) => void;
  #view: RunView | undefined;
  #running: Promise<void>[] = [];

  /**
   * @param log driver/context log @param say print a line for the user
   * @param view the run's registry (the driver's), for the nodes still busy
   */
  constructor(log: Logger, say: (m: string) => void, view?: RunView) {
    this.#log = log;
    this.#say = say;
    this.#view = view;
  }

  /**
   * A context's plan is known.
   * @param id context id @param plan its plan @param o its options
   */
  contextPlanned(id: number, plan: ContextPlan, o: ContextOptions): void {
    const command = retireCommand(plan, o);
    const c: Ctx = { id, command, planned: [], hosts: new Map(), held: new Set(), retired: [], pending: [] };
    if (plan.driverNode) c.driverNode = plan.driverNode;
    if (plan.jobId) c.jobId = plan.jobId;
    for (const e of plan.engines) {
      if (e.slots > 0 && !c.planned.includes(e.host)) c.planned.push(e.host);
      if (e.slots > 0) c.hosts.set(e.host, new Set());
    }
    this.#contexts.set(id, c);
  }

  /** @param rank engine @param context its context @param host its node */
  engineJoined(rank: number, context: number, host: string): void {
    this.#engines.set(rank, { context, host });
    const c = this.#contexts.get(context);
    if (!c) return;
    if (!c.hosts.has(host)) c.hosts.set(host, new Set());
    c.hosts.get(host)!.add(rank);
    c.held.delete(host);
  }

  /**
   * An engine left.
   * @param rank engine
   * @param runGoesOn false when the whole run is ending (nothing is retired then)
   * @param clean false when it was lost (no goodbye, a failed launcher): its node is not retired,
   *   since processes of it may still run there and Slurm drains a node whose step it cannot kill
   */
  engineLeft(rank: number, runGoesOn = true, clean = true): void {
    const e = this.#engines.get(rank);
    if (!e) return;
    this.#engines.delete(rank);
    const c = this.#contexts.get(e.context);
    if (!c) return;
    const set = c.hosts.get(e.host);
    set?.delete(rank);
    if (set && set.size > 0) return;
    c.hosts.delete(e.host);
    if (!runGoesOn) return;
    this.#free(c, e.host, clean);
  }

  /**
   * The scheduler's word: every engine of a context has left a node (`retireNode`: with a goodbye;
   * `holdNode`: lost). Only contexts planned here retire nodes, never the driver's node.
   */
  nodeFree(a: { kind: "retireNode" | "holdNode"; context: number; host: string }): void {
    const c = this.#contexts.get(a.context);
    if (c) this.#free(c, a.host, a.kind === "retireNode");
  }

  #free(c: Ctx, host: string, clean: boolean): void {
    if (!c.command || host === c.driverNode) return;
    if (!clean) {
      c.held.add(host);
      this.#log.info(
        `Not retiring ${host}: its engine was lost and processes of it may still run there ` +
          `(a node whose step cannot be killed is drained); it is given back when the job ends`,
      );
      return;
    }
    c.pending.push(host);
    clearTimeout(c.timer);
    c.timer = setTimeout(() => this.#run(c), 1000);
  }

  /** The context's nodes still busy: planned ones not left by their engines, then those held. */
  #active(c: Ctx): string[] {
    const view = this.#view;
    if (!view) return [...c.hosts.keys(), ...c.held];
    const seen = view.hostsOf(c.id);
    const busy = c.planned.filter((h) => seen.get(h) !== false);
    for (const [h, live] of seen) if (live && !busy.includes(h)) busy.push(h);
    return [...busy, ...[...c.held].filter((h) => seen.get(h) !== true)];
  }

  #run(c: Ctx): void {
    const retiring = c.pending;
    c.pending = [];
    c.retired.push(...retiring);
    // ACTIVE = nodes with live engines, the driver's node included (as the reference); Slurm
    // accepts the driver node twice in the default NodeList.
    const active = this.#active(c);
    if (!c.driverNode && active.length === 0 && c.command === DEFAULT_RETIRE_CMD) {
      this.#log.info(
        `Not shrinking the job to zero nodes (retiring ${retiring.join(",")}); it ends with the run`,
      );
      return;
    }
    const env: Record<string, string> = {
      ...Deno.env.toObject(),
      ...retireCommandEnv({
        retiring,
        retCodes: retiring.map(() => 0),
        active,
        retired: c.retired,
        driverNode: c.driverNode,
      }),
    };
    delete env[LAUNCH_ENV.secret];
    if (c.jobId) env.SLURM_JOBID = env.SLURM_JOB_ID = c.jobId;
    // scontrol leaves slurm_job_*_resize.sh files where it runs: the default command runs in a
    // private directory; a command of the user's runs where the run does (its relative paths hold).
    const own = c.command === DEFAULT_RETIRE_CMD;
    const dir = own ? Deno.makeTempDirSync({ prefix: "disbatch_retire_" }) : undefined;
    this.#log.info(`Retiring ${retiring.join(",")} (active: ${active.join(",") || "none"}): ${c.command}`);
    const p = new Deno.Command("/bin/bash", {
      args: ["-c", c.command!],
      env,
      ...(dir ? { cwd: dir } : {}),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
      .output().then((out) => {
        const text = (new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr)).trim();
        if (out.code === 0) {
          // scontrol's advice on resetting the job's variables is for shells, not for this log.
          const said = !own && text ? `: ${text.split("\n")[0]}` : "";
          this.#log.info(`Retired ${retiring.join(",")} (active: ${active.join(",") || "none"})${said}`);
        } else {
          const msg = `retirement of ${retiring.join(",")} failed (exit ${out.code}): ${
            text.split("\n").at(-1) ?? ""
          }`;
          this.#log.error(msg);
          this.#say(`disbatch: warning: ${msg}`);
        }
      }).catch((e) => this.#log.error(`Cannot run the retire command: ${e}`))
      .finally(() => dir && Deno.removeSync(dir, { recursive: true }));
    this.#running.push(p);
  }

  /** Cancel pending batches (the run is ending) and wait for commands already started. */
  async flush(): Promise<void> {
    for (const c of this.#contexts.values()) clearTimeout(c.timer);
    await Promise.all(this.#running);
  }
}

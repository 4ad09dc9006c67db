/**
 * Slurm text and environment handling for the Slurm context: hostlist expressions
 * (`scontrol show hostnames` / `show hostlist`), `SLURM_TASKS_PER_NODE`-style count lists, the
 * slots-per-node rule of disBatch's SlurmContext, srun option defaults and the retirement
 * command's environment. Pure: the adapter runs srun/scontrol and logs the warnings.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import * as slurm from "./slurm.ts";
 *
 * // `sbatch -n 5` on 4-CPU nodes
 * const env = { SLURM_JOB_NODELIST: "n[1-2]", SLURM_TASKS_PER_NODE: "4,1", SLURM_JOB_CPUS_PER_NODE: "4,1" };
 * const hosts = slurm.expandHostList(env.SLURM_JOB_NODELIST);
 * const { nodes } = slurm.slurmSlots(env, { fill: false }, hosts);
 * assert.deepEqual(nodes.map((n) => n.slots), [4, 1]);
 * assert.equal(slurm.compressHostList(["n1", "n2", "n3", "n7", "login"]), "n[1-3,7],login");
 * assert.deepEqual(slurm.expandCountList("2(x3),1"), [2, 2, 2, 1]);
 * assert.deepEqual(slurm.parseSrunOptionsFile("# x\nSLURM_CPU_BIND=none"), { SLURM_CPU_BIND: "none" });
 * assert.deepEqual(slurm.srunEnvDefaults({}), { SLURM_CPU_BIND: "cores", SLURM_MPI_TYPE: "none" });
 * const retire = slurm.retireCommandEnv({ retiring: ["n2"], retCodes: [0], active: [], retired: ["n2"] });
 * assert.equal(retire.NODE, "n2");
 * ```
 *
 * @module
 */
import { floorDiv, type SlotOptions, validateSlotOptions } from "./ssh.ts";

/** A process environment, as the adapter reads it. */
export type SlurmEnv = Readonly<Record<string, string | undefined>>;

/** Slurm's own limit on one range (`n[0-65536]` is "Too many hosts in range"). */
const MAX_RANGE = 65536;
/** Our guard against `a[0-9999][0-9999]` style products. */
const MAX_NAMES = 1_000_000;

/**
 * Expands a hostlist expression exactly like `scontrol show hostnames` (Slurm 22.05): commas and
 * whitespace separate items, ranges keep the low bound's zero padding, duplicates and order are
 * kept. Several brackets give Slurm's product order: the last bracket varies fastest, then the
 * others from first to last (`a[1-2]-b[3-4]-c[5-6]` → a1-b3-c5, a1-b3-c6, a2-b3-c5, …).
 *
 * @param spec A hostlist such as `n[1-3,7]`, `rack[1-2]-n[01-02]` or `a1,b2`.
 * @returns The host names.
 * @throws {SyntaxError} For unbalanced brackets, text after the last `]`, or a bad range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { expandHostList } from "./slurm.ts";
 *
 * assert.deepEqual(expandHostList("a1,b[08-10]"), ["a1", "b08", "b09", "b10"]);
 * ```
 */
export function expandHostList(spec: string): string[] {
  const names: string[] = [];
  for (const token of splitTopLevel(spec)) {
    const literals: string[] = [];
    const ranges: string[][] = [];
    let rest = token;
    for (let open = rest.indexOf("["); open >= 0; open = rest.indexOf("[")) {
      const close = rest.indexOf("]", open);
      literals.push(rest.slice(0, open));
      ranges.push(expandRanges(rest.slice(open + 1, close), token));
      rest = rest.slice(close + 1);
    }
    if (ranges.length === 0) {
      names.push(token);
      continue;
    }
    if (rest !== "") {
      throw new SyntaxError(`Invalid hostlist "${token}": nothing may follow the last "]" except ","`);
    }
    if (ranges.reduce((n, r) => n * r.length, 1) > MAX_NAMES) {
      throw new SyntaxError(`Invalid hostlist "${token}": it names more than ${MAX_NAMES} hosts`);
    }
    // slurm hostlist.c _push_range_list: the last bracket is the innermost loop; the prefix's
    // brackets are peeled from its last one, so that one is the outermost loop.
    const last = ranges.length - 1;
    let combos: string[][] = [ranges.map(() => "")];
    for (const b of [...ranges.keys()].slice(0, last).reverse().concat(last)) {
      combos = combos.flatMap((combo) => ranges[b]!.map((v) => combo.with(b, v)));
    }
    for (const combo of combos) names.push(literals.map((literal, i) => literal + combo[i]).join(""));
  }
  return names;
}

/** Splits on commas/whitespace outside brackets, dropping empty items; checks bracket nesting. */
function splitTopLevel(spec: string): string[] {
  const tokens: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= spec.length; i++) {
    const c = spec[i];
    if (c === "[" || c === "]") {
      depth += c === "[" ? 1 : -1;
      if (depth < 0 || depth > 1) {
        throw new SyntaxError(`Invalid hostlist "${spec}": unbalanced or nested "${c}" at offset ${i}`);
      }
    } else if (c === undefined || (depth === 0 && /[,\s]/.test(c))) {
      if (c === undefined && depth !== 0) {
        throw new SyntaxError(`Invalid hostlist "${spec}": "[" is never closed`);
      }
      if (i > start) tokens.push(spec.slice(start, i));
      start = i + 1;
    }
  }
  return tokens;
}

/** `1-3,7` → ["1","2","3","7"]; width = length of the low bound, as in Slurm. */
function expandRanges(body: string, token: string): string[] {
  const values: string[] = [];
  for (const item of body.split(",")) {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(item);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] === undefined ? lo : Number(m[2]);
    if (!m || !Number.isSafeInteger(hi) || lo > hi) {
      throw new SyntaxError(`Invalid hostlist "${token}": bad range "${item}" (expected N or LOW-HIGH)`);
    }
    if (hi - lo + 1 > MAX_RANGE || values.length > MAX_NAMES) {
      throw new SyntaxError(`Invalid hostlist "${token}": too many hosts in range "${item}"`);
    }
    const width = m[1]!.length;
    for (let n = lo; n <= hi; n++) values.push(String(n).padStart(width, "0"));
  }
  return values;
}

/**
 * Compresses host names into a hostlist expression, as `scontrol show hostlist` does: adjacent
 * names sharing a prefix and ending in digits are merged, order and duplicates are kept, so
 * `expandHostList(compressHostList(names))` deep-equals `names`.
 *
 * @param names Host names (no commas, brackets or whitespace).
 * @returns The expression, e.g. `n[1-3,7]`; `""` for no names.
 * @throws {RangeError} For an empty name or one containing `,`, `[`, `]` or whitespace.
 */
export function compressHostList(names: readonly string[]): string {
  const groups: { prefix: string; names: string[]; runs: { lo: string; hi: number; last: string }[] }[] = [];
  for (const name of names) {
    if (name === "" || /[,[\]\s]/.test(name)) {
      throw new RangeError(`Cannot put host name "${name}" in a hostlist`);
    }
    const [, prefix = name, digits] = /^(.*?)([0-9]{1,15})$/.exec(name) ?? [];
    const group = groups.at(-1);
    const run = group?.prefix === prefix ? group.runs.at(-1) : undefined;
    if (digits === undefined || !run) {
      const runs = digits === undefined ? [] : [{ lo: digits, hi: Number(digits), last: digits }];
      groups.push({ prefix, names: [name], runs });
      continue;
    }
    group!.names.push(name);
    const n = Number(digits);
    // `n[9-10]` is n9,n10 but `n[09-10]` is n09,n10: the low bound's width pads the whole range.
    if (n === run.hi + 1 && String(n).padStart(run.lo.length, "0") === digits) {
      Object.assign(run, { hi: n, last: digits });
    } else {
      group!.runs.push({ lo: digits, hi: n, last: digits });
    }
  }
  return groups.map((g) =>
    g.names.length === 1
      ? g.names[0]
      : `${g.prefix}[${g.runs.map((r) => r.lo === r.last ? r.lo : `${r.lo}-${r.last}`)}]`
  ).join(",");
}

/**
 * Expands a Slurm count list (`SLURM_TASKS_PER_NODE`, `SLURM_JOB_CPUS_PER_NODE`).
 *
 * @param spec Such as `2(x3),1` or `4`.
 * @returns One count per node, e.g. `[2, 2, 2, 1]`.
 * @throws {SyntaxError} If an item is not `N` or `N(xK)` with K ≥ 1.
 */
export function expandCountList(spec: string): number[] {
  return spec.split(",").flatMap((item) => {
    const m = /^([0-9]+)(?:\(x([0-9]+)\))?$/.exec(item.trim());
    const repeat = Number(m?.[2] ?? 1);
    if (!m || repeat < 1 || repeat > MAX_NAMES) {
      throw new SyntaxError(`Invalid Slurm count list "${spec}": bad item "${item}" (expected N or N(xK))`);
    }
    return Array<number>(repeat).fill(Number(m[1]));
  });
}

/** A Slurm node of the allocation and the engine slots it gets. */
export interface SlurmNodeSlots {
  host: string;
  /** Concurrent tasks (srun `-n`); 0 when the node cannot fit one task (the caller reports it). */
  slots: number;
  /** srun `-c` and `DISBATCH_CORES_PER_TASK`. */
  coresPerSlot: number;
}

/** Options of {@linkcode slurmSlots}: `-c`, `-t` (undefined when not given) and `--fill`. */
export interface SlurmSlotOptions extends SlotOptions {
  fill: boolean;
}

/**
 * The slots-per-node rule of disBatch's SlurmContext. `cpusPerTask` = `-c`, else
 * `SLURM_CPUS_PER_TASK`, else 1; `tasksPerNode` = `-t`, else `SLURM_NTASKS_PER_NODE`. Slots are
 * `tasksPerNode` when set; else with `--fill` (ignored when GPUs are visible)
 * `cpus // cpusPerTask`; else `min(tasks, cpus // cpusPerTask)` per node, from
 * `SLURM_TASKS_PER_NODE` and `SLURM_JOB_CPUS_PER_NODE` aligned with `hosts`.
 *
 * @param env The job's environment.
 * @param options `-c`, `-t` and `--fill`.
 * @param hosts The expanded `SLURM_JOB_NODELIST`.
 * @returns One entry per host, in order, and warnings for the log.
 * @throws {SyntaxError} If a count variable is malformed, missing or does not match `hosts`.
 * @throws {RangeError} If `-c` or `-t` is not positive.
 *
 * @example `sbatch -n 6 -c 2` on three 4-CPU nodes
 * ```ts
 * import assert from "node:assert/strict";
 * import { slurmSlots } from "./slurm.ts";
 *
 * const env = { SLURM_CPUS_PER_TASK: "2", SLURM_TASKS_PER_NODE: "2(x3)", SLURM_JOB_CPUS_PER_NODE: "4(x3)" };
 * const { nodes } = slurmSlots(env, { fill: false }, ["n1", "n2", "n3"]);
 * assert.deepEqual(nodes[0], { host: "n1", slots: 2, coresPerSlot: 2 });
 * ```
 */
export function slurmSlots(
  env: SlurmEnv,
  options: SlurmSlotOptions,
  hosts: readonly string[],
): { nodes: SlurmNodeSlots[]; warnings: string[] } {
  validateSlotOptions(options);
  const warnings: string[] = [];
  const envCpusPerTask = envInteger(env, "SLURM_CPUS_PER_TASK");
  const envTasksPerNode = envInteger(env, "SLURM_NTASKS_PER_NODE");
  const cpusPerTask = options.cpusPerTask ?? envCpusPerTask ?? 1;
  if (options.cpusPerTask !== undefined && envCpusPerTask !== undefined && cpusPerTask !== envCpusPerTask) {
    warnings.push(
      `-c ${cpusPerTask} conflicts with SLURM_CPUS_PER_TASK=${envCpusPerTask}: using ${cpusPerTask}`,
    );
  }
  // disBatch tests `if self.tasksPerNode:`, so SLURM_NTASKS_PER_NODE=0 counts as unset.
  const tasksPerNode = options.tasksPerNode ?? (envTasksPerNode || undefined);
  if (options.tasksPerNode !== undefined && envTasksPerNode && tasksPerNode !== envTasksPerNode) {
    warnings.push(
      `-t ${tasksPerNode} conflicts with SLURM_NTASKS_PER_NODE=${envTasksPerNode}: using ${tasksPerNode}`,
    );
  }
  const cpus = envCounts(env, "SLURM_JOB_CPUS_PER_NODE", hosts);
  if (cpus === undefined) {
    throw new SyntaxError(
      "SLURM_JOB_CPUS_PER_NODE is not set: run inside a Slurm allocation (sbatch or salloc)",
    );
  }
  let fill = options.fill;
  if (fill && (env.CUDA_VISIBLE_DEVICES !== undefined || env.GPU_DEVICE_ORDINAL !== undefined)) {
    warnings.push("--fill ignored: GPUs are visible (CUDA_VISIBLE_DEVICES or GPU_DEVICE_ORDINAL is set)");
    fill = false;
  }
  const tasks = tasksPerNode || fill ? undefined : envCounts(env, "SLURM_TASKS_PER_NODE", hosts);
  if (!tasksPerNode && !fill && tasks === undefined) {
    warnings.push("SLURM_TASKS_PER_NODE is not set: filling each node's CPUs as with --fill");
  }
  const nodes = hosts.map((host, i) => {
    const fit = Math.trunc(floorDiv(cpus[i]!, cpusPerTask));
    const slots = tasksPerNode ?? (tasks ? Math.min(tasks[i]!, fit) : fit);
    const coresPerSlot = options.cpusPerTask !== undefined
      ? Math.trunc(options.cpusPerTask)
      : slots
      ? Math.floor(cpus[i]! / slots)
      : cpus[i]!;
    return { host, slots, coresPerSlot };
  });
  return { nodes, warnings };
}

/** An optional whole-number variable. */
function envInteger(env: SlurmEnv, name: string): number | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  if (!/^[0-9]+$/.test(value)) throw new SyntaxError(`Invalid ${name}="${value}": expected a whole number`);
  return Number(value);
}

/** An optional count list that must have one entry per host. */
function envCounts(env: SlurmEnv, name: string, hosts: readonly string[]): number[] | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  const counts = expandCountList(value);
  if (counts.length !== hosts.length) {
    throw new SyntaxError(
      `${name}="${value}" describes ${counts.length} nodes but the node list has ${hosts.length} (${
        compressHostList(hosts)
      }): was the job resized?`,
    );
  }
  return counts;
}

/**
 * Parses a `DISBATCH_SLURM_SRUN_OPTIONS_FILE`: `NAME=VALUE` lines (the value is kept verbatim);
 * blank lines and `#` comments are skipped.
 *
 * @param text The file's content.
 * @returns The variables, in file order.
 * @throws {SyntaxError} Naming the 1-based line that is not `NAME=VALUE`.
 */
export function parseSrunOptionsFile(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "" || line.trimStart().startsWith("#")) return;
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      throw new SyntaxError(`Invalid srun options file line ${i + 1}: expected NAME=VALUE, got "${line}"`);
    }
    vars[m[1]!] = m[2]!;
  });
  return vars;
}

/**
 * The variables to set for `srun`: exactly the options file's, else `SLURM_CPU_BIND` (inherited
 * or `cores`) and `SLURM_MPI_TYPE=none`, as disBatch does.
 *
 * @param env The context's environment.
 * @param fileVars {@linkcode parseSrunOptionsFile}'s result when the file is set.
 * @returns Variables to add to srun's environment.
 */
export function srunEnvDefaults(
  env: SlurmEnv,
  fileVars?: Readonly<Record<string, string>>,
): Record<string, string> {
  if (fileVars) return { ...fileVars };
  return { SLURM_CPU_BIND: env.SLURM_CPU_BIND ?? "cores", SLURM_MPI_TYPE: "none" };
}

/** disBatch's default Slurm `--retire-cmd`: shrink the job to the driver node and active nodes. */
export const DEFAULT_RETIRE_CMD =
  'scontrol update JobId="$SLURM_JOBID" NodeList="${DRIVER_NODE:+$DRIVER_NODE,}$ACTIVE"';

/** State passed to the retirement command: nodes retiring now and their engines' exit codes,
 * nodes still active, all nodes retired so far, and the node running the context (never released). */
export interface RetireState {
  retiring: readonly string[];
  retCodes: readonly number[];
  active: readonly string[];
  retired: readonly string[];
  driverNode?: string | undefined;
}

/**
 * Environment additions for the retirement command (disBatch `retireEnv`). Sets both `NODES`
 * (the code) and `NODE` (the docs); `DRIVER_NODE` is `""` when unknown so an inherited value
 * cannot leak into `${DRIVER_NODE:+…}`.
 *
 * @param state The nodes and exit codes.
 * @returns Variables to add to the command's environment.
 */
export function retireCommandEnv(state: RetireState): Record<string, string> {
  const nodes = state.retiring.join(",");
  return {
    NODES: nodes,
    NODE: nodes,
    RETCODES: state.retCodes.join(","),
    ACTIVE: state.active.join(","),
    RETIRED: state.retired.join(","),
    DRIVER_NODE: state.driverNode ?? "",
  };
}

/** Job states after which none of the job's processes runs any more (`COMPLETING` is not one). */
const OVER_STATES = new Set([
  "BOOT_FAIL",
  "CANCELLED",
  "COMPLETED",
  "DEADLINE",
  "FAILED",
  "NODE_FAIL",
  "OUT_OF_MEMORY",
  "PREEMPTED",
  "REVOKED",
  "SPECIAL_EXIT",
  "TIMEOUT",
]);

/** The arguments of the `squeue` call that {@linkcode jobsOver} reads (jobs in any state). */
export function jobsOverQuery(ids: readonly string[]): string[] {
  return ["-h", "-t", "all", "-j", ids.join(","), "-o", "%A %T"];
}

/**
 * The environment for that call: the user's `SQUEUE_*` defaults (a partition, states or users to
 * show) would hide a running job, which would then look over.
 * @param env the process environment @returns the names to remove from it
 */
export function squeueEnvToDrop(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.keys(env).filter((k) => k.startsWith("SQUEUE_") || k === "SLURM_CLUSTERS");
}

/**
 * Which of the jobs `ids` are over, from what `squeue -h -j IDS -o "%A %T"` answered: a job it lists
 * in a final state, or does not list (it forgot the job, or never had it). A failed squeue says
 * nothing, unless its error is that it knows none of them.
 * @param ids Slurm job ids (as in `SLURM_JOB_ID`)
 * @param answer squeue's exit and output
 * @returns the ids that are over, or undefined when squeue could not say
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobsOver } from "./slurm.ts";
 * const over = jobsOver(["7", "8", "9"], { success: true, stdout: "7 RUNNING\n8 TIMEOUT\n", stderr: "" });
 * assert.deepEqual([...over!].sort(), ["8", "9"]);
 * ```
 */
export function jobsOver(
  ids: readonly string[],
  answer: { success: boolean; stdout: string; stderr: string },
): Set<string> | undefined {
  if (!answer.success) {
    return /invalid job id/i.test(answer.stderr) ? new Set(ids) : undefined;
  }
  const state = new Map<string, string>();
  for (const line of answer.stdout.split("\n")) {
    const [id, st] = line.trim().split(/\s+/);
    if (id && st) state.set(id, st);
  }
  return new Set(ids.filter((id) => {
    const st = state.get(id);
    return st === undefined || OVER_STATES.has(st);
  }));
}

/**
 * The Slurm job a process runs inside, for the journal: set when slurmd started it (a batch script or
 * a step: `SLURMD_NODENAME` is set), so that the job's end ends it. A process under `salloc` on a
 * login host has the job's id but is not the job's: it is not named.
 * @param env its environment
 * @returns `{ slurmJob }` or nothing
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slurmJobOfDriver } from "./slurm.ts";
 * assert.deepEqual(slurmJobOfDriver({ SLURM_JOB_ID: "7", SLURMD_NODENAME: "n1" }), { slurmJob: "7" });
 * assert.deepEqual(slurmJobOfDriver({ SLURM_JOB_ID: "7" }), {});
 * ```
 */
export function slurmJobOfDriver(env: SlurmEnv): { slurmJob?: string } {
  const job = env.SLURM_JOB_ID?.trim();
  return job && env.SLURMD_NODENAME ? { slurmJob: job } : {};
}

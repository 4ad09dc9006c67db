/**
 * The options of one context (one grant of resources: `-s`, `-c`, `-t`, `-C`, `-E`, `--fill`,
 * `-l`, `--retire-cmd`, `--no-retire`, `-g`), shared by the driver's command line and the
 * `dbUtil.sh` that adds a context: their specs and their reading into {@linkcode ContextOptions}.
 * Pure; re-exported from {@linkcode ./driver_options.ts}.
 *
 * @module
 */

import { floatOption, intOption, type OptionSpec } from "./cli.ts";

/** Options that describe one resource grant (forwarded to `dbUtil.sh`-added contexts too). */
export interface ContextOptions {
  /** `-C`: stop this context's engines after this many tasks (0 = no limit). */
  taskLimit: number;
  /** `-c`: cores per task; undefined = 1 (or SLURM_CPUS_PER_TASK). */
  cpusPerTask?: number;
  /** `-E`: comma-separated variables split across slots. */
  envResource: string[];
  /** `--fill`: Slurm only, ignore SLURM_TASKS_PER_NODE. */
  fill: boolean;
  /** `--no-retire`. */
  noRetire: boolean;
  /** `-l`. */
  label?: string;
  /** `--retire-cmd`. */
  retireCmd?: string;
  /** `-s` items (each may hold several `HOST:N`, comma-separated). */
  sshNodes: string[];
  /** `-t`: tasks per node. */
  tasksPerNode?: number;
}
/**
 * A `dbUtil.sh` context's options completed with the driver's: each of `-c`, `-t` and `-E` that the
 * context's command line does not give is the driver's, as the driver's command line gave it.
 * @param o the context's own options
 * @param driver the driver's (undefined: a driver that gave none)
 * @returns the options the context runs with
 */
export function withDriverDefaults(
  o: ContextOptions,
  driver: { cpusPerTask?: number; tasksPerNode?: number; envResource?: string[] } | undefined,
): ContextOptions {
  const c = { ...o };
  if (c.cpusPerTask === undefined && driver?.cpusPerTask !== undefined) c.cpusPerTask = driver.cpusPerTask;
  if (c.tasksPerNode === undefined && driver?.tasksPerNode !== undefined) {
    c.tasksPerNode = driver.tasksPerNode;
  }
  if (c.envResource.length === 0 && driver?.envResource?.length) c.envResource = [...driver.envResource];
  return c;
}

/** Options of a context (driver mode and `dbUtil.sh`). */
export function contextSpecs(): OptionSpec[] {
  return [
    { long: "context-task-limit", short: "C", type: "value" },
    { long: "cpusPerTask", short: "c", type: "value" },
    { long: "env-resource", short: "E", type: "list" },
    { long: "fill", type: "flag" },
    { long: "gpu", short: "g", type: "flag" },
    { long: "no-retire", type: "flag" },
    { long: "label", short: "l", type: "value" },
    { long: "retire-cmd", type: "value" },
    { long: "ssh-node", short: "s", type: "list" },
    { long: "tasksPerNode", short: "t", type: "value" },
  ];
}
/**
 * Read the context options out of a parse result.
 * @param o parsed options
 * @returns validated context options
 * @throws {UsageError} for bad numbers
 */
export function contextOptionsFrom(o: Record<string, string | string[] | true>): ContextOptions {
  const str = (k: string) => o[k] as string | undefined;
  const c: ContextOptions = {
    taskLimit: str("context-task-limit")
      ? Math.max(0, intOption("-C/--context-task-limit", str("context-task-limit")!, -Infinity))
      : 0,
    envResource: (o["env-resource"] as string[] | undefined) ?? [],
    fill: o.fill === true,
    noRetire: o["no-retire"] === true,
    sshNodes: (o["ssh-node"] as string[] | undefined) ?? [],
  };
  if (str("cpusPerTask")) c.cpusPerTask = floatOption("-c/--cpusPerTask", str("cpusPerTask")!);
  if (str("tasksPerNode")) {
    // As the reference, 0 and negative values (its own default is -1) mean "not given".
    const t = intOption("-t/--tasksPerNode", str("tasksPerNode")!, -Infinity);
    if (t > 0) c.tasksPerNode = t;
  }
  if (str("label") !== undefined) c.label = str("label")!;
  if (str("retire-cmd") !== undefined) c.retireCmd = str("retire-cmd")!;
  return c;
}

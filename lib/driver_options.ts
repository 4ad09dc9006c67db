/**
 * The driver's command line: every option of the reference's driver and context modes, the
 * help text, and validation into a {@linkcode DriverInvocation}.
 *
 * @module
 */

import { floatOption, intOption, type OptionSpec, parseArgv, UsageError } from "./cli.ts";

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

/** Everything the driver mode needs from the command line. */
export interface DriverInvocation {
  taskFile: string;
  exitCode: boolean;
  failFast: boolean;
  forceResume: boolean;
  logFile?: string;
  logLevel: string;
  prefix: string;
  resumeFrom: string[];
  retry: boolean;
  startupOnly: boolean;
  statusHeader: boolean;
  useAddress?: string;
  web: boolean;
  mailTo?: string;
  mailFreq?: number;
  quiet: boolean;
  /** `--engine-restarts N`: how often a lost local or ssh engine of the driver's context is started again. */
  engineRestarts: number;
  /** `-g`: deprecated in disBatch, accepted with a message. */
  gpu: boolean;
  context: ContextOptions;
}

/** The driver's options, also used for `--help`. */
export const DRIVER_SPECS: readonly OptionSpec[] = [
  { long: "help", short: "h", type: "flag" },
  { long: "version", type: "flag" },
  { long: "exit-code", short: "e", type: "flag" },
  { long: "fail-fast", short: "f", type: "flag" },
  { long: "force-resume", type: "flag" },
  { long: "logfile", type: "value" },
  { long: "loglevel", type: "value" },
  { long: "mailFreq", type: "value" },
  { long: "mailTo", type: "value" },
  { long: "prefix", short: "p", type: "value" },
  { long: "resume-from", short: "r", type: "list" },
  { long: "retry", short: "R", type: "flag" },
  { long: "startup-only", short: "S", type: "flag" },
  { long: "status-header", type: "flag" },
  { long: "use-address", type: "value" },
  { long: "web", short: "w", type: "flag" },
  { long: "quiet", short: "q", type: "flag" },
  { long: "engine-restarts", type: "value" },
  { long: "kvsserver", type: "value" },
  { long: "taskcommand", type: "value" },
  { long: "taskserver", type: "value" },
  ...contextSpecs(),
];

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

/** One-line usage (argparse style). */
export const USAGE = "usage: disbatch [-h] [--version] [-e] [-f] [-r STATUSFILE] [-R]\n" +
  "                [--force-resume] [-p PATH] [--status-header] [--logfile FILE]\n" +
  "                [--loglevel LEVEL] [-S] [--use-address HOST:PORT] [-w] [-q]\n" +
  "                [--engine-restarts N]\n" +
  "                [--mailTo ADDR] [--mailFreq N] [-s HOST:N] [-c N] [-t N]\n" +
  "                [--fill] [-C N] [-l LABEL] [--retire-cmd CMD] [--no-retire]\n" +
  "                [-E VAR] taskfile\n" +
  "       disbatch install [DIR]\n" +
  "       disbatch report STATUSFILE [-o FILE] [--json]";

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

/**
 * Parse and validate the driver's arguments.
 * @param args argv without the program
 * @param env environment (for `DISBATCH_SSH_NODELIST`)
 * @returns the invocation, or `"help"` / `"version"`
 * @throws {UsageError} for anything the user must fix
 */
export function parseDriverArgs(
  args: readonly string[],
  env: Record<string, string | undefined>,
): DriverInvocation | "help" | "version" {
  const { options: o, positionals } = parseArgv(args, DRIVER_SPECS);
  if (o.help) return "help";
  for (const k of ["kvsserver", "taskcommand", "taskserver"]) {
    if (o[k] !== undefined) {
      throw new UsageError(
        `argument --${k}: programmatic task sources are not supported by disbatch; ` +
          `pipe generated tasks into "disbatch -" instead`,
      );
    }
  }
  if (o.version) {
    if (positionals.length > 0) {
      throw new UsageError(`argument taskfile: not allowed with argument --version`);
    }
    return "version";
  }
  if (positionals.length === 0) {
    throw new UsageError("one of the arguments taskfile --version is required");
  }
  if (positionals.length > 1) {
    throw new UsageError(`unrecognized arguments: ${positionals.slice(1).join(" ")}`);
  }
  const str = (k: string) => o[k] as string | undefined;
  const context = contextOptionsFrom(o);
  const fromEnv = !env.SLURM_JOB_ID && !env.SLURM_JOBID && o["startup-only"] !== true;
  if (context.sshNodes.length === 0 && env.DISBATCH_SSH_NODELIST && fromEnv) {
    context.sshNodes = [env.DISBATCH_SSH_NODELIST];
  }
  const level = str("loglevel") ?? "INFO"; // argparse choices: case-sensitive
  if (!["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"].includes(level)) {
    throw new UsageError(
      `argument --loglevel: invalid choice: '${
        str("loglevel")
      }' (choose from 'CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG')`,
    );
  }
  const inv: DriverInvocation = {
    taskFile: positionals[0]!,
    exitCode: o["exit-code"] === true,
    failFast: o["fail-fast"] === true,
    forceResume: o["force-resume"] === true,
    logLevel: level,
    prefix: str("prefix") ?? ".",
    resumeFrom: (o["resume-from"] as string[] | undefined) ?? [],
    retry: o.retry === true,
    startupOnly: o["startup-only"] === true,
    statusHeader: o["status-header"] === true,
    web: o.web === true,
    quiet: o.quiet === true,
    engineRestarts: str("engine-restarts") === undefined
      ? 5
      : intOption("--engine-restarts", str("engine-restarts")!, 0),
    gpu: o.gpu === true,
    context,
  };
  if (str("logfile") !== undefined) inv.logFile = str("logfile")!;
  if (str("use-address") !== undefined) {
    if (!/^[^:\s]+:\d+$/.test(str("use-address")!)) {
      throw new UsageError(
        `argument --use-address: expected HOST:PORT (port 0 picks a free port), got '${str("use-address")}'`,
      );
    }
    inv.useAddress = str("use-address")!;
  }
  if (str("mailTo") !== undefined) inv.mailTo = str("mailTo")!;
  if (str("mailFreq") !== undefined) {
    if (inv.mailTo === undefined) throw new UsageError("argument --mailFreq: needs --mailTo ADDR");
    inv.mailFreq = intOption("--mailFreq", str("mailFreq")!, 1);
  }
  if (inv.mailTo !== undefined && inv.mailFreq === undefined) inv.mailFreq = 1;
  if (inv.startupOnly) {
    const bad = [
      context.sshNodes.length ? "-s/--ssh-node" : "",
      context.envResource.length ? "-E/--env-resource" : "",
      context.retireCmd ? "--retire-cmd" : "",
    ].filter(Boolean);
    if (bad.length) {
      throw new UsageError(
        `argument -S/--startup-only: not allowed with ${bad.join(", ")} (-S starts only the driver; ` +
          `give those options to the dbUtil.sh that adds a context)`,
      );
    }
  }
  if ((inv.retry || inv.forceResume) && inv.resumeFrom.length === 0) {
    throw new UsageError(`argument ${inv.retry ? "-R/--retry" : "--force-resume"}: needs -r STATUSFILE`);
  }
  return inv;
}

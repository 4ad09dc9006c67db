/**
 * The driver's command line: every option of the reference's driver and context modes, the
 * help text, and validation into a {@linkcode DriverInvocation}. That type and the scheduler's
 * settings it gives are in `./driver_invocation.ts`, a context's options in `./context_options.ts`,
 * what is read from the sbatch options of `--alloc` in `./alloc_options.ts` (all re-exported here).
 *
 * @module
 */

import { intOption, type OptionSpec, parseArgv, UsageError } from "./cli.ts";
import { parseDuration, parsePointInTime } from "./duration.ts";
import { splitShellWords } from "./text.ts";
import { allocNodeCount, allocTimeLimit } from "./alloc_options.ts";
import { contextOptionsFrom, contextSpecs } from "./context_options.ts";
import type { DriverInvocation } from "./driver_invocation.ts";
import { parseSshNodeList } from "./ssh.ts";

export { allocNodeCount } from "./alloc_options.ts";
export { type ContextOptions, contextOptionsFrom, contextSpecs } from "./context_options.ts";
export { type DriverInvocation, schedulerOptions } from "./driver_invocation.ts";

/**
 * A duration option (`90`, `90s`, `10m`, `2h`, `1:30:00`, `1-00:00:00`).
 * @param spec option name @param value text
 * @returns seconds
 * @throws {UsageError} when it is not a duration
 */
function durationOption(spec: string, value: string): number {
  const s = parseDuration(value);
  if (s === undefined) {
    throw new UsageError(
      `argument ${spec}: invalid duration '${value}' (seconds, or 90s, 10m, 2h, HH:MM:SS, D-HH:MM:SS)`,
    );
  }
  return s;
}

/** `--driver-grace` when not given: engines keep their tasks 5 minutes without a driver. */
export const DEFAULT_DRIVER_GRACE_S = 300;

/** `--engine-restarts` when not given: how many times a host's engine is started again. */
export const DEFAULT_ENGINE_RESTARTS = 5;

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
  { long: "retries", type: "value" },
  { long: "crash-limit", type: "value" },
  { long: "timeout", type: "value" },
  { long: "kill-grace", type: "value" },
  { long: "driver-grace", type: "value" },
  { long: "walltime", type: "value" },
  { long: "end-time", type: "value" },
  { long: "bad-node-after", type: "value" },
  { long: "results", type: "value" },
  { long: "event-log", type: "value" },
  { long: "alloc", type: "value" },
  { long: "max-allocs", type: "value" },
  { long: "alloc-backlog", type: "value" },
  { long: "max-alloc-nodes", type: "value" },
  { long: "name", type: "value" },
  { long: "kvsserver", type: "value" },
  { long: "taskcommand", type: "value" },
  { long: "taskserver", type: "value" },
  ...contextSpecs(),
];

/** One-line usage (argparse style). */
export const USAGE = "usage: disbatch [-h] [--version] [-e] [-f] [-r STATUSFILE] [-R]\n" +
  "                [--force-resume] [-p PATH] [--status-header] [--logfile FILE]\n" +
  "                [--loglevel LEVEL] [-S] [--use-address HOST:PORT] [-w] [-q]\n" +
  "                [--engine-restarts N] [--retries N] [--crash-limit N]\n" +
  "                [--timeout TIME] [--kill-grace TIME] [--driver-grace TIME]\n" +
  "                [--walltime TIME] [--event-log FILE]\n" +
  "                [--end-time WHEN] [--bad-node-after N]\n" +
  "                [--results FILE] [--name NAME] [--taskcommand CMD]\n" +
  "                [--alloc SBATCH_ARGS] [--max-allocs N] [--alloc-backlog N]\n" +
  "                [--max-alloc-nodes N]\n" +
  "                [--mailTo ADDR] [--mailFreq N] [-s HOST:N] [-c N] [-t N]\n" +
  "                [--fill] [-C N] [-l LABEL] [--retire-cmd CMD] [--no-retire]\n" +
  "                [-E VAR] (taskfile | --taskcommand CMD)\n" +
  "       disbatch --reattach RUN [taskfile]\n" +
  "       disbatch install [DIR]\n" +
  "       disbatch report STATUSFILE [-o FILE] [--json]";

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
  tzOffsetMinutes = 0,
): DriverInvocation | "help" | "version" {
  // disBatch takes these with or without a value: either way, the same answer (not "expected one argument").
  const end = args.indexOf("--");
  const server = (end < 0 ? args : args.slice(0, end)).find((a) => /^--(kvsserver|taskserver)(=|$)/.test(a));
  const { options: o, positionals } = server === undefined
    ? parseArgv(args, DRIVER_SPECS)
    : { options: { [server.slice(2).split("=")[0]!]: "" } as Record<string, string>, positionals: [] };
  if (o.help) return "help";
  for (const k of ["kvsserver", "taskserver"]) {
    if (o[k] !== undefined) {
      throw new UsageError(
        `argument --${k}: disBatch's key-value server is not part of disbatch; feed tasks from a program with ` +
          `--taskcommand CMD (results come back on its stdin), pipe them into "disbatch --results - -", or use ` +
          `the Python DisBatcher (clients/python) or the Deno module (mod.ts)`,
      );
    }
  }
  const taskCommand = o.taskcommand as string | undefined;
  if (taskCommand !== undefined && taskCommand.trim() === "") {
    throw new UsageError("argument --taskcommand: expected a shell command that writes tasks on its stdout");
  }
  if (o.version) {
    if (positionals.length > 0) {
      throw new UsageError(`argument taskfile: not allowed with argument --version`);
    }
    return "version";
  }
  if (taskCommand !== undefined && positionals.length > 0) {
    throw new UsageError(
      `argument taskfile: not allowed with argument --taskcommand (tasks come from the command; ` +
        `got '${positionals[0]}')`,
    );
  }
  if (positionals.length === 0 && taskCommand === undefined) {
    throw new UsageError("one of the arguments taskfile --taskcommand --version is required");
  }
  if (positionals.length > 1) {
    throw new UsageError(`unrecognized arguments: ${positionals.slice(1).join(" ")}`);
  }
  const str = (k: string) => o[k] as string | undefined;
  const context = contextOptionsFrom(o);
  const fromEnv = !env.SLURM_JOB_ID && !env.SLURM_JOBID && o["startup-only"] !== true;
  if (context.sshNodes.length === 0 && env.DISBATCH_SSH_NODELIST && fromEnv) {
    context.sshNodes = [env.DISBATCH_SSH_NODELIST];
    try {
      parseSshNodeList(context.sshNodes);
    } catch (e) {
      // Said here, naming where it came from (a bad -s is said where the command line is checked).
      throw new UsageError(
        `DISBATCH_SSH_NODELIST in the environment (used as -s, none given): ${
          e instanceof Error ? e.message : e
        }`,
      );
    }
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
    taskFile: positionals[0] ?? "",
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
      ? DEFAULT_ENGINE_RESTARTS
      : intOption("--engine-restarts", str("engine-restarts")!, 0),
    retries: str("retries") === undefined ? 0 : intOption("--retries", str("retries")!, 0),
    crashLimit: str("crash-limit") === undefined ? 3 : intOption("--crash-limit", str("crash-limit")!, 1),
    timeout: str("timeout") === undefined ? 0 : durationOption("--timeout", str("timeout")!),
    killGrace: str("kill-grace") === undefined ? 10 : durationOption("--kill-grace", str("kill-grace")!),
    driverGrace: str("driver-grace") === undefined
      ? DEFAULT_DRIVER_GRACE_S
      : durationOption("--driver-grace", str("driver-grace")!),
    maxAllocs: str("max-allocs") === undefined ? 1 : intOption("--max-allocs", str("max-allocs")!, 1),
    allocBacklog: str("alloc-backlog") === undefined
      ? 1
      : intOption("--alloc-backlog", str("alloc-backlog")!, 1),
    badNodeAfter: str("bad-node-after") === undefined
      ? 3
      : intOption("--bad-node-after", str("bad-node-after")!, 0),
    gpu: o.gpu === true,
    context,
  };
  if (str("walltime") !== undefined) {
    inv.walltime = durationOption("--walltime", str("walltime")!);
    if (inv.walltime <= 0) {
      throw new UsageError(`argument --walltime: must be more than 0, got '${str("walltime")}'`);
    }
  }
  if (str("end-time") !== undefined) {
    const at = parsePointInTime(str("end-time")!, tzOffsetMinutes);
    if (at === undefined) {
      throw new UsageError(
        `argument --end-time: expected a local time YYYY-MM-DDTHH:MM[:SS] or Unix seconds, got '${
          str("end-time")
        }'`,
      );
    }
    inv.endTime = at;
  }
  if (taskCommand !== undefined) inv.taskCommand = taskCommand;
  if (str("alloc") !== undefined) {
    try {
      inv.alloc = splitShellWords(str("alloc")!);
    } catch (e) {
      throw new UsageError(`argument --alloc: ${(e as Error).message}`);
    }
    const bad = inv.alloc.find((a) =>
      /^(--wrap|--parsable|--test-only|-o|--output|-J|--job-name)(=|$)/.test(a)
    );
    if (bad) {
      throw new UsageError(
        `argument --alloc: ${bad} is chosen by disbatch (each allocation runs its own batch script, ` +
          `named <run>_A<n>); give only resource options (-N, -n, -t, -p, --mem, ...)`,
      );
    }
    if (inv.startupOnly) {
      throw new UsageError("argument --alloc: not allowed with -S (the allocations are the engines)");
    }
    if (str("max-alloc-nodes") !== undefined) {
      inv.maxAllocNodes = intOption("--max-alloc-nodes", str("max-alloc-nodes")!, 1);
      // A cap below one allocation's nodes would never let one be asked for.
      const each = allocNodeCount(inv.alloc);
      if (each > inv.maxAllocNodes) {
        throw new UsageError(
          `argument --max-alloc-nodes: ${inv.maxAllocNodes} is fewer than the ${each} node(s) each ` +
            `allocation asks for (-N in --alloc)`,
        );
      }
    }
    // A time limit no allocation can hold would have allocations asked for, and idle, for ever.
    const limit = allocTimeLimit(inv.alloc);
    if (limit !== undefined && inv.timeout > 0 && inv.timeout > limit - 15) {
      throw new UsageError(
        `argument --timeout: ${str("timeout")} is longer than an allocation of --alloc can run a task ` +
          `(its time limit less 15 s: ${limit - 15} s); raise -t in --alloc or lower --timeout`,
      );
    }
  } else {
    const companion = ["max-allocs", "alloc-backlog", "max-alloc-nodes"].find((k) => str(k) !== undefined);
    if (companion) throw new UsageError(`argument --${companion}: needs --alloc`);
  }
  if (str("results") !== undefined) {
    if (str("results") === "") {
      throw new UsageError("argument --results: expected a file name or - for stdout");
    }
    inv.results = str("results")!;
  }
  if (str("event-log") !== undefined) {
    if (str("event-log") === "") throw new UsageError("argument --event-log: expected a file name");
    inv.eventLog = str("event-log")!;
  }
  if (str("name") !== undefined) {
    if (!/^[^/\s]+$/.test(str("name")!)) {
      throw new UsageError(`argument --name: expected a name without '/' or blanks, got '${str("name")}'`);
    }
    inv.name = str("name")!;
  }
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

/**
 * What a driver run was asked for on its command line ({@linkcode DriverInvocation}, read by
 * `parseDriverArgs` in `./driver_options.ts`), and the scheduler's settings that follow from it.
 * Pure; re-exported from {@linkcode ./driver_options.ts}.
 *
 * @module
 */

import type { ContextOptions } from "./context_options.ts";
import type { SchedulerOptions } from "./scheduler.ts";

/** Everything the driver mode needs from the command line. */
export interface DriverInvocation {
  /** The task file, `-` for stdin; empty with `--taskcommand`. */
  taskFile: string;
  /** `--taskcommand CMD`: tasks are the lines CMD writes; results go to its stdin. */
  taskCommand?: string;
  /** `--results FILE|-`: a JSON line per finished item. */
  results?: string;
  /** `--event-log FILE`: the scheduler's events and actions, a JSON line each (for replay). */
  eventLog?: string;
  /** `--name NAME`: the task stream's name (run files, DISBATCH_NAMETASKS). */
  name?: string;
  /** `--alloc ARGS`: sbatch options of the allocations the driver asks for itself. */
  alloc?: string[];
  /** `--max-allocs N`: allocations alive at once. */
  maxAllocs: number;
  /** `--alloc-backlog N`: allocations pending at once. */
  allocBacklog: number;
  /** `--max-alloc-nodes N`: nodes held by the allocations alive at once (no cap without it). */
  maxAllocNodes?: number;
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
  /** `--retries N`: how many more times a failed task runs. */
  retries: number;
  /** `--crash-limit N`: a task lost with this many engines is recorded failed. */
  crashLimit: number;
  /** `--timeout`: seconds a task may run (0: no limit). */
  timeout: number;
  /** `--kill-grace`: seconds between SIGTERM and SIGKILL at a time limit. */
  killGrace: number;
  /** `--driver-grace`: seconds engines keep running without a driver (and a driver waits for a silent engine). */
  driverGrace: number;
  /** `--walltime`: seconds from the start the run may last. */
  walltime?: number;
  /** `--end-time`: Unix seconds by which the run must be over. */
  endTime?: number;
  /** `--bad-node-after N`: quarantine a host after N failures that succeeded elsewhere (0: never). */
  badNodeAfter: number;
  /** `-g`: deprecated in disBatch, accepted with a message. */
  gpu: boolean;
  context: ContextOptions;
}

/**
 * Whether the driver starts a context of its own (once the first task is read).
 * @param inv the command line
 * @returns false with -S (contexts come from dbUtil.sh, whose path is printed at start), and with
 *   --alloc without -s (they come from the allocations)
 */
export function launchesOwnContext(inv: DriverInvocation): boolean {
  return !inv.startupOnly && (inv.alloc === undefined || inv.context.sshNodes.length > 0);
}

/**
 * The scheduler's settings for a run of this command line.
 * @param inv the command line
 * @param at the driver's host and pid (on barrier lines), and when running tasks are stopped for
 *   the run's end (`stopAt`, Unix seconds), if it has one
 * @returns the settings
 */
export function schedulerOptions(
  inv: DriverInvocation,
  at: { host: string; pid: number; stopAt?: number },
): SchedulerOptions {
  return {
    failFast: inv.failFast,
    // With --alloc engines come and go with the allocations: the run waits for them as with -S.
    startupOnly: inv.startupOnly || inv.alloc !== undefined,
    launchContext: launchesOwnContext(inv),
    exitCode: inv.exitCode,
    crashLimit: inv.crashLimit,
    retries: inv.retries,
    timeout: inv.timeout,
    badNodeAfter: inv.badNodeAfter,
    ...(at.stopAt !== undefined ? { stopAt: at.stopAt } : {}),
    driverHost: at.host,
    driverPid: at.pid,
  };
}

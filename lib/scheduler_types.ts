/**
 * The scheduler's vocabulary, shared by its modules and the adapters: the {@linkcode Action}s it
 * asks for, how an engine's connection ended, its options, its public counters and its constants.
 * Everything here is re-exported by `scheduler.ts`.
 *
 * @module
 */

import type { WireContext } from "./protocol.ts";
import type { PerEngineTask, StatusRecord, Task } from "./types.ts";

/** Something the driver must do. */
export type Action =
  /** Send tasks to an engine (the driver batches them per engine). */
  | { kind: "assign"; rank: number; task: Task }
  /** Tell an engine to finish its running tasks, hand back queued ones, run STOP tasks and leave. */
  /** `why`: said to the user of the engine's context where that is a `dbUtil.sh` of its own. */
  | { kind: "stopEngine"; rank: number; why?: string }
  /** Tell an engine to kill its running tasks now and leave. */
  | { kind: "killEngine"; rank: number }
  /** Append a line to the status file (`attempt`: which run of the task it records, 0 the first). */
  /** `failedCheck`: a `BARRIER CHECK` that found failures (its record is a passed one's, as disBatch writes it). */
  /**
   * A status-file line. `earlier`: an earlier run's line kept as it was (a task it stopped that this
   * run never started), for the status file alone: it is no outcome of this run.
   */
  | { kind: "record"; record: StatusRecord; attempt?: number; failedCheck?: true; earlier?: true }
  /** An attempt that is not the task's last (it is run again): the attempts file, not the status file. */
  | { kind: "attempt"; record: StatusRecord; attempt: number }
  /** Write to the driver log (and, for `warn`, to stderr). */
  | { kind: "log"; level: "debug" | "info" | "warn" | "error"; message: string }
  /** Send an engine the PERENGINE block (START tasks run before any other; STOP tasks when it leaves). */
  | { kind: "perEngine"; rank: number; start: PerEngineTask[]; stop: PerEngineTask[] }
  /** Every engine of a context that retires nodes has left this node, with a goodbye: give it back. */
  | { kind: "retireNode"; context: number; host: string }
  /** The same, but its engine was lost: keep the node in the job (processes of it may still run there). */
  | { kind: "holdNode"; context: number; host: string }
  /** Start the driver's own context (its plan, its engines): the first task or barrier was read. */
  | { kind: "launchContext" }
  /** Start no more contexts or engines; the run is ending. */
  | { kind: "finish"; exitCode: number; messages: string[] };

/**
 * How an engine's connection ended: a clean goodbye, a goodbye forced by a signal (Slurm's SIGTERM,
 * an admin: not the tasks' doing), or lost (no goodbye: killed, its host gone, given up as silent).
 */
export type EngineEnd =
  | { kind: "finished" }
  | { kind: "signalled"; signal: string }
  | { kind: "lost"; reason: string };

/** Scheduler settings. */
export interface SchedulerOptions {
  /** `-f`: kill everything at the first failure. */
  failFast: boolean;
  /** `-S`: keep waiting for engines when none is left. */
  startupOnly: boolean;
  /** The driver has a context of its own (`-s`, Slurm, local cores): launch it at the first item read. */
  launchContext?: boolean;
  /** `-e`: exit 1 when any task failed. */
  exitCode: boolean;
  /** A task lost with this many engines is recorded failed (rc -100) instead of run again. */
  crashLimit: number;
  /** `--retries`: how many more times a failed task runs (0: none). */
  retries?: number;
  /** `--timeout`: seconds a task may run unless `#DISBATCH TIMEOUT` says otherwise (0: no limit). */
  timeout?: number;
  /** Failed-then-succeeded-elsewhere tasks in a row that quarantine a host (0: never quarantine). */
  badNodeAfter?: number;
  /** Unix seconds at which running tasks are stopped for the walltime hand-off (none: no walltime). */
  stopAt?: number;
  /** Host and PID written on barrier lines. */
  driverHost: string;
  driverPid: number;
}

/** Seconds a task lost with its engine waits before it runs elsewhere (its original is surely dead). */
export const REQUEUE_DELAY_S = 1.5;

/** Seconds before the run's end at which running tasks are stopped and recorded (the hand-off). */
export const WALLTIME_MARGIN_S = 15;

/** Exit status of a run ended by its walltime (EX_TEMPFAIL: run it again with `-r`). */
export const WALLTIME_EXIT = 75;

/** Return code recorded for a task stopped at its time limit that exited 0 anyway (as `timeout(1)`). */
export const TIMEOUT_RC = 124;

/** Public counters for progress, the monitor and the end-of-run summary. */
export interface SchedulerSnapshot {
  finished: number;
  /** Tasks that failed on their own (not those killed because the run was ending). */
  failed: number;
  /** Tasks killed because the run was ending (flag `K`: a resume runs them again). */
  killed?: number;
  /** Tasks running on an engine that was lost as the run was being killed (not recorded). */
  lostAtEnd?: number;
  barriers: number;
  skipped: number;
  running: number;
  queued: number;
  /** Tasks held for the engines of a driver that died (until their grace is surely over), when any. */
  held?: number;
  /** When those run (Unix seconds). */
  heldUntil?: number;
  /** Tasks read from the task file so far (with `tasksEnded`, all of them); the driver's own view. */
  tasksSeen?: number;
  slots: number;
  engines: {
    rank: number;
    context: number;
    host: string;
    slots: number;
    state: string;
    running: number;
    assigned: number;
    finished: number;
    failed: number;
    /** Unix seconds the driver last heard from it (filled in by the driver for monitors). */
    lastHeard?: number;
  }[];
  /** Its contexts, as monitors and `--status` get them. */
  contexts: WireContext[];
  phase: "running" | "draining" | "aborting" | "done";
  tasksEnded: boolean;
  /** Attempts that failed (or were lost with their engine) and were run again. */
  retried: number;
  /** Attempts stopped at their time limit (retried ones included). */
  timedOut: number;
  /** Hosts that get no more tasks, and why. */
  quarantined: { host: string; reason: string }[];
  /** When running tasks are stopped for the walltime (Unix seconds), when there is one. */
  stopAt?: number;
}

/**
 * What the engine's task runner (`engine_runner.ts`) takes and gives: its events, its commands, the
 * messages it sends, and the times it keeps.
 *
 * @module
 */

import type { ToDriver } from "./protocol.ts";
import type { PerEngineTask, Task, TaskOutcome } from "./types.ts";

/** What a finished task process looked like (the process part of a {@linkcode TaskOutcome}). */
export type ProcessResult = Pick<
  TaskOutcome,
  "pid" | "returnCode" | "start" | "end" | "stdoutBytes" | "stdoutSnippet" | "stderrBytes" | "stderrSnippet"
>;

/** Where the runner is: see the module comment. */
export type RunnerState = "running" | "stopping" | "stopTasks" | "killing" | "left";

/** What happened; `now` is the clock in milliseconds. */
export type RunnerEvent =
  /** The driver welcomed the engine: its slots (after `--env-resource` splitting) and `--kill-grace`. */
  | { kind: "configure"; slots: number; killGraceS: number }
  /** The PERENGINE blocks (a driver found again sends them once more: ignored then). */
  | { kind: "perEngine"; start: readonly PerEngineTask[]; stop: readonly PerEngineTask[] }
  | { kind: "tasks"; tasks: readonly Task[] }
  /** A `start` or `queue` command's process runs, as process group `pid` (a queued one in `slot`). */
  | { kind: "started"; run: number; pid: number; now: number; slot?: number }
  /** A `start` or `queue` command's process could not be spawned (a queued one in `slot`). */
  | { kind: "startFailed"; run: number; message: string; now: number; slot?: number }
  /** The launcher can take queued tasks: from now on it fills the free slots itself. */
  | { kind: "poolReady" }
  /** The launcher is gone: the engine starts each task itself again (its tasks were reported). */
  | { kind: "poolLost" }
  /** A queued task was taken back from the launcher before it started (after a `withdraw`). */
  | { kind: "withdrawn"; run: number; now: number }
  /** A started process exited (and its output was drained). */
  | { kind: "exited"; run: number; result: ProcessResult; now: number }
  /** The clock reached {@linkcode EngineRunner.nextWake} (or any later time). */
  | { kind: "tick"; now: number }
  /** The time a `flushSoon` asked for: reported ends go out in one `done`. */
  | { kind: "flush" }
  /** The driver has every `done` message up to `seq`. */
  | { kind: "ack"; seq: number }
  /** The driver asks the engine to leave once its running tasks are done. */
  | { kind: "stop" }
  /** Kill the running tasks and leave. */
  | { kind: "kill"; reason: string; now: number }
  /** The engine received a stopping signal (`number` is its Linux number). */
  | { kind: "signal"; signal: string; number: number; now: number }
  /** No driver any more: kill the tasks and exit without a word; `givenUp`: their ends are not reported. */
  | { kind: "driverLost"; givenUp: boolean; now: number }
  /** A driver took the engine back: tell it what the engine holds, and go on. */
  | { kind: "reattached"; killGraceS: number };

/** Messages the runner sends to the driver. */
export type RunnerMessage = Extract<ToDriver, { kind: "done" | "released" | "resume" | "bye" }>;

/** What to do. */
export type RunnerCommand =
  /** Start `task` in its own process group; answer with `started` or `startFailed` for `run`. */
  | { kind: "start"; run: number; task: Task; slot: number }
  /** Hand `task` to the launcher, which starts it in the first of its slots to be free. */
  | { kind: "queue"; run: number; task: Task }
  /** These free slots are the launcher's to fill from now on. */
  | { kind: "pool"; slots: number[] }
  /** Take these queued runs back from the launcher if they have not started (`withdrawn` answers). */
  | { kind: "withdraw"; runs: number[] }
  /** The launcher may start queued tasks again (it holds its queue after a `stopsRun` task failed). */
  | { kind: "release" }
  /** SIGTERM to each process group, SIGKILL after `graceMs` or as soon as its process has exited. */
  | { kind: "killLadder"; pids: number[]; graceMs: number }
  /** The process group `pid` is done with (the reaper companion forgets it). */
  | { kind: "untrack"; pid: number }
  | { kind: "send"; message: RunnerMessage }
  /** Feed a `flush` event at the end of this event-loop turn, or `afterMs` later (when none is due sooner). */
  | { kind: "flushSoon"; afterMs?: number }
  | { kind: "log"; level: "debug" | "info" | "warn" | "error"; text: string }
  /** `bye` was sent: close the connection and exit with `code`. */
  | { kind: "leave"; code: number }
  /** The tasks of a lost driver are killed: exit (without a `bye`). */
  | { kind: "lost" };

/**
 * Ends that may come from the same signal as the engine's own (a job-wide SIGTERM): the task killed
 * by HUP/INT/KILL/TERM, or its bash reporting a child killed so (128 + the signal).
 */
export const SIGNAL_RCS = new Set([-1, -2, -9, -15, 129, 130, 137, 143]);
/** How long ends wait to go out together while the engine holds more tasks than free slots. */
export const COALESCE_MS = 20;
/** How long a task's signal death waits for the engine's own signal before it is reported. */
export const SIGNAL_SETTLE_MS = 300;
/**
 * How long an engine starts nothing after a failure that ends the run (`--fail-fast`), waiting for
 * the driver's kill; past it (a driver that did not end the run after all) it goes on.
 */
export const HOLD_MS = 5000;
/** When the engine kills its tasks: SIGKILL this long after SIGTERM ... */
export const KILL_GRACE_MS = 1000;
/** ... and the engine leaves at the latest this long after the SIGTERM, whatever still runs. */
export const KILL_WAIT_MS = 2000;

/**
 * Core data types shared by the parser, the scheduler, the status file and the protocol.
 *
 * Everything here is plain data: no classes with behaviour, no I/O.
 *
 * @module
 */

/** What a task-file item is. The one-letter disBatch codes live only in `status_record.ts`. */
export type TaskKind = "normal" | "barrier" | "perEngine";

/** A unit of work after directive expansion. Identity = (id, line, repeatIndex, command). */
export interface Task {
  /** Normal tasks and barriers: 0-based id over the file; per-engine tasks: their own counter. */
  readonly id: number;
  /** 1-based physical line of the task file (disBatch TaskStreamIndex). */
  readonly line: number;
  /** Index from `#DISBATCH REPEAT`, -1 otherwise. */
  readonly repeatIndex: number;
  /** PREFIX + body + SUFFIX: exactly what `/bin/bash -c` runs. Invalid UTF-8 bytes are kept as
   * lone surrogates U+DC80..U+DCFF (Python's "surrogateescape"), see `text.ts`. */
  readonly command: string;
  /** Seconds the task may run (`#DISBATCH TIMEOUT`, else `--timeout`); 0 or absent: no limit. */
  readonly timeout?: number;
  /** Which run of the task this is (`DISBATCH_ATTEMPT`): 0 first, 1 the first retry, ... */
  readonly attempt?: number;
  /**
   * With `--fail-fast`, a failure of this run ends the run (no retry is left): the engine starts
   * nothing more once it has failed, until the driver's kill comes.
   */
  readonly stopsRun?: boolean;
}

/** A `#DISBATCH BARRIER [CHECK] [key]` line. */
export interface Barrier {
  readonly id: number;
  readonly line: number;
  /** `BARRIER CHECK`: stop the run if a task since the previous barrier failed. */
  readonly check: boolean;
  /** Optional key after the barrier (kept for the status file and the log). */
  readonly key?: string;
  /** The directive line verbatim (the status file's Command column). */
  readonly text: string;
}

/** A `#DISBATCH PERENGINE START|STOP cmd` line. */
export interface PerEngineTask extends Task {
  readonly phase: "start" | "stop";
}

/** One status-file line. Column order is disBatch's TaskReport; `command` stays last. */
export interface StatusRecord {
  /** 4 characters (`R`/`O`/`E`/kind) for tasks, 5 for barriers (`B    `, `C    `). */
  flags: string;
  taskId: number;
  line: number;
  repeatIndex: number;
  host: string;
  pid: number;
  returnCode: number;
  /** Seconds; written with `%.3f`. */
  elapsed: number;
  /** Unix epoch seconds. */
  start: number;
  /** Unix epoch seconds. */
  end: number;
  stdoutBytes: number;
  /** Decoded snippet (first 40 bytes + `...` + last 40 bytes), written as a Python repr. */
  stdoutSnippet: string;
  stderrBytes: number;
  stderrSnippet: string;
  command: string;
  /** When `command` was read back from a `b'…'` literal: the field as written (a task whose
   * command really is that text still matches on resume). */
  commandText?: string;
}

/** What an engine reports when a task process ends. */
export interface TaskOutcome {
  /** Task id (per-engine index for PERENGINE tasks). */
  id: number;
  /** `"normal"` or `"perEngine"`. */
  kind: "normal" | "perEngine";
  /** For PERENGINE tasks: which list `id` indexes. */
  phase?: "start" | "stop";
  /** Slot index (-1 for PERENGINE tasks). */
  slot: number;
  pid: number;
  /** Exit code; negative signal number when killed by a signal (as Python's Popen). */
  returnCode: number;
  /** Unix epoch seconds. */
  start: number;
  end: number;
  stdoutBytes: number;
  stdoutSnippet: string;
  stderrBytes: number;
  stderrSnippet: string;
  /** True when disbatch itself killed the task (fail-fast, signal, lost driver). */
  killed: boolean;
  /** True when the task was stopped because it reached its time limit. */
  timedOut?: boolean;
  /** Which run of the task this was (`DISBATCH_ATTEMPT`; absent: 0). */
  attempt?: number;
}

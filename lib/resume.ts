/**
 * Resume planning (`-r`, `-R`, `--force-resume`).
 *
 * A task is skipped when an earlier status file recorded it with the same id, line, repeat index
 * and command (and, without `-R`, whatever its return code). Unlike the reference, lines flagged
 * `S` (skipped by an earlier resume) count too, so a chain of resumes needs only the last status
 * file, and lines flagged `K` (killed by disbatch: fail-fast, signal, lost engine) do not, so a
 * resume re-runs exactly the interrupted tasks. Lines flagged `T` (stopped at the time limit) are
 * failures like any other: `-R` runs them again.
 *
 * @example
 * ```ts
 * import { ResumeTable } from "./resume.ts";
 * const t = new ResumeTable();
 * t.decide({ id: 0, line: 1, repeatIndex: -1, command: "true" }, { retry: false, force: false });
 * // → { action: "run" }: nothing recorded
 * ```
 *
 * @module
 */

import { recordKind } from "./status_record.ts";
import type { StatusRecord, Task } from "./types.ts";

/** What to do with one task of the new run. */
export type ResumeDecision =
  /**
   * Run it; `torn`: the record of it was a last line cut short that does not match it (it is ignored);
   * `stopped`: an earlier run stopped it (flag `K`: the walltime, a signal, `--fail-fast`) after its
   * `elapsed` seconds, so it needs longer than that (its longest such line).
   */
  | { action: "run"; torn?: { record: StatusRecord; source: string }; stopped?: StatusRecord }
  /** Skip it; `record` is the old line to re-record with flag `S`. */
  | { action: "skip"; record: StatusRecord; mismatch: boolean }
  /** The id was recorded for a different line or command: the task file changed. */
  | { action: "mismatch"; record: StatusRecord; source: string };

/** Options of {@linkcode ResumeTable.decide}. */
export interface ResumeOptions {
  /** `-R`: re-run tasks whose recorded return code is not 0. */
  retry: boolean;
  /** `--force-resume`: skip by task id even when line or command differ. */
  force: boolean;
}

/** Raised before any task runs when a recorded task does not match the task file. */
export class ResumeMismatchError extends Error {
  /**
   * @param task the task as the file now says @param record what the status file says
   * @param source status file name
   * @param counts over the whole task file (when it was read whole): recorded tasks that still
   * match, that differ, and of those that differ, how many differ in their line alone (lines were
   * added or removed above them). None matching means the status file is another task file's, unless
   * every difference is a moved line.
   */
  constructor(
    readonly task: Task,
    readonly record: StatusRecord,
    readonly source: string,
    readonly counts?: { same: number; differ: number; moved?: number; wrapped?: number },
  ) {
    const here = `task ${task.id} is line ${task.line}${repeatText(task.repeatIndex)} "${task.command}" here`;
    const there = `${source} recorded it as line ${record.line}${
      repeatText(record.repeatIndex)
    } "${record.command}"`;
    const moved = counts !== undefined && counts.moved === counts.differ;
    // Every differing command is inside its new one, with the same text around (two at least): a PREFIX
    // or SUFFIX was added.
    const wrapped = counts !== undefined && !moved &&
      (counts.moved ?? 0) + (counts.wrapped ?? 0) === counts.differ &&
      (counts.wrapped ?? 0) > 1;
    const other = counts !== undefined && counts.same === 0 && !moved && !wrapped;
    super(
      wrapped
        ? `Cannot resume: the commands changed around the recorded ones since ${source} was written (a PREFIX ` +
          `or SUFFIX added?): ${
            counts!.differ
          } recorded task(s) now run a longer command (${here}; ${there}). ` +
          `If the tasks are the same, --force-resume skips the recorded ones by id; else start a fresh run ` +
          `without -r`
        : moved
        ? `Cannot resume: lines were added or removed in the task file since ${source} was written: ` +
          `${counts!.differ} recorded task(s) have the same command on another line (${here}; ${there}). ` +
          `If only comments or blank lines changed, --force-resume skips the recorded tasks by id; ` +
          `else restore the task file, or start a fresh run without -r`
        : other
        ? `Cannot resume: ${source} is the status file of another task file: none of the ${counts.differ} ` +
          `task(s) it records under ids of this file matches (${here}; ${there}). Give the status file of this ` +
          `task file, or run without -r`
        : `Cannot resume: the task file changed since ${source} was written: ${here}, but ${there}` +
          (counts ? ` (${counts.differ} of ${counts.same + counts.differ} recorded tasks differ)` : "") +
          `. Restore the task file, or start a fresh run without -r; --force-resume would skip ` +
          `the changed tasks by id without running them`,
    );
    this.name = "ResumeMismatchError";
  }
}

function repeatText(r: number): string {
  return r >= 0 ? ` (repeat index ${r})` : "";
}

/**
 * Which of two recorded return codes of one task wins: a success always; otherwise the smaller
 * code, the earlier line on a tie (the reference's "smallest rc wins", except that it lets a
 * negative code such as -9 beat 0).
 */
function better(rc: number, oldRc: number): boolean {
  if (oldRc === 0) return false;
  if (rc === 0) return true;
  return rc < oldRc;
}

/** One task's record, where it came from, and whether it was a last line cut short. */
interface Entry {
  record: StatusRecord;
  source: string;
  cut?: boolean;
}

/** Task ids below this are kept in an array (no file has more tasks; larger ids go to a Map). */
const DENSE_IDS = 1 << 26;

/** Recorded outcomes per task id, from one or more status files. */
export class ResumeTable {
  // Task ids are dense from 0: an array is several times faster than a Map for a million of them.
  #byId: (Entry | undefined)[] = [];
  /** Ids beyond DENSE_IDS (a hand-edited file): kept in a Map so the array stays dense. */
  #far = new Map<number, Entry>();
  #size = 0;
  /** Tasks an earlier run stopped (flag `K`, not lost with an engine): the longest line of each. */
  #stopped = new Map<number, StatusRecord>();

  #get(id: number): Entry | undefined {
    return id >= 0 && id < DENSE_IDS ? this.#byId[id] : this.#far.get(id);
  }

  /** Number of task ids with a usable record. */
  get size(): number {
    return this.#size;
  }

  /**
   * Add one parsed status-file line; lines that say nothing about a normal task are ignored.
   * A success always wins over a failure of the same id; otherwise the later line wins.
   *
   * @param record a parsed line
   * @param source the status file's name, for messages
   * @param cut the file's last line, without its newline: a write cut short (a crash, a full disk)
   *   may have cut its command, the last field (the fields before it are whole, or it would not parse)
   * @returns true when the record was used
   */
  add(record: StatusRecord, source: string, cut = false): boolean {
    const kind = recordKind(record.flags);
    if (kind === "killed" && !cut && record.pid >= 0 && record.returnCode !== -100) {
      // It ran that long and had not ended: a lower bound of its length (see decide). A task lost with
      // its engine (no pid) may have ended unreported: its time says nothing.
      const old = this.#stopped.get(record.taskId);
      if (!old || record.elapsed > old.elapsed) this.#stopped.set(record.taskId, record);
    }
    if (kind !== "normal" && kind !== "skip" && kind !== "timeout") return false;
    const old = this.#get(record.taskId);
    if (old && !better(record.returnCode, old.record.returnCode)) return false;
    if (!old) this.#size++;
    const id = record.taskId;
    const entry: Entry = cut ? { record, source, cut } : { record, source };
    if (id >= 0 && id < DENSE_IDS) this.#byId[id] = entry;
    else this.#far.set(id, entry);
    return true;
  }

  /**
   * Decide whether `task` runs in this run.
   *
   * @param task a normal task of the new run
   * @param opts `-R` / `--force-resume`
   * @returns the decision
   */
  decide(task: Task, opts: ResumeOptions): ResumeDecision {
    const entry = this.#get(task.id);
    const k = this.#stopped.get(task.id);
    const run: ResumeDecision & { action: "run" } = k && isTask(k, task)
      ? { action: "run", stopped: k }
      : { action: "run" };
    if (!entry) return run;
    const { record, source } = entry;
    if (opts.retry && record.returnCode !== 0) return run;
    // A cut inside a character's bytes left a replacement character at the end.
    const sameCommand = entry.cut
      ? task.command.startsWith(record.command.replace(/\uFFFD+$/, "")) ||
        task.command.startsWith(record.commandText ?? "\0")
      : record.command === task.command || record.commandText === task.command;
    const same = record.line === task.line && record.repeatIndex === task.repeatIndex && sameCommand;
    // A cut line that is not this task's says nothing of it.
    if (!same && entry.cut) return { ...run, torn: { record, source } };
    if (!same && !opts.force) return { action: "mismatch", record, source };
    if (!same) return { action: "skip", record, mismatch: true };
    const { commandText: _, ...plain } = record;
    return { action: "skip", record: { ...plain, command: task.command }, mismatch: false };
  }
}

/** Whether a whole record is of `task` (same line, repeat index and command). */
function isTask(r: StatusRecord, task: Task): boolean {
  return r.line === task.line && r.repeatIndex === task.repeatIndex &&
    (r.command === task.command || r.commandText === task.command);
}

/**
 * The line to write for a skipped task: the old record with kind `S` (R/O/E flags kept) and, as the
 * reference does, Elapsed recomputed from the recorded (rounded) start and end.
 *
 * @param record the old line
 * @returns a copy flagged as skipped
 */
export function skippedRecord(record: StatusRecord): StatusRecord {
  const f = record.flags.padEnd(4, " ");
  return { ...record, flags: f.slice(0, 3) + "S", elapsed: record.end - record.start };
}

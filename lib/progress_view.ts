/**
 * Text of the terminal progress line and of the end-of-run summary (pure; `adapters/progress.ts`
 * paints it).
 *
 * @module
 */

import type { SchedulerSnapshot } from "./scheduler.ts";
import { recordKind } from "./status_record.ts";
import type { StatusRecord } from "./types.ts";

/**
 * Seconds as `1h02m`, `3m05s`, `12.3s`.
 * @param s seconds
 * @returns short text
 */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "?";
  if (s < 9.995) return `${s.toFixed(2)}s`;
  if (s < 59.95) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

const ANSI_RE = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g");

function paint(on: boolean, code: string, s: string): string {
  return on ? `\x1b[${code}m${s}\x1b[0m` : s;
}

/**
 * The one-line progress display. Done counts the tasks a resume skipped as well; the total is the
 * task file's when it was counted before the run (a regular file), else known once the file has
 * been read to the end (`queued N+` until then); the ETA needs the total and a rate.
 * @param s scheduler state
 * @param o rate (tasks/s over the last seconds), elapsed seconds, terminal width, colours, total
 * @returns the line (no newline), at most `columns - 1` visible characters
 */
export function progressLine(
  s: SchedulerSnapshot,
  o: { rate: number | undefined; elapsed: number; columns: number; color: boolean; total?: number },
): string {
  const engines = s.engines.filter((e) => e.state !== "gone").length;
  const done = s.finished + s.skipped;
  const total = o.total ?? (s.tasksEnded ? done + s.running + s.queued : undefined);
  const queued = total !== undefined ? `${Math.max(0, total - done - s.running)}` : `${s.queued}+`;
  const left = total !== undefined ? Math.max(0, total - done) : undefined;
  const eta = o.rate && o.rate > 0 && left !== undefined ? ` eta ${formatDuration(left / o.rate)}` : "";
  const rate = o.rate !== undefined ? ` ${o.rate.toFixed(o.rate < 10 ? 1 : 0)}/s` : "";
  const parts = [
    `disbatch ${formatDuration(o.elapsed)}`,
    `done ${done}${total !== undefined ? `/${total}` : ""}`,
    s.failed ? paint(o.color, "31", `failed ${s.failed}`) : "failed 0",
    `running ${s.running}`,
    `queued ${queued}`,
    `${engines} engine(s)/${s.slots} slot(s)`,
  ];
  const plain = parts.join(" | ") + rate + eta;
  const max = Math.max(20, o.columns - 1);
  // colour codes do not take columns; cut on the uncoloured length
  const visible = plain.replace(ANSI_RE, "");
  return visible.length <= max ? plain : visible.slice(0, max);
}

/**
 * Tasks read that never started, at the end of a run stopped early (a signal, --fail-fast, a failed
 * BARRIER CHECK); with `tasksEnded` false, the rest of the task file too.
 * @param s final state @returns how many
 */
export function unstartedTasks(s: SchedulerSnapshot): number {
  return s.tasksSeen === undefined
    ? s.queued
    : Math.max(0, s.tasksSeen - s.finished - s.skipped - s.running - (s.lostAtEnd ?? 0));
}

/**
 * Whether a run that ended left tasks for a resume: not started, not read, or killed as it ended
 * (recorded `K`, or lost with their engine and not recorded).
 * @param s final state
 */
export function leftForResume(s: SchedulerSnapshot): boolean {
  return unstartedTasks(s) > 0 || !s.tasksEnded || (s.killed ?? 0) > 0 || (s.lostAtEnd ?? 0) > 0;
}

/**
 * The end-of-run summary.
 * @param s final state
 * @param o wall time, status file, first failures, colours
 * @returns lines
 */
export function summaryLines(
  s: SchedulerSnapshot,
  o: {
    wall: number;
    statusPath: string;
    failures: readonly StatusRecord[];
    color: boolean;
    /** The attempts file, when there is one. */
    attemptsPath?: string | undefined;
  },
): string[] {
  const rate = o.wall > 0 ? s.finished / o.wall : 0;
  const unstarted = unstartedTasks(s);
  const notStarted = unstarted > 0
    ? `, ${unstarted}${s.tasksEnded ? "" : "+"} not started (a resume runs them)`
    : s.tasksEnded
    ? ""
    : ", the rest of the task file not started (a resume runs it)";
  const lines = [
    `disbatch: ${s.finished} task(s) run, ${s.failed} failed${
      s.killed ? `, ${s.killed} killed as the run ended (a resume runs them again)` : ""
    }${
      s.lostAtEnd
        ? `, ${s.lostAtEnd} killed with their engine as the run ended (not recorded; a resume runs them again)`
        : ""
    }${notStarted}${s.skipped ? `, ${s.skipped} skipped (resume)` : ""}` +
    `${s.barriers ? `, ${s.barriers} barrier(s)` : ""} in ${formatDuration(o.wall)} (${
      rate.toFixed(rate < 9.995 ? 2 : 0)
    } tasks/s)`,
  ];
  if (s.retried || s.timedOut) {
    lines.push(
      "disbatch: " + [
        s.retried ? `${s.retried} attempt(s) did not count (retries, lost engines)` : "",
        s.timedOut ? `${s.timedOut} stopped at their time limit` : "",
      ].filter(Boolean).join(", ") +
        (s.retried && o.attemptsPath ? `; earlier attempts: ${o.attemptsPath}` : ""),
    );
  }
  for (const q of s.quarantined) lines.push(paint(o.color, "33", `  quarantined: ${q.host}: ${q.reason}`));
  for (const f of o.failures.slice(0, 3)) {
    const cmd = f.command.length > 60 ? f.command.slice(0, 57) + "..." : f.command;
    const how = recordKind(f.flags) === "timeout"
      ? `timed out (exit ${f.returnCode})`
      : `exit ${f.returnCode}`;
    const which = recordKind(f.flags) === "perEngine" ? "PERENGINE task" : "task";
    lines.push(paint(o.color, "31", `  failed: ${which} ${f.taskId} line ${f.line} ${how}: ${cmd}`));
  }
  if (s.failed > 3) lines.push(`  … and ${s.failed - 3} more (flag R in the status file)`);
  lines.push(`disbatch: status file ${o.statusPath}`);
  return lines;
}

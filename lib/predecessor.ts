/**
 * An earlier run of the same tasks whose driver died without ending it: its engines keep running
 * its tasks for its `--driver-grace`, waiting for a driver to re-attach. A run that resumes from
 * its status file (`-r`), or starts afresh on its prefix, must not start those tasks again while
 * their first copies may still run: it holds them until that grace is surely over.
 *
 * @module
 */

import type { JournalState } from "./journal.ts";
import { LOCK_BEAT_S, lockIsStale, type LockOwner } from "./run_lock.ts";

/** What the files of an earlier run say. */
export interface Predecessor {
  /** Its journal, read back. */
  journal: JournalState;
  /** Its lock file, when there is one: the holder (undefined: unreadable) and its age in seconds. */
  lock?: { owner: LockOwner | undefined; ageS: number };
  /** The last sign of its driver's life (Unix seconds): its lock's heartbeat, else its journal's last write. */
  lastAliveS: number;
  /** Its `--driver-grace` in seconds. */
  graceS: number;
  /** Task ids its status file records as finished. */
  recorded: ReadonlySet<number>;
}

/** What to do about it. */
export type PredecessorVerdict =
  /** Nothing: it ended, or nothing of it may still run. */
  | { kind: "none" }
  /** Its driver still runs (it holds the lock). */
  | { kind: "live"; owner: LockOwner | undefined }
  /** Its engines may still run these tasks (id → engine rank) until `until` (Unix seconds). */
  | { kind: "hold"; sent: Map<number, number>; until: number };

/**
 * When the engines of a driver that died have surely given up: their grace began when it died, by
 * its last lock heartbeat and the next one missed.
 * @param lastAliveS the last sign of the driver's life (Unix seconds) @param now the time
 * @param graceS its `--driver-grace` @param marginS the margin past the grace
 * @returns Unix seconds
 */
export function enginesGiveUpBy(lastAliveS: number, now: number, graceS: number, marginS: number): number {
  return Math.min(now, lastAliveS + LOCK_BEAT_S + 1) + graceS + marginS;
}

/**
 * Judge an earlier run.
 * @param p what its files say
 * @param o this host, the time (Unix seconds), whether a pid lives here, the margin (s) past the
 *   grace after which an engine has surely given up, and the Slurm jobs known to be over
 * @returns the verdict
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { judgePredecessor } from "./predecessor.ts";
 * import { replayJournal } from "./journal.ts";
 * const journal = replayJournal("");
 * const v = judgePredecessor(
 *   { journal, lastAliveS: 0, graceS: 300, recorded: new Set() },
 *   { host: "h", now: 1, pidAlive: () => false, marginS: 10 },
 * );
 * assert.equal(v.kind, "none");
 * ```
 */
export function judgePredecessor(
  p: Predecessor,
  o: {
    host: string;
    now: number;
    pidAlive: (pid: number) => boolean;
    marginS: number;
    over?: ReadonlySet<string>;
  },
): PredecessorVerdict {
  if (p.journal.first === undefined || p.journal.ended !== undefined) return { kind: "none" };
  // A lock held by its last driver, whose Slurm job is over: gone, whatever its heartbeat says (a lock
  // of another driver, one that has not written its journal line yet, is judged by itself).
  const last = p.journal.drivers.at(-1);
  const lastsJobOver = last?.slurmJob !== undefined && o.over?.has(last.slurmJob) === true &&
    p.lock?.owner?.host === last.host && p.lock?.owner?.pid === last.pid;
  if (
    p.lock && !lockIsStale(p.lock.owner, { host: o.host, ageS: p.lock.ageS, pidAlive: o.pidAlive }) &&
    !lastsJobOver
  ) {
    return { kind: "live", owner: p.lock.owner };
  }
  const until = enginesGiveUpBy(p.lastAliveS, o.now, p.graceS, o.marginS);
  if (o.now >= until) return { kind: "none" };
  const sent = new Map<number, number>();
  for (const [id, rank] of p.journal.sent) if (!p.recorded.has(id)) sent.set(id, rank);
  return sent.size ? { kind: "hold", sent, until } : { kind: "none" };
}

/**
 * The Slurm jobs that an earlier run's engines on other hosts run in: once those jobs are over, none
 * of those engines (nor their tasks) is left.
 * @param journal its journal @param host this host
 * @returns the job ids (none: no engine of it elsewhere), or undefined when an engine elsewhere
 *   runs in no known job (ssh, or a journal written before contexts named their job)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jobsElsewhere } from "./predecessor.ts";
 * import { replayJournal } from "./journal.ts";
 * const j = replayJournal('C 0 {"label":"J7","origin":"auto","taskLimit":0,"engines":2,"retires":false,"jobId":"7"}\nJ 0 0 4 n1\nJ 1 0 4 n2\n');
 * assert.deepEqual(jobsElsewhere(j, "n1"), ["7"]);
 * ```
 */
export function jobsElsewhere(journal: JournalState, host: string): string[] | undefined {
  const jobs = new Set<string>();
  for (const e of journal.engines.values()) {
    if (!e.alive || e.host === host) continue;
    const job = journal.contexts.get(e.context)?.jobId;
    if (job === undefined) return undefined;
    jobs.add(job);
  }
  return [...jobs];
}

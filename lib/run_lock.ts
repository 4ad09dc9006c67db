/**
 * One run per prefix: the driver holds `<uid>_lock` while it runs. The lock file names the
 * driver (`host pid`) and its modification time is refreshed every {@linkcode LOCK_BEAT_S}
 * seconds, so a second driver can tell a live run from the leftover of one that was killed:
 * on the same host by asking whether the pid lives, on another host (a shared file system) by
 * the age of the heartbeat.
 *
 * @module
 */

/** Seconds between heartbeats of a held lock. */
export const LOCK_BEAT_S = 15;
/** A lock whose heartbeat is older than this is stale (its driver died on another host). */
export const LOCK_STALE_S = 4 * LOCK_BEAT_S;

/** Who holds a lock. */
export interface LockOwner {
  host: string;
  pid: number;
}

/**
 * The text of a lock file.
 * @param o the holder
 * @returns one line
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatLock, parseLock } from "./run_lock.ts";
 * assert.deepEqual(parseLock(formatLock({ host: "n1", pid: 42 })), { host: "n1", pid: 42 });
 * ```
 */
export function formatLock(o: LockOwner): string {
  return `${o.host} ${o.pid}\n`;
}

/**
 * Read a lock file's text.
 * @param text the file's content
 * @returns the holder, or undefined when the text is not a lock
 */
export function parseLock(text: string): LockOwner | undefined {
  const m = /^(\S+) (\d+)\n?$/.exec(text);
  return m ? { host: m[1]!, pid: Number(m[2]) } : undefined;
}

/**
 * Whether an existing lock may be taken over.
 * @param owner who holds it (undefined: unreadable or torn, judged by age alone)
 * @param o this host, the lock's age in seconds, and whether `owner.pid` lives on this host
 * @returns true when its driver is gone
 */
export function lockIsStale(
  owner: LockOwner | undefined,
  o: { host: string; ageS: number; pidAlive: (pid: number) => boolean },
): boolean {
  if (owner && owner.host === o.host) return !o.pidAlive(owner.pid);
  return o.ageS > LOCK_STALE_S;
}

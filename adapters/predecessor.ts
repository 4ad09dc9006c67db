/**
 * Earlier runs whose driver died without ending them (see `../lib/predecessor.ts`): the run a `-r`
 * status file belongs to, and the one whose prefix a fresh run takes over. Their tasks that may
 * still run on their engines are held until those engines have surely given up.
 *
 * @module
 */

import { DEFAULT_DRIVER_GRACE_S, parseDriverArgs } from "../lib/driver_options.ts";
import { type JournalState, replayJournal } from "../lib/journal.ts";
import { judgePredecessor, type Predecessor } from "../lib/predecessor.ts";
import { parseLock } from "../lib/run_lock.ts";
import { statusLines } from "../lib/status_record.ts";
import { pidLives, RunFileError } from "./run_files.ts";
import { GIVE_UP_MARGIN_S } from "./server.ts";

/** Tasks held for the engines of earlier runs, and what to tell the user. */
export interface EarlierRuns {
  /** Task id → engine rank of an earlier run. */
  sent: Map<number, number>;
  /** When the last of those engines has surely given up (Unix seconds). */
  until: number;
  /** One line per earlier run that holds tasks. */
  notes: string[];
}

/**
 * Read the files of the run `uid` (nothing when it has no journal).
 * @returns what they say, or undefined
 */
function readPredecessor(uid: string, now: number, host: string): Predecessor | undefined {
  let text: string;
  let journalMtime: number;
  try {
    text = Deno.readTextFileSync(`${uid}_journal`);
    journalMtime = (Deno.statSync(`${uid}_journal`).mtime?.getTime() ?? Date.now()) / 1000;
  } catch {
    return undefined;
  }
  const journal = replayJournal(text);
  let lock: Predecessor["lock"];
  let lastAliveS = journalMtime;
  try {
    const owner = parseLock(Deno.readTextFileSync(`${uid}_lock`));
    const mtime = (Deno.statSync(`${uid}_lock`).mtime?.getTime() ?? Date.now()) / 1000;
    lock = { owner, ageS: now - mtime };
    lastAliveS = mtime;
  } catch { /* no lock: its driver ended, or died and the lock was removed */ }
  let graceS = DEFAULT_DRIVER_GRACE_S;
  try {
    const inv = journal.first && parseDriverArgs(journal.first.argv, {}, 0);
    if (inv && typeof inv === "object") graceS = inv.driverGrace;
  } catch { /* its arguments do not parse here: the default grace */ }
  const recorded = new Set<number>();
  try {
    for (const r of statusLines(Deno.readTextFileSync(`${uid}_status.txt`))) {
      if (typeof r !== "string") recorded.add(r.taskId);
    }
  } catch { /* no status file: nothing finished */ }
  return {
    journal,
    ...(lock ? { lock } : {}),
    lastAliveS,
    graceS,
    recorded,
    enginesGone: enginesGone(journal, host),
  };
}

/**
 * Whether every engine the journal has alive was on this host and no engine process works in the
 * run's directory here any more (an engine chdirs there). Another run's engine in the same
 * directory keeps the answer false: on the safe side.
 */
export function enginesGone(journal: JournalState, host: string): boolean {
  const cwd = journal.first?.cwd;
  if (cwd === undefined) return false;
  for (const e of journal.engines.values()) if (e.alive && e.host !== host) return false;
  let real: string;
  try {
    real = Deno.realPathSync(cwd);
  } catch {
    return false;
  }
  try {
    for (const p of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(p.name)) continue;
      try {
        if (!Deno.readTextFileSync(`/proc/${p.name}/cmdline`).split("\0").includes("--engine")) continue;
        // This driver's own standby engine is not one of them.
        const ppid = Number(
          /^\d+ \(.*\) \S+ (\d+)/s.exec(Deno.readTextFileSync(`/proc/${p.name}/stat`))?.[1],
        );
        if (ppid === Deno.pid) continue;
        if (Deno.readLinkSync(`/proc/${p.name}/cwd`) === real && pidLives(Number(p.name))) return false;
      } catch { /* gone, or not ours */ }
    }
  } catch {
    return false; // no /proc: cannot tell
  }
  return true;
}

/**
 * The earlier runs a new run must wait for: those of its `-r` files, and the one whose prefix it
 * takes over (`uid`, when a run of it did not end).
 * @param resumeFrom the `-r` files
 * @param uid the new run's uid
 * @param host this host
 * @returns tasks to hold, or undefined when there are none
 * @throws {RunFileError} (exit 2) when a `-r` file belongs to a run whose driver still runs
 */
export function earlierRuns(
  resumeFrom: readonly string[],
  uid: string,
  host: string,
): EarlierRuns | undefined {
  const now = Date.now() / 1000;
  const uids = new Map<string, string | undefined>([[uid, undefined]]);
  for (const r of resumeFrom) {
    if (r.endsWith("_status.txt")) uids.set(r.slice(0, -"_status.txt".length), r);
  }
  const sent = new Map<number, number>();
  let until = 0;
  const notes: string[] = [];
  for (const [u, from] of uids) {
    const p = readPredecessor(u, now, host);
    if (!p) continue;
    const v = judgePredecessor(p, { host, now, pidAlive: pidLives, marginS: GIVE_UP_MARGIN_S });
    if (v.kind === "live" && from !== undefined) {
      const who = v.owner ? `its driver, pid ${v.owner.pid} on ${v.owner.host}` : "its driver";
      throw new RunFileError(
        `-r ${from}: that run is still going (${who}, holds ${u}_lock); resuming from it now would run its ` +
          `tasks twice. Wait for it to end, or end it first`,
        2,
      );
    }
    if (v.kind !== "hold") continue;
    for (const [id, rank] of v.sent) sent.set(id, rank);
    until = Math.max(until, v.until);
    const at = new Date(v.until * 1000).toTimeString().slice(0, 8);
    notes.push(
      `disbatch: the run ${u} did not end (its driver died); its engines may still be running ${v.sent.size} of ` +
        `its task(s) until ${at} (--driver-grace): those wait until then rather than run twice at once. ` +
        `To go on with that run instead: disbatch --reattach ${u}`,
    );
  }
  return sent.size ? { sent, until, notes } : undefined;
}

/**
 * Earlier runs whose driver died without ending them (see `../lib/predecessor.ts`): the run a `-r`
 * status file belongs to, and the one whose prefix a fresh run takes over. Their tasks that may
 * still run on their engines are held until those engines have surely given up.
 *
 * @module
 */

import { DEFAULT_DRIVER_GRACE_S, parseDriverArgs } from "../lib/driver_options.ts";
import { type JournalState, parseDriverAddress, replayJournal, resumedLine } from "../lib/journal.ts";
import { jobsElsewhere, judgePredecessor, type Predecessor } from "../lib/predecessor.ts";
import { jobsOver, jobsOverQuery, squeueEnvToDrop } from "../lib/slurm.ts";
import { parseLock } from "../lib/run_lock.ts";
import { statusLines } from "../lib/status_record.ts";
import { RunFileError } from "./run_files.ts";
import { pidLives, procPids, procStat } from "./procfs.ts";
import { jobIdOf } from "../lib/naming.ts";
import { LAUNCH_ENV, secretInDbUtil } from "../lib/launch_contract.ts";
import { resolvePath } from "../lib/paths.ts";
import { GIVE_UP_MARGIN_S } from "./server.ts";

/** How long squeue may take to say whether an earlier run's jobs are over (else: it cannot say). */
const SQUEUE_TIMEOUT_MS = 10_000;

/** How often a run that holds tasks for an earlier run's Slurm jobs asks squeue whether they are over. */
const SQUEUE_EVERY_MS = 10_000;

/** Tasks held for the engines of earlier runs, and what to tell the user. */
export interface EarlierRuns {
  /** Task id → engine rank of an earlier run. */
  sent: Map<number, number>;
  /** When the last of those engines has surely given up (Unix seconds). */
  until: number;
  /** One line per earlier run that holds tasks. */
  notes: string[];
  /** Whether nothing of those runs is left now (their held tasks can run at once). */
  gone(): Promise<boolean>;
}

/** Whether `a` and `b` name one file (false when either is missing). */
function sameFile(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  try {
    return Deno.realPathSync(a) === Deno.realPathSync(b);
  } catch {
    return false;
  }
}

/**
 * Read the files of the run `uid` (nothing when it has no journal).
 * @returns what they say, and the task file it read (undefined: stdin or a program), or undefined
 */
function readPredecessor(uid: string, now: number): { p: Predecessor; taskFile?: string } | undefined {
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
  let taskFile: string | undefined;
  try {
    const first = journal.first;
    const inv = first && parseDriverArgs(first.argv, {}, 0);
    if (inv && typeof inv === "object") {
      graceS = inv.driverGrace;
      if (inv.taskCommand === undefined && inv.taskFile !== "-") {
        taskFile = resolvePath(first.cwd, inv.taskFile);
      }
    }
  } catch { /* its arguments do not parse here: the default grace */ }
  const recorded = new Set<number>();
  try {
    for (const r of statusLines(Deno.readTextFileSync(`${uid}_status.txt`))) {
      if (typeof r !== "string") recorded.add(r.taskId);
    }
  } catch { /* no status file: nothing finished */ }
  return { p: { journal, ...(lock ? { lock } : {}), lastAliveS, graceS, recorded }, taskFile };
}

/**
 * Which of the Slurm jobs `ids` are over, by `squeue` (none when it cannot say: not a Slurm cluster,
 * the controller does not answer within 10 s); its user's SQUEUE_* defaults do not apply.
 * @param ids job ids @returns those that are over
 */
export async function slurmJobsOver(ids: readonly string[]): Promise<ReadonlySet<string>> {
  if (!ids.length) return new Set();
  try {
    const env = Deno.env.toObject();
    for (const k of squeueEnvToDrop(env)) delete env[k];
    const out = await new Deno.Command("squeue", {
      args: jobsOverQuery(ids),
      env,
      clearEnv: true,
      stdin: "null",
      signal: AbortSignal.timeout(SQUEUE_TIMEOUT_MS),
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    return jobsOver(ids, { success: out.success, stdout: text(out.stdout), stderr: text(out.stderr) }) ??
      new Set();
  } catch {
    return new Set();
  }
}

/**
 * Whether nothing of the run `uid` is left: every engine the journal has alive on another host ran
 * in a Slurm job that is over (all of them, when it ran here only), and no process here is one of
 * its engines (an engine process working in its directory) or one of its
 * tasks (a process whose environment has its `DISBATCH_JOBID` and a `DISBATCH_TASKID`: the task
 * groups of an engine killed outright outlive it when its reaper was killed too). Another run's
 * process that looks the same keeps the answer false: on the safe side.
 * @param uid the run @param journal its journal @param host this host
 * @param over Slurm jobs known to be over (see {@linkcode slurmJobsOver})
 * @returns true when it surely runs nothing any more
 */
export function nothingLeft(
  uid: string,
  journal: JournalState,
  host: string,
  over: ReadonlySet<string> = new Set(),
): boolean {
  const cwd = journal.first?.cwd;
  if (cwd === undefined) return false;
  const jobs = jobsElsewhere(journal, host);
  if (jobs === undefined || jobs.some((j) => !over.has(j))) return false;
  let real: string;
  try {
    real = Deno.realPathSync(cwd);
  } catch {
    return false;
  }
  const job = `DISBATCH_JOBID=${jobIdOf(uid)}`;
  const kvs = new Set<string>();
  try {
    for (const a of parseDriverAddress(Deno.readTextFileSync(`${uid}_address`))?.addresses ?? []) {
      kvs.add(`DISBATCH_KVSSTCP_HOST=${a}`);
    }
  } catch { /* none published */ }
  // Its engines started through srun or ssh have its secret in their environment.
  let secret: string | undefined;
  try {
    const s = secretInDbUtil(Deno.readTextFileSync(`${uid}_dbUtil.sh`));
    if (s) secret = `${LAUNCH_ENV.secret}=${s}`;
  } catch { /* none: engines are told by their command line and directory */ }
  const pids = procPids();
  if (!pids.length) return false; // no /proc: cannot tell
  for (const pid of pids) {
    // Neither this driver nor its own standby engine.
    if (Number(pid) === Deno.pid || Number(procStat(pid)?.[1]) === Deno.pid) continue;
    try {
      const env = Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0");
      // One of its tasks: its job id (other runs may share it: -p run), and its driver's address or,
      // unless it moved, its directory.
      const task = env.includes(job) && env.some((v) => v.startsWith("DISBATCH_TASKID=")) &&
        (env.some((v) => kvs.has(v)) || Deno.readLinkSync(`/proc/${pid}/cwd`) === real);
      // An engine of it: one given its secret (srun and ssh pass it in the environment), or one
      // working in its directory (a local one gets it on its stdin).
      const engine = !task && (secret !== undefined && env.includes(secret) ||
        Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").includes("--engine") &&
          Deno.readLinkSync(`/proc/${pid}/cwd`) === real);
      if ((task || engine) && pidLives(Number(pid))) return false;
    } catch { /* gone, or not ours */ }
  }
  return true;
}

/**
 * The earlier runs a new run must wait for: those of its `-r` files, and the one whose prefix it
 * takes over (`uid`, when a run of it did not end).
 * @param resumeFrom the `-r` files
 * @param uid the new run's uid
 * @param host this host
 * @param taskFile the new run's task file (undefined: tasks from a program)
 * @returns tasks to hold, or undefined when there are none
 * @throws {RunFileError} (exit 2) when a `-r` file belongs to a run whose driver still runs
 */
export async function earlierRuns(
  resumeFrom: readonly string[],
  uid: string,
  host: string,
  taskFile: string | undefined,
): Promise<EarlierRuns | undefined> {
  const now = Date.now() / 1000;
  const uids = new Map<string, string | undefined>([[uid, undefined]]);
  for (const r of resumeFrom) {
    if (r.endsWith("_status.txt")) uids.set(r.slice(0, -"_status.txt".length), r);
  }
  const sent = new Map<number, number>();
  let until = 0;
  const notes: string[] = [];
  const holding: { uid: string; journal: JournalState }[] = [];
  // Slurm jobs known to be over (they stay over); squeue is asked again at most every SQUEUE_EVERY_MS.
  const over = new Set<string>();
  let asked = Date.now();
  for (const [u, from] of uids) {
    const read = readPredecessor(u, now);
    if (!read) continue;
    const { p } = read;
    // Slurm jobs of a run that did not end: its driver's, and those of its engines elsewhere.
    if (p.journal.first !== undefined && p.journal.ended === undefined) {
      const jobs = new Set([
        ...p.journal.drivers.flatMap((h) => h.slurmJob ?? []),
        ...jobsElsewhere(p.journal, host) ?? [],
      ]);
      for (const j of await slurmJobsOver([...jobs])) over.add(j);
    }
    const v = judgePredecessor(p, { host, now, pidAlive: pidLives, marginS: GIVE_UP_MARGIN_S, over });
    const by = from !== undefined ? p.journal.resumedBy?.by : undefined;
    if (by !== undefined && by !== uid) {
      // Another run resumed it already: while that one goes on, a second resume would run its tasks too.
      const other = readPredecessor(by, now);
      const w = other &&
        judgePredecessor(other.p, { host, now, pidAlive: pidLives, marginS: GIVE_UP_MARGIN_S, over });
      if (w?.kind === "live") {
        throw new RunFileError(
          `-r ${from}: that run is being resumed by ${by} now (it holds ${by}_lock); resuming it a second ` +
            `time would run its tasks twice. Wait for that run to end, then resume from ${by}_status.txt`,
          2,
        );
      }
    }
    if (v.kind === "live" && from !== undefined) {
      const who = v.owner ? `its driver, pid ${v.owner.pid} on ${v.owner.host}` : "its driver";
      throw new RunFileError(
        `-r ${from}: that run is still going (${who}, holds ${u}_lock); resuming from it now would run its ` +
          `tasks twice. Wait for it to end, or end it first`,
        2,
      );
    }
    // Looked for only now (squeue, a scan of /proc): most earlier runs ended.
    if (v.kind !== "hold" || nothingLeft(u, p.journal, host, over)) continue;
    // A fresh run on the prefix of a run of other tasks: their ids are not these tasks'.
    if (from === undefined && !sameFile(read.taskFile, taskFile)) continue;
    for (const [id, rank] of v.sent) sent.set(id, rank);
    holding.push({ uid: u, journal: p.journal });
    until = Math.max(until, v.until);
    const at = new Date(v.until * 1000).toTimeString().slice(0, 8);
    notes.push(
      `disbatch: the run ${u} did not end (its driver died); its engines may still be running ${v.sent.size} of ` +
        `its task(s) until ${at} (--driver-grace): those wait until then rather than run twice at once ` +
        `(this run takes it over: it can no longer be re-attached)`,
    );
  }
  const gone = async () => {
    const want = new Set(
      holding.flatMap((h) => jobsElsewhere(h.journal, host) ?? []).filter((j) => !over.has(j)),
    );
    if (want.size && Date.now() - asked >= SQUEUE_EVERY_MS) {
      asked = Date.now();
      for (const j of await slurmJobsOver([...want])) over.add(j);
    }
    return holding.every((h) => nothingLeft(h.uid, h.journal, host, over));
  };
  return sent.size ? { sent, until, notes, gone } : undefined;
}

/**
 * This run resumes the runs of these status files (`-r`): each one's journal says so, so that it is
 * never re-attached (its tasks would run twice) and no second resume of it starts while this one goes.
 * @param resumeFrom the `-r` files @param uid this run's @param host this host
 */
export function markResumed(resumeFrom: readonly string[], uid: string, host: string): void {
  for (const r of resumeFrom) {
    if (!r.endsWith("_status.txt")) continue;
    const u = r.slice(0, -"_status.txt".length);
    if (u === uid) continue;
    const path = `${u}_journal`;
    try {
      const j = replayJournal(Deno.readTextFileSync(path));
      if (j.first === undefined || j.ended !== undefined) continue;
      Deno.writeTextFileSync(path, resumedLine({ by: uid, host, pid: Deno.pid, at: Date.now() / 1000 }), {
        append: true,
      });
    } catch { /* no journal (an older run, another tool's file), or not writable: nothing to mark */ }
  }
}

/**
 * A resume that was refused took nothing over: its marks ({@linkcode markResumed}) are taken back.
 * @param resumeFrom the `-r` files @param uid this run's
 */
export function unmarkResumed(resumeFrom: readonly string[], uid: string): void {
  for (const r of resumeFrom) {
    if (!r.endsWith("_status.txt")) continue;
    const path = `${r.slice(0, -"_status.txt".length)}_journal`;
    try {
      const text = Deno.readTextFileSync(path);
      const kept = text.split("\n").filter((l) => {
        if (!l.startsWith("T ")) return true;
        try {
          const t = JSON.parse(l.slice(2));
          return !(t.by === uid && t.pid === Deno.pid);
        } catch {
          return true;
        }
      });
      if (kept.length !== text.split("\n").length) Deno.writeTextFileSync(path, kept.join("\n"));
    } catch { /* gone, or not writable: nothing to take back */ }
  }
}

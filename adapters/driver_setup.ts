/**
 * What the driver does before and around a run that is not the run itself: its name and secret,
 * checks of the command line against the run's own files, and, for a driver restarted with
 * `--reattach`, taking over the last driver's lock and giving the scheduler and the peers what
 * the journal says the last driver had.
 *
 * @module
 */

import { resolvePath } from "../lib/paths.ts";
import type { DriverInvocation } from "../lib/driver_options.ts";
import { parseDriverAddress } from "../lib/journal.ts";
import type { DriverEvent } from "../lib/reactor.ts";
import { parseLock } from "../lib/run_lock.ts";
import type { DriverPeers } from "./peers.ts";
import type { Reattach } from "./reattach.ts";
import { RunFileError } from "./run_files.ts";
import { connectWithin, splitAddress } from "./transport.ts";
import { renderDbUtil } from "../lib/dbutil.ts";
import { RUN_NOTE_VAR } from "../lib/launcher.ts";
import type { RunInfo } from "../lib/protocol.ts";
import { WALLTIME_MARGIN_S } from "../lib/scheduler.ts";
import { slurmJobOfDriver } from "../lib/slurm.ts";
import { JournalFile, publishAddress } from "./journal_file.ts";
import type { Logger } from "./log.ts";
import { selfCommand } from "./self_command.ts";
import { findRunEnd, type RunEnd } from "./walltime.ts";

/** @param bytes how many random bytes @returns them in hex (the run's secret) */
export function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

/**
 * The task stream's name in run file names and `DISBATCH_NAMETASKS`: `--name`, else the task
 * file's, else the task program's (`./make_tasks.py -n 3` → `make_tasks.py`).
 */
export function streamName(inv: DriverInvocation): string {
  if (inv.name !== undefined) return inv.name;
  if (inv.taskCommand === undefined) return inv.taskFile;
  const first = inv.taskCommand.trim().split(/\s+/)[0]!;
  return first.split("/").filter(Boolean).pop()?.replace(/[^\w.+-]/g, "") || "taskcommand";
}

/**
 * `-r X_status.txt -p X` would truncate the very file it resumes from: refuse it.
 * @throws {RunFileError} (exit 2)
 */
export function refuseOwnStatusFile(inv: DriverInvocation, uid: string): void {
  const real = (p: string) => {
    try {
      return Deno.realPathSync(p);
    } catch {
      return resolvePath(Deno.cwd(), p);
    }
  };
  const own = real(`${uid}_status.txt`);
  for (const r of inv.resumeFrom) {
    if (real(r) === own) {
      throw new RunFileError(
        `-r ${r} is the status file this run would write (-p ${inv.prefix}), and writing it would destroy what ` +
          `it resumes from. Give the new run another -p, e.g. -p ${inv.prefix}.2`,
        2,
      );
    }
  }
}

/** The driver's own context of the last driver, and its engines that may come back. */
export function restoredAuto(
  re: Reattach,
): { id: number; hosts: Set<string>; holdUntil: number } | undefined {
  if (re.enginesGone) return undefined; // it starts as a fresh run's
  for (const [id, c] of re.journal.contexts) {
    if (c.origin !== "auto") continue;
    const hosts = new Set<string>();
    for (const e of re.journal.engines.values()) if (e.alive && e.context === id) hosts.add(e.host);
    return { id, hosts, holdUntil: re.holdUntil };
  }
  return undefined;
}

/**
 * Re-attached: the scheduler and the peers get the last driver's contexts, the numbering of
 * engines and contexts goes on, and tasks in flight are held for their engines.
 */
export function restoreRun(
  re: Reattach,
  react: (ev: DriverEvent) => void,
  peers: DriverPeers,
  say: (m: string) => void,
): void {
  const now = Date.now() / 1000;
  const j = re.journal;
  const alive = new Map<number, { context: number; host: string }>();
  const coming = new Map<number, number>();
  for (const [rank, e] of j.engines) {
    if (!e.alive) continue;
    alive.set(rank, e);
    coming.set(e.context, (coming.get(e.context) ?? 0) + 1);
  }
  // None of its engines is left: its contexts are over, and this run's own starts anew (as a fresh
  // run's, at its first task); contexts added later get new numbers.
  for (const [id, c] of re.enginesGone ? [] : j.contexts) {
    react({
      kind: "contextJoined",
      id,
      label: c.label,
      taskLimit: c.taskLimit,
      engines: coming.get(id) ?? 0,
      retires: c.retires,
      ...(c.keepHost !== undefined ? { keepHost: c.keepHost } : {}),
      ...(c.origin === "added" ? { added: true } : {}),
      ...(c.endsAt !== undefined ? { endsAt: c.endsAt } : {}),
      assigned: j.assigned.get(id) ?? 0,
      now,
    });
  }
  const maxRank = Math.max(-1, ...j.engines.keys());
  const maxContext = Math.max(-1, ...j.contexts.keys());
  const lastEngines = alive.size;
  if (re.enginesGone) alive.clear();
  peers.restore(alive, maxRank + 1, maxContext + 1);
  react({
    kind: "held",
    sent: [...re.inFlight],
    until: re.holdUntil,
    expected: [...alive].map(([r, e]) => [r, e.context]),
    now,
    ...(re.enginesGone ? { gone: true } : {}),
  });
  react({ kind: "attempts", attempts: [...re.attempts], now });
  const wait = Math.max(0, Math.round(re.holdUntil - now));
  say(
    `disbatch: re-attaching to ${re.uid}: ${re.recorded.size} finished item(s) kept, ${re.inFlight.size} task(s) ` +
      `in flight on ${lastEngines} engine(s) of the last driver` +
      (re.inFlight.size
        ? wait > 0
          ? `, held for them for up to ${wait} s`
          : ": none of those engines is left, they run again now"
        : ""),
  );
}

/**
 * Re-attaching from another host: the last driver's lock names a host where its PID cannot be
 * checked, and its heartbeat takes a minute to go stale. If nothing answers at the address it
 * published, it is dead: its lock is taken over now.
 */
export async function clearDeadDriversLock(uid: string, hostname: string): Promise<void> {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${uid}_lock`);
  } catch {
    return;
  }
  const owner = parseLock(text);
  if (!owner || owner.host === hostname) return; // same host: the PID tells (RunLock.acquire)
  let pub;
  try {
    pub = parseDriverAddress(Deno.readTextFileSync(`${uid}_address`));
  } catch { /* none published */ }
  if (!pub || pub.pid !== owner.pid) return;
  for (const a of pub.addresses) {
    try {
      (await connectWithin(splitAddress(a), 2000)).close();
      return; // something answers there: leave the lock to RunLock.acquire's judgement
    } catch { /* refused or silent */ }
  }
  try {
    Deno.removeSync(`${uid}_lock`);
  } catch { /* gone */ }
}

/**
 * When the run must be over (`--end-time`, `--walltime`, the Slurm job's limit), checked before any
 * file is made: a run that would have to end within the hand-off margin is refused.
 * @param inv the command line @param note what to log once the log is open
 * @returns the run's end, if it has one
 * @throws {RunFileError} (exit 2) when there is no time to run anything
 */
export async function runEndOf(
  inv: DriverInvocation,
  note: (m: string) => void,
): Promise<RunEnd | undefined> {
  const runEnd = await findRunEnd(inv, Deno.env.toObject(), Date.now() / 1000, note);
  if (runEnd) {
    const left = runEnd.end - Date.now() / 1000;
    if (left <= WALLTIME_MARGIN_S) {
      throw new RunFileError(
        `The run would have to end ${left > 0 ? `in ${Math.round(left)} s` : "before it starts"} ` +
          `(${runEnd.source}): no time to run anything; give a later --end-time or a longer --walltime`,
        2,
      );
    }
  }
  return runEnd;
}

/**
 * The files through which others reach the run: `<uid>_dbUtil.sh` (mode 0700: it holds the
 * secret), the published address and the journal with its header.
 * @returns the dbUtil.sh path, the journal, and what peers are told of the run
 */
export function writeRunFiles(o: {
  uid: string;
  jobId: string;
  nameTasks: string;
  hostname: string;
  addresses: string[];
  secret: string;
  inv: DriverInvocation;
  log: Logger;
}): { dbUtilPath: string; journal: JournalFile; run: RunInfo } {
  const { uid, hostname, addresses, log, inv } = o;
  const dbUtilPath = `${uid}_dbUtil.sh`;
  Deno.writeTextFileSync(
    dbUtilPath,
    renderDbUtil({ uid, addresses, secret: o.secret, self: selfCommand() }),
    { mode: 0o700 },
  );
  Deno.chmodSync(dbUtilPath, 0o700);
  log.info(`Listening on ${addresses.join(", ")}; dbUtil.sh is ${dbUtilPath}`);
  const epoch = `${hostname}:${Deno.pid}:${Date.now()}`;
  const run: RunInfo = {
    jobId: o.jobId,
    nameTasks: o.nameTasks,
    cwd: Deno.cwd(),
    uid,
    address: addresses[0]!,
    logLevel: inv.logLevel,
    killGrace: inv.killGrace,
    driverGrace: inv.driverGrace,
    epoch,
    contextDefaults: {
      ...(inv.context.cpusPerTask !== undefined ? { cpusPerTask: inv.context.cpusPerTask } : {}),
      ...(inv.context.tasksPerNode !== undefined ? { tasksPerNode: inv.context.tasksPerNode } : {}),
      ...(inv.context.envResource.length ? { envResource: inv.context.envResource } : {}),
    },
  };
  // What a driver restarted with --reattach needs: where this one listens, and what it sent where.
  publishAddress(uid, { epoch, host: hostname, pid: Deno.pid, addresses });
  // Under the launcher as a Slurm batch script: the note tells it which run to re-attach to.
  const note = Deno.env.get(RUN_NOTE_VAR);
  Deno.env.delete(RUN_NOTE_VAR);
  const journal = new JournalFile(uid, log, note);
  journal.header({
    argv: [...Deno.args],
    cwd: Deno.cwd(),
    epoch,
    host: hostname,
    pid: Deno.pid,
    at: Date.now() / 1000,
    ...slurmJobOfDriver(Deno.env.toObject()),
  });
  return { dbUtilPath, journal, run };
}

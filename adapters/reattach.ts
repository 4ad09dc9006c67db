/**
 * `disbatch --reattach RUN [taskfile]`: start the driver of a run whose driver died (killed, out of
 * memory, its host rebooted), on this host or another one that sees the run's files. It takes the
 * run's own options from the journal, its secret from `<uid>_dbUtil.sh`, what finished from the
 * status file (a line torn by the crash is cut off), and what was in flight from the journal; the
 * engines that kept running re-attach to it.
 *
 * @module
 */

import { resolvePath } from "../lib/paths.ts";
import { UsageError } from "../lib/cli.ts";
import { type DriverInvocation, parseDriverArgs } from "../lib/driver_options.ts";
import { type JournalState, replayJournal } from "../lib/journal.ts";
import { secretInDbUtil } from "../lib/launch_contract.ts";
import { statusLines } from "../lib/status_record.ts";
import type { StatusRecord } from "../lib/types.ts";
import { RunFileError } from "./run_files.ts";
import { GIVE_UP_MARGIN_S } from "./server.ts";
import { nothingLeft, slurmJobsOver } from "./predecessor.ts";
import { enginesGiveUpBy, jobsElsewhere } from "../lib/predecessor.ts";

/** What a re-attaching driver starts from. */
export interface Reattach {
  uid: string;
  secret: string;
  journal: JournalState;
  /** Status lines of tasks and barriers by id (PERENGINE lines are not counted). */
  recorded: Map<number, StatusRecord>;
  /** Task id → engine rank, for tasks in flight when the last driver died. */
  inFlight: Map<number, number>;
  /** Unix seconds by which engines that did not come back have surely killed their tasks. */
  holdUntil: number;
  /** None of the last driver's engines is left (killed with it, or their Slurm jobs are over). */
  enginesGone: boolean;
  /** Earlier attempts of tasks not recorded yet (the attempts file). */
  attempts: Map<number, { rc: number; host: string }[]>;
  /** What was repaired or noticed in the files, for the log. */
  notes: string[];
}

const SUFFIXES = [
  "_status.txt",
  "_journal",
  "_dbUtil.sh",
  "_driver.log",
  "_address",
  "_attempts.txt",
  "_lock",
];

/**
 * Read what a re-attaching driver needs and change to the run's directory.
 * @param args the arguments after `--reattach`
 * @param env the environment
 * @param tz minutes west of UTC (for `--end-time`)
 * @returns the run's invocation and state
 * @throws {UsageError} for bad arguments, {RunFileError} when there is nothing to re-attach to
 */
export async function planReattach(
  args: string[],
  env: Record<string, string | undefined>,
  tz: number,
): Promise<{ inv: DriverInvocation; re: Reattach }> {
  if (args.length < 1 || args.length > 2 || args.some((a) => a.startsWith("-") && a !== "-")) {
    throw new UsageError(
      "--reattach RUN [taskfile]: RUN is the run's -p prefix or one of its files (e.g. X_status.txt); " +
        "the run keeps the options it was started with",
    );
  }
  let given = args[0]!;
  for (const s of SUFFIXES) if (given.endsWith(s)) given = given.slice(0, -s.length);
  const uid = resolvePath(Deno.cwd(), given);
  let text: string;
  try {
    text = Deno.readTextFileSync(`${uid}_journal`);
  } catch {
    throw new RunFileError(
      `No run journal at ${uid}_journal: give the -p prefix the run was started with, or one of its files ` +
        `(…_status.txt). A run without a journal cannot be re-attached; run what is left with -r`,
      2,
    );
  }
  const journal = replayJournal(text);
  const first = journal.first;
  if (!first) throw new RunFileError(`${uid}_journal names no driver: it is not a disbatch run journal`, 2);
  if (journal.ended !== undefined) {
    throw new RunFileError(
      `The run ${uid} ended (exit status ${journal.ended}); there is nothing to re-attach to. ` +
        `To run what did not succeed: disbatch -r ${uid}_status.txt -p NEW_PREFIX TASKFILE`,
      2,
    );
  }
  const by = journal.resumedBy;
  if (by) {
    throw new RunFileError(
      `The run ${uid} was resumed by ${by.by} (-r, started ${
        new Date(by.at * 1000).toTimeString().slice(0, 8)
      } on ${by.host}): re-attaching to it would run its tasks a second time. ` +
        `If that run's driver died, re-attach that one: disbatch --reattach ${by.by}`,
      2,
    );
  }
  const here = Deno.cwd();
  try {
    Deno.chdir(first.cwd);
  } catch (e) {
    throw new RunFileError(
      `The run's directory ${first.cwd} cannot be entered on this host (${
        e instanceof Error ? e.message : e
      })`,
      1,
    );
  }
  const inv = parseDriverArgs(first.argv, env, tz);
  if (inv === "help" || inv === "version") throw new RunFileError(`${uid}_journal holds no run's options`, 2);
  if (inv.taskCommand === undefined && inv.taskFile === "-") {
    throw new RunFileError(
      `The run ${uid} read its tasks from stdin, which a restarted driver cannot read again. ` +
        `Run what is left with: disbatch -r ${uid}_status.txt -p NEW_PREFIX TASKFILE`,
      2,
    );
  }
  if (args[1] !== undefined && inv.taskCommand === undefined) {
    const real = (p: string) => {
      try {
        return Deno.realPathSync(p);
      } catch {
        return resolvePath(Deno.cwd(), p);
      }
    };
    if (real(resolvePath(Deno.cwd(), here, args[1])) !== real(inv.taskFile)) {
      throw new UsageError(
        `argument taskfile: the run was started with ${
          resolvePath(Deno.cwd(), first.cwd, inv.taskFile)
        }, not ${resolvePath(Deno.cwd(), here, args[1])}`,
      );
    }
  }
  const notes: string[] = [];
  if (journal.badLines) notes.push(`${journal.badLines} unreadable line(s) in the journal were skipped`);
  let secret = "";
  try {
    secret = secretInDbUtil(Deno.readTextFileSync(`${uid}_dbUtil.sh`)) ?? "";
  } catch { /* below */ }
  if (!secret) {
    throw new RunFileError(
      `${uid}_dbUtil.sh is missing or holds no secret: the run's engines could not prove who they are`,
      2,
    );
  }
  const recorded = new Map(readStatusLines(`${uid}_status.txt`, notes).map((r) => [r.taskId, r]));
  const attempts = new Map<number, { rc: number; host: string }[]>();
  for (const r of readStatusLines(`${uid}_attempts.txt`, notes)) {
    if (recorded.has(r.taskId)) continue;
    const list = attempts.get(r.taskId) ?? [];
    list.push({ rc: r.returnCode, host: r.host });
    attempts.set(r.taskId, list);
  }
  const inFlight = new Map<number, number>();
  for (const [id, rank] of journal.sent) if (!recorded.has(id)) inFlight.set(id, rank);
  // The last driver beat its lock until it died: its engines' grace started by then.
  const now = Date.now() / 1000;
  let lastAlive = now;
  try {
    const m = Deno.statSync(`${uid}_lock`).mtime;
    if (m) lastAlive = m.getTime() / 1000;
  } catch { /* no lock: assume it just died */ }
  // None of its engines is left (they ran here and were killed with it, or their Slurm jobs are
  // over): nothing to wait for.
  const host = Deno.hostname();
  const elsewhere = jobsElsewhere(journal, host);
  const gone = nothingLeft(uid, journal, host, await slurmJobsOver(elsewhere ?? []));
  if (gone && inFlight.size) {
    notes.push(
      elsewhere?.length
        ? `the Slurm job(s) its engines ran in (${elsewhere.join(", ")}) are over and none is left here: ` +
          "nothing is held for them"
        : "its engines were all on this host and none is left: nothing is held for them",
    );
  }
  return {
    inv,
    re: {
      uid,
      secret,
      journal,
      recorded,
      inFlight,
      holdUntil: gone ? now : enginesGiveUpBy(lastAlive, now, inv.driverGrace, GIVE_UP_MARGIN_S),
      enginesGone: gone,
      attempts,
      notes,
    },
  };
}

/** The lines of a status (or attempts) file but PERENGINE ones; a last line torn by the crash is cut off the file. */
function readStatusLines(path: string, notes: string[]): StatusRecord[] {
  const out: StatusRecord[] = [];
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch {
    return out;
  }
  const end = bytes.lastIndexOf(10) + 1;
  if (end < bytes.length) {
    Deno.truncateSync(path, end);
    notes.push(`the last line of ${path} was torn by the crash (${bytes.length - end} bytes): cut off`);
  }
  const text = new TextDecoder().decode(bytes.subarray(0, end));
  for (const r of statusLines(text)) if (typeof r !== "string" && r.flags[3] !== "P") out.push(r);
  return out;
}

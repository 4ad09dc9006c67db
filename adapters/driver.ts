/**
 * The driver: the one await loop that wires the task stream, the {@linkcode Scheduler}, the TCP
 * server, the engines' launchers, the status file, signals and the terminal together. The parts
 * are adapters of their own: {@linkcode preflight} and {@linkcode prescan} check the command line
 * and the task file, {@linkcode listenForPeers} binds the listener, {@linkcode ActionRunner}
 * carries out the scheduler's actions, {@linkcode DriverPeers} handles what peers say,
 * {@linkcode eventViews} keeps the journal and the dashboard's history from the events,
 * {@linkcode AutoContext} starts the driver's own engines, and `driver_parts.ts` opens the outputs,
 * runs `--alloc` and handles signals. The run's state is the scheduler's alone: the driver keeps
 * only the engines' connections (`links`) and reads the rest through `sched.view`.
 *
 * @module
 */

import { shellQuote } from "../lib/text.ts";
import { DashboardTracker } from "../lib/dashboard.ts";
import { type DriverInvocation, schedulerOptions } from "../lib/driver_options.ts";
import { type Action, Scheduler, WALLTIME_MARGIN_S } from "../lib/scheduler.ts";
import { type DriverEvent, react as reactTo } from "../lib/reactor.ts";
import { EventLog } from "./event_log.ts";
import { eventViews } from "./event_views.ts";
import { resumeCommand } from "../lib/resume_command.ts";
import { leftForResume } from "../lib/progress_view.ts";
import { checkAllocArgs } from "./allocator.ts";
import { TaskCommand } from "./task_command.ts";
import { UsageError } from "../lib/cli.ts";
import { ActionRunner } from "./actions.ts";
import { AutoContext } from "./auto_context.ts";
import { listenForPeers } from "./listen.ts";
import { Logger } from "./log.ts";
import { DriverPeers } from "./peers.ts";
import { preflight } from "./preflight.ts";
import { Progress } from "./progress.ts";
import { RetireManager } from "./retire.ts";
import { planUid, RunLock, StatusWriter } from "./run_files.ts";
import type { Reattach } from "./reattach.ts";
import { type EarlierRuns, earlierRuns, markResumed, unmarkResumed } from "./predecessor.ts";
import { jobIdOf, taskFileName } from "../lib/naming.ts";
import { resolvePath } from "../lib/paths.ts";
import { RunMailer } from "./run_mail.ts";
import { DriverServer, type Peer } from "./server.ts";
import { TaskIntake } from "./task_intake.ts";
import { isRegularFile, openTaskFile, prescan } from "./task_source.ts";
import { openRunDashboard } from "./web.ts";
import { openOutputs, runAllocator, trapDriverSignals } from "./driver_parts.ts";
import {
  clearDeadDriversLock,
  randomHex,
  refuseOwnStatusFile,
  restoredAuto,
  restoreRun,
  runEndOf,
  streamName,
  writeRunFiles,
} from "./driver_setup.ts";

/**
 * Run the driver.
 * @param inv parsed command line
 * @returns exit status
 */
export async function runDriver(
  inv: DriverInvocation,
  exitNow: (code: number) => never,
  re?: Reattach,
): Promise<number> {
  const hostname = Deno.hostname();
  const table = preflight(inv);
  if (inv.alloc) {
    // Options sbatch would refuse fail now, before any file is made (in well under a second).
    const why = await checkAllocArgs(inv.alloc);
    if (why) throw new UsageError(`argument --alloc: sbatch refuses these options: ${why}`);
  }
  // A task program starts once the run holds its prefix (runLocked); a task file is opened now.
  const taskSource = inv.taskCommand === undefined ? await openTaskFile(inv.taskFile) : undefined;
  const plan = re
    ? {
      uid: re.uid,
      jobId: jobIdOf(re.uid),
      nameTasks: taskFileName(streamName(inv)),
      prefixNamesFiles: re.uid === resolvePath(Deno.cwd(), inv.prefix),
    }
    : planUid(inv.prefix, streamName(inv));
  refuseOwnStatusFile(inv, plan.uid);
  if (re) await clearDeadDriversLock(re.uid, hostname);
  // An earlier run of these tasks whose driver died: what its engines may still run waits for them.
  const earlier = re ? undefined : await earlierRuns(
    inv.resumeFrom,
    plan.uid,
    hostname,
    inv.taskCommand === undefined ? inv.taskFile : undefined,
  );
  // One run per prefix: a second driver stops here, before it touches any file of the first.
  const lock = RunLock.acquire(plan.uid, hostname, inv.prefix);
  if (!re) markResumed(inv.resumeFrom, plan.uid, hostname);
  let refused = true;
  try {
    const code = await runLocked(inv, hostname, table, taskSource, plan, re, exitNow, earlier);
    // Exit 2: the resume was refused (a changed task file, a bad line): it took nothing over.
    refused = code === 2;
    return code;
  } finally {
    if (refused && !re) unmarkResumed(inv.resumeFrom, plan.uid);
    lock.release();
  }
}

async function runLocked(
  inv: DriverInvocation,
  hostname: string,
  table: ReturnType<typeof preflight>,
  fileSource: Awaited<ReturnType<typeof openTaskFile>> | undefined,
  plan: ReturnType<typeof planUid>,
  re: Reattach | undefined,
  exitNow: (code: number) => never,
  earlier: EarlierRuns | undefined,
): Promise<number> {
  const { uid, jobId, nameTasks } = plan;
  // The run's own arguments (a re-attached driver's are `--reattach RUN`): what a resume repeats.
  const runArgv = re?.journal.first?.argv ?? Deno.args;
  const displayName = inv.taskCommand !== undefined
    ? `the task command (${inv.taskCommand})`
    : inv.taskFile === "-"
    ? "stdin"
    : inv.taskFile;
  let taskCommand: TaskCommand | undefined;
  const { printed, empty: knownEmpty, total } = inv.taskCommand === undefined && isRegularFile(inv.taskFile)
    ? await prescan(inv, displayName, table)
    : { printed: new Set<string>(), empty: false, total: undefined };

  // When the run must be over (--end-time, --walltime, the Slurm job's limit): checked before any file is made.
  const endNotes: string[] = [];
  const runEnd = await runEndOf(inv, (m) => endNotes.push(m));
  // A re-attached driver's scheduler starts anew: its events go to a stream of their own.
  const { results, eventLog } = openOutputs(inv, re, (m) => warnUser(m));
  const secret = re?.secret ?? randomHex(32);
  const { listener, addresses, connect, localConnect } = listenForPeers(inv.useAddress, hostname);
  const log = new Logger(inv.logFile ?? `${uid}_driver.log`, inv.logLevel, re !== undefined);
  if (re) {
    log.info(
      `Re-attaching to run ${uid} (pid ${Deno.pid} on ${hostname}, driver ${
        re.journal.drivers.length + 1
      }): ` +
        `${re.recorded.size} task(s) and barrier(s) recorded, ${re.inFlight.size} in flight on engines of the last driver`,
    );
    for (const n of re.notes) log.warn(n);
  } else log.info(`Starting run ${uid} (pid ${Deno.pid} on ${hostname}); tasks from ${displayName}`);
  for (const m of endNotes) log.warn(m);
  if (runEnd) log.info(`The run ends at ${new Date(runEnd.end * 1000).toISOString()} (${runEnd.source})`);
  const { dbUtilPath, journal, run } = writeRunFiles({
    uid,
    jobId,
    nameTasks,
    hostname,
    addresses,
    secret,
    inv,
    log,
  });
  const schedOptions = schedulerOptions(inv, {
    ...(runEnd ? { stopAt: runEnd.end - WALLTIME_MARGIN_S } : {}),
    host: hostname,
    pid: Deno.pid,
  });
  const sched = new Scheduler(schedOptions);
  const progress = new Progress(inv.quiet, total);
  // A re-attached run started with its first driver: its wall time and rates count from then.
  const startedAt = Math.min(re?.journal.first?.at ?? Infinity, Date.now() / 1000);
  // Long tasks produce no events for a while: keep the clock, rate and ETA of the line moving.
  const repaint = progress.active
    ? setInterval(() => progress.update(() => sched.snapshot()), 1000)
    : undefined;
  const now = () => Date.now() / 1000;
  const say = (line: string) => progress.message(line);
  /** A warning for the log and the user. */
  function warnUser(m: string): void {
    log.warn(m);
    say(`disbatch: ${m}`);
  }
  // Trouble writing the status file (a full disk) is said once, and its end too; the run goes on.
  const status = new StatusWriter(`${uid}_status.txt`, inv.statusHeader, warnUser, re !== undefined);
  /** The engines' connections (sockets) by rank; what engines there are is the scheduler's (`sched.view`). */
  const links = new Map<number, Peer>();
  const retire = new RetireManager(log, (m) => say(m), sched.view);
  /** The dashboard's history (timeline, throughput, failures); what runs now it reads from the registry. */
  const tracker = inv.web ? new DashboardTracker() : undefined;

  const actions = new ActionRunner({
    links,
    log,
    say,
    record(r, attempt, failedCheck) {
      tracker?.record(r);
      mailer?.record(r);
      status.add(r);
      results?.add(r, attempt, failedCheck);
      taskCommand?.sendResult(r, attempt, failedCheck);
    },
    keep: (r) => status.add(r),
    persist() {
      status.flush();
    },
    attempt(r) {
      attempts ??= new StatusWriter(`${uid}_attempts.txt`, false, (m) => log.warn(m), re !== undefined);
      attempts.add(r);
      tracker?.attempt(r);
    },
    settled() {
      progress.update(() => sched.snapshot());
      intake.wake();
    },
    nodeFree: (a) => retire.nodeFree(a),
    launchContext: () => auto.start(),
    sending: (rank, ids) => journal.sent(rank, ids),
    engineLeaves: (rank, why) => peers.engineLeaves(rank, why),
  });
  eventLog?.start(schedOptions);
  const keep = eventViews({ sched, journal, tracker });
  /** Every change to the run's state goes through here: an event in, the scheduler's actions carried out. */
  const react = (ev: DriverEvent) => {
    const seen = eventLog ? EventLog.encode(ev) : "";
    keep(ev);
    const a: Action[] = reactTo(sched, ev);
    eventLog?.step(seen, a);
    actions.apply(a);
  };
  const ports = { sched, react, now, log, say };
  const peers = new DriverPeers({
    ...ports,
    links,
    engineClosed: (rank) => actions.engineClosed(rank),
    engineLost: (launch): boolean => launch !== undefined && auto.engineLost(launch),
    uid,
    startedAt,
    contextRegistered: (label, endsAt) => allocator?.contextRegistered(label, endsAt),
    contextLeft: (label) => allocator?.contextLeft(label),
    allocations: () => allocator?.state() ?? {},
    journal,
    driverGrace: inv.driverGrace,
  });
  const auto = new AutoContext({
    ...ports,
    inv,
    hostname,
    uid,
    connect,
    localConnect,
    secret,
    retire,
    addContext: (label, info) => peers.addContext(label, info),
    ...(re ? { restore: restoredAuto(re) } : {}),
    hasJoined: (launchId) => peers.hasJoined(launchId),
    launcherOver: (launchId, how, evenIfSilent) => peers.launcherOver(launchId, how, evenIfSilent),
  });
  const intake = new TaskIntake({
    ...ports,
    table,
    resume: { retry: inv.retry, force: inv.forceResume },
    ...(re ? { recorded: re.recorded } : {}),
    printed,
  });

  if (re) restoreRun(re, react, peers, say);
  let earlierWatch: ReturnType<typeof setInterval> | undefined;
  if (earlier) {
    const holdEarlier = (sent: [number, number][], until: number) =>
      react({ kind: "held", sent, until, expected: [], now: Date.now() / 1000, earlier: true });
    holdEarlier([...earlier.sent], earlier.until);
    for (const n of earlier.notes) {
      say(n);
      log.warn(n.replace(/^disbatch: /, ""));
    }
    // Its tasks left behind on this host (their engine and reaper killed outright) may end before the
    // grace, and its Slurm jobs may end: once nothing of it is left, the held tasks run.
    let looking = false;
    earlierWatch = setInterval(async () => {
      if (looking) return;
      looking = true;
      try {
        if (!await earlier.gone() || earlierWatch === undefined) return;
      } finally {
        looking = false;
      }
      clearInterval(earlierWatch);
      earlierWatch = undefined;
      log.info("Nothing of the earlier run is left: its held tasks run now");
      holdEarlier([], Date.now() / 1000); // nothing more held, and until now
    }, 2000);
  }
  const server = new DriverServer(listener, secret, log, () => run);
  server.start(peers);
  const allocator = inv.alloc
    ? runAllocator(inv, inv.alloc, {
      uid,
      dbUtilPath: resolvePath(Deno.cwd(), dbUtilPath),
      log,
      say,
      now,
      sched,
      react,
    })
    : undefined;
  const web = inv.web && tracker
    ? openRunDashboard({
      uid,
      log,
      say,
      now,
      state: () =>
        tracker.state(
          { ...sched.snapshot(), uid, startedAt, ...(allocator?.state() ?? {}) },
          now(),
          sched.view.inFlight(),
        ),
      stop: (t) => peers.stop(t),
    })
    : undefined;
  const mailer = inv.mailTo ? new RunMailer(inv.mailTo, inv.mailFreq ?? 1, uid, log, say) : undefined;
  let attempts: StatusWriter | undefined;
  const joinWatcher = setInterval(() => {
    peers.watchers.send();
    // Re-queued tasks of a lost engine start when their wait is over; the walltime is watched.
    react({ kind: "tick", now: now() });
  }, 1000);
  // A Slurm time limit raised (or lowered) while the run goes on moves the hand-off.
  const endWatcher = runEnd?.refresh
    ? setInterval(async () => {
      const end = await runEnd.refresh!((m) => log.warn(m));
      if (end !== undefined && Math.abs(end - runEnd.end) > 30) {
        log.info(`The run's end moved to ${new Date(end * 1000).toISOString()} (${runEnd.source})`);
        runEnd.end = end;
        react({ kind: "stopAt", stopAt: end - WALLTIME_MARGIN_S, now: now() });
      }
    }, 60_000)
    : undefined;

  const untrapSignals = trapDriverSignals({
    log,
    say,
    now,
    react,
    links,
    allocator,
    status,
    journal,
    auto,
    exitNow,
  });

  // ---- the feeder: the task stream, read as fast as the scheduler asks for work ----
  if (inv.taskCommand !== undefined) {
    taskCommand = new TaskCommand(inv.taskCommand);
    log.info(`Tasks come from the task command (${inv.taskCommand})`);
  }
  const taskSource = fileSource ?? taskCommand!.source;

  if (knownEmpty) {
    log.info("No tasks to run.");
    say("No tasks to run.");
    return await shutDown(0, false);
  }
  if (inv.startupOnly) {
    // With --results - stdout carries only results.
    const line = `Run this script to add compute contexts:\n   ${shellQuote(dbUtilPath)}`;
    if (inv.results === "-") say(line);
    else progress.out(line);
  }
  const feeding = intake.feed(taskSource, displayName, taskCommand);
  const code = await actions.finished;
  // The feeder may sit in a read of stdin that will never return; do not wait for it long.
  intake.release();
  await Promise.race([
    feeding.catch((e) => log.error(`Feeder failed: ${e}`)),
    new Promise((r) => setTimeout(r, 200)),
  ]);
  if (sched.nothingToDo && !intake.failed) say("No tasks to run.");
  return await shutDown(code, true);

  /**
   * The one way a run ends: everything started is stopped, closed and summed up, in this order.
   * @param code the scheduler's exit status @param ran false when the task file held no task (no summary)
   * @returns the driver's exit status
   */
  async function shutDown(code: number, ran: boolean): Promise<number> {
    clearInterval(earlierWatch);
    earlierWatch = undefined;
    clearInterval(joinWatcher);
    clearInterval(endWatcher);
    clearInterval(repaint);
    // A run closes its task stream when the feeder ends (it may still sit in a read of stdin).
    if (!ran) taskSource.close();
    attempts?.close();
    await results?.close();
    await taskCommand?.close();
    const unwritten = status.close();
    if (unwritten > 0) {
      const m = `the status file ${status.path} misses ${unwritten} line(s) that could not be written ` +
        `(see above); a resume with -r runs those tasks again`;
      log.error(m);
      say(`disbatch: ${m}`);
    }
    for (const m of actions.finishMessages) say(m.startsWith("disbatch") ? m : `disbatch: ${m}`);
    const since = ran ? fileSource?.since?.() : undefined;
    if (since && since.kind !== "same") {
      const m = since.kind === "grown"
        ? `the task file ${inv.taskFile} grew by ${since.grewBy} byte(s) during the run; a run reads its task ` +
          `file as it was when it started, so what was added did not run. To run it (what ran is skipped): ` +
          resumeCommand(runArgv, `${uid}_status.txt`, plan.prefixNamesFiles)
        : `the task file ${inv.taskFile} was changed during the run, after the run had read it: the run ran it ` +
          `as it was (edit a copy of a task file, never the one a run is reading)`;
      log.warn(m);
      say(`disbatch: warning: ${m}`);
    }
    // Its tasks came on stdin: a resume needs the same lines there again.
    const fromStdin = inv.taskCommand === undefined && inv.taskFile === "-"
      ? "\n  (with the same task lines on its stdin again, e.g. `… | disbatch -r …` or `< TASKFILE`)"
      : "";
    if (sched.endedByWalltime) {
      const again = resumeCommand(runArgv, `${uid}_status.txt`, plan.prefixNamesFiles) + fromStdin;
      log.info(`To resume: ${again}`);
      say(
        `disbatch: to run what is left${
          Deno.env.get("SLURM_JOB_ID") ? " in a new allocation (sbatch ...)" : ""
        }, ` +
          `from ${Deno.cwd()}:\n  ${again}`,
      );
    }
    const left = sched.snapshot();
    if (
      code > 128 && code < 160 && leftForResume(left)
    ) {
      // Stopped by a signal (Ctrl-C, a TERM): the command that runs what it did not.
      const again = resumeCommand(runArgv, `${uid}_status.txt`, plan.prefixNamesFiles) + fromStdin;
      log.info(`To resume: ${again}`);
      say(`disbatch: to run what is left, from ${Deno.cwd()}:\n  ${again}`);
    }
    if (ran) {
      progress.done(left, {
        startedAt,
        statusPath: `${uid}_status.txt`,
        failures: sched.firstFailures,
        ...(attempts || isFile(`${uid}_attempts.txt`) ? { attemptsPath: `${uid}_attempts.txt` } : {}),
      }, (l) => log.info(l.replace(/^disbatch: /, "")));
    }
    await retire.flush();
    await web?.close();
    if (ran) await mailer?.end(sched.snapshot(), code, actions.finishMessages);
    await peers.watchers.farewell(); // monitors see the final counts before the connection closes
    server.close();
    // Contexts of running allocations see the run end and leave (their jobs complete); pending ones
    // and any still there after a few seconds are cancelled.
    await allocator?.close();
    const allocLine = allocator?.summary();
    if (allocLine) {
      log.info(allocLine.replace(/^disbatch: /, ""));
      say(allocLine);
    }
    auto.kill("SIGTERM");
    untrapSignals();
    auto.close();
    let exit = unwritten > 0 && code === 0 ? 3 : code;
    // A task program that failed after its output ended (its tasks all ran) still makes the run fail.
    const late = intake.failed ? undefined : taskCommand?.exitFailure;
    if (late !== undefined) {
      say(`disbatch: ${late} after it ended its output`);
      log.error(`${late} after it ended its output`);
      if (exit === 0) exit = 1;
    }
    eventLog?.close();
    log.info(`Run ended with exit status ${exit}`);
    journal.ended(exit);
    try {
      Deno.removeSync(`${uid}_address`);
    } catch { /* gone */ }
    log.close();
    return exit;
  }
}

/** @param path a file @returns whether it exists */
function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * The driver: the one await loop that wires the task stream, the {@linkcode Scheduler}, the TCP
 * server, the engines' launchers, the status file, signals and the terminal together. The parts
 * are adapters of their own: {@linkcode preflight} and {@linkcode prescan} check the command line
 * and the task file, {@linkcode listenForPeers} binds the listener, {@linkcode ActionRunner}
 * carries out the scheduler's actions, {@linkcode DriverPeers} handles what peers say, and
 * {@linkcode AutoContext} starts the driver's own engines.
 *
 * @module
 */

import { DashboardTracker } from "../lib/dashboard.ts";
import { renderDbUtil } from "../lib/dbutil.ts";
import { allocNodeCount, type DriverInvocation } from "../lib/driver_options.ts";
import type { RunInfo } from "../lib/protocol.ts";
import { ResumeMismatchError } from "../lib/resume.ts";
import { type Action, Scheduler, type SchedulerOptions, WALLTIME_MARGIN_S } from "../lib/scheduler.ts";
import { type DriverEvent, react as reactTo } from "../lib/reactor.ts";
import { EventLog } from "./event_log.ts";
import { resumeCommand } from "../lib/resume_command.ts";
import { findRunEnd } from "./walltime.ts";
import { Allocator, checkAllocArgs } from "./allocator.ts";
import { ResultsFile } from "./results_out.ts";
import { TaskCommand } from "./task_command.ts";
import { UsageError } from "../lib/cli.ts";
import { ActionRunner } from "./actions.ts";
import { AutoContext } from "./auto_context.ts";
import { listenForPeers } from "./listen.ts";
import { Logger, RateLimitedWarn } from "./log.ts";
import { DriverPeers } from "./peers.ts";
import { preflight } from "./preflight.ts";
import { Progress } from "./progress.ts";
import { RetireManager } from "./retire.ts";
import { planUid, RunFileError, RunLock, StatusWriter } from "./run_files.ts";
import type { Reattach } from "./reattach.ts";
import { parseLock } from "../lib/run_lock.ts";
import { parseDriverAddress } from "../lib/journal.ts";
import { connectWithin, splitAddress } from "./transport.ts";
import { jobIdOf, taskFileName } from "../lib/naming.ts";
import { JournalFile, publishAddress } from "./journal_file.ts";
import { RUN_NOTE_VAR } from "../lib/launcher.ts";
import { resolve } from "node:path";
import { RunMailer } from "./run_mail.ts";
import { selfCommand } from "./self_command.ts";
import { DriverServer, type Peer } from "./server.ts";
import { trapSignals } from "./signals.ts";
import { TaskIntake } from "./task_intake.ts";
import {
  isRegularFile,
  openTaskFile,
  osErrorText,
  prescan,
  readTaskItems,
  TaskFileChangedError,
} from "./task_source.ts";
import { type Dashboard, newDashboardToken, startDashboard } from "./web.ts";

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

/**
 * Run the driver.
 * @param inv parsed command line
 * @returns exit status
 */
export async function runDriver(inv: DriverInvocation, re?: Reattach): Promise<number> {
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
      prefixNamesFiles: re.uid === resolve(inv.prefix),
    }
    : planUid(inv.prefix, streamName(inv));
  refuseOwnStatusFile(inv, plan.uid);
  if (re) await clearDeadDriversLock(re.uid, hostname);
  // One run per prefix: a second driver stops here, before it touches any file of the first.
  const lock = RunLock.acquire(plan.uid, hostname, inv.prefix);
  try {
    return await runLocked(inv, hostname, table, taskSource, plan, re);
  } finally {
    lock.release();
  }
}

/**
 * The task stream's name in run file names and `DISBATCH_NAMETASKS`: `--name`, else the task
 * file's, else the task program's (`./make_tasks.py -n 3` → `make_tasks.py`).
 */
function streamName(inv: DriverInvocation): string {
  if (inv.name !== undefined) return inv.name;
  if (inv.taskCommand === undefined) return inv.taskFile;
  const first = inv.taskCommand.trim().split(/\s+/)[0]!;
  return first.split("/").filter(Boolean).pop()?.replace(/[^\w.+-]/g, "") || "taskcommand";
}

/**
 * `-r X_status.txt -p X` would truncate the very file it resumes from: refuse it.
 * @throws {RunFileError} (exit 2)
 */
function refuseOwnStatusFile(inv: DriverInvocation, uid: string): void {
  const real = (p: string) => {
    try {
      return Deno.realPathSync(p);
    } catch {
      return resolve(p);
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

async function runLocked(
  inv: DriverInvocation,
  hostname: string,
  table: ReturnType<typeof preflight>,
  fileSource: Awaited<ReturnType<typeof openTaskFile>> | undefined,
  plan: ReturnType<typeof planUid>,
  re: Reattach | undefined,
): Promise<number> {
  const { uid, jobId, nameTasks } = plan;
  const displayName = inv.taskCommand !== undefined
    ? `the task command (${inv.taskCommand})`
    : inv.taskFile === "-"
    ? "stdin"
    : inv.taskFile;
  let results: ResultsFile | undefined;
  let taskCommand: TaskCommand | undefined;
  const { printed, empty: knownEmpty, total } = inv.taskCommand === undefined && isRegularFile(inv.taskFile)
    ? await prescan(inv, displayName, table)
    : { printed: new Set<string>(), empty: false, total: undefined };

  // When the run must be over (--end-time, --walltime, the Slurm job's limit): checked before any file is made.
  const endNotes: string[] = [];
  const runEnd = await findRunEnd(inv, Deno.env.toObject(), Date.now() / 1000, (m) => endNotes.push(m));
  if (runEnd) {
    const left = runEnd.end - Date.now() / 1000;
    if (left <= WALLTIME_MARGIN_S) {
      throw new RunFileError(
        `The run would have to end ${
          left > 0 ? `in ${Math.round(left)} s` : "before it starts"
        } (${runEnd.source}): ` +
          `no time to run anything; give a later --end-time or a longer --walltime`,
        2,
      );
    }
  }
  if (inv.results !== undefined) {
    try {
      results = new ResultsFile(inv.results, (m) => {
        log.warn(m);
        say(`disbatch: ${m}`);
      }, re !== undefined);
    } catch (e) {
      throw new UsageError(`argument --results: can't open '${inv.results}': ${osErrorText(e, inv.results)}`);
    }
  }
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
  const self = selfCommand();
  const dbUtilPath = `${uid}_dbUtil.sh`;
  Deno.writeTextFileSync(dbUtilPath, renderDbUtil({ uid, addresses, secret, self }), { mode: 0o700 });
  Deno.chmodSync(dbUtilPath, 0o700);
  log.info(`Listening on ${addresses.join(", ")}; dbUtil.sh is ${dbUtilPath}`);

  const epoch = `${hostname}:${Deno.pid}:${Date.now()}`;
  const run: RunInfo = {
    jobId,
    nameTasks,
    cwd: Deno.cwd(),
    uid,
    address: addresses[0]!,
    logLevel: inv.logLevel,
    killGrace: inv.killGrace,
    driverGrace: inv.driverGrace,
    epoch,
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
  });
  const schedOptions: SchedulerOptions = {
    failFast: inv.failFast,
    // With --alloc engines come and go with the allocations: the run waits for them as with -S.
    startupOnly: inv.startupOnly || inv.alloc !== undefined,
    exitCode: inv.exitCode,
    crashLimit: inv.crashLimit,
    retries: inv.retries,
    timeout: inv.timeout,
    badNodeAfter: inv.badNodeAfter,
    ...(runEnd ? { stopAt: runEnd.end - WALLTIME_MARGIN_S } : {}),
    driverHost: hostname,
    driverPid: Deno.pid,
  };
  const sched = new Scheduler(schedOptions);
  const progress = new Progress(inv.quiet, total);
  const startedAt = Date.now() / 1000;
  // Long tasks produce no events for a while: keep the clock, rate and ETA of the line moving.
  const repaint = progress.active
    ? setInterval(() => progress.update(() => sched.snapshot()), 1000)
    : undefined;
  const now = () => Date.now() / 1000;
  const say = (line: string) => progress.message(line);
  // Trouble writing the status file (a full disk) is said once, and its end too; the run goes on.
  const status = new StatusWriter(`${uid}_status.txt`, inv.statusHeader, (m) => {
    log.warn(m);
    say(`disbatch: ${m}`);
  }, re !== undefined);
  const engines = new Map<number, Peer>();
  const retire = new RetireManager(log, (m) => say(m));
  const tracker = inv.web ? new DashboardTracker() : undefined;

  // ---- the feeder's flow control ----
  let wake: (() => void) | undefined;
  const wakeFeeder = () => {
    if (wake && sched.demand() > 0) {
      const w = wake;
      wake = undefined;
      w();
    }
  };

  const actions = new ActionRunner({
    engines,
    log,
    say,
    tracker,
    now,
    record(r, attempt) {
      tracker?.record(r);
      mailer?.record(r);
      status.add(r);
      results?.add(r, attempt);
      taskCommand?.sendResult(r, attempt);
    },
    attempt(r) {
      attempts ??= new StatusWriter(`${uid}_attempts.txt`, false, (m) => log.warn(m), re !== undefined);
      attempts.add(r);
    },
    settled() {
      progress.update(() => sched.snapshot());
      wakeFeeder();
    },
    sending: (rank, ids) => journal.sent(rank, ids),
  });
  // A re-attached driver's scheduler starts anew: its events go to a stream of their own.
  const eventLog = inv.eventLog === undefined ? undefined : new EventLog(
    re ? `${inv.eventLog}.${re.journal.drivers.length + 1}` : inv.eventLog,
    schedOptions,
    (m) => {
      log.warn(m);
      say(`disbatch: ${m}`);
    },
  );
  /** Every change to the run's state goes through here: an event in, the scheduler's actions carried out. */
  const react = (ev: DriverEvent) => {
    const seen = eventLog ? EventLog.encode(ev) : "";
    const a: Action[] = reactTo(sched, ev);
    eventLog?.step(seen, a);
    actions.apply(a);
  };
  const ports = { sched, react, now, log, say };
  const peers = new DriverPeers({
    ...ports,
    retire,
    tracker,
    engines,
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
    engineOn: (context, host) =>
      [...engines.values()].some((p) => p.hello.context === context && p.hello.host === host),
    ...(re ? { restore: restoredAuto(re) } : {}),
    hasJoined: (launchId) => peers.hasJoined(launchId),
  });
  const intake = new TaskIntake({
    ...ports,
    table,
    resume: { retry: inv.retry, force: inv.forceResume },
    ...(re ? { recorded: re.recorded } : {}),
    printed,
    startContext() {
      // -S: contexts come from dbUtil.sh (the path was printed at start); --alloc: from the
      // allocations, plus -s hosts when given.
      if (!inv.startupOnly && (inv.alloc === undefined || inv.context.sshNodes.length > 0)) auto.start();
    },
  });

  if (re) restoreRun(re, react, peers, say);
  const server = new DriverServer(listener, secret, log, () => run);
  server.start(peers);
  const allocator = inv.alloc
    ? new Allocator({
      args: inv.alloc,
      maxAllocs: inv.maxAllocs,
      backlog: inv.allocBacklog,
      nodesPerAlloc: allocNodeCount(inv.alloc),
      ...(inv.maxAllocNodes !== undefined ? { maxNodes: inv.maxAllocNodes } : {}),
      uid,
      dbUtilPath: resolve(dbUtilPath),
      log,
      say,
      now,
      work: () => {
        const snap = sched.snapshot();
        const labels = new Map(snap.contexts.map((c) => [c.id, c.label]));
        const freeSlots = new Map<string, number>();
        const slots = new Map<string, { n: number; nodes: string[] }>();
        for (const e of snap.engines) {
          if (e.state !== "active") continue;
          const l = labels.get(e.context) ?? "";
          freeSlots.set(l, (freeSlots.get(l) ?? 0) + Math.max(0, e.slots - e.running));
          const x = slots.get(l) ?? { n: 0, nodes: [] };
          x.n += e.slots;
          x.nodes.push(e.host);
          slots.set(l, x);
        }
        for (const [l, x] of slots) allocator?.slots(l, x.n, x.nodes.join(","));
        return { ready: sched.readyWork(), freeSlots, over: snap.phase !== "running" };
      },
      endMoved: (label, endsAt) => react({ kind: "contextEnd", label, endsAt, now: now() }),
    })
    : undefined;
  allocator?.start();
  let web: Dashboard | undefined;
  if (inv.web && tracker) {
    const webRejections = new RateLimitedWarn(
      log,
      (n) => `Dashboard: ${n} more connection(s) refused or closed (not logged one by one)`,
    );
    web = startDashboard({
      hostname: "0.0.0.0",
      port: 0,
      token: newDashboardToken(),
      state: () =>
        tracker.state({ ...sched.snapshot(), uid, startedAt, ...(allocator?.state() ?? {}) }, now()),
      stop: (t) => peers.stop(t),
      onReject: (m) => webRejections.warn(m, now()),
    });
    Deno.writeTextFileSync(`${uid}_url`, web.url + "\n", { mode: 0o600 });
    say(`disbatch: dashboard at ${web.url} (also in ${uid}_url)`);
    log.info(`Dashboard at ${web.url.replace(/token=[^&]*/, "token=…")}`);
  }
  const mailer = inv.mailTo ? new RunMailer(inv.mailTo, inv.mailFreq ?? 1, uid, log, say) : undefined;
  let attempts: StatusWriter | undefined;
  const joinWatcher = setInterval(() => {
    peers.sendSnapshots();
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

  const untrapSignals = trapSignals({
    first(name, n) {
      log.info(`Received ${name}: killing running tasks`);
      react({
        kind: "abort",
        exitCode: 128 + n,
        message:
          `disbatch: received ${name}: the run was stopped; the tasks it killed are flagged K in the ` +
          `status file or not recorded, and a plain -r runs them again`,
        now: now(),
      });
    },
    again(name, n) {
      say(`disbatch: second ${name}: exiting now`);
      // Engines kill their tasks at once rather than wait for a driver that is not coming back.
      for (const p of engines.values()) {
        p.link.send({ kind: "kill", reason: `driver received a second ${name}` });
      }
      allocator?.cancelNow();
      status.close();
      journal.ended(128 + n);
      const flushed = Promise.all([...engines.values()].map((p) => p.link.flush()));
      Promise.race([flushed, new Promise((r) => setTimeout(r, 300))]).finally(() => {
        auto.kill("SIGKILL");
        Deno.exit(128 + n);
      });
    },
  });

  // ---- the feeder: the task stream, read as fast as the scheduler asks for work ----
  if (inv.taskCommand !== undefined) {
    taskCommand = new TaskCommand(inv.taskCommand);
    log.info(`Tasks come from the task command (${inv.taskCommand})`);
  }
  const taskSource = fileSource ?? taskCommand!.source;
  let feedError = false;
  const feed = async () => {
    try {
      for await (const item of readTaskItems(taskSource, displayName)) {
        if (sched.phase !== "running") break;
        if (!intake.take(item)) continue;
        while (sched.demand() <= 0 && sched.phase === "running") await new Promise<void>((r) => wake = r);
      }
      intake.closePerEngine();
      // A task program that failed, or wrote nothing, ends the run: its stream is not complete.
      const why = await taskCommand?.failure(1000);
      if (why !== undefined) {
        say(`disbatch: ${why}`);
        log.error(why);
        feedError = true;
        react({
          kind: "stopRun",
          exitCode: 1,
          message:
            "The run stops here: tasks that had started finished and are in the status file; no other " +
            "task runs",
          now: now(),
        });
        return;
      }
    } catch (e) {
      if (e instanceof ResumeMismatchError || e instanceof SyntaxError || e instanceof TaskFileChangedError) {
        say(`disbatch: ${e.message}`);
        log.error(e.message);
        feedError = true;
        intake.closePerEngine();
        react({
          kind: "stopRun",
          exitCode: 2,
          message: "The rest of the task file was not run; tasks that ran are in the status file",
          now: now(),
        });
        return;
      }
      throw e;
    } finally {
      taskSource.close();
    }
    if (sched.phase === "running") react({ kind: "tasksEnded", now: now() });
  };

  if (knownEmpty) {
    log.info("No tasks to run.");
    say("No tasks to run.");
    await allocator?.close();
    status.close();
    server.close();
    clearInterval(joinWatcher);
    clearInterval(repaint);
    await web?.close();
    untrapSignals();
    taskSource.close();
    journal.ended(0);
    try {
      Deno.removeSync(`${uid}_address`);
    } catch { /* gone */ }
    return 0;
  }
  if (inv.startupOnly) {
    const line = `Run this script to add compute contexts:\n   ${dbUtilPath}`;
    try {
      // With --results - stdout carries only results.
      if (inv.results === "-") say(line);
      else console.log(line);
    } catch { /* stdout closed: the path is in the driver log */ }
  }
  const feeding = feed();
  const code = await actions.finished;
  // The feeder may sit in a read of stdin that will never return; do not wait for it long.
  wake?.();
  await Promise.race([
    feeding.catch((e) => log.error(`Feeder failed: ${e}`)),
    new Promise((r) => setTimeout(r, 200)),
  ]);
  if (sched.nothingToDo && !feedError) say("No tasks to run.");
  clearInterval(joinWatcher);
  clearInterval(endWatcher);
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
  clearInterval(repaint);
  for (const m of actions.finishMessages) say(m);
  if (sched.endedByWalltime) {
    const again = resumeCommand(Deno.args, `${uid}_status.txt`, plan.prefixNamesFiles);
    log.info(`To resume: ${again}`);
    say(
      `disbatch: to run what is left${
        Deno.env.get("SLURM_JOB_ID") ? " in a new allocation (sbatch ...)" : ""
      }, ` +
        `from ${Deno.cwd()}:\n  ${again}`,
    );
  }
  progress.done(sched.snapshot(), {
    startedAt,
    statusPath: `${uid}_status.txt`,
    failures: sched.firstFailures,
  });
  await retire.flush();
  await web?.close();
  await mailer?.end(sched.snapshot(), code, actions.finishMessages);
  await peers.farewell(); // monitors see the final counts before the connection closes
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
  const late = feedError ? undefined : taskCommand?.exitFailure;
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

/** The driver's own context of the last driver, and its engines that may come back. */
function restoredAuto(re: Reattach): { id: number; hosts: Set<string>; holdUntil: number } | undefined {
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
function restoreRun(
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
  for (const [id, c] of j.contexts) {
    react({
      kind: "contextJoined",
      id,
      label: c.label,
      taskLimit: c.taskLimit,
      engines: coming.get(id) ?? 0,
      retires: c.retires,
      ...(c.keepHost !== undefined ? { keepHost: c.keepHost } : {}),
      ...(c.endsAt !== undefined ? { endsAt: c.endsAt } : {}),
      assigned: j.assigned.get(id) ?? 0,
      now,
    });
  }
  const maxRank = Math.max(-1, ...j.engines.keys());
  const maxContext = Math.max(-1, ...j.contexts.keys());
  peers.restore(j.contexts, alive, maxRank + 1, maxContext + 1);
  react({
    kind: "held",
    sent: [...re.inFlight],
    until: re.holdUntil,
    expected: [...alive].map(([r, e]) => [r, e.context]),
    now,
  });
  react({ kind: "attempts", attempts: [...re.attempts], now });
  const wait = Math.max(0, Math.round(re.holdUntil - now));
  say(
    `disbatch: re-attaching to ${re.uid}: ${re.recorded.size} finished item(s) kept, ${re.inFlight.size} task(s) ` +
      `in flight on ${alive.size} engine(s) of the last driver` +
      (re.inFlight.size ? `, held for them for up to ${wait} s` : ""),
  );
}

/**
 * Re-attaching from another host: the last driver's lock names a host where its PID cannot be
 * checked, and its heartbeat takes a minute to go stale. If nothing answers at the address it
 * published, it is dead: its lock is taken over now.
 */
async function clearDeadDriversLock(uid: string, hostname: string): Promise<void> {
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

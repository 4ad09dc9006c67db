/**
 * The driver: the one await loop that wires the task stream, the {@linkcode Scheduler}, the TCP
 * server, the engines' launchers, the status file, signals and the terminal together.
 *
 * @module
 */

import { planContext } from "../lib/context_plan.ts";
import { parseSshNodeList } from "../lib/ssh.ts";
import { UsageError } from "../lib/cli.ts";
import type { DriverInvocation } from "../lib/driver_options.ts";
import { renderDbUtil } from "../lib/dbutil.ts";
import type { RunInfo, ToDriver } from "../lib/protocol.ts";
import { ResumeMismatchError, type ResumeTable, skippedRecord } from "../lib/resume.ts";
import { type Action, Scheduler } from "../lib/scheduler.ts";
import type { TaskFileItem } from "../lib/task_file.ts";
import type { PerEngineTask, Task } from "../lib/types.ts";
import { lastLogLine, type LaunchedEngine, launchEngine } from "./launch.ts";
import { Logger } from "./log.ts";
import { planUid, readResumeFiles, StatusWriter } from "./run_files.ts";
import { selfCommand } from "./self_command.ts";
import { describe, DriverServer, type Peer } from "./server.ts";
import { isRegularFile, readTaskItems } from "./task_source.ts";
import { Progress } from "./progress.ts";
import { RetireManager } from "./retire.ts";
import { DashboardTracker } from "../lib/dashboard.ts";
import { type Dashboard, newDashboardToken, startDashboard } from "./web.ts";
import { RunMailer } from "./run_mail.ts";

const encoder = new TextEncoder();

function stderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** Python's `[Errno 2] No such file or directory: 'x'` style, which argparse users know. */
export function osErrorText(e: unknown, path: string): string {
  if (e instanceof Deno.errors.NotFound) return `[Errno 2] No such file or directory: '${path}'`;
  if (e instanceof Deno.errors.PermissionDenied) return `[Errno 13] Permission denied: '${path}'`;
  if (e instanceof Deno.errors.IsADirectory) return `[Errno 21] Is a directory: '${path}'`;
  return e instanceof Error ? e.message : String(e);
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

/** Open the task file the way argparse's FileType does, with its message on failure. */
async function openTaskFile(
  path: string,
): Promise<{ read(p: Uint8Array): Promise<number | null>; close(): void }> {
  if (path === "-") return { read: (p) => Deno.stdin.read(p), close: () => {} };
  try {
    return await Deno.open(path, { read: true });
  } catch (e) {
    throw new UsageError(`argument taskfile: can't open '${path}': ${osErrorText(e, path)}`);
  }
}

/**
 * Check a regular task file before anything runs: directive errors and resume mismatches.
 * @returns warnings already printed, and whether the file holds anything to do
 */
async function prescan(
  inv: DriverInvocation,
  name: string,
  table: ResumeTable | undefined,
): Promise<{ printed: Set<string>; empty: boolean }> {
  const f = await openTaskFile(inv.taskFile);
  const printed = new Set<string>();
  let empty = true;
  try {
    // Without -r only directives matter: a REPEAT is not walked (resume needs every id).
    for await (const item of readTaskItems(f, name, table !== undefined)) {
      if (item.kind === "warning") {
        printed.add(item.message);
        stderr(`disbatch: warning: ${item.message}`);
      } else if (item.kind === "task" || item.kind === "barrier") empty = false;
      if (item.kind === "task" && table) {
        const d = table.decide(item.task, { retry: inv.retry, force: inv.forceResume });
        if (d.action === "mismatch") throw new ResumeMismatchError(item.task, d.record, d.source);
      }
    }
  } finally {
    f.close();
  }
  return { printed, empty };
}

/**
 * Run the driver.
 * @param inv parsed command line
 * @returns exit status
 */
export async function runDriver(inv: DriverInvocation): Promise<number> {
  const hostname = Deno.hostname();
  if (inv.gpu) stderr("-g/--gpu is deprecated. It is no longer needed and will be ignored.");
  if (inv.context.sshNodes.length > 0) {
    try {
      parseSshNodeList(inv.context.sshNodes); // a bad -s is a usage error before anything starts
    } catch (e) {
      throw new UsageError(`argument -s/--ssh-node: ${e instanceof Error ? e.message : e}`);
    }
  }
  if (inv.logFile !== undefined) {
    // argparse's FileType('w') opens (and truncates) the log at parse time; so do we.
    try {
      Deno.openSync(inv.logFile, { write: true, create: true, truncate: true }).close();
    } catch (e) {
      throw new UsageError(`argument --logfile: can't open '${inv.logFile}': ${osErrorText(e, inv.logFile)}`);
    }
  }
  const table = inv.resumeFrom.length ? readResumeFiles(inv.resumeFrom) : undefined;
  if (table && table.badLines > 0) {
    stderr(
      `disbatch: warning: ${table.badLines} line(s) of ${
        inv.resumeFrom.join(", ")
      } could not be read as status lines and were ignored`,
    );
  }
  const taskSource = await openTaskFile(inv.taskFile);
  const { uid, jobId, nameTasks } = planUid(inv.prefix, inv.taskFile);
  const displayName = inv.taskFile === "-" ? "stdin" : inv.taskFile;
  let printed = new Set<string>();
  let knownEmpty = false;
  if (isRegularFile(inv.taskFile)) {
    const p = await prescan(inv, displayName, table?.table);
    printed = p.printed;
    knownEmpty = p.empty;
  }

  const secret = randomHex(32);
  let listener: Deno.Listener;
  let addresses: string[];
  const wanted = inv.useAddress ?? "0.0.0.0:0";
  const at = wanted.lastIndexOf(":");
  const bindHost = wanted.slice(0, at);
  try {
    listener = Deno.listen({ hostname: bindHost, port: Number(wanted.slice(at + 1)) });
  } catch (e) {
    throw new UsageError(
      `argument --use-address: cannot listen on ${wanted}: ${e instanceof Error ? e.message : e}`,
    );
  }
  const port = (listener.addr as Deno.NetAddr).port;
  if (bindHost !== "0.0.0.0" && bindHost !== "::") addresses = [`${bindHost}:${port}`];
  else {
    // The host name first: each engine resolves it on its own node (the reference advertised the
    // driver's own resolution, often 127.0.x.1, which remote nodes cannot use), then our IPv4s.
    const ips = Deno.networkInterfaces().filter((n) => n.family === "IPv4" && !n.address.startsWith("127."))
      .map((n) => `${n.address}:${port}`);
    addresses = [`${hostname}:${port}`, ...ips, `127.0.0.1:${port}`];
  }
  const status = new StatusWriter(`${uid}_status.txt`, inv.statusHeader);
  const log = new Logger(inv.logFile ?? `${uid}_driver.log`, inv.logLevel);
  log.info(`Starting run ${uid} (pid ${Deno.pid} on ${hostname}); tasks from ${displayName}`);

  const connect = addresses.join(",");
  const localConnect = addresses.length === 1 ? connect : [`127.0.0.1:${port}`, ...addresses].join(",");
  const self = selfCommand();
  const dbUtilPath = `${uid}_dbUtil.sh`;
  Deno.writeTextFileSync(dbUtilPath, renderDbUtil({ uid, addresses, secret, self }), { mode: 0o700 });
  Deno.chmodSync(dbUtilPath, 0o700);
  log.info(`Listening on ${addresses.join(", ")}; dbUtil.sh is ${dbUtilPath}`);

  const run: RunInfo = {
    jobId,
    nameTasks,
    cwd: Deno.cwd(),
    uid,
    address: addresses[0]!,
    logLevel: inv.logLevel,
  };
  const sched = new Scheduler({
    failFast: inv.failFast,
    startupOnly: inv.startupOnly,
    exitCode: inv.exitCode,
    maxAttempts: 3,
    driverHost: hostname,
    driverPid: Deno.pid,
  });
  const progress = new Progress(inv.quiet);
  const startedAt = Date.now() / 1000;
  // Long tasks produce no events for a while: keep the clock, rate and ETA of the line moving.
  const repaint = progress.active
    ? setInterval(() => progress.update(() => sched.snapshot()), 1000)
    : undefined;
  const now = () => Date.now() / 1000;
  const enginesByRank = new Map<number, Peer>();
  const launched = new Map<string, LaunchedEngine>();
  const joinedLaunches = new Set<string>();
  const contextsById = new Map<number, { label: string; peer?: Peer }>();
  const contextLabels = new Map<number, string>();
  let nextRank = 0;
  let nextContext = 0;
  let finished: ((code: number) => void) | undefined;
  const finishedP = new Promise<number>((r) => finished = r);
  let outgoing = new Map<number, PerEngineTask[] | unknown[]>();
  let flushQueued = false;
  const killTimers = new Map<number, ReturnType<typeof setTimeout>>();
  const retire = new RetireManager(log, (m) => stderr(m));
  const contextLogs: Logger[] = [];
  const tracker = inv.web ? new DashboardTracker() : undefined;

  const flushAssignments = () => {
    flushQueued = false;
    const o = outgoing;
    outgoing = new Map();
    for (const [rank, tasks] of o) {
      const link = enginesByRank.get(rank)?.link;
      if (!link) continue;
      // Commands can be up to the kernel's 128 KiB argument limit each: keep frames near 1 MiB.
      let batch: Task[] = [];
      let size = 0;
      for (const t of tasks as Task[]) {
        if (batch.length > 0 && size + t.command.length > 1 << 20) {
          link.send({ kind: "tasks", tasks: batch });
          batch = [];
          size = 0;
        }
        batch.push(t);
        size += t.command.length + 64;
      }
      if (batch.length > 0) link.send({ kind: "tasks", tasks: batch });
    }
  };

  const apply = (actions: Action[]) => {
    for (const a of actions) {
      switch (a.kind) {
        case "assign": {
          tracker?.assigned(a.rank, enginesByRank.get(a.rank)?.hello.host ?? "", a.task.id, now());
          let l = outgoing.get(a.rank);
          if (!l) outgoing.set(a.rank, l = []);
          (l as unknown[]).push(a.task);
          if (!flushQueued) {
            flushQueued = true;
            queueMicrotask(flushAssignments);
          }
          break;
        }
        case "stopEngine":
          flushAssignments();
          enginesByRank.get(a.rank)?.link.send({ kind: "stop" });
          break;
        case "killEngine": {
          flushAssignments();
          const p = enginesByRank.get(a.rank);
          p?.link.send({ kind: "kill", reason: "run aborted" });
          if (p && !killTimers.has(a.rank)) {
            killTimers.set(a.rank, setTimeout(() => p.link.close("did not leave within 5 s of kill"), 5000));
          }
          break;
        }
        case "record":
          tracker?.record(a.record);
          mailer?.record(a.record);
          status.add(a.record);
          progress.record(a.record);
          if (log.debugEnabled) {
            log.debug(`Recorded task ${a.record.taskId} rc ${a.record.returnCode} on ${a.record.host}`);
          }
          break;
        case "log":
          if (a.level === "debug") log.debug(a.message);
          else if (a.level === "info") log.info(a.message);
          else if (a.level === "warn") {
            log.warn(a.message);
            progress.message(`disbatch: ${a.message}`);
          } else {
            log.error(a.message);
            progress.message(`disbatch: ${a.message}`);
          }
          break;
        case "finish":
          flushAssignments();
          for (const m of a.messages) log.info(m);
          finishMessages = a.messages;
          finished!(a.exitCode);
          break;
      }
    }
    progress.update(() => sched.snapshot());
    wakeFeeder();
  };
  let finishMessages: string[] = [];

  // ---- the server ----
  const server = new DriverServer(listener, secret, log, () => run);
  server.start({
    accepted(peer) {
      const h = peer.hello;
      if (h.role === "engine") {
        if (typeof h.slots !== "number" || h.slots < 1 || typeof h.context !== "number") {
          return { reject: "an engine must say its context and a slot count of at least 1" };
        }
        if (!contextLabels.has(h.context)) return { reject: `unknown context ${h.context}` };
        return { rank: nextRank++ };
      }
      return { rank: -1 };
    },
    joined(peer) {
      if (peer.hello.role === "engine") engineJoined(peer);
    },
    message(peer, msg) {
      onMessage(peer, msg);
    },
    closed(peer, reason) {
      if (peer.hello.role === "engine" && peer.rank !== undefined) {
        clearTimeout(killTimers.get(peer.rank));
        enginesByRank.delete(peer.rank);
        const clean = (peer as Peer & { said?: boolean }).said === true;
        apply(sched.engineGone(peer.rank, clean ? "finished" : reason, now()));
        retire.engineLeft(peer.rank, sched.phase === "running");
        tracker?.engineGone(peer.rank);
      }
      if (peer.hello.role === "context") {
        for (const [id, c] of contextsById) {
          if (c.peer === peer) {
            log.info(`Context ${c.label} (${id}) disconnected: ${reason}`);
            apply(sched.contextGone(id, now()));
          }
        }
      }
      if (peer.hello.role === "monitor") watchers.delete(peer);
    },
  });
  const watchers = new Set<Peer>();
  const watchState = () => {
    const snap = { ...sched.snapshot(), uid, startedAt };
    for (const e of snap.engines) {
      const p = enginesByRank.get(e.rank);
      if (p) e.lastHeard = p.link.lastHeard / 1000;
    }
    return snap;
  };

  const stopTarget = (t: { engine?: number; context?: number | string }): string => {
    if (t.engine !== undefined) {
      if (!enginesByRank.has(t.engine)) return `no engine ${t.engine}`;
      apply(sched.stopEngine(t.engine, now()));
      return `stopping engine ${t.engine}`;
    }
    // A label names every context that carries it; a number names one context.
    const ids = typeof t.context === "number"
      ? [t.context]
      : [...contextLabels].filter(([, l]) => l === t.context).map(([i]) => i);
    if (ids.length === 0 && typeof t.context === "string" && /^\d+$/.test(t.context)) {
      ids.push(Number(t.context));
    }
    const known = ids.filter((i) => contextLabels.has(i));
    if (known.length === 0) return `no context ${t.context}`;
    for (const i of known) apply(sched.stopContext(i, now()));
    return `stopping context${known.length > 1 ? "s" : ""} ${
      known.map((i) => `${contextLabels.get(i)} (${i})`).join(", ")
    }`;
  };
  let web: Dashboard | undefined;
  if (inv.web && tracker) {
    web = startDashboard({
      hostname: "0.0.0.0",
      port: 0,
      token: newDashboardToken(),
      state: () => tracker.state({ ...sched.snapshot(), uid, startedAt }, now()),
      stop: stopTarget,
    });
    Deno.writeTextFileSync(`${uid}_url`, web.url + "\n", { mode: 0o600 });
    progress.message(`disbatch: dashboard at ${web.url} (also in ${uid}_url)`);
    log.info(`Dashboard at ${web.url.replace(/token=[^&]*/, "token=…")}`);
  }
  const mailer = inv.mailTo ? new RunMailer(inv.mailTo, inv.mailFreq ?? 1, uid, log) : undefined;

  const onMessage = (peer: Peer, msg: ToDriver) => {
    const role = peer.hello.role;
    if (role === "engine") {
      const rank = peer.rank!;
      switch (msg.kind) {
        case "done":
          if (tracker) { for (const o of msg.outcomes) tracker.finished(rank, o); }
          apply(sched.tasksDone(rank, msg.outcomes, now()));
          return;
        case "released":
          apply(sched.released(rank, msg.ids, now()));
          return;
        case "bye":
          (peer as Peer & { said?: boolean }).said = true;
          return;
        case "pong":
          return;
      }
      log.warn(`Ignored "${msg.kind}" from ${describe(peer)}`);
      return;
    }
    switch (msg.kind) {
      case "pong":
        return;
      case "registerContext": {
        if (role !== "context") break;
        if (sched.phase !== "running") {
          peer.link.send({ kind: "runOver" });
          return;
        }
        const id = nextContext++;
        const label = msg.label || `SSH${id}`;
        contextsById.set(id, { label, peer });
        contextLabels.set(id, label);
        log.info(
          `Context ${label} (${id}, ${msg.contextKind}) registered from ${peer.hello.host}: ${msg.engines} engine(s), task limit ${msg.taskLimit}`,
        );
        apply(
          sched.contextJoined(id, label, msg.taskLimit, msg.engines, {
            retires: msg.retires === true,
            keepHost: msg.keepHost,
          }),
        );
        peer.link.send({ kind: "ack", message: `${id} ${label}` });
        return;
      }
      case "engineFailed":
        if (msg.launch && joinedLaunches.has(msg.launch)) {
          log.info(`Engine launcher on ${msg.host} (context ${msg.context}) ${msg.reason}`);
          return;
        }
        log.error(`Engine on ${msg.host} (context ${msg.context}) could not start: ${msg.reason}`);
        if (sched.phase === "running") {
          progress.message(`disbatch: engine on ${msg.host} could not start: ${msg.reason}`);
        }
        apply(sched.engineNotComing(msg.context, now(), `the engine on ${msg.host}`));
        return;
      case "contextDone":
        log.info(`Context ${contextLabels.get(msg.context) ?? msg.context} finished`);
        return;
      case "stopEngine":
        peer.link.send({ kind: "ack", message: stopTarget({ engine: msg.rank }) });
        return;
      case "stopContext":
        peer.link.send({ kind: "ack", message: stopTarget({ context: msg.context }) });
        return;
      case "watch":
        watchers.add(peer);
        peer.link.send({ kind: "snapshot", state: watchState() });
        return;
    }
    log.warn(`Ignored "${msg.kind}" from ${describe(peer)}`);
  };

  const joinWatcher = setInterval(() => {
    if (watchers.size === 0) return;
    const snap = watchState();
    for (const w of watchers) w.link.send({ kind: "snapshot", state: snap });
  }, 1000);

  const engineJoined = (p: Peer) => {
    const h = p.hello;
    enginesByRank.set(p.rank!, p);
    if (h.launch) joinedLaunches.add(h.launch);
    if (sched.perEngine) {
      p.link.send({ kind: "perEngine", start: sched.perEngine.start, stop: sched.perEngine.stop });
    }
    retire.engineJoined(p.rank!, h.context!, h.host);
    apply(sched.engineJoined(p.rank!, h.context!, h.host, h.slots!, now()));
  };

  // ---- signals ----
  let signalled = 0;
  const onSignal = (name: Deno.Signal, n: number) => () => {
    signalled++;
    if (signalled > 1) {
      stderr(`disbatch: second ${name}: exiting now`);
      for (const l of launched.values()) {
        try {
          Deno.kill(-l.child.pid, "SIGKILL");
        } catch { /* gone */ }
      }
      status.close();
      Deno.exit(128 + n);
    }
    log.info(`Received ${name}: killing running tasks`);
    apply(
      sched.abort(
        128 + n,
        `disbatch: received ${name}: running tasks were killed and recorded as failed (flag K); resume with -r to run them again`,
      ),
    );
  };
  const signals: [Deno.Signal, number][] = [["SIGINT", 2], ["SIGTERM", 15], ["SIGHUP", 1]];
  const handlers = signals.map(([s, n]) => {
    const h = onSignal(s, n);
    Deno.addSignalListener(s, h);
    return [s, h] as const;
  });

  // ---- the feeder ----
  let wake: (() => void) | undefined;
  const wakeFeeder = () => {
    if (wake && sched.demand() > 0) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  let contextStarted = false;
  const startContext = () => {
    if (contextStarted) return;
    contextStarted = true;
    if (inv.startupOnly) return; // -S: contexts come from dbUtil.sh; the path was printed at start
    launchAutoContext();
  };
  const launchAutoContext = () => {
    let srunOptionsText: string | undefined;
    const optFile = Deno.env.get("DISBATCH_SLURM_SRUN_OPTIONS_FILE");
    if (optFile) srunOptionsText = Deno.readTextFileSync(optFile);
    const plan = planContext(inv.context, {
      hostname,
      cores: navigator.hardwareConcurrency || 1,
      env: Deno.env.toObject(),
      srunOptionsText,
      contextNumber: 0,
    });
    for (const n of plan.notes) progress.message(n);
    for (const w of plan.warnings) progress.message(`disbatch: warning: ${w}`);
    const id = nextContext++;
    contextLabels.set(id, plan.label);
    contextsById.set(id, { label: plan.label });
    const usable = plan.engines.filter((e) => e.slots > 0);
    for (const e of plan.engines.filter((e) => e.slots <= 0)) {
      const msg = `${e.host} has no slot for tasks with -c ${
        inv.context.cpusPerTask ?? 1
      } (cores per task exceed its cores); no engine started there`;
      log.error(msg);
      progress.message(`disbatch: ${msg}`);
    }
    log.info(
      `Context ${plan.label} (${id}, ${plan.kind}): ${usable.map((e) => `${e.host}:${e.slots}`).join(", ")}`,
    );
    const retires = !inv.context.noRetire && (inv.context.retireCmd !== undefined || plan.kind === "slurm");
    apply(
      sched.contextJoined(id, plan.label, inv.context.taskLimit, usable.length, {
        retires,
        keepHost: plan.driverNode,
      }),
    );
    retire.contextPlanned(id, plan, inv.context);
    // The reference's context process kept <uid>_<label>.context.log; ours lives in the driver.
    const ctxLog = new Logger(`${uid}_${plan.label}.context.log`, inv.logLevel);
    ctxLog.info(
      `Context ${plan.label} (${plan.kind}) in driver pid ${Deno.pid}: ${
        usable.map((e) => `${e.host}:${e.slots} via ${e.via}`).join(", ") || "no usable node"
      }`,
    );
    contextLogs.push(ctxLog);
    let seq = 0;
    for (const e of usable) {
      let l: LaunchedEngine;
      try {
        l = launchEngine(e, {
          uid,
          label: plan.label,
          context: id,
          connect,
          localConnect,
          secret,
          envResource: inv.context.envResource,
        }, seq++);
      } catch (err) {
        const msg = `cannot start an engine on ${e.host}: ${err instanceof Error ? err.message : err}`;
        log.error(msg);
        progress.message(`disbatch: ${msg}`);
        apply(sched.engineNotComing(id, now(), `the engine on ${e.host}`));
        continue;
      }
      launched.set(l.launchId, l);
      l.status.then((s) => {
        launched.delete(l.launchId);
        ctxLog.info(
          `Engine launcher for ${e.host} exited with status ${s.code}${s.signal ? ` (${s.signal})` : ""}`,
        );
        if (!joinedLaunches.has(l.launchId)) {
          const last = lastLogLine(l.wrapLog);
          const msg =
            `engine on ${e.host} exited (status ${s.code}${
              s.signal ? `, ${s.signal}` : ""
            }) before joining the run; ` +
            `see ${l.wrapLog}${last ? `: ${last}` : ""}`;
          log.error(msg);
          if (sched.phase === "running") progress.message(`disbatch: ${msg}`);
          apply(sched.engineNotComing(id, now(), `the engine on ${e.host}`));
        } else if (s.code !== 0) {
          log.warn(`Engine launcher on ${e.host} exited with status ${s.code}; see ${l.wrapLog}`);
        }
      });
    }
  };

  const feed = async () => {
    const perEngineStart: PerEngineTask[] = [];
    const perEngineStop: PerEngineTask[] = [];
    let perEngineDone = false;
    const closePerEngine = () => {
      if (perEngineDone) return;
      perEngineDone = true;
      apply(sched.setPerEngine(perEngineStart, perEngineStop, now()));
      for (const p of enginesByRank.values()) {
        p.link.send({ kind: "perEngine", start: perEngineStart, stop: perEngineStop });
      }
    };
    try {
      for await (const item of readTaskItems(taskSource, displayName) as AsyncGenerator<TaskFileItem>) {
        if (sched.phase !== "running") break;
        switch (item.kind) {
          case "warning":
            if (!printed.has(item.message)) stderr(`disbatch: warning: ${item.message}`);
            log.warn(item.message);
            continue;
          case "perEngine":
            (item.task.phase === "start" ? perEngineStart : perEngineStop).push(item.task);
            // engines start with the first task or barrier; PERENGINE lines alone are no work
            continue;
          case "perEngineDone":
            closePerEngine();
            continue;
          case "barrier":
            startContext();
            apply(sched.addItem(item, now()));
            break;
          case "task": {
            startContext();
            const d = table?.table.decide(item.task, { retry: inv.retry, force: inv.forceResume });
            if (d?.action === "mismatch") throw new ResumeMismatchError(item.task, d.record, d.source);
            if (d?.action === "skip") {
              if (d.mismatch) {
                log.warn(`Task ${item.task.id} skipped by id although it changed (--force-resume)`);
              }
              apply(sched.addSkipped(skippedRecord(d.record), now()));
            } else apply(sched.addItem(item, now()));
            break;
          }
        }
        while (sched.demand() <= 0 && sched.phase === "running") await new Promise<void>((r) => wake = r);
      }
      closePerEngine();
    } catch (e) {
      if (e instanceof ResumeMismatchError || e instanceof SyntaxError) {
        stderr(`disbatch: ${e.message}`);
        log.error(e.message);
        feedError = true;
        closePerEngine();
        apply(
          sched.stopRun(2, "The rest of the task file was not run; tasks that ran are in the status file"),
        );
        return;
      }
      throw e;
    } finally {
      taskSource.close();
    }
    if (sched.phase === "running") apply(sched.endOfTasks(now()));
  };
  let feedError = false;

  if (knownEmpty) {
    log.info("No tasks to run.");
    stderr("No tasks to run.");
    status.close();
    server.close();
    clearInterval(joinWatcher);
    clearInterval(repaint);
    await web?.close();
    for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
    taskSource.close();
    return 0;
  }
  if (inv.startupOnly) console.log(`Run this script to add compute contexts:\n   ${dbUtilPath}`);
  const feeding = feed();
  const code = await finishedP;
  // The feeder may sit in a read of stdin that will never return; do not wait for it long.
  wake?.();
  await Promise.race([
    feeding.catch((e) => log.error(`Feeder failed: ${e}`)),
    new Promise((r) => setTimeout(r, 200)),
  ]);
  if (sched.nothingToDo && !feedError) stderr("No tasks to run.");
  clearInterval(joinWatcher);
  status.close();
  clearInterval(repaint);
  for (const m of finishMessages) stderr(m);
  progress.done(sched.snapshot(), {
    startedAt,
    statusPath: `${uid}_status.txt`,
    failures: sched.firstFailures,
  });
  await retire.flush();
  await web?.close();
  await mailer?.end(sched.snapshot(), code, finishMessages);
  if (watchers.size > 0) {
    // Monitors see the final counts before the connection closes.
    const last = watchState();
    for (const w of watchers) w.link.send({ kind: "snapshot", state: { ...last, phase: "done" } });
    await Promise.race([
      Promise.all([...watchers].map((w) => w.link.flush())),
      new Promise((r) => setTimeout(r, 500)),
    ]);
  }
  server.close();
  for (const l of launched.values()) {
    try {
      Deno.kill(-l.child.pid, "SIGTERM");
    } catch { /* gone */ }
  }
  for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
  for (const l of contextLogs) l.close();
  log.info(`Run ended with exit status ${code}`);
  log.close();
  return code;
}

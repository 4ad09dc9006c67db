/**
 * `<run>_dbUtil.sh [context options]` (= `disbatch --context DBUTIL …`): add a resource grant to a
 * running run — the nodes of the Slurm job it runs in (`sbatch -n 10 <run>_dbUtil.sh`) or the
 * `-s` hosts. It registers with the driver, starts one engine per node, reports engines that could
 * not start, retires nodes whose engine has left, and exits when all its engines have.
 *
 * @module
 */

import { parseArgv, UsageError } from "../lib/cli.ts";
import { describeEngines } from "../lib/context_plan.ts";
import { contextOptionsFrom, contextSpecs, DEFAULT_ENGINE_RESTARTS } from "../lib/driver_options.ts";
import { withDriverDefaults } from "../lib/context_options.ts";
import { ClientError, connectToDriver, whyNoDriver } from "./client.ts";
import { ContextRunner, planHere } from "./context_runner.ts";
import { Logger } from "./log.ts";
import { RetireManager } from "./retire.ts";
import { findRunEnd } from "./walltime.ts";
import { parseDriverAddress, replayJournal } from "../lib/journal.ts";
import { LAUNCH_ENV } from "../lib/launch_contract.ts";

/** The exit status the run `uid` ended with, from its journal; undefined while it has not ended. */
function endedWith(uid: string): number | undefined {
  try {
    return replayJournal(Deno.readTextFileSync(`${uid}_journal`)).ended;
  } catch {
    return undefined;
  }
}

/** A driver restarted with `--reattach` published itself since this context joined the run. */
function driverBack(run: { uid: string; epoch: string }): boolean {
  try {
    const pub = parseDriverAddress(Deno.readTextFileSync(`${run.uid}_address`));
    return pub !== undefined && pub.epoch !== run.epoch;
  } catch {
    return false; // no driver published: none came back
  }
}

function say(m: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(m + "\n"));
}

/**
 * Run a context.
 * @param args `DBUTIL_PATH` then context options
 * @returns exit status
 */
export async function contextMain(args: string[]): Promise<number> {
  try {
    return await addContext(args);
  } finally {
    dropEmptyLaunchLog();
  }
}

/**
 * `dbUtil.sh` sends this process's stdout to `<uid>_<pid>_context_launch.log`, for what a program it
 * starts might print there; one that stayed empty is removed rather than left behind, one per call.
 */
function dropEmptyLaunchLog(): void {
  try {
    const out = Deno.readLinkSync("/proc/self/fd/1");
    if (out.endsWith("_context_launch.log") && Deno.statSync(out).size === 0) Deno.removeSync(out);
  } catch { /* no /proc, or not such a file: nothing to do */ }
}

async function addContext(args: string[]): Promise<number> {
  const [, ...rest] = args;
  const { options, positionals } = parseArgv(rest, contextSpecs());
  if (positionals.length > 0) throw new UsageError(`unrecognized arguments: ${positionals.join(" ")}`);
  if (options.gpu) say("-g/--gpu is deprecated. It is no longer needed and will be ignored.");
  const own = contextOptionsFrom(options);
  let session;
  try {
    session = await connectToDriver("context");
  } catch (e) {
    // A run that ended (its journal says so): nothing to add to, as a late `sbatch dbUtil.sh` finds.
    const uid = Deno.env.get(LAUNCH_ENV.uid);
    const ended = uid === undefined ? undefined : endedWith(uid);
    if (ended !== undefined) {
      say(`Run done (exit status ${ended}), context not registering.`);
      return 0;
    }
    say(`disbatch: ${e instanceof ClientError ? e.message : e}`);
    return 1;
  }
  const run = session.run;
  // -c, -t and -E not given here are the driver's.
  const o = withDriverDefaults(own, run.contextDefaults);
  Deno.chdir(run.cwd);
  const env = Deno.env.toObject();
  const { plan, kind, usable, slotless, retires } = planHere(o, Deno.hostname());
  if (kind.implicit && !o.label) {
    throw new UsageError(
      "nothing to add: give -s HOST:N, or submit this script with sbatch to add a Slurm allocation",
    );
  }
  for (const w of plan.warnings) say(`disbatch: warning: ${w}`);
  let registered: { context: number; label: string } | undefined;
  let wake: (() => void) | undefined;
  let runOver = false;
  session.onMessage = (m) => {
    if (m.kind === "registered") registered = { context: m.context, label: m.label };
    else if (m.kind === "runOver") runOver = true;
    wake?.();
  };
  // An allocation with a time limit: the driver starts no task on it that cannot finish in time.
  const end = kind.timeLimited
    ? await findRunEnd({}, env, Date.now() / 1000, (m) => say(`disbatch: ${m}`))
    : undefined;
  session.link.send({
    kind: "registerContext",
    ...(end ? { endsAt: end.end } : {}),
    label: o.label ?? (kind.namesItself ? plan.label : ""),
    contextKind: plan.kind,
    taskLimit: o.taskLimit,
    retires,
    ...(plan.driverNode ? { keepHost: plan.driverNode } : {}),
    ...(plan.jobId ? { jobId: plan.jobId } : {}),
    engines: usable.length,
  });
  const deadline = Date.now() + 15000;
  while (!registered && !runOver && !session.link.isClosed && Date.now() < deadline) {
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, 200);
    });
  }
  if (runOver || session.link.isClosed) {
    say("Run done, context not registering.");
    session.link.close("done");
    return 0;
  }
  if (!registered) {
    say("disbatch: the driver did not answer the registration within 15 s");
    return 1;
  }
  const id = registered.context;
  const label = registered.label || plan.label;
  const log = new Logger(`${run.uid}_${label}.context.log`, run.logLevel);
  /** Launches whose engine joined the run (the driver says so): those are not started again here. */
  const joined = new Set<string>();
  session.onMessage = (m) => {
    if (m.kind === "engineJoined") joined.add(m.launch);
    else if (m.kind === "note") {
      // The driver's word on why an engine of this job leaves.
      log.info(m.text);
      say(`disbatch: ${m.text}`);
    }
  };
  log.info(
    `Context ${label} (${id}, ${plan.kind}) on ${Deno.hostname()} (pid ${Deno.pid}): ${
      describeEngines(usable)
    }`,
  );
  for (const e of slotless) {
    const msg = `${e.host} has no slot for tasks with -c ${o.cpusPerTask ?? 1}; no engine started there`;
    log.error(msg);
    say(`disbatch: ${msg}`);
  }
  const retire = new RetireManager(log, say);
  retire.contextPlanned(id, { ...plan, label }, o);
  const connect = Deno.env.get(LAUNCH_ENV.driver) ?? run.address;
  say(
    `disbatch: context ${label} (${id}) added to the run ${run.uid}: ${describeEngines(usable)}; ` +
      `this command stays until its engines leave (log: ${run.uid}_${label}.context.log)`,
  );
  /** Launchers that ended well (their engine finished or was told to leave), and those that did not. */
  let endedWell = 0, failed = 0;
  // An engine that joined and was lost is not started again here (the driver does not tell this
  // context that one was lost); a host that could not be reached is tried again, as the driver's own
  // contexts do (a reboot, a network blip).
  const runner = new ContextRunner({
    id,
    label,
    kind,
    run: {
      uid: run.uid,
      connect,
      localConnect: connect,
      secret: Deno.env.get(LAUNCH_ENV.secret)!,
      envResource: o.envResource,
    },
    log,
    say,
    restarts: kind.restartsLostEngines ? DEFAULT_ENGINE_RESTARTS : 0,
    going: () => !session.link.isClosed,
    joined: (launch) => joined.has(launch),
    reports: {
      startFailed(e, launch, error) {
        failed++;
        say(`disbatch: cannot start an engine on ${e.host}: ${error}`);
        session.link.send({
          kind: "engineFailed",
          context: id,
          host: e.host,
          reason: `cannot start: ${error}`,
          launch,
        });
      },
      started: (l, seq) => retire.engineJoined(seq, id, l.plan.host),
      exited: (l, s) => log.info(`Engine launcher for ${l.plan.host} exited with status ${s.code}`),
      ended(l, s, last, seq) {
        if (s.success) endedWell++;
        else {
          failed++;
          if (!session.link.isClosed) {
            say(
              `disbatch: the engine on ${l.plan.host} exited (status ${s.code}${
                s.signal ? `, ${s.signal}` : ""
              })` +
                `${last ? `: ${last}` : ""}; see ${l.wrapLog}`,
            );
          }
        }
        session.link.send({
          kind: "engineFailed",
          context: id,
          host: l.plan.host,
          launch: l.launchId,
          // Its wrap log is named only when something went wrong: an engine that was told to leave
          // ends with status 0, whatever srun said on the way.
          reason: `exited (status ${s.code}${s.signal ? `, ${s.signal}` : ""})${
            s.success ? "" : `; see ${l.wrapLog}${last ? `: ${last}` : ""}`
          }`,
          ...(s.tookEngine ? { engineOver: true } : {}),
        });
        // A launcher that failed may have left processes on its node: that node is not retired.
        retire.engineLeft(seq, !session.link.isClosed, s.success);
      },
    },
  });
  for (const e of usable) runner.launch(e);
  session.link.closed.then(() => {
    // The driver is gone: its engines keep their tasks for --driver-grace, waiting for a driver
    // restarted with --reattach, then kill them and exit; make sure launchers do not linger after,
    // unless a driver was restarted (its engines went on with it).
    setTimeout(() => {
      if (!driverBack(run)) runner.kill("SIGTERM");
    }, (run.driverGrace + 15) * 1000);
  });
  await runner.settled();
  // The driver went away before the run ended and none came back: its engines here gave up on it
  // after the grace.
  if (session.link.isClosed && failed > 0 && endedWith(run.uid) === undefined && !driverBack(run)) {
    const text = `lost the driver of run ${run.uid}: no driver came back within --driver-grace, and the ` +
      `engines here stopped`;
    log.warn(text);
    say(`disbatch: ${text}. ${whyNoDriver(run.uid)}`);
  }
  await retire.flush();
  session.link.send({ kind: "contextDone", context: id });
  await session.link.flush();
  session.link.close("context done");
  log.info(`Context ${label} done`);
  log.close();
  // No engine of it ended well (or none could start): the resources it was to add did not serve the run.
  return usable.length === 0 || (failed > 0 && endedWell === 0) ? 1 : 0;
}

/**
 * Handing out work: tasks to run again first (in id order, away from the hosts where they failed,
 * once their wait is over), then the task file's items in order; a barrier is passed once every
 * task before it has ended. No task starts that cannot finish before the walltime or before its
 * engine's allocation ends. Engines of a context at its task limit (`-C`), and idle engines whose
 * nodes can be given back once the task file is exhausted and no task is held, are stopped.
 *
 * @module
 */

import type { ContextState, EngineState, TaskEntry } from "./registry.ts";
import { reachedLimit } from "./registry.ts";
import { barrierRecord } from "./run_records.ts";
import type { SchedulerCore } from "./scheduler_core.ts";
import { type Action, WALLTIME_MARGIN_S } from "./scheduler_types.ts";
import { endsBy, neededAfterStop, taskToSend } from "./time_limits.ts";
import type { Barrier, StatusRecord, Task } from "./types.ts";

/**
 * Hand out what can start now, then stop the engines that are done and end the run if it is over.
 * @param core the scheduler's state @param now seconds
 * @returns actions
 */
export function dispatch(core: SchedulerCore, now: number): Action[] {
  const out: Action[] = [];
  const { reg, queue } = core;
  if (core.phase === "running" && core.perEngine) {
    const stopAt = core.o.stopAt;
    /** Cannot finish before the walltime (unknown durations are given the benefit of the doubt). */
    const tooLong = (t: Task) => stopAt !== undefined && !endsBy(now, stopAt, () => core.estimate(t));
    const suspect = core.suspect;
    /** A task could not start for the walltime. */
    let held = false;
    /** The file's next item cannot go before the walltime (a task too long, a barrier held by such). */
    let stuck = false;
    for (;;) {
      let placed = false;
      const requeued = queue.requeued();
      const anyRoom = reg.slots.anyRoom;
      for (let i = 0; anyRoom && i < requeued.length; i++) {
        const entry = requeued[i]!;
        const t = entry.task!;
        if ((entry.notBefore ?? 0) > now) continue;
        if (tooLong(t)) {
          held = true;
          continue;
        }
        const e = reg.slots.pick(suspect, core.policy.failedHosts(t.id), (x) => fitsEngine(core, x, t, now));
        if (!e) continue;
        queue.takeRequeued(i);
        out.push(assign(core, e, entry, now));
        placed = true;
        break;
      }
      if (placed) continue;
      const item = queue.head();
      if (!item) break;
      if (item.kind === "barrier") {
        item.reachedAt ??= now;
        // Tasks before the barrier waiting to run again hold it too.
        if (core.anyOutstanding() || queue.requeuedCount > 0) {
          stuck = !core.anyOutstanding() && queue.requeued().every((x) => tooLong(x.task!));
          break;
        }
        queue.shift();
        out.push(...passBarrier(core, item.barrier, item.reachedAt, now));
        if (core.phase !== "running") break;
        continue;
      }
      const t = item.task!;
      if (tooLong(t)) {
        held = true;
        const stopped = core.stoppedBefore.get(t.id);
        if (!stopped) {
          stuck = true;
          break;
        }
        // It cannot run before this walltime, but what follows it may: it waits with the tasks to
        // run again (which hold the next barrier too) until the run ends.
        queue.shift();
        queue.requeue(item);
        out.push({
          kind: "log",
          level: "info",
          message: `Task ${t.id} (line ${t.line}) waits for a later run: it ${
            stoppedText(core, t, stopped, stopAt!, now)
          }`,
        });
        continue;
      }
      const e = reg.slots.pick(
        suspect,
        undefined,
        reg.anyEnding ? (x) => fitsEngine(core, x, t, now) : undefined,
      );
      if (!e) break;
      queue.shift();
      out.push(assign(core, e, item, now));
    }
    // Nothing runs and nothing left can finish in time: hand off now rather than idle to the end
    // (once what follows a task set aside is read, or cannot go either).
    const allRead = core.tasksEnded && queue.fileItems === 0;
    if (
      held && (stuck || allRead) && !core.anyOutstanding() && core.phase === "running" &&
      // A task waiting out its delay (lost with an engine, a retry) may still fit.
      queue.requeued().every((x) => tooLong(x.task!))
    ) {
      out.push(
        ...core.walltimeEnd(
          `no task left can finish in the ${Math.max(0, Math.round(stopAt! - now))} s left before it`,
          setAsideNote(core, stopAt!, now),
        ),
      );
    }
    queue.compact();
  }
  out.push(...limitStops(core));
  out.push(...idleStops(core, now));
  out.push(...core.maybeEnd());
  return out;
}

/**
 * What the walltime's end says of the tasks set aside for a later run (an earlier run stopped them
 * after longer than this one has left): the first one, and the time limit its resume needs.
 * @param stopAt the hand-off (Unix seconds) @param now seconds
 * @returns the sentence, or undefined when none was set aside
 */
export function setAsideNote(core: SchedulerCore, stopAt: number, now: number): string | undefined {
  const waiting = core.queue.requeued().filter((x) => core.stoppedBefore.has(x.id));
  const first = waiting[0];
  if (!first) return undefined;
  const stopped = core.stoppedBefore.get(first.id)!;
  return `Task ${first.id} (line ${first.task!.line}) ${
    stoppedText(core, first.task!, stopped, stopAt, now)
  }: ` +
    `a resume needs a time limit of more than ${
      Math.ceil(needs(core, first.task!, stopped) + WALLTIME_MARGIN_S)
    } s` +
    (waiting.length > 1 ? ` (${waiting.length - 1} more such task(s) are in the driver log)` : "");
}

/** How long a task an earlier run stopped is taken to need. */
function needs(core: SchedulerCore, t: Task, stopped: StatusRecord): number {
  return core.estimate(t) ?? neededAfterStop(stopped.elapsed);
}

/** Why a task an earlier run stopped is not started before the walltime's hand-off `stopAt`. */
function stoppedText(
  core: SchedulerCore,
  t: Task,
  stopped: StatusRecord,
  stopAt: number,
  now: number,
): string {
  return `ran ${stopped.elapsed.toFixed(1)} s in an earlier run without ending and needs more than ${
    Math.ceil(needs(core, t, stopped))
  } s, but ${Math.max(0, stopAt - now).toFixed(0)} s are left before the hand-off (${WALLTIME_MARGIN_S} s ` +
    `before the walltime)`;
}

/** Whether `t` can finish on `e` before the end of its allocation (always, when that is not known). */
function fitsEngine(core: SchedulerCore, e: EngineState, t: Task, now: number): boolean {
  return endsBy(now, core.reg.context(e.context)?.stopAt, () => core.estimate(t));
}

/** Send a task to an engine: with its attempt and time limit. */
function assign(core: SchedulerCore, e: EngineState, entry: TaskEntry, now: number): Action {
  const sent = taskToSend(entry.task!, core.policy.attemptOf(entry.id), core.o.timeout);
  // Its failure would end the run: its engine must not start another task meanwhile.
  const task = core.o.failFast && !core.policy.retryLeft(entry.id) ? { ...sent, stopsRun: true } : sent;
  core.reg.assign(e, entry, task, now);
  return { kind: "assign", rank: e.rank, task };
}

function passBarrier(core: SchedulerCore, b: Barrier, reachedAt: number, now: number): Action[] {
  core.tally.barriers++;
  const record = barrierRecord(b, reachedAt, now, { host: core.o.driverHost, pid: core.o.driverPid });
  const failures = core.tally.passSegment();
  const failed = b.check && failures.length > 0;
  const out: Action[] = [failed ? { kind: "record", record, failedCheck: true } : { kind: "record", record }];
  if (failed) {
    out.push(...core.checkFailed(b.line, failures));
  } else {
    out.push({
      kind: "log",
      level: "info",
      message: `Barrier on line ${b.line} passed${b.key ? ` (key ${b.key})` : ""}`,
    });
  }
  return out;
}

/** Engines of a context at its task limit leave once they have nothing to do. */
function limitStops(core: SchedulerCore): Action[] {
  const out: Action[] = [];
  for (const c of core.reg.contexts()) {
    if (!reachedLimit(c)) continue;
    for (const r of c.engines) {
      const e = core.reg.engine(r)!;
      if (e.state === "active" && e.outstanding.size === 0) {
        e.state = "stopping";
        out.push({
          kind: "log",
          level: "info",
          message: `Context ${c.label} reached its task limit (${c.taskLimit}); stopping engine ${r}`,
        });
        out.push({ kind: "stopEngine", rank: r });
      }
    }
  }
  return out;
}

/** Once the task file is exhausted, an engine with nothing to do leaves (and its node can be retired). */
function idleStops(core: SchedulerCore, now: number): Action[] {
  const out: Action[] = [];
  // Held tasks (for engines of a driver that died) run here once released: keep the engines for them.
  if (core.phase !== "running" || !core.tasksEnded || core.holds.count > 0) return out;
  const empty = core.queue.empty;
  // Tasks are left: only an allocation that ends before any of them could finish has nothing to do.
  if (!empty && !core.reg.anyEnding) return out;
  const useless = new Map<number, boolean>();
  /** Nothing left can finish before the context's allocation ends (and that only gets closer). */
  const nothingFits = (c: ContextState): boolean => {
    let v = useless.get(c.id);
    if (v === undefined) {
      const end = c.stopAt;
      v = end !== undefined && !core.queue.someTask((t) => endsBy(now, end, () => core.estimate(t)));
      useless.set(c.id, v);
    }
    return v;
  };
  // Idle active engines are all in the free-slot set (limited ones stop through limitStops).
  const idleEngines = core.reg.slots.withFreeSlot().filter((e) =>
    e.state === "active" && e.outstanding.size === 0
  );
  const spares = empty ? keptForRetries(core, idleEngines) : undefined;
  /** None of the context's engines has a task, and none is kept for a retry. */
  const wholeIdle = (c: ContextState): boolean =>
    [...c.engines].every((r) => idle(core, r) && !spares?.has(core.reg.engine(r)!));
  // A context's kept node is stopped after its other nodes.
  const onKept = (e: EngineState) => onKeptNode(core, e);
  for (const e of [...idleEngines.filter((e) => !onKept(e)), ...idleEngines.filter(onKept)]) {
    const c = core.reg.context(e.context);
    if (!c?.retires || spares?.has(e)) continue;
    // The kept node leaves too (last) once its whole allocation has nothing to do, where that
    // allocation is not the driver's: a dbUtil.sh job then ends rather than idling to its time limit
    // (a task lost with its engine later runs on what is left; with none, the run says so and waits).
    const leaves = empty
      ? e.host !== c.keepHost || (c.added && wholeIdle(c))
      : nothingFits(c) && (e.host !== c.keepHost || wholeIdle(c));
    if (!leaves) continue;
    core.reg.stop(e);
    const why = empty
      ? "nothing is left to run"
      : `nothing left can finish before the allocation ends (in ${
        Math.max(0, Math.round(c.stopAt! - now))
      } s, its hand-off margin taken off)`;
    // Once nothing is left, the log's "finished" line says it for engines the run keeps.
    if (!empty || c.added) {
      out.push({
        kind: "log",
        level: "info",
        message: `Engine ${e.rank} on ${e.host} (context ${c.label}) leaves: ${why}`,
      });
    }
    // A dbUtil.sh job's output says why its engines leave (the driver's own contexts have the log).
    out.push(c.added ? { kind: "stopEngine", rank: e.rank, why } : { kind: "stopEngine", rank: e.rank });
  }
  return out;
}

/**
 * Idle engines kept while running tasks may fail and run again (`--retries`): one for each such task,
 * on another host than the one it runs on and those where it failed, so that its retry does not have
 * to land where it just failed (the driver's kept node, which never leaves, counts as one; of a
 * dbUtil.sh job, its batch node is kept first, since the job stays with it anyway).
 * @param idle the idle active engines
 */
function keptForRetries(core: SchedulerCore, idle: EngineState[]): Set<EngineState> {
  const kept = new Set<EngineState>();
  if (!((core.o.retries ?? 0) > 0) || idle.length === 0) return kept;
  const onKept = (e: EngineState) => onKeptNode(core, e);
  const spare = idle.filter((e) => {
    const c = core.reg.context(e.context);
    return c?.retires && (!onKept(e) || c.added);
  }).sort((a, b) => Number(onKept(b)) - Number(onKept(a)));
  const stays = idle.filter((e) => !spare.includes(e));
  for (const x of core.reg.engines()) {
    for (const id of x.outstanding.keys()) {
      if (kept.size === spare.length) return kept;
      if (!core.policy.retryLeft(id)) continue;
      const failed = core.policy.failedHosts(id);
      const ok = (e: EngineState) => e.host !== x.host && !failed?.has(e.host);
      if (stays.some(ok)) continue;
      const e = spare.find((e) => !kept.has(e) && ok(e));
      if (e) kept.add(e);
    }
  }
  return kept;
}

/** Whether `e` runs on its context's kept node (the driver's, or a dbUtil.sh job's batch node). */
function onKeptNode(core: SchedulerCore, e: EngineState): boolean {
  return e.host === core.reg.context(e.context)?.keepHost;
}

/** Whether engine `rank` runs nothing (or has left). */
function idle(core: SchedulerCore, rank: number): boolean {
  const e = core.reg.engine(rank);
  return !e || e.state === "gone" || e.outstanding.size === 0;
}

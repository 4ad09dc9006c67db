/**
 * What engines do to the run: join, report ended tasks, hand tasks back, go silent and are heard
 * again, come back after a lost connection, and leave. Leaving is one operation: the registry forgets the engine and returns
 * what it held, and {@linkcode engineGone} decides each task's fate (run again after a delay,
 * written off at the crash limit, or dropped when the run is aborted).
 *
 * @module
 */

import type { EngineState, TaskEntry } from "./registry.ts";
import { lostOutcome, recordOf } from "./run_records.ts";
import type { SchedulerCore } from "./scheduler_core.ts";
import { type Action, type EngineEnd, REQUEUE_DELAY_S } from "./scheduler_types.ts";
import type { Task, TaskOutcome } from "./types.ts";

/**
 * An engine joined (the caller dispatches): it gets the PERENGINE block, and is stopped at once
 * when the run is ending, its host is quarantined or its context takes no more tasks.
 * @returns actions (its "joined" log line first)
 */
export function join(
  core: SchedulerCore,
  rank: number,
  context: number,
  host: string,
  slots: number,
): Action[] {
  const { reg } = core;
  const e = reg.join(rank, context, host, slots);
  const c = reg.context(context);
  const out: Action[] = [{
    kind: "log",
    level: "info",
    message: `Engine ${rank} joined from ${host} with ${slots} slots`,
  }];
  const block = core.perEngineFor(rank);
  if (block) out.push(block);
  const q = core.policy.quarantined(host);
  if (core.phase !== "running") {
    out.push(core.phase === "aborting" ? { kind: "killEngine", rank } : { kind: "stopEngine", rank });
  } else if (q !== undefined) {
    out.push({
      kind: "log",
      level: "info",
      message: `Engine ${rank} on quarantined host ${host} stopped (${q})`,
    });
    out.push({ kind: "stopEngine", rank });
    e.state = "stopping";
  } else if (c && reg.limited(e)) {
    out.push({ kind: "stopEngine", rank });
    e.state = "stopping";
  }
  reg.touch(e);
  return out;
}

/**
 * An engine stopped answering (the caller dispatches): it keeps its tasks and gets no new ones.
 * @returns actions, or undefined when it is gone or away already
 */
export function engineAway(
  core: SchedulerCore,
  rank: number,
  graceS: number,
  why: string,
): Action[] | undefined {
  const e = core.reg.engine(rank);
  if (!e || e.state === "gone" || e.away) return undefined;
  core.reg.setAway(e, true);
  return [{
    kind: "log",
    // A broken connection mended within seconds or given up then (which is said) is only logged.
    level: graceS < 10 ? "info" : "warn",
    message: `Engine ${rank} on ${e.host} ${why}; its ${e.outstanding.size} task(s) are kept for it ` +
      `for up to ${Math.round(graceS)} s`,
  }];
}

/**
 * An engine that was silent is heard again (the caller dispatches).
 * @returns actions, or undefined when it was not away
 */
export function engineBack(core: SchedulerCore, rank: number): Action[] | undefined {
  const e = core.reg.engine(rank);
  if (!e || !e.away) return undefined;
  core.reg.setAway(e, false);
  return [{ kind: "log", level: "info", message: `Engine ${rank} on ${e.host} is heard again` }];
}

/**
 * An engine handed back tasks it had not started (the caller dispatches): they run again.
 * @returns false when the engine is unknown
 */
export function released(core: SchedulerCore, rank: number, ids: number[]): boolean {
  const e = core.reg.engine(rank);
  if (!e) return false;
  for (const id of ids) {
    const entry = core.reg.release(e, id);
    if (entry) core.requeue(entry);
  }
  core.reg.touchContext(e.context);
  return true;
}

/**
 * An engine reported ended tasks (the caller dispatches): each is recorded, or run again when it
 * failed with retries left; hosts' health follows.
 */
export function tasksDone(core: SchedulerCore, e: EngineState, outcomes: TaskOutcome[]): Action[] {
  const out: Action[] = [];
  for (const o of outcomes) {
    if (o.kind === "perEngine") {
      const list = o.phase === "stop" ? core.perEngine?.stop : core.perEngine?.start;
      const t = list?.[o.id];
      if (!t) continue;
      out.push(...core.finishRecord(e, t, o, "perEngine"));
      continue;
    }
    const entry = e.outstanding.get(o.id);
    const task = entry?.task;
    if (task && (o.attempt ?? 0) !== (task.attempt ?? 0)) {
      // An earlier attempt's outcome sent again after a reconnect: this attempt still runs.
      out.push({
        kind: "log",
        level: "debug",
        message: `Engine ${e.rank}: stale outcome of task ${o.id} ignored`,
      });
      continue;
    }
    if (!task) {
      out.push({
        kind: "log",
        level: "warn",
        message: `Engine ${e.rank} reported task ${o.id}, which it was not running; ignored`,
      });
      continue;
    }
    core.reg.finish(e, entry!);
    e.finished++;
    e.meanElapsed = e.meanElapsed === undefined
      ? o.end - o.start
      : 0.8 * e.meanElapsed + 0.2 * (o.end - o.start);
    if (o.timedOut) core.tally.timedOut++;
    const failed = o.returnCode !== 0 || o.timedOut === true;
    e.okStreak = failed ? 0 : e.okStreak + 1;
    if (failed) core.policy.hostFailed(e.host, task.id);
    if (failed && !o.killed && core.phase === "running" && core.policy.retryLeft(task.id)) {
      out.push(...retry(core, e, entry!, o));
      continue;
    }
    if (!failed) {
      core.durations.add(o.end - o.start);
      out.push(...core.policy.hostSucceeded(e.host, task.id));
    }
    out.push(...core.finishRecord(e, task, o, "normal"));
  }
  core.reg.touch(e);
  return out;
}

/** A failed attempt with retries left: kept in the attempts file, the task queued again. */
function retry(core: SchedulerCore, e: EngineState, entry: TaskEntry, o: TaskOutcome): Action[] {
  const t = entry.task!;
  const record = recordOf(e.host, t, o, "normal");
  const tries = core.policy.failedAttempt(t.id, e.host);
  e.failed++;
  core.requeue(entry);
  const what = o.timedOut
    ? `stopped at its time limit (${t.timeout ?? core.o.timeout} s)`
    : `failed (rc ${record.returnCode})`;
  return [
    { kind: "attempt", record, attempt: tries.attempt - 1 },
    {
      kind: "log",
      level: "info",
      message:
        `Task ${t.id} (line ${t.line}) ${what} on ${e.host}; retry ${tries.failures} of ${core.o.retries}`,
    },
  ];
}

/** Why an engine left, for the log. */
export function endReason(end: EngineEnd): string {
  switch (end.kind) {
    case "finished":
      return "finished";
    case "signalled":
      return `stopped by ${end.signal}`;
    case "lost":
      return end.reason;
  }
}

/**
 * An engine's connection ended (the caller dispatches). After a clean goodbye nothing is
 * outstanding; otherwise its tasks run again (or are written off at the crash limit).
 * @returns actions, or undefined when it had left already
 */
export function engineGone(
  core: SchedulerCore,
  rank: number,
  end: EngineEnd,
  now: number,
): Action[] | undefined {
  const e = core.reg.engine(rank);
  const lost = core.reg.leave(rank);
  if (!e || !lost) return undefined;
  const out: Action[] = [];
  const reason = endReason(end);
  const signal = end.kind === "signalled" ? end.signal : undefined;
  if (signal) core.signalled = signal;
  if (lost.length > 0 || end.kind !== "finished") {
    out.push({
      kind: "log",
      level: lost.length && core.phase === "running" ? "warn" : "info",
      message: `Engine ${rank} on ${e.host} left: ${reason}`,
    });
  }
  if (end.kind === "lost" && lost.length > 0) out.push(...core.policy.hostLost(e.host, reason));
  // The engine runs its tasks in the order they were sent: beyond its slots, the rest were most
  // likely handed ahead and never started: queued again without a crash or an attempt counted (but
  // after the same delay: a finish still on its way may have let the next one start).
  for (const [i, entry] of lost.entries()) {
    const t = entry.task!;
    if (i >= e.slots && core.phase === "running") {
      core.requeue(entry, now + REQUEUE_DELAY_S);
      continue;
    }
    if (core.phase === "aborting") {
      // The run is being killed: whatever this engine still held (queued or running) is not
      // recorded; a resume runs it again, like every task that never started. One it was most
      // likely running when the run was aborted (and did not report as killed) counts as killed
      // in the summary, not as not started.
      core.reg.drop(entry);
      if (core.runningAtAbort.get(rank)?.has(t.id)) core.tally.lostAtEnd++;
      out.push({
        kind: "log",
        level: "info",
        message: `Task ${t.id} (line ${t.line}) was on engine ${rank} when the run was aborted`,
      });
    } else if (core.phase === "running" && (signal || core.policy.mayRunAfterLoss(t.id))) {
      // A signal to the engine (Slurm's SIGTERM, an admin) is not the task's doing: no crash counted.
      const tries = core.policy.lostAttempt(t.id, !signal);
      out.push({
        kind: "attempt",
        attempt: tries.attempt - 1,
        record: recordOf(e.host, t, lostOutcome(t, now, true, entry.sentAt), "normal"),
      });
      out.push({
        kind: "log",
        level: "warn",
        message:
          `Task ${t.id} (line ${t.line}) lost with engine ${rank}; runs again (attempt ${tries.attempt}` +
          (signal ? ")" : `; lost ${tries.crashes} of ${core.o.crashLimit} times)`),
      });
      core.requeue(entry, now + REQUEUE_DELAY_S);
    } else {
      const ending = core.phase !== "running";
      core.reg.drop(entry);
      out.push({
        kind: "log",
        level: "error",
        message: `Task ${t.id} (line ${t.line}) lost with engine ${rank}; ` +
          (ending
            ? "the run is ending: recorded as killed (K, rc -100), a plain -r runs it again"
            : `engines running it were lost ${core.o.crashLimit} times (--crash-limit): recorded as failed (rc -100)`),
      });
      out.push(...core.finishRecord(e, t, lostOutcome(t, now, ending, entry.sentAt), "normal"));
    }
  }
  return out;
}

/**
 * An engine that had lost its driver reached this one (the caller dispatches, after the outcomes):
 * it holds `tasks` (running, queued, or finished with outcomes the driver may not have). A driver
 * that knew it reconciles; a re-attached one adopts what was held for it. Tasks the driver had sent
 * it that it neither holds nor reports never arrived: they run again.
 * @returns its actions, and the outcomes to count (those the driver does not have)
 */
export function engineResumed(
  core: SchedulerCore,
  at: { rank: number; context: number; host: string; slots: number },
  tasks: Task[],
  outcomes: TaskOutcome[],
): { out: Action[]; fresh: TaskOutcome[] } {
  const { reg } = core;
  const { rank } = at;
  let e = reg.engine(rank);
  const out: Action[] = [];
  if (!e) {
    out.push(...join(core, rank, at.context, at.host, at.slots).filter((a) => a.kind !== "log"));
    e = reg.engine(rank)!;
  } else {
    // It may have missed the block, or a stop or kill, while away (it ignores what it has).
    const block = core.perEngineFor(rank);
    if (block) out.push(block);
    if (core.phase === "aborting") out.push({ kind: "killEngine", rank });
    else if (e.state === "stopping") out.push({ kind: "stopEngine", rank });
  }
  e.away = false;
  core.holds.arrived(rank);
  const holds = new Set(tasks.map((t) => t.id));
  for (const o of outcomes) if (o.kind === "normal") holds.add(o.id);
  for (const id of [...e.outstanding.keys()]) {
    if (holds.has(id)) continue;
    core.requeue(reg.missing(e, id)!);
  }
  let adopted = 0;
  const held = new Map(core.holds.list().map((h) => [h.id, h]));
  for (const t of tasks) {
    const h = held.get(t.id);
    // Known here; or already recorded, or run elsewhere (held for another engine: a newer attempt).
    if (e.outstanding.has(t.id) || !h || h.rank !== rank) continue;
    core.holds.release(h);
    held.delete(t.id);
    if (!h.task) core.queue.skipOnRead(t.id);
    reg.adopt(e, t); // its context's -C count has it already (the journal)
    adopted++;
  }
  // What was held for this engine and it does not hold: it never started there.
  for (const h of held.values()) {
    if (h.rank !== rank) continue;
    core.holds.release(h);
    if (h.task) core.requeue(h);
  }
  out.push({
    kind: "log",
    level: "info",
    message: `Engine ${rank} on ${at.host} is back${adopted ? ` with ${adopted} task(s) it kept` : ""}`,
  });
  reg.touch(e);
  const fresh = outcomes.filter((o) => o.kind === "perEngine" || e.outstanding.has(o.id));
  return { out, fresh };
}

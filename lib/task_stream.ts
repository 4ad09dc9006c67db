/**
 * The task file as the scheduler sees it: how much to read (flow control), the PERENGINE block,
 * tasks and barriers read (queued, or matched with a task held for an engine of the last driver),
 * lines an earlier status file recorded (`-r`, or a re-attached driver's own), the end of the file,
 * and the clock (held tasks given up at last, the walltime, re-queued tasks whose wait is over).
 *
 * @module
 */

import { dispatch, setAsideNote } from "./dispatch.ts";
import type { SchedulerCore } from "./scheduler_core.ts";
import { type Action, WALLTIME_MARGIN_S } from "./scheduler_types.ts";
import type { Barrier, PerEngineTask, StatusRecord, Task } from "./types.ts";

/** How many more items the driver should read now (flow control: memory stays O(slots)). */
export function demand(c: SchedulerCore): number {
  if (c.tasksEnded || c.phase !== "running") return 0;
  const want = 2 * c.reg.activeSlots() + 64;
  return Math.max(0, want - c.queue.fileItems);
}

/** The PERENGINE block is complete: every engine gets it, and tasks can go out. @returns actions */
export function perEngineBlock(
  c: SchedulerCore,
  block: { start: PerEngineTask[]; stop: PerEngineTask[] },
  now: number,
): Action[] {
  if (c.perEngine) return [];
  c.perEngine = block;
  return c.announcePerEngine().concat(dispatch(c, now));
}

/** One more item read; the first one launches the driver's own context, when it has one. */
function seen(c: SchedulerCore): Action[] {
  c.itemsSeen++;
  return c.itemsSeen === 1 && c.o.launchContext ? [{ kind: "launchContext" }] : [];
}

/** A task or barrier read from the task file. @returns actions */
export function addItem(
  c: SchedulerCore,
  item: { kind: "task"; task: Task } | { kind: "barrier"; barrier: Barrier },
  now: number,
  stopped?: StatusRecord,
): Action[] {
  if (item.kind === "task") c.tasksSeen++;
  if (stopped && item.kind === "task") c.stoppedBefore.set(item.task.id, stopped);
  return seen(c).concat(takeItem(c, item, now));
}

function takeItem(
  c: SchedulerCore,
  item: { kind: "task"; task: Task } | { kind: "barrier"; barrier: Barrier },
  now: number,
): Action[] {
  if (item.kind === "barrier") {
    c.queue.push({ ...item });
    return dispatch(c, now);
  }
  // Re-attached: a task running on an engine that came back, or one held for an engine still away.
  if (c.queue.skipRead(item.task.id)) return [];
  const h = c.holds.get(item.task.id);
  if (h) c.holds.readTask(h, item.task);
  else c.queue.push(c.reg.enqueue(item.task));
  return dispatch(c, now);
}

/** A task skipped because an earlier status file recorded it (`-r`; `record` is flagged `S`). @returns actions */
export function addSkipped(c: SchedulerCore, record: StatusRecord, now: number): Action[] {
  c.tasksSeen++;
  return seen(c).concat(takeSkipped(c, record, now));
}

function takeSkipped(c: SchedulerCore, record: StatusRecord, now: number): Action[] {
  c.tally.skipped++;
  const out: Action[] = [{ kind: "record", record }];
  if (record.returnCode !== 0) {
    c.tally.countFailure(record);
    c.tally.segmentFailed(record.taskId, record.line, record.returnCode);
    // As disBatch does: a failure kept from an earlier run also stops a --fail-fast run.
    const stop = c.failFast();
    if (stop.length > 0) return out.concat(stop, c.maybeEnd());
  }
  return out.concat(dispatch(c, now));
}

/**
 * Re-attached: a task (or barrier) the status file already has, from before the driver's restart.
 * It counts as it did then (failures for `-e` and `BARRIER CHECK`) and is not written again.
 * @returns actions
 */
export function addRecorded(c: SchedulerCore, record: StatusRecord, now: number): Action[] {
  if (!record.flags.startsWith("B") && !record.flags.startsWith("C")) c.tasksSeen++;
  return seen(c).concat(takeRecorded(c, record, now));
}

function takeRecorded(c: SchedulerCore, record: StatusRecord, now: number): Action[] {
  if (record.flags.startsWith("B") || record.flags.startsWith("C")) {
    c.tally.barriers++;
    // Failures before it were judged by it; those after it (reported early by an engine back) stay.
    const before = c.tally.passSegmentAt(record.taskId);
    if (record.flags.startsWith("C") && before.length > 0 && c.phase === "running") {
      return c.checkFailed(record.line, before).concat(c.maybeEnd());
    }
    return dispatch(c, now);
  }
  c.tally.finished++;
  if (record.returnCode !== 0) {
    c.tally.countFailure(record);
    c.tally.segmentFailed(record.taskId, record.line, record.returnCode);
    const stop = c.failFast();
    if (stop.length > 0) return stop.concat(c.maybeEnd());
  }
  return dispatch(c, now);
}

/** The task file has no more items: held tasks never read are forgotten. @returns actions */
export function endOfTasks(c: SchedulerCore, now: number): Action[] {
  c.tasksEnded = true;
  for (const h of c.holds.list()) if (!h.task) c.holds.release(h);
  c.queue.endOfFile();
  if (c.perEngine) return dispatch(c, now);
  c.perEngine = { start: [], stop: [] };
  return c.announcePerEngine().concat(dispatch(c, now));
}

/** The engines that did not come back are surely without their tasks now: run those again. @returns actions */
export function releaseHeld(c: SchedulerCore, now: number): Action[] {
  let n = 0;
  for (const h of c.holds.list()) {
    c.holds.release(h);
    if (!h.task) continue;
    n++;
    // An earlier run's task is this run's first attempt; a re-attached run's was lost with its engine.
    if (!c.holds.earlier) c.policy.lostAttempt(h.id, true);
    c.requeue(h);
  }
  c.holds.giveUpEngines();
  const out: Action[] = n
    ? [{
      kind: "log",
      level: "warn",
      message: c.holds.earlier
        ? `${n} task(s) that were in flight on the earlier run's engines run here now (those engines have ` +
          `surely given them up)`
        : c.holds.gone
        ? `${n} task(s) in flight on the last driver's engines run again (none of those engines is left)`
        : `${n} task(s) of engines that did not come back within --driver-grace run again`,
    }]
    : [];
  return out.concat(dispatch(c, now));
}

/**
 * The clock moved: held tasks run again once their engines' grace is over, the walltime ends the
 * run, re-queued tasks whose wait is over are sent.
 * @returns actions
 */
export function tick(c: SchedulerCore, now: number): Action[] {
  if (c.holds.pending && now >= c.holds.until) {
    return releaseHeld(c, now).concat(c.maybeEnd());
  }
  if (c.o.stopAt !== undefined && now >= c.o.stopAt && c.phase === "running") {
    return c.walltimeEnd(
      `the hand-off, ${WALLTIME_MARGIN_S} s before the end`,
      setAsideNote(c, c.o.stopAt, now),
    ).concat(c.maybeEnd());
  }
  if (c.queue.requeuedCount === 0 && c.o.stopAt === undefined) return [];
  return dispatch(c, now).concat(c.maybeEnd());
}

/**
 * The driver's one input: typed events, each with `now`, in; the {@linkcode Scheduler}'s
 * {@linkcode Action}s out. Adapters turn what happens (a line of the task file, an engine's
 * message, a signal, the clock) into a {@linkcode DriverEvent} and hand it to {@linkcode react};
 * nothing else changes the run's state. Events are plain JSON data (no maps, no functions), so a
 * run's event stream can be written down and replayed: the same events through a fresh scheduler
 * with the same options give the same actions, status records included ({@linkcode replay}).
 *
 * @module
 */

import { type Action, type EngineEnd, Scheduler, type SchedulerOptions } from "./scheduler.ts";
import type { Barrier, PerEngineTask, StatusRecord, Task, TaskOutcome } from "./types.ts";

/** Something that happened to the run, as the driver saw it (`now`: Unix seconds). */
export type DriverEvent =
  // -- the task stream
  /** The task file's PERENGINE block is complete. */
  | { kind: "perEngineBlock"; start: PerEngineTask[]; stop: PerEngineTask[]; now: number }
  /**
   * A task or a barrier was read; `stopped`: the line of an earlier run that stopped this task (`-r`,
   * flag `K`), which says it needs longer than that line's elapsed time.
   */
  | {
    kind: "item";
    item: { kind: "task"; task: Task } | { kind: "barrier"; barrier: Barrier };
    stopped?: StatusRecord;
    now: number;
  }
  /** A task read that `-r` (resume) skips: its old record stands. */
  | { kind: "skipped"; record: StatusRecord; now: number }
  /** A task read that a re-attached driver found already recorded. */
  | { kind: "recorded"; record: StatusRecord; now: number }
  /** The task stream ended. */
  | { kind: "tasksEnded"; now: number }
  // -- contexts
  /** A context joined: how many engines it will start, and whether it gives nodes back. */
  | {
    kind: "contextJoined";
    id: number;
    label: string;
    taskLimit: number;
    engines: number;
    retires: boolean;
    keepHost?: string;
    /** Added with `dbUtil.sh`: an allocation of its own, given back whole when it has nothing to do. */
    added?: boolean;
    endsAt?: number;
    assigned?: number;
    now: number;
  }
  /** An engine a context started (or restarts) is on its way. */
  | { kind: "engineComing"; context: number; now: number }
  /** An engine a context tried to start will not come (`what`: for the messages). */
  | { kind: "engineNotComing"; context: number; what?: string; now: number }
  /** The end of a context's allocation moved. */
  | { kind: "contextEnd"; label: string; endsAt: number; now: number }
  /** A context's connection ended. */
  | { kind: "contextGone"; id: number; now: number }
  // -- engines
  /** An authenticated engine joined. */
  | { kind: "engineJoined"; rank: number; context: number; host: string; slots: number; now: number }
  /** An engine that had lost its driver is back, holding `tasks` and having finished `outcomes`. */
  | {
    kind: "engineResumed";
    rank: number;
    context: number;
    host: string;
    slots: number;
    tasks: Task[];
    outcomes: TaskOutcome[];
    now: number;
  }
  /** An engine finished tasks. */
  | { kind: "tasksDone"; rank: number; outcomes: TaskOutcome[]; now: number }
  /** An engine handed back tasks it had not started. */
  | { kind: "released"; rank: number; ids: number[]; now: number }
  /** An engine went silent (`graceS`: how long it keeps its tasks; `why`: for the log). */
  | { kind: "engineAway"; rank: number; graceS: number; why: string; now: number }
  /** A silent engine is heard again. */
  | { kind: "engineBack"; rank: number; now: number }
  /** An engine's connection ended for good. */
  | { kind: "engineGone"; rank: number; end: EngineEnd; now: number }
  // -- control
  /** `--stop`, the monitor or the dashboard stopped an engine. */
  | { kind: "stopEngine"; rank: number; now: number }
  /** `--stop`, the monitor or the dashboard stopped a context. */
  | { kind: "stopContext"; id: number; now: number }
  /** End the run softly (start nothing new) with this status. */
  | { kind: "stopRun"; exitCode: number; message: string; now: number }
  /** The driver was told to stop now (a signal): kill everything. */
  | { kind: "abort"; exitCode: number; message: string; now: number }
  // -- time
  /** The clock moved (about once a second). */
  | { kind: "tick"; now: number }
  /** The run's end moved (Unix seconds at which running tasks are stopped). */
  | { kind: "stopAt"; stopAt: number; now: number }
  // -- a re-attached driver's inheritance
  /** Tasks the last driver had sent (id → rank), held until `until` for engines that may come back (rank → context). */
  | {
    kind: "held";
    sent: [number, number][];
    until: number;
    expected: [number, number][];
    now: number;
    /** For an earlier run's engines (`-r` of a run whose driver died), not this run's. */
    earlier?: boolean;
    /** None of those engines is left (known at once): the tasks run again now, as lost. */
    gone?: boolean;
  }
  /** Earlier attempts of unfinished tasks (task id → rc and host of each). */
  | { kind: "attempts"; attempts: [number, { rc: number; host: string }[]][]; now: number };

/** The kinds of {@linkcode DriverEvent}. */
export type DriverEventKind = DriverEvent["kind"];

/**
 * Hand one event to the scheduler.
 * @param s the run's scheduler @param ev what happened
 * @returns what the driver must do
 */
export function react(s: Scheduler, ev: DriverEvent): Action[] {
  switch (ev.kind) {
    case "perEngineBlock":
      return s.setPerEngine(ev.start, ev.stop, ev.now);
    case "item":
      return s.addItem(ev.item, ev.now, ev.stopped);
    case "skipped":
      return s.addSkipped(ev.record, ev.now);
    case "recorded":
      return s.addRecorded(ev.record, ev.now);
    case "tasksEnded":
      return s.endOfTasks(ev.now);
    case "contextJoined":
      return s.contextJoined(ev.id, ev.label, ev.taskLimit, ev.engines, {
        retires: ev.retires,
        ...(ev.keepHost !== undefined ? { keepHost: ev.keepHost } : {}),
        ...(ev.added ? { added: true } : {}),
        ...(ev.endsAt !== undefined ? { endsAt: ev.endsAt } : {}),
        ...(ev.assigned !== undefined ? { assigned: ev.assigned } : {}),
      });
    case "engineComing":
      s.engineComing(ev.context);
      return [];
    case "engineNotComing":
      return ev.what === undefined
        ? s.engineNotComing(ev.context, ev.now)
        : s.engineNotComing(ev.context, ev.now, ev.what);
    case "contextEnd":
      return s.setContextEnd(ev.label, ev.endsAt, ev.now);
    case "contextGone":
      return s.contextGone(ev.id, ev.now);
    case "engineJoined":
      return s.engineJoined(ev.rank, ev.context, ev.host, ev.slots, ev.now);
    case "engineResumed":
      return s.engineResumed(ev.rank, ev.context, ev.host, ev.slots, ev.tasks, ev.outcomes, ev.now);
    case "tasksDone":
      return s.tasksDone(ev.rank, ev.outcomes, ev.now);
    case "released":
      return s.released(ev.rank, ev.ids, ev.now);
    case "engineAway":
      return s.engineAway(ev.rank, ev.graceS, ev.now, ev.why);
    case "engineBack":
      return s.engineBack(ev.rank, ev.now);
    case "engineGone":
      return s.engineGone(ev.rank, ev.end, ev.now);
    case "stopEngine":
      return s.stopEngine(ev.rank, ev.now);
    case "stopContext":
      return s.stopContext(ev.id, ev.now);
    case "stopRun":
      return s.stopRun(ev.exitCode, ev.message);
    case "abort":
      return s.abort(ev.exitCode, ev.message);
    case "tick":
      return s.tick(ev.now);
    case "stopAt":
      s.setStopAt(ev.stopAt);
      return [];
    case "held":
      s.holdForEngines(
        new Map(ev.sent),
        ev.until,
        new Map(ev.expected),
        { earlier: ev.earlier === true, gone: ev.gone === true },
      );
      return [];
    case "attempts":
      s.restoreAttempts(new Map(ev.attempts));
      return [];
  }
}

/** The first line of a recorded event stream: the format and the scheduler's options. */
export interface EventStreamHead {
  disbatchEvents: 1;
  options: SchedulerOptions;
}

/** One step of a recorded stream: an event and the actions it gave. */
export interface EventStep {
  e: DriverEvent;
  a: Action[];
}

/** The format number a recorded stream starts with. */
export const EVENT_STREAM_VERSION = 1;

/** A step of a replay whose actions differ from the recorded ones. */
export interface ReplayDifference {
  /** 1-based line of the stream. */
  line: number;
  event: DriverEvent;
  recorded: Action[];
  replayed: Action[];
}

/**
 * Parse a recorded event stream (JSON lines: a {@linkcode EventStreamHead}, then one
 * {@linkcode EventStep} a line). A last line cut short (the run was killed mid-write) is dropped.
 * @param text the stream
 * @returns its head and steps
 * @throws {Error} naming the line, for a stream that is not one
 */
export function parseEventStream(text: string): { head: EventStreamHead; steps: EventStep[] } {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let head: EventStreamHead | undefined;
  const steps: EventStep[] = [];
  for (let i = 0; i < lines.length; i++) {
    let v: unknown;
    try {
      v = JSON.parse(lines[i]!);
    } catch {
      if (i === lines.length - 1 && head) break; // cut short
      throw new Error(`event stream line ${i + 1}: not JSON`);
    }
    if (i === 0) {
      const h = v as Partial<EventStreamHead>;
      if (h?.disbatchEvents !== EVENT_STREAM_VERSION || typeof h.options !== "object") {
        throw new Error(
          `event stream line 1: not a disbatch event stream of format ${EVENT_STREAM_VERSION} ` +
            `(it must start with {"disbatchEvents":${EVENT_STREAM_VERSION},"options":{...}})`,
        );
      }
      head = h as EventStreamHead;
      continue;
    }
    const s = v as Partial<EventStep>;
    if (typeof s?.e?.kind !== "string" || typeof s.e.now !== "number" || !Array.isArray(s.a)) {
      throw new Error(`event stream line ${i + 1}: a step must be {"e":{"kind":...,"now":...},"a":[...]}`);
    }
    steps.push(s as EventStep);
  }
  if (!head) throw new Error("event stream: empty");
  return { head, steps };
}

/**
 * Replay a recorded stream through a fresh scheduler.
 * @param head options @param steps events with the actions they gave when recorded
 * @returns the scheduler after the last event, and every step whose actions differ
 */
export function replay(
  head: EventStreamHead,
  steps: readonly EventStep[],
): { scheduler: Scheduler; differences: ReplayDifference[] } {
  const scheduler = new Scheduler(head.options);
  const differences: ReplayDifference[] = [];
  steps.forEach((step, i) => {
    // Through JSON, as recorded: undefined fields and the like compare as they were written.
    const replayed = JSON.parse(JSON.stringify(react(scheduler, step.e))) as Action[];
    if (JSON.stringify(replayed) !== JSON.stringify(step.a)) {
      differences.push({ line: i + 2, event: step.e, recorded: step.a, replayed });
    }
  });
  return { scheduler, differences };
}

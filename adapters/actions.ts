/**
 * Carrying out the {@linkcode Scheduler}'s actions: task assignments batched per engine (frames
 * near 1 MiB), stop and kill requests (a killed engine gets 5 s to leave), records, log lines, nodes
 * to give back, and the end of the run.
 *
 * @module
 */

import type { Action, Scheduler } from "../lib/scheduler.ts";
import type { DriverEvent } from "../lib/reactor.ts";
import type { StatusRecord, Task } from "../lib/types.ts";
import type { Logger } from "./log.ts";
import type { Peer } from "./server.ts";

/** What every part of the driver acts through: the scheduler, its actions, the clock, log and terminal. */
export interface RunPorts {
  /** The run's state, to read (it changes only through {@linkcode react}). */
  sched: Scheduler;
  /** Hand the scheduler an event and carry out its actions (an {@linkcode ActionRunner}). */
  react(event: DriverEvent): void;
  /** Seconds since the epoch. */
  now(): number;
  /** Driver log. */
  log: Logger;
  /** Print a message for the user (without tearing the progress line). */
  say(line: string): void;
}

/** What {@linkcode ActionRunner} acts on. */
export interface ActionTargets extends Pick<RunPorts, "log" | "say"> {
  /** The engines' connections by rank (what they are and hold is the scheduler's: `sched.view`). */
  links: ReadonlyMap<number, Peer>;
  /** Store a record: dashboard, mail, status file, results, in that order (`attempt`: which run it is). */
  record(r: StatusRecord, attempt: number, failedCheck: boolean): void;
  /** An earlier run's line kept in the status file as it was (no outcome of this run). */
  keep(r: StatusRecord): void;
  /** Keep an attempt that is run again (the attempts file, the dashboard). */
  attempt(r: StatusRecord): void;
  /** Called after each batch of actions (repaint, wake the feeder). */
  settled(): void;
  /** A node a context's engines have all left: give it back, or keep it (`holdNode`). */
  /** Plan the driver's own context and launch its engines. */
  launchContext(): void;
  nodeFree(a: Extract<Action, { kind: "retireNode" | "holdNode" }>): void;
  /** An engine told to leave, and why (for the `dbUtil.sh` of its context, when it has one). */
  engineLeaves?(rank: number, why: string): void;
  /** Tasks about to be sent to an engine (the journal). */
  sending?(rank: number, ids: number[]): void;
  /** Write the records taken so far (the status file): before an engine is told it may forget them. */
  persist?(): void;
}

/** Executes scheduler actions against the engines, the status file, the log and the terminal. */
export class ActionRunner {
  readonly #t: ActionTargets;
  #outgoing = new Map<number, Task[]>();
  #flushQueued = false;
  readonly #killTimers = new Map<number, ReturnType<typeof setTimeout>>();
  #finish!: (code: number) => void;
  /** Resolves with the exit status when the scheduler finishes the run. */
  readonly finished: Promise<number>;
  /** The scheduler's closing messages (logged at once, printed at the end). */
  finishMessages: string[] = [];
  /** Info lines logged from the scheduler's actions (an abort's reason, logged again at the end otherwise). */
  readonly #logged = new Set<string>();

  /** @param targets what the actions act on */
  constructor(targets: ActionTargets) {
    this.#t = targets;
    this.finished = new Promise<number>((r) => this.#finish = r);
  }

  /** @param actions the scheduler's answer to one event, carried out in order */
  apply(actions: Action[]): void {
    const t = this.#t;
    for (const a of actions) {
      switch (a.kind) {
        case "assign": {
          let l = this.#outgoing.get(a.rank);
          if (!l) this.#outgoing.set(a.rank, l = []);
          l.push(a.task);
          if (!this.#flushQueued) {
            this.#flushQueued = true;
            queueMicrotask(() => this.flush());
          }
          break;
        }
        case "perEngine":
          t.links.get(a.rank)?.link.send({ kind: "perEngine", start: a.start, stop: a.stop });
          break;
        case "stopEngine":
          this.flush();
          t.links.get(a.rank)?.link.send({ kind: "stop" });
          if (a.why !== undefined) t.engineLeaves?.(a.rank, a.why);
          break;
        case "killEngine": {
          this.flush();
          const p = t.links.get(a.rank);
          p?.link.send({ kind: "kill", reason: "run aborted" });
          if (p && !this.#killTimers.has(a.rank)) {
            this.#killTimers.set(
              a.rank,
              setTimeout(() => p.link.close("did not leave within 5 s of kill"), 5000),
            );
          }
          break;
        }
        case "record":
          if (a.earlier) {
            t.keep(a.record);
            break;
          }
          t.record(a.record, a.attempt ?? 0, a.failedCheck === true);
          if (t.log.debugEnabled) {
            t.log.debug(`Recorded task ${a.record.taskId} rc ${a.record.returnCode} on ${a.record.host}`);
          }
          break;
        case "attempt":
          t.attempt(a.record);
          break;
        case "log":
          if (a.level === "debug") t.log.debug(a.message);
          else if (a.level === "info") {
            t.log.info(a.message);
            if (this.#logged.size >= 1000) this.#logged.clear(); // the end's lines come soon after theirs
            this.#logged.add(a.message);
          } else if (a.level === "warn") {
            t.log.warn(a.message);
            t.say(`disbatch: ${a.message}`);
          } else {
            t.log.error(a.message);
            t.say(`disbatch: ${a.message}`);
          }
          break;
        case "retireNode":
        case "holdNode":
          t.nodeFree(a);
          break;
        case "launchContext":
          t.launchContext();
          break;
        case "finish":
          this.flush();
          // Those logged when they happened (an abort's reason) are not logged twice.
          for (const m of a.messages) if (!this.#logged.has(m)) t.log.info(m);
          this.finishMessages = a.messages;
          this.#finish(a.exitCode);
          break;
      }
    }
    t.settled();
  }

  /** Send the assignments queued so far, in frames near 1 MiB. */
  flush(): void {
    this.#flushQueued = false;
    const o = this.#outgoing;
    this.#outgoing = new Map();
    let persisted = false;
    for (const [rank, tasks] of o) {
      const peer = this.#t.links.get(rank);
      const link = peer?.link;
      if (!link) continue;
      this.#t.sending?.(rank, tasks.map((t) => t.id));
      // The engine's `done` messages so far are acknowledged with its next tasks, once their records
      // are written, rather than with the next ping: the outcomes it keeps till then die young.
      const ack = peer.ack;
      if (ack !== undefined && !persisted) {
        this.#t.persist?.();
        persisted = true;
      }
      // Commands can be up to the kernel's 128 KiB argument limit each: keep frames near 1 MiB.
      let batch: Task[] = [];
      let size = 0;
      for (const t of tasks) {
        if (batch.length > 0 && size + t.command.length > 1 << 20) {
          link.send({ kind: "tasks", tasks: batch });
          batch = [];
          size = 0;
        }
        batch.push(t);
        size += t.command.length + 64;
      }
      if (batch.length > 0) {
        link.send(ack === undefined ? { kind: "tasks", tasks: batch } : { kind: "tasks", tasks: batch, ack });
      }
    }
  }

  /** @param rank an engine whose connection ended (its kill deadline no longer applies) */
  engineClosed(rank: number): void {
    clearTimeout(this.#killTimers.get(rank));
  }
}

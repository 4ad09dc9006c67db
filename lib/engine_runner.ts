/**
 * The engine's task runner as a state machine: which tasks it holds (queued, running, their ends
 * waiting to be reported), its PERENGINE START and STOP blocks, stopping and killing, and the
 * numbered `done` messages a driver acknowledges. Events come in (tasks received, a process started
 * or exited, stop, kill, a signal, the driver lost, an acknowledgement, a tick of the clock), and
 * commands go out (start a process, run the kill ladder on process groups, send a message, log a
 * line, leave). The engine adapter (`adapters/engine.ts`) turns what happens into events and carries
 * out the commands; nothing here touches the OS or the clock: times come in the events.
 *
 * The engine runs through `running` → `stopping` (no new work is taken, queued tasks were handed
 * back; running ones finish) → `stopTasks` (PERENGINE STOP tasks) → `left`; or → `killing` (every
 * running task's process group gets SIGTERM, then SIGKILL) → `left`.
 *
 * @module
 */

import type { EngineResume } from "./protocol.ts";
import type { PerEngineTask, Task, TaskOutcome } from "./types.ts";
import { ReportBook } from "./engine_reports.ts";
import {
  COALESCE_MS,
  HOLD_MS,
  KILL_GRACE_MS,
  KILL_WAIT_MS,
  type ProcessResult,
  type RunnerCommand,
  type RunnerEvent,
  type RunnerMessage,
  type RunnerState,
  SIGNAL_RCS,
  SIGNAL_SETTLE_MS,
} from "./engine_runner_types.ts";

export {
  COALESCE_MS,
  HOLD_MS,
  KILL_GRACE_MS,
  KILL_WAIT_MS,
  type ProcessResult,
  type RunnerCommand,
  type RunnerEvent,
  type RunnerMessage,
  type RunnerState,
  SIGNAL_SETTLE_MS,
};

interface Run {
  readonly task: Task;
  /** Its slot (-1 for PERENGINE tasks); undefined while it waits in the launcher's queue. */
  slot: number | undefined;
  /** Handed to the launcher's queue: its slot is the launcher's. */
  readonly queued: boolean;
  readonly phase: "start" | "stop" | undefined;
  pid?: number;
  /** When its time limit is reached (ms). */
  deadline?: number;
  timedOut: boolean;
  /** It exited by a signal and waits until `settleUntil` for the engine's own signal. */
  exit?: { result: ProcessResult; settleUntil: number };
}

/** The engine's task runner: feed it events with {@linkcode handle}, carry out what it returns. */
export class EngineRunner {
  #state: RunnerState = "running";
  /** What a finished kill leads to: a `bye` (`kill`), or a silent exit (`lost`). */
  #killCause: "kill" | "lost" = "kill";
  #leaveBy = 0;
  #killGraceS = 10;
  #queue: Task[] = [];
  #qHead = 0;
  #freeSlots: number[] = [];
  #slots = 0;
  /** The launcher fills the free slots from its own queue ({@linkcode RunnerEvent} `poolReady`). */
  #pool = false;
  /** Queued tasks taken back from the launcher, to hand back to the driver. */
  #releasing: number[] = [];
  #running = new Map<number, Run>();
  #nextRun = 1;
  #perEngine: { start: readonly PerEngineTask[]; stop: readonly PerEngineTask[] } | undefined;
  #nextStart = 0;
  #nextStop = 0;
  #startDone = false;
  /** When a task whose failure ends the run failed (`Task.stopsRun`): nothing starts meanwhile. */
  #heldSince: number | undefined;
  readonly #reports = new ReportBook();
  /** A `flush` event asked for and not yet come. */
  #flushPlanned: "soon" | "later" | undefined;
  #signal: { name: string; number: number } | undefined;
  /** The driver gave up this engine: its tasks' ends are not reported. */
  #givenUp = false;
  #out: RunnerCommand[] = [];

  /** Where the runner is. */
  get state(): RunnerState {
    return this.#state;
  }

  /** Processes started and not yet reported (PERENGINE ones included). */
  get runningCount(): number {
    return this.#running.size;
  }

  /**
   * The earliest time a `tick` is due (a time limit, a signal death settling, the end of a kill, the
   * end of a `--fail-fast` hold).
   */
  get nextWake(): number | undefined {
    let at: number | undefined;
    const take = (t: number) => {
      if (at === undefined || t < at) at = t;
    };
    for (const r of this.#running.values()) {
      if (r.exit) take(r.exit.settleUntil);
      else if (r.deadline !== undefined) take(r.deadline);
    }
    if (this.#state === "killing" && this.#running.size > 0) take(this.#leaveBy);
    if (this.#heldSince !== undefined && this.#state === "running") take(this.#heldSince + HOLD_MS);
    return at;
  }

  /** What this engine holds, for a driver it reaches again. */
  resumeState(): EngineResume {
    const tasks = [...this.#running.values()].filter((r) => !r.phase).map((r) => r.task);
    for (let i = this.#qHead; i < this.#queue.length; i++) tasks.push(this.#queue[i]!);
    const held = this.#reports.held();
    return { tasks: tasks.concat(held.tasks), outcomes: held.outcomes, startDone: this.#startDone };
  }

  /**
   * @param e what happened
   * @returns what to do, in order
   */
  handle(e: RunnerEvent): RunnerCommand[] {
    this.#out = [];
    switch (e.kind) {
      case "configure":
        this.#killGraceS = e.killGraceS;
        this.#slots = e.slots;
        for (let s = e.slots - 1; s >= 0; s--) this.#freeSlots.push(s);
        if (this.#pool) this.#givePool();
        break;
      case "poolReady":
        if (this.#pool || this.#state === "killing" || this.#state === "left") break;
        this.#pool = true;
        this.#givePool();
        this.#pump();
        break;
      case "poolLost":
        this.#poolLost();
        break;
      case "withdrawn":
        this.#withdrawn(e.run, e.now);
        break;
      case "perEngine":
        if (this.#perEngine) break;
        this.#perEngine = { start: e.start, stop: e.stop };
        this.#startNext();
        break;
      case "tasks":
        for (const t of e.tasks) this.#queue.push(t);
        this.#pump();
        break;
      case "started":
        this.#started(e.run, e.pid, e.now, e.slot);
        break;
      case "startFailed":
        this.#startFailed(e.run, e.message, e.now, e.slot);
        break;
      case "exited":
        this.#exited(e.run, e.result, e.now);
        break;
      case "tick":
        this.#tick(e.now);
        break;
      case "flush":
        this.#flush();
        break;
      case "ack":
        this.#reports.ack(e.seq);
        break;
      case "stop":
        this.#stop();
        break;
      case "kill":
        this.#kill(e.reason, e.now);
        break;
      case "signal":
        if (this.#signal) break;
        this.#signal = { name: e.signal, number: e.number };
        if (this.#state !== "left") this.#kill(`received ${e.signal}`, e.now);
        break;
      case "driverLost":
        if (this.#state === "left" || this.#state === "killing") break;
        this.#state = "killing";
        this.#killCause = "lost";
        this.#givenUp = e.givenUp;
        this.#killAll(e.now);
        break;
      case "reattached":
        this.#killGraceS = e.killGraceS;
        // First of all, what it holds; the outcomes in it are kept until acknowledged.
        this.#send({ kind: "resume", ...this.resumeState() });
        this.#reports.sealForResume();
        this.#flushPlanned = undefined;
        this.#pump();
        break;
    }
    return this.#out;
  }

  #send(message: RunnerMessage): void {
    this.#out.push({ kind: "send", message });
  }

  #log(level: "debug" | "info" | "warn" | "error", text: string): void {
    this.#out.push({ kind: "log", level, text });
  }

  #launch(task: Task, slot: number, phase: "start" | "stop" | undefined): void {
    const run = this.#nextRun++;
    this.#running.set(run, { task, slot, queued: false, phase, timedOut: false });
    this.#out.push({ kind: "start", run, task, slot });
  }

  /** Hand a task to the launcher's queue. */
  #queueRun(task: Task): void {
    const run = this.#nextRun++;
    this.#running.set(run, { task, slot: undefined, queued: true, phase: undefined, timedOut: false });
    this.#out.push({ kind: "queue", run, task });
  }

  /** The free slots become the launcher's. */
  #givePool(): void {
    if (!this.#freeSlots.length) return;
    this.#out.push({ kind: "pool", slots: this.#freeSlots.splice(0).reverse() });
  }

  /** Queued runs that have not started. */
  #unstarted(): number[] {
    const runs: number[] = [];
    for (const [run, r] of this.#running) if (r.queued && r.pid === undefined) runs.push(run);
    return runs;
  }

  /** The launcher is gone (what it ran was reported): the slots no task holds are free again. */
  #poolLost(): void {
    if (!this.#pool) return;
    this.#pool = false;
    const held = new Set<number>();
    for (const r of this.#running.values()) if (!r.phase && r.slot !== undefined) held.add(r.slot);
    this.#freeSlots = [];
    for (let s = this.#slots - 1; s >= 0; s--) if (!held.has(s)) this.#freeSlots.push(s);
    this.#pump();
  }

  #withdrawn(run: number, now: number): void {
    const r = this.#running.get(run);
    if (!r || !r.queued || r.pid !== undefined) return;
    this.#running.delete(run);
    // Not started: the driver has it back (a killing engine leaves it to the driver as lost), with
    // the others of this turn in one message.
    if (this.#state !== "killing" && this.#state !== "left") {
      this.#releasing.push(r.task.id);
      this.#planFlush("soon");
    }
    this.#maybeStopped();
    this.#killDone(now);
  }

  /** The next PERENGINE START task, one at a time; then the queued tasks. */
  #startNext(): void {
    if (this.#state === "killing" || this.#state === "left") return;
    const start = this.#perEngine!.start;
    if (this.#nextStart < start.length) {
      this.#launch(start[this.#nextStart++]!, -1, "start");
      return;
    }
    this.#startDone = true;
    this.#pump();
    this.#maybeStopped();
  }

  #pump(): void {
    if (!this.#startDone || (this.#state !== "running" && this.#state !== "stopping")) return;
    if (this.#heldSince !== undefined) return;
    // The launcher takes every task held: it starts each the moment a slot is free.
    if (this.#pool) { while (this.#qHead < this.#queue.length) this.#queueRun(this.#queue[this.#qHead++]!); }
    while (this.#freeSlots.length > 0 && this.#qHead < this.#queue.length) {
      this.#launch(this.#queue[this.#qHead++]!, this.#freeSlots.pop()!, undefined);
    }
    if (this.#qHead > 4096 && this.#qHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#qHead);
      this.#qHead = 0;
    }
  }

  #started(run: number, pid: number, now: number, slot: number | undefined): void {
    const r = this.#running.get(run);
    if (!r) return;
    r.pid = pid;
    if (r.queued && slot !== undefined) r.slot = slot;
    // A process that reports its start after a kill began (a launcher answers asynchronously) is killed too.
    if (this.#state === "killing") {
      this.#out.push({ kind: "killLadder", pids: [pid], graceMs: KILL_GRACE_MS });
      return;
    }
    const t = r.task.timeout;
    if (!r.phase && t && t > 0) r.deadline = now + t * 1000;
  }

  #startFailed(run: number, msg: string, now: number, slot: number | undefined): void {
    const r = this.#running.get(run);
    if (!r) return;
    this.#running.delete(run);
    if (r.queued && slot !== undefined) r.slot = slot;
    this.#log("error", `Task ${r.task.id} could not start: ${msg}`);
    this.#holdAfter(r.task, now);
    const at = now / 1000;
    const outcome: TaskOutcome = {
      id: r.task.id,
      kind: r.phase ? "perEngine" : "normal",
      slot: r.slot ?? -1,
      pid: -1,
      // The reference reports errno (7 for a command over the kernel's argument limit), else 200.
      returnCode: Number(/os error (\d+)/.exec(msg)?.[1] ?? 200),
      start: at,
      end: at,
      stdoutBytes: 0,
      stdoutSnippet: "",
      stderrBytes: msg.length,
      stderrSnippet: msg.slice(0, 83),
      killed: false,
    };
    this.#ended(r, outcome, now);
  }

  #exited(run: number, result: ProcessResult, now: number): void {
    const r = this.#running.get(run);
    if (!r || r.exit) return;
    if (r.timedOut && result.end - result.start < (r.task.timeout ?? 0)) {
      // Its own process had ended in time: the limit only stopped what it left holding its output.
      r.timedOut = false;
      this.#log(
        "info",
        `Task ${r.task.id} (line ${r.task.line}) ended within its time limit of ${r.task.timeout} s; ` +
          `what it left running, holding its output, was stopped at the limit`,
      );
    }
    if (result.returnCode !== 0 || r.timedOut) this.#holdAfter(r.task, now);
    r.deadline = undefined;
    if (r.timedOut) {
      this.#log(
        "info",
        `Task ${r.task.id} (line ${r.task.line}) stopped at its time limit of ${r.task.timeout} s`,
      );
    } else if (
      SIGNAL_RCS.has(result.returnCode) && this.#state !== "killing" && this.#state !== "left"
    ) {
      // Slurm signals every process of the job at once: a task may die of the SIGTERM that is
      // also on its way to this engine. Wait a moment so that it is not reported as a failure.
      r.exit = { result, settleUntil: now + SIGNAL_SETTLE_MS };
      return;
    }
    this.#report(run, r, result, now);
  }

  /**
   * `task` failed (or could not start). If that ends the run (`--fail-fast`), nothing more starts
   * here (the launcher holds its queue too) until the driver's kill comes, or HOLD_MS pass without it.
   */
  #holdAfter(task: Task, now: number): void {
    if (!task.stopsRun || this.#heldSince !== undefined) return;
    this.#heldSince = now;
    this.#log("info", `Task ${task.id} failed with --fail-fast: starting nothing more`);
  }

  #tick(now: number): void {
    if (this.#heldSince !== undefined && now - this.#heldSince >= HOLD_MS && this.#state === "running") {
      this.#heldSince = undefined;
      this.#log(
        "warn",
        `No end of the run came ${HOLD_MS / 1000} s after a failure with --fail-fast; going on`,
      );
      this.#out.push({ kind: "release" });
      this.#pump();
    }
    for (const [run, r] of this.#running) {
      if (r.exit) {
        if (now >= r.exit.settleUntil) this.#report(run, r, r.exit.result, now);
      } else if (r.deadline !== undefined && now >= r.deadline && r.pid !== undefined) {
        // The time limit: SIGTERM to its process group, SIGKILL after --kill-grace or as soon as its
        // main process has exited (so nothing of it outlives the report).
        r.deadline = undefined;
        r.timedOut = true;
        this.#out.push({ kind: "killLadder", pids: [r.pid], graceMs: this.#killGraceS * 1000 });
      }
    }
    this.#killDone(now);
  }

  /** A process's end, taken into account. */
  #report(run: number, r: Run, result: ProcessResult, now: number): void {
    this.#running.delete(run);
    this.#out.push({ kind: "untrack", pid: result.pid });
    const outcome: TaskOutcome = {
      id: r.task.id,
      kind: r.phase ? "perEngine" : "normal",
      slot: r.slot ?? -1,
      ...result,
      killed: this.#state === "killing" && result.returnCode !== 0, // a task that ended well while we killed is a success
    };
    if (r.timedOut) outcome.timedOut = true;
    this.#log(
      "debug",
      `Task ${r.task.id} (line ${r.task.line}) slot ${r.slot} pid ${result.pid} rc ${result.returnCode}`,
    );
    this.#ended(r, outcome, now);
  }

  /** Report `outcome` (unless the engine's own signal killed it), then go on. */
  #ended(r: Run, outcome: TaskOutcome, now: number): void {
    const task = r.task;
    if (r.phase) outcome.phase = r.phase;
    else if (task.attempt) outcome.attempt = task.attempt;
    // Killed because this engine got a signal (Slurm's SIGTERM, an admin, a dropped ssh session):
    // not the task's doing, and not a run the driver stopped. Say nothing of it: the driver takes the
    // task back as lost with this engine, runs it elsewhere, or leaves it unrecorded for -r.
    if ((this.#signal || this.#givenUp) && outcome.killed) {
      this.#log(
        "info",
        `Task ${task.id} (line ${task.line}) killed: this engine received ${this.#signal?.name}`,
      );
    } else {
      this.#reports.add(outcome, r.phase ? undefined : task);
      // While this engine holds more tasks than it has free slots, nobody waits for this report:
      // ends of the next few milliseconds go out with it, in one message. (The launcher's queue
      // already sends its ends in batches: those go on at once.)
      const queuedAfter = this.#pool
        ? 0
        : this.#queue.length - this.#qHead - this.#freeSlots.length - (r.phase ? 0 : 1);
      // A failure that ends the run goes at once: the driver's kill is what the engine waits for.
      const held = this.#heldSince !== undefined && outcome.returnCode !== 0;
      this.#planFlush(queuedAfter > 0 && this.#state === "running" && !held ? "later" : "soon");
    }
    if (r.phase === "start") {
      this.#startNext();
    } else if (r.phase === "stop") {
      if (this.#state === "stopTasks") this.#stopNext();
    } else {
      // A queued task's slot is the launcher's, which fills it itself (unless the launcher is gone).
      if (r.slot !== undefined && (!r.queued || !this.#pool)) {
        if (this.#pool) this.#out.push({ kind: "pool", slots: [r.slot] });
        else this.#freeSlots.push(r.slot);
      }
      this.#pump();
      this.#maybeStopped();
    }
    this.#killDone(now);
  }

  /** Ask for a `flush` event: at the end of this turn, or {@linkcode COALESCE_MS} later. */
  #planFlush(when: "soon" | "later"): void {
    if (this.#flushPlanned === "soon" || this.#flushPlanned === when) return;
    this.#flushPlanned = when;
    this.#out.push(when === "soon" ? { kind: "flushSoon" } : { kind: "flushSoon", afterMs: COALESCE_MS });
  }

  #flush(): void {
    this.#flushPlanned = undefined;
    if (this.#releasing.length) this.#send({ kind: "released", ids: this.#releasing.splice(0) });
    const done = this.#reports.takeDone();
    if (done) this.#send({ kind: "done", outcomes: done.outcomes, seq: done.seq });
  }

  #stop(): void {
    if (this.#state !== "running") return;
    this.#state = "stopping";
    const ids = this.#queue.slice(this.#qHead).map((t) => t.id);
    this.#queue = [];
    this.#qHead = 0;
    if (ids.length > 0) this.#send({ kind: "released", ids });
    const back = this.#unstarted();
    if (back.length) this.#out.push({ kind: "withdraw", runs: back });
    this.#log(
      "info",
      `Stopping: ${ids.length} queued task(s) handed back, ` +
        (back.length ? `${back.length} asked back from the launcher, ` : "") +
        `${this.#running.size - back.length} running`,
    );
    this.#maybeStopped();
  }

  #maybeStopped(): void {
    if (this.#state !== "stopping" || this.#running.size > 0) return;
    if (!this.#startDone && this.#perEngine) return; // START tasks still running: #startNext calls back
    this.#state = "stopTasks";
    this.#stopNext();
  }

  /** The next PERENGINE STOP task, one at a time; then leave. */
  #stopNext(): void {
    const stop = this.#perEngine?.stop ?? [];
    if (this.#nextStop < stop.length) this.#launch(stop[this.#nextStop++]!, -1, "stop");
    else this.#leave(0);
  }

  #kill(reason: string, now: number): void {
    if (this.#state === "killing" || this.#state === "left") return;
    this.#state = "killing";
    this.#killCause = "kill";
    const queued = this.#unstarted().length;
    this.#log(
      "info",
      `Killing ${this.#running.size - queued} running task(s)` +
        (queued ? ` (${queued} queued in the launcher asked back)` : "") + `: ${reason}`,
    );
    this.#killAll(now);
  }

  #killAll(now: number): void {
    // The queue first: a slot that a killed task frees must not start a queued task on the way out.
    const back = this.#unstarted();
    if (back.length) this.#out.push({ kind: "withdraw", runs: back });
    const pids: number[] = [];
    for (const r of this.#running.values()) if (r.pid !== undefined) pids.push(r.pid);
    if (pids.length) this.#out.push({ kind: "killLadder", pids, graceMs: KILL_GRACE_MS });
    this.#leaveBy = now + KILL_WAIT_MS;
    this.#killDone(now);
  }

  /** Killing, once nothing runs any more (or it took too long): leave. */
  #killDone(now: number): void {
    if (this.#state !== "killing" || (this.#running.size > 0 && now < this.#leaveBy)) return;
    if (this.#killCause === "lost") {
      this.#state = "left";
      this.#out.push({ kind: "lost" });
    } else {
      this.#leave(this.#signal ? 128 + this.#signal.number : 0);
    }
  }

  #leave(code: number): void {
    this.#flush();
    this.#state = "left";
    this.#send(this.#signal ? { kind: "bye", signal: this.#signal.name } : { kind: "bye" });
    this.#out.push({ kind: "leave", code });
  }
}

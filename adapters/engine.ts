/**
 * The engine: one process per node. It connects to the driver, proves it knows the run's secret,
 * runs PERENGINE START tasks, then up to `slots` tasks at a time, reports each as it exits, and on
 * `stop` hands back what it has not started, waits for what runs, runs PERENGINE STOP tasks and
 * leaves. When the driver disappears (killed, its host gone, the network cut) the engine goes on
 * with its tasks and keeps their outcomes for `--driver-grace`, trying to reach the driver again:
 * at the address it had, or at the one a driver restarted with `--reattach` publishes in
 * `<uid>_address`. After the grace it kills its tasks' process groups and exits.
 *
 * @module
 */

import {
  asFromDriver,
  authMac,
  checkMac,
  type EngineResume,
  type FromDriver,
  PROTOCOL_VERSION,
  type RunInfo,
} from "../lib/protocol.ts";
import { type DriverAddress, parseDriverAddress } from "../lib/journal.ts";
import { engineEnv, splitEnvResources, taskEnv } from "../lib/task_env.ts";
import type { PerEngineTask, Task, TaskOutcome } from "../lib/types.ts";
import { Logger } from "./log.ts";
import { killGroup, signalNumber, spawnTask } from "./process.ts";
import { connectWithin, Link, remoteAddress, splitAddress } from "./transport.ts";
import { cpuUsage } from "node:process";

/** How the engine was started. */
export interface EngineOptions {
  /** Driver `host:port`. */
  connect: string;
  /** Run secret (hex). */
  secret: string;
  /** Context id that launched it. */
  context: number;
  /** Node column name. */
  host: string;
  slots: number;
  coresPerSlot: number;
  envResource: string[];
  /** Context label, for the log file name. */
  label: string;
  /** Launch id given by the context. */
  launch?: string;
}

/**
 * A driver silent this long is taken as lost: the engine starts looking for a restarted one (in
 * `<uid>_address`) while it keeps the connection, which may come back (a network cut, a driver
 * stopped with Ctrl-Z). Its tasks are killed only when `--driver-grace` has passed since.
 */
const PING_TIMEOUT_MS = 5000;
/** How often an engine without a driver looks for one (the published address, then the old ones). */
const RECONNECT_EVERY_MS = 1000;
/** Heartbeat to the reaper; it kills the tasks when the engine is silent for REAPER_SILENT_S. */
const REAPER_BEAT_MS = 1000;

/**
 * A companion process that outlives the engine only to clean up: the engine tells it each task's
 * process group on its stdin (`+PGID` / `-PGID`, and `.` every second); when that pipe closes —
 * the engine exited, even by SIGKILL — or stays silent for `silentS` — the engine hangs or is
 * stopped longer than `--driver-grace`, after which the driver runs its tasks elsewhere — it kills
 * the groups still listed. So a lost engine leaves no orphaned task and no second copy of a
 * re-queued one, and an engine frozen for less than the grace loses nothing.
 */
function reaperScript(silentS: number): string {
  return `declare -A g; while read -t ${silentS} -r l; do case $l in +*) g[\${l:1}]=1;; -*) unset "g[\${l:1}]";; esac; done; ` +
    '[ ${#g[@]} -eq 0 ] && exit 0; for p in "${!g[@]}"; do kill -TERM -- -$p 2>/dev/null; done; sleep 1; ' +
    'for p in "${!g[@]}"; do kill -KILL -- -$p 2>/dev/null; done';
}

class Reaper {
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #enc = new TextEncoder();
  /** @param silentS seconds without a word from the engine after which it kills the groups */
  constructor(silentS: number) {
    try {
      const child = new Deno.Command("/bin/bash", {
        args: ["-c", reaperScript(silentS)],
        stdin: "piped",
        stdout: "null",
        stderr: "null",
        detached: true,
      }).spawn();
      child.unref();
      this.#writer = child.stdin.getWriter();
    } catch {
      this.#writer = undefined;
    }
  }
  #pending = "";
  #scheduled = false;
  /** Tell the reaper the engine is alive. */
  beat(): void {
    this.#queue(".\n");
  }
  /** @param pgid a task's process group, now running */
  add(pgid: number): void {
    this.#queue(`+${pgid}\n`);
  }
  /** @param pgid a task's process group, now finished */
  remove(pgid: number): void {
    this.#queue(`-${pgid}\n`);
  }
  // Updates of one event-loop turn go out in one write (a finish and the next start, typically).
  #queue(line: string): void {
    this.#pending += line;
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      const data = this.#pending;
      this.#pending = "";
      if (data) this.#writer?.write(this.#enc.encode(data)).catch(() => {});
    });
  }
  close(): void {
    this.#writer?.close().catch(() => {});
    this.#writer = undefined;
  }
}
const KILL_GRACE_MS = 1000;
/** Signals that stop an engine cleanly (its tasks killed and reported as such). */
const TERM_SIGNALS: Deno.Signal[] = ["SIGTERM", "SIGHUP", "SIGINT"];
/**
 * Ends that may come from the same signal as the engine's own (a job-wide SIGTERM): the task killed
 * by HUP/INT/KILL/TERM, or its bash reporting a child killed so (128 + the signal).
 */
const SIGNAL_RCS = new Set([-1, -2, -9, -15, 129, 130, 137, 143]);
/** How long a task's signal death waits for the engine's own signal before it is reported. */
const SIGNAL_SETTLE_MS = 300;

/**
 * Run an engine until the driver tells it to leave or disappears.
 * @param o options
 * @returns the process exit status
 */
export async function runEngine(o: EngineOptions): Promise<number> {
  const deadline = Date.now() + 15000;
  for (let delay = 100;; delay = Math.min(delay * 2, 2000)) {
    const engine = await connectEngine(o, deadline);
    if (typeof engine === "number") return engine;
    const code = await engine.run();
    // Closed before the driver even greeted us: it is busy turning away a flood of strangers
    // (or restarting its listener). Try again until the deadline.
    if (!engine.greeted && Date.now() + delay < deadline) {
      await new Promise((r) => setTimeout(r, delay));
      continue;
    }
    return code;
  }
}

async function connectEngine(o: EngineOptions, deadline: number): Promise<Engine | number> {
  const candidates = o.connect.split(",").filter(Boolean).map(splitAddress);
  let conn: Deno.Conn | undefined;
  let lastError = "";
  for (let delay = 50; !conn; delay = Math.min(delay * 2, 1000)) {
    for (const c of candidates) {
      conn = await connectWithin(c, 3000).catch((e) => {
        lastError = `${c.hostname}:${c.port}: ${e instanceof Error ? e.message : e}`;
        return undefined;
      });
      if (conn) break;
    }
    if (conn) break;
    if (Date.now() > deadline) {
      console.error(
        `disbatch engine on ${o.host}: cannot reach the driver at ${o.connect} (last error: ${lastError})`,
      );
      return 1;
    }
    await new Promise((r) => setTimeout(r, delay));
  }
  return new Engine(o, new Link(conn));
}

class Engine {
  readonly #o: EngineOptions;
  #link: Link;
  #log: Logger = new Logger(undefined, "INFO");
  #nonce = crypto.randomUUID();
  #rank = -1;
  #run: RunInfo | undefined;
  #queue: Task[] = [];
  #qHead = 0;
  #running = new Map<number, { task: Task; pid: number; slot: number }>();
  #freeSlots: number[] = [];
  #slotEnv: Record<string, string>[] = [];
  #perEngine: { start: PerEngineTask[]; stop: PerEngineTask[] } | undefined;
  #startDone = false;
  /** running → stopping (no new work, running tasks finish) → stopTasks → left; or → killing → left. */
  #state: "running" | "stopping" | "stopTasks" | "killing" | "left" = "running";
  #outbox: TaskOutcome[] = [];
  #flushScheduled = false;
  #finish!: (code: number) => void;
  #finished = new Promise<number>((r) => this.#finish = r);
  #authed = false;
  #reaper: Reaper | undefined;
  #beat: ReturnType<typeof setInterval> | undefined;
  /** The signal that stops this engine, once one came. */
  #signal: Deno.Signal | undefined;
  #greeted = false;
  /** When the driver was lost (ms), while the engine is without one. */
  #lostAt: number | undefined;
  #reconnecting = false;
  /** `done` messages not yet acknowledged by a driver (sent again to the next one). */
  #unacked: { seq: number; outcomes: TaskOutcome[] }[] = [];
  /** The tasks of unacknowledged outcomes (a restarted driver needs their text to record them). */
  #unackedTasks = new Map<number, Task>();
  #seq = 0;
  /** Tasks started (PERENGINE ones included), for the CPU line in the log at the end. */
  #started = 0;
  /** The grace ran out: the driver gives this engine's tasks to others; their ends are not reported. */
  #givenUp = false;
  /** Settles the handshake of a connection to a driver found again. */
  #rejoined: ((ok: boolean | "refused") => void) | undefined;

  constructor(o: EngineOptions, link: Link) {
    this.#o = o;
    this.#link = link;
  }

  async run(): Promise<number> {
    this.#attach(this.#link);
    const watchdog = setInterval(() => this.#watch(), 1000);
    // Slurm's SIGTERM at the job's time limit or on scancel, a SIGTERM/SIGHUP from anyone: the tasks are
    // killed by us and never reported as their own failures; the driver is told why the engine leaves
    // and takes the tasks back as lost with it.
    const handlers = TERM_SIGNALS.map((sig) => {
      const h = () => this.#signalled(sig);
      Deno.addSignalListener(sig, h);
      return () => Deno.removeSignalListener(sig, h);
    });
    const code = await this.#finished;
    clearInterval(watchdog);
    for (const remove of handlers) remove();
    return code;
  }

  /** Talk over `link` from now on. */
  #attach(link: Link): void {
    this.#link = link;
    link.onMessage = (m) => {
      if (link !== this.#link) return;
      let msg: FromDriver;
      try {
        msg = asFromDriver(m);
      } catch (e) {
        this.#log.error(`Protocol violation from the driver: ${(e as Error).message}`);
        link.close(`protocol violation: ${(e as Error).message}`);
        return;
      }
      this.#onMessage(msg);
    };
    link.start();
    link.closed.then((reason) => {
      if (link === this.#link) this.#linkClosed(reason);
    });
  }

  /** Once a second: a silent driver is lost; without one past the grace, the tasks are killed. */
  #watch(): void {
    const now = Date.now();
    const silent = now - this.#link.lastHeard > PING_TIMEOUT_MS;
    if (this.#state === "left" || this.#state === "killing") return;
    if (this.#rank < 0) {
      // Never welcomed: a driver that does not finish the handshake is not one to wait for.
      if (silent && !this.#reconnecting) this.#link.close("driver silent for 5 s");
      return;
    }
    if (this.#lostAt !== undefined && !silent && this.#authed && !this.#link.isClosed) {
      // The same connection came back (a network cut healed, the driver was only stopped).
      this.#log.info(
        `The driver is heard again after ${
          ((now - this.#lostAt) / 1000).toFixed(1)
        } s; ${this.#running.size} task(s) running`,
      );
      this.#lostAt = undefined;
      return;
    }
    if (this.#lostAt === undefined) {
      if (!silent) return;
      this.#lostAt = this.#link.lastHeard;
      this.#log.warn(`No word from the driver for ${PING_TIMEOUT_MS / 1000} s; ${this.#keepGoing()}`);
    }
    const grace = (this.#run?.driverGrace ?? 0) * 1000;
    if (now - this.#lostAt > grace) {
      this.#driverLost(`no driver for ${Math.round((now - this.#lostAt) / 1000)} s (--driver-grace)`);
      return;
    }
    // A restarted driver published another address: go there (the old connection is dead).
    if (this.#reconnecting) return;
    const pub = this.#link.isClosed ? undefined : this.#published();
    if (this.#link.isClosed || (pub !== undefined && pub.epoch !== this.#run?.epoch)) this.#reconnect();
  }

  #keepGoing(): string {
    return `keeping ${this.#running.size} running task(s) and looking for the driver for up to ${
      this.#run?.driverGrace ?? 0
    } s`;
  }

  /** The address a (restarted) driver published next to the run's files, if any. */
  #published(): DriverAddress | undefined {
    if (!this.#run) return undefined;
    try {
      return parseDriverAddress(Deno.readTextFileSync(`${this.#run.uid}_address`));
    } catch {
      return undefined;
    }
  }

  #linkClosed(reason: string): void {
    if (this.#state === "left") {
      this.#finish(0);
      return;
    }
    if (this.#rank < 0 || this.#state === "killing" || !(this.#run?.driverGrace)) {
      this.#driverLost(reason);
      return;
    }
    if (this.#lostAt === undefined) {
      this.#lostAt = Date.now();
      this.#log.warn(`Lost the driver (${reason}); ${this.#keepGoing()}`);
    }
    this.#reconnect();
  }

  /** Try the published address, then the old ones, until a driver takes this engine back or the grace ends. */
  async #reconnect(): Promise<void> {
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    try {
      while (this.#lostAt !== undefined && this.#state !== "left" && this.#state !== "killing") {
        if (Date.now() - this.#lostAt > (this.#run?.driverGrace ?? 0) * 1000) return;
        const pub = this.#published();
        const addresses = [...new Set([...(pub?.addresses ?? []), ...this.#o.connect.split(",")])].filter(
          Boolean,
        );
        for (const a of addresses) {
          let conn: Deno.Conn;
          try {
            conn = await connectWithin(splitAddress(a), 3000);
          } catch {
            continue;
          }
          const old = this.#link;
          const link = new Link(conn);
          this.#authed = false;
          this.#nonce = crypto.randomUUID();
          const outcome = new Promise<boolean | "refused">((r) => {
            this.#rejoined = r;
            setTimeout(() => r(false), 10_000);
            link.closed.then(() => r(false));
          });
          this.#attach(link);
          old.close("replaced");
          const ok = await outcome;
          this.#rejoined = undefined;
          if (ok === true) return;
          link.close("no welcome");
          if (ok === "refused") return;
        }
        await new Promise((r) => setTimeout(r, RECONNECT_EVERY_MS));
      }
    } finally {
      this.#reconnecting = false;
    }
  }

  #signalled(sig: Deno.Signal): void {
    if (this.#signal) return;
    this.#signal = sig;
    if (this.#state === "left") return;
    this.#kill(`received ${sig}`);
  }

  /** True once the driver sent its challenge (a connection it took, not one it turned away). */
  get greeted(): boolean {
    return this.#greeted;
  }

  #onMessage(m: FromDriver): void {
    if (!this.#authed) {
      if (m.kind === "challenge") {
        this.#greeted = true;
        if (m.version !== PROTOCOL_VERSION) {
          console.error(
            `disbatch engine on ${this.#o.host}: the driver speaks protocol ${m.version}, this engine ${PROTOCOL_VERSION}: use the same disbatch binary on all nodes`,
          );
          this.#link.close("protocol version mismatch");
          return;
        }
        this.#link.send({
          kind: "hello",
          version: PROTOCOL_VERSION,
          role: "engine",
          mac: authMac(this.#o.secret, "peer", m.nonce),
          nonce: this.#nonce,
          host: this.#o.host,
          pid: Deno.pid,
          context: this.#o.context,
          slots: this.#o.slots,
          coresPerSlot: this.#o.coresPerSlot,
          ...(this.#o.launch ? { launch: this.#o.launch } : {}),
          ...(this.#rank >= 0 ? { resume: { rank: this.#rank } } : {}),
        });
      } else if (m.kind === "welcome") {
        if (!checkMac(this.#o.secret, "driver", this.#nonce, m.mac)) {
          console.error(
            `disbatch engine on ${this.#o.host}: the process at ${this.#o.connect} does not know this run's secret; not trusting it`,
          );
          this.#link.close("driver failed authentication");
          return;
        }
        this.#authed = true;
        if (this.#rank >= 0) this.#resumed(m.rank, m.run);
        else this.#welcome(m.rank, m.run);
      } else if (m.kind === "rejected") {
        if (this.#rank >= 0 && !m.gone) {
          // Not this run's driver (a port reused by another run, another version): keep looking.
          this.#log.warn(
            `The process at ${this.#link.remote} refused this engine (${m.reason}); still looking`,
          );
          this.#rejoined?.(false);
          return;
        }
        if (this.#rank >= 0) {
          // A driver that ran this engine's tasks elsewhere meanwhile: these copies must go.
          this.#log.error(`The driver at ${this.#link.remote} does not take this engine back: ${m.reason}`);
          this.#rejoined?.("refused");
          this.#lostAt = undefined;
          this.#kill(`the driver does not take this engine back (${m.reason})`);
          return;
        }
        console.error(`disbatch engine on ${this.#o.host}: the driver refused this engine: ${m.reason}`);
        this.#link.close("rejected");
      }
      return;
    }
    switch (m.kind) {
      case "perEngine":
        if (this.#perEngine) break; // a driver found again sends it once more
        this.#perEngine = { start: m.start, stop: m.stop };
        this.#runStartTasks();
        break;
      case "tasks":
        for (const t of m.tasks) this.#queue.push(t);
        this.#pump();
        break;
      case "stop":
        this.#stop();
        break;
      case "kill":
        this.#kill(m.reason);
        break;
      case "ping":
        if (m.ack !== undefined) {
          while (this.#unacked.length > 0 && this.#unacked[0]!.seq <= m.ack) {
            for (const o of this.#unacked.shift()!.outcomes) {
              if (o.kind === "normal") this.#unackedTasks.delete(o.id);
            }
          }
        }
        this.#link.send({ kind: "pong" });
        break;
    }
  }

  #welcome(rank: number, run: RunInfo): void {
    this.#rank = rank;
    this.#run = run;
    const logPath = `${run.uid}_${this.#o.label}_${this.#o.host}_engine_${rank}.log`;
    try {
      Deno.chdir(run.cwd);
    } catch (e) {
      console.error(
        `disbatch engine ${rank} on ${this.#o.host}: cannot change to ${run.cwd}: ${
          e instanceof Error ? e.message : e
        }`,
      );
    }
    this.#log = new Logger(logPath, run.logLevel);
    const base = engineEnv({
      jobId: run.jobId,
      nameTasks: run.nameTasks,
      rank,
      coresPerSlot: this.#o.coresPerSlot,
      // The reference exported its KVS address as IP:port: use the address this engine reached.
      address: remoteAddress(this.#link.conn) ?? run.address,
    });
    // Tasks see the reference's DISBATCH_* set, never the run's secret or dbUtil.sh's plumbing.
    for (const k of ["DISBATCH_SECRET", "DISBATCH_DRIVER", "DISBATCH_UID"]) Deno.env.delete(k);
    for (const [k, v] of Object.entries(base)) Deno.env.set(k, v);
    // Frozen longer than the grace, the driver gives this engine up: its tasks must be dead by then.
    this.#reaper = new Reaper(Math.max(5, Math.round(run.driverGrace)));
    this.#beat = setInterval(() => this.#reaper?.beat(), REAPER_BEAT_MS);
    const split = splitEnvResources(this.#o.envResource, Deno.env.toObject(), this.#o.slots);
    for (const w of split.warnings) this.#log.error(w);
    const slots = this.#o.envResource.length ? split.slots : this.#o.slots;
    this.#slotEnv = this.#o.envResource.length ? split.perSlot : [];
    for (let s = slots - 1; s >= 0; s--) this.#freeSlots.push(s);
    this.#log.info(
      `Engine ${rank} started on ${this.#o.host} (pid ${Deno.pid}) with ${slots} slots; driver ${this.#o.connect}`,
    );
  }

  /** What this engine holds, for the driver it reaches again. */
  #resumeState(): EngineResume {
    const tasks = [...this.#running.values()].filter((r) => r.slot >= 0).map((r) => r.task);
    for (let i = this.#qHead; i < this.#queue.length; i++) tasks.push(this.#queue[i]!);
    const outcomes = this.#unacked.flatMap((u) => u.outcomes).concat(this.#outbox);
    for (const o of outcomes) {
      const t = o.kind === "normal" ? this.#unackedTasks.get(o.id) : undefined;
      if (t) tasks.push(t);
    }
    return { tasks, outcomes, startDone: this.#startDone };
  }

  /** A driver took this engine back (the same one, or one restarted with `--reattach`). */
  #resumed(rank: number, run: RunInfo): void {
    const away = this.#lostAt === undefined ? 0 : (Date.now() - this.#lostAt) / 1000;
    this.#run = run;
    this.#lostAt = undefined;
    // First of all, what it holds (it may be large: not in the hello, which is read before trust).
    this.#link.send({ kind: "resume", ...this.#resumeState() });
    // The outcomes went with the resume; kept until acknowledged (a driver lost again gets them again).
    if (this.#outbox.length) {
      this.#unacked.push({ seq: ++this.#seq, outcomes: this.#outbox });
      this.#outbox = [];
    }
    this.#rejoined?.(true);
    this.#log.info(
      `Re-attached to the driver at ${this.#link.remote} as engine ${rank} after ${
        away.toFixed(1)
      } s; ${this.#running.size} task(s) running`,
    );
    if (rank !== this.#rank) {
      this.#log.warn(`The driver gave rank ${rank}; this engine keeps ${this.#rank} in its log`);
    }
    this.#pump();
  }

  async #runStartTasks(): Promise<void> {
    for (const t of this.#perEngine!.start) {
      if (this.#state === "killing" || this.#state === "left") return;
      await this.#runOne(t, -1, "start");
    }
    this.#startDone = true;
    this.#pump();
    this.#maybeStopped();
  }

  #pump(): void {
    if (!this.#startDone || (this.#state !== "running" && this.#state !== "stopping")) return;
    while (this.#freeSlots.length > 0 && this.#qHead < this.#queue.length) {
      const task = this.#queue[this.#qHead++]!;
      const slot = this.#freeSlots.pop()!;
      this.#runOne(task, slot, undefined).then(() => {
        this.#freeSlots.push(slot);
        this.#pump();
        this.#maybeStopped();
      });
    }
    if (this.#qHead > 4096 && this.#qHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#qHead);
      this.#qHead = 0;
    }
  }

  async #runOne(task: Task, slot: number, phase: "start" | "stop" | undefined): Promise<void> {
    const env = taskEnv(task, slot);
    const extra = this.#slotEnv[slot < 0 ? 0 : slot];
    if (extra) Object.assign(env, extra);
    let outcome: TaskOutcome;
    try {
      const rt = spawnTask(task.command, env);
      this.#started++;
      this.#running.set(rt.pid, { task, pid: rt.pid, slot });
      this.#reaper?.add(rt.pid);
      if (this.#state === "killing") killGroup(rt.pid, "SIGTERM");
      const limit = phase ? undefined : this.#timeLimit(task, rt.pid);
      const r = await rt.result;
      const timedOut = limit?.end() ?? false;
      if (timedOut) {
        this.#log.info(`Task ${task.id} (line ${task.line}) stopped at its time limit of ${task.timeout} s`);
      } else if (SIGNAL_RCS.has(r.returnCode) && this.#state !== "killing" && this.#state !== "left") {
        // Slurm signals every process of the job at once: a task may die of the SIGTERM that is
        // also on its way to this engine. Wait a moment so that it is not reported as a failure.
        await new Promise((res) => setTimeout(res, SIGNAL_SETTLE_MS));
      }
      this.#running.delete(rt.pid);
      this.#reaper?.remove(rt.pid);
      outcome = {
        id: task.id,
        kind: phase ? "perEngine" : "normal",
        slot,
        ...r,
        killed: this.#state === "killing" && r.returnCode !== 0, // a task that ended well while we killed is a success
      };
      if (timedOut) outcome.timedOut = true;
      this.#log.debug(`Task ${task.id} (line ${task.line}) slot ${slot} pid ${r.pid} rc ${r.returnCode}`);
    } catch (e) {
      const now = Date.now() / 1000;
      const msg = e instanceof Error ? e.message : String(e);
      this.#log.error(`Task ${task.id} could not start: ${msg}`);
      outcome = {
        id: task.id,
        kind: phase ? "perEngine" : "normal",
        slot,
        pid: -1,
        // The reference reports errno (7 for a command over the kernel's argument limit), else 200.
        returnCode: Number(/os error (\d+)/.exec(msg)?.[1] ?? 200),
        start: now,
        end: now,
        stdoutBytes: 0,
        stdoutSnippet: "",
        stderrBytes: msg.length,
        stderrSnippet: msg.slice(0, 83),
        killed: false,
      };
    }
    if (phase) outcome.phase = phase;
    else if (task.attempt) outcome.attempt = task.attempt;
    // Killed because this engine got a signal (Slurm's SIGTERM, an admin, a dropped ssh session):
    // not the task's doing, and not a run the driver stopped. Say nothing of it: the driver takes the
    // task back as lost with this engine, runs it elsewhere, or leaves it unrecorded for -r.
    if ((this.#signal || this.#givenUp) && outcome.killed) {
      this.#log.info(`Task ${task.id} (line ${task.line}) killed: this engine received ${this.#signal}`);
      return;
    }
    if (!phase) this.#unackedTasks.set(task.id, task);
    this.#report(outcome);
  }

  /**
   * A task's time limit: at the limit SIGTERM to its process group, SIGKILL after the run's
   * `--kill-grace`, or as soon as its main process has exited (so nothing of it outlives the report).
   * @returns `end()`, to call when the task's main process has exited: true when it was timed out
   */
  #timeLimit(task: Task, pgid: number): { end(): boolean } | undefined {
    if (!task.timeout || task.timeout <= 0) return undefined;
    let timedOut = false;
    let hard: ReturnType<typeof setTimeout> | undefined;
    // setTimeout holds at most 2^31-1 ms (24.8 days): a longer limit is waited for in steps.
    let soft: ReturnType<typeof setTimeout> | undefined;
    const at = Date.now() + task.timeout * 1000;
    const arm = () => {
      const left = at - Date.now();
      if (left > 2 ** 30) {
        soft = setTimeout(arm, 2 ** 30);
        return;
      }
      soft = setTimeout(() => {
        timedOut = true;
        killGroup(pgid, "SIGTERM");
        hard = setTimeout(() => {
          hard = undefined;
          killGroup(pgid, "SIGKILL");
        }, (this.#run?.killGrace ?? 10) * 1000);
      }, Math.max(0, left));
    };
    arm();
    return {
      end() {
        clearTimeout(soft);
        if (hard !== undefined) {
          clearTimeout(hard);
          killGroup(pgid, "SIGKILL");
        }
        return timedOut;
      },
    };
  }

  #report(o: TaskOutcome): void {
    this.#outbox.push(o);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => {
        this.#flushScheduled = false;
        const outcomes = this.#outbox;
        this.#outbox = [];
        const seq = ++this.#seq;
        this.#unacked.push({ seq, outcomes });
        this.#link.send({ kind: "done", outcomes, seq });
      });
    }
  }

  #stop(): void {
    if (this.#state !== "running") return;
    this.#state = "stopping";
    const ids = this.#queue.slice(this.#qHead).map((t) => t.id);
    this.#queue = [];
    this.#qHead = 0;
    if (ids.length > 0) this.#link.send({ kind: "released", ids });
    this.#log.info(`Stopping: ${ids.length} queued task(s) handed back, ${this.#running.size} running`);
    this.#maybeStopped();
  }

  async #maybeStopped(): Promise<void> {
    if (this.#state !== "stopping" || this.#running.size > 0) return;
    if (!this.#startDone && this.#perEngine) return; // START tasks still running; #runStartTasks calls back
    this.#state = "stopTasks";
    for (const t of this.#perEngine?.stop ?? []) {
      await this.#runOne(t, -1, "stop");
      if (this.#state !== "stopTasks") return; // killed meanwhile
    }
    await this.#leave(0);
  }

  async #kill(reason: string): Promise<void> {
    if (this.#state === "killing" || this.#state === "left") return;
    this.#state = "killing";
    this.#log.info(`Killing ${this.#running.size} running task(s): ${reason}`);
    await this.#killAll();
    await this.#leave(this.#signal ? 128 + signalNumber(this.#signal) : 0);
  }

  async #killAll(): Promise<void> {
    const pending = [...this.#running.values()];
    for (const r of pending) killGroup(r.pid, "SIGTERM");
    const deadline = Date.now() + KILL_GRACE_MS;
    while (this.#running.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const r of pending) killGroup(r.pid, "SIGKILL");
    const hard = Date.now() + 1000;
    while (this.#running.size > 0 && Date.now() < hard) await new Promise((r) => setTimeout(r, 20));
  }

  async #leave(code: number): Promise<void> {
    await new Promise((r) => queueMicrotask(() => r(undefined)));
    this.#state = "left";
    this.#link.send(this.#signal ? { kind: "bye", signal: this.#signal } : { kind: "bye" });
    await this.#link.flush();
    this.#log.info(`Engine ${this.#rank} leaving; ${this.#cpuText()}`);
    clearInterval(this.#beat);
    this.#reaper?.close();
    this.#log.close();
    this.#link.close("engine finished");
    this.#finish(code);
  }

  /** The engine's own CPU time (not its tasks'), in total and per task started: what the spawn path costs. */
  #cpuText(): string {
    const u = cpuUsage();
    const ms = (u.user + u.system) / 1000;
    const per = this.#started ? ` (${(ms / this.#started).toFixed(3)} ms per task)` : "";
    return `engine CPU ${(ms / 1000).toFixed(2)} s for ${this.#started} task(s)${per}`;
  }

  async #driverLost(reason: string): Promise<void> {
    if (this.#state === "left") {
      this.#finish(0);
      return;
    }
    if (this.#state === "killing") return;
    this.#state = "killing";
    if (this.#rank >= 0) {
      this.#givenUp = true;
      this.#link.close("driver given up");
    }
    this.#log.error(`Lost the driver (${reason}); killing ${this.#running.size} running task(s) and exiting`);
    await this.#killAll();
    this.#log.close();
    this.#finish(this.#authed ? 1 : 2);
  }
}

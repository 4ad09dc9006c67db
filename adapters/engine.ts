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
  type FromDriver,
  PROTOCOL_VERSION,
  type RunInfo,
} from "../lib/protocol.ts";
import { type DriverAddress, parseDriverAddress } from "../lib/journal.ts";
import type { EngineOptions } from "../lib/launch_contract.ts";
import { EngineTasks } from "./engine_tasks.ts";
import { Logger } from "./log.ts";
import { signalNumber } from "./process.ts";
import { connectAny, connectWithin, Link, remoteAddress, splitAddress } from "./transport.ts";

export type { EngineOptions };

/**
 * A driver silent this long is taken as lost: the engine starts looking for a restarted one (in
 * `<uid>_address`) while it keeps the connection, which may come back (a network cut, a driver
 * stopped with Ctrl-Z). Its tasks are killed only when `--driver-grace` has passed since.
 */
const PING_TIMEOUT_MS = 5000;
/** How often an engine without a driver looks for one (the published address, then the old ones). */
const RECONNECT_EVERY_MS = 1000;
/** Signals that stop an engine cleanly (its tasks killed and reported as such). */
const TERM_SIGNALS: Deno.Signal[] = ["SIGTERM", "SIGHUP", "SIGINT"];

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
  const conn = await connectAny(o.connect, deadline);
  if (typeof conn === "string") {
    console.error(
      `disbatch engine on ${o.host}: cannot reach the driver at ${o.connect} (last error: ${conn})`,
    );
    return 1;
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
  /** The tasks: what runs, what is queued, what is to report (the state machine and its processes). */
  #tasks: EngineTasks = new EngineTasks({
    log: () => this.#log,
    send: (m) => this.#link.send(m),
    leave: (code) => this.#leave(code),
    lost: () => {
      this.#log.close();
      this.#finish(this.#authed ? 1 : 2);
    },
  });
  #finish!: (code: number) => void;
  #finished = new Promise<number>((r) => this.#finish = r);
  #authed = false;
  #greeted = false;
  /** When the driver was lost (ms), while the engine is without one. */
  #lostAt: number | undefined;
  #reconnecting = false;
  /** Settles the handshake of a connection to a driver found again. */
  #rejoined: ((ok: boolean | "refused") => void) | undefined;

  constructor(o: EngineOptions, link: Link) {
    this.#o = o;
    this.#link = link;
  }

  async run(): Promise<number> {
    // Python starts while the driver and the engine shake hands.
    this.#tasks.startLauncher();
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
    // Whichever way the engine ends: its launcher, its reaper and its files of task output go.
    this.#tasks.close();
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
    if (this.#tasks.state === "left" || this.#tasks.state === "killing") return;
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
        } s; ${this.#tasks.running} task(s) running`,
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
    return `keeping ${this.#tasks.running} running task(s) and looking for the driver for up to ${
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
    if (this.#tasks.state === "left") {
      this.#finish(0);
      return;
    }
    if (this.#rank < 0 || this.#tasks.state === "killing" || !(this.#run?.driverGrace)) {
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
      while (this.#lostAt !== undefined && this.#tasks.state !== "left" && this.#tasks.state !== "killing") {
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

  /** The first of them counts (the runner ignores the others). */
  #signalled(sig: Deno.Signal): void {
    this.#tasks.feed({ kind: "signal", signal: sig, number: signalNumber(sig), now: Date.now() });
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
          ...(this.#o.notes?.length && this.#rank < 0 ? { notes: this.#o.notes } : {}),
          ...(this.#rank >= 0 ? { resume: { rank: this.#rank } } : {}),
        });
        // While the driver checks the hello and welcomes the engine.
        this.#tasks.openNative();
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
      case "perEngine": // a driver found again sends it once more: the runner ignores it then
        this.#tasks.feed({ kind: "perEngine", start: m.start, stop: m.stop });
        break;
      case "tasks":
        if (m.ack !== undefined) this.#tasks.feed({ kind: "ack", seq: m.ack });
        this.#tasks.feed({ kind: "tasks", tasks: m.tasks });
        break;
      case "stop":
        this.#tasks.feed({ kind: "stop" });
        break;
      case "kill":
        this.#kill(m.reason);
        break;
      case "ping":
        if (m.ack !== undefined) this.#tasks.feed({ kind: "ack", seq: m.ack });
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
    // The reference exported its KVS address as IP:port: use the address this engine reached.
    const slots = this.#tasks.configure(this.#o, rank, run, remoteAddress(this.#link.conn) ?? run.address);
    this.#log.info(
      `Engine ${rank} started on ${this.#o.host} (pid ${Deno.pid}) with ${slots} slots; driver ${this.#o.connect}`,
    );
  }

  /** A driver took this engine back (the same one, or one restarted with `--reattach`). */
  #resumed(rank: number, run: RunInfo): void {
    const away = this.#lostAt === undefined ? 0 : (Date.now() - this.#lostAt) / 1000;
    this.#run = run;
    this.#lostAt = undefined;
    this.#log.info(
      `Re-attached to the driver at ${this.#link.remote} as engine ${rank} after ${
        away.toFixed(1)
      } s; ${this.#tasks.running} task(s) running`,
    );
    if (rank !== this.#rank) {
      this.#log.warn(`The driver gave rank ${rank}; this engine keeps ${this.#rank} in its log`);
    }
    // First of all, what it holds (it may be large: not in the hello, which is read before trust); the
    // outcomes in it are kept until acknowledged (a driver lost again gets them again). Then go on.
    this.#tasks.feed({ kind: "reattached", killGraceS: run.killGrace });
    this.#rejoined?.(true);
  }

  #kill(reason: string): void {
    this.#tasks.feed({ kind: "kill", reason, now: Date.now() });
  }

  /** `bye` was sent (by the runner): close down. */
  async #leave(code: number): Promise<void> {
    await this.#link.flush();
    this.#log.info(`Engine ${this.#rank} leaving; ${this.#tasks.cpuText()}`);
    this.#tasks.close();
    this.#log.close();
    this.#link.close("engine finished");
    this.#finish(code);
  }

  #driverLost(reason: string): void {
    if (this.#tasks.state === "left") {
      this.#finish(0);
      return;
    }
    if (this.#tasks.state === "killing") return;
    if (this.#rank >= 0) this.#link.close("driver given up");
    this.#log.error(
      `Lost the driver (${reason}); killing ${this.#tasks.running} running task(s) and exiting`,
    );
    // The grace ran out: the driver gives this engine's tasks to others; their ends are not reported.
    this.#tasks.feed({ kind: "driverLost", givenUp: this.#rank >= 0, now: Date.now() });
  }
}

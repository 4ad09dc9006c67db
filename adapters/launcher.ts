/**
 * The engine's task launcher: one `python3` process that starts and reaps the engine's tasks (see
 * `lib/launcher_text.ts` for the program and its protocol). The engine writes one line per task and
 * reads one or two back, batched per turn of its event loop.
 *
 * @module
 */

import {
  LAUNCHER_PROGRAM,
  type OutputSeen,
  parseLauncherLine,
  poolLine,
  RELEASE_LINE,
  requestLine,
  withdrawLine,
} from "../lib/launcher_text.ts";
import { snippetText } from "../lib/pyrepr.ts";
import { killGroup, type ProcessResult } from "./process.ts";
import { ownSessionCommand } from "./session.ts";
import { ENGINE_PRIVATE_ENV } from "../lib/launch_contract.ts";
import { resolvePath } from "../lib/paths.ts";
import { procPids, procStat } from "./procfs.ts";

/** A task's output file that grows by this much is cut back (its count and snippets are kept). */
export const CUT_BYTES = 64 << 20;

/**
 * The `python3` to run the launcher with: the first on PATH that is a program rather than a script,
 * and not one whose real name says it is older than 3.8 (`python3.6`, as RHEL 8's alternatives
 * link). A version manager's shim (pyenv, asdf) is a shell script that finds the real python on each
 * start, which costs about 60 ms of CPU per engine; the launcher runs isolated (`-I -S`, standard
 * library only), so any python3 of 3.8 or newer serves. A script, then an old program, is used only
 * when PATH has nothing else (the launcher then says whether it can work).
 * @param path the PATH to search
 * @returns an absolute path, or `python3` when PATH has none
 */
export function findPython3(path: string): string {
  let script: string | undefined;
  let old: string | undefined;
  for (const dir of path.split(":")) {
    if (!dir.startsWith("/")) continue;
    const p = `${dir}/python3`;
    let f: Deno.FsFile | undefined;
    try {
      f = Deno.openSync(p, { read: true });
      const st = f.statSync();
      if (!st.isFile || ((st.mode ?? 0o111) & 0o111) === 0) continue;
      const head = new Uint8Array(2);
      const n = f.readSync(head) ?? 0;
      if (n === 2 && head[0] === 0x23 && head[1] === 0x21) {
        script ??= p; // "#!"
        continue;
      }
      const minor = /\/python3\.(\d+)$/.exec(Deno.realPathSync(p))?.[1];
      if (minor !== undefined && Number(minor) < 8) old ??= p;
      else return p;
    } catch {
      continue; // not there, or not readable
    } finally {
      f?.close();
    }
  }
  return script ?? old ?? "python3";
}

/**
 * How the launcher is started: `sh` execs python with SIGHUP, SIGINT, SIGQUIT and SIGTERM ignored
 * (the pid stays python's). The launcher ignores them itself once configured; before that — a
 * standby's python waits for its launch, an engine's for the driver's welcome — a signal to every
 * process of the user or the job (`pkill -f disbatch`, a logout, Slurm's) would end it without
 * removing its directory, and end its engine too, which would have removed it. Ignoring them, it
 * lives until its stdin ends (its engine is gone) and removes its directory itself. Its tasks get
 * every signal at its default (its spawn attributes say so).
 */
const IGNORING_SIGNALS = 'trap "" HUP INT QUIT TERM; exec "$0" "$@"';

/** What the launcher tells of one task. */
export interface LaunchCallbacks {
  /** It runs in `slot` as process group `pid` since `startMs` (the launcher's clock, in ms). */
  started(pid: number, startMs: number, slot: number): void;
  /** The launcher could not start it (in `slot`). */
  failed(message: string, slot: number): void;
  exited(result: ProcessResult): void;
  /** A queued task was taken back before it started. */
  withdrawn(): void;
}

function snippet(o: OutputSeen): string {
  return o.bytes ? snippetText(o.head, o.tail, o.bytes) : "";
}

/** The engine's launcher process. */
export class Launcher {
  readonly #child: Deno.ChildProcess;
  /** The launcher's private directory (it removes it when it ends). */
  readonly dir: string;
  /** The launcher's stdin: the base environment, then open until the engine is done. */
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  /** The request FIFO, written with plain synchronous writes (no stream, no promise per write). */
  #requests: Deno.FsFile | undefined;
  /** The reports socket (read with plain reads). */
  #reports: Deno.UnixConn | undefined;
  readonly #enc = new TextEncoder();
  /** Tasks handed to it and not yet ended (`queued`: handed to its queue, without a slot). */
  readonly #tasks = new Map<number, { cb: LaunchCallbacks; queued: boolean; pid?: number }>();
  readonly #log: (level: "info" | "warn" | "error", text: string) => void;
  /** The python it runs on (see {@linkcode findPython3}). */
  #python = "python3";
  #pending = "";
  #scheduled = false;
  #ready = false;
  #gone = false;
  #closed = false;
  #settleReady: (ok: boolean) => void = () => {};
  /** Called once the launcher has ended (after the tasks it held were reported). */
  onEnded: () => void = () => {};
  /** Settles true once the launcher is ready, false when it will never be. */
  readonly whenReady: Promise<boolean> = new Promise((r) => this.#settleReady = r);

  /**
   * Start the launcher (python starts while the engine meets the driver); it is ready once
   * {@linkcode Launcher.configure} gave it what the driver said ({@linkcode Launcher.ready}).
   * @param log the engine's log
   * @param cutBytes how much a task's output file may grow before it is cut back
   * @throws when `python3` cannot be started
   */
  constructor(
    log: (level: "info" | "warn" | "error", text: string) => void,
    cutBytes = CUT_BYTES,
  ) {
    this.#log = log;
    // Absolute: the launcher moves to the run's directory before it makes its files there.
    const dir = this.dir = resolvePath(Deno.cwd(), Deno.makeTempDirSync({ prefix: "disbatch-tasks-" }));
    const args = ["-I", "-S", "-c", LAUNCHER_PROGRAM, dir, String(cutBytes)];
    // The engine's own secrets are not the launcher's (its tasks get the base environment only).
    const env = Deno.env.toObject();
    for (const k of ENGINE_PRIVATE_ENV) delete env[k];
    try {
      // A session of its own (as each task had with `setsid`): no controlling terminal for the tasks.
      const python = this.#python = findPython3(env.PATH ?? "");
      this.#child = ownSessionCommand("/bin/sh", {
        args: ["-c", IGNORING_SIGNALS, python, ...args],
        clearEnv: true,
        env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      Deno.removeSync(dir, { recursive: true });
      throw e;
    }
    this.#stdin = this.#child.stdin.getWriter();
    Promise.all([this.#read(), this.#stderr()]).then(([why, said]) =>
      this.#ended(said ? `${why}: ${said}` : why)
    );
  }

  /**
   * What the launcher needs from the driver's welcome; it is ready soon after.
   * @param silentS seconds without a word from the engine after which it kills the tasks
   * @param cwd the tasks' working directory
   * @param env the tasks' base environment
   * @param softVmemKiB the tasks' soft `ulimit -v`, when one is to be set
   */
  configure(silentS: number, cwd: string, env: Record<string, string>, softVmemKiB?: number): void {
    if (this.#configured || this.#closed) return;
    this.#configured = true;
    const line = JSON.stringify([silentS, cwd, env, softVmemKiB ?? 0]) + "\n";
    this.#stdin.write(this.#enc.encode(line)).catch(() => {});
  }

  #configured = false;

  /** Whether it may still become ready (it has not said it is, nor ended). */
  get coming(): boolean {
    return !this.#ready && !this.#gone;
  }

  /** Whether tasks can go to it now. */
  get ready(): boolean {
    return this.#ready && !this.#gone;
  }

  /** The launcher's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /**
   * Start a task, or queue it.
   * @param run the engine's number for this start
   * @param slot its slot, or null: the first of the queue's slots to be free
   * @param commandArg the `-c` argument
   * @param env the task's own variables
   * @param stopsRun its failure ends the run (`--fail-fast`): the launcher then starts nothing
   *   more from its queue until {@linkcode release}
   * @param cb what to call as it goes
   */
  start(
    run: number,
    slot: number | null,
    commandArg: string,
    env: Record<string, string>,
    stopsRun: boolean,
    cb: LaunchCallbacks,
  ): void {
    if (this.#gone) {
      // Too late (it ended): a queued task goes back, a direct one is started by the engine.
      queueMicrotask(() => slot === null ? cb.withdrawn() : cb.failed("the task launcher is gone", slot));
      return;
    }
    this.#tasks.set(run, { cb, queued: slot === null });
    this.#queue(requestLine(run, slot, commandArg, env, stopsRun));
  }

  /**
   * Give free slots to the launcher's queue.
   * @param slots each slot with its own variables
   */
  pool(slots: ReadonlyMap<number, Record<string, string>>): void {
    this.#queue(poolLine(slots));
  }

  /**
   * Take queued tasks back (each one not yet started is answered `withdrawn`).
   * @param runs their run numbers
   */
  withdraw(runs: readonly number[]): void {
    // Written now, not at the end of the turn: the launcher must read it before the end of any task
    // the engine kills next, or it would fill the freed slot from the queue on the way out.
    this.#queue(withdrawLine(runs));
    this.#flush();
  }

  /** The queue may start tasks again after a failure that was to end the run (and did not). */
  release(): void {
    this.#queue(RELEASE_LINE);
  }

  /** Tell the launcher the engine is alive. */
  beat(): void {
    this.#queue(".\n");
  }

  /** No more tasks: the launcher ends once its stdin is closed (killing what still runs). */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    this.#gone = true;
    this.#closed = true;
    this.#settleReady(false);
    try {
      this.#requests?.close();
    } catch {
      // already closed
    }
    this.#stdin.close().catch(() => {});
    // The reports socket is left to end with the launcher (it still reports the tasks it kills).
  }

  // Lines of one event-loop turn go out in one write.
  #queue(line: string): void {
    this.#pending += line;
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#gone) {
      this.#pending = "";
      return;
    }
    if (!this.#requests || this.#closed) return; // kept until the FIFO is open
    const data = this.#pending;
    this.#pending = "";
    if (!data) return;
    try {
      const bytes = this.#enc.encode(data);
      for (let off = 0; off < bytes.length;) off += this.#requests.writeSync(bytes.subarray(off));
    } catch (e) {
      this.#log("error", `task launcher: cannot write to it (${e instanceof Error ? e.message : e})`);
    }
  }

  /** Read what the launcher says on stdout (`R` or `X`) to its end. @returns how the launcher ended */
  async #read(): Promise<string> {
    const lines = new LineReader((l) => this.#line(l));
    try {
      for await (const chunk of this.#child.stdout) lines.push(chunk);
    } catch {
      // the pipe broke: an end like any other
    }
    // Reports written before it ended are read before its end is taken.
    await this.#reportsDone;
    const status = await this.#child.status;
    return status.signal ? `killed by ${status.signal}` : `exit status ${status.code}`;
  }

  #reportsDone: Promise<void> = Promise.resolve();

  /** Read the reports socket to its end, with plain reads. */
  async #readReports(conn: Deno.UnixConn): Promise<void> {
    const lines = new LineReader((l) => this.#line(l));
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        lines.push(buf.subarray(0, n));
      }
    } catch {
      // the launcher is gone: its end is taken from its stdout and status
    }
    try {
      conn.close();
    } catch {
      // already closed
    }
  }

  /** Open the request FIFO and connect to the reports socket. @returns why not, or undefined */
  async #connect(): Promise<string | undefined> {
    try {
      this.#requests = Deno.openSync(`${this.dir}/requests`, { write: true });
      this.#reports = await Deno.connect({ transport: "unix", path: `${this.dir}/reports` });
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    this.#reportsDone = this.#readReports(this.#reports);
    return undefined;
  }

  /** The last line the launcher wrote on stderr (python's error, or setsid's "failed to execute"). */
  async #stderr(): Promise<string> {
    const text = new TextDecoder().decode(await new Response(this.#child.stderr).arrayBuffer());
    return text.trim().split("\n").pop() ?? "";
  }

  #line(line: string): void {
    const l = parseLauncherLine(line);
    switch (l.kind) {
      case "ready":
        this.#connect().then((why) => {
          if (this.#gone) {
            try {
              this.#requests?.close();
            } catch {
              // closed by close()
            }
            return;
          }
          if (why !== undefined) {
            this.#log("warn", `no task launcher: cannot reach it in ${this.dir} (${why})`);
            this.close();
            return;
          }
          this.#ready = true;
          this.#settleReady(true);
          this.#log(
            "info",
            `task launcher ready (${this.#python} ${l.version}, pid ${this.#child.pid}; ${l.spawn})`,
          );
          this.#flush();
        });
        break;
      case "unusable":
        this.#gone = true;
        this.#settleReady(false);
        this.#log("warn", `no task launcher: ${l.why}; the engine spawns each task itself, which is slower`);
        break;
      case "started": {
        const t = this.#tasks.get(l.run);
        if (!t) break;
        t.pid = l.pid;
        t.cb.started(l.pid, l.start * 1000, l.slot);
        break;
      }
      case "failed": {
        const t = this.#tasks.get(l.run);
        this.#tasks.delete(l.run);
        t?.cb.failed(l.message, l.slot);
        break;
      }
      case "withdrawn": {
        const t = this.#tasks.get(l.run);
        this.#tasks.delete(l.run);
        t?.cb.withdrawn();
        break;
      }
      case "ended": {
        const t = this.#tasks.get(l.run);
        this.#tasks.delete(l.run);
        t?.cb.exited({
          pid: l.pid,
          returnCode: l.returnCode,
          start: l.start,
          end: l.end,
          stdoutBytes: l.stdout.bytes,
          stdoutSnippet: snippet(l.stdout),
          stderrBytes: l.stderr.bytes,
          stderrSnippet: snippet(l.stderr),
        });
        break;
      }
      case "other":
        this.#log("warn", `task launcher said: ${line.slice(0, 200)}`);
        break;
    }
  }

  /** The launcher is gone: what it still held is killed (it may have been killed first) and reported so. */
  #ended(why: string): void {
    const wasGone = this.#gone;
    const wasReady = this.#ready;
    this.#gone = true;
    this.#settleReady(false);
    if (!wasGone && !wasReady) {
      this.#log(
        "warn",
        `no task launcher (python3: ${why}); the engine spawns each task itself, which is slower`,
      );
    }
    try {
      this.#lostTasks(wasGone, why);
    } finally {
      // A launcher that exits removes its directory; one killed outright leaves it to the engine.
      try {
        Deno.removeSync(this.dir, { recursive: true });
      } catch {
        // removed already
      }
      this.onEnded();
    }
  }

  #lostTasks(wasGone: boolean, why: string): void {
    if (!this.#tasks.size) return;
    if (!wasGone) {
      this.#log("error", `the task launcher ended (${why}) with ${this.#tasks.size} task(s) running`);
    }
    // A launcher killed outright could not kill what it started, including tasks it had not yet
    // told of (their start lines wait 100 ms at most): the process groups of its session that started
    // in the last seconds go too. (Older ones are daemons that finished tasks left on purpose.)
    for (const pgid of sessionGroups(this.#child.pid, 3)) killGroup(pgid, "SIGKILL");
    const now = Date.now() / 1000;
    for (const [run, t] of this.#tasks) {
      this.#tasks.delete(run);
      if (t.pid !== undefined) killGroup(t.pid, "SIGKILL");
      // Not known to have started (still queued, or its start line not yet sent): taken back, not failed.
      if (t.pid === undefined && t.queued) {
        t.cb.withdrawn();
        continue;
      }
      t.cb.exited({
        pid: t.pid ?? -1,
        returnCode: -9,
        start: now,
        end: now,
        stdoutBytes: 0,
        stdoutSnippet: "",
        stderrBytes: 0,
        stderrSnippet: "",
      });
    }
  }
}

/**
 * A process's own CPU time so far (user + system, from `/proc`), in milliseconds.
 * @param pid the process
 * @returns it, or undefined where `/proc` cannot tell
 */
export function processCpuMs(pid: number): number | undefined {
  const f = procStat(pid);
  const ticks = f ? Number(f[11]) + Number(f[12]) : NaN;
  return Number.isFinite(ticks) ? ticks * 10 : undefined; // USER_HZ is 100 on Linux
}

/** Splits bytes into lines (UTF-8, without their newlines) and hands each to `line`. */
class LineReader {
  readonly #dec = new TextDecoder();
  #rest = "";
  constructor(readonly line: (l: string) => void) {}

  push(chunk: Uint8Array): void {
    const text = this.#rest + this.#dec.decode(chunk, { stream: true });
    let from = 0;
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", from)) {
      this.line(text.slice(from, nl));
      from = nl + 1;
    }
    this.#rest = text.slice(from);
  }
}

/**
 * The process groups of the processes in a session (from `/proc`).
 * @param sid the session (its leader's pid)
 * @param maxAgeS only processes started at most this many seconds ago
 * @returns their process group ids
 */
export function sessionGroups(sid: number, maxAgeS = Infinity): number[] {
  const groups = new Set<number>();
  let uptime = Infinity;
  try {
    uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
  } catch {
    // no /proc/uptime: no age limit
  }
  for (const pid of procPids()) {
    const f = procStat(pid);
    if (!f || Number(f[3]) !== sid || Number(f[2]) <= 1) continue;
    // Its start, in clock ticks after boot (USER_HZ is 100 on Linux).
    if (uptime - Number(f[19]) / 100 > maxAgeS) continue;
    groups.add(Number(f[2]));
  }
  return [...groups];
}

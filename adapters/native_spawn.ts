/**
 * Starting tasks from the engine itself with the C library's `posix_spawn`, called through Deno's
 * foreign-function interface: no helper process, no copy of the engine's memory (as `fork` makes),
 * no second exec (as `setsid` costs), no pipes to read.
 *
 * Each task is `/bin/bash -c COMMAND` as the leader of a new session and process group
 * (`POSIX_SPAWN_SETSID`, as `setsid bash` gave), with every signal at its default and none blocked,
 * stdin `/dev/null`, and stdout and stderr on files of its slot in a private directory. When a task
 * exits (the engine hears `SIGCHLD`, and looks once a second in case a signal was merged), it is
 * reaped with `waitpid`, whose status tells a signal death from an exit code, and its files' sizes
 * and first and last 40 bytes are read. When a process of the task's group outlives it and still
 * holds one of those files open, the end is reported once no process holds them, 5 s after the exit
 * at most; the slot then moves on to new files, so that a straggler's output never counts for a
 * later task. A file that grows by {@linkcode CUT_BYTES} is cut back to nothing (its first 40 bytes
 * and its last 40 are kept): the task writes on at its own offset, after a hole that takes no space,
 * so the byte count stays exact and a task that writes gigabytes does not fill the disk.
 *
 * @module
 */

import { bashCommandArg } from "../lib/text.ts";
import { snippetText } from "../lib/pyrepr.ts";
import type { ProcessResult } from "../lib/engine_runner.ts";
import type { RunningTask } from "./process.ts";
import { CUT_BYTES } from "./launcher.ts";
import { heldOpen } from "./procfs.ts";

const SNIP = 40;
/** After a task's exit, how long a straggler of its group may hold its output files. */
const DRAIN_MS = 5000;
/** How often a held file is looked at again. */
const DRAIN_LOOK_MS = 50;
/** How often running tasks' files are looked at (growth to cut back; an exit whose signal merged). */
const LOOK_MS = 1000;

// posix_spawn flags and open(2) flags (Linux, all architectures glibc supports here).
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const O_RDONLY = 0;
const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
const P_ALL = 0;
const O_CLOEXEC = 0o2000000;
const F_SETLEASE = 1024;
const F_SETSIG = 10;
/** SIGCHLD's number on x86-64 and AArch64. */
const SIGCHLD = 17;
const F_RDLCK = 0;
const EAGAIN = 11;
/** `si_pid` in a `siginfo_t` (after `si_signo`, `si_errno`, `si_code` and padding). */
const SI_PID_OFFSET = 16;

const SYMBOLS = {
  posix_spawn: { parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"], result: "i32" },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_addopen: { parameters: ["buffer", "i32", "buffer", "i32", "u32"], result: "i32" },
  sigfillset: { parameters: ["buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  waitid: { parameters: ["i32", "u32", "buffer", "i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
/** A buffer handed to C (never a shared one). */
type Buf = Uint8Array<ArrayBuffer>;

/** Room for glibc's opaque structures (posix_spawnattr_t is 336 bytes, file actions 80, sigset_t 128). */
const OPAQUE_BYTES = 1024;

const enc = new TextEncoder();

function cString(text: string): Buf {
  return enc.encode(text + "\0") as Buf;
}

function address(buf: Buf): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/** What is known of one output file of a running task. */
interface OutputFile {
  path: string;
  /** Set once the file was cut back: its size then, its first 40 bytes, its last 40 before the cut. */
  kept?: { at: number; head: Uint8Array; tail: Uint8Array };
}

/** A task that exited, waiting for its output files to be let go. */
type Draining = Child & {
  status: number;
  /** Its exit (Unix seconds). */
  end: number;
  /** Until when it may wait (ms). */
  until: number;
  /** When to look again (ms). */
  next?: number;
};

interface Child {
  pid: number;
  slot: number;
  start: number;
  out: OutputFile;
  err: OutputFile;
  settle: (r: ProcessResult) => void;
}

/**
 * The engine's `posix_spawn` task starter. {@linkcode NativeSpawner.open} returns none where the
 * C library cannot be reached (the engine then starts tasks another way).
 */
export class NativeSpawner {
  /** The C library's functions (the library stays loaded for the engine's life). */
  readonly #c: Libc;
  /** The private directory of the tasks' output files, made by {@linkcode NativeSpawner.setBase}. */
  dir: string | undefined;
  readonly #cutBytes: number;
  readonly #attr: Buf = new Uint8Array(OPAQUE_BYTES);
  readonly #bash = cString("/bin/bash");
  readonly #dashC = cString("-c");
  /** The base environment, encoded once: name → `NAME=value` as a C string. */
  #base = new Map<string, Buf>();
  #baseAddr = new Map<string, bigint>();
  /** File actions per output file pair (stdin /dev/null, stdout, stderr), made once per pair. */
  readonly #actions = new Map<string, Buf>();
  /** Each slot's file generation: a slot whose files a straggler still holds moves to new ones. */
  readonly #gen = new Map<number, number>();
  #oneOff = 0;
  readonly #running = new Map<number, Child>();
  readonly #draining = new Map<number, Draining>();
  readonly #pid: Int32Array<ArrayBuffer> = new Int32Array(1);
  readonly #status: Int32Array<ArrayBuffer> = new Int32Array(1);
  readonly #info: Buf = new Uint8Array(128);
  #look: ReturnType<typeof setInterval> | undefined;
  #drain: ReturnType<typeof setTimeout> | undefined;
  readonly #onChild = () => this.#reap();
  #closed = false;

  private constructor(lib: Deno.DynamicLibrary<typeof SYMBOLS>, cutBytes: number) {
    this.#c = lib.symbols;
    this.#cutBytes = cutBytes;
    const c = this.#c;
    c.posix_spawnattr_init(this.#attr);
    const all: Buf = new Uint8Array(OPAQUE_BYTES);
    const none: Buf = new Uint8Array(OPAQUE_BYTES);
    c.sigfillset(all);
    c.sigemptyset(none);
    // The attributes keep copies of both sets.
    c.posix_spawnattr_setsigdefault(this.#attr, all);
    c.posix_spawnattr_setsigmask(this.#attr, none);
    c.posix_spawnattr_setflags(
      this.#attr,
      POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK,
    );
    Deno.addSignalListener("SIGCHLD", this.#onChild);
  }

  /**
   * The spawner, or why there is none (the C library or the foreign-function interface missing).
   * @param cutBytes how much a task's output file may grow before it is cut back
   */
  static open(cutBytes = CUT_BYTES): NativeSpawner | string {
    let lib;
    try {
      lib = Deno.dlopen("libc.so.6", SYMBOLS);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    try {
      return new NativeSpawner(lib, cutBytes);
    } catch (e) {
      lib.close();
      return e instanceof Error ? e.message : String(e);
    }
  }

  /**
   * The tasks' base environment (the engine's, merged under each task's own variables); the first
   * call makes the directory of the tasks' output files.
   * @param env name → value
   * @throws when the directory cannot be made (no writable `$TMPDIR`)
   */
  setBase(env: Record<string, string>): void {
    if (!this.dir) {
      this.dir = Deno.makeTempDirSync({ prefix: "disbatch-tasks-" });
      const probe = `${this.dir}/lease-probe`;
      Deno.writeFileSync(probe, new Uint8Array());
      this.#leases = this.#lease(probe) === "granted";
      Deno.removeSync(probe);
    }
    this.#base = new Map();
    this.#baseAddr = new Map();
    for (const [k, v] of Object.entries(env)) {
      if (k.includes("\0") || v.includes("\0")) continue;
      const b = cString(`${k}=${v}`);
      this.#base.set(k, b);
      this.#baseAddr.set(k, address(b));
    }
  }

  /** Tasks started and not yet reported. */
  get running(): number {
    return this.#running.size + this.#draining.size;
  }

  /**
   * Start `/bin/bash -c command` in a new session.
   * @param command the task command (surrogate-escaped bytes allowed)
   * @param env the task's own variables (over the base environment)
   * @param slot its slot (negative: a PERENGINE task, files of its own)
   * @throws when it cannot be started (the message is the system's)
   */
  spawn(command: string, env: Record<string, string>, slot: number): RunningTask {
    if (this.#closed) throw new Error("the engine is closing");
    if (!this.dir) throw new Error("no directory for the tasks' output (the engine was not configured)");
    const arg = bashCommandArg(command);
    if (arg.includes("\0")) throw new Error("the command holds a NUL byte, which no argument can");
    // Every buffer whose address C is given stays referenced until the call returns.
    const argBuf = cString(arg);
    const keep: Buf[] = [argBuf];
    const argv = new BigUint64Array([address(this.#bash), address(this.#dashC), address(argBuf), 0n]);
    const own = Object.keys(env);
    const envp = new BigUint64Array(this.#baseAddr.size + own.length + 1);
    let i = 0;
    for (const [k, a] of this.#baseAddr) if (!(k in env)) envp[i++] = a;
    for (const k of own) {
      const v = env[k]!;
      if (k.includes("\0") || v.includes("\0")) throw new Error(`the variable ${k} holds a NUL byte`);
      const b = cString(`${k}=${v}`);
      keep.push(b);
      envp[i++] = address(b);
    }
    const files = this.#files(slot);
    const start = Date.now() / 1000;
    const rc = this.#c.posix_spawn(
      this.#pid,
      this.#bash,
      files.actions,
      this.#attr,
      new Uint8Array(argv.buffer),
      new Uint8Array(envp.buffer),
    );
    keep.length = 0;
    if (rc !== 0) throw new Error(this.#errorText(rc));
    const pid = this.#pid[0]!;
    let settle: (r: ProcessResult) => void = () => {};
    const result = new Promise<ProcessResult>((r) => settle = r);
    this.#running.set(pid, { pid, slot, start, out: { path: files.out }, err: { path: files.err }, settle });
    this.#look ??= setInterval(() => this.#lookAround(), LOOK_MS);
    return { pid, result };
  }

  /** Stop listening; remove the output files (once every task was reported). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      Deno.removeSignalListener("SIGCHLD", this.#onChild);
    } catch {
      // already removed
    }
    clearInterval(this.#look);
    clearTimeout(this.#drain);
    for (const a of this.#actions.values()) this.#c.posix_spawn_file_actions_destroy(a);
    this.#actions.clear();
    if (!this.dir) return;
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // gone already
    }
  }

  #errorText(errno: number): string {
    const p = this.#c.strerror(errno);
    const text = p ? new Deno.UnsafePointerView(p).getCString() : `error ${errno}`;
    return `${text} (os error ${errno})`;
  }

  /** The output files of a task in `slot`, and the file actions that open them. */
  #files(slot: number): { out: string; err: string; actions: Buf } {
    const name = slot < 0 ? `p${this.#oneOff++}` : `${slot}.${this.#gen.get(slot) ?? 0}`;
    const out = `${this.dir}/o${name}`;
    const err = `${this.dir}/e${name}`;
    let actions = this.#actions.get(name);
    if (!actions) {
      actions = new Uint8Array(OPAQUE_BYTES) as Buf;
      const c = this.#c;
      c.posix_spawn_file_actions_init(actions);
      c.posix_spawn_file_actions_addopen(actions, 0, cString("/dev/null"), O_RDONLY, 0);
      c.posix_spawn_file_actions_addopen(actions, 1, cString(out), O_WRONLY | O_CREAT | O_TRUNC, 0o600);
      c.posix_spawn_file_actions_addopen(actions, 2, cString(err), O_WRONLY | O_CREAT | O_TRUNC, 0o600);
      if (slot >= 0) this.#actions.set(name, actions);
      else queueMicrotask(() => c.posix_spawn_file_actions_destroy(actions!));
    }
    return { out, err, actions };
  }

  /** Reap every task that has exited. */
  #reap(): void {
    const c = this.#c;
    for (;;) {
      // Which child is a zombie, without reaping it: one of ours is reaped, anyone else's is not ours to.
      new Int32Array(this.#info.buffer).fill(0);
      if (c.waitid(P_ALL, 0, this.#info, WEXITED | WNOHANG | WNOWAIT) !== 0) break;
      const pid = new DataView(this.#info.buffer).getInt32(SI_PID_OFFSET, true);
      if (pid === 0) return;
      if (!this.#running.has(pid)) break;
      if (c.waitpid(pid, this.#status, WNOHANG) !== pid) break;
      this.#exited(pid, this.#status[0]!);
    }
    // Another process's zombie came first: ask for each of ours.
    for (const pid of [...this.#running.keys()]) {
      if (c.waitpid(pid, this.#status, WNOHANG) === pid) this.#exited(pid, this.#status[0]!);
    }
  }

  #exited(pid: number, status: number): void {
    const child = this.#running.get(pid)!;
    this.#running.delete(pid);
    const now = Date.now();
    this.#settle({ ...child, status, end: now / 1000, until: now + DRAIN_MS }, now);
    if (!this.#running.size && this.#look !== undefined) {
      clearInterval(this.#look);
      this.#look = undefined;
    }
  }

  /** Report a task's end, unless a straggler of its group still holds its files (5 s at most). */
  #settle(d: Draining, now: number): void {
    const how = this.#c.kill(-d.pid, 0) === 0 ? this.#held([d.out.path, d.err.path]) : 0;
    if (how) {
      if (now < d.until) {
        // Every 50 ms; a scan of /proc costs, so a long wait is scanned less often.
        const end = d.end * 1000;
        d.next = now + (how === 1 ? DRAIN_LOOK_MS : Math.min(500, Math.max(DRAIN_LOOK_MS, (now - end) / 4)));
        this.#draining.set(d.pid, d);
        this.#drain ??= setTimeout(() => this.#drainAgain(), DRAIN_LOOK_MS);
        return;
      }
      // Still held: the slot's next task gets new files.
      if (d.slot >= 0) {
        this.#actions.delete(`${d.slot}.${this.#gen.get(d.slot) ?? 0}`);
        this.#gen.set(d.slot, (this.#gen.get(d.slot) ?? 0) + 1);
      }
    }
    this.#draining.delete(d.pid);
    const s = d.status;
    const signal = s & 0x7f;
    const returnCode = signal === 0 ? (s >> 8) & 0xff : -signal;
    const out = snip(d.out);
    const err = snip(d.err);
    d.settle({
      pid: d.pid,
      returnCode,
      start: d.start,
      end: d.end,
      stdoutBytes: out.bytes,
      stdoutSnippet: out.snippet,
      stderrBytes: err.bytes,
      stderrSnippet: err.snippet,
    });
  }

  /**
   * Whether a process still has one of these files open for writing: a read lease is refused
   * (EAGAIN) exactly then, one call per file. Where leases do not tell (see `#leases`), every
   * process's descriptors are looked through instead.
   * @returns 0: none; 1: one is (leases told); 2: one is (the scan told)
   */
  #held(paths: string[]): 0 | 1 | 2 {
    const unsure: string[] = [];
    for (const p of paths) {
      const r = this.#leases ? this.#lease(p) : "fails";
      if (r === "refused") return 1;
      if (r === "fails") unsure.push(p);
    }
    return unsure.length && scanHeld(unsure) ? 2 : 0;
  }

  /** Leases tell here: a file nobody writes gets one (an NFSv4 client without a delegation refuses all). */
  #leases = false;

  /**
   * Take a read lease on `path` and give it back.
   * @returns `granted`; `refused` (EAGAIN: open for writing); `missing`; `fails` (another error)
   */
  #lease(path: string): "granted" | "refused" | "missing" | "fails" {
    const c = this.#c;
    const fd = c.open(cString(path), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "missing";
    // Should a writer open it while the lease is held, the break is told by SIGCHLD (a look for
    // exits), not SIGIO (which would end the engine). Closing the descriptor gives the lease back.
    c.fcntl(fd, F_SETSIG, SIGCHLD);
    const r = c.fcntl(fd, F_SETLEASE, F_RDLCK);
    const errno = r < 0 ? new Deno.UnsafePointerView(c.__errno_location()!).getInt32() : 0;
    c.close(fd);
    return r >= 0 ? "granted" : errno === EAGAIN ? "refused" : "fails";
  }

  #drainAgain(): void {
    this.#drain = undefined;
    const now = Date.now();
    for (const d of [...this.#draining.values()]) if (now >= (d.next ?? 0)) this.#settle(d, now);
    if (this.#draining.size) this.#drain = setTimeout(() => this.#drainAgain(), DRAIN_LOOK_MS);
  }

  /** Once a second while tasks run: an exit whose signal was missed; output files to cut back. */
  #lookAround(): void {
    this.#reap();
    for (const child of this.#running.values()) {
      cut(child.out, this.#cutBytes);
      cut(child.err, this.#cutBytes);
    }
  }
}

/** Read `n` bytes at `at` (fewer at the end of the file). */
function readAt(f: Deno.FsFile, at: number, n: number): Uint8Array {
  const buf = new Uint8Array(Math.max(0, n));
  f.seekSync(at, Deno.SeekMode.Start);
  let got = 0;
  while (got < buf.length) {
    const r = f.readSync(buf.subarray(got));
    if (!r) break;
    got += r;
  }
  return buf.subarray(0, got);
}

/** Much output: keep its first 40 bytes and its last 40 so far, and give the space back. */
function cut(o: OutputFile, cutBytes: number): void {
  let f;
  try {
    f = Deno.openSync(o.path, { read: true, write: true });
  } catch {
    return;
  }
  try {
    const n = f.statSync().size;
    if (n - (o.kept?.at ?? 0) < cutBytes) return;
    const head = o.kept?.head ?? readAt(f, 0, SNIP);
    const tail = readAt(f, n - SNIP, SNIP);
    f.truncateSync(0);
    o.kept = { at: n, head, tail };
  } finally {
    f.close();
  }
}

/** A task's output file: its byte count and its snippet (first 40 bytes, last 40 of what follows). */
function snip(o: OutputFile): { bytes: number; snippet: string } {
  let f;
  try {
    // Most tasks write nothing: one stat, no open.
    if (!o.kept && Deno.statSync(o.path).size === 0) return { bytes: 0, snippet: "" };
    f = Deno.openSync(o.path);
  } catch {
    return { bytes: 0, snippet: "" };
  }
  try {
    let n = f.statSync().size;
    if (o.kept) {
      const { at, head, tail: saved } = o.kept;
      n = Math.max(n, at);
      const take = Math.min(SNIP, n - at);
      const after = n > at ? readAt(f, n - take, take) : new Uint8Array();
      const joined = new Uint8Array(saved.length + after.length);
      joined.set(saved);
      joined.set(after, saved.length);
      return { bytes: n, snippet: snippetText(head, joined.subarray(Math.max(0, joined.length - SNIP)), n) };
    }
    if (n === 0) return { bytes: 0, snippet: "" };
    const head = readAt(f, 0, Math.min(SNIP, n));
    const from = Math.max(SNIP, n - SNIP);
    const tail = n > from ? readAt(f, from, n - from) : new Uint8Array();
    return { bytes: n, snippet: snippetText(head, tail, n) };
  } finally {
    f.close();
  }
}

/** Whether any process of the machine holds one of these files open (a scan of /proc). */
function scanHeld(paths: string[]): boolean {
  const want = new Set<string>();
  for (const p of paths) {
    try {
      const st = Deno.statSync(p);
      want.add(`${st.dev}:${st.ino}`);
    } catch {
      // not there
    }
  }
  return heldOpen(want);
}

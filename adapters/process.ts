/**
 * Running one task: `/bin/bash -c COMMAND` in its own session and process group (so the whole tree
 * can be killed with one signal), stdin `/dev/null`, stdout/stderr counted with the first and last
 * 40 bytes kept. Completion is the process's exit, awaited, never polled.
 *
 * Killing: {@linkcode killGroup} signals a process group (every group kill goes through it), and
 * {@linkcode killLadder} is the one way a task is killed: SIGTERM to its group, SIGKILL after a
 * grace. The {@linkcode Reaper} does the same from outside the engine, once the engine is gone.
 *
 * @module
 */

import { bashCommandArg } from "../lib/text.ts";
import { snippetText } from "../lib/pyrepr.ts";
import type { ProcessResult } from "../lib/engine_runner.ts";
import { ownSessionCommand } from "./session.ts";

export type { ProcessResult };

const SNIP = 40;
/**
 * After the task exits, how long to wait for its pipes to close (a background child may hold
 * them): the reference waits up to 5 s for its output collectors.
 */
const DRAIN_MS = 5000;

/** A leaked-output counter keeping the first and last 40 bytes. */
class OutputTap {
  total = 0;
  head = new Uint8Array(SNIP);
  headLen = 0;
  tail = new Uint8Array(SNIP);
  tailLen = 0;
  tailPos = 0;

  add(chunk: Uint8Array): void {
    this.total += chunk.length;
    let c = chunk;
    if (this.headLen < SNIP) {
      const n = Math.min(SNIP - this.headLen, c.length);
      this.head.set(c.subarray(0, n), this.headLen);
      this.headLen += n;
      c = c.subarray(n);
    }
    if (c.length === 0) return;
    if (c.length >= SNIP) {
      this.tail.set(c.subarray(c.length - SNIP));
      this.tailLen = SNIP;
      this.tailPos = 0;
      return;
    }
    for (let i = 0; i < c.length; i++) {
      this.tail[this.tailPos] = c[i]!;
      this.tailPos = (this.tailPos + 1) % SNIP;
      if (this.tailLen < SNIP) this.tailLen++;
    }
  }

  snippet(): string {
    if (this.total === 0) return "";
    const tail = new Uint8Array(this.tailLen);
    const startAt = this.tailLen < SNIP ? 0 : this.tailPos;
    for (let i = 0; i < this.tailLen; i++) tail[i] = this.tail[(startAt + i) % SNIP]!;
    return snippetText(this.head.subarray(0, this.headLen), tail, this.total);
  }
}

async function pump(stream: ReadableStream<Uint8Array>, tap: OutputTap): Promise<void> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      tap.add(value);
    }
  } catch {
    // The pipe was closed under us (task killed); what was read is kept.
  } finally {
    reader.releaseLock();
  }
}

/** A started task. */
export interface RunningTask {
  readonly pid: number;
  /** Resolves when the process has exited and its output was drained (or 5 s passed). */
  readonly result: Promise<ProcessResult>;
}

/** Linux signal numbers (x86-64/arm64), all of them: a task killed by any signal is a failure. */
const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGIOT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
  SIGUNUSED: 31,
};

/**
 * Signal name → number (Linux).
 * @param name e.g. "SIGTERM"
 * @returns the number, or 0 when unknown
 */
export function signalNumber(name: string | null | undefined): number {
  return name ? SIGNALS[name] ?? 0 : 0;
}

/**
 * Start `/bin/bash -c command` in a new session.
 *
 * @param command the task command (surrogate-escaped bytes allowed)
 * @param env extra variables (merged over the current environment)
 * @returns the running task
 * @throws when the process cannot be spawned (caller reports rc 200 like the reference)
 */
export function spawnTask(command: string, env: Record<string, string>): RunningTask {
  const start = Date.now() / 1000;
  // `setsid bash -c …` (setsid execs, so the PID is bash's) is ~1.8x cheaper than Deno's own
  // `detached: true`, which takes a slow fork path on Deno 2.9 (measured: scripts/bench/local.ts).
  const child = ownSessionCommand("/bin/bash", {
    args: ["-c", bashCommandArg(command)],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new OutputTap();
  const err = new OutputTap();
  let drained = false;
  const drains = Promise.all([pump(child.stdout, out), pump(child.stderr, err)]).then(() => {
    drained = true;
  });
  // Deno rejects the status of a process killed by a signal it has no name for (real-time ones).
  const status = child.status.catch((e): Deno.CommandStatus => {
    const n = Number(/Invalid signal: (\d+)/.exec(String(e))?.[1]);
    if (!n) throw e;
    return { success: false, code: 128 + n, signal: `SIG${n}` as Deno.Signal };
  });
  const result = status.then(async (status) => {
    const end = Date.now() / 1000;
    if (!drained) {
      // A background child may hold the pipes open; do not wait for it for ever.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([drains, new Promise((r) => timer = setTimeout(r, DRAIN_MS))]);
      clearTimeout(timer);
    }
    // Unknown signal names (real-time signals) still make a non-zero return code.
    const rc = status.signal ? -(signalNumber(status.signal) || status.code - 128) : status.code;
    return {
      pid: child.pid,
      returnCode: rc,
      start,
      end,
      stdoutBytes: out.total,
      stdoutSnippet: out.snippet(),
      stderrBytes: err.total,
      stderrSnippet: err.snippet(),
    };
  });
  return { pid: child.pid, result };
}

/**
 * Signal a whole process group, ignoring "no such process".
 * @param pgid the group leader's pid
 * @param signal signal name
 * @returns true when the group existed
 */
export function killGroup(pgid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * The kill ladder: SIGTERM to the process group now, SIGKILL after `graceMs`, or as soon as its
 * process has exited (a child that ignores SIGTERM may still hold on: nothing of it outlives the
 * task's report).
 * @param pgid the group leader's pid
 * @param graceMs how long the group has to end after SIGTERM
 * @param exited settles when the group leader has exited
 */
export function killLadder(pgid: number, graceMs: number, exited: Promise<unknown>): void {
  killGroup(pgid, "SIGTERM");
  // setTimeout holds at most 2^31-1 ms (24.8 days): a longer grace is waited for in steps.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const at = Date.now() + graceMs;
  const arm = () => {
    const left = at - Date.now();
    timer = setTimeout(left > 2 ** 30 ? arm : kill, Math.max(0, Math.min(left, 2 ** 30)));
  };
  const kill = () => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timer = undefined;
    killGroup(pgid, "SIGKILL");
  };
  arm();
  exited.then(kill, kill);
}

/**
 * A companion process that outlives the engine only to clean up: the engine keeps the list of its
 * tasks' process groups in a file (`+PGID` / `-PGID` lines, appended with plain writes, so a task
 * costs the engine no message), and beats on the companion's stdin (`.` every second). When that pipe
 * closes — the engine exited, even by SIGKILL — or stays silent for `silentS` — the engine hangs or
 * is stopped longer than `--driver-grace`, after which the driver runs its tasks elsewhere — it reads
 * the list (or, where no file could be made, what came on its stdin) and kills the groups still in
 * it, by the same ladder as {@linkcode killLadder} (SIGTERM,
 * SIGKILL 1 s later), then removes the list and the engine's directory of task output (`alsoRemove`).
 * So a lost engine leaves no orphaned task and no second copy of a re-queued one, and an engine
 * frozen for less than the grace loses nothing.
 */
export class Reaper {
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #enc = new TextEncoder();
  /** The list of groups. */
  readonly #path: string;
  #file: Deno.FsFile | undefined;
  #pending = "";
  #scheduled = false;
  /** Groups listed now, and bytes written to the file: it is written anew once mostly stale. */
  readonly #groups = new Set<number>();
  #written = 0;

  /**
   * @param silentS seconds without a word from the engine after which it kills the groups
   * @param alsoRemove a directory the engine's tasks wrote to, removed once they are dead
   * @param listDir where the list is made (default: `$TMPDIR`, else `/tmp`)
   */
  constructor(silentS: number, alsoRemove?: string, listDir?: string) {
    try {
      this.#path = Deno.makeTempFileSync({
        prefix: "disbatch-groups-",
        ...(listDir ? { dir: listDir } : {}),
      });
      this.#file = Deno.openSync(this.#path, { append: true });
    } catch {
      // No temporary directory to write to: the groups go to the reaper on its stdin instead.
      this.#path = "";
    }
    // Where no file could be made, the groups come on stdin with the heartbeat (read a byte at a time).
    const script = 'declare -A g; f() { case $l in +*) g[${l:1}]=1;; -*) unset "g[${l:1}]";; esac; }; ' +
      `while read -t ${silentS} -r l; do f; done; ` +
      '[ -n "$1" ] && while read -r l; do f; done < "$1"; ' +
      'if [ ${#g[@]} -gt 0 ]; then for p in "${!g[@]}"; do kill -TERM -- -$p 2>/dev/null; done; sleep 1; ' +
      'for p in "${!g[@]}"; do kill -KILL -- -$p 2>/dev/null; done; fi; rm -rf -- ${1:+"$1"} ${2:+"$2"}';
    try {
      const child = ownSessionCommand("/bin/bash", {
        args: ["-c", script, "disbatch-reaper", this.#path, ...(alsoRemove ? [alsoRemove] : [])],
        stdin: "piped",
        stdout: "null",
        stderr: "null",
      }).spawn();
      child.unref();
      this.#writer = child.stdin.getWriter();
    } catch {
      this.#writer = undefined;
    }
  }

  /** Tell the reaper the engine is alive. */
  beat(): void {
    this.#writer?.write(this.#enc.encode(".\n")).catch(() => {});
  }

  /** @param pgid a task's process group, now running */
  add(pgid: number): void {
    this.#groups.add(pgid);
    this.#queue(`+${pgid}\n`);
  }

  /** @param pgid a task's process group, now finished */
  remove(pgid: number): void {
    this.#groups.delete(pgid);
    this.#queue(`-${pgid}\n`);
  }

  // Updates of one event-loop turn go out in one write (a finish and the next start, typically).
  #queue(line: string): void {
    this.#pending += line;
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const data = this.#pending;
    this.#pending = "";
    if (!data) return;
    if (!this.#file) {
      this.#writer?.write(this.#enc.encode(data)).catch(() => {});
      return;
    }
    try {
      if (this.#written > 65536 && this.#written > 64 * this.#groups.size) {
        // Mostly lines of groups long done: the file is written anew with those still running.
        const fresh = `${this.#path}.new`;
        Deno.writeTextFileSync(fresh, [...this.#groups].map((g) => `+${g}\n`).join(""));
        Deno.renameSync(fresh, this.#path);
        this.#file.close();
        this.#file = Deno.openSync(this.#path, { append: true });
        this.#written = 0;
        return;
      }
      const bytes = this.#enc.encode(data);
      let n = 0;
      while (n < bytes.length) n += this.#file.writeSync(bytes.subarray(n));
      this.#written += bytes.length;
    } catch {
      // A full disk: the list is emptied and the reaper hears of the running groups on its stdin from now on.
      try {
        this.#file.close();
        Deno.truncateSync(this.#path, 0);
      } catch {
        // as it is
      }
      this.#file = undefined;
      const all = [...this.#groups].map((g) => `+${g}\n`).join("");
      if (all) this.#writer?.write(this.#enc.encode(all)).catch(() => {});
    }
  }

  /** The engine is done: the reaper kills what is still listed (nothing, normally) and cleans up. */
  close(): void {
    this.#flush();
    this.#file?.close();
    this.#file = undefined;
    if (!this.#groups.size && this.#path) {
      // Nothing left to kill: the list goes now, even if the reaper does not live to remove it.
      try {
        Deno.removeSync(this.#path);
      } catch {
        // gone already
      }
    }
    this.#writer?.close().catch(() => {});
    this.#writer = undefined;
  }
}

/**
 * Drive disbatch from a TypeScript program: submit task lines, read their results as they finish,
 * wait for given task ids, end the run. It runs the `disbatch` executable with the task stream on
 * its stdin and `--results -` on its stdout, so nothing new is needed on the nodes.
 *
 * @example
 * ```ts ignore
 * import { DisBatcher } from "./mod.ts";
 *
 * const db = new DisBatcher({ name: "squares", args: ["-s", "localhost:4"] });
 * for (let i = 0; i < 10; i++) await db.submit(`echo $(( ${i} * ${i} ))`);
 * const results = await db.wait([...Array(10).keys()]);
 * console.log(results.get(3)?.OutData); // "9\n"
 * await db.done();
 * ```
 *
 * Task ids are disbatch's, as for a task file: 0, 1, … in submission order; a `#DISBATCH REPEAT N`
 * line takes N ids, a `#DISBATCH BARRIER` one. The executable is `command` if given, else
 * `$DISBATCH_BIN`, else `disbatch` on `PATH`, else this checkout's `main.ts` run by Deno. When
 * disbatch ends before the results waited for arrive, the waiting call rejects with a
 * {@linkcode DisBatchError} holding its exit status and last messages.
 *
 * @module
 */

import type { TaskResult } from "./lib/results.ts";

export type { TaskResult } from "./lib/results.ts";

/** disbatch could not run, or ended before the results waited for arrived. */
export class DisBatchError extends Error {
  /** @param message what happened @param exitCode disbatch's exit status, when it ended */
  constructor(message: string, readonly exitCode?: number) {
    super(message);
    this.name = "DisBatchError";
  }
}

/** How to start the run. */
export interface DisBatcherOptions {
  /** Name of the task stream (run files, `DISBATCH_NAMETASKS`). Default `DisBatcher`. */
  name?: string;
  /** More disbatch options (`-s localhost:4`, `--retries 2`, `-p run/x`, …). */
  args?: string[];
  /** The disbatch command (program and leading arguments). */
  command?: string[];
  /** Working directory of the run (default: this process's). */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Where disbatch's own messages go (default: this process's stderr). */
  onMessage?: (line: string) => void;
}

function onPath(name: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").filter(Boolean)) {
    try {
      const st = Deno.statSync(`${dir}/${name}`);
      if (st.isFile && (st.mode ?? 0o111) & 0o111) return `${dir}/${name}`;
    } catch { /* not here */ }
  }
  return undefined;
}

function disbatchCommand(): string[] {
  const given = Deno.env.get("DISBATCH_BIN");
  if (given) return given.split(/\s+/).filter(Boolean);
  const found = onPath("disbatch");
  if (found) return [found];
  const main = new URL("./main.ts", import.meta.url);
  if (main.protocol === "file:") return [Deno.execPath(), "run", "-A", "--quiet", main.pathname];
  throw new DisBatchError(
    "disbatch: executable not found: put it on PATH (disbatch install ~/bin) or set DISBATCH_BIN",
  );
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A disbatch run fed by this program. */
export class DisBatcher {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #status: Promise<Deno.CommandStatus>;
  readonly #tail: string[] = [];
  readonly #stderrDone: Promise<void>;
  #queue: TaskResult[] = [];
  #waiters: (() => void)[] = [];
  #ended = false;
  #closed = false;
  /** Every task result received so far, by task id. */
  readonly byId = new Map<number, TaskResult>();

  /** @param o name, disbatch options, command, cwd, env, message sink */
  constructor(o: DisBatcherOptions = {}) {
    const [cmd, ...pre] = o.command ?? disbatchCommand();
    const args = [...pre, "--results", "-", "--name", o.name ?? "DisBatcher", ...(o.args ?? []), "-"];
    try {
      this.#child = new Deno.Command(cmd!, {
        args,
        cwd: o.cwd,
        env: o.env,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      throw new DisBatchError(`disbatch: cannot start ${cmd}: ${e instanceof Error ? e.message : e}`);
    }
    this.#stdin = this.#child.stdin.getWriter();
    this.#stdin.closed.catch(() => {});
    this.#status = this.#child.status;
    const say = o.onMessage ?? ((l: string) => Deno.stderr.writeSync(encoder.encode(l + "\n")));
    this.#stderrDone = this.#lines(this.#child.stderr, (l) => {
      say(l);
      this.#tail.push(l);
      if (this.#tail.length > 20) this.#tail.shift();
    });
    this.#lines(this.#child.stdout, (l) => {
      let r: TaskResult;
      try {
        r = JSON.parse(l);
      } catch {
        return;
      }
      if (r.Kind !== "task") return; // barriers and PERENGINE tasks were not submitted
      this.byId.set(r.TaskId, r);
      this.#queue.push(r);
      this.#wake();
    }).finally(() => {
      this.#ended = true;
      this.#wake();
    });
  }

  async #lines(stream: ReadableStream<Uint8Array>, each: (line: string) => void): Promise<void> {
    let carry = "";
    for await (const chunk of stream) {
      const text = carry + decoder.decode(chunk, { stream: true });
      const parts = text.split("\n");
      carry = parts.pop()!;
      for (const p of parts) each(p);
    }
    if (carry) each(carry);
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  async #failure(what: string): Promise<DisBatchError> {
    const s = await this.#status;
    await this.#stderrDone;
    const tail = this.#tail.slice(-8).join("\n");
    return new DisBatchError(
      `disbatch ended (exit status ${s.code}) ${what}${tail ? `:\n${tail}` : ""}`,
      s.code,
    );
  }

  /**
   * Add a task: one task-file line (`#DISBATCH` directives too). It is sent at once.
   * @param line the line, without a line break inside
   */
  async submit(line: string): Promise<void> {
    if (this.#closed) throw new DisBatchError("submit() after done(): start another DisBatcher");
    const text = line.replace(/\r?\n$/, "");
    if (/[\r\n]/.test(text)) throw new TypeError("a task is one line: submit several lines one by one");
    try {
      await this.#stdin.write(encoder.encode(text + "\n"));
    } catch {
      throw await this.#failure("before the task could be submitted");
    }
  }

  /** The next task result (in the order tasks finish). */
  async waitOne(): Promise<TaskResult> {
    for (;;) {
      const r = this.#queue.shift();
      if (r) return r;
      if (this.#ended) throw await this.#failure("while a task result was awaited");
      await new Promise<void>((w) => this.#waiters.push(w));
    }
  }

  /** Task results as they come, until the run ends. */
  async *results(): AsyncGenerator<TaskResult> {
    for (;;) {
      const r = this.#queue.shift();
      if (r) {
        yield r;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((w) => this.#waiters.push(w));
    }
  }

  /**
   * Wait until each of the task ids has a result.
   * @param ids task ids
   * @returns their results by id
   */
  async wait(ids: Iterable<number>): Promise<Map<number, TaskResult>> {
    const out = new Map<number, TaskResult>();
    for (const id of ids) {
      while (!this.byId.has(id)) await this.waitOne();
      out.set(id, this.byId.get(id)!);
    }
    return out;
  }

  /**
   * No more tasks: disbatch finishes what runs and ends.
   * @returns its exit status (0)
   * @throws {DisBatchError} when it ended with another
   */
  async done(): Promise<number> {
    if (!this.#closed) {
      this.#closed = true;
      await this.#stdin.close().catch(() => {});
    }
    const s = await this.#status;
    while (!this.#ended) await new Promise<void>((w) => this.#waiters.push(w));
    await this.#stderrDone;
    if (!s.success) throw await this.#failure("with an error");
    return s.code;
  }
}

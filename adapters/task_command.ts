/**
 * `--taskcommand CMD`: a program writes the task stream. The driver runs `/bin/bash -c CMD` in its
 * own directory and environment, reads the program's stdout as the task file, and writes each
 * result to its stdin as a JSON line, so the program can wait for results and submit more. Its end
 * of output ends the task stream. A program that fails, or ends without writing a task, or writes
 * binary data, ends the run with a message naming it.
 *
 * @module
 */

import { resultLine } from "../lib/results.ts";
import type { StatusRecord } from "../lib/types.ts";
import { type TaskSource } from "./task_source.ts";

/** The task program wrote something that is not a task stream (binary data). */
export class TaskCommandOutputError extends SyntaxError {
  /** @param message what it wrote and what to do */
  constructor(message: string) {
    super(message);
    this.name = "TaskCommandOutputError";
  }
}

const encoder = new TextEncoder();

/** A running task program. */
export class TaskCommand {
  readonly #child: Deno.ChildProcess;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #carry: Uint8Array | undefined;
  #bytes = 0;
  #line = 1;
  #inputOpen = true;
  /** The command as given, for messages. */
  readonly command: string;
  /** Resolves with how the program ended. */
  readonly status: Promise<Deno.CommandStatus>;
  #ended: Deno.CommandStatus | undefined;

  /** @param command the shell command @throws when bash cannot be started */
  constructor(command: string) {
    this.command = command;
    this.#child = new Deno.Command("/bin/bash", {
      args: ["-c", command],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#reader = this.#child.stdout.getReader();
    this.#writer = this.#child.stdin.getWriter();
    // Its reading end may close at any time (it exited, or does not want results): never an error.
    this.#writer.closed.catch(() => this.#inputOpen = false);
    this.status = this.#child.status.then((s) => this.#ended = s);
  }

  /** The task stream (a {@linkcode TaskSource}); binary data is a {@linkcode TaskCommandOutputError}. */
  readonly source: TaskSource = {
    read: async (p: Uint8Array): Promise<number | null> => {
      if (!this.#carry) {
        const r = await this.#reader.read();
        if (r.done) return null;
        this.#carry = r.value;
      }
      const chunk = this.#carry;
      const n = Math.min(p.length, chunk.length);
      p.set(chunk.subarray(0, n));
      this.#carry = n < chunk.length ? chunk.subarray(n) : undefined;
      for (let i = 0; i < n; i++) {
        if (p[i] === 0) {
          throw new TaskCommandOutputError(
            `the task command (${this.command}) wrote binary data (a NUL byte) on line ${this.#line} of its ` +
              `output; it must write one shell command per line`,
          );
        }
        if (p[i] === 10) this.#line++;
      }
      this.#bytes += n;
      return n;
    },
    close: () => {
      this.#reader.cancel().catch(() => {});
    },
  };

  /**
   * @param r a finished item's record @param attempt which run it is; written to the program's stdin
   * @param failedCheck a `BARRIER CHECK` that found failures
   */
  sendResult(r: StatusRecord, attempt: number, failedCheck = false): void {
    if (!this.#inputOpen) return;
    this.#writer.write(encoder.encode(resultLine(r, attempt, failedCheck))).catch(() =>
      this.#inputOpen = false
    );
  }

  /**
   * Why its end of output is a failure, if it is: it exited with an error (waited for up to `ms`),
   * or it wrote no task at all.
   * @param ms how long to wait for its exit
   * @returns the message, or undefined when the stream ended well
   */
  async failure(ms: number): Promise<string | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const s = await Promise.race([
      this.status,
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms)),
    ]);
    clearTimeout(timer);
    if (s && !s.success) return this.#exitText(s);
    if (this.#bytes === 0) {
      return `the task command (${this.command}) ended its output without writing a task` +
        (s ? "" : " (it is still running)") + `; it must write one shell command per line on its stdout`;
    }
    return undefined;
  }

  /** How it exited, when that was a failure (for a program that fails after its output ended). */
  get exitFailure(): string | undefined {
    return this.#ended && !this.#ended.success ? this.#exitText(this.#ended) : undefined;
  }

  #exitText(s: Deno.CommandStatus): string {
    return `the task command (${this.command}) ${
      s.signal ? `was killed by ${s.signal}` : `exited with status ${s.code}`
    }`;
  }

  /**
   * The run is over: close its stdin (a program reading results sees the end), give it `ms` to
   * exit, then SIGTERM it.
   */
  async close(ms = 2000): Promise<void> {
    this.#inputOpen = false;
    // A program that reads no result has a full pipe: closing it must not wait for ever.
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#writer.close().catch(() => {}), new Promise((r) => t = setTimeout(r, 1000))]);
    clearTimeout(t);
    this.source.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = await Promise.race([
      this.status.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), ms)),
    ]);
    clearTimeout(timer);
    if (!done) {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* gone */ }
      await this.status;
    }
  }
}

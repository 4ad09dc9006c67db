/**
 * Where results go: `--results FILE|-` (JSON lines, one per finished item, as it finishes) and the
 * stdin of a `--taskcommand` program. Lines of one turn of the event loop are written together; a reader
 * that goes away (EPIPE, a full disk) stops that output with one message, never the run.
 *
 * @module
 */

import { resultLine } from "../lib/results.ts";
import type { StatusRecord } from "../lib/types.ts";

const encoder = new TextEncoder();

/**
 * A line sink: a file or stdout, written in order and never torn, asynchronously: a reader that
 * pauses (`| less`) holds the results back, never the driver (whose engines would take its silence
 * for a lost driver).
 */
export class ResultsFile {
  #write: (b: Uint8Array) => Promise<number>;
  #chain: Promise<void> = Promise.resolve();
  #close: () => void;
  #pending: string[] = [];
  #scheduled = false;
  #broken = false;
  #onTrouble: (message: string) => void;
  /** What the lines go to, for messages. */
  readonly target: string;

  /**
   * @param path a file (created or truncated) or `-` for stdout
   * @param onTrouble told once when writing fails (the run goes on without results)
   * @param append add to the file (a driver restarted with `--reattach`)
   * @throws {Deno.errors.NotFound} and the like when the file cannot be created
   */
  constructor(path: string, onTrouble: (message: string) => void, append = false) {
    this.#onTrouble = onTrouble;
    this.target = path === "-" ? "stdout" : path;
    if (path === "-") {
      this.#write = (b) => Deno.stdout.write(b);
      this.#close = () => {};
    } else {
      const f = Deno.openSync(
        path,
        append ? { append: true, create: true } : { write: true, create: true, truncate: true },
      );
      this.#write = (b) => f.write(b);
      this.#close = () => f.close();
    }
  }

  /**
   * @param r a finished item's record @param attempt which run of the task it is
   * @param failedCheck a `BARRIER CHECK` that found failures
   */
  add(r: StatusRecord, attempt: number, failedCheck = false): void {
    if (this.#broken) return;
    this.#pending.push(resultLine(r, attempt, failedCheck));
    if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.flush(), 0); // one write per turn of the event loop
    }
  }

  /** Write what is pending. */
  flush(): void {
    this.#scheduled = false;
    if (this.#broken || this.#pending.length === 0) return;
    const bytes = encoder.encode(this.#pending.join(""));
    this.#pending = [];
    this.#chain = this.#chain.then(async () => {
      if (this.#broken) return;
      try {
        for (let off = 0; off < bytes.length;) off += await this.#write(bytes.subarray(off));
      } catch (e) {
        this.#broken = true;
        this.#onTrouble(
          `cannot write results to ${this.target} (${e instanceof Error ? e.message : e}); ` +
            `the run goes on and the status file has every result`,
        );
      }
    });
  }

  /**
   * Write what is left and close; a reader that takes no more within `ms` loses the rest.
   * @param ms how long to wait for the last writes
   */
  async close(ms = 10_000): Promise<void> {
    this.flush();
    let t: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#chain, new Promise((r) => t = setTimeout(r, ms))]);
    clearTimeout(t);
    try {
      this.#close();
    } catch { /* already closed */ }
  }
}

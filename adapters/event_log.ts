/**
 * `--event-log FILE`: every {@linkcode DriverEvent} the scheduler is given and the actions it
 * answers with, one JSON line each, after a first line with the scheduler's options. Written as
 * they happen (a driver that is killed leaves a stream that replays up to its last whole line).
 *
 * @module
 */

import { EVENT_STREAM_VERSION, type EventStreamHead } from "../lib/reactor.ts";
import type { DriverEvent } from "../lib/reactor.ts";
import type { Action, SchedulerOptions } from "../lib/scheduler.ts";

const enc = new TextEncoder();

/** An open event log. */
export class EventLog {
  readonly #file: Deno.FsFile;
  #broken = false;
  readonly #warn: (m: string) => void;
  readonly path: string;

  /**
   * @param path the file (made anew; opened at once, so that a path that cannot be written is
   *   refused before the run makes any file)
   * @param warn said once, when a write fails (the run goes on without the log)
   * @throws the open's error
   */
  constructor(path: string, warn: (m: string) => void) {
    this.path = path;
    this.#warn = warn;
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
  }

  /** @param options the scheduler's, written first: a replay starts from them */
  start(options: SchedulerOptions): void {
    const head: EventStreamHead = { disbatchEvents: EVENT_STREAM_VERSION, options };
    this.#write(JSON.stringify(head));
  }

  /**
   * The event as it was before the scheduler saw it (taken before, as the scheduler keeps what it
   * is given), and the actions it gave.
   * @param event `JSON.stringify` of the event @param actions what the scheduler answered
   */
  step(event: string, actions: Action[]): void {
    this.#write(`{"e":${event},"a":${JSON.stringify(actions)}}`);
  }

  /** @param ev an event @returns its JSON, for {@linkcode step} */
  static encode(ev: DriverEvent): string {
    return JSON.stringify(ev);
  }

  #write(line: string): void {
    if (this.#broken) return;
    try {
      const b = enc.encode(line + "\n");
      let off = 0;
      while (off < b.length) off += this.#file.writeSync(b.subarray(off));
    } catch (e) {
      this.#broken = true;
      this.#warn(
        `cannot write the event log ${this.path} (${e instanceof Error ? e.message : e}); it stops here`,
      );
    }
  }

  /** Close the file. */
  close(): void {
    try {
      this.#file.close();
    } catch { /* closed already */ }
  }
}

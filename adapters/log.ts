/**
 * A small log-file writer in Python logging's default shape
 * (`2026-11-25 17:50:01,123 INFO message`), one whole line per write.
 *
 * @module
 */

import { LineLimiter } from "../lib/rate_limit.ts";

const LEVELS: Record<string, number> = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 };
const encoder = new TextEncoder();

function stamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }:` +
    `${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

/** Appends log lines to a file (or discards them when no path is given). */
export class Logger {
  #file: Deno.FsFile | undefined;
  #min: number;

  /**
   * @param path log file (created/truncated), or undefined for none
   * @param level minimum level name (Python names)
   * @param append add to the file (a driver restarted with `--reattach`) instead of starting it anew
   */
  constructor(path: string | undefined, level: string, append = false) {
    this.#min = LEVELS[level.toUpperCase()] ?? 20;
    if (path) {
      this.#file = Deno.openSync(
        path,
        append ? { append: true, create: true } : { write: true, create: true, truncate: true },
      );
    }
  }

  /** True when DEBUG lines are written (to skip building them otherwise). */
  get debugEnabled(): boolean {
    return this.#min <= 10 && this.#file !== undefined;
  }

  #write(level: string, message: string): void {
    if (!this.#file || (LEVELS[level] ?? 0) < this.#min) return;
    try {
      this.#file.writeSync(encoder.encode(`${stamp(new Date())} ${level} ${message}\n`));
    } catch { /* a full disk must not stop the run; the status file is what matters */ }
  }

  /** @param m message */
  debug(m: string): void {
    if (this.#min <= 10) this.#write("DEBUG", m);
  }
  /** @param m message */
  info(m: string): void {
    this.#write("INFO", m);
  }
  /** @param m message */
  warn(m: string): void {
    this.#write("WARNING", m);
  }
  /** @param m message */
  error(m: string): void {
    this.#write("ERROR", m);
  }

  /** Close the file. */
  close(): void {
    try {
      this.#file?.close();
    } catch { /* closed */ }
    this.#file = undefined;
  }
}

/**
 * Warnings that can come in waves (rejected connections): at most `lines` per `perSeconds`,
 * then one line saying how many were held back.
 */
export class RateLimitedWarn {
  #limiter: LineLimiter;
  #log: Logger;
  #heldBack: (n: number) => string;

  /**
   * @param log where the lines go @param heldBack the line for n warnings not written
   * @param lines how many per window @param perSeconds the window
   */
  constructor(log: Logger, heldBack: (n: number) => string, lines = 10, perSeconds = 10) {
    this.#limiter = new LineLimiter(lines, perSeconds);
    this.#log = log;
    this.#heldBack = heldBack;
  }

  /** @param message the warning @param nowS seconds (any monotonic origin) */
  warn(message: string, nowS: number): void {
    const v = this.#limiter.take(nowS);
    if (v.suppressed) this.#log.warn(this.#heldBack(v.suppressed));
    if (v.write) this.#log.warn(message);
  }
}

/**
 * What the run shows on stderr: a self-updating progress line while stderr is a terminal (never
 * otherwise, never with `--quiet`), messages that do not tear it, and the end-of-run summary.
 *
 * @module
 */

import { progressLine, summaryLines } from "../lib/progress_view.ts";
import type { SchedulerSnapshot } from "../lib/scheduler.ts";
import type { StatusRecord } from "../lib/types.ts";
import { stderrWrite } from "./stderr.ts";

/** The terminal's width; a pty that reports 0 (e.g. under `script`) falls back to $COLUMNS or 80. */
function terminalColumns(): number {
  let cols = 0;
  try {
    cols = Deno.consoleSize().columns;
  } catch { /* not a terminal */ }
  return cols > 0 ? cols : Number(Deno.env.get("COLUMNS")) || 80;
}

/** Terminal progress and summary. */
export class Progress {
  readonly #tty: boolean;
  readonly #quiet: boolean;
  readonly #color: boolean;
  #shown = false;
  #lastPaint = 0;
  #rate: { t: number; done: number }[] = [];
  #started = Date.now() / 1000;
  readonly #total: number | undefined;

  /** @param quiet `--quiet` @param total the number of tasks, when known before the run (a regular file) */
  constructor(quiet: boolean, total?: number) {
    this.#quiet = quiet;
    this.#total = total;
    this.#tty = !quiet && Deno.stderr.isTerminal();
    this.#color = this.#tty && !Deno.env.get("NO_COLOR");
  }

  #write(s: string): void {
    stderrWrite(s);
  }

  /** True when a progress line is painted (stderr is a terminal and not `--quiet`). */
  get active(): boolean {
    return this.#tty;
  }

  /** @param line a message for stderr (the progress line is cleared first and redrawn later) */
  message(line: string): void {
    if (this.#shown) this.#write("\r\x1b[2K");
    this.#shown = false;
    this.#write(line + "\n");
  }

  /**
   * @param line a line for stdout (the progress line on stderr is cleared first); a closed stdout
   * drops it (the driver log has what matters)
   */
  out(line: string): void {
    if (this.#shown) this.#write("\r\x1b[2K");
    this.#shown = false;
    try {
      const data = new TextEncoder().encode(line + "\n");
      let off = 0;
      while (off < data.length) off += Deno.stdout.writeSync(data.subarray(off));
    } catch { /* stdout closed */ }
  }

  /** @param snap current state (only computed when painting); repainted at most 10 times a second */
  update(snap: () => SchedulerSnapshot): void {
    if (!this.#tty) return;
    const t = Date.now() / 1000;
    if (t - this.#lastPaint < 0.1) return;
    this.#lastPaint = t;
    const s = snap();
    this.#rate.push({ t, done: s.finished });
    while (this.#rate.length > 2 && t - this.#rate[0]!.t > 10) this.#rate.shift();
    const first = this.#rate[0]!;
    const rate = t - first.t > 0.5 ? (s.finished - first.done) / (t - first.t) : undefined;
    const cols = terminalColumns();
    this.#write(
      "\r\x1b[2K" + progressLine(s, {
        rate,
        elapsed: t - this.#started,
        columns: cols,
        color: this.#color,
        total: this.#total,
      }),
    );
    this.#shown = true;
  }

  /**
   * Clear the line and print the summary (always, unless `--quiet`).
   * @param s final state @param info run facts
   * @param log where the summary is kept too (the driver log), `--quiet` or not
   */
  done(
    s: SchedulerSnapshot,
    info: { startedAt: number; statusPath: string; failures: readonly StatusRecord[]; attemptsPath?: string },
    log?: (line: string) => void,
  ): void {
    if (this.#shown) this.#write("\r\x1b[2K");
    this.#shown = false;
    const wall = Date.now() / 1000 - info.startedAt;
    const o = { wall, statusPath: info.statusPath, failures: info.failures, attemptsPath: info.attemptsPath };
    if (log) { for (const l of summaryLines(s, { ...o, color: false })) log(l); }
    if (this.#quiet) return;
    for (const l of summaryLines(s, { ...o, color: this.#color })) this.#write(l + "\n");
  }
}

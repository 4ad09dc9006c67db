/**
 * `<run>_dbUtil.sh --mon`: the full-screen monitor. It connects to the driver as a
 * `monitor`, asks to `watch`, and redraws on every snapshot (about once a second), key and window
 * resize. What is drawn and what a key does are decided in `lib/monitor_view.ts`; this file owns the
 * terminal (raw mode, alternate screen, hidden cursor, always restored) and the connection.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await monitorMain([]));
 * ```
 *
 * @module
 */

import { UsageError } from "../lib/cli.ts";
import {
  decodeKeys,
  ENDED_MESSAGE,
  followSelection,
  monitorKey,
  type MonitorState,
  type MonitorUi,
  renderMonitor,
} from "../lib/monitor_view.ts";
import { ClientError, connectToDriver, type DriverSession } from "./client.ts";
import { stopAnswerText } from "../lib/control.ts";

const encoder = new TextEncoder();
/** Alternate screen on, cursor hidden, screen cleared. */
const ENTER = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
/** Attributes reset, cursor shown, alternate screen off. */
const LEAVE = "\x1b[0m\x1b[?25h\x1b[?1049l";
/** How long the driver's answer stays on screen. */
const NOTICE_SECONDS = 8;

function writeAll(text: string): void {
  const data = encoder.encode(text);
  let off = 0;
  while (off < data.length) off += Deno.stdout.writeSync(data.subarray(off));
}

function say(m: string): void {
  Deno.stderr.writeSync(encoder.encode(m + "\n"));
}

function windowSize(): { columns: number; rows: number } {
  try {
    return Deno.consoleSize();
  } catch {
    return { columns: 80, rows: 24 };
  }
}

/**
 * Run the monitor until `q` (or Ctrl-C).
 * @param args nothing (`--mon` takes no options)
 * @returns 0, or 1 when the driver cannot be reached or there is no terminal
 * @throws {UsageError} when given arguments
 */
export async function monitorMain(args: string[]): Promise<number> {
  if (args.length > 0) throw new UsageError(`--mon takes no arguments, got ${args.join(" ")}`);
  if (!Deno.stdin.isTerminal() || !Deno.stdout.isTerminal()) {
    say(
      "disbatch: the monitor needs a terminal (stdin and stdout); use dbUtil.sh --status for a one-shot report",
    );
    return 1;
  }
  let session: DriverSession;
  try {
    session = await connectToDriver("monitor");
  } catch (e) {
    say(e instanceof ClientError ? e.message : `disbatch: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  const screen = new MonitorScreen(session);
  try {
    await screen.run();
  } finally {
    screen.dispose();
    session.link.close("monitor quit");
  }
  return 0;
}

/** One monitor session on the terminal. */
class MonitorScreen {
  readonly #session: DriverSession;
  #state: MonitorState | undefined;
  #ui: MonitorUi = { selected: 0, help: false };
  #noticeAt = 0;
  /** The clock stops when the driver is gone (the elapsed time and ETA stay as they were). */
  #endedAt: number | undefined;
  #size = windowSize();
  #last = "";
  #raw = false;
  #entered = false;
  #quit!: () => void;
  readonly #quitting = new Promise<void>((r) => this.#quit = r);
  #timers: ReturnType<typeof setInterval>[] = [];
  #signals: [Deno.Signal, () => void][] = [];

  constructor(session: DriverSession) {
    this.#session = session;
  }

  async run(): Promise<void> {
    Deno.stdin.setRaw(true);
    this.#raw = true;
    writeAll(ENTER);
    this.#entered = true;
    this.#session.onMessage = (m) => {
      if (m.kind === "snapshot") {
        this.#state = m.state;
        this.#ui = followSelection(this.#ui, this.#state);
      } else if (m.kind === "ack") {
        this.#ui = { ...this.#ui, notice: stopAnswerText(m.answer) };
        this.#noticeAt = Date.now();
      } else return;
      this.#draw();
    };
    this.#session.link.closed.then(() => {
      this.#ui = { ...this.#ui, ended: ENDED_MESSAGE, dialog: undefined };
      this.#endedAt = Date.now() / 1000;
      this.#draw();
    });
    this.#session.link.send({ kind: "watch" });
    // SIGWINCH redraws at once; the poll catches terminals (and platforms) without it
    this.#listen("SIGWINCH", () => this.#resize());
    for (const s of ["SIGINT", "SIGTERM", "SIGHUP"] as const) this.#listen(s, () => this.#quit());
    this.#timers.push(setInterval(() => {
      if (this.#ui.notice && Date.now() - this.#noticeAt > NOTICE_SECONDS * 1000) {
        this.#ui = { ...this.#ui, notice: undefined };
      }
      this.#resize(true);
    }, 1000));
    this.#draw();
    const reading = this.#readKeys();
    await Promise.race([this.#quitting, reading]);
  }

  #listen(signal: Deno.Signal, f: () => void): void {
    try {
      Deno.addSignalListener(signal, f);
      this.#signals.push([signal, f]);
    } catch { /* not supported here */ }
  }

  #resize(always = false): void {
    const size = windowSize();
    const changed = size.columns !== this.#size.columns || size.rows !== this.#size.rows;
    this.#size = size;
    if (changed) this.#last = "";
    if (changed || always) this.#draw();
  }

  async #readKeys(): Promise<void> {
    const buf = new Uint8Array(256);
    const text = new TextDecoder();
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) return; // the terminal is gone
      for (const key of decodeKeys(text.decode(buf.subarray(0, n), { stream: true }))) {
        const step = monitorKey(this.#ui, key, this.#state);
        this.#ui = step.ui;
        if (step.ui.notice) this.#noticeAt = Date.now();
        if (step.send) this.#session.link.send({ kind: "requestStop", target: step.send });
        if (step.quit) return;
      }
      this.#draw();
    }
  }

  #draw(): void {
    if (!this.#entered) return;
    const lines = renderMonitor(this.#state, {
      columns: this.#size.columns,
      rows: this.#size.rows,
      selected: this.#ui.selected,
      dialog: this.#ui.dialog?.text,
      help: this.#ui.help,
      ended: this.#ui.ended,
      notice: this.#ui.notice,
      now: this.#endedAt ?? Date.now() / 1000,
    });
    // each line clears its own rest; nothing is written when nothing changed
    const frame = "\x1b[H" + lines.map((l) => `${l}\x1b[0m\x1b[K`).join("\r\n") + "\x1b[J";
    if (frame === this.#last) return;
    this.#last = frame;
    try {
      writeAll(frame);
    } catch {
      this.#quit(); // the terminal is gone
    }
  }

  /** Put the terminal back as it was; safe to call more than once. */
  dispose(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    for (const [s, f] of this.#signals) {
      try {
        Deno.removeSignalListener(s, f);
      } catch { /* already removed */ }
    }
    this.#signals = [];
    if (this.#entered) {
      this.#entered = false;
      try {
        writeAll(LEAVE);
      } catch { /* the terminal is gone */ }
    }
    if (this.#raw) {
      this.#raw = false;
      try {
        Deno.stdin.setRaw(false);
      } catch { /* the terminal is gone */ }
    }
  }
}

/**
 * `--mailTo`: a minimal SMTP client (`lib/smtp.ts` speaks the dialogue, this file owns the socket).
 *
 * Mail must never break or slow a run: {@linkcode Mailer.notify} only queues and returns; mails
 * go out one at a time, each given 10 s; at most 5 wait (older ones are dropped); and the first
 * failure is logged once and turns mail off for the rest of the run, so an absent or refusing
 * server costs one warning (disBatch 3.0 failed and logged on every completion).
 *
 * @example
 * ```ts ignore
 * const mailer = new Mailer({ to: "me@example.org", ...mailServer(), log });
 * mailer.notify("disbatch: 100 tasks done", "100 finished, 2 failed");
 * await mailer.close();
 * ```
 *
 * @module
 */

import { buildMessage, parseRecipients, parseSmtpServer, SmtpReplyReader, SmtpSession } from "../lib/smtp.ts";

/** Where mail goes by default: `DISBATCH_SMTP` (`HOST:PORT`), else localhost:25. */
export function mailServer(env: Record<string, string | undefined> = Deno.env.toObject()): {
  host: string;
  port: number;
} {
  return parseSmtpServer(env.DISBATCH_SMTP);
}

/** Options of {@linkcode Mailer}. */
export interface MailerOptions {
  /** Recipient(s), separated by commas or spaces. */
  to: string;
  /** Sender; default `$USER@<hostname>`. */
  from?: string;
  /** SMTP server (see {@linkcode mailServer}). */
  host: string;
  port: number;
  /** Where success (`info`) and the one failure (`warn`) are reported. */
  log: { info(m: string): void; warn(m: string): void };
  /** Limit for one whole mail, connection included. @default 10000 */
  timeoutMs?: number;
}

interface Queued {
  subject: string;
  body: string;
  date: Date;
}

/** How many mails may wait; older ones are dropped. */
const MAX_QUEUED = 5;
const encoder = new TextEncoder();

/** Sends notification mails in the background; never throws to or waits for its caller. */
export class Mailer {
  readonly #to: string[];
  readonly #from: string;
  readonly #host: string;
  readonly #port: number;
  readonly #log: MailerOptions["log"];
  readonly #timeoutMs: number;
  #queue: Queued[] = [];
  #dropped = 0;
  #pump: Promise<void> | undefined;
  #disabled = false;
  #closed = false;

  /**
   * @param o recipient, sender, server, log, timeout
   * @throws {TypeError} for a malformed address (check `--mailTo` before the run starts)
   */
  constructor(o: MailerOptions) {
    this.#to = parseRecipients(o.to);
    this.#from = o.from ?? defaultFrom();
    parseRecipients(this.#from);
    this.#host = o.host;
    this.#port = o.port;
    this.#log = o.log;
    this.#timeoutMs = o.timeoutMs ?? 10_000;
  }

  /** False once a mail failed (mail is then off for the run) or {@linkcode close} was called. */
  get enabled(): boolean {
    return !this.#disabled && !this.#closed;
  }

  /**
   * Queue a mail and return at once.
   * @param subject the subject line
   * @param body plain text
   */
  notify(subject: string, body: string): void {
    if (!this.enabled) return;
    this.#queue.push({ subject, body, date: new Date() });
    if (this.#queue.length > MAX_QUEUED) {
      this.#queue.shift();
      this.#dropped++;
    }
    this.#pump ??= this.#drain().finally(() => this.#pump = undefined);
  }

  /** Send what is queued (each mail still limited to the timeout), then accept no more. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#pump) await this.#pump;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#disabled) {
      const mail = this.#queue.shift()!;
      try {
        await this.#send(mail);
        const dropped = this.#dropped;
        this.#dropped = 0;
        this.#log.info(
          `Mail "${mail.subject}" sent to ${this.#to.join(", ")} through ${this.#address}` +
            (dropped ? ` (${dropped} older notification(s) dropped while mail was busy)` : ""),
        );
      } catch (e) {
        this.#disabled = true;
        this.#queue = [];
        this.#log.warn(
          `Cannot send mail through ${this.#address} (${e instanceof Error ? e.message : e}); ` +
            `mail notifications are off for the rest of this run (set DISBATCH_SMTP=HOST:PORT to use another server)`,
        );
      }
    }
  }

  get #address(): string {
    return `${this.#host.includes(":") ? `[${this.#host}]` : this.#host}:${this.#port}`;
  }

  /** One SMTP transaction on its own connection; throws on any failure. */
  async #send(mail: Queued): Promise<void> {
    const message = buildMessage({
      from: this.#from,
      to: this.#to,
      subject: mail.subject,
      body: mail.body,
      date: mail.date,
      messageId: `<${crypto.randomUUID()}@${hostname()}>`,
    });
    const session = new SmtpSession({ helo: hostname(), from: this.#from, to: this.#to, message });
    let timedOut = false;
    let conn: Deno.Conn | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        try {
          conn?.close();
        } catch { /* already closed */ }
        reject(new Error(`no answer within ${this.#timeoutMs / 1000} s`));
      }, this.#timeoutMs);
    });
    timeout.catch(() => {});
    try {
      const connecting = Deno.connect({ hostname: this.#host, port: this.#port });
      // a connection that completes after the timeout is closed, not leaked
      connecting.then((c) => {
        if (timedOut) c.close();
      }, () => {});
      conn = await Promise.race([connecting, timeout]);
      await Promise.race([this.#dialogue(conn, session), timeout]);
    } catch (e) {
      if (session.accepted) return; // the mail went; only QUIT failed
      if (timedOut) {
        throw new Error(`no answer within ${this.#timeoutMs / 1000} s (waiting for ${session.waitingFor})`);
      }
      throw e;
    } finally {
      clearTimeout(timer);
      try {
        conn?.close();
      } catch { /* already closed */ }
    }
  }

  async #dialogue(conn: Deno.Conn, session: SmtpSession): Promise<void> {
    const reader = new SmtpReplyReader();
    const buf = new Uint8Array(16 * 1024);
    const stream = new TextDecoder();
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) {
        if (session.accepted) return;
        throw new Error(`the server closed the connection while we waited for ${session.waitingFor}`);
      }
      for (const reply of reader.push(stream.decode(buf.subarray(0, n), { stream: true }))) {
        const turn = session.reply(reply);
        if (turn.kind === "done") return;
        if (turn.kind === "failed") {
          if (turn.send) await writeAll(conn, turn.send).catch(() => {});
          throw turn.error;
        }
        await writeAll(conn, turn.text);
      }
    }
  }
}

async function writeAll(conn: Deno.Conn, text: string): Promise<void> {
  const data = encoder.encode(text);
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}

function defaultFrom(): string {
  let user = "disbatch";
  try {
    user = (Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ?? "disbatch").replace(/[^\w.+-]/g, "") ||
      "disbatch";
  } catch { /* no env permission */ }
  return `${user}@${hostname()}`;
}

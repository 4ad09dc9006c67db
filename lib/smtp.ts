/**
 * Mail for `--mailTo` (pure): SMTP reply parsing and the client side of the SMTP dialogue (RFC 5321:
 * greeting, EHLO or HELO, MAIL FROM, RCPT TO, DATA, QUIT) as a state machine that is fed replies and
 * answers with the next command. The message text (RFC 5322) is built in `./mail_message.ts`,
 * re-exported here. `adapters/mail.ts` owns the socket, the timeout and the queue.
 *
 * disBatch's own mail never worked (disBatch 3.0: `int + str` raised on every attempt); this is
 * the minimal client it meant to have (`smtplib.SMTP()` on localhost:25).
 *
 * @example One mail, start to end
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildMessage, SmtpSession } from "./smtp.ts";
 *
 * const message = buildMessage({
 *   from: "me@n001", to: ["you@example.org"], subject: "disbatch: 10 tasks done",
 *   body: "10 finished\n", date: new Date(0),
 * });
 * const s = new SmtpSession({ helo: "n001", from: "me@n001", to: ["you@example.org"], message });
 * assert.deepEqual(s.reply({ code: 220, lines: ["mx ready"] }), { kind: "send", text: "EHLO n001\r\n" });
 * assert.deepEqual(s.reply({ code: 250, lines: ["mx"] }), { kind: "send", text: "MAIL FROM:<me@n001>\r\n" });
 * ```
 *
 * @module
 */

import { checkAddress } from "./mail_message.ts";

export {
  buildMessage,
  checkAddress,
  formatMailDate,
  type MailMessage,
  parseRecipients,
} from "./mail_message.ts";

/** One SMTP reply: the code and the text of each line. */
export interface SmtpReply {
  code: number;
  lines: string[];
}

/** The server said something the client cannot go on with. */
export class SmtpError extends Error {
  /** The reply code, or undefined when the reply could not be parsed. */
  readonly code: number | undefined;
  /**
   * @param message what happened
   * @param code the server's reply code
   */
  constructor(message: string, code?: number) {
    super(message);
    this.name = "SmtpError";
    this.code = code;
  }
}

/** Largest reply text we buffer before giving up (a sane server sends a few hundred bytes). */
const MAX_REPLY = 64 * 1024;

/**
 * Parse `DISBATCH_SMTP` (`HOST:PORT`, `HOST`, `[v6]:PORT`); unset means localhost:25.
 * @param text the variable's value
 * @returns host and port
 * @throws {TypeError} when it is malformed
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSmtpServer } from "./smtp.ts";
 *
 * assert.deepEqual(parseSmtpServer(undefined), { host: "localhost", port: 25 });
 * assert.deepEqual(parseSmtpServer("mail.example.org:2525"), { host: "mail.example.org", port: 2525 });
 * ```
 */
export function parseSmtpServer(text: string | undefined): { host: string; port: number } {
  const t = (text ?? "").trim();
  if (t === "") return { host: "localhost", port: 25 };
  const m = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(t);
  const port = m?.[3] === undefined ? 25 : Number(m[3]);
  if (!m || port < 1 || port > 65535) {
    throw new TypeError(`DISBATCH_SMTP must be HOST or HOST:PORT (e.g. mail.example.org:25), got "${t}"`);
  }
  return { host: m[1] ?? m[2]!, port };
}

/**
 * Dot-stuff a message for `DATA` (RFC 5321 §4.5.2) and add the `.` line that ends it.
 * @param message text with CRLF line ends
 * @returns what to write after the server's 354
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dotStuff } from "./smtp.ts";
 *
 * assert.equal(dotStuff("a\r\n.b\r\n."), "a\r\n..b\r\n..\r\n.\r\n");
 * ```
 */
export function dotStuff(message: string): string {
  const text = message.replace(/\r?\n/g, "\r\n");
  const stuffed = text.replace(/^\./, "..").replaceAll("\r\n.", "\r\n..");
  return `${stuffed}${stuffed.endsWith("\r\n") || stuffed === "" ? "" : "\r\n"}.\r\n`;
}

/** Turns the bytes a server sends (decoded) into whole replies, multi-line ones included. */
export class SmtpReplyReader {
  #buf = "";
  #lines: string[] = [];

  /**
   * @param text the next piece of the server's output
   * @returns each reply completed by it
   * @throws {SmtpError} on a line that is not `NNN text`/`NNN-text`, or an endless reply
   * @example A multi-line EHLO answer
   * ```ts
   * import assert from "node:assert/strict";
   * import { SmtpReplyReader } from "./smtp.ts";
   *
   * const r = new SmtpReplyReader();
   * assert.deepEqual(r.push("250-mx\r\n250-SIZE 1000\r\n25"), []);
   * assert.deepEqual(r.push("0 8BITMIME\r\n"), [{ code: 250, lines: ["mx", "SIZE 1000", "8BITMIME"] }]);
   * ```
   */
  push(text: string): SmtpReply[] {
    this.#buf += text;
    const out: SmtpReply[] = [];
    for (;;) {
      const nl = this.#buf.indexOf("\n");
      if (nl < 0) break;
      const line = this.#buf.slice(0, nl).replace(/\r$/, "");
      this.#buf = this.#buf.slice(nl + 1);
      const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (!m) throw new SmtpError(`The server sent a line that is not an SMTP reply: "${line.slice(0, 80)}"`);
      this.#lines.push(m[3]!);
      if (m[2] !== "-") {
        out.push({ code: Number(m[1]), lines: this.#lines });
        this.#lines = [];
      }
    }
    if (this.#buf.length > MAX_REPLY || this.#lines.length > 1000) {
      throw new SmtpError("The server's reply is too long");
    }
    return out;
  }
}

/** What the client does next. */
export type SmtpTurn =
  /** Write `text` (a command line with CRLF, or the dot-stuffed message). */
  | { kind: "send"; text: string }
  /** The dialogue is over and the mail was accepted. */
  | { kind: "done" }
  /** The server refused; write `send` (a polite QUIT) if given, then give up with `error`. */
  | { kind: "failed"; error: SmtpError; send?: string };

type Stage = "greeting" | "ehlo" | "helo" | "mail" | "rcpt" | "data" | "message" | "quit" | "over";

/**
 * The client side of one SMTP transaction, reply by reply. Feed it each {@linkcode SmtpReply};
 * it answers with the next thing to write.
 */
export class SmtpSession {
  readonly #helo: string;
  readonly #from: string;
  readonly #to: string[];
  readonly #message: string;
  #stage: Stage = "greeting";
  #rcpt = 0;
  #accepted = false;

  /**
   * @param o the name we give in EHLO, the envelope, and the message text from {@linkcode buildMessage}
   * @throws {TypeError} for a bad address or no recipient
   */
  constructor(o: { helo: string; from: string; to: string[]; message: string }) {
    checkAddress(o.from);
    if (o.to.length === 0) throw new TypeError("A mail needs at least one recipient");
    for (const a of o.to) checkAddress(a);
    // deno-lint-ignore no-control-regex
    this.#helo = o.helo.replace(/[\s\x00-\x1f\x7f]/g, "") || "localhost";
    this.#from = o.from;
    this.#to = o.to;
    this.#message = o.message;
  }

  /** True once the server took the message (its answer to the final `.`). */
  get accepted(): boolean {
    return this.#accepted;
  }

  /** The command (or stage) now waiting for an answer, for error messages. */
  get waitingFor(): string {
    switch (this.#stage) {
      case "greeting":
        return "the greeting";
      case "ehlo":
        return "EHLO";
      case "helo":
        return "HELO";
      case "mail":
        return "MAIL FROM";
      case "rcpt":
        return `RCPT TO:<${this.#to[this.#rcpt]}>`;
      case "data":
        return "DATA";
      case "message":
        return "the message";
      default:
        return "QUIT";
    }
  }

  /**
   * @param r the server's reply
   * @returns what to do next
   * @example A server that refuses the recipient
   * ```ts
   * import assert from "node:assert/strict";
   * import { SmtpSession } from "./smtp.ts";
   *
   * const s = new SmtpSession({ helo: "h", from: "a@x", to: ["b@y"], message: "" });
   * s.reply({ code: 220, lines: [""] }), s.reply({ code: 250, lines: [""] }), s.reply({ code: 250, lines: [""] });
   * const t = s.reply({ code: 550, lines: ["5.1.1 no such user"] });
   * assert.equal(t.kind, "failed");
   * assert.equal(t.kind === "failed" && t.error.message, "The server answered 550 to RCPT TO:<b@y>: 5.1.1 no such user");
   * ```
   */
  reply(r: SmtpReply): SmtpTurn {
    const ok = (...codes: number[]) => codes.includes(r.code);
    const refuse = (): SmtpTurn => {
      const said = r.lines.join(" ").trim();
      const error = new SmtpError(
        `The server answered ${r.code} to ${this.waitingFor}${said ? `: ${said}` : ""}`,
        r.code,
      );
      this.#stage = "over";
      return { kind: "failed", error, send: "QUIT\r\n" };
    };
    switch (this.#stage) {
      case "greeting":
        if (!ok(220)) return refuse();
        this.#stage = "ehlo";
        return { kind: "send", text: `EHLO ${this.#helo}\r\n` };
      case "ehlo":
        if (ok(250)) return this.#mailFrom();
        // RFC 5321 §3.2: a server that does not know EHLO gets HELO
        if (r.code >= 500 && r.code < 600) {
          this.#stage = "helo";
          return { kind: "send", text: `HELO ${this.#helo}\r\n` };
        }
        return refuse();
      case "helo":
        return ok(250) ? this.#mailFrom() : refuse();
      case "mail":
        if (!ok(250)) return refuse();
        this.#stage = "rcpt";
        return { kind: "send", text: `RCPT TO:<${this.#to[0]}>\r\n` };
      case "rcpt":
        if (!ok(250, 251)) return refuse();
        this.#rcpt++;
        if (this.#rcpt < this.#to.length) {
          return { kind: "send", text: `RCPT TO:<${this.#to[this.#rcpt]}>\r\n` };
        }
        this.#stage = "data";
        return { kind: "send", text: "DATA\r\n" };
      case "data":
        if (!ok(354)) return refuse();
        this.#stage = "message";
        return { kind: "send", text: dotStuff(this.#message) };
      case "message":
        if (!ok(250)) return refuse();
        this.#accepted = true;
        this.#stage = "quit";
        return { kind: "send", text: "QUIT\r\n" };
      case "quit":
        this.#stage = "over";
        return { kind: "done" };
      default:
        return this.#accepted ? { kind: "done" } : refuse();
    }
  }

  #mailFrom(): SmtpTurn {
    this.#stage = "mail";
    return { kind: "send", text: `MAIL FROM:<${this.#from}>\r\n` };
  }
}

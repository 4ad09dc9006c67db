/**
 * Mail for `--mailTo` (pure): the RFC 5322 message text, SMTP reply parsing, and the client side of
 * the SMTP dialogue (RFC 5321: greeting, EHLO or HELO, MAIL FROM, RCPT TO, DATA, QUIT) as a state
 * machine that is fed replies and answers with the next command. `adapters/mail.ts` owns the
 * socket, the timeout and the queue.
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

/** A mail to send. */
export interface MailMessage {
  /** Envelope and `From:` address. */
  from: string;
  /** Recipients (envelope and `To:`). */
  to: string[];
  subject: string;
  /** Plain text; any newline style. */
  body: string;
  /** The `Date:` header (passed in: this module has no clock). */
  date: Date;
  /** A `Message-ID` such as `<uuid@host>`; omitted when not given. */
  messageId?: string;
}

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

const encoder = new TextEncoder();
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** RFC 5322 §2.1.1: a line is at most 998 characters plus CRLF. */
const MAX_LINE = 998;
/** Largest reply text we buffer before giving up (a sane server sends a few hundred bytes). */
const MAX_REPLY = 64 * 1024;

/**
 * The RFC 5322 date of `d`, in UTC.
 * @param d the time
 * @returns e.g. `Thu, 01 Jan 1970 00:00:00 +0000`
 * @throws {RangeError} for an invalid date
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatMailDate } from "./smtp.ts";
 *
 * assert.equal(formatMailDate(new Date(Date.UTC(2026, 6, 4, 9, 5, 3))), "Sat, 04 Jul 2026 09:05:03 +0000");
 * ```
 */
export function formatMailDate(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new RangeError("Cannot format an invalid date");
  const p = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]}, ${p(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/**
 * Split a `--mailTo` value into addresses and check each one.
 * @param text one address, or several separated by commas or spaces
 * @returns the addresses
 * @throws {TypeError} when there is none, or one holds `<`, `>`, quotes or control characters
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRecipients } from "./smtp.ts";
 *
 * assert.deepEqual(parseRecipients("a@x.org, b@y.org"), ["a@x.org", "b@y.org"]);
 * ```
 */
export function parseRecipients(text: string): string[] {
  const list = text.split(/[\s,]+/).filter(Boolean);
  if (list.length === 0) throw new TypeError("No mail address given");
  for (const a of list) checkAddress(a);
  return list;
}

/**
 * Check one address can go into `MAIL FROM:<…>`/`RCPT TO:<…>` and a header unharmed.
 * @param address e.g. `me@example.org` (a bare local user such as `me` is accepted too)
 * @throws {TypeError} when it cannot
 */
export function checkAddress(address: string): void {
  // deno-lint-ignore no-control-regex
  if (address.length === 0 || address.length > 254 || /[\s<>"()\\,;\x00-\x1f\x7f]/.test(address)) {
    throw new TypeError(`Bad mail address "${address.slice(0, 80)}": expected something like user@host`);
  }
}

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

function isAscii(s: string): boolean {
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(s);
}

function base64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** RFC 2047 encoded words of at most 45 bytes each (60 characters of base64). */
function encodedWords(text: string): string[] {
  const words: string[] = [];
  let chunk = "";
  let bytes = 0;
  for (const ch of text) {
    const n = encoder.encode(ch).length;
    if (bytes + n > 45) {
      words.push(`=?UTF-8?B?${base64(encoder.encode(chunk))}?=`);
      chunk = "";
      bytes = 0;
    }
    chunk += ch;
    bytes += n;
  }
  if (chunk) words.push(`=?UTF-8?B?${base64(encoder.encode(chunk))}?=`);
  return words;
}

/** `Name: value`, folded at spaces so that lines stay short (RFC 5322 §2.2.3). */
function header(name: string, value: string): string {
  // deno-lint-ignore no-control-regex
  const flat = value.replace(/[\r\n\t\x00-\x1f\x7f]+/g, " ");
  const words = isAscii(flat) ? flat.split(" ") : encodedWords(flat);
  const lines: string[] = [];
  let line = `${name}:`;
  for (const w of words) {
    if (line.length + 1 + w.length > 78 && line.length > name.length + 1) {
      lines.push(line);
      line = "";
    }
    line += ` ${w}`;
  }
  lines.push(line);
  return lines.map((l) => l.length > MAX_LINE ? l.slice(0, MAX_LINE) : l).join("\r\n");
}

/**
 * The message text (headers, blank line, body) with CRLF line ends. An ASCII body goes as 7bit
 * text with lines cut at 998 characters; any other body as base64, so that no server needs
 * 8BITMIME. A non-ASCII subject becomes RFC 2047 encoded words.
 * @param m the mail
 * @returns the text to send after `DATA` (before dot-stuffing)
 * @throws {TypeError} for a bad address
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildMessage } from "./smtp.ts";
 *
 * const text = buildMessage({ from: "a@x", to: ["b@y"], subject: "hi", body: "one\ntwo", date: new Date(0) });
 * assert.ok(text.startsWith("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\nFrom: a@x\r\nTo: b@y\r\nSubject: hi\r\n"));
 * assert.ok(text.endsWith("\r\n\r\none\r\ntwo\r\n"));
 * ```
 */
export function buildMessage(m: MailMessage): string {
  checkAddress(m.from);
  if (m.to.length === 0) throw new TypeError("A mail needs at least one recipient");
  for (const a of m.to) checkAddress(a);
  const head = [
    header("Date", formatMailDate(m.date)),
    header("From", m.from),
    header("To", m.to.join(", ")),
    header("Subject", m.subject),
  ];
  if (m.messageId) head.push(header("Message-ID", m.messageId));
  head.push("MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8");
  const text = m.body.replace(/\r\n?/g, "\n").replace(/\n$/, "");
  let body: string[];
  if (isAscii(text)) {
    head.push("Content-Transfer-Encoding: 7bit");
    body = [];
    for (const line of text.split("\n")) {
      if (line.length === 0) body.push("");
      for (let i = 0; i < line.length; i += MAX_LINE) body.push(line.slice(i, i + MAX_LINE));
    }
  } else {
    head.push("Content-Transfer-Encoding: base64");
    const b64 = base64(encoder.encode(text.replaceAll("\n", "\r\n")));
    body = b64.match(/.{1,76}/g) ?? [];
  }
  head.push("X-Mailer: disbatch");
  return `${head.join("\r\n")}\r\n\r\n${body.join("\r\n")}${body.length ? "\r\n" : ""}`;
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

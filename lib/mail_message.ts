/**
 * The text of a `--mailTo` mail (RFC 5322), pure: recipients split and checked, the date in UTC,
 * headers folded (a non-ASCII subject as RFC 2047 encoded words), and the body as 7bit text or
 * base64. The SMTP dialogue that sends it is `./smtp.ts`, which re-exports this module.
 *
 * @example A short mail
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildMessage, parseRecipients } from "./mail_message.ts";
 *
 * const to = parseRecipients("you@example.org");
 * const text = buildMessage({ from: "me@n001", to, subject: "disbatch: done", body: "ok\n", date: new Date(0) });
 * assert.match(text, /^Date: Thu, 01 Jan 1970 00:00:00 \+0000\r\nFrom: me@n001\r\nTo: you@example.org\r\n/);
 * assert.ok(text.endsWith("X-Mailer: disbatch\r\n\r\nok\r\n"));
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

const encoder = new TextEncoder();
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** RFC 5322 §2.1.1: a line is at most 998 characters plus CRLF. */
const MAX_LINE = 998;

/**
 * The RFC 5322 date of `d`, in UTC.
 * @param d the time
 * @returns e.g. `Thu, 01 Jan 1970 00:00:00 +0000`
 * @throws {RangeError} for an invalid date
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatMailDate } from "./mail_message.ts";
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
 * import { parseRecipients } from "./mail_message.ts";
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
 * import { buildMessage } from "./mail_message.ts";
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

import assert from "node:assert/strict";
import * as smtp from "../../lib/smtp.ts";
import {
  buildMessage,
  checkAddress,
  formatMailDate,
  type MailMessage,
  parseRecipients,
} from "../../lib/mail_message.ts";

const mail = (over: Partial<MailMessage> = {}): MailMessage => ({
  from: "me@n001",
  to: ["you@example.org"],
  subject: "disbatch: done",
  body: "ok\n",
  date: new Date(0),
  ...over,
});

/** The header lines of a message (folded lines joined back). */
function headers(text: string): string[] {
  return text.slice(0, text.indexOf("\r\n\r\n")).replaceAll("\r\n ", " ").split("\r\n");
}

function body(text: string): string {
  return text.slice(text.indexOf("\r\n\r\n") + 4);
}

Deno.test("mail_message: lib/smtp.ts re-exports the message builders", () => {
  assert.equal(smtp.buildMessage, buildMessage);
  assert.equal(smtp.checkAddress, checkAddress);
  assert.equal(smtp.formatMailDate, formatMailDate);
  assert.equal(smtp.parseRecipients, parseRecipients);
});

Deno.test("formatMailDate() writes the day, date and time in UTC", () => {
  const cases: [Date, string][] = [
    [new Date(0), "Thu, 01 Jan 1970 00:00:00 +0000"],
    [new Date(Date.UTC(2026, 11, 31, 23, 59, 59)), "Thu, 31 Dec 2026 23:59:59 +0000"],
    [new Date(Date.UTC(2024, 1, 29, 7, 8, 9)), "Thu, 29 Feb 2024 07:08:09 +0000"],
  ];
  for (const [d, want] of cases) assert.equal(formatMailDate(d), want);
  assert.throws(() => formatMailDate(new Date(NaN)), RangeError);
});

Deno.test("checkAddress() accepts what fits in an envelope and a header, nothing else", () => {
  const cases: [string, boolean][] = [
    ["me@example.org", true],
    ["me", true],
    ["first.last+tag@sub.example.org", true],
    ["a".repeat(254), true],
    ["a".repeat(255), false],
    ["", false],
    ["a b@x", false],
    ["<a@x>", false],
    ['"a"@x', false],
    ["a@x,b@y", false],
    ["a@x;", false],
    ["a\r\nBcc: c@z", false],
    ["a\x7f@x", false],
  ];
  for (const [address, ok] of cases) {
    if (ok) checkAddress(address);
    else {assert.throws(
        () => checkAddress(address),
        /Bad mail address "[^]*": expected something like user@host$/,
        address,
      );}
  }
});

Deno.test("parseRecipients() splits on commas and white space", () => {
  const cases: [string, string[] | RegExp][] = [
    ["a@x", ["a@x"]],
    ["a@x,b@y", ["a@x", "b@y"]],
    [" a@x ,\tb@y  c@z, ", ["a@x", "b@y", "c@z"]],
    ["", /No mail address given/],
    [" , ", /No mail address given/],
    ["a@x, <b@y>", /Bad mail address "<b@y>"/],
  ];
  for (const [text, want] of cases) {
    if (want instanceof RegExp) assert.throws(() => parseRecipients(text), want, text);
    else assert.deepEqual(parseRecipients(text), want, text);
  }
});

Deno.test("buildMessage() writes the headers in order", () => {
  const cases: [Partial<MailMessage>, string[]][] = [
    [{}, [
      "Date: Thu, 01 Jan 1970 00:00:00 +0000",
      "From: me@n001",
      "To: you@example.org",
      "Subject: disbatch: done",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 7bit",
      "X-Mailer: disbatch",
    ]],
    [{ to: ["a@x", "b@y"], messageId: "<1@n001>" }, [
      "Date: Thu, 01 Jan 1970 00:00:00 +0000",
      "From: me@n001",
      "To: a@x, b@y",
      "Subject: disbatch: done",
      "Message-ID: <1@n001>",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 7bit",
      "X-Mailer: disbatch",
    ]],
  ];
  for (const [over, want] of cases) assert.deepEqual(headers(buildMessage(mail(over))), want);
});

Deno.test("buildMessage() flattens, folds and encodes the subject", () => {
  const subject = (s: string) => headers(buildMessage(mail({ subject: s })))[3]!;
  const cases: [string, string][] = [
    ["done", "Subject: done"],
    ["a\r\nBcc: evil@x", "Subject: a Bcc: evil@x"],
    ["tab\there", "Subject: tab here"],
    ["é", "Subject: =?UTF-8?B?w6k=?="],
  ];
  for (const [s, want] of cases) assert.equal(subject(s), want, JSON.stringify(s));
  const long = buildMessage(mail({ subject: Array(30).fill("word").join(" ") }));
  for (const line of long.split("\r\n")) assert.ok(line.length <= 78, line);
  const utf = buildMessage(mail({ subject: "ü".repeat(40) }));
  const words = headers(utf)[3]!.slice("Subject: ".length).split(" ");
  assert.ok(
    words.length > 1 && words.every((w) => /^=\?UTF-8\?B\?[A-Za-z0-9+/=]{1,60}\?=$/.test(w)),
    words.join(),
  );
  const decoded = words.map((w) =>
    new TextDecoder().decode(Uint8Array.from(atob(w.slice(10, -2)), (c) => c.charCodeAt(0)))
  );
  assert.equal(decoded.join(""), "ü".repeat(40));
});

Deno.test("buildMessage() writes the body with CRLF, 7bit when it can, else base64", () => {
  const cases: [string, string, string][] = [
    ["ok\n", "7bit", "ok\r\n"],
    ["one\r\ntwo\rthree", "7bit", "one\r\ntwo\r\nthree\r\n"],
    ["a\n\nb\n", "7bit", "a\r\n\r\nb\r\n"],
    ["", "7bit", "\r\n"],
    ["x".repeat(1000), "7bit", `${"x".repeat(998)}\r\nxx\r\n`],
    ["é\n", "base64", "w6k=\r\n"],
    ["ü\nü", "base64", `${btoa("\xc3\xbc\r\n\xc3\xbc")}\r\n`],
  ];
  for (const [text, encoding, want] of cases) {
    const m = buildMessage(mail({ body: text }));
    assert.ok(headers(m).includes(`Content-Transfer-Encoding: ${encoding}`), JSON.stringify(text));
    assert.equal(body(m), want, JSON.stringify(text));
  }
  const b64 = body(buildMessage(mail({ body: "é".repeat(100) })));
  assert.ok(b64.split("\r\n").every((l) => l.length <= 76));
});

Deno.test("buildMessage() refuses a bad envelope", () => {
  const cases: [Partial<MailMessage>, RegExp][] = [
    [{ from: "a b" }, /Bad mail address "a b"/],
    [{ to: [] }, /at least one recipient/],
    [{ to: ["ok@x", "<bad>"] }, /Bad mail address "<bad>"/],
  ];
  for (const [over, want] of cases) assert.throws(() => buildMessage(mail(over)), want);
});

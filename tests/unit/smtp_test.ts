import assert from "node:assert/strict";
import {
  buildMessage,
  checkAddress,
  dotStuff,
  formatMailDate,
  type MailMessage,
  parseRecipients,
  parseSmtpServer,
  SmtpError,
  type SmtpReply,
  SmtpReplyReader,
  SmtpSession,
  type SmtpTurn,
} from "../../lib/smtp.ts";

const DATE = new Date(Date.UTC(2026, 10, 25, 17, 50, 1));

function mail(over: Partial<MailMessage> = {}): MailMessage {
  return {
    from: "me@n001",
    to: ["you@example.org"],
    subject: "disbatch",
    body: "hello\n",
    date: DATE,
    ...over,
  };
}

/** Headers and decoded body of a built message. */
function parts(text: string): { headers: string[]; body: string } {
  const i = text.indexOf("\r\n\r\n");
  return { headers: text.slice(0, i).split("\r\n"), body: text.slice(i + 4) };
}

const reply = (code: number, ...lines: string[]): SmtpReply => ({ code, lines: lines.length ? lines : [""] });

Deno.test("formatMailDate() writes RFC 5322 dates in UTC", () => {
  const cases: [Date, string][] = [
    [new Date(0), "Thu, 01 Jan 1970 00:00:00 +0000"],
    [DATE, "Wed, 25 Nov 2026 17:50:01 +0000"],
    [new Date(Date.UTC(2024, 1, 29, 23, 59, 59)), "Thu, 29 Feb 2024 23:59:59 +0000"],
  ];
  for (const [d, s] of cases) assert.equal(formatMailDate(d), s);
  assert.throws(() => formatMailDate(new Date(NaN)), RangeError);
});

Deno.test("parseRecipients() splits on commas and spaces and rejects bad addresses", () => {
  assert.deepEqual(parseRecipients("a@x.org"), ["a@x.org"]);
  assert.deepEqual(parseRecipients(" a@x.org,b@y.org  c "), ["a@x.org", "b@y.org", "c"]);
  for (const bad of ["", " , ", "a@x>\r\nRCPT TO:<evil@z", "<a@x>", "a\x00@x", '"a"@x']) {
    assert.throws(() => parseRecipients(bad), TypeError, JSON.stringify(bad));
  }
  assert.throws(() => checkAddress("x".repeat(255)), TypeError);
});

Deno.test("parseSmtpServer() reads DISBATCH_SMTP", () => {
  const cases: [string | undefined, { host: string; port: number }][] = [
    [undefined, { host: "localhost", port: 25 }],
    ["", { host: "localhost", port: 25 }],
    ["mail.example.org", { host: "mail.example.org", port: 25 }],
    ["mail.example.org:587", { host: "mail.example.org", port: 587 }],
    ["127.0.0.1:2525", { host: "127.0.0.1", port: 2525 }],
    ["[::1]:2525", { host: "::1", port: 2525 }],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseSmtpServer(text), want, String(text));
  for (const bad of ["host:", "host:0", "host:70000", "a b:25", ":25", "host:x"]) {
    assert.throws(() => parseSmtpServer(bad), TypeError, bad);
  }
});

Deno.test("buildMessage() writes the headers and a 7bit body with CRLF", () => {
  const text = buildMessage(mail({ body: "one\r\ntwo\n\nthree\n", messageId: "<id1@n001>" }));
  assert.equal(
    text,
    [
      "Date: Wed, 25 Nov 2026 17:50:01 +0000",
      "From: me@n001",
      "To: you@example.org",
      "Subject: disbatch",
      "Message-ID: <id1@n001>",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 7bit",
      "X-Mailer: disbatch",
      "",
      "one",
      "two",
      "",
      "three",
      "",
    ].join("\r\n"),
  );
});

Deno.test("buildMessage() lists every recipient in To", () => {
  const { headers } = parts(buildMessage(mail({ to: ["a@x", "b@y"] })));
  assert.ok(headers.includes("To: a@x, b@y"));
});

Deno.test("buildMessage() keeps header injection out of the subject", () => {
  const { headers } = parts(buildMessage(mail({ subject: "done\r\nBcc: evil@z\r\n\r\nbody" })));
  assert.equal(headers.filter((h) => h.startsWith("Bcc")).length, 0);
  assert.ok(headers.includes("Subject: done Bcc: evil@z body"));
});

Deno.test("buildMessage() folds a long subject at spaces", () => {
  const subject = Array.from({ length: 30 }, (_, i) => `word${i}`).join(" ");
  const { headers } = parts(buildMessage(mail({ subject })));
  const start = headers.findIndex((h) => h.startsWith("Subject:"));
  const folded = [headers[start]!];
  for (let i = start + 1; headers[i]!.startsWith(" "); i++) folded.push(headers[i]!);
  assert.ok(folded.length > 1);
  assert.ok(folded.every((l) => l.length <= 78));
  assert.equal(folded.join("").replace(/^Subject: /, ""), subject);
});

Deno.test("buildMessage() encodes a non-ASCII subject and body", () => {
  const text = buildMessage(mail({ subject: "tâches terminées ✓", body: "Résumé: 10 tâches\n" }));
  assert.ok([...text].every((c) => c.charCodeAt(0) < 0x80), "the message is pure ASCII");
  const { headers, body } = parts(text);
  const subject = headers.filter((h, i) => h.startsWith("Subject:") || (i > 0 && h.startsWith(" ")))
    .join("").replace(/^Subject:/, "").trim().split(/\s+/);
  const decoded = subject.map((w) => {
    const m = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=$/.exec(w)!;
    return new TextDecoder().decode(Uint8Array.from(atob(m[1]!), (c) => c.charCodeAt(0)));
  }).join("");
  assert.equal(decoded, "tâches terminées ✓");
  assert.ok(headers.includes("Content-Transfer-Encoding: base64"));
  const bytes = Uint8Array.from(atob(body.replaceAll("\r\n", "")), (c) => c.charCodeAt(0));
  assert.equal(new TextDecoder().decode(bytes), "Résumé: 10 tâches");
});

Deno.test("buildMessage() cuts lines longer than 998 characters", () => {
  const { body } = parts(buildMessage(mail({ body: "x".repeat(2500) })));
  assert.deepEqual(body.split("\r\n").map((l) => l.length), [998, 998, 504, 0]);
});

Deno.test("buildMessage() refuses bad addresses", () => {
  assert.throws(() => buildMessage(mail({ from: "a b" })), TypeError);
  assert.throws(() => buildMessage(mail({ to: [] })), TypeError);
  assert.throws(() => buildMessage(mail({ to: ["x>"] })), TypeError);
});

Deno.test("dotStuff() doubles leading dots and ends with CRLF . CRLF", () => {
  const cases: [string, string][] = [
    ["", ".\r\n"],
    ["a\r\n", "a\r\n.\r\n"],
    ["a", "a\r\n.\r\n"],
    [".", "..\r\n.\r\n"],
    ["a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"],
    ["..x\r\n.y", "...x\r\n..y\r\n.\r\n"],
    ["a.b\r\n", "a.b\r\n.\r\n"],
    ["a\n.b\n", "a\r\n..b\r\n.\r\n"],
  ];
  for (const [input, want] of cases) assert.equal(dotStuff(input), want, JSON.stringify(input));
});

Deno.test("SmtpReplyReader reads single and multi-line replies in any pieces", () => {
  const text = "220 mx ESMTP\r\n250-mx\r\n250-PIPELINING\r\n250 8BITMIME\r\n354 go on\n221\r\n";
  const want: SmtpReply[] = [
    { code: 220, lines: ["mx ESMTP"] },
    { code: 250, lines: ["mx", "PIPELINING", "8BITMIME"] },
    { code: 354, lines: ["go on"] },
    { code: 221, lines: [""] },
  ];
  for (let cut = 0; cut <= text.length; cut++) {
    const r = new SmtpReplyReader();
    assert.deepEqual([...r.push(text.slice(0, cut)), ...r.push(text.slice(cut))], want, `cut ${cut}`);
  }
});

Deno.test("SmtpReplyReader rejects what is not SMTP", () => {
  assert.throws(() => new SmtpReplyReader().push("HTTP/1.1 400 Bad Request\r\n"), SmtpError);
  assert.throws(() => new SmtpReplyReader().push("x".repeat(70_000)), SmtpError);
});

/** Play a dialogue: feed the replies and collect what the client writes. */
function play(session: SmtpSession, replies: SmtpReply[]): SmtpTurn[] {
  return replies.map((r) => session.reply(r));
}

Deno.test("SmtpSession walks EHLO, MAIL, RCPT (each), DATA, message, QUIT", () => {
  const message = buildMessage(mail({ to: ["a@x", "b@y"], body: ".hidden\n" }));
  const s = new SmtpSession({ helo: "n001", from: "me@n001", to: ["a@x", "b@y"], message });
  const turns = play(s, [
    reply(220),
    reply(250, "mx", "8BITMIME"),
    reply(250),
    reply(250),
    reply(251),
    reply(354),
  ]);
  assert.deepEqual(turns.map((t) => t.kind === "send" ? t.text : t.kind), [
    "EHLO n001\r\n",
    "MAIL FROM:<me@n001>\r\n",
    "RCPT TO:<a@x>\r\n",
    "RCPT TO:<b@y>\r\n",
    "DATA\r\n",
    dotStuff(message),
  ]);
  assert.ok((turns[5] as { text: string }).text.includes("\r\n..hidden\r\n"));
  assert.equal(s.accepted, false);
  assert.deepEqual(s.reply(reply(250, "queued")), { kind: "send", text: "QUIT\r\n" });
  assert.equal(s.accepted, true);
  assert.deepEqual(s.reply(reply(221)), { kind: "done" });
});

Deno.test("SmtpSession falls back to HELO when EHLO is not known", () => {
  const s = new SmtpSession({ helo: "n001", from: "me@n001", to: ["a@x"], message: "" });
  const turns = play(s, [reply(220), reply(502, "command not implemented"), reply(250)]);
  assert.deepEqual(turns.map((t) => t.kind === "send" ? t.text : t.kind), [
    "EHLO n001\r\n",
    "HELO n001\r\n",
    "MAIL FROM:<me@n001>\r\n",
  ]);
});

Deno.test("SmtpSession gives up on an unexpected code and says where", () => {
  const cases: [SmtpReply[], string][] = [
    [[reply(554, "no service")], "The server answered 554 to the greeting: no service"],
    [[reply(220), reply(421, "busy")], "The server answered 421 to EHLO: busy"],
    [[reply(220), reply(500), reply(501, "bad name")], "The server answered 501 to HELO: bad name"],
    [
      [reply(220), reply(250), reply(553, "sender rejected")],
      "The server answered 553 to MAIL FROM: sender rejected",
    ],
    [
      [reply(220), reply(250), reply(250), reply(550, "5.1.1", "no such user")],
      "The server answered 550 to RCPT TO:<a@x>: 5.1.1 no such user",
    ],
    [[reply(220), reply(250), reply(250), reply(250), reply(451)], "The server answered 451 to DATA"],
    [
      [reply(220), reply(250), reply(250), reply(250), reply(354), reply(552, "too big")],
      "The server answered 552 to the message: too big",
    ],
  ];
  for (const [replies, message] of cases) {
    const s = new SmtpSession({ helo: "h", from: "me@n001", to: ["a@x"], message: "" });
    const last = play(s, replies).at(-1)!;
    assert.equal(last.kind, "failed", message);
    if (last.kind !== "failed") continue;
    assert.equal(last.error.message, message);
    assert.equal(last.error.code, replies.at(-1)!.code);
    assert.equal(last.send, "QUIT\r\n");
    assert.equal(s.accepted, false);
  }
});

Deno.test("SmtpSession cleans the EHLO name and checks the envelope", () => {
  const s = new SmtpSession({ helo: "bad name\r\n", from: "me@n001", to: ["a@x"], message: "" });
  assert.deepEqual(s.reply(reply(220)), { kind: "send", text: "EHLO badname\r\n" });
  assert.throws(() => new SmtpSession({ helo: "h", from: "me@n001", to: [], message: "" }), TypeError);
  assert.throws(() => new SmtpSession({ helo: "h", from: "<me>", to: ["a@x"], message: "" }), TypeError);
});

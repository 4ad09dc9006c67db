/**
 * `Mailer` against a real SMTP server side written here (Deno.listen on 127.0.0.1:0), and against
 * servers that refuse, are absent, or never answer.
 */
import assert from "node:assert/strict";
import { Mailer, mailServer } from "../../adapters/mail.ts";
import { smtpServer } from "../helpers/smtp_server.ts";

/** A port nothing listens on. */
function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function recorder() {
  const info: string[] = [];
  const warn: string[] = [];
  return { info, warn, log: { info: (m: string) => info.push(m), warn: (m: string) => warn.push(m) } };
}

/** Milliseconds `f` takes. */
function timed(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

const header = (data: string, name: string) => new RegExp(`^${name}: (.*)$`, "m").exec(data)?.[1];

Deno.test("Mailer sends two mails, one at a time, with envelope, headers and body", async () => {
  const server = smtpServer();
  try {
    const r = recorder();
    const m = new Mailer({
      to: "alice@example.org, bob@example.org",
      from: "run@n001",
      host: "127.0.0.1",
      port: server.port,
      log: r.log,
    });
    const spent = timed(() => {
      m.notify("disbatch: 10 tasks done", "10 finished, 1 failed\n.starts with a dot\n");
      m.notify("disbatch: run over", "20 finished");
    });
    assert.ok(spent < 50, `notify returned after ${spent} ms`);
    await m.close();
    assert.deepEqual(r.warn, []);
    assert.equal(r.info.length, 2);
    assert.match(
      r.info[0]!,
      /^Mail "disbatch: 10 tasks done" sent to alice@example.org, bob@example.org through 127\.0\.0\.1:\d+$/,
    );
    assert.equal(server.mails.length, 2);
    const [a, b] = server.mails;
    for (const mail of [a!, b!]) {
      assert.equal(mail.from, "run@n001");
      assert.deepEqual(mail.to, ["alice@example.org", "bob@example.org"]);
      assert.ok(mail.helo.length > 0);
      assert.equal(header(mail.data, "From"), "run@n001");
      assert.equal(header(mail.data, "To"), "alice@example.org, bob@example.org");
      assert.match(header(mail.data, "Date")!, /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
      assert.match(header(mail.data, "Message-ID")!, /^<[0-9a-f-]{36}@.+>$/);
    }
    assert.equal(header(a!.data, "Subject"), "disbatch: 10 tasks done");
    assert.ok(
      a!.data.endsWith("\r\n\r\n10 finished, 1 failed\r\n.starts with a dot\r\n"),
      JSON.stringify(a!.data),
    );
    assert.equal(header(b!.data, "Subject"), "disbatch: run over");
    assert.ok(b!.data.endsWith("\r\n\r\n20 finished\r\n"));
  } finally {
    await server.close();
  }
});

Deno.test("Mailer falls back to HELO", async () => {
  const server = smtpServer("noEhlo");
  try {
    const r = recorder();
    const m = new Mailer({ to: "a@x", from: "me@n001", host: "127.0.0.1", port: server.port, log: r.log });
    m.notify("s", "b");
    await m.close();
    assert.deepEqual(r.warn, []);
    assert.equal(server.mails.length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("Mailer keeps at most 5 mails waiting and drops the oldest", async () => {
  const server = smtpServer();
  try {
    const r = recorder();
    const m = new Mailer({ to: "a@x", from: "me@n001", host: "127.0.0.1", port: server.port, log: r.log });
    for (let i = 1; i <= 8; i++) m.notify(`mail ${i}`, `body ${i}`);
    await m.close();
    assert.deepEqual(r.warn, []);
    // mail 1 is in flight at once; 2 and 3 are pushed out by 4..8
    assert.deepEqual(server.mails.map((x) => header(x.data, "Subject")), [
      "mail 1",
      "mail 4",
      "mail 5",
      "mail 6",
      "mail 7",
      "mail 8",
    ]);
    assert.match(r.info[0]!, /"mail 1".*\(2 older notification\(s\) dropped while mail was busy\)$/);
    assert.ok(r.info.slice(1).every((l) => !l.includes("dropped")));
    assert.equal(server.maxConns, 1, "one mail in flight at a time");
  } finally {
    await server.close();
  }
});

Deno.test("Mailer with nothing listening: one warning, notify returns at once, mail then off", async () => {
  const port = closedPort();
  const r = recorder();
  const m = new Mailer({ to: "a@x", from: "me@n001", host: "127.0.0.1", port, log: r.log });
  const spent = timed(() => {
    for (let i = 0; i < 20; i++) m.notify(`mail ${i}`, "body");
  });
  assert.ok(spent < 50, `notify x20 took ${spent} ms`);
  const deadline = Date.now() + 5000;
  while (r.warn.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  assert.equal(r.warn.length, 1);
  assert.match(
    r.warn[0]!,
    new RegExp(
      `^Cannot send mail through 127\\.0\\.0\\.1:${port} \\(.*refused.*\\); mail notifications are off`,
      "i",
    ),
  );
  assert.equal(m.enabled, false);
  assert.doesNotThrow(() => m.notify("later", "body"));
  await m.close();
  assert.equal(r.warn.length, 1, "the failure is reported once");
  assert.deepEqual(r.info, []);
});

Deno.test("Mailer gives up on a server that never answers after the timeout", async () => {
  const server = smtpServer("silent");
  try {
    const r = recorder();
    const m = new Mailer({
      to: "a@x",
      from: "me@n001",
      host: "127.0.0.1",
      port: server.port,
      log: r.log,
      timeoutMs: 300,
    });
    m.notify("one", "b");
    m.notify("two", "b");
    const t0 = performance.now();
    await m.close();
    const waited = performance.now() - t0;
    assert.ok(waited < 2000, `close waited ${waited} ms`);
    assert.equal(r.warn.length, 1);
    assert.match(r.warn[0]!, /no answer within 0\.3 s \(waiting for the greeting\)/);
  } finally {
    await server.close();
  }
});

Deno.test("Mailer reports a refused recipient once", async () => {
  const server = smtpServer("rejectRcpt");
  try {
    const r = recorder();
    const m = new Mailer({
      to: "nobody@x",
      from: "me@n001",
      host: "127.0.0.1",
      port: server.port,
      log: r.log,
    });
    m.notify("one", "b");
    m.notify("two", "b");
    await m.close();
    assert.equal(r.warn.length, 1);
    assert.match(r.warn[0]!, /The server answered 550 to RCPT TO:<nobody@x>: 5\.1\.1 no such user here/);
    assert.equal(server.mails.length, 0);
  } finally {
    await server.close();
  }
});

Deno.test("Mailer refuses a malformed address up front; mailServer() reads DISBATCH_SMTP", () => {
  const log = recorder().log;
  assert.throws(() => new Mailer({ to: "a@x>", host: "h", port: 25, log }), TypeError);
  assert.deepEqual(mailServer({}), { host: "localhost", port: 25 });
  assert.deepEqual(mailServer({ DISBATCH_SMTP: "smtp.example.org:2525" }), {
    host: "smtp.example.org",
    port: 2525,
  });
});

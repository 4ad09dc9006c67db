/**
 * A tiny SMTP server for tests (Deno.listen on 127.0.0.1:0) that records every mail; modes make it
 * silent, refuse recipients or refuse EHLO.
 *
 * @module
 */

/** What the test server received in one transaction. */
export interface Received {
  helo: string;
  from: string;
  to: string[];
  /** The message after un-dot-stuffing, CRLF line ends. */
  data: string;
}

export type Mode = "ok" | "silent" | "rejectRcpt" | "noEhlo";

/** A tiny SMTP server: one connection at a time is enough for the Mailer. */
export function smtpServer(mode: Mode = "ok") {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const mails: Received[] = [];
  const conns = new Set<Deno.Conn>();
  const handlers: Promise<void>[] = [];
  let maxConns = 0;
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      maxConns = Math.max(maxConns, conns.size);
      handlers.push(
        serve(conn).catch(() => {}).finally(() => {
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* closed */ }
        }),
      );
    }
  })();

  async function serve(conn: Deno.Conn): Promise<void> {
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    const say = async (s: string) => {
      await conn.write(enc.encode(s));
    };
    let buf = "";
    const buffer = new Uint8Array(4096);
    const readUntil = async (end: string): Promise<string | undefined> => {
      for (;;) {
        const i = buf.indexOf(end);
        if (i >= 0) {
          const s = buf.slice(0, i);
          buf = buf.slice(i + end.length);
          return s;
        }
        const n = await conn.read(buffer);
        if (n === null) return undefined;
        buf += dec.decode(buffer.subarray(0, n));
      }
    };
    if (mode === "silent") {
      await readUntil("\r\n"); // wait for the client to give up
      return;
    }
    await say("220 test.local ESMTP ready\r\n");
    const cur: Received = { helo: "", from: "", to: [], data: "" };
    for (;;) {
      const line = await readUntil("\r\n");
      if (line === undefined) return;
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === "EHLO") {
        if (mode === "noEhlo") await say("502 5.5.2 EHLO not implemented\r\n");
        else {
          cur.helo = line.slice(5);
          await say("250-test.local\r\n250-SIZE 1000000\r\n250 8BITMIME\r\n");
        }
      } else if (verb === "HELO") {
        cur.helo = line.slice(5);
        await say("250 test.local\r\n");
      } else if (verb === "MAIL") {
        cur.from = /<(.*)>/.exec(line)![1]!;
        await say("250 2.1.0 ok\r\n");
      } else if (verb === "RCPT") {
        if (mode === "rejectRcpt") await say("550 5.1.1 no such user here\r\n");
        else {
          cur.to.push(/<(.*)>/.exec(line)![1]!);
          await say("250 2.1.5 ok\r\n");
        }
      } else if (verb === "DATA") {
        await say("354 end with <CRLF>.<CRLF>\r\n");
        const raw = await readUntil("\r\n.\r\n");
        if (raw === undefined) return;
        cur.data = (raw + "\r\n").replace(/^\./, "").replaceAll("\r\n.", "\r\n");
        mails.push({ ...cur, to: [...cur.to] });
        await say("250 2.0.0 queued\r\n");
      } else if (verb === "QUIT") {
        await say("221 2.0.0 bye\r\n");
        return;
      } else await say("500 5.5.1 what?\r\n");
    }
  }

  return {
    port: (listener.addr as Deno.NetAddr).port,
    mails,
    /** Most connections open at the same time. */
    get maxConns() {
      return maxConns;
    },
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting.catch(() => {});
      await Promise.all(handlers);
    },
  };
}

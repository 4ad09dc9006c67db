/**
 * The dashboard's front door: a TCP gate between the public port and the HTTP server (which
 * listens on loopback only). `Deno.serve` has no header or idle timeout and no connection cap, so a
 * few hundred slow or idle clients could hold the driver's descriptors; the gate bounds them:
 * at most `maxConnections` at once (more are closed at once), the first request's headers within
 * `headerMs`, no connection silent for longer than `idleMs`, none older than `lifetimeMs` (a
 * browser simply reconnects). Bytes are copied with raw reads and writes.
 *
 * @module
 */

/** Limits of the gate. */
export interface GateOptions {
  hostname: string;
  port: number;
  /** Where the HTTP server listens (loopback). */
  target: { hostname: string; port: number };
  /** @default 64 */
  maxConnections?: number;
  /** @default 10000 */
  headerMs?: number;
  /** @default 30000 */
  idleMs?: number;
  /** @default 120000 */
  lifetimeMs?: number;
  /** Told about each refused or timed-out connection (the caller rate-limits). */
  onReject?: (message: string) => void;
}

/** A running gate. */
export interface Gate {
  addr: Deno.NetAddr;
  /** Connections open now. */
  readonly open: number;
  close(): Promise<void>;
}

const CRLFCRLF = [13, 10, 13, 10];

function endsHeaders(buf: Uint8Array, n: number, state: { match: number }): boolean {
  for (let i = 0; i < n; i++) {
    state.match = buf[i] === CRLFCRLF[state.match] ? state.match + 1 : buf[i] === 13 ? 1 : 0;
    if (state.match === 4) return true;
  }
  return false;
}

/**
 * Start the gate.
 * @param o address, target and limits
 * @returns the gate
 */
export function startGate(o: GateOptions): Gate {
  const max = o.maxConnections ?? 64, headerMs = o.headerMs ?? 10_000;
  const idleMs = o.idleMs ?? 30_000, lifetimeMs = o.lifetimeMs ?? 120_000;
  const listener = Deno.listen({ hostname: o.hostname, port: o.port, transport: "tcp" });
  const conns = new Set<{ a: Deno.Conn; b?: Deno.Conn; opened: number; last: number; headers: boolean }>();
  let closed = false;
  const drop = (c: { a: Deno.Conn; b?: Deno.Conn }) => {
    for (const x of [c.a, c.b]) {
      try {
        x?.close();
      } catch { /* closed */ }
    }
  };
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const c of conns) {
      const why = !c.headers && now - c.opened > headerMs
        ? `no request headers within ${headerMs / 1000} s`
        : now - c.last > idleMs
        ? `idle for ${idleMs / 1000} s`
        : now - c.opened > lifetimeMs
        ? null // a browser reconnects: not worth a log line
        : undefined;
      if (why === undefined) continue;
      conns.delete(c);
      drop(c);
      if (why) o.onReject?.(`Dashboard: closed a connection from ${peer(c.a)}: ${why}`);
    }
  }, 1000);
  const peer = (c: Deno.Conn) => {
    const a = c.remoteAddr as Deno.NetAddr;
    return `${a.hostname}:${a.port}`;
  };
  const copy = async (
    from: Deno.Conn,
    to: Deno.Conn,
    c: { last: number; headers: boolean },
    client: boolean,
  ) => {
    const buf = new Uint8Array(16 * 1024);
    const state = { match: 0 };
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        c.last = Date.now();
        if (client && !c.headers && endsHeaders(buf, n, state)) c.headers = true;
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch { /* either side closed */ }
  };
  const serve = async (a: Deno.Conn) => {
    const c: { a: Deno.Conn; b?: Deno.Conn; opened: number; last: number; headers: boolean } = {
      a,
      opened: Date.now(),
      last: Date.now(),
      headers: false,
    };
    conns.add(c);
    try {
      c.b = await Deno.connect(o.target);
      await Promise.race([copy(a, c.b, c, true), copy(c.b, a, c, false)]);
    } catch { /* the server is closing */ }
    conns.delete(c);
    drop(c);
  };
  (async () => {
    while (!closed) {
      let a: Deno.Conn;
      try {
        a = await listener.accept();
      } catch (e) {
        if (closed) return;
        // Out of descriptors (EMFILE) and the like: wait a moment, never die.
        o.onReject?.(`Dashboard: accepting a connection failed (${e instanceof Error ? e.message : e})`);
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (conns.size >= max) {
        o.onReject?.(`Dashboard: refused a connection from ${peer(a)}: ${max} open already`);
        drop({ a });
        continue;
      }
      serve(a);
    }
  })();
  return {
    addr: listener.addr as Deno.NetAddr,
    get open() {
      return conns.size;
    },
    async close() {
      closed = true;
      clearInterval(sweep);
      try {
        listener.close();
      } catch { /* closed */ }
      for (const c of conns) drop(c);
      conns.clear();
      await Promise.resolve();
    },
  };
}

/**
 * The driver's TCP endpoint: accepts connections, runs the challenge/response handshake, drops
 * strangers and garbage with a log line, pings authenticated peers and notices silent ones.
 *
 * @module
 */

import {
  asToDriver,
  authMac,
  checkMac,
  MAX_FRAME,
  PROTOCOL_VERSION,
  type RunInfo,
  type ToDriver,
} from "../lib/protocol.ts";
import { type Logger, RateLimitedWarn } from "./log.ts";
import { Link } from "./transport.ts";
import { closeReasonText } from "../lib/control.ts";

/** An authenticated peer. */
export interface Peer {
  link: Link;
  hello: Extract<ToDriver, { kind: "hello" }>;
  /** Engines: their rank. */
  rank?: number;
  remote: string;
  /** Engines: silent for a while (their tasks are kept for them). */
  away?: boolean;
  /** Engines: the last `done` message received (acknowledged in pings). */
  ack?: number;
}

/** What the server tells the driver. */
export interface ServerHandlers {
  /** A peer passed the handshake; return the rank for engines (or a rejection text). */
  accepted(peer: Peer): { rank: number } | { reject: string; gone?: boolean };
  /** The peer got its `welcome`; it may be sent work now. */
  joined(peer: Peer): void;
  /** A message from an authenticated peer. */
  message(peer: Peer, msg: ToDriver): void;
  /** An authenticated peer's connection ended. */
  closed(peer: Peer, reason: string): void;
  /** An engine went silent (it keeps its tasks until it is heard again or given up). */
  silent?(peer: Peer): void;
  /** A silent engine is heard again. */
  back?(peer: Peer): void;
}

const HANDSHAKE_MS = 10000;
const PRE_AUTH_MAX_FRAME = 64 * 1024;
const PING_EVERY_MS = 1000;
/**
 * A peer silent this long is away: a monitor or context is dropped; an engine keeps its tasks
 * and gets no new ones, and is given up only after `--driver-grace` and a margin (by then it has
 * killed its tasks itself: engine.ts), so that a network cut or a frozen host costs no rerun.
 */
const SILENT_MS = 8000;
/** Seconds after an engine's own grace at which the driver gives a silent engine up. */
export const GIVE_UP_MARGIN_S = 10;
/** At most this many connections may be in their handshake at once (each ends within 5 s). */
const MAX_UNAUTHENTICATED = 256;

/** Accepts and authenticates peers. */
export class DriverServer {
  readonly listener: Deno.Listener;
  readonly #secret: string;
  readonly #log: Logger;
  readonly #run: () => RunInfo;
  #handlers: ServerHandlers | undefined;
  readonly peers = new Set<Peer>();
  #pinger: ReturnType<typeof setInterval>;
  #lastPing: number | undefined;
  readonly #graceMs: number;
  /** Connections that have not proven the secret yet. */
  #unauthenticated = 0;
  #closed = false;

  /**
   * @param listener bound listener @param secret run secret @param log driver log
   * @param run run facts for `welcome`
   */
  readonly #rejections: RateLimitedWarn;

  /** A rejected connection, logged at most 10 times per 10 s (an attack wave costs a few lines). */
  #rejected(message: string): void {
    this.#rejections.warn(message, Date.now() / 1000);
  }

  constructor(listener: Deno.Listener, secret: string, log: Logger, run: () => RunInfo) {
    this.#graceMs = (run().driverGrace + GIVE_UP_MARGIN_S) * 1000;
    this.listener = listener;
    this.#secret = secret;
    this.#log = log;
    this.#rejections = new RateLimitedWarn(
      log,
      (n) => `${n} more connection(s) rejected in the last 10 s (not logged one by one)`,
    );
    this.#run = run;
    this.#pinger = setInterval(() => this.#ping(), PING_EVERY_MS);
  }

  /** @param h callbacks; connections are accepted from now on */
  start(h: ServerHandlers): void {
    this.#handlers = h;
    this.#acceptLoop();
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.listener.accept();
      } catch (e) {
        if (this.#closed) return;
        // Out of descriptors (EMFILE) or a transient error: never stop accepting for good.
        this.#log.warn(`Accepting a connection failed (${e instanceof Error ? e.message : e}); retrying`);
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (this.#unauthenticated >= MAX_UNAUTHENTICATED) {
        // A flood of strangers must not take the descriptors engines need.
        const a = conn.remoteAddr as Deno.NetAddr;
        this.#rejected(
          `Rejected connection from ${a.hostname}:${a.port}: ${MAX_UNAUTHENTICATED} are authenticating already`,
        );
        try {
          conn.close();
        } catch { /* closed */ }
        continue;
      }
      this.#handshake(conn);
    }
  }

  #handshake(conn: Deno.Conn): void {
    const addr = conn.remoteAddr as Deno.NetAddr;
    const remote = `${addr.hostname}:${addr.port}`;
    const link = new Link(conn, 16 * 1024);
    // Until the peer has proven it knows the secret, a frame may not be larger than a hello.
    link.maxFrame = PRE_AUTH_MAX_FRAME;
    const nonce = crypto.randomUUID();
    let peer: Peer | undefined;
    this.#unauthenticated++;
    let counted = true;
    const authenticated = () => {
      if (counted) this.#unauthenticated--;
      counted = false;
    };
    const timer = setTimeout(() => {
      if (!peer) {
        this.#rejected(`Rejected connection from ${remote}: no valid hello within ${HANDSHAKE_MS / 1000} s`);
        link.close({ kind: "refused", why: "handshake timeout" });
      }
    }, HANDSHAKE_MS);
    link.onMessage = (raw) => {
      let msg: ToDriver;
      try {
        msg = asToDriver(raw);
      } catch (e) {
        const m = `Dropped ${peer ? `peer ${describe(peer)}` : `connection from ${remote}`}: ${
          e instanceof Error ? e.message : e
        }`;
        if (peer) this.#log.warn(m);
        else this.#rejected(m);
        link.close({ kind: "refused", why: "protocol error" });
        return;
      }
      if (peer) {
        this.#handlers!.message(peer, msg);
        return;
      }
      if (msg.kind !== "hello") {
        this.#rejected(`Rejected connection from ${remote}: sent "${msg.kind}" before authenticating`);
        link.close({ kind: "refused", why: "not authenticated" });
        return;
      }
      if (msg.version !== PROTOCOL_VERSION) {
        link.send({
          kind: "rejected",
          reason:
            `protocol ${msg.version} is not the driver's ${PROTOCOL_VERSION}: use the same disbatch binary everywhere`,
        });
        this.#rejected(
          `Rejected ${msg.role} from ${remote} (${msg.host}): protocol version ${msg.version}, driver speaks ${PROTOCOL_VERSION}`,
        );
        link.close({ kind: "refused", why: "version mismatch" });
        return;
      }
      if (!checkMac(this.#secret, "peer", nonce, msg.mac)) {
        link.send({ kind: "rejected", reason: "authentication failed" });
        this.#rejected(
          `Rejected connection from ${remote} claiming to be ${msg.role} on ${msg.host}: wrong secret`,
        );
        link.close({ kind: "refused", why: "authentication failed" });
        return;
      }
      clearTimeout(timer);
      link.maxFrame = MAX_FRAME;
      const p: Peer = { link, hello: msg, remote };
      const verdict = this.#handlers!.accepted(p);
      if ("reject" in verdict) {
        link.send({ kind: "rejected", reason: verdict.reject, ...(verdict.gone ? { gone: true } : {}) });
        link.close({ kind: "refused", why: "rejected" });
        return;
      }
      peer = p;
      authenticated();
      p.rank = verdict.rank;
      this.peers.add(p);
      link.send({
        kind: "welcome",
        version: PROTOCOL_VERSION,
        mac: authMac(this.#secret, "driver", msg.nonce),
        rank: verdict.rank,
        run: this.#run(),
      });
      this.#handlers!.joined(p);
      link.closed.then((reason) => {
        this.peers.delete(p);
        this.#handlers!.closed(p, reason);
      });
    };
    link.ended.then((why) => {
      clearTimeout(timer);
      authenticated();
      if (peer) return;
      // A refusal was logged when it was made.
      if (why.kind === "badFrame") this.#rejected(`Rejected connection from ${remote}: ${why.detail}`);
      else if (why.kind !== "refused") {
        this.#log.debug(`Connection from ${remote} closed before authenticating: ${closeReasonText(why)}`);
      }
    });
    link.start();
    link.send({ kind: "challenge", version: PROTOCOL_VERSION, nonce });
  }

  #ping(): void {
    const now = Date.now();
    // A late timer means the driver itself was stopped (Ctrl-Z, SIGSTOP, a frozen VM): what its
    // peers sent meanwhile is still unread, so their silence is not theirs. Read first, judge later.
    const gap = now - (this.#lastPing ?? now);
    this.#lastPing = now;
    if (gap > 3 * PING_EVERY_MS) {
      this.#log.warn(
        `The driver was stopped for ${(gap / 1000).toFixed(1)} s; its peers get a fresh ${
          SILENT_MS / 1000
        } s`,
      );
      for (const p of this.peers) p.link.lastHeard = Math.max(p.link.lastHeard, now);
    }
    for (const p of this.peers) {
      const quiet = now - p.link.lastHeard;
      const engine = p.hello.role === "engine";
      if (engine && p.away && quiet <= SILENT_MS) {
        p.away = false;
        this.#handlers?.back?.(p);
      }
      if (quiet > (engine ? this.#graceMs : SILENT_MS)) {
        this.#log.warn(`No word from ${describe(p)} for ${(quiet / 1000).toFixed(1)} s; treating it as lost`);
        p.link.close(`silent for ${Math.round(quiet / 1000)} s (host down or network lost)`);
        continue;
      }
      if (engine && !p.away && quiet > SILENT_MS) {
        p.away = true;
        this.#log.warn(`No word from ${describe(p)} for ${(quiet / 1000).toFixed(1)} s; it is away`);
        this.#handlers?.silent?.(p);
      }
      p.link.send(engine && p.ack !== undefined ? { kind: "ping", ack: p.ack } : { kind: "ping" });
    }
  }

  /** Stop accepting and close every connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pinger);
    try {
      this.listener.close();
    } catch { /* closed */ }
    for (const p of this.peers) p.link.close("driver exiting");
  }
}

/**
 * Describe a peer for logs.
 * @param p peer
 * @returns text
 */
export function describe(p: Peer): string {
  return p.rank !== undefined && p.hello.role === "engine"
    ? `engine ${p.rank} on ${p.hello.host}`
    : `${p.hello.role} on ${p.hello.host} (${p.remote})`;
}

/**
 * The web dashboard (`disbatch -w`): a small `Deno.serve` HTTP server. Every route needs the run's
 * token, as `?token=` or `Authorization: Bearer`, compared in constant time.
 *
 * Routes: `GET /` the page (`dashboard_page.ts`), `GET /api/state` the {@linkcode DashboardState}
 * as JSON, `POST /api/stop` with `{"engine": N}` or `{"context": N}` (answers the text of
 * `stop`'s answer: 200 when something is stopping, 404 when nothing has that number).
 *
 * @module
 */

import { type GateOptions, startGate } from "./web_gate.ts";
import { type DashboardState, requestToken, tokenMatches } from "../lib/dashboard.ts";
import {
  type StopAnswer,
  stopAnswerText,
  stopHttpStatus,
  type StopTarget,
  stopTargetFromJson,
} from "../lib/control.ts";
import { dashboardPage } from "./dashboard_page.ts";
import { type Logger, RateLimitedWarn } from "./log.ts";

export type { DashboardState } from "../lib/dashboard.ts";

/** How to start the dashboard. */
export interface DashboardOptions {
  /** Address to listen on (`0.0.0.0` for all interfaces; the printed URL then names this host). */
  hostname: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The secret every request must present (see {@linkcode newDashboardToken}). */
  token: string;
  /** Called for each `GET /api/state`. */
  state: () => DashboardState;
  /** Called for each valid `POST /api/stop`; the response is made from its answer. */
  stop: (target: StopTarget) => StopAnswer;
  /** Told about refused and timed-out connections (see `web_gate.ts`). */
  onReject?: (message: string) => void;
  /** Limits of the gate (defaults: 64 connections, headers in 10 s, idle 30 s, lifetime 120 s). */
  limits?: Pick<GateOptions, "maxConnections" | "headerMs" | "idleMs" | "lifetimeMs">;
}

/** A running dashboard. */
export interface Dashboard {
  /** `http://HOST:PORT/?token=TOKEN`, to print for the user. */
  url: string;
  /** Stops listening and waits for open requests to end. */
  close(): Promise<void>;
}

/**
 * A fresh random token (128 bits, hex).
 *
 * @returns 32 hex characters.
 *
 * @example
 * ```ts ignore
 * startDashboard({ hostname: "0.0.0.0", port: 0, token: newDashboardToken(), state, stop });
 * ```
 */
export function newDashboardToken(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}

const SECURITY_HEADERS: Record<string, string> = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};

function respond(status: number, body: string, type: string, extra: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { ...SECURITY_HEADERS, "content-type": type, ...extra } });
}

function text(status: number, body: string, extra: Record<string, string> = {}): Response {
  return respond(status, body.endsWith("\n") ? body : body + "\n", "text/plain; charset=utf-8", extra);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function handle(o: DashboardOptions, req: Request): Promise<Response> {
  const url = new URL(req.url);
  const token = requestToken(url, req.headers.get("authorization"));
  if (!tokenMatches(token, o.token)) {
    return text(401, "Unauthorized: open the dashboard with the URL disbatch printed (it ends in ?token=…)", {
      "www-authenticate": 'Bearer realm="disbatch"',
    });
  }
  const only = (method: string) =>
    req.method === method || (method === "GET" && req.method === "HEAD")
      ? undefined
      : text(405, `Method ${req.method} not allowed here; use ${method}`, { allow: method });
  switch (url.pathname) {
    case "/":
    case "/index.html":
      return only("GET") ??
        respond(200, dashboardPage(token!), "text/html; charset=utf-8", {
          "content-security-policy":
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'",
        });
    case "/api/state": {
      const bad = only("GET");
      if (bad) return bad;
      try {
        return respond(200, JSON.stringify(o.state()), "application/json; charset=utf-8");
      } catch (e: unknown) {
        return text(500, `Cannot read the run state: ${message(e)}`);
      }
    }
    case "/api/stop": {
      const bad = only("POST");
      if (bad) return bad;
      const body = await req.text();
      if (body.length > 4096) return text(413, "Request body too large");
      let target: StopTarget;
      try {
        target = stopTargetFromJson(JSON.parse(body));
      } catch (e: unknown) {
        return text(400, `Bad stop request: ${message(e)}`);
      }
      try {
        const a = o.stop(target);
        return text(stopHttpStatus(a), stopAnswerText(a));
      } catch (e: unknown) {
        return text(500, `Stop failed: ${message(e)}`);
      }
    }
    default:
      return text(404, `Not found: ${url.pathname}`);
  }
}

/**
 * Starts the dashboard server.
 *
 * @param o Address, token and the run's callbacks.
 * @returns The URL to print and a way to close the server.
 * @throws {TypeError} When the token is empty.
 * @throws {Deno.errors.AddrInUse} When the port is taken (and other listen errors).
 *
 * @example
 * ```ts ignore
 * const web = startDashboard({ hostname: "0.0.0.0", port: 0, token: newDashboardToken(), state, stop });
 * console.error(`disbatch: dashboard at ${web.url}`);
 * await web.close();
 * ```
 */
export function startDashboard(o: DashboardOptions): Dashboard {
  if (typeof o.token !== "string" || o.token === "") throw new TypeError("Dashboard token must not be empty");
  // The HTTP server listens on loopback only; the public port is the gate, which bounds clients.
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError: (e) => text(500, `Internal error: ${message(e)}`),
  }, (req) => handle(o, req));
  const inner = server.addr as Deno.NetAddr;
  const gate = startGate({
    hostname: o.hostname,
    port: o.port,
    target: { hostname: "127.0.0.1", port: inner.port },
    onReject: o.onReject,
    ...o.limits,
  });
  let host = o.hostname === "0.0.0.0" || o.hostname === "::" || o.hostname === ""
    ? Deno.hostname()
    : o.hostname;
  if (host.includes(":")) host = `[${host}]`;
  return {
    url: `http://${host}:${gate.addr.port}/?token=${encodeURIComponent(o.token)}`,
    async close() {
      await gate.close();
      await server.shutdown();
    },
  };
}

/**
 * The run's dashboard (`--web`): started on every interface behind its token, its address written
 * to `<uid>_url` (mode 0600), said on stderr and logged (without the token); refused connections
 * are logged, at most a line a while.
 * @param o the state and stop callbacks, the run's uid, log, printer and clock
 * @returns the dashboard
 */
export function openRunDashboard(o: {
  uid: string;
  log: Logger;
  say(line: string): void;
  now(): number;
  state: DashboardOptions["state"];
  stop: DashboardOptions["stop"];
}): Dashboard {
  const rejections = new RateLimitedWarn(
    o.log,
    (n) => `Dashboard: ${n} more connection(s) refused or closed (not logged one by one)`,
  );
  const web = startDashboard({
    hostname: "0.0.0.0",
    port: 0,
    token: newDashboardToken(),
    state: o.state,
    stop: o.stop,
    onReject: (m) => rejections.warn(m, o.now()),
  });
  Deno.writeTextFileSync(`${o.uid}_url`, web.url + "\n", { mode: 0o600 });
  o.say(`disbatch: dashboard at ${web.url} (also in ${o.uid}_url)`);
  o.log.info(`Dashboard at ${web.url.replace(/token=[^&]*/, "token=…")}`);
  return web;
}

/**
 * Connecting to a running driver as a non-engine peer (context, monitor, control): read the
 * address and secret that `<run>_dbUtil.sh` exports, connect, and do the handshake.
 *
 * @module
 */

import {
  asFromDriver,
  authMac,
  checkMac,
  type FromDriver,
  type PeerRole,
  PROTOCOL_VERSION,
  type RunInfo,
} from "../lib/protocol.ts";
import { driverEnvOf } from "../lib/launch_contract.ts";
import { replayJournal } from "../lib/journal.ts";
import { Link, splitAddress } from "./transport.ts";

/** Raised when the run cannot be reached or refuses us. */
export class ClientError extends Error {
  /** @param message what happened and what to do */
  constructor(message: string) {
    super(message);
    this.name = "ClientError";
  }
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, rej) => timer = setTimeout(() => rej(new Error(what)), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** An authenticated connection to the driver. */
export interface DriverSession {
  link: Link;
  run: RunInfo;
  /** Messages after the welcome, in order (set `onMessage` to receive them). */
  onMessage: (m: FromDriver) => void;
}

/**
 * Connect and authenticate.
 * @param role who we are
 * @param extra extra hello fields (context id, slots…)
 * @param env environment holding DISBATCH_DRIVER and DISBATCH_SECRET (set by dbUtil.sh)
 * @returns the session
 * @throws {ClientError} when the driver is unreachable or refuses
 */
export async function connectToDriver(
  role: PeerRole,
  extra: Record<string, unknown> = {},
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<DriverSession> {
  const driver = driverEnvOf(env);
  if (!driver) {
    throw new ClientError(
      "DISBATCH_DRIVER/DISBATCH_SECRET are not set: run this through the run's <run>_dbUtil.sh",
    );
  }
  const { addresses, secret } = driver;
  let conn: Deno.Conn | undefined;
  let last = "";
  for (const a of addresses) {
    try {
      conn = await within(Deno.connect(splitAddress(a)), 5000, `no answer from ${a} within 5 s`);
      break;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
  }
  if (!conn) {
    throw new ClientError(
      `Cannot contact the disbatch driver at ${addresses.join(", ")} (${last}). ${whyNoDriver(driver.uid)}`,
    );
  }
  const link = new Link(conn);
  const nonce = crypto.randomUUID();
  const session: DriverSession = { link, run: undefined as unknown as RunInfo, onMessage: () => {} };
  const welcome = new Promise<RunInfo>((resolve, reject) => {
    // A message that is not what the driver sends ends the session (never a crash on a bad field).
    const checked = (raw: { kind: string }): FromDriver | undefined => {
      try {
        return asFromDriver(raw);
      } catch (e) {
        link.close(`protocol violation: ${(e as Error).message}`);
        return undefined;
      }
    };
    link.onMessage = (raw) => {
      const m = checked(raw);
      if (!m) return;
      if (m.kind === "challenge") {
        link.send({
          kind: "hello",
          version: PROTOCOL_VERSION,
          role,
          mac: authMac(secret, "peer", m.nonce),
          nonce,
          host: Deno.hostname(),
          pid: Deno.pid,
          ...extra,
        } as never);
      } else if (m.kind === "welcome") {
        if (!checkMac(secret, "driver", nonce, m.mac)) {
          reject(new ClientError("The driver did not prove it knows the run's secret"));
        } else {
          link.onMessage = (x) => {
            const msg = checked(x);
            if (!msg) return;
            if (msg.kind === "ping") link.send({ kind: "pong" });
            else session.onMessage(msg);
          };
          resolve(m.run);
        }
      } else if (m.kind === "rejected") {
        reject(new ClientError(`The driver refused the connection: ${m.reason}`));
      }
    };
    link.closed.then((r) => reject(new ClientError(`The driver closed the connection: ${r}`)));
  });
  link.start();
  try {
    session.run = await within(welcome, 15000, "the driver did not complete the handshake within 15 s");
  } catch (e) {
    link.close("handshake failed");
    throw e instanceof ClientError
      ? e
      : new ClientError(`Cannot talk to the disbatch driver: ${e instanceof Error ? e.message : e}`);
  }
  return session;
}

/**
 * Why a run's driver does not answer, as its journal tells.
 * @param uid the run's uid (prefix path) @returns a sentence: the run ended, or its driver died
 */
export function whyNoDriver(uid: string): string {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${uid}_journal`);
  } catch {
    return "This usually means the run has ended.";
  }
  const j = replayJournal(text);
  if (j.ended !== undefined) return `The run ended (exit status ${j.ended}).`;
  if (j.resumedBy) return `The run was taken over by ${j.resumedBy.by} (-r): use that run's dbUtil.sh.`;
  return `The run did not end: its driver died or is stopped. Restart it with: disbatch --reattach ${uid} ` +
    `(its engines wait for one for --driver-grace), or run what is left with -r ${uid}_status.txt.`;
}

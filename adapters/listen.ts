/**
 * Where the driver listens and what it advertises: `--use-address HOST:PORT`, or every interface
 * on a free port, advertised as the host name (each engine resolves it on its own node), then this
 * machine's IPv4 addresses, then loopback.
 *
 * @module
 */

import { UsageError } from "../lib/cli.ts";

/** A bound listener and the addresses peers are told to use. */
export interface DriverEndpoint {
  listener: Deno.Listener;
  /** `HOST:PORT` addresses, best first (dbUtil.sh and `welcome` get them all). */
  addresses: string[];
  /** `addresses`, comma-separated, for engines on other nodes. */
  connect: string;
  /** For engines on this machine: loopback first. */
  localConnect: string;
}

/**
 * Bind the driver's listener.
 * @param useAddress `--use-address` value; undefined listens on 0.0.0.0 at a free port
 * @param hostname this machine's host name
 * @returns the listener and its advertised addresses
 * @throws {UsageError} when the address cannot be bound
 */
export function listenForPeers(useAddress: string | undefined, hostname: string): DriverEndpoint {
  const wanted = useAddress ?? "0.0.0.0:0";
  const at = wanted.lastIndexOf(":");
  const bindHost = wanted.slice(0, at);
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: bindHost, port: Number(wanted.slice(at + 1)) });
  } catch (e) {
    throw new UsageError(
      `argument --use-address: cannot listen on ${wanted}: ${e instanceof Error ? e.message : e}`,
    );
  }
  const port = (listener.addr as Deno.NetAddr).port;
  let addresses: string[];
  if (bindHost !== "0.0.0.0" && bindHost !== "::") addresses = [`${bindHost}:${port}`];
  else {
    // The host name first: each engine resolves it on its own node (the reference advertised the
    // driver's own resolution, often 127.0.x.1, which remote nodes cannot use), then our IPv4s.
    const ips = Deno.networkInterfaces().filter((n) => n.family === "IPv4" && !n.address.startsWith("127."))
      .map((n) => `${n.address}:${port}`);
    addresses = [`${hostname}:${port}`, ...ips, `127.0.0.1:${port}`];
  }
  const connect = addresses.join(",");
  const localConnect = addresses.length === 1 ? connect : [`127.0.0.1:${port}`, ...addresses].join(",");
  return { listener, addresses, connect, localConnect };
}

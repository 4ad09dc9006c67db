/**
 * The ssh context: the hosts of `-s HOST:N,…`, each engine started over `ssh HOST` (or as a child
 * process when the host is this machine).
 *
 * @module
 */

import type { ContextKind, EngineStarter } from "./context_kind.ts";
import { LOCAL_STARTER } from "./context_local.ts";
import { parseSshNodeList, sshSlots } from "./ssh.ts";
import { shellQuote } from "./text.ts";

/**
 * ssh's words for a host it could not reach (as opposed to one that refused the login, or a name
 * that does not resolve, which trying again will not mend).
 */
export const SSH_UNREACHABLE =
  /Connection refused|Connection timed out|Operation timed out|No route to host|Network is unreachable|Connection reset|Connection closed|kex_exchange_identification|Host is down/i;

/**
 * An engine on another host, through `dbUtil.sh` over ssh. The secret reaches it through the 0700
 * dbUtil.sh on the shared file system, never on a command line (visible in `ps` to every user of
 * that host).
 */
export const SSH_STARTER: EngineStarter = {
  via: "ssh",
  onThisMachine: false,
  command: (p, i) => ({
    argv: [
      "ssh",
      "-T",
      "-o",
      "BatchMode=yes",
      "-o",
      "ConnectTimeout=10",
      "-o",
      "ServerAliveInterval=5",
      "-o",
      "ServerAliveCountMax=3",
      p.host,
      [i.dbUtil, ...i.engineArgs].map(shellQuote).join(" "),
    ],
    env: {},
  }),
  unreachable: SSH_UNREACHABLE,
};

function shortName(h: string): string {
  return h.split(".", 1)[0]!;
}

/** `-s HOST:N,…`: one engine per host, `localhost` being this machine. */
export const SSH_KIND: ContextKind = {
  name: "ssh",
  applies: (o) => o.sshNodes.length > 0,
  plan(o, f) {
    const parsed = parseSshNodeList(o.sshNodes);
    const warnings = [...parsed.warnings];
    const merged = new Map<string, number>();
    for (const { host, cores } of parsed.hosts) {
      const name = host === "localhost" ? f.hostname : host;
      if (merged.has(name)) {
        warnings.push(
          `-s lists ${name} more than once (localhost is ${f.hostname}): using ${
            merged.get(name)! + cores
          } cores in all`,
        );
      }
      merged.set(name, (merged.get(name) ?? 0) + cores);
    }
    const engines = [...merged].map(([host, cores]) => {
      const s = sshSlots(cores, { cpusPerTask: o.cpusPerTask, tasksPerNode: o.tasksPerNode });
      const local = shortName(host) === shortName(f.hostname);
      return { host, slots: s.slots, coresPerSlot: s.coresPerSlot, via: local ? LOCAL_STARTER.via : "ssh" };
    });
    return { kind: "ssh", label: o.label ?? `SSH${f.contextNumber}`, engines, notes: [], warnings };
  },
  starters: [SSH_STARTER, LOCAL_STARTER],
  restartsLostEngines: true,
  timeLimited: false,
  namesItself: false,
  implicit: false,
};

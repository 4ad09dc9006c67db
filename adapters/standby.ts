/**
 * The standby engine. Most of the time an engine takes to join a run is its own start: the
 * runtime and its modules. A driver whose own context will start an engine on this machine starts
 * that process as it starts itself, as `disbatch --engine --standby`, so that this time passes
 * while the driver reads its options and opens its run files. When the context starts its local
 * engine, it hands the standby its command line and variables on stdin ({@linkcode takeStandby})
 * rather than start a process then. A standby that is not taken ({@linkcode dropStandby}), or whose
 * driver is gone, reads the end of its stdin and exits.
 *
 * @module
 */

import { plansEngineHere } from "../lib/context_plan.ts";
import { LOCAL_STARTER } from "../lib/context_local.ts";
import { launchesOwnContext } from "../lib/driver_invocation.ts";
import type { DriverInvocation } from "../lib/driver_options.ts";
import { ENGINE_MODE, STANDBY_FLAG, standbyLine } from "../lib/launch_contract.ts";
import { selfCommand } from "./self_command.ts";
import { ownSessionCommand } from "./session.ts";

interface Standby {
  child: Deno.ChildProcess;
  ended: boolean;
}

/** This process's standby, until it is taken or dropped. */
let standby: Standby | undefined;

/**
 * Start the standby, when this run's own context will start an engine on this machine.
 * @param inv the driver's command line
 * @param hostname this machine's name
 */
export function startStandby(inv: DriverInvocation, hostname: string): void {
  if (standby || !launchesOwnContext(inv)) return;
  const here = plansEngineHere(inv.context, {
    hostname,
    cores: navigator.hardwareConcurrency || 1,
    env: Deno.env.toObject(),
    contextNumber: 0,
  });
  if (!here) return;
  // The very command a local engine is started with (descriptors closed, its own process group),
  // but for its launch, which comes on stdin.
  const { argv } = LOCAL_STARTER.command({
    host: hostname,
    slots: 1,
    coresPerSlot: 1,
    via: LOCAL_STARTER.via,
  }, {
    engineArgs: [ENGINE_MODE, STANDBY_FLAG],
    self: selfCommand(),
    dbUtil: "",
    secret: "",
  });
  let child: Deno.ChildProcess;
  try {
    child = ownSessionCommand(argv[0]!, {
      args: argv.slice(1),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch {
    return; // the context starts its engine the usual way, and reports what fails then
  }
  // Until it is taken, it does not keep the driver alive.
  child.unref();
  const s: Standby = { child, ended: false };
  child.status.then(() => s.ended = true, () => s.ended = true);
  standby = s;
}

/**
 * Hand the standby its launch, if there is one that can take it.
 * @param argv the engine's command line, from {@linkcode ENGINE_MODE} on
 * @param env the variables a local engine is started with (the secret)
 * @returns the engine process (its stdout and stderr unread), or undefined: start one
 */
export function takeStandby(argv: string[], env: Record<string, string>): Deno.ChildProcess | undefined {
  const s = standby;
  standby = undefined;
  if (!s) return undefined;
  if (s.ended) {
    settle(s);
    return undefined;
  }
  s.child.ref();
  const w = s.child.stdin.getWriter();
  w.write(new TextEncoder().encode(standbyLine({ argv, env }))).then(() => w.close()).catch(() => {});
  return s.child;
}

/**
 * Let go of a standby that was not taken (its context started no local engine, or the run ended
 * first): the end of its stdin tells it to stop what it started (its task launcher, whose directory
 * goes with it) and exit. It is not killed: killed while it made them, it would leave them behind.
 */
export function dropStandby(): void {
  const s = standby;
  standby = undefined;
  if (!s) return;
  settle(s);
}

/** Let go of an unused standby's pipes. */
function settle(s: Standby): void {
  s.child.stdin.close().catch(() => {});
  s.child.stdout.cancel().catch(() => {});
  s.child.stderr.cancel().catch(() => {});
}

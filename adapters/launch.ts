/**
 * Starting engines, each the way its plan says (a child process, ssh, srun: see the context kinds).
 * Each launcher's stdout/stderr go to `<uid>_<label>_<node>_engine_wrap.log`, which
 * is where a remote start-up error lands; a launch that ends before its engine joined is reported
 * with that file's last line.
 *
 * @module
 */

import { type EngineStarter, engineStarter, type PlannedEngine } from "../lib/context_plan.ts";
import { selfCommand } from "./self_command.ts";
import { engineArgv } from "../lib/launch_contract.ts";
import { LOCAL_STARTER } from "../lib/context_local.ts";
import { takeStandby } from "./standby.ts";

/** One engine to start (see `lib/context_plan.ts`). */
export type EnginePlan = PlannedEngine;

/** Run-wide facts a launcher needs. */
export interface LaunchInput {
  uid: string;
  label: string;
  context: number;
  /** Driver addresses, comma-separated. */
  connect: string;
  /** Addresses for engines on this machine (loopback first). */
  localConnect: string;
  secret: string;
  envResource: string[];
}

/** A launched engine process (the launcher: ssh/srun, or the engine itself). */
export interface LaunchedEngine {
  plan: EnginePlan;
  launchId: string;
  child: Deno.ChildProcess;
  wrapLog: string;
  /** Exit status of the launcher. */
  status: Promise<Deno.CommandStatus>;
}

/**
 * Start one engine.
 * @param p what and where
 * @param i run facts
 * @param seq a number unique within the context (for the launch id)
 * @param starter how (by default the registered starter named by the plan's `via`)
 * @returns the launched process
 */
export function launchEngine(
  p: EnginePlan,
  i: LaunchInput,
  seq: number,
  starter: EngineStarter = engineStarter(p.via),
): LaunchedEngine {
  const launchId = `${i.context}.${seq}`;
  const wrapLog = `${i.uid}_${i.label}_${p.host}_engine_wrap.log`;
  const args = engineArgv({
    connect: starter.onThisMachine ? i.localConnect : i.connect,
    context: i.context,
    host: p.host,
    slots: p.slots,
    coresPerSlot: p.coresPerSlot,
    label: i.label,
    launch: launchId,
    envResource: i.envResource,
  });
  const { argv, env: own } = starter.command(p, {
    engineArgs: args,
    self: selfCommand(),
    dbUtil: `${i.uid}_dbUtil.sh`,
    secret: i.secret,
  });
  const env = { ...(p.env ?? {}), ...own };
  const file = Deno.openSync(wrapLog, { write: true, create: true, append: true });
  // A local engine started ahead (see standby.ts) is handed its launch rather than started now.
  const child = (starter.via === LOCAL_STARTER.via ? takeStandby(args, env) : undefined) ??
    new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
  const w = file.writable.getWriter();
  const copy = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) await w.write(chunk);
  };
  const copies = Promise.all([copy(child.stdout), copy(child.stderr)]).catch(() => {}).finally(() =>
    w.close().catch(() => {})
  );
  const status = child.status.then(async (s) => {
    await Promise.race([copies, new Promise((r) => setTimeout(r, 500))]);
    return s;
  });
  return { plan: p, launchId, child, wrapLog, status };
}

/**
 * The last non-empty line of a wrap log, for error messages.
 * @param path the log
 * @returns the line, or "" when none
 */
export function lastLogLine(path: string): string {
  try {
    const lines = Deno.readTextFileSync(path).split("\n").map((l) => l.trim()).filter(Boolean);
    return lines.at(-1) ?? "";
  } catch {
    return "";
  }
}

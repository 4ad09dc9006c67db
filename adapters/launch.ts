/**
 * Starting engines: on this machine (a child process), over ssh, or with `srun` on a Slurm node.
 * Each launcher's stdout/stderr go to `<uid>_<label>_<node>_engine_wrap.log`, which
 * is where a remote start-up error lands; a launch that ends before its engine joined is reported
 * with that file's last line.
 *
 * @module
 */

import type { PlannedEngine } from "../lib/context_plan.ts";
import { engineArgv, localEngineEnv } from "../lib/launch_contract.ts";
import { selfCommand, shellQuote } from "./self_command.ts";

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

const CLOSE_FDS_AND_EXEC =
  'for f in /proc/$$/fd/*; do f=${f##*/}; [ "$f" -gt 2 ] 2>/dev/null && eval "exec $f>&-"; done; exec "$@"';

/**
 * Start one engine.
 * @param p what and where
 * @param i run facts
 * @param seq a number unique within the context (for the launch id)
 * @returns the launched process
 */
export function launchEngine(p: EnginePlan, i: LaunchInput, seq: number): LaunchedEngine {
  const launchId = `${i.context}.${seq}`;
  const wrapLog = `${i.uid}_${i.label}_${p.host}_engine_wrap.log`;
  const args = engineArgv({
    connect: p.via === "local" ? i.localConnect : i.connect,
    context: i.context,
    host: p.host,
    slots: p.slots,
    coresPerSlot: p.coresPerSlot,
    label: i.label,
    launch: launchId,
    envResource: i.envResource,
  });
  const dbUtil = `${i.uid}_dbUtil.sh`;
  let argv: string[];
  const env: Record<string, string> = { ...(p.env ?? {}) };
  if (p.via === "local") {
    // Through a shell that first closes every inherited descriptor above 2, so tasks see only
    // stdin/stdout/stderr (the reference's close_fds=True): a pipe the user's shell or CI runner
    // left open must not be held by a task's daemon.
    argv = ["/bin/bash", "-c", CLOSE_FDS_AND_EXEC, "disbatch-engine", ...selfCommand(), ...args];
    Object.assign(env, localEngineEnv(i.secret));
  } else if (p.via === "ssh") {
    // The secret reaches the remote engine through the 0700 dbUtil.sh on the shared file system,
    // never on a command line (visible in `ps` to every user of that host).
    argv = [
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
      [dbUtil, ...args].map(shellQuote).join(" "),
    ];
  } else {
    argv = [
      "srun",
      "-N",
      "1",
      "-n",
      "1",
      "-c",
      String(Math.max(1, Math.min(p.cpus ?? Infinity, p.slots * Math.max(1, p.coresPerSlot)))),
      "-w",
      p.host,
      "--overlap",
      "--kill-on-bad-exit=0",
      "--no-kill",
      dbUtil,
      ...args,
    ];
  }
  const file = Deno.openSync(wrapLog, { write: true, create: true, append: true });
  const child = new Deno.Command(argv[0]!, {
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

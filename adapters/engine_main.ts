/**
 * `disbatch --engine …`: the engine's command line (internal; started by contexts, see
 * `lib/launch_contract.ts`).
 *
 * @module
 */

import { noSlotReason, splitEnvResources } from "../lib/task_env.ts";
import {
  LAUNCH_ENV,
  LaunchContractError,
  parseEngineArgv,
  parseStandbyLine,
  STANDBY_FLAG,
  STANDBY_LINE_MAX,
  type StandbyLaunch,
} from "../lib/launch_contract.ts";
import { runEngine } from "./engine.ts";
import { discardPreparedTasks, prepareTasks } from "./engine_tasks.ts";
import { authMac } from "../lib/protocol.ts";

/**
 * Parse the engine's arguments and run it.
 * @param args arguments after `--engine`
 * @returns exit status (2, with one line on stderr, when started for another launch contract)
 */
export async function engineMain(args: string[]): Promise<number> {
  if (args[0] === STANDBY_FLAG && args.length === 1) {
    // Started ahead by a driver (see adapters/standby.ts): the launch comes on stdin, or nothing does.
    // Meanwhile, what an engine starts before it can take tasks: python, and the HMAC code.
    prepareTasks();
    authMac("-", "peer", "-");
    const launch = await readLaunch();
    if (!launch) {
      discardPreparedTasks();
      return 0;
    }
    for (const [k, v] of Object.entries(launch.env)) Deno.env.set(k, v);
    args = launch.argv.slice(1);
  }
  let started;
  try {
    started = parseEngineArgv(args, Deno.env.toObject());
  } catch (e) {
    if (!(e instanceof LaunchContractError)) throw e;
    Deno.stderr.writeSync(new TextEncoder().encode(e.message + "\n"));
    return 2;
  }
  const { launch: l, secret } = started;
  const host = l.host || Deno.env.get(LAUNCH_ENV.slurmNode) || Deno.hostname();
  // `-E` values come from this host's environment: the slots they leave are the ones the engine
  // offers (an engine that offered more would be sent tasks it cannot start).
  let slots = l.slots;
  // Said by the driver too: an srun step's stderr may reach its wrap log only when the step ends.
  const notes: string[] = [];
  if (l.envResource.length) {
    const split = splitEnvResources(l.envResource, Deno.env.toObject(), l.slots);
    for (const w of split.warnings) {
      Deno.stderr.writeSync(new TextEncoder().encode(`disbatch engine on ${host}: ${w}\n`));
      notes.push(w);
    }
    if (split.slots < 1) {
      Deno.stderr.writeSync(
        new TextEncoder().encode(
          `disbatch engine on ${host}: no slot can run tasks: ${noSlotReason(split.unset)}${
            split.unset.length ? " here" : ""
          }; set it in the environment the engine starts in, or drop -E\n`,
        ),
      );
      return 1;
    }
    slots = split.slots;
  }
  return await runEngine({
    connect: l.connect,
    secret,
    context: l.context,
    host,
    slots,
    coresPerSlot: l.coresPerSlot,
    label: l.label,
    envResource: l.envResource,
    ...(l.launch !== undefined ? { launch: l.launch } : {}),
    ...(notes.length ? { notes } : {}),
  });
}

/** A standby's launch: one line on stdin (undefined at its end, or for anything else). */
async function readLaunch(): Promise<StandbyLaunch | undefined> {
  const buf = new Uint8Array(1 << 16);
  const parts: Uint8Array[] = [];
  let size = 0;
  while (size <= STANDBY_LINE_MAX) {
    const n = await Deno.stdin.read(buf);
    if (n === null) return undefined;
    const chunk = buf.slice(0, n);
    const nl = chunk.indexOf(10);
    parts.push(nl < 0 ? chunk : chunk.subarray(0, nl));
    size += n;
    if (nl >= 0) {
      const line = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      let off = 0;
      for (const p of parts) {
        line.set(p, off);
        off += p.length;
      }
      return parseStandbyLine(new TextDecoder().decode(line));
    }
  }
  return undefined;
}

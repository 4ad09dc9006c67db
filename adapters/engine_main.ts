/**
 * `disbatch --engine …`: the engine's command line (internal; started by contexts, see
 * `lib/launch_contract.ts`).
 *
 * @module
 */

import { LAUNCH_ENV, LaunchContractError, parseEngineArgv } from "../lib/launch_contract.ts";
import { runEngine } from "./engine.ts";

/**
 * Parse the engine's arguments and run it.
 * @param args arguments after `--engine`
 * @returns exit status (2, with one line on stderr, when started for another launch contract)
 */
export async function engineMain(args: string[]): Promise<number> {
  let started;
  try {
    started = parseEngineArgv(args, Deno.env.toObject());
  } catch (e) {
    if (!(e instanceof LaunchContractError)) throw e;
    Deno.stderr.writeSync(new TextEncoder().encode(e.message + "\n"));
    return 2;
  }
  const { launch: l, secret } = started;
  return await runEngine({
    connect: l.connect,
    secret,
    context: l.context,
    host: l.host || Deno.env.get(LAUNCH_ENV.slurmNode) || Deno.hostname(),
    slots: l.slots,
    coresPerSlot: l.coresPerSlot,
    label: l.label,
    envResource: l.envResource,
    ...(l.launch !== undefined ? { launch: l.launch } : {}),
  });
}

/**
 * `disbatch --engine …`: the engine's command line (internal; started by contexts).
 *
 * @module
 */

import { intOption, parseArgv, UsageError } from "../lib/cli.ts";
import { runEngine } from "./engine.ts";

/**
 * Parse the engine's arguments and run it.
 * @param args arguments after `--engine`
 * @returns exit status
 */
export async function engineMain(args: string[]): Promise<number> {
  const { options: o } = parseArgv(args, [
    { long: "connect", type: "value" },
    { long: "context", type: "value" },
    { long: "host", type: "value" },
    { long: "slots", type: "value" },
    { long: "cores", type: "value" },
    { long: "label", type: "value" },
    { long: "launch", type: "value" },
    { long: "env-resource", short: "E", type: "list" },
  ]);
  const secret = Deno.env.get("DISBATCH_SECRET");
  if (!secret) {
    throw new UsageError("--engine: DISBATCH_SECRET is not set (engines are started by disbatch itself)");
  }
  for (const k of ["connect", "context", "host", "slots", "cores", "label"]) {
    if (typeof o[k] !== "string") throw new UsageError(`--engine: --${k} is required`);
  }
  const slurmNode = Deno.env.get("SLURMD_NODENAME");
  return await runEngine({
    connect: o.connect as string,
    secret,
    context: intOption("--context", o.context as string, 0),
    host: (o.host as string) || slurmNode || Deno.hostname(),
    slots: intOption("--slots", o.slots as string, 1),
    coresPerSlot: intOption("--cores", o.cores as string, 0),
    label: o.label as string,
    envResource: (o["env-resource"] as string[] | undefined) ?? [],
    ...(typeof o.launch === "string" ? { launch: o.launch } : {}),
  });
}

/**
 * The engine's launch contract: how whatever starts an engine (the driver's own contexts, a
 * context added with `<run>_dbUtil.sh`) tells it what to do, and how `<run>_dbUtil.sh` hands the
 * run's address and secret to everything it starts (engines over ssh and srun, contexts, the
 * monitor, `--stop` and `--status`).
 *
 * - The engine's command line: `disbatch --engine --contract N --connect ADDRS --context ID
 *   --host HOST --slots N --cores N --label LABEL [--launch ID] [-E VAR=VALUE]…`, built by
 *   {@linkcode engineArgv} and read back by {@linkcode parseEngineArgv}.
 * - A standby: `disbatch --engine --standby`, started by a driver as it starts, reads that command
 *   line (and the variables above) from one line of its stdin ({@linkcode standbyLine}) when the
 *   driver's own context needs an engine on the driver's machine. Driver and standby are always the
 *   same executable (the driver starts it), so the standby adds nothing to the contract's version.
 * - The environment: {@linkcode LAUNCH_ENV} — the secret always (a local engine gets it in its
 *   environment, a remote one from `<run>_dbUtil.sh`, never on a command line), and, set by
 *   `<run>_dbUtil.sh`, the driver's addresses and the run's uid ({@linkcode dbUtilExports}).
 *
 * The two sides are the same binary in a sound run; they differ when the executable was replaced
 * while a run goes on (a new copy in `$HOME/bin`, a source tree updated). An engine started with
 * another contract version refuses to run with one line saying so, which its launcher's log keeps
 * and the context reports.
 *
 * !!! IMPORTANT !!! Any change to a flag, a variable or what `dbUtil.sh` exports must increment
 * LAUNCH_CONTRACT_VERSION.
 *
 * @module
 */

import { intOption, parseArgv, UsageError } from "./cli.ts";

/** Bumped on every incompatible change of the engine's command line or environment. */
export const LAUNCH_CONTRACT_VERSION = 1;

/** The mode word that makes disbatch an engine (first argument). */
export const ENGINE_MODE = "--engine";

/** The word after {@linkcode ENGINE_MODE} that makes an engine a standby (see {@linkcode standbyLine}). */
export const STANDBY_FLAG = "--standby";

/** The longest launch line a standby reads (a command line and a few variables). */
export const STANDBY_LINE_MAX = 1 << 20;

/** What a standby engine is handed: its command line and the variables to add to its environment. */
export interface StandbyLaunch {
  /** The engine's command line from {@linkcode ENGINE_MODE} on (see {@linkcode engineArgv}). */
  argv: string[];
  env: Record<string, string>;
}

/**
 * The line that hands a standby engine its launch.
 * @param l its command line and variables
 * @returns one JSON text and a newline
 */
export function standbyLine(l: StandbyLaunch): string {
  return JSON.stringify({ argv: l.argv, env: l.env }) + "\n";
}

/**
 * Read a standby's launch line back.
 * @param line the line, without its newline
 * @returns the launch, or undefined for anything else (a standby given nothing usable exits quietly)
 */
export function parseStandbyLine(line: string): StandbyLaunch | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const { argv, env } = v as { argv?: unknown; env?: unknown };
  if (!Array.isArray(argv) || argv[0] !== ENGINE_MODE || !argv.every((a) => typeof a === "string")) {
    return undefined;
  }
  if (typeof env !== "object" || env === null || Array.isArray(env)) return undefined;
  if (!Object.values(env).every((x) => typeof x === "string")) return undefined;
  return { argv: argv as string[], env: env as Record<string, string> };
}

/** The environment variables of the contract. */
export const LAUNCH_ENV = {
  /** The run's secret (hex): every peer proves with it that it belongs to the run. */
  secret: "DISBATCH_SECRET",
  /** The driver's addresses (`host:port`, comma-separated, tried in order). */
  driver: "DISBATCH_DRIVER",
  /** The first of them, under disBatch's name (tasks see it too). */
  kvsstcpHost: "DISBATCH_KVSSTCP_HOST",
  /** The run's uid path prefix. */
  uid: "DISBATCH_UID",
  /** Set by Slurm on a node: an engine started with an empty `--host` takes it as its host name. */
  slurmNode: "SLURMD_NODENAME",
  /** The soft `ulimit -v` (KiB) that the launcher of `disbatch install` lifted: tasks get it back. */
  softVmem: "DISBATCH_SOFT_VMEM_KIB",
  /** Set (`1`) for an engine that srun started in its node's step (see `engineEnv`'s `srunStep`). */
  srunStep: "DISBATCH_SRUN_STEP",
} as const;

/** Variables an engine removes from its own environment before it starts tasks (the run's keys). */
export const ENGINE_PRIVATE_ENV: readonly string[] = [
  LAUNCH_ENV.secret,
  LAUNCH_ENV.driver,
  LAUNCH_ENV.uid,
  LAUNCH_ENV.softVmem,
  LAUNCH_ENV.srunStep,
];

/**
 * The soft `ulimit -v` to give tasks back, from an engine's environment.
 * @param env the environment @returns KiB, or undefined when none was lifted
 */
export function softVmemOf(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const v = env[LAUNCH_ENV.softVmem]?.trim();
  return v && /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : undefined;
}

/** What an engine is told on its command line. */
export interface EngineLaunch {
  /** Driver addresses to try, comma-separated. */
  connect: string;
  /** The context that starts it. */
  context: number;
  /** The host it runs on as the run names it (empty: `SLURMD_NODENAME`, else the host name). */
  host: string;
  /** Concurrent task slots. */
  slots: number;
  /** `DISBATCH_CORES_PER_TASK` of its tasks. */
  coresPerSlot: number;
  /** The context's label (names the engine's log files). */
  label: string;
  /** The launch id the context gave it (to match launcher processes), when it has one. */
  launch?: string;
  /** `-E VAR=VALUE` resource variables, in order. */
  envResource: string[];
}

/** A command line or environment that does not follow the contract. */
export class LaunchContractError extends Error {
  /** @param message one line: what is wrong and what to do */
  constructor(message: string) {
    super(message);
    this.name = "LaunchContractError";
  }
}

/**
 * The engine's command line (after the program: `[ENGINE_MODE, …]`).
 * @param l what the engine is told
 * @returns argv words, the mode word first
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { engineArgv, parseEngineArgv } from "./launch_contract.ts";
 * const l = { connect: "10.0.0.1:4", context: 1, host: "n1", slots: 4, coresPerSlot: 1, label: "J7",
 *   launch: "1.0", envResource: [] };
 * const argv = engineArgv(l);
 * assert.equal(argv[0], "--engine");
 * assert.deepEqual(parseEngineArgv(argv.slice(1), { DISBATCH_SECRET: "5ec" }), { launch: l, secret: "5ec" });
 * ```
 */
export function engineArgv(l: EngineLaunch): string[] {
  const a = [
    ENGINE_MODE,
    "--contract",
    String(LAUNCH_CONTRACT_VERSION),
    "--connect",
    l.connect,
    "--context",
    String(l.context),
    "--host",
    l.host,
    "--slots",
    String(l.slots),
    "--cores",
    String(l.coresPerSlot),
    "--label",
    l.label,
  ];
  if (l.launch !== undefined) a.push("--launch", l.launch);
  for (const v of l.envResource) a.push("-E", v);
  return a;
}

const ENGINE_OPTIONS = [
  { long: "contract", type: "value" },
  { long: "connect", type: "value" },
  { long: "context", type: "value" },
  { long: "host", type: "value" },
  { long: "slots", type: "value" },
  { long: "cores", type: "value" },
  { long: "label", type: "value" },
  { long: "launch", type: "value" },
  { long: "env-resource", short: "E", type: "list" },
] as const;

/**
 * Read the engine's command line and environment back.
 * @param args the words after {@linkcode ENGINE_MODE}
 * @param env the engine's environment (the secret)
 * @returns what the engine was told, and the run's secret
 * @throws {LaunchContractError} when it was built for another contract version (or none)
 * @throws {UsageError} for a missing secret, or a missing or malformed option
 */
export function parseEngineArgv(
  args: readonly string[],
  env: Record<string, string | undefined>,
): { launch: EngineLaunch; secret: string } {
  const { options: o } = parseArgv(args, ENGINE_OPTIONS);
  const version = o.contract;
  if (version !== String(LAUNCH_CONTRACT_VERSION)) {
    throw new LaunchContractError(
      `disbatch ${ENGINE_MODE}: started ${
        typeof version === "string"
          ? `for launch contract ${version.slice(0, 20)}`
          : "without a launch contract version (by an older disbatch)"
      }, but this disbatch speaks launch contract ${LAUNCH_CONTRACT_VERSION}: the executable was replaced while the run went on; use the same disbatch binary for the driver and all its engines`,
    );
  }
  const secret = env[LAUNCH_ENV.secret];
  if (!secret) {
    throw new UsageError(
      `${ENGINE_MODE}: ${LAUNCH_ENV.secret} is not set (engines are started by disbatch itself)`,
    );
  }
  for (const k of ["connect", "context", "host", "slots", "cores", "label"]) {
    if (typeof o[k] !== "string") throw new UsageError(`${ENGINE_MODE}: --${k} is required`);
  }
  const launch: EngineLaunch = {
    connect: o.connect as string,
    context: intOption("--context", o.context as string, 0),
    host: o.host as string,
    slots: intOption("--slots", o.slots as string, 1),
    coresPerSlot: intOption("--cores", o.cores as string, 0),
    label: o.label as string,
    ...(typeof o.launch === "string" ? { launch: o.launch } : {}),
    envResource: (o["env-resource"] as string[] | undefined) ?? [],
  };
  return { launch, secret };
}

/**
 * The environment a local engine is started with, on top of its plan's and the driver's own.
 * @param secret the run's secret
 * @returns the variables to set
 */
export function localEngineEnv(secret: string): Record<string, string> {
  return { [LAUNCH_ENV.secret]: secret };
}

/** What `<run>_dbUtil.sh` exports. */
export interface DriverEnv {
  /** Addresses of the driver, tried in order. */
  addresses: string[];
  secret: string;
  uid: string;
}

function q(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The `export` lines of `<run>_dbUtil.sh`.
 * @param d the driver's addresses, the secret and the run's uid
 * @returns shell lines, each ending in a newline
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dbUtilExports, driverEnvOf } from "./launch_contract.ts";
 * const text = dbUtilExports({ addresses: ["h:1", "g:1"], secret: "5ec", uid: "/w/J" });
 * assert.match(text, /^export DISBATCH_DRIVER='h:1,g:1'$/m);
 * assert.deepEqual(driverEnvOf({ DISBATCH_DRIVER: "h:1,g:1", DISBATCH_SECRET: "5ec", DISBATCH_UID: "/w/J" }),
 *   { addresses: ["h:1", "g:1"], secret: "5ec", uid: "/w/J" });
 * ```
 */
export function dbUtilExports(d: DriverEnv): string {
  return `export ${LAUNCH_ENV.kvsstcpHost}=${q(d.addresses[0] ?? "")}
export ${LAUNCH_ENV.driver}=${q(d.addresses.join(","))}
export ${LAUNCH_ENV.secret}=${q(d.secret)}
export ${LAUNCH_ENV.uid}=${q(d.uid)}
`;
}

/**
 * What a process started through `<run>_dbUtil.sh` reads from its environment.
 * @param env the environment
 * @returns the driver's addresses (`DISBATCH_DRIVER`, else `DISBATCH_KVSSTCP_HOST`), the secret and
 *   the uid, or undefined when there is no address or no secret
 */
export function driverEnvOf(env: Record<string, string | undefined>): DriverEnv | undefined {
  const addresses = (env[LAUNCH_ENV.driver] ?? env[LAUNCH_ENV.kvsstcpHost] ?? "").split(",").filter(Boolean);
  const secret = env[LAUNCH_ENV.secret];
  if (addresses.length === 0 || !secret) return undefined;
  return { addresses, secret, uid: env[LAUNCH_ENV.uid] ?? "" };
}

/**
 * The secret a `<run>_dbUtil.sh` holds (a driver restarted with `--reattach` takes it back).
 * @param text the script's text
 * @returns the secret, or undefined when the script holds none
 */
export function secretInDbUtil(text: string): string | undefined {
  return new RegExp(`^export ${LAUNCH_ENV.secret}='([0-9a-f]+)'$`, "m").exec(text)?.[1];
}

/** How an engine was started: its launch, with the run's secret and the node it runs on. */
export interface EngineOptions {
  /** Driver `host:port`. */
  connect: string;
  /** Run secret (hex). */
  secret: string;
  /** Context id that launched it. */
  context: number;
  /** Node column name. */
  host: string;
  slots: number;
  coresPerSlot: number;
  envResource: string[];
  /** Context label, for the log file name. */
  label: string;
  /** Launch id given by the context. */
  launch?: string;
  /** What the engine found wrong as it started (too few `-E` values): the driver says it to the user. */
  notes?: string[];
}

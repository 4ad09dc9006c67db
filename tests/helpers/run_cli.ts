/**
 * The one launcher every test uses to run the CLI: `$DISBATCH_BIN` when set (a compiled binary),
 * else `deno run -A main.ts`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { V8_FLAGS } from "../../adapters/self_command.ts";

/** Path of the repository's main.ts. */
export const MAIN_TS = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** argv prefix that runs disbatch. */
export function cliCommand(): string[] {
  const bin = Deno.env.get("DISBATCH_BIN");
  if (bin) return [bin];
  return [Deno.execPath(), "run", "-A", "--no-lock", "--quiet", `--v8-flags=${V8_FLAGS}`, MAIN_TS];
}

/** Result of one CLI run. */
export interface CliResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  /** Wall seconds. */
  wall: number;
}

/** Options for {@linkcode runCli}. */
export interface RunCliOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Text written to stdin (then closed); stdin is /dev/null otherwise. */
  stdin?: string;
  /** Kill the run after this many ms (the test then fails on the code). Default 120 s. */
  timeoutMs?: number;
}

/**
 * Run disbatch with `args` and collect its output.
 * @param args command-line arguments
 * @param o cwd, env, stdin, timeout
 * @returns exit code, signal, stdout, stderr, wall time
 */
export async function runCli(args: string[], o: RunCliOptions = {}): Promise<CliResult> {
  const [cmd, ...pre] = cliCommand();
  const t0 = performance.now();
  const child = spawnPiped(cmd!, [...pre, ...args], {
    cwd: o.cwd,
    env: o.env,
    stdin: o.stdin !== undefined ? "piped" : "null",
  });
  if (o.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(o.stdin));
    await w.close();
  }
  const { timedOut: _, ...out } = await outputWithin(child, o.timeoutMs ?? 120_000);
  return { ...out, wall: (performance.now() - t0) / 1000 };
}

/**
 * Spawn disbatch without waiting (for signal and kill tests).
 * @param args arguments @param o cwd/env
 * @returns the child (stdout/stderr piped)
 */
export function spawnCli(
  args: string[],
  o: { cwd?: string; env?: Record<string, string> } = {},
): Deno.ChildProcess {
  const [cmd, ...pre] = cliCommand();
  return spawnPiped(cmd!, [...pre, ...args], o);
}

/**
 * Start a program with stdout and stderr piped (stdin is /dev/null unless `o.stdin` is "piped").
 * @param cmd program @param args arguments @param o cwd, env, stdin
 * @returns the child
 */
export function spawnPiped(
  cmd: string,
  args: string[],
  o: { cwd?: string; env?: Record<string, string>; stdin?: "null" | "piped" } = {},
): Deno.ChildProcess {
  return new Deno.Command(cmd, {
    args,
    cwd: o.cwd,
    env: o.env,
    stdin: o.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Exit status and decoded output of a finished program. */
export interface Decoded {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/**
 * Decode a finished program's output.
 * @param out what `child.output()` gave
 * @returns code, signal, stdout and stderr as text
 */
export function decoded(out: Deno.CommandOutput): Decoded {
  const dec = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/**
 * Wait for a child started by {@linkcode spawnPiped}, killing it (SIGKILL) after `timeoutMs`.
 * @param child the running program @param timeoutMs deadline
 * @returns its decoded output, and whether the deadline killed it
 */
export async function outputWithin(
  child: Deno.ChildProcess,
  timeoutMs: number,
): Promise<Decoded & { timedOut: boolean }> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  const out = await child.output();
  clearTimeout(timer);
  return { ...decoded(out), timedOut };
}

/**
 * A fresh temporary directory, removed on dispose.
 * @param prefix name prefix
 * @returns the path and a disposer
 */
export async function tempDir(prefix = "disbatch_test_"): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The single status file of a run directory.
 * @param dir directory
 * @returns its path
 */
export function statusFileIn(dir: string): string {
  const f = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith("_status.txt")).map((e) =>
    `${dir}/${e.name}`
  );
  if (f.length !== 1) throw new Error(`expected one status file in ${dir}, found ${f.length}`);
  return f[0]!;
}

/**
 * Status lines split into fields (header skipped).
 * @param path status file
 * @returns rows of 15 fields
 */
export function statusRows(path: string): string[][] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => l && !l.startsWith("ROE[ PSZ]\t")).map((l) => {
    const f = l.split("\t");
    return [...f.slice(0, 14), f.slice(14).join("\t")];
  });
}

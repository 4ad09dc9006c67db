/**
 * How to start this program again (engines, contexts, the monitor): the compiled binary itself,
 * or `deno run -A <main.ts>` when running from source. Getting this wrong would make the
 * program start itself forever, so it lives in one place.
 *
 * @module
 */

/**
 * What V8 starts with in every disbatch process: `--optimize-for-size` keeps the heap near its live
 * size, so that a driver's and an engine's memory stay flat over a run of 100,000 short tasks (they
 * grew by half again without it, from garbage kept between full collections), at no cost in CPU.
 * Baked into the compiled binary (`deno compile --v8-flags`); from source, `deno run --v8-flags`.
 */
export const V8_FLAGS = "--optimize-for-size";

/**
 * The argv prefix that runs this program.
 * @returns e.g. `["/home/u/bin/disbatch"]` or `["/usr/bin/deno", "run", "-A", …, "/src/main.ts"]`
 */
export function selfCommand(): string[] {
  // A compiled binary is never a Slurm batch script itself (sbatch refuses it): `sbatch disbatch`
  // runs the launcher written by `disbatch install`, which execs the kept executable by its real
  // path, so this path is valid on every node that shares the file system.
  if (Deno.build.standalone) return [Deno.execPath()];
  // A file URL's path, its %-escapes decoded (node:url would load the runtime's Node layer).
  const main = decodeURIComponent(new URL("../main.ts", import.meta.url).pathname);
  return [Deno.execPath(), "run", "-A", "--no-lock", "--quiet", `--v8-flags=${V8_FLAGS}`, main];
}

export { shellQuote } from "../lib/text.ts";

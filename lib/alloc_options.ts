/**
 * What disbatch reads from the sbatch options of `--alloc`: the nodes each allocation asks for and
 * its time limit, as sbatch reads them. Pure; {@linkcode allocNodeCount} is re-exported from
 * {@linkcode ./driver_options.ts}.
 *
 * @module
 */

import { parseDuration } from "./duration.ts";

/**
 * The time limit in `--alloc`'s sbatch options (`-t 30` is 30 minutes, as Slurm reads it).
 * @param args the options @returns seconds, or undefined when none is given
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocTimeLimit } from "./alloc_options.ts";
 * assert.equal(allocTimeLimit(["-N", "2", "-t", "30"]), 1800);
 * assert.equal(allocTimeLimit(["--time=1:00:00"]), 3600);
 * assert.equal(allocTimeLimit(["-n", "8"]), undefined);
 * ```
 */
export function allocTimeLimit(args: string[]): number | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a === "-t" || a === "--time"
      ? args[i + 1]
      : a.startsWith("--time=")
      ? a.slice(7)
      : /^-t./.test(a)
      ? a.slice(2)
      : undefined;
    if (v === undefined) continue;
    return /^\d+$/.test(v) ? Number(v) * 60 : parseDuration(v);
  }
  return undefined;
}

/**
 * The nodes one allocation of `--alloc` asks for: its `-N`/`--nodes` (the most of a range or list,
 * `-N 2-4` is 4), 1 without one.
 * @param args the options of `--alloc` @returns a count of at least 1
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocNodeCount } from "./alloc_options.ts";
 * assert.equal(allocNodeCount(["-N", "2", "-t", "1:00:00"]), 2);
 * assert.equal(allocNodeCount(["--nodes=2-4"]), 4);
 * assert.equal(allocNodeCount(["-n", "8"]), 1);
 * ```
 */
export function allocNodeCount(args: readonly string[]): number {
  let n = 1;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const v = a === "-N" || a === "--nodes"
      ? args[++i]
      : a.startsWith("--nodes=")
      ? a.slice(8)
      : /^-N./.test(a)
      ? a.slice(2)
      : undefined;
    if (v === undefined) continue;
    // The last -N wins, as sbatch reads it.
    n = Math.max(1, ...(v.match(/\d+/g) ?? ["1"]).map(Number));
  }
  return n;
}

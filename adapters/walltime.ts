/**
 * When the run must be over: `--end-time`, `--walltime`, or, for a driver inside a Slurm job, the
 * job's end (`squeue -o %L`, the time left, so that the clocks of the controller and of this node
 * need not agree). The Slurm end is asked again every minute: a time limit raised with
 * `scontrol update` moves it.
 *
 * @module
 */

import type { DriverInvocation } from "../lib/driver_options.ts";
import { parseDuration } from "../lib/duration.ts";

/** Where the end comes from, for messages. */
export interface RunEnd {
  /** Unix seconds. */
  end: number;
  /** `--end-time`, `--walltime` or `the time limit of Slurm job N`. */
  source: string;
  /** For a Slurm job: ask again (undefined when it has no limit or squeue failed). */
  refresh?: (warn: (message: string) => void) => Promise<number | undefined>;
}

/**
 * @param inv the command line @param env the environment @param now Unix seconds
 * @param warn told why Slurm's end could not be known
 * @returns the end, or undefined when the run has none
 */
export async function findRunEnd(
  inv: Pick<DriverInvocation, "endTime" | "walltime">,
  env: Record<string, string | undefined>,
  now: number,
  warn: (message: string) => void,
): Promise<RunEnd | undefined> {
  if (inv.endTime !== undefined) return { end: inv.endTime, source: "--end-time" };
  if (inv.walltime !== undefined) return { end: now + inv.walltime, source: "--walltime" };
  const job = env.SLURM_JOB_ID ?? env.SLURM_JOBID;
  if (!job) return undefined;
  const refresh = async (say: (message: string) => void) => {
    const left = await slurmTimeLeft(job, say);
    return left === undefined ? undefined : Date.now() / 1000 + left;
  };
  const end = await refresh(warn);
  if (end === undefined) return undefined;
  return { end, source: `the time limit of Slurm job ${job}`, refresh };
}

/** Seconds left in a Slurm job, or undefined (no limit, or squeue could not say). */
async function slurmTimeLeft(job: string, warn: (message: string) => void): Promise<number | undefined> {
  try {
    const out = await new Deno.Command("squeue", {
      args: ["-h", "-j", job, "-o", "%L"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success) {
      warn(
        `squeue -j ${job} failed (${new TextDecoder().decode(out.stderr).trim()}); no walltime from Slurm`,
      );
      return undefined;
    }
    const left = parseDuration(text);
    if (left === undefined && text !== "UNLIMITED") {
      warn(`squeue says "${text}" is left of Slurm job ${job}: no walltime from Slurm`);
    }
    return left;
  } catch (e) {
    warn(`squeue could not run (${e instanceof Error ? e.message : e}); no walltime from Slurm`);
    return undefined;
  }
}

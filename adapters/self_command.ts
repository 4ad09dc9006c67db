/**
 * How to start this program again (engines, contexts, the monitor): the compiled binary itself,
 * or `deno run -A <main.ts>` when running from source. Getting this wrong would make the
 * program start itself forever, so it lives in one place.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/**
 * The argv prefix that runs this program.
 * @returns e.g. `["/home/u/bin/disbatch"]` or `["/usr/bin/deno", "run", "-A", "/src/main.ts"]`
 */
export function selfCommand(): string[] {
  if (Deno.build.standalone) return [standalonePath()];
  const main = fileURLToPath(new URL("../main.ts", import.meta.url));
  return [Deno.execPath(), "run", "-A", "--no-lock", "--quiet", main];
}

let cached: string | undefined;

/**
 * The compiled binary's path as other nodes can run it. `sbatch disbatch Tasks` makes the binary
 * itself the batch script, and slurmd runs a copy in its node-local spool
 * (`…/job00042/slurm_script`), which other nodes cannot see: then use the path that was
 * submitted (`Command=` of `scontrol show job`), or, failing that, the `disbatch` on PATH.
 */
function standalonePath(): string {
  if (cached) return cached;
  const exec = Deno.execPath();
  cached = exec;
  const job = Deno.env.get("SLURM_JOB_ID") ?? Deno.env.get("SLURM_JOBID");
  if (!exec.endsWith("/slurm_script") || !job) return cached;
  try {
    const out = new Deno.Command("scontrol", {
      args: ["show", "job", "-o", job],
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    const cmd = scontrolCommandField(new TextDecoder().decode(out.stdout));
    if (cmd && Deno.statSync(cmd).isFile) return cached = cmd;
  } catch { /* no scontrol or no such file: try PATH */ }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (dir && Deno.statSync(`${dir}/disbatch`).isFile) return cached = `${dir}/disbatch`;
    } catch { /* next */ }
  }
  return cached;
}

/**
 * The `Command=` field of `scontrol show job -o` (the submitted batch script's path), made
 * absolute with `WorkDir=` when it was submitted as a relative path.
 * @param text scontrol output
 * @returns the path, or undefined
 */
export function scontrolCommandField(text: string): string | undefined {
  const m = text.match(/(?:^|\s)Command=(\S+)/);
  if (!m || m[1] === "(null)") return undefined;
  if (m[1]!.startsWith("/")) return m[1];
  const wd = text.match(/(?:^|\s)WorkDir=(\S+)/)?.[1];
  return wd ? `${wd.replace(/\/$/, "")}/${m[1]!.replace(/^\.\//, "")}` : undefined;
}

/**
 * Quote for a POSIX shell (single quotes).
 * @param s text
 * @returns the quoted word
 */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

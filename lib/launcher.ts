/**
 * The launcher that `disbatch install` writes: a small POSIX `#!/bin/sh` script that sbatch accepts
 * as a batch script (text, starts with `#!`, no NUL, far below sbatch's 4 MB limit), which execs the
 * real executable after lifting the soft virtual-memory limit. The Deno runtime reserves about
 * 32 GiB of address space when it starts (V8's heap cage); under a lower `ulimit -v` it dies at once
 * with "Fatal process out of memory" (exit 133). Login nodes often set such a limit and Slurm
 * carries the submitting shell's limits into the job, so every process disbatch starts goes through
 * this guard: the launcher, and `<uid>_dbUtil.sh` for engines over ssh/srun, contexts and the monitor.
 *
 * @module
 */

import { LAUNCH_ENV } from "./launch_contract.ts";
import { shellQuote } from "./text.ts";

/**
 * Address space (KiB, the unit of `ulimit -v`) below which the runtime cannot start: measured, it
 * needs a little under 34,000,000 KiB; the margin covers the heap of a long run.
 */
export const MIN_VMEM_KIB = 35_000_000;

/** First line of every launcher's marker comment (to recognise one when reinstalling). */
export const LAUNCHER_MARK = "# disbatch launcher";

/**
 * POSIX shell lines that raise the soft `ulimit -v` to the hard limit and, when even that is too
 * low for the runtime, print one line saying so and exit 2 (instead of the runtime's crash).
 *
 * @returns shell text ending in a newline (uses and unsets `disbatch_vm`)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vmemGuard } from "./launcher.ts";
 * assert.match(vmemGuard(), /ulimit -S -v/);
 * ```
 */
export function vmemGuard(): string {
  return `disbatch_vs=$(ulimit -S -v 2>/dev/null)
disbatch_vm=$(ulimit -H -v 2>/dev/null)
ulimit -S -v "\${disbatch_vm:-unlimited}" 2>/dev/null
disbatch_vm=$(ulimit -S -v 2>/dev/null)
# The tasks get the user's soft limit back (the engine sets it for them).
if [ "$disbatch_vs" != unlimited ] && [ "$disbatch_vs" != "$disbatch_vm" ]; then
  ${LAUNCH_ENV.softVmem}=$disbatch_vs; export ${LAUNCH_ENV.softVmem}
fi
if [ "$disbatch_vm" -lt ${MIN_VMEM_KIB} ] 2>/dev/null; then
  echo "disbatch: the hard virtual memory limit on $(uname -n) is $disbatch_vm KiB (ulimit -H -v); disbatch needs at least ${MIN_VMEM_KIB} KiB (about 34 GB) of address space, which its runtime reserves but does not use: ask the cluster's admins to raise or remove that limit" >&2
  exit 2
fi
unset disbatch_vm disbatch_vs
`;
}

/** What a launcher runs. */
export interface LauncherInput {
  /** argv prefix of the real program (the executable, or `deno run … main.ts`). */
  exec: string[];
  /** Version written into the marker comment. */
  version: string;
}

/**
 * Render the launcher script.
 *
 * @param i what to run and which version it is
 * @returns the script text (a few hundred bytes of POSIX sh)
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderLauncher } from "./launcher.ts";
 * const s = renderLauncher({ exec: ["/opt/disbatch/0.2.0/disbatch"], version: "0.2.0" });
 * assert.ok(s.startsWith("#!/bin/sh\n"));
 * assert.match(s, /exec \/opt\/disbatch\/0\.2\.0\/disbatch "\$@"\n$/);
 * ```
 */
export function renderLauncher(i: LauncherInput): string {
  const x = i.exec.map(shellQuote).join(" ");
  return `#!/bin/sh
${LAUNCHER_MARK} ${i.version}: written by \`disbatch install\`; run that again to update it.
# Lifts the soft virtual-memory limit first: the runtime reserves ~32 GiB of address space.
${vmemGuard()}${supervisor(x)}exec ${x} "$@"
`;
}

/** The variable naming the file where a supervised driver notes its run (`--reattach` target). */
export const RUN_NOTE_VAR = "DISBATCH_RUN_NOTE";

/** Seconds between two restarts of a supervised driver, at least. */
export const RESTART_EVERY_S = 300;

/**
 * As a Slurm batch script (a job, not a step), the launcher stays the job's main process and runs
 * disbatch as its child: a driver that dies from a signal (the OOM killer, say) while its run goes
 * on — it wrote its run in the note and did not clear it — is started again with `--reattach`, at
 * most once every {@linkcode RESTART_EVERY_S} s; its srun engines keep their tasks meanwhile.
 * Slurm signals every process of the job (scancel, the time limit) and a terminal its foreground
 * group, so the child gets those itself; the launcher only outlives them to see how it ended.
 */
function supervisor(x: string): string {
  const n = RUN_NOTE_VAR;
  return `if [ -n "\${SLURM_JOB_ID:-}" ] && [ -z "\${SLURM_STEP_ID:-}\${${n}:-}" ] && ${n}=$(mktemp 2>/dev/null); then
  export ${n}; last=0; trap : TERM INT HUP
  while :; do
    ${x} "$@"; rc=$?
    run=$(cat "$${n}" 2>/dev/null); now=$(date +%s)
    if [ $rc -le 128 ] || [ -z "$run" ] || [ $((now - last)) -lt ${RESTART_EVERY_S} ]; then rm -f "$${n}"; exit $rc; fi
    echo "disbatch: the driver died (status $rc); starting it again: disbatch --reattach $run" >&2
    last=$now; set -- --reattach "$run"
  done
fi
`;
}

/**
 * Read back what an existing launcher runs (for "upgraded from" messages).
 *
 * @param text a file's text
 * @returns its version and the program path it execs, or undefined when it is not a launcher
 */
export function parseLauncher(text: string): { version: string; exec: string } | undefined {
  const mark = new RegExp(`^${LAUNCHER_MARK} (\\S+):`, "m").exec(text);
  const exec = /^exec ('(?:[^']|'\\'')*'|\S+)/m.exec(text);
  if (!mark || !exec) return undefined;
  const word = exec[1]!;
  const path = word.startsWith("'") ? word.slice(1, -1).replaceAll(`'\\''`, "'") : word;
  return { version: mark[1]!, exec: path };
}

/**
 * Where an executable of a version is kept: `$XDG_DATA_HOME/disbatch/VERSION/disbatch`, with
 * `$HOME/.local/share` when XDG_DATA_HOME is unset (as the XDG base-directory spec says).
 *
 * @param env the environment (HOME, XDG_DATA_HOME)
 * @param version the version
 * @returns the absolute path
 * @throws {RangeError} when neither HOME nor XDG_DATA_HOME is an absolute path
 */
export function storePath(env: Record<string, string | undefined>, version: string): string {
  const xdg = env.XDG_DATA_HOME;
  const base = xdg && xdg.startsWith("/")
    ? xdg
    : env.HOME && env.HOME.startsWith("/")
    ? `${env.HOME.replace(/\/+$/, "")}/.local/share`
    : undefined;
  if (!base) {
    throw new RangeError("HOME is not set to an absolute path: cannot choose where to keep disbatch");
  }
  return `${base.replace(/\/+$/, "")}/disbatch/${version}/disbatch`;
}

/**
 * Whether a directory is on a PATH value.
 *
 * @param dir absolute directory
 * @param path the PATH value
 * @returns true when one of its entries names dir (trailing slashes ignored)
 */
export function onPath(dir: string, path: string | undefined): boolean {
  const norm = (s: string) => s.replace(/\/+$/, "") || "/";
  return (path ?? "").split(":").some((p) => p !== "" && norm(p) === norm(dir));
}

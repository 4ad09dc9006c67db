// deno-lint-ignore-file no-console
/**
 * Gates for end-to-end tests that need the local rig (scripts/rig/: real sshd's and a real
 * Slurm cluster), plus small wrappers of the rig scripts that Slurm tests use.
 *
 * A missing resource makes its tests run and FAIL, with a loud line saying what to install: a
 * suite never passes by quietly running less. Only an explicit opt-out, the comma list
 * `DISBATCH_E2E_SKIP` (e.g. `ssh,slurm,tmux`), ignores them instead, with a printed reason.
 * (`DISBATCH_E2E_REQUIRE`, of earlier versions, is accepted and changes nothing.)
 *
 * Each check runs at most once per test file (the result is cached in this module):
 *
 * ```ts ignore
 * Deno.test({ name: "ssh: …", ignore: await gate("ssh") }, async () => { … });
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { outputWithin, spawnPiped } from "./run_cli.ts";

/** A resource outside Deno that a test can depend on. */
export type RigResource = "ssh" | "slurm" | "tmux" | "chromium";

/** How to get each resource. */
const HOW: Record<RigResource, string> = {
  ssh: "bring the rig up as root: bash scripts/rig/ssh-up.sh",
  slurm: "bring the rig up as root: bash scripts/rig/slurm-up.sh",
  tmux: "install it: apt-get install -y tmux",
  chromium: "install it: apt-get install -y chromium",
};

/** Outcome of probing one resource. */
interface Probe {
  ok: boolean;
  /** Why it is missing (empty when ok). */
  why: string;
}

/** Directory of the rig scripts. */
export const RIG_SCRIPTS = fileURLToPath(new URL("../../scripts/rig/", import.meta.url));

/** Node names `hasSlurm()` wants to see usable (`sinfo` states idle, mixed or allocated). */
const MIN_SLURM_NODES = 3;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to completion; a missing program is code 127, a timeout kills it (SIGKILL). */
async function run(
  cmd: string,
  args: string[],
  o: { cwd?: string; env?: Record<string, string>; timeoutMs: number },
): Promise<Ran> {
  let child: Deno.ChildProcess;
  try {
    child = spawnPiped(cmd, args, o);
  } catch (e) {
    return { code: 127, stdout: "", stderr: `${cmd}: ${e instanceof Error ? e.message : e}` };
  }
  const out = await outputWithin(child, o.timeoutMs);
  const stderr = out.stderr + (out.timedOut ? `\n${cmd}: killed after ${o.timeoutMs} ms` : "");
  return { code: out.timedOut ? 124 : out.code, stdout: out.stdout, stderr };
}

function firstLine(s: string): string {
  return s.trim().split("\n")[0] ?? "";
}

async function probeSsh(): Promise<Probe> {
  const r = await run("ssh", ["-o", "BatchMode=yes", "-o", "ConnectTimeout=3", "otherhost", "true"], {
    timeoutMs: 15_000,
  });
  if (r.code === 0) return { ok: true, why: "" };
  return {
    ok: false,
    why: `\`ssh otherhost true\` failed (exit ${r.code}): ${firstLine(r.stderr) || "no output"}`,
  };
}

/**
 * Count the usable nodes in `sinfo -h -N -o "%N %T"` output (one line per node and partition).
 * `sinfo -h -o %T` alone would print one line per *state*, not per node.
 */
function usableNodes(sinfo: string): Set<string> {
  const nodes = new Set<string>();
  for (const line of sinfo.split("\n")) {
    const [node, state] = line.trim().split(/\s+/);
    if (node && state && /^(idle|mixed|allocated)$/.test(state)) nodes.add(node);
  }
  return nodes;
}

async function probeSlurm(): Promise<Probe> {
  const r = await run("sinfo", ["-h", "-N", "-o", "%N %T"], { timeoutMs: 15_000 });
  if (r.code !== 0) {
    return { ok: false, why: `\`sinfo\` failed (exit ${r.code}): ${firstLine(r.stderr) || "no output"}` };
  }
  const n = usableNodes(r.stdout).size;
  if (n >= MIN_SLURM_NODES) return { ok: true, why: "" };
  const states = r.stdout.trim().split("\n").join(", ") || "no nodes";
  return { ok: false, why: `sinfo shows ${n} usable node(s), need ${MIN_SLURM_NODES} (${states})` };
}

const probes = new Map<RigResource, Promise<Probe>>();

async function probeProgram(cmd: string, args: string[]): Promise<Probe> {
  const r = await run(cmd, args, { timeoutMs: 30_000 });
  return r.code === 0 ? { ok: true, why: "" } : {
    ok: false,
    why: `\`${cmd} ${args.join(" ")}\` failed (exit ${r.code}): ${firstLine(r.stderr) || "no output"}`,
  };
}

function probe(name: RigResource): Promise<Probe> {
  let p = probes.get(name);
  if (!p) {
    p = name === "ssh"
      ? probeSsh()
      : name === "slurm"
      ? probeSlurm()
      : name === "tmux"
      ? probeProgram("tmux", ["-V"])
      : probeProgram("/usr/bin/chromium", ["--version"]);
    probes.set(name, p);
  }
  return p;
}

/**
 * Whether `ssh -o BatchMode=yes -o ConnectTimeout=3 otherhost true` succeeds (checked once per
 * test file).
 *
 * @returns true when ssh to otherhost works without a prompt
 */
export async function hasSsh(): Promise<boolean> {
  return (await probe("ssh")).ok;
}

/**
 * Whether Slurm answers and has at least three nodes that are idle, mixed or allocated
 * (checked once per test file).
 *
 * @returns true when the rig's Slurm cluster is usable
 */
export async function hasSlurm(): Promise<boolean> {
  return (await probe("slurm")).ok;
}

/**
 * The resources named by `DISBATCH_E2E_SKIP` (comma or space separated).
 *
 * @returns e.g. `Set {"ssh", "slurm"}`
 */
export function skippedResources(): Set<string> {
  const raw = Deno.env.get("DISBATCH_E2E_SKIP") ?? "";
  return new Set(raw.split(/[\s,]+/).map((s) => s.trim().toLowerCase()).filter((s) => s));
}

const told = new Set<RigResource>();

/**
 * The `ignore` value for `Deno.test` options of a test that needs `name`.
 *
 * Present → `false`. Missing → `false` too (the test runs and fails), with a loud line saying what
 * is missing and how to get it; only when `DISBATCH_E2E_SKIP` names it → `true`, with the reason
 * printed. The message is printed once per resource per test file.
 *
 * @param name the resource the test needs
 * @returns whether to ignore the test
 */
export async function gate(name: RigResource): Promise<boolean> {
  const p = await probe(name);
  if (p.ok) return false;
  const skip = skippedResources().has(name);
  if (!told.has(name)) {
    told.add(name);
    console.error(
      skip
        ? `SKIPPING ${name} tests as DISBATCH_E2E_SKIP asks: ${p.why}`
        : `MISSING ${name}: ${p.why}; its tests run and will fail. To fix, ${HOW[name]} ` +
          `(bash scripts/test.sh as root installs everything), or set DISBATCH_E2E_SKIP=${name} to skip them`,
    );
  }
  return skip;
}

/**
 * Bring Slurm back to a clean state (`scripts/rig/slurm-reset.sh`): cancel EVERY job, wait for
 * an empty queue, resume down/drained nodes, wait until all nodes are idle. Note that this also
 * cancels jobs of other test files running at the same time.
 *
 * @throws {Error} when the script fails (e.g. slurmctld does not answer)
 */
export async function slurmReset(): Promise<void> {
  const r = await run("bash", [`${RIG_SCRIPTS}slurm-reset.sh`], { timeoutMs: 90_000 });
  if (r.code !== 0) throw new Error(`slurm-reset.sh failed (exit ${r.code}): ${r.stderr.trim()}`);
}

/** Result of {@linkcode sbatchWait}. */
export interface SbatchWaitResult {
  /** The job's exit code (128+signal if killed, 124 on timeout; sbatch's own code if it failed). */
  code: number;
  /** The job id, or "" when sbatch failed. */
  jobId: string;
  /** What sbatch-wait.sh printed: stdout, then stderr. */
  output: string;
}

/**
 * Submit a batch job and wait for it (`scripts/rig/sbatch-wait.sh`, which polls every 0.1 s).
 * `SBATCH_WAIT_TIMEOUT` (seconds) bounds the wait; default here 300.
 *
 * @param args sbatch arguments, e.g. `["-N", "2", "--wrap", "hostname"]`
 * @param cwd submit directory (job output files land there)
 * @param env extra environment for sbatch (e.g. PATH with the installed launcher)
 * @returns the job's exit code, id and the script's output
 */
export async function sbatchWait(
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<SbatchWaitResult> {
  const limit = Number(Deno.env.get("SBATCH_WAIT_TIMEOUT") ?? "300") || 300;
  const r = await run("bash", [`${RIG_SCRIPTS}sbatch-wait.sh`, ...args], {
    cwd,
    env: { ...env, SBATCH_WAIT_TIMEOUT: String(limit) },
    timeoutMs: (limit + 60) * 1000,
  });
  const jobId = /Submitted batch job (\d+)/.exec(r.stdout)?.[1] ?? "";
  return { code: r.code, jobId, output: r.stdout + r.stderr };
}

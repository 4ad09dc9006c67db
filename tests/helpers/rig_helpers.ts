/**
 * Helpers shared by the end-to-end tests that run on the local rig (scripts/rig/: real sshd's and
 * a real Slurm cluster): tests/e2e/ssh_test.ts, slurm_test.ts and rig_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { outputWithin, spawnPiped } from "./run_cli.ts";
import { exists, isTaskRow, pollUntil, readOr, type Row, rowsIn } from "../e2e/e2e_helpers.ts";

/**
 * A fresh directory under /tmp (shared by every rig host), removed on dispose.
 * @param prefix name prefix
 * @returns the path and a disposer
 */
export async function sharedDir(prefix: string): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ dir: "/tmp", prefix });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Result of {@linkcode sh}. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run a program to completion (SIGKILL after `timeoutMs`, default 60 s).
 * @param cmd program @param args arguments @param o cwd, env, timeout
 * @returns exit code, stdout and stderr
 */
export async function sh(
  cmd: string,
  args: string[],
  o: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Ran> {
  const out = await outputWithin(spawnPiped(cmd, args, o), o.timeoutMs ?? 60_000);
  return { code: out.code, stdout: out.stdout, stderr: out.stderr };
}

/**
 * Format a {@linkcode sh} result for assertion messages.
 * @param r the result
 * @returns code, stdout and stderr
 */
export function showRan(r: Ran): string {
  return `code=${r.code}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
}

/**
 * The run's dbUtil.sh once it names the driver (the driver writes it after it listens).
 * @param prefixPath the run's prefix path (`-p`)
 * @param timeoutMs deadline
 * @returns the path of `<prefixPath>_dbUtil.sh`
 */
export async function waitDbUtil(prefixPath: string, timeoutMs = 20_000): Promise<string> {
  const p = `${prefixPath}_dbUtil.sh`;
  await pollUntil(`${p}`, () => /DISBATCH_DRIVER='[^']+'/.test(readOr(p) ?? ""), timeoutMs, 50);
  return p;
}

/**
 * Task rows (not barriers, not per-engine) of the single status file in `dir`.
 * @param dir run directory
 * @returns rows in file order
 */
export function taskRowsIn(dir: string): Row[] {
  return rowsIn(dir).filter(isTaskRow);
}

/**
 * Text of a task's output snippet (the Python repr of field 12, simple cases).
 * @param r status row
 * @returns the snippet's text, trimmed
 */
export function snippet(r: Row): string {
  const s = r.outSnip;
  assert.ok(/^'.*'$/.test(s), `unexpected snippet form ${s}`);
  return s.slice(1, -1).replace(/\\n/g, "\n").trim();
}

/**
 * Count items by key.
 * @param xs items @param key key of an item
 * @returns key → count
 */
export function countBy<T>(xs: T[], key: (x: T) => string): Record<string, number> {
  const m: Record<string, number> = {};
  for (const x of xs) m[key(x)] = (m[key(x)] ?? 0) + 1;
  return m;
}

/**
 * Task ids of rows, ascending.
 * @param rows status rows
 * @returns sorted ids
 */
export function ids(rows: Row[]): number[] {
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

/**
 * `[0, 1, …, n-1]`.
 * @param n length
 * @returns the numbers below n
 */
export function range(n: number): number[] {
  return [...Array(n).keys()];
}

// ---------------------------------------------------------------------------------------------
// the reference suite (disBatch's tests/test_ssh/run.sh and tests/test_slurm/run.sh)

/** The reference suite's task file: one task per file it touches. */
export const REF_TASKS = "touch A.txt\ntouch B.txt\ntouch C.txt\n";

/** The files the tasks of {@linkcode REF_TASKS} create. */
export const REF_FILES = ["A.txt", "B.txt", "C.txt"];

/**
 * Assert that every task of {@linkcode REF_TASKS} ran in `dir`.
 * @param dir run directory @param detail added to the failure message
 */
export function assertRefFilesMade(dir: string, detail: string): void {
  for (const f of REF_FILES) {
    assert.ok(exists(`${dir}/${f}`), `${f} missing\n${detail}`);
  }
}

/**
 * The suite's resume step: remove what the first run made, append `touch D.txt` to `Tasks` and
 * find the first run's status file (the shell glob `Tasks*_status.txt`: exactly one matches).
 * @param dir run directory
 * @returns the status file's name
 */
export function appendTaskForResume(dir: string): string {
  for (const f of REF_FILES) Deno.removeSync(`${dir}/${f}`);
  Deno.writeTextFileSync(`${dir}/Tasks`, "touch D.txt\n", { append: true });
  const glob = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => /^Tasks.*_status\.txt$/.test(n));
  assert.equal(glob.length, 1, `glob Tasks*_status.txt matched ${glob.join(", ")}`);
  return glob[0]!;
}

/**
 * Assert that the resume ran only the appended task.
 * @param dir run directory @param detail added to the failure message
 */
export function assertOnlyNewTaskRan(dir: string, detail: string): void {
  assert.ok(exists(`${dir}/D.txt`), `D.txt missing\n${detail}`);
  for (const f of REF_FILES) assert.ok(!exists(`${dir}/${f}`), `${f} was run again`);
}

/**
 * Small helpers shared by the black-box end-to-end tests in this directory. Every CLI run still
 * goes through tests/helpers/run_cli.ts (`runCli`/`spawnCli`), so `$DISBATCH_BIN` is honoured.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type CliResult, decoded, spawnCli, statusFileIn } from "../helpers/run_cli.ts";

/** Column indices of a status line. */
export const F = {
  flags: 0,
  id: 1,
  line: 2,
  rep: 3,
  node: 4,
  pid: 5,
  rc: 6,
  elapsed: 7,
  start: 8,
  end: 9,
  outBytes: 10,
  outSnip: 11,
  errBytes: 12,
  errSnip: 13,
  cmd: 14,
} as const;

/** One parsed status line. */
export interface Row {
  flags: string;
  id: number;
  line: number;
  rep: number;
  node: string;
  pid: number;
  rc: number;
  elapsed: number;
  start: number;
  end: number;
  outBytes: number;
  outSnip: string;
  errBytes: number;
  errSnip: string;
  cmd: string;
  /** The raw 15 fields. */
  fields: string[];
}

/** First field of the `--status-header` line. */
const HEADER_START = "ROE[ PSZ]\t";

/**
 * Status lines split into 15 fields (a tab inside the command stays in field 15). Unlike
 * `statusRows` of tests/helpers/run_cli.ts, only the real header line is skipped: a task line
 * whose flags are `ROE ` also starts with "ROE".
 * @param path status file
 * @returns rows of 15 fields
 */
export function statusFields(path: string): string[][] {
  return Deno.readTextFileSync(path).split("\n").filter((l) => l && !l.startsWith(HEADER_START)).map((l) => {
    const f = l.split("\t");
    return [...f.slice(0, 14), f.slice(14).join("\t")];
  });
}

/**
 * Parse the rows of a status file (header skipped).
 * @param path status file
 * @returns rows in file order
 */
export function readRows(path: string): Row[] {
  return statusFields(path).map((f) => ({
    flags: f[0]!,
    id: Number(f[1]),
    line: Number(f[2]),
    rep: Number(f[3]),
    node: f[4]!,
    pid: Number(f[5]),
    rc: Number(f[6]),
    elapsed: Number(f[7]),
    start: Number(f[8]),
    end: Number(f[9]),
    outBytes: Number(f[10]),
    outSnip: f[11]!,
    errBytes: Number(f[12]),
    errSnip: f[13]!,
    cmd: f[14]!,
    fields: f,
  }));
}

/**
 * Rows of the single status file in `dir`.
 * @param dir run directory
 * @returns rows in file order
 */
export function rowsIn(dir: string): Row[] {
  return readRows(statusFileIn(dir));
}

/**
 * Whether a row is a task's (not a barrier's nor a per-engine task's).
 * @param r status row
 * @returns true for a task row
 */
export function isTaskRow(r: Row): boolean {
  return r.flags.length === 4 && r.flags[3] !== "P";
}

/**
 * Rows that are not barriers or per-engine tasks, keyed by task id.
 * @param rows status rows
 * @returns map id → row
 */
export function taskRowsById(rows: Row[]): Map<number, Row> {
  const m = new Map<number, Row>();
  for (const r of rows) {
    if (isTaskRow(r)) m.set(r.id, r);
  }
  return m;
}

/**
 * Write a text file.
 * @param dir directory @param name file name @param text contents
 * @returns its path
 */
export function writeText(dir: string, name: string, text: string): string {
  const p = `${dir}/${name}`;
  Deno.writeTextFileSync(p, text);
  return p;
}

/**
 * Write a file from latin-1 text (each char code is one byte), for non-UTF-8 task files.
 * @param dir directory @param name file name @param latin1 contents, one byte per char
 * @returns its path
 */
export function writeLatin1(dir: string, name: string, latin1: string): string {
  const p = `${dir}/${name}`;
  Deno.writeFileSync(p, Uint8Array.from(latin1, (c) => c.charCodeAt(0)));
  return p;
}

/**
 * Whether a path exists.
 * @param p path
 * @returns true when it exists
 */
export function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Read a file, or undefined when missing.
 * @param p path
 * @returns its text
 */
export function readOr(p: string): string | undefined {
  try {
    return Deno.readTextFileSync(p);
  } catch {
    return undefined;
  }
}

/**
 * Poll `fn` until it returns a truthy value, or throw after `timeoutMs`.
 * @param what description for the error
 * @param fn probe
 * @param timeoutMs deadline
 * @param everyMs poll interval
 * @returns the first truthy value
 */
export async function pollUntil<T>(
  what: string,
  fn: () => T | Promise<T>,
  timeoutMs = 15_000,
  everyMs = 25,
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A unique sleep duration argument, e.g. `30.482913`, usable as a marker in `ps`.
 * @param whole integer seconds
 * @returns `whole.<6 random digits>`
 */
export function uniqueSleep(whole: number): string {
  const digits = String(Math.floor(Math.random() * 900_000) + 100_000);
  return `${whole}.${digits}`;
}

/** A process line from `ps`. */
export interface Proc {
  pid: number;
  ppid: number;
  args: string;
}

/**
 * All processes (`ps -eo pid=,ppid=,args=`).
 * @returns processes
 */
export async function processes(): Promise<Proc[]> {
  const out = await new Deno.Command("ps", {
    args: ["-eo", "pid=,ppid=,args="],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  const res: Proc[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    if (m) res.push({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! });
  }
  return res;
}

/**
 * Live `sleep <marker>` processes (the marker comes from {@linkcode uniqueSleep}).
 * @param marker the unique sleep argument
 * @returns matching processes (zombies, which have no args, are not listed)
 */
export async function sleepers(marker: string): Promise<Proc[]> {
  return (await processes()).filter((p) => p.args === `sleep ${marker}`);
}

/**
 * Wait up to `timeoutMs` for every `sleep <marker>` process to disappear.
 * @param marker the unique sleep argument
 * @param timeoutMs deadline
 * @returns the processes still alive at the deadline (empty when all are gone)
 */
export async function leftoverSleepers(marker: string, timeoutMs = 2_000): Promise<Proc[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left = await sleepers(marker);
    if (left.length === 0 || performance.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * SIGKILL, by pid, every `sleep <marker>` process (cleanup after a failed assertion; only our
 * own processes carry the random marker).
 * @param marker the unique sleep argument
 */
export async function killSleepers(marker: string): Promise<void> {
  for (const p of await sleepers(marker)) killPid(p.pid);
}

/**
 * SIGKILL a process by pid (cleanup), ignoring "already gone".
 * @param pid process id
 */
export function killPid(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch { /* already gone */ }
}

/** A spawned run: its pid and a promise of its result (with the exit time as epoch seconds). */
export interface Spawned {
  pid: number;
  child: Deno.ChildProcess;
  done: Promise<CliResult & { exitEpoch: number }>;
}

/**
 * Start disbatch in the background (through `spawnCli`).
 * @param args CLI arguments
 * @param o cwd/env
 * @returns pid, child and the eventual result
 */
export function start(args: string[], o: { cwd?: string; env?: Record<string, string> } = {}): Spawned {
  const t0 = performance.now();
  const child = spawnCli(args, o);
  const done = child.output().then((out) => ({
    ...decoded(out),
    wall: (performance.now() - t0) / 1000,
    exitEpoch: Date.now() / 1000,
  }));
  return { pid: child.pid, child, done };
}

/** A started process and the promise of its end (a {@linkcode Spawned} run, a dbUtil.sh context…). */
export interface Running<T> {
  child: Deno.ChildProcess;
  done: Promise<T>;
}

/**
 * Wait for a started process, killing it (SIGKILL) after `timeoutMs`.
 * @param s the process
 * @param timeoutMs deadline
 * @returns its result
 */
export async function finish<T>(s: Running<T>, timeoutMs: number): Promise<T> {
  const timer = setTimeout(() => {
    try {
      s.child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutMs);
  try {
    return await s.done;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * SIGKILL a started process unless it is gone, then wait for its end (cleanup in `finally`).
 * @param s the process
 */
export async function killAndWait(s: Running<unknown>): Promise<void> {
  try {
    s.child.kill("SIGKILL");
  } catch { /* gone */ }
  await s.done;
}

/**
 * Run disbatch to completion through `spawnCli` (when the driver's pid is needed).
 * @param args CLI arguments
 * @param o cwd/env
 * @param timeoutMs kill it after this long
 * @returns the pid and the result
 */
export async function runWithPid(
  args: string[],
  o: { cwd?: string; env?: Record<string, string> } = {},
  timeoutMs = 60_000,
): Promise<CliResult & { exitEpoch: number; pid: number }> {
  const s = start(args, o);
  return { ...(await finish(s, timeoutMs)), pid: s.pid };
}

/**
 * Shell script that makes tasks meet: each task creates `go_<id>` and waits (up to ~60 s) until
 * `$1` such files exist, so `$1` tasks succeed only if they ran at the same time. It also records
 * in `n_<id>` how many tasks were live when it started (an upper bound check on concurrency).
 */
export const RENDEZVOUS_SH = `id=$DISBATCH_TASKID
touch live_$id go_$id
ls live_* | wc -l > n_$id.tmp && mv n_$id.tmp n_$id
ok=1
for i in $(seq 1200); do
  if [ "$(ls go_* | wc -l)" -ge "$1" ]; then ok=0; break; fi
  sleep 0.05
done
rm -f live_$id
exit $ok
`;

/**
 * The status file name for an explicit `-p` prefix.
 * @param dir directory @param prefix the -p value (relative to dir)
 * @returns path of `<prefix>_status.txt`
 */
export function statusOf(dir: string, prefix: string): string {
  return `${dir}/${prefix}_status.txt`;
}

/**
 * Lines of stderr that mention `needle`.
 * @param stderr text @param needle substring
 * @returns matching lines
 */
export function linesWith(stderr: string, needle: string): string[] {
  return stderr.split("\n").filter((l) => l.includes(needle));
}

/**
 * Format a run result for assertion messages.
 * @param r a CLI result
 * @returns a short description
 */
export function show(r: CliResult): string {
  return `code=${r.code} wall=${r.wall.toFixed(2)}s\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
}

/**
 * How many times each of n tasks finished, counted from their own side effects: task i appends
 * a line to `done_i` in the run's directory as its last step.
 * @param dir the run's directory @param n number of tasks @returns count per task id
 */
export function doneCounts(dir: string, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    try {
      return Deno.readTextFileSync(`${dir}/done_${i}`).split("\n").filter(Boolean).length;
    } catch {
      return 0;
    }
  });
}

/**
 * Tasks that count themselves: task i holds a lock while it runs (a copy that finds it taken notes
 * `dup_i`; a killed copy's lock goes with it), marks `running_i`, sleeps, then appends to `done_i`.
 * @param n tasks @param seconds each one's sleep
 * @returns the task file's text
 */
export function onceTasks(n: number, seconds: number): string {
  return Array.from(
    { length: n },
    (_, i) =>
      `exec 9>lock_${i}; flock -n 9 || echo dup >> dup_${i}; touch running_${i}; sleep ${seconds}; ` +
      `echo x >> done_${i}`,
  ).join("\n") + "\n";
}

/**
 * Assert that each of the {@linkcode onceTasks} finished exactly once and none ran twice at once.
 * @param dir where they ran @param n how many @param detail for the message
 */
export function assertOnceEach(dir: string, n: number, detail = ""): void {
  assert.deepEqual(doneCounts(dir, n), Array(n).fill(1), `each task finished exactly once\n${detail}`);
  const dups = Array.from({ length: n }, (_, i) => i).filter((i) => exists(`${dir}/dup_${i}`));
  assert.deepEqual(dups, [], "no task ran twice at the same time");
}

/**
 * The PID in a run's lock file (`<prefix>_lock`: "host pid").
 * @param prefixPath the run's prefix path
 * @returns the driver's PID
 */
export function lockPid(prefixPath: string): number {
  const text = readOr(`${prefixPath}_lock`) ?? "";
  const pid = Number(/^\S+ (\d+)/.exec(text)?.[1]);
  assert.ok(pid > 0, `the driver's pid from its lock: ${JSON.stringify(text)}`);
  return pid;
}

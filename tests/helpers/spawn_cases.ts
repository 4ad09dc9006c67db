/**
 * What the tests of every way of starting tasks share: the commands each way must run with the same
 * results as `Deno.Command`, the part of a result that must match, and what a process looks like
 * from `/proc`.
 */
import assert from "node:assert/strict";
import type { ProcessResult } from "../../adapters/process.ts";

/** Commands whose codes, byte counts and snippets must be the same whichever way they start. */
export const SAME_RESULT_COMMANDS: readonly string[] = [
  "true",
  "exit 3",
  "exit 255",
  "kill -TERM $$",
  "kill -KILL $$",
  "kill -SEGV $$",
  "sleep 0.05; exit 143",
  "bash -c 'kill -TERM $$'",
  "printf '%040d' 0",
  "printf '%041d' 0",
  "printf '%080d' 0",
  "printf '%081d' 0",
  "head -c 100000 /dev/zero | tr '\\0' x; echo tail-end",
  "printf 'a\\xffb\\x00c\\n'; printf 'é✓' >&2",
  "echo out; echo err >&2; exit 1",
  "cat; echo read-$?",
  "(sleep 0.4; echo late) & echo early",
  "sleep 30 >/dev/null 2>&1 </dev/null & echo detached",
  "kill -RTMIN+3 $$",
  'echo "id=$DISBATCH_TASKID x=$X_VAR"',
];

/** The variables those commands run with. */
export const SAME_RESULT_ENV: Readonly<Record<string, string>> = { DISBATCH_TASKID: "12", X_VAR: "a b'c" };

/** Tasks that write 6 MB over about 3 s: with files cut back at 1 MB, they are cut several times. */
export const CUT_COMMANDS: readonly string[] = [
  "for i in $(seq 1 30); do head -c 200000 /dev/zero | tr '\\0' a; sleep 0.1; done; printf 'THE-END-0123456789-abcdefghijklmnopqrstuvwxyz'",
  "printf 'HEAD-of-the-output-0123456789-abcdefghijklmnop'; for i in $(seq 1 15); do head -c 400000 /dev/zero >&2; sleep 0.2; done; printf 'x'",
];

/** The part of a result that every way must give alike. */
export const pick = (r: ProcessResult) => ({
  rc: r.returnCode,
  out: [r.stdoutBytes, r.stdoutSnippet],
  err: [r.stderrBytes, r.stderrSnippet],
});

/**
 * Whether a process exists and is not a zombie (an orphan's end may wait for a reaper that never comes).
 * @param pid the process
 */
export function isLive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/**
 * The most disk space files of `dir` took while `result` was pending (looked at every 100 ms).
 * @param dir the directory @param result settles when the task is done
 * @param name which files count (default: all)
 */
export async function peakDiskWhile(dir: string, result: Promise<unknown>, name = /./): Promise<number> {
  let most = 0;
  let done = false;
  result.finally(() => done = true);
  while (!done) {
    for (const e of Deno.readDirSync(dir)) {
      if (name.test(e.name)) most = Math.max(most, (Deno.statSync(`${dir}/${e.name}`).blocks ?? 0) * 512);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return most;
}

/**
 * A task whose background process holds its output for 2 s (then writes a line and ends), while the
 * other slot runs 10 quick tasks: how long each part took, the CPU the starter used meanwhile, and
 * the first task's result.
 * @param spawn starts a command in a slot @param cpuMs the starter's CPU so far (ms)
 */
export async function stragglerRun(
  spawn: (command: string, slot: number) => Promise<ProcessResult>,
  cpuMs: () => number,
): Promise<{ othersMs: number; waited: number; cpu: number; result: ProcessResult }> {
  const cpu0 = cpuMs();
  const t0 = Date.now();
  const first = spawn("(sleep 2; echo late) & echo first", 0);
  for (let i = 0; i < 10; i++) assert.equal((await spawn("echo other", 1)).returnCode, 0);
  const othersMs = Date.now() - t0;
  const result = await first;
  return { othersMs, waited: Date.now() - t0, cpu: cpuMs() - cpu0, result };
}

/** Assert what {@linkcode stragglerRun} must show, the starter's CPU below `share` of the wait. */
export function assertStragglerRun(
  r: Awaited<ReturnType<typeof stragglerRun>>,
  share: number,
  who: string,
): void {
  assert.ok(r.othersMs < 1500, `the other slot's 10 tasks took ${r.othersMs} ms`);
  assert.ok(
    r.waited >= 1900 && r.waited < 3500,
    `the end came ${r.waited} ms after the start (the straggler lets go at 2 s)`,
  );
  assert.equal(r.result.stdoutBytes, "first\nlate\n".length, "the straggler's output counts for its task");
  assert.ok(r.cpu < share * r.waited, `${who} used ${r.cpu} ms of CPU in ${r.waited} ms`);
}

// deno-lint-ignore-file no-control-regex
/**
 * What a run shows on stderr: a self-updating progress line only on a terminal (a real pty from
 * util-linux `script`), never when stderr is a pipe or with `-q`; `NO_COLOR` honoured; the
 * end-of-run summary always (unless `-q`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { cliCommand, runCli, tempDir } from "../helpers/run_cli.ts";
import { shellQuote } from "../../adapters/self_command.ts";

const TASKS = Array.from({ length: 8 }, (_, i) => (i === 3 ? "sleep 0.3; exit 4" : "sleep 0.3")).join("\n") +
  "\n";

/** Run the CLI under a pseudo-terminal; returns everything the terminal received. */
async function underPty(args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  const cmd = [...cliCommand(), ...args].map(shellQuote).join(" ");
  const out = await new Deno.Command("script", {
    args: ["-qfec", cmd, "/dev/null"],
    cwd,
    env: { ...env, COLUMNS: "100", LINES: "30" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

Deno.test("progress: a terminal gets a self-updating status line and a coloured summary", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/Tasks`, TASKS);
  const screen = await underPty(["-s", "localhost:2", "Tasks"], dir.path);
  assert.match(screen, /\r\x1b\[2K/, "the line is redrawn in place");
  assert.match(screen, /disbatch [0-9.]+s \| done \d+ \| /);
  assert.match(screen, /running \d+ \| queued \d+\+? \| 1 engine\(s\)\/2 slot\(s\)/);
  assert.match(screen, /disbatch: 8 task\(s\) run, 1 failed/);
  assert.match(screen, /\x1b\[31m {2}failed: task 3 line 4 exit 4: sleep 0\.3; exit 4\x1b\[0m/);
  assert.match(screen, /status file .*_status\.txt/);
});

Deno.test("progress: NO_COLOR keeps the terminal line and summary plain", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/Tasks`, TASKS);
  const screen = await underPty(["-s", "localhost:2", "Tasks"], dir.path, { NO_COLOR: "1" });
  assert.match(screen, /\r\x1b\[2K/);
  assert.doesNotMatch(screen, /\x1b\[3\d?m/, "no colour codes");
  assert.match(screen, / {2}failed: task 3 line 4 exit 4/);
});

Deno.test("progress: not a terminal: no status line, only the summary; -q: nothing", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/Tasks`, TASKS);
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: dir.path });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /\r|\x1b/, "no terminal control sequences in a pipe");
  assert.match(r.stderr, /^disbatch: 8 task\(s\) run, 1 failed in [0-9.]+s \([0-9.]+ tasks\/s\)$/m);
  assert.match(r.stderr, /^ {2}failed: task 3 line 4 exit 4: sleep 0\.3; exit 4$/m);
  assert.match(r.stderr, /^disbatch: status file \/.*_status\.txt$/m);
  assert.equal(r.stdout, "");

  const q = await runCli(["-q", "-s", "localhost:2", "Tasks"], { cwd: dir.path });
  assert.equal(q.code, 0, q.stderr);
  assert.equal(q.stderr, "");
});

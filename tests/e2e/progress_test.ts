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
  assert.match(screen, /disbatch [0-9.]+s \| done \d+\/8 \| /);
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

/** Every painted progress line of a pty capture. */
function paintedLines(screen: string): string[] {
  return screen.split("\r\x1b[2K").map((l) => l.split("\n")[0]!).filter((l) =>
    /^disbatch [0-9.hms]+ \| done/.test(l)
  );
}

Deno.test("progress: never more running than slots; a total and an ETA early for a regular file; a resume counts skipped tasks as done", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/Tasks`, "sleep 0.05\n".repeat(60));
  const screen = await underPty(["-s", "localhost:2", "-p", "r1", "Tasks"], dir.path);
  const lines = paintedLines(screen);
  assert.ok(lines.length >= 3, screen);
  for (const l of lines) {
    const running = Number(/running (\d+)/.exec(l)?.[1]);
    assert.ok(running <= 2, `more running than slots: ${l}`);
    assert.match(l, /done \d+\/60 /, "the total from the first line on");
  }
  const firstEta = lines.findIndex((l) => / eta /.test(l));
  assert.ok(
    firstEta >= 0 && firstEta <= lines.length / 2,
    `ETA only late (line ${firstEta} of ${lines.length})`,
  );

  // Resume after appending 20 tasks: the 60 done ones count as done.
  Deno.writeTextFileSync(`${dir.path}/Tasks`, "sleep 0.05\n".repeat(20), { append: true });
  const again = paintedLines(
    await underPty(["-s", "localhost:2", "-p", "r2", "-r", "r1_status.txt", "Tasks"], dir.path),
  );
  const done = again.map((l) => Number(/done (\d+)\/80 /.exec(l)?.[1]));
  assert.ok(done.length >= 1 && !done.includes(NaN), again.join("\n"));
  // Before the first task is read the count is 0; once it moves, the 60 skipped ones are in it.
  assert.ok(done.filter((n) => n > 0).every((n) => n >= 60), again.join("\n"));
  assert.ok(done.at(-1)! >= 60, again.join("\n"));
});

Deno.test("progress: the message of a SIGINT starts on a line of its own", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/Tasks`, "sleep 30\n".repeat(4));
  const cmd = ["timeout", "-s", "INT", "6", ...cliCommand(), "-s", "localhost:2", "Tasks"].map(shellQuote)
    .join(" ");
  const out = await new Deno.Command("script", {
    args: ["-qfec", cmd, "/dev/null"],
    cwd: dir.path,
    env: { COLUMNS: "100", LINES: "30" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const screen = new TextDecoder().decode(out.stdout);
  assert.match(screen, /disbatch: received SIGINT/, screen);
  assert.match(
    screen,
    /(\r\x1b\[2K|\n)disbatch: received SIGINT/,
    `glued to the progress line: ${JSON.stringify(screen)}`,
  );
  assert.doesNotMatch(screen, /slot\(s\)[^\r\n]*disbatch: received/, "not after a progress line's text");
});

/**
 * What a run survives on the driver's side: a stderr whose reader went away (EPIPE) and a full disk
 * under the run's files. The run goes on, every task runs once (counted by the tasks themselves),
 * the status file never holds a torn line, and the exit status says when it is incomplete.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cliCommand, tempDir } from "../helpers/run_cli.ts";
import { parseStatusLine } from "../../lib/status_record.ts";

/** `-s localhost:2 -p run Tasks` in dir, stderr piped for the test to read or close. */
function spawnRun(dir: string): Deno.ChildProcess {
  const [cmd, ...pre] = cliCommand();
  return new Deno.Command(cmd!, {
    args: [...pre, "-s", "localhost:2", "-p", "run", "Tasks"],
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

Deno.test("survive: a closed stderr does not stop the run", async () => {
  await using d = await tempDir();
  // An unknown directive makes the driver warn on stderr at once, then tasks run.
  Deno.writeTextFileSync(
    `${d.path}/Tasks`,
    "#DISBATCH NOSUCH thing\n" + "sleep 0.05; echo x >> done_$DISBATCH_TASKID\n".repeat(30),
  );
  const child = spawnRun(d.path);
  await child.stderr.cancel(); // the reader goes away before the first warning
  const status = await child.status;
  assert.equal(status.code, 0, "the run ends normally");
  const lines = Deno.readTextFileSync(`${d.path}/run_status.txt`).trim().split("\n");
  assert.equal(lines.length, 30);
  for (let i = 0; i < 30; i++) assert.equal(Deno.readTextFileSync(`${d.path}/done_${i}`), "x\n");
});

Deno.test({
  name:
    "survive: a full disk under the status file: the run goes on, no torn line, exit 3 and a clear message",
  ignore: Deno.uid() !== 0, // mounting a small file system needs root (CI and the README's test command run as root)
}, async () => {
  await using d = await tempDir();
  const small = `${d.path}/small`;
  Deno.mkdirSync(small);
  const m = await new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=48k", "tmpfs", small] })
    .output();
  assert.ok(m.success, new TextDecoder().decode(m.stderr));
  try {
    const pad = "x".repeat(400);
    Deno.writeTextFileSync(
      `${d.path}/Tasks`,
      Array.from({ length: 200 }, (_, i) => `echo ${i} >> ${d.path}/done_${i} # ${pad}`).join("\n") + "\n",
    );
    const [cmd, ...pre] = cliCommand();
    const out = await new Deno.Command(cmd!, {
      args: [...pre, "-s", "localhost:2", "-p", `${small}/run`, "--logfile", `${d.path}/driver.log`, "Tasks"],
      cwd: d.path,
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 3, stderr);
    assert.match(stderr, /disbatch: cannot write the status file .*run_status\.txt: No space left on device/);
    assert.match(
      stderr,
      /misses \d+ line\(s\) that could not be written .*a resume with -r runs those tasks again/,
    );
    assert.doesNotMatch(stderr, /Uncaught|internal error|\n\s+at /);
    const text = Deno.readTextFileSync(`${small}/run_status.txt`);
    assert.ok(text.endsWith("\n"), "no torn last line");
    const lines = text.split("\n").filter(Boolean);
    assert.ok(lines.length > 0 && lines.length < 200, `${lines.length} lines`);
    for (const l of lines) {
      assert.ok(typeof parseStatusLine(l) === "object", `unreadable line ${l.slice(0, 60)}`);
    }
    for (let i = 0; i < 200; i++) {
      assert.equal(Deno.readTextFileSync(`${d.path}/done_${i}`), `${i}\n`, `task ${i} ran once`);
    }
  } finally {
    await new Deno.Command("umount", { args: ["-l", small] }).output();
  }
});

Deno.test("survive: 400 strangers on the engine port do not stop the run; the log stays short", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, "sleep 0.2; echo x >> done_$DISBATCH_TASKID\n".repeat(30));
  const child = spawnRun(d.path);
  let address = "";
  for (let i = 0; i < 300 && !address; i++) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      address = /DISBATCH_DRIVER='([^',]+)/.exec(Deno.readTextFileSync(`${d.path}/run_dbUtil.sh`))?.[1] ?? "";
    } catch { /* not yet */ }
  }
  const port = Number(address.split(":").pop());
  assert.ok(port > 0, `driver address ${address}`);
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < 400; i++) {
    try {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    } catch { /* refused: fine */ }
  }
  const out = await child.output();
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed by the driver */ }
  }
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  for (let i = 0; i < 30; i++) assert.equal(Deno.readTextFileSync(`${d.path}/done_${i}`), "x\n");
  const log = Deno.readTextFileSync(`${d.path}/run_driver.log`);
  const rejected = log.split("\n").filter((l) => /Rejected connection/.test(l)).length;
  assert.ok(rejected <= 30, `${rejected} rejection lines: not rate-limited`);
});

/**
 * Careless input as a new user gives it: a directory or a program as the task file, a NUL byte in
 * a command, the status file of another task file, a log given to `-r`, a read-only `-p`. Each is
 * one clear line and a non-zero exit before anything runs (no run file is left behind), or, for
 * the NUL, the one task fails visibly as in disBatch.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import { pollUntil, readRows, show, start, writeText } from "./e2e_helpers.ts";

/** Names in dir other than those given. */
function leftovers(dir: string, keep: string[]): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => !keep.includes(n)).sort();
}

Deno.test("careless: a directory as the task file is a usage error (exit 2) and writes nothing", async () => {
  await using d = await tempDir();
  Deno.mkdirSync(`${d.path}/Tasks`);
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 2, show(r));
  assert.match(
    r.stderr,
    /disbatch: error: argument taskfile: can't open 'Tasks': \[Errno 21\] Is a directory: 'Tasks'\n$/,
  );
  assert.doesNotMatch(r.stderr, /Uncaught|at /);
  assert.deepEqual(leftovers(d.path, ["Tasks"]), []);
});

Deno.test("careless: a program (/bin/ls) as the task file is refused before anything runs", async () => {
  await using d = await tempDir();
  const r = await runCli(["-s", "localhost:2", "/bin/ls"], { cwd: d.path });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /'\/bin\/ls' is an ELF executable or library, not a task file/);
  assert.deepEqual(leftovers(d.path, []), []);
  // Data with many NUL bytes too; a text file with one stray NUL is still a task file.
  Deno.writeFileSync(`${d.path}/data.bin`, new Uint8Array(4096).map((_, i) => (i % 3 ? 65 : 0)));
  const data = await runCli(["-s", "localhost:2", "data.bin"], { cwd: d.path });
  assert.equal(data.code, 2, show(data));
  assert.match(data.stderr, /is binary data \(it holds NUL bytes\), not a task file/);
});

Deno.test("careless: a NUL byte in a command fails that task with rc 200, UTF-8 or not, and runs no part of it", async () => {
  await using d = await tempDir();
  const bytes = new Uint8Array([
    ...new TextEncoder().encode("echo AB > x1.txt"),
    0,
    ...new TextEncoder().encode("; echo CD"),
    0xff,
    ...new TextEncoder().encode(" > x2.txt\necho ok > x3.txt\necho U > u1.txt"),
    0,
    ...new TextEncoder().encode("; echo V > u2.txt\n"),
  ]);
  Deno.writeFileSync(`${d.path}/Tasks`, bytes);
  const r = await runCli(["-s", "localhost:1", "-p", "run", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const rows = readRows(`${d.path}/run_status.txt`).sort((a, b) => a.id - b.id);
  assert.deepEqual(rows.map((x) => [x.id, x.rc]), [[0, 200], [1, 0], [2, 200]]);
  assert.deepEqual(leftovers(d.path, []).filter((n) => n.endsWith(".txt") && !n.startsWith("run")), [
    "x3.txt",
  ]);
});

Deno.test("careless: -r with another task file's status file says so and does not suggest --force-resume", async () => {
  await using d = await tempDir();
  writeText(d.path, "A", "echo a\necho b\n");
  writeText(d.path, "B", "echo x > x\necho y > y\necho z > z\n");
  assert.equal((await runCli(["-q", "-s", "localhost:2", "-p", "a1", "A"], { cwd: d.path })).code, 0);
  const r = await runCli(["-s", "localhost:2", "-p", "b1", "-r", "a1_status.txt", "B"], { cwd: d.path });
  assert.equal(r.code, 2, show(r));
  assert.match(
    r.stderr,
    /a1_status\.txt is the status file of another task file: none of the 2 task\(s\) it records under ids of this file matches/,
  );
  assert.doesNotMatch(r.stderr, /force-resume/);
  assert.ok(!leftovers(d.path, []).some((n) => n.startsWith("b1") || n.length === 1 && "xyz".includes(n)));
  // The same file edited: restore it; --force-resume is named with what it would do.
  writeText(d.path, "A2", "echo a\necho b2\n");
  const e = await runCli(["-s", "localhost:2", "-p", "a2", "-r", "a1_status.txt", "A2"], { cwd: d.path });
  assert.equal(e.code, 2, show(e));
  assert.match(
    e.stderr,
    /the task file changed since a1_status\.txt was written: task 1 is line 2 "echo b2" here/,
  );
  assert.match(
    e.stderr,
    /\(1 of 2 recorded tasks differ\)\. Restore the task file.*--force-resume would skip the changed tasks by id without running them/,
  );
});

Deno.test("careless: -r with a file that holds no status line (the log, the task file) is a usage error", async () => {
  await using d = await tempDir();
  writeText(d.path, "A", "echo a > a\n");
  assert.equal((await runCli(["-q", "-s", "localhost:1", "-p", "a1", "A"], { cwd: d.path })).code, 0);
  Deno.removeSync(`${d.path}/a`);
  for (const wrong of ["a1_driver.log", "A"]) {
    const r = await runCli(["-s", "localhost:1", "-p", "a2", "-r", wrong, "A"], { cwd: d.path });
    assert.equal(r.code, 2, show(r));
    assert.match(
      r.stderr,
      new RegExp(`'${wrong.replace(".", "\\.")}' holds no status line .*give the <prefix>_status\\.txt`),
    );
  }
  assert.ok(!leftovers(d.path, []).includes("a"), "nothing ran");
});

Deno.test("careless: a -p where nothing can be written is one plain line, exit 1, nothing run", async () => {
  await using d = await tempDir();
  writeText(d.path, "A", "echo a > a\n");
  Deno.mkdirSync(`${d.path}/ro`);
  // Read-only for everyone but root: use a read-only bind of the directory when root.
  let readonly = `${d.path}/ro`;
  const root = Deno.uid() === 0;
  if (root) {
    const m = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", readonly],
    })
      .output();
    assert.ok(m.success, new TextDecoder().decode(m.stderr));
  } else Deno.chmodSync(readonly, 0o555);
  try {
    const r = await runCli(["-s", "localhost:1", "-p", `${readonly}/x`, "A"], { cwd: d.path });
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stderr,
      /^disbatch: Cannot write the run's files in \S+\/ro: (Read-only file system|Permission denied) \(os error \d+\)\. Choose a writable place with -p DIR\/NAME\n$/,
    );
    assert.ok(!leftovers(d.path, []).includes("a"), "nothing ran");
  } finally {
    if (root) await new Deno.Command("umount", { args: [readonly] }).output();
    readonly = "";
  }
});

Deno.test("careless: a FIFO with no writer says it waits for one, then runs what is written", async () => {
  await using d = await tempDir();
  const mk = await new Deno.Command("mkfifo", { args: [`${d.path}/fifo`] }).output();
  assert.ok(mk.success);
  const run = start(["-s", "localhost:1", "-p", "run", "fifo"], { cwd: d.path });
  await new Promise((r) => setTimeout(r, 3000)); // no writer for a while (it speaks after a second)
  Deno.writeTextFileSync(`${d.path}/fifo`, "echo hi > out\n");
  const r = await run.done;
  assert.equal(r.code, 0, show(r));
  assert.equal(Deno.readTextFileSync(`${d.path}/out`), "hi\n");
  assert.match(r.stderr, /^disbatch: fifo is a FIFO: waiting for a program to write tasks into it\n/);
  // A writer already there (it holds the FIFO open, as a running program does): nothing to say.
  const writer = new Deno.Command("bash", {
    args: ["-c", "exec 3<>fifo; echo 'echo again > out2' >&3; sleep 2; exec 3>&-"],
    cwd: d.path,
  }).spawn();
  await pollUntil("the writer holds the FIFO", () => {
    try {
      return Deno.readLinkSync(`/proc/${writer.pid}/fd/3`).length > 0;
    } catch {
      return false;
    }
  }, 10_000);
  const r2 = await start(["-s", "localhost:1", "-p", "run2", "fifo"], { cwd: d.path }).done;
  await writer.status;
  assert.equal(r2.code, 0, show(r2));
  assert.equal(Deno.readTextFileSync(`${d.path}/out2`), "again\n");
  assert.doesNotMatch(r2.stderr, /FIFO/);
});

Deno.test("careless: a file where a directory belongs (-p FILE/x, install FILE, report DIR) is named as such", async () => {
  await using d = await tempDir();
  writeText(d.path, "A", "echo a > a\n");
  writeText(d.path, "f", "not a directory\n");
  const p = await runCli(["-s", "localhost:1", "-p", "f/x", "A"], { cwd: d.path });
  assert.equal(p.code, 1, show(p));
  assert.match(p.stderr, /^disbatch: \S+\/f is a file, not a directory: choose another -p \(DIR\/NAME\)\n$/);
  const i = await runCli(["install", `${d.path}/f`], { cwd: d.path, env: { HOME: d.path } });
  assert.equal(i.code, 1, show(i));
  assert.match(i.stderr, /cannot install: \S+\/f is a file, not a directory/);
  const r = await runCli(["report", d.path], { cwd: d.path });
  assert.equal(r.code, 2, show(r));
  assert.match(
    r.stderr,
    /cannot read status file .*: it is a directory; give the <prefix>_status\.txt file of a run/,
  );
  assert.ok(!leftovers(d.path, []).includes("a"), "nothing ran");
});

/**
 * Resume (`-r`, `-R`, `--force-resume`) and our differences: a resumed run's status
 * file (lines flagged `S`) is enough for a chained resume; a mismatch is exit 2 before any task runs;
 * a missing `-r` file is exit 2.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import {
  exists,
  readOr,
  readRows,
  type Row,
  show,
  statusFields,
  statusOf,
  taskRowsById,
  writeLatin1,
  writeText,
} from "./e2e_helpers.ts";

const BASE = [
  "echo t0 >> ran.log", // id 0
  "echo t1 | tee -a ran.log; echo err >&2; exit 4", // id 1: fails with output on both streams (flags ROE)
  "echo t2 >> ran.log", // id 2
];

const FIXTURE = fileURLToPath(new URL("../fixtures/e2e/reference_resume_status.txt", import.meta.url));

function ran(dir: string): string[] {
  const t = readOr(`${dir}/ran.log`);
  return t === undefined ? [] : t.split("\n").filter((l) => l).sort();
}

/** Run the base task file once as `-p r1` and clear what it wrote. */
async function firstRun(dir: string, lines = BASE): Promise<Map<number, Row>> {
  writeText(dir, "Tasks", lines.join("\n") + "\n");
  const r = await runCli(["-s", "localhost:2", "-p", "r1", "Tasks"], { cwd: dir });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(ran(dir), lines.map((_, i) => `t${i}`));
  Deno.removeSync(`${dir}/ran.log`);
  return taskRowsById(readRows(statusOf(dir, "r1")));
}

function append(dir: string, line: string): void {
  Deno.writeTextFileSync(`${dir}/Tasks`, line + "\n", { append: true });
}

/** The fields a skipped line copies from the old one (everything but the flags' S). */
function copied(r: Row): unknown[] {
  return [
    r.id,
    r.line,
    r.rep,
    r.node,
    r.pid,
    r.rc,
    r.start,
    r.end,
    r.outBytes,
    r.outSnip,
    r.errBytes,
    r.errSnip,
    r.cmd,
  ];
}

Deno.test("disbatch: -r skips recorded successes (S, old host/pid/times copied) and, without -R, failures (R  S)", async () => {
  await using d = await tempDir();
  const old = await firstRun(d.path);
  assert.equal(old.get(1)!.flags, "ROE ");
  append(d.path, "echo t3 >> ran.log");
  const r = await runCli(["-s", "localhost:2", "-p", "r2", "-r", "r1_status.txt", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(ran(d.path), ["t3"], "only the appended task runs");
  const rows = taskRowsById(readRows(statusOf(d.path, "r2")));
  assert.deepEqual([...rows.keys()].sort(), [0, 1, 2, 3]);
  assert.equal(rows.get(0)!.flags, "   S");
  assert.equal(rows.get(1)!.flags, "ROES");
  assert.equal(rows.get(2)!.flags, "   S");
  assert.equal(rows.get(3)!.flags, "    ");
  for (const id of [0, 1, 2]) {
    assert.deepEqual(copied(rows.get(id)!), copied(old.get(id)!), `task ${id} copied from the old file`);
    assert.ok(Math.abs(rows.get(id)!.elapsed - old.get(id)!.elapsed) <= 0.0011);
  }
  assert.notEqual(rows.get(3)!.pid, old.get(0)!.pid);
});

Deno.test("disbatch: -R re-runs the recorded failures and skips the successes", async () => {
  await using d = await tempDir();
  const old = await firstRun(d.path);
  const r = await runCli(["-s", "localhost:2", "-p", "r2", "-R", "-r", "r1_status.txt", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(ran(d.path), ["t1"]);
  const rows = taskRowsById(readRows(statusOf(d.path, "r2")));
  assert.equal(rows.get(1)!.flags, "ROE ");
  assert.notEqual(rows.get(1)!.start, old.get(1)!.start);
  assert.equal(rows.get(0)!.flags, "   S");
  assert.equal(rows.get(2)!.flags, "   S");
});

Deno.test("disbatch: a resume mismatch is exit 2 before any task runs, naming the task id, line and both commands", async () => {
  await using d = await tempDir();
  await firstRun(d.path);
  const lines = [...BASE];
  lines[2] = "echo T2 >> ran.log";
  writeText(d.path, "Tasks", lines.join("\n") + "\necho t3 >> ran.log\n");
  // -R: task 1 would run again before the mismatching task 2 is reached.
  const r = await runCli(["-s", "localhost:2", "-p", "r2", "-R", "-r", "r1_status.txt", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(r.code, 2, show(r));
  assert.deepEqual(ran(d.path), [], `tasks ran despite the mismatch\n${show(r)}`);
  assert.match(r.stderr, /task 2\b/i);
  assert.match(r.stderr, /line 3\b/i);
  assert.ok(r.stderr.includes("echo T2 >> ran.log"), "new command named");
  assert.ok(r.stderr.includes("echo t2 >> ran.log"), "old command named");
  if (exists(statusOf(d.path, "r2"))) {
    assert.deepEqual(statusFields(statusOf(d.path, "r2")), [], "no task recorded");
  }
});

Deno.test("disbatch: -r from a status file whose last line was cut short in its command (a crash) skips that task; one cut into another command runs it again with a warning", async () => {
  await using d = await tempDir();
  await firstRun(d.path);
  const text = Deno.readTextFileSync(statusOf(d.path, "r1"));
  const last = text.slice(text.lastIndexOf("\n", text.length - 2) + 1, -1);
  const lastId = Number(last.split("\t")[1]);
  // Cut 4 bytes into the command, and the newline.
  Deno.writeTextFileSync(`${d.path}/cut_status.txt`, text.slice(0, -5));
  const r = await runCli(["-s", "localhost:2", "-p", "r2", "-r", "cut_status.txt", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(ran(d.path), [], `no task ran again\n${show(r)}`);
  const rows = taskRowsById(readRows(statusOf(d.path, "r2")));
  assert.deepEqual([...rows.keys()].sort(), [0, 1, 2]);
  assert.equal(rows.get(lastId)!.cmd, BASE[lastId], "re-recorded with its whole command");
  assert.ok(rows.get(lastId)!.flags.endsWith("S"));
  // A cut line whose command is not its task's: the task file did not change, the line is unreadable.
  const other = text.slice(0, text.length - 1 - last.length) + last.replace(/\t[^\t]*$/, "\techo zz");
  Deno.writeTextFileSync(`${d.path}/other_status.txt`, other);
  const r3 = await runCli(["-s", "localhost:2", "-p", "r3", "-r", "other_status.txt", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(r3.code, 0, show(r3));
  assert.match(
    r3.stderr,
    new RegExp(`last line of other_status.txt has no newline .* task ${lastId} .* runs again`),
  );
  assert.deepEqual(ran(d.path), lastId === 1 ? ["t1"] : [`t${lastId}`], show(r3));
});

Deno.test("disbatch: --force-resume skips by task id after a line was edited", async () => {
  await using d = await tempDir();
  await firstRun(d.path);
  const lines = [...BASE];
  lines[2] = "echo T2 >> ran.log";
  writeText(d.path, "Tasks", lines.join("\n") + "\necho t3 >> ran.log\n");
  const r = await runCli(
    ["-s", "localhost:2", "-p", "r2", "--force-resume", "-r", "r1_status.txt", "Tasks"],
    {
      cwd: d.path,
    },
  );
  assert.equal(r.code, 0, show(r));
  assert.deepEqual(ran(d.path), ["t3"]);
  const rows = taskRowsById(readRows(statusOf(d.path, "r2")));
  assert.equal(rows.get(2)?.flags, "   S");
  assert.equal(rows.get(3)?.flags, "    ");
});

Deno.test("disbatch: chained resume: the status file of a resumed run is enough", async () => {
  await using d = await tempDir();
  const old = await firstRun(d.path);
  append(d.path, "echo t3 >> ran.log");
  const r2 = await runCli(["-s", "localhost:2", "-p", "r2", "-r", "r1_status.txt", "Tasks"], { cwd: d.path });
  assert.equal(r2.code, 0, show(r2));
  assert.deepEqual(ran(d.path), ["t3"]);
  Deno.removeSync(`${d.path}/ran.log`);
  const r3 = await runCli(["-s", "localhost:2", "-p", "r3", "-r", "r2_status.txt", "Tasks"], { cwd: d.path });
  assert.equal(r3.code, 0, `a resume with nothing left to do exits 0\n${show(r3)}`);
  assert.deepEqual(ran(d.path), [], "nothing runs again");
  const rows = taskRowsById(readRows(statusOf(d.path, "r3")));
  assert.deepEqual([...rows.keys()].sort(), [0, 1, 2, 3]);
  assert.deepEqual([0, 1, 2, 3].map((i) => rows.get(i)!.flags), ["   S", "ROES", "   S", "   S"]);
  assert.equal(rows.get(0)!.pid, old.get(0)!.pid, "the original record is carried along");
  assert.equal(rows.get(0)!.start, old.get(0)!.start);
});

Deno.test("disbatch: several -r files are combined and a success in one wins over a failure in another", async () => {
  await using d = await tempDir();
  await firstRun(d.path);
  const raw = Deno.readTextFileSync(statusOf(d.path, "r1")).split("\n").filter((l) => l);
  const lineOf = (id: number) => raw.find((l) => l.split("\t")[1] === String(id))!;
  Deno.writeTextFileSync(`${d.path}/sa.txt`, lineOf(0) + "\n");
  Deno.writeTextFileSync(`${d.path}/sb.txt`, lineOf(1) + "\n" + lineOf(2) + "\n");
  const f = lineOf(1).split("\t");
  f[0] = "    ";
  f[6] = "0";
  Deno.writeTextFileSync(`${d.path}/sd.txt`, f.join("\t") + "\n");

  const both = await runCli(["-s", "localhost:2", "-p", "r2", "-r", "sa.txt", "-r", "sb.txt", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(both.code, 0, show(both));
  assert.deepEqual(ran(d.path), [], "every task is recorded in one of the files");

  const one = await runCli(["-s", "localhost:2", "-p", "r3", "-r", "sa.txt", "Tasks"], { cwd: d.path });
  assert.equal(one.code, 0, show(one));
  assert.deepEqual(ran(d.path), ["t1", "t2"]);
  Deno.removeSync(`${d.path}/ran.log`);

  const prec = await runCli(
    ["-s", "localhost:2", "-p", "r4", "-R", "-r", "sb.txt", "-r", "sd.txt", "-r", "sa.txt", "Tasks"],
    { cwd: d.path },
  );
  assert.equal(prec.code, 0, show(prec));
  assert.deepEqual(ran(d.path), [], "-R must not re-run task 1: its success in sd.txt wins");
  const rows = taskRowsById(readRows(statusOf(d.path, "r4")));
  assert.equal(rows.get(1)?.rc, 0);
  assert.equal(rows.get(1)?.flags[3], "S");
});

Deno.test("disbatch: a reference-format status file (header, b'...' command, P and B lines) is accepted by -r", async () => {
  await using d = await tempDir();
  Deno.copyFileSync(FIXTURE, `${d.path}/old_status.txt`);
  writeLatin1(
    d.path,
    "Tasks",
    [
      "#DISBATCH PERENGINE START echo pe >> pe_start.txt", // 1
      "echo -n \xff > ff.bin", // 2  id 0 (recorded as b'...')
      "echo two | tee -a ran.log", // 3  id 1 (success)
      "echo three >> ran.log; exit 1", // 4  id 2 (failure)
      "#DISBATCH BARRIER", // 5  id 3
      "echo four >> ran.log", // 6  id 4 (not recorded)
      "",
    ].join("\n"),
  );
  const r = await runCli(["-s", "localhost:1", "-p", "r2", "-r", "old_status.txt", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.ok(!exists(`${d.path}/ff.bin`), "task 0 (b'...' command) must be skipped");
  assert.deepEqual(ran(d.path), ["four"]);
  assert.equal(readOr(`${d.path}/pe_start.txt`), "pe\n", "per-engine tasks run again");
  const all = readRows(statusOf(d.path, "r2"));
  const rows = taskRowsById(all);
  assert.deepEqual([rows.get(0)?.flags, rows.get(0)?.cmd, rows.get(0)?.pid], [
    "   S",
    "b'echo -n \\xff > ff.bin'",
    6864,
  ]);
  assert.deepEqual([rows.get(1)?.flags, rows.get(1)?.outSnip, rows.get(1)?.start], [
    " O S",
    "'two\\n'",
    1795621734.5,
  ]);
  assert.deepEqual([rows.get(2)?.flags, rows.get(2)?.rc], ["R  S", 1]);
  assert.equal(rows.get(4)?.flags, "    ");
  assert.ok(all.some((x) => x.flags === "B    " && x.id === 3), "the barrier is recorded again");
  Deno.removeSync(`${d.path}/ran.log`);

  const retry = await runCli(["-s", "localhost:1", "-p", "r3", "-R", "-r", "old_status.txt", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(retry.code, 0, show(retry));
  assert.deepEqual(ran(d.path), ["four", "three"]);
  assert.ok(!exists(`${d.path}/ff.bin`));
});

Deno.test("disbatch: -r with a missing status file is exit 2 and runs nothing", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "echo t0 >> ran.log\n");
  const r = await runCli(["-s", "localhost:2", "-r", "does_not_exist.txt", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /does_not_exist\.txt/);
  assert.deepEqual(ran(d.path), []);
});

Deno.test("disbatch: -e counts a failure kept from the -r file (exit 1), without -e the resume exits 0", async () => {
  await using d = await tempDir();
  await firstRun(d.path);
  const withE = await runCli(["-s", "localhost:2", "-p", "r2", "-e", "-r", "r1_status.txt", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(withE.code, 1, show(withE));
  assert.deepEqual(ran(d.path), []);
  assert.match(withE.stderr, /fail/i);
  const withoutE = await runCli(["-s", "localhost:2", "-p", "r3", "-r", "r1_status.txt", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(withoutE.code, 0, show(withoutE));
  assert.deepEqual(ran(d.path), []);
});

import assert from "node:assert/strict";
import { ResumeMismatchError, type ResumeOptions, ResumeTable, skippedRecord } from "../../lib/resume.ts";
import { formatFixed3, formatStatusRecord, parseStatusLine } from "../../lib/status_record.ts";
import type { StatusRecord, Task } from "../../lib/types.ts";

/** A status line from tab-separated fields: flags id line repeat rc command (the rest is filled in). */
function line(
  flags: string,
  id: number,
  lineNo: number,
  repeat: number,
  rc: number,
  command: string,
): string {
  return [
    flags,
    id,
    lineNo,
    repeat,
    "vm",
    rc === -100 ? -1 : 7000 + id,
    rc,
    "0.010",
    "1795621734.298",
    "1795621734.307",
    0,
    "''",
    0,
    "''",
    command,
  ].join("\t");
}

function rec(text: string): StatusRecord {
  const r = parseStatusLine(text);
  assert.ok(r !== undefined && r !== "header", `unparseable: ${text}`);
  return r;
}

function task(id: number, lineNo: number, command: string, repeatIndex = -1): Task {
  return { id, line: lineNo, repeatIndex, command };
}

const PLAIN: ResumeOptions = { retry: false, force: false };
const RETRY: ResumeOptions = { retry: true, force: false };
const FORCE: ResumeOptions = { retry: false, force: true };

Deno.test("ResumeTable.decide() runs tasks that no status file recorded", () => {
  const t = new ResumeTable();
  assert.equal(t.size, 0);
  assert.deepEqual(t.decide(task(0, 1, "true"), PLAIN), { action: "run" });
  t.add(rec(line("    ", 0, 1, -1, 0, "true")), "old_status.txt");
  assert.deepEqual(t.decide(task(1, 2, "false"), PLAIN), { action: "run" });
});

Deno.test("ResumeTable.decide() skips a task recorded with the same id, line, repeat index and command", () => {
  const cases: { flags: string; rc: number; opts: ResumeOptions; action: "run" | "skip" }[] = [
    { flags: "    ", rc: 0, opts: PLAIN, action: "skip" },
    { flags: " OE ", rc: 0, opts: PLAIN, action: "skip" },
    { flags: "R   ", rc: 3, opts: PLAIN, action: "skip" }, // without -R a failure counts as done
    { flags: "R E ", rc: -9, opts: PLAIN, action: "skip" },
    { flags: "    ", rc: 0, opts: RETRY, action: "skip" },
    { flags: "R   ", rc: 3, opts: RETRY, action: "run" }, // -R re-runs failures
    { flags: "R   ", rc: -100, opts: RETRY, action: "run" },
    { flags: "R   ", rc: 3, opts: { retry: true, force: true }, action: "run" },
  ];
  for (const { flags, rc, opts, action } of cases) {
    const label = `${JSON.stringify(flags)} rc ${rc} ${JSON.stringify(opts)}`;
    const t = new ResumeTable();
    const record = rec(line(flags, 4, 7, 2, rc, "echo $DISBATCH_REPEAT_INDEX"));
    assert.equal(t.add(record, "run1_status.txt"), true, label);
    const d = t.decide(task(4, 7, "echo $DISBATCH_REPEAT_INDEX", 2), opts);
    if (action === "run") assert.deepEqual(d, { action: "run" }, label);
    else assert.deepEqual(d, { action: "skip", record, mismatch: false }, label);
  }
});

Deno.test("ResumeTable.decide() reports a mismatch when line, repeat index or command changed", () => {
  const record = rec(line("    ", 3, 5, 1, 0, "echo a"));
  const cases: { task: Task; why: string }[] = [
    { task: task(3, 6, "echo a", 1), why: "line" },
    { task: task(3, 5, "echo a", 2), why: "repeat index" },
    { task: task(3, 5, "echo a", -1), why: "not a REPEAT any more" },
    { task: task(3, 5, "echo b", 1), why: "command" },
    { task: task(3, 5, "echo a ", 1), why: "trailing space" },
  ];
  for (const { task: t, why } of cases) {
    const table = new ResumeTable();
    table.add(record, "run1_status.txt");
    assert.deepEqual(table.decide(t, PLAIN), { action: "mismatch", record, source: "run1_status.txt" }, why);
    assert.deepEqual(table.decide(t, FORCE), { action: "skip", record, mismatch: true }, why);
  }
});

Deno.test("ResumeTable.decide() reads a last line cut short in its command as its task's, and ignores one that is not", () => {
  const cases: {
    name: string;
    cut: string;
    task: Task;
    opts?: ResumeOptions;
    want: "skip" | "run" | "torn";
  }[] = [
    { name: "cut inside the command", cut: "echo c >> ", task: task(2, 3, "echo c >> tc"), want: "skip" },
    { name: "cut before the command", cut: "", task: task(2, 3, "echo c >> tc"), want: "skip" },
    { name: "only the newline missing", cut: "echo c >> tc", task: task(2, 3, "echo c >> tc"), want: "skip" },
    {
      name: "cut inside a character's bytes",
      cut: "echo caf\uFFFD",
      task: task(2, 3, "echo café"),
      want: "skip",
    },
    { name: "another command", cut: "echo d", task: task(2, 3, "echo c >> tc"), want: "torn" },
    { name: "another line", cut: "echo c", task: task(2, 4, "echo c >> tc"), want: "torn" },
    {
      name: "another command, --force-resume",
      cut: "echo d",
      task: task(2, 3, "echo c"),
      opts: FORCE,
      want: "torn",
    },
    { name: "a failure under -R", cut: "exit", task: task(2, 3, "exit 3"), opts: RETRY, want: "run" },
  ];
  for (const c of cases) {
    const t = new ResumeTable();
    const record = rec(line(c.want === "run" ? "R   " : "    ", 2, 3, -1, c.want === "run" ? 3 : 0, c.cut));
    t.add(record, "old_status.txt", true);
    const d = t.decide(c.task, c.opts ?? PLAIN);
    if (c.want === "skip") {
      assert.equal(d.action, "skip", c.name);
      assert.equal(d.action === "skip" && d.record.command, c.task.command, `${c.name}: re-recorded whole`);
    } else if (c.want === "torn") {
      assert.deepEqual(d, { action: "run", torn: { record, source: "old_status.txt" } }, c.name);
    } else assert.deepEqual(d, { action: "run" }, c.name);
  }
  // A whole line (not the last, or with its newline) that differs is still a changed task file.
  const t = new ResumeTable();
  const record = rec(line("    ", 2, 3, -1, 0, "echo c >> "));
  t.add(record, "old_status.txt");
  assert.equal(t.decide(task(2, 3, "echo c >> tc"), PLAIN).action, "mismatch");
});

Deno.test("ResumeTable.decide() with -R re-runs a changed failed task instead of reporting a mismatch", () => {
  const t = new ResumeTable();
  t.add(rec(line("R   ", 0, 1, -1, 1, "exit 1")), "s");
  assert.deepEqual(t.decide(task(0, 1, "exit 0"), RETRY), { action: "run" });
});

Deno.test("ResumeTable.decide() compares commands byte for byte, bytes-literal lines included", () => {
  const t = new ResumeTable();
  // Old disBatch (≤ 2.5) wrote every command as repr(bytes); non-UTF-8 commands still are.
  t.add(rec(line("    ", 0, 1, -1, 0, "b'echo caf\\xe9'")), "s");
  t.add(rec(line("    ", 1, 2, -1, 0, "b'echo plain'")), "s");
  t.add(rec(line("    ", 2, 3, -1, 0, "printf 'a\tb'")), "s");
  assert.equal(t.decide(task(0, 1, "echo caf\udce9"), PLAIN).action, "skip");
  assert.equal(t.decide(task(0, 1, "echo café"), PLAIN).action, "mismatch");
  assert.equal(t.decide(task(1, 2, "echo plain"), PLAIN).action, "skip");
  assert.equal(t.decide(task(2, 3, "printf 'a\tb'"), PLAIN).action, "skip");
});

Deno.test("ResumeTable.add() uses normal and skipped lines only", () => {
  const cases: { flags: string; rc: number; used: boolean; why: string }[] = [
    { flags: "    ", rc: 0, used: true, why: "normal" },
    { flags: "RO  ", rc: 1, used: true, why: "failed normal" },
    { flags: "   S", rc: 0, used: true, why: "skipped by an earlier resume (chained resume)" },
    { flags: "R  S", rc: 2, used: true, why: "failure kept by an earlier resume" },
    { flags: "R  K", rc: -15, used: false, why: "killed by disbatch" },
    { flags: "R  K", rc: -100, used: false, why: "lost with its engine" },
    { flags: "   P", rc: 0, used: false, why: "per-engine" },
    { flags: " O Z", rc: 0, used: false, why: "zombie" },
    { flags: "B    ", rc: 0, used: false, why: "barrier" },
    { flags: "C    ", rc: 0, used: false, why: "check barrier" },
  ];
  for (const { flags, rc, used, why } of cases) {
    const t = new ResumeTable();
    assert.equal(t.add(rec(line(flags, 2, 3, -1, rc, "sleep 1")), "s"), used, why);
    assert.equal(t.size, used ? 1 : 0, why);
    assert.equal(t.decide(task(2, 3, "sleep 1"), PLAIN).action, used ? "skip" : "run", why);
  }
});

Deno.test("ResumeTable.add() lets a success win over a failure of the same id in any order", () => {
  const ok = rec(line("    ", 0, 1, -1, 0, "flaky"));
  const bad = rec(line("R   ", 0, 1, -1, 1, "flaky"));
  const lost = rec(line("R   ", 0, 1, -1, -100, "flaky"));
  const orders: [StatusRecord, string][][] = [
    [[bad, "run1"], [ok, "run2"]],
    [[ok, "run1"], [bad, "run2"]],
    [[lost, "run1"], [ok, "run2"], [bad, "run3"]],
    [[ok, "run1"], [lost, "run1"]],
  ];
  for (const order of orders) {
    const t = new ResumeTable();
    for (const [r, source] of order) t.add(r, source);
    const label = order.map(([r, s]) => `${s}:${r.returnCode}`).join(" ");
    assert.equal(t.size, 1, label);
    assert.deepEqual(
      t.decide(task(0, 1, "flaky"), RETRY),
      { action: "skip", record: ok, mismatch: false },
      label,
    );
  }
  // The later of two failures is kept (both would be re-run with -R anyway).
  const t = new ResumeTable();
  t.add(bad, "run1");
  assert.equal(t.add(lost, "run2"), true);
  assert.deepEqual(t.decide(task(0, 1, "flaky"), PLAIN), { action: "skip", record: lost, mismatch: false });
});

Deno.test("ResumeTable reads a chained resume from the last status file alone", () => {
  // run1: tasks 0 and 1 ran, 1 failed. run2 = -r run1: both skipped, task 2 ran.
  const run2 = [
    line("   S", 0, 1, -1, 0, "echo t0"),
    line("R  S", 1, 2, -1, 1, "false"),
    line(" O  ", 2, 3, -1, 0, "echo t2"),
  ];
  const t = new ResumeTable();
  for (const l of run2) t.add(rec(l), "run2_status.txt");
  assert.equal(t.decide(task(0, 1, "echo t0"), PLAIN).action, "skip");
  assert.equal(t.decide(task(1, 2, "false"), PLAIN).action, "skip");
  assert.equal(t.decide(task(1, 2, "false"), RETRY).action, "run");
  assert.equal(t.decide(task(2, 3, "echo t2"), PLAIN).action, "skip");
  assert.equal(t.decide(task(3, 4, "echo t3"), PLAIN).action, "run");
});

Deno.test("ResumeTable reads the reference status file fixture", () => {
  const text = Deno.readTextFileSync(new URL("../fixtures/status/reference_status.txt", import.meta.url));
  const t = new ResumeTable();
  let header = 0;
  for (const l of text.split("\n")) {
    if (l === "") continue;
    const r = parseStatusLine(l);
    assert.ok(r !== undefined, l);
    if (r === "header") {
      header++;
      continue;
    }
    t.add(r, "reference_status.txt");
  }
  assert.equal(header, 1);
  // Normal ids 1, 5, 8, 12, 13, 14, 15 and the skipped id 0 (whose later rc -100 line loses).
  assert.equal(t.size, 8);
  assert.equal(t.decide(task(0, 1, "echo t0 > o0"), RETRY).action, "skip");
  assert.equal(t.decide(task(5, 11, "(  ) > out_${DISBATCH_TASKID_ZP}.txt 2>&1", 0), RETRY).action, "run");
  assert.equal(t.decide(task(13, 22, "echo caf\udce9"), PLAIN).action, "skip");
  assert.equal(t.decide(task(3, 5, "sleep 40; echo done"), PLAIN).action, "run"); // zombie line
  assert.equal(t.decide(task(4, 6, "sleep 100"), PLAIN).action, "run"); // killed line
  assert.equal(t.decide(task(9, 18, "#DISBATCH BARRIER"), PLAIN).action, "run"); // barrier line
});

Deno.test("ResumeTable.decide(): a task an earlier run stopped runs, with its longest such line", () => {
  const k = (id: number, rc: number, elapsed: string, command = "sleep 70") =>
    rec(line("R  K", id, id + 1, -1, rc, command).replace("\t0.010\t", `\t${elapsed}\t`));
  const cases: { name: string; lines: StatusRecord[]; cut?: boolean; want: number | undefined }[] = [
    { name: "stopped after 43.8 s", lines: [k(0, -15, "43.812")], want: 43.812 },
    { name: "stopped twice: the longer", lines: [k(0, -15, "43.812"), k(0, -15, "20.000")], want: 43.812 },
    { name: "lost with its engine: says nothing", lines: [k(0, -100, "43.812")], want: undefined },
    {
      name: "another command on that line: says nothing",
      lines: [k(0, -15, "43.812", "sleep 5")],
      want: undefined,
    },
    { name: "a last line cut short: says nothing", lines: [k(0, -15, "43.812")], cut: true, want: undefined },
  ];
  for (const c of cases) {
    const t = new ResumeTable();
    for (const r of c.lines) assert.equal(t.add(r, "s", c.cut), false, `${c.name}: never makes it skip`);
    const d = t.decide(task(0, 1, "sleep 70"), PLAIN);
    assert.equal(d.action, "run", c.name);
    assert.equal(d.action === "run" ? d.stopped?.elapsed : "?", c.want, c.name);
  }
  // With -R, a failure recorded later still runs, and the stop is still known.
  const t = new ResumeTable();
  t.add(k(0, -15, "43.812"), "s");
  t.add(rec(line("R   ", 0, 1, -1, 1, "sleep 70")), "s");
  const d = t.decide(task(0, 1, "sleep 70"), RETRY);
  assert.equal(d.action === "run" ? d.stopped?.elapsed : "?", 43.812);
  assert.equal(t.decide(task(0, 1, "sleep 70"), PLAIN).action, "skip");
});

Deno.test("skippedRecord() flags the old line S, keeps R/O/E and recomputes Elapsed", () => {
  const cases: { flags: string; want: string }[] = [
    { flags: "    ", want: "   S" },
    { flags: "R E ", want: "R ES" },
    { flags: " OE ", want: " OES" },
    { flags: "RO  ", want: "RO S" },
    { flags: "   S", want: "   S" },
    { flags: "R  S", want: "R  S" },
  ];
  for (const { flags, want } of cases) {
    const old = rec(
      `${flags}\t6\t9\t-1\tn042\t19493\t${
        flags[0] === "R" ? 2 : 0
      }\t0.010\t1795621825.169\t1795621825.175\t` +
        `3\t'ok\\n'\t4\t'err\\n'\techo t6`,
    );
    const before = structuredClone(old);
    const s = skippedRecord(old);
    assert.deepEqual(old, before, "the old record is not changed");
    assert.equal(s.flags, want, flags);
    assert.equal(formatFixed3(s.elapsed), "0.006", flags); // 0.010 written, .175 - .169 recomputed
    assert.deepEqual({ ...s, flags: old.flags, elapsed: old.elapsed }, old, "other fields copied");
    assert.equal(
      formatStatusRecord(s),
      `${want}\t6\t9\t-1\tn042\t19493\t${old.returnCode}\t0.006\t1795621825.169\t1795621825.175\t` +
        `3\t'ok\\n'\t4\t'err\\n'\techo t6`,
    );
  }
});

Deno.test("ResumeMismatchError names both versions of the task and the way out", () => {
  const t = task(3, 6, "echo new", 2);
  const r = rec(line("    ", 3, 5, -1, 0, "echo old"));
  const e = new ResumeMismatchError(t, r, "run1_status.txt");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "ResumeMismatchError");
  assert.equal(e.task, t);
  assert.equal(e.record, r);
  assert.equal(e.source, "run1_status.txt");
  for (
    const part of [
      "task 3",
      "line 6",
      "(repeat index 2)",
      '"echo new"',
      "run1_status.txt",
      "line 5",
      '"echo old"',
    ]
  ) {
    assert.ok(e.message.includes(part), `${part} in ${e.message}`);
  }
  assert.match(e.message, /--force-resume/);
  assert.doesNotMatch(e.message, /repeat index -1/);
});

Deno.test("ResumeMismatchError tells another task file's status file from an edited task file", () => {
  const t = task(0, 1, "echo x", -1);
  const r = rec(line("    ", 0, 1, -1, 0, "echo a"));
  const other = new ResumeMismatchError(t, r, "a_status.txt", { same: 0, differ: 2 });
  assert.match(
    other.message,
    /a_status\.txt is the status file of another task file: none of the 2 task\(s\) it records under ids of this file/,
  );
  assert.match(other.message, /Give the status file of this task file, or run without -r$/);
  assert.doesNotMatch(other.message, /force-resume/);
  const edited = new ResumeMismatchError(t, r, "a_status.txt", { same: 5, differ: 1 });
  assert.match(
    edited.message,
    /task file changed since a_status\.txt was written: .*\(1 of 6 recorded tasks differ\)/,
  );
  assert.match(edited.message, /--force-resume would skip the changed tasks by id without running them$/);
  // A comment added at the top: every recorded task is there, one line further down.
  const shifted = new ResumeMismatchError(task(0, 2, "echo a", -1), r, "a_status.txt", {
    same: 0,
    differ: 3,
    moved: 3,
  });
  assert.match(
    shifted.message,
    /^Cannot resume: lines were added or removed in the task file since a_status\.txt was written: 3 recorded task\(s\) have the same command on another line \(task 0 is line 2 "echo a" here; a_status\.txt recorded it as line 1 "echo a"\)\. If only comments or blank lines changed, --force-resume skips/,
  );
  assert.doesNotMatch(shifted.message, /another task file/);
  // Some moved, some changed: an edited file.
  const mixed = new ResumeMismatchError(t, r, "a_status.txt", { same: 0, differ: 3, moved: 2 });
  assert.match(mixed.message, /another task file/);
  // A PREFIX added: every recorded command is inside its new one (some on another line).
  const wrapped = new ResumeMismatchError(task(0, 2, "set -e; echo a", -1), r, "a_status.txt", {
    same: 0,
    differ: 3,
    moved: 1,
    wrapped: 2,
  });
  assert.match(
    wrapped.message,
    /the commands changed around the recorded ones .*\(a PREFIX or SUFFIX added\?\)/,
  );
  assert.match(wrapped.message, /--force-resume skips the recorded ones by id/);
  assert.doesNotMatch(wrapped.message, /another task file/);
});

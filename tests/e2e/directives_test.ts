/**
 * One black-box test per task-file directive: files the tasks create and the status
 * file fields they produce.
 */

import assert from "node:assert/strict";
import { runCli, statusFileIn, tempDir } from "../helpers/run_cli.ts";
import {
  exists,
  linesWith,
  readOr,
  readRows,
  type Row,
  rowsIn,
  runWithPid,
  show,
  taskRowsById,
  writeText,
} from "./e2e_helpers.ts";

/** Clock tolerance between times written by different processes (rounded to ms). */
const TOL = 0.002;

function byCmd(rows: Row[], cmd: string): Row {
  const r = rows.find((x) => x.cmd === cmd);
  assert.ok(r, `no status line for ${JSON.stringify(cmd)} in ${JSON.stringify(rows.map((x) => x.cmd))}`);
  return r;
}

Deno.test("disbatch: PREFIX/SUFFIX wrap the following lines, are replaced by later ones and cleared with a trailing space", async () => {
  await using d = await tempDir();
  writeText(
    d.path,
    "Tasks",
    [
      "touch plain0", // 1  id 0
      "#DISBATCH PREFIX echo pre-", // 2
      "#DISBATCH SUFFIX  > out_$DISBATCH_TASKID.txt", // 3
      "one", // 4  id 1
      "# a comment does not touch the prefix", // 5
      "#DISBATCH PREFIX echo PRE2-", // 6
      "two", // 7  id 2
      "#DISBATCH prefix touch rp_", // 8  (keyword is case-insensitive)
      "#DISBATCH SUFFIX $DISBATCH_REPEAT_INDEX", // 9
      "#DISBATCH REPEAT 2 start 1", // 10 ids 3, 4
      "#DISBATCH PREFIX ", // 11 clears
      "#DISBATCH SUFFIX ", // 12 clears
      "touch plain1", // 13 id 5
      "",
    ].join("\n"),
  );
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.equal(readOr(`${d.path}/out_1.txt`), "pre-one\n");
  assert.equal(readOr(`${d.path}/out_2.txt`), "PRE2-two\n");
  for (const f of ["plain0", "plain1", "rp_1", "rp_2"]) assert.ok(exists(`${d.path}/${f}`), `${f} missing`);
  const rows = taskRowsById(rowsIn(d.path));
  assert.deepEqual([...rows.keys()].sort(), [0, 1, 2, 3, 4, 5]);
  const expect: [number, number, number, string][] = [
    [0, 1, -1, "touch plain0"],
    [1, 4, -1, "echo pre-one > out_$DISBATCH_TASKID.txt"],
    [2, 7, -1, "echo PRE2-two > out_$DISBATCH_TASKID.txt"],
    [3, 10, 1, "touch rp_$DISBATCH_REPEAT_INDEX"],
    [4, 10, 2, "touch rp_$DISBATCH_REPEAT_INDEX"],
    [5, 13, -1, "touch plain1"],
  ];
  for (const [id, line, rep, cmd] of expect) {
    const row = rows.get(id)!;
    assert.deepEqual([row.line, row.rep, row.cmd], [line, rep, cmd], `task ${id}`);
  }
});

Deno.test("disbatch: REPEAT with start/step expands to one task per index with DISBATCH_REPEAT_INDEX and _ZP", async () => {
  await using d = await tempDir();
  writeText(
    d.path,
    "Tasks",
    [
      'echo "$DISBATCH_REPEAT_INDEX $DISBATCH_REPEAT_INDEX_ZP" > plain.txt', // 1 id 0
      '#DISBATCH REPEAT 3 start 5 step 2 echo "$DISBATCH_REPEAT_INDEX $DISBATCH_REPEAT_INDEX_ZP $DISBATCH_TASKID" > rep_$DISBATCH_REPEAT_INDEX.txt', // 2 ids 1..3
      "#DISBATCH REPEAT 0 touch never", // 3 no task
      "#DISBATCH repeat 2 touch low_$DISBATCH_REPEAT_INDEX", // 4 ids 4, 5
      "",
    ].join("\n"),
  );
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.equal(readOr(`${d.path}/plain.txt`), "-1 -00001\n");
  assert.equal(readOr(`${d.path}/rep_5.txt`), "5 000005 1\n");
  assert.equal(readOr(`${d.path}/rep_7.txt`), "7 000007 2\n");
  assert.equal(readOr(`${d.path}/rep_9.txt`), "9 000009 3\n");
  assert.ok(!exists(`${d.path}/never`));
  assert.ok(exists(`${d.path}/low_0`) && exists(`${d.path}/low_1`));
  const rows = taskRowsById(rowsIn(d.path));
  assert.deepEqual(
    [...rows.values()].sort((a, b) => a.id - b.id).map((x) => [x.id, x.line, x.rep]),
    [[0, 1, -1], [1, 2, 5], [2, 2, 7], [3, 2, 9], [4, 4, 0], [5, 4, 1]],
  );
  assert.equal(
    rows.get(1)!.cmd,
    'echo "$DISBATCH_REPEAT_INDEX $DISBATCH_REPEAT_INDEX_ZP $DISBATCH_TASKID" > rep_$DISBATCH_REPEAT_INDEX.txt',
  );
});

Deno.test("disbatch: BARRIER holds later tasks until every earlier task ended and is recorded as 'B    ' by the driver", async () => {
  await using d = await tempDir();
  writeText(
    d.path,
    "Tasks",
    ["touch a", "sleep 0.4; touch b", "#DISBATCH BARRIER", "touch c", ""].join("\n"),
  );
  // 3 slots: without the barrier, `touch c` would start at once.
  const r = await runWithPid(["-s", "localhost:3", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const rows = rowsIn(d.path);
  const tasks = taskRowsById(rows);
  const barrier = rows.find((x) => x.flags.trim() === "B");
  assert.ok(barrier, JSON.stringify(rows));
  assert.equal(barrier.flags, "B    ");
  assert.deepEqual(
    [barrier.id, barrier.line, barrier.rep, barrier.pid, barrier.rc, barrier.cmd],
    [2, 3, -1, r.pid, 0, "#DISBATCH BARRIER"],
  );
  assert.equal(barrier.fields.length, 15);
  const c = tasks.get(3);
  assert.ok(c, "the task after the barrier has id 3 (barriers consume an id)");
  const lastEnd = Math.max(tasks.get(0)!.end, tasks.get(1)!.end);
  assert.ok(c.start + TOL >= lastEnd, `task after barrier started ${c.start} before ${lastEnd}`);
  assert.ok(barrier.end + TOL >= lastEnd, `barrier satisfied ${barrier.end} before ${lastEnd}`);
  assert.ok(
    c.start + TOL >= barrier.end,
    `task started ${c.start} before the barrier was satisfied ${barrier.end}`,
  );
  // The barrier line comes after the lines of the tasks it waited for.
  const pos = (x: Row) => rows.indexOf(x);
  assert.ok(pos(barrier) > pos(tasks.get(0)!) && pos(barrier) > pos(tasks.get(1)!));
});

Deno.test("disbatch: BARRIER CHECK after a failure stops the run (later task not run, exit 1)", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", ["exit 3", "touch ok", "#DISBATCH BARRIER CHECK", "touch after", ""].join("\n"));
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.ok(exists(`${d.path}/ok`), show(r));
  assert.ok(!exists(`${d.path}/after`), `task after a failed BARRIER CHECK ran\n${show(r)}`);
  assert.equal(r.code, 1, show(r));
  const rows = rowsIn(d.path);
  assert.ok(!rows.some((x) => x.cmd === "touch after"));
  const failed = byCmd(rows, "exit 3");
  assert.equal(failed.rc, 3);
  assert.equal(failed.flags, "R   ");
});

Deno.test("disbatch: BARRIER CHECK passes when every earlier task succeeded ('C    ' line)", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", ["touch a", "#DISBATCH BARRIER CHECK", "touch after", ""].join("\n"));
  const r = await runWithPid(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.ok(exists(`${d.path}/after`));
  const rows = rowsIn(d.path);
  const check = rows.find((x) => x.flags.trim() === "C");
  assert.ok(check, JSON.stringify(rows));
  assert.deepEqual([check.flags, check.id, check.line, check.pid, check.rc, check.cmd], [
    "C    ",
    1,
    2,
    r.pid,
    0,
    "#DISBATCH BARRIER CHECK",
  ]);
  assert.equal(taskRowsById(rows).get(2)?.cmd, "touch after");
});

Deno.test("disbatch: keyed BARRIER and BARRIER CHECK key are barriers recorded with the directive verbatim", async () => {
  await using d = await tempDir();
  writeText(
    d.path,
    "Tasks",
    [
      "sleep 0.3; touch a", // id 0
      "#DISBATCH BARRIER mykey", // id 1
      "touch b", // id 2
      "#DISBATCH BARRIER CHECK key1", // id 3
      "touch c", // id 4
      "",
    ].join("\n"),
  );
  const r = await runWithPid(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  for (const f of ["a", "b", "c"]) assert.ok(exists(`${d.path}/${f}`));
  const rows = rowsIn(d.path);
  const b = byCmd(rows, "#DISBATCH BARRIER mykey");
  const c = byCmd(rows, "#DISBATCH BARRIER CHECK key1");
  assert.deepEqual([b.flags, b.id, b.line, b.pid], ["B    ", 1, 2, r.pid]);
  assert.deepEqual([c.flags, c.id, c.line, c.pid], ["C    ", 3, 4, r.pid]);
  const t = taskRowsById(rows);
  assert.ok(t.get(2)!.start + TOL >= t.get(0)!.end, "keyed barrier did not hold task 2");
  assert.ok(t.get(4)!.start + TOL >= t.get(2)!.end, "keyed check barrier did not hold task 4");
});

Deno.test("disbatch: PERENGINE START/STOP run once per engine, before and after every task ('   P', cylinder -1)", async () => {
  await using d = await tempDir();
  writeText(
    d.path,
    "Tasks",
    [
      '#DISBATCH PERENGINE START echo "$DISBATCH_CYLINDER_RANK $DISBATCH_TASKID $DISBATCH_ENGINE_RANK $DISBATCH_REPEAT_INDEX" >> pe_start.txt',
      '#DISBATCH PERENGINE STOP echo "$DISBATCH_CYLINDER_RANK $DISBATCH_TASKID $DISBATCH_ENGINE_RANK" >> pe_stop.txt',
      "sleep 0.2; touch t0",
      "sleep 0.2; touch t1",
      "",
    ].join("\n"),
  );
  const r = await runCli(["-s", "localhost:1", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.equal(readOr(`${d.path}/pe_start.txt`), "-1 0 0 -1\n");
  assert.equal(readOr(`${d.path}/pe_stop.txt`), "-1 0 0\n");
  const rows = rowsIn(d.path);
  const pe = rows.filter((x) => x.flags === "   P");
  assert.equal(pe.length, 2, JSON.stringify(rows));
  const startRow = pe.find((x) => x.line === 1);
  const stopRow = pe.find((x) => x.line === 2);
  assert.ok(startRow && stopRow, JSON.stringify(pe));
  assert.deepEqual([startRow.id, startRow.rep, startRow.rc], [0, -1, 0]);
  assert.deepEqual([stopRow.id, stopRow.rep, stopRow.rc], [0, -1, 0]);
  const tasks = [...taskRowsById(rows).values()];
  assert.deepEqual(tasks.map((x) => x.id).sort(), [0, 1], "per-engine lines do not consume task ids");
  assert.deepEqual(tasks.map((x) => x.line).sort(), [3, 4]);
  for (const t of tasks) {
    assert.ok(
      startRow.end <= t.start + TOL,
      `START ended ${startRow.end} after task ${t.id} started ${t.start}`,
    );
    assert.ok(
      stopRow.start + TOL >= t.end,
      `STOP started ${stopRow.start} before task ${t.id} ended ${t.end}`,
    );
  }
  assert.ok(rows.indexOf(startRow) < rows.indexOf(stopRow));
});

Deno.test("disbatch: a PERENGINE line after a task is an error FILE:LINE (exit 2) and nothing runs", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", ["touch t0", "#DISBATCH PERENGINE START touch pe", "touch t1", ""].join("\n"));
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /Tasks:2:/);
  for (const f of ["t0", "pe", "t1"]) assert.ok(!exists(`${d.path}/${f}`), `${f} ran\n${show(r)}`);
});

Deno.test("disbatch: a CRLF task file runs the commands without the carriage return", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "touch a\r\n# comment\r\ntouch b\r\n");
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.ok(exists(`${d.path}/a`) && exists(`${d.path}/b`), show(r));
  assert.ok(!exists(`${d.path}/a\r`) && !exists(`${d.path}/b\r`));
  const rows = taskRowsById(rowsIn(d.path));
  assert.deepEqual([rows.get(0)?.cmd, rows.get(0)?.line], ["touch a", 1]);
  assert.deepEqual([rows.get(1)?.cmd, rows.get(1)?.line], ["touch b", 3]);
});

Deno.test("disbatch: the last line without a newline is a task", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "touch a\ntouch b");
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.ok(exists(`${d.path}/a`) && exists(`${d.path}/b`), show(r));
  assert.equal(taskRowsById(rowsIn(d.path)).get(1)?.cmd, "touch b");
});

Deno.test("disbatch: a bare '#DISBATCH PREFIX' and unknown directives warn with FILE:LINE and keep the reference's meaning", async () => {
  await using d = await tempDir();
  writeText(
    d.path,
    "Tasks",
    [
      "#DISBATCH PREFIX echo kept-", // 1
      "#DISBATCH PREFIX", // 2  bare: does not clear
      "x > out.txt", // 3  id 0
      "#DISBATCH FROBNICATE now", // 4  unknown: ignored, no id
      "#disbatch barrier", // 5  lower case: a comment
      "y > out2.txt", // 6  id 1
      "",
    ].join("\n"),
  );
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.equal(readOr(`${d.path}/out.txt`), "kept-x\n");
  assert.equal(readOr(`${d.path}/out2.txt`), "kept-y\n");
  assert.equal(linesWith(r.stderr, "Tasks:2").length, 1, `no warning naming Tasks:2\n${show(r)}`);
  assert.equal(linesWith(r.stderr, "Tasks:4").length, 1, `no warning naming Tasks:4\n${show(r)}`);
  const rows = readRows(statusFileIn(d.path));
  assert.deepEqual(rows.map((x) => x.id).sort(), [0, 1]);
  assert.equal(taskRowsById(rows).get(1)?.line, 6);
});

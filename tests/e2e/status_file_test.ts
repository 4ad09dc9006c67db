/**
 * The status file, byte for byte where the reference defines it: leaked-output
 * snippets as Python reprs, flags, `%.3f` times, the header, raw/`b'…'` commands, completion order.
 */

import assert from "node:assert/strict";
import { runCli, statusFileIn, tempDir } from "../helpers/run_cli.ts";
import { readRows, rowsIn, show, taskRowsById, writeLatin1, writeText } from "./e2e_helpers.ts";

const HEADER = [
  "ROE[ PSZ]",
  "TaskID",
  "LineNum",
  "RepeatIndex",
  "Node",
  "PID",
  "ReturnCode",
  "Elapsed",
  "Start",
  "Finish",
  "BytesOfLeakedOutput",
  "OutputSnippet",
  "BytesOfLeakedError",
  "ErrorSnippet",
  "Command",
].join("\t");

Deno.test("disbatch: leaked output is counted and kept as a Python-repr snippet (first 40 + '...' + last 40)", async () => {
  await using d = await tempDir();
  const lines = [
    "printf %s 0123456789012345678901234567890123456789ABCDEFGHIJKLMNOP", // 0: 56 bytes
    "printf %s 0123456789012345678901234567890123456789", // 1: exactly 40 bytes
    "printf %s \"$(seq -s '' 10 59)\"", // 2: 100 bytes
    "printf abc >&2", // 3: stderr only
    `echo "it's"`, // 4: single quote inside → double-quoted repr
    `echo "it's \\"q\\""`, // 5: both quotes → single-quoted repr with \'
    `echo 'say "hi"'`, // 6: double quotes only → single-quoted repr
    "printf 'a\\tb\\\\c\\n'", // 7: tab, backslash, newline escapes
    "echo ünïcode", // 8: printable non-ASCII kept raw
    "echo o; echo e >&2; exit 2", // 9: R, O and E flags
  ];
  writeText(d.path, "Tasks", lines.join("\n") + "\n");
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const rows = taskRowsById(rowsIn(d.path));
  const want: [
    id: number,
    flags: string,
    outBytes: number,
    outSnip: string,
    errBytes: number,
    errSnip: string,
  ][] = [
    [0, " O  ", 56, "'0123456789012345678901234567890123456789...ABCDEFGHIJKLMNOP'", 0, "''"],
    [1, " O  ", 40, "'0123456789012345678901234567890123456789'", 0, "''"],
    [
      2,
      " O  ",
      100,
      "'1011121314151617181920212223242526272829...4041424344454647484950515253545556575859'",
      0,
      "''",
    ],
    [3, "  E ", 0, "''", 3, "'abc'"],
    [4, " O  ", 5, `"it's\\n"`, 0, "''"],
    [5, " O  ", 9, `'it\\'s "q"\\n'`, 0, "''"],
    [6, " O  ", 9, `'say "hi"\\n'`, 0, "''"],
    [7, " O  ", 6, "'a\\tb\\\\c\\n'", 0, "''"],
    [8, " O  ", 10, "'ünïcode\\n'", 0, "''"],
    [9, "ROE ", 2, "'o\\n'", 2, "'e\\n'"],
  ];
  for (const [id, flags, ob, os, eb, es] of want) {
    const row = rows.get(id);
    assert.ok(row, `no line for task ${id}`);
    assert.deepEqual(
      [row.flags, row.outBytes, row.outSnip, row.errBytes, row.errSnip, row.cmd],
      [flags, ob, os, eb, es, lines[id]],
      `task ${id}: ${lines[id]}`,
    );
  }
  assert.equal(rows.get(9)!.rc, 2);
});

Deno.test("disbatch: status lines have 15 fields, %.3f times, Elapsed = Finish - Start, and rc flags", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "sleep 0.1\nexit 7\nkill -9 $$\n");
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, `failed tasks do not change the exit code without -e\n${show(r)}`);
  const raw = Deno.readTextFileSync(statusFileIn(d.path));
  assert.ok(raw.endsWith("\n"));
  const lines = raw.split("\n").slice(0, -1);
  assert.equal(lines.length, 3);
  for (const line of lines) {
    const f = line.split("\t");
    assert.equal(f.length, 15, line);
    assert.match(f[0]!, /^[ R][ O][ E][ PSZK]$/);
    for (const i of [1, 2, 3, 5, 6, 10, 12]) assert.match(f[i]!, /^-?\d+$/, `field ${i + 1} of ${line}`);
    for (const i of [7, 8, 9]) assert.match(f[i]!, /^\d+\.\d{3}$/, `field ${i + 1} of ${line}`);
    const [el, st, en] = [Number(f[7]), Number(f[8]), Number(f[9])];
    assert.ok(Math.abs(en - st - el) <= 0.0011, `Elapsed ${el} != ${en} - ${st}`);
    assert.ok(Math.abs(st - Date.now() / 1000) < 120, `Start ${st} is not a current epoch time`);
    assert.equal(f[4], Deno.hostname(), "Node is this host's name");
    assert.ok(Number(f[5]) > 0, "PID");
  }
  const rows = taskRowsById(rowsIn(d.path));
  assert.deepEqual([rows.get(0)!.flags, rows.get(0)!.rc], ["    ", 0]);
  assert.ok(
    rows.get(0)!.elapsed >= 0.09 && rows.get(0)!.elapsed < 5,
    `sleep 0.1 took ${rows.get(0)!.elapsed}`,
  );
  assert.deepEqual([rows.get(1)!.flags, rows.get(1)!.rc], ["R   ", 7]);
  assert.deepEqual([rows.get(2)!.flags, rows.get(2)!.rc], ["R   ", -9], "killed by a signal → negative rc");
});

Deno.test("disbatch: --status-header writes the reference's header as the first line", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "true\n");
  const r = await runCli(["-s", "localhost:1", "--status-header", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const lines = Deno.readTextFileSync(statusFileIn(d.path)).split("\n");
  assert.equal(lines[0], HEADER);
  assert.equal(lines.length, 3, "header, one task, final newline");
  assert.equal(lines[1]!.split("\t")[14], "true");
});

Deno.test("disbatch: without --status-header there is no header line", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "true\n");
  const r = await runCli(["-s", "localhost:1", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const first = Deno.readTextFileSync(statusFileIn(d.path)).split("\n")[0]!;
  assert.ok(!first.startsWith("ROE"), first);
});

Deno.test("disbatch: a non-UTF-8 command is recorded as a bytes repr b'...' and runs with its raw bytes", async () => {
  await using d = await tempDir();
  writeLatin1(
    d.path,
    "Tasks",
    "echo -n \xff > ff.bin\nprintf '%s' '\xfe' > fe.bin\necho -n caf\xc3\xa9 > utf8.bin\n",
  );
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.deepEqual([...Deno.readFileSync(`${d.path}/ff.bin`)], [0xff]);
  assert.deepEqual([...Deno.readFileSync(`${d.path}/fe.bin`)], [0xfe]);
  assert.deepEqual([...Deno.readFileSync(`${d.path}/utf8.bin`)], [0x63, 0x61, 0x66, 0xc3, 0xa9]);
  const rows = taskRowsById(rowsIn(d.path));
  assert.equal(rows.get(0)!.cmd, "b'echo -n \\xff > ff.bin'");
  assert.equal(rows.get(1)!.cmd, `b"printf '%s' '\\xfe' > fe.bin"`);
  assert.equal(rows.get(2)!.cmd, "echo -n café > utf8.bin", "valid UTF-8 stays raw");
});

Deno.test("disbatch: a command containing a tab is written raw as the last field", async () => {
  await using d = await tempDir();
  const cmd = 'echo "x\ty" > tabbed.txt';
  writeText(d.path, "Tasks", cmd + "\n");
  const r = await runCli(["-s", "localhost:1", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.equal(Deno.readTextFileSync(`${d.path}/tabbed.txt`), "x\ty\n");
  const line = Deno.readTextFileSync(statusFileIn(d.path)).split("\n")[0]!;
  assert.equal(line.split("\t").length, 16);
  assert.ok(line.endsWith("\t" + cmd), line);
  assert.equal(readRows(statusFileIn(d.path))[0]!.cmd, cmd);
});

Deno.test("disbatch: lines are in completion order (a fast task after a slow one is written first)", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "sleep 0.6; touch slow\ntouch fast\n");
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const rows = rowsIn(d.path);
  assert.deepEqual(rows.map((x) => x.id), [1, 0]);
  assert.ok(rows[0]!.end <= rows[1]!.end);
});

/**
 * The environment tasks see, -p naming, stdin task files, the working
 * directory and stdin of tasks, and the slot counts of -c/-t.
 */

import assert from "node:assert/strict";
import { basename } from "node:path";
import { runCli, statusFileIn, tempDir } from "../helpers/run_cli.ts";
import { exists, readOr, RENDEZVOUS_SH, rowsIn, show, taskRowsById, writeText } from "./e2e_helpers.ts";

const DUMP = "env | grep ^DISBATCH_ | sort > env_$DISBATCH_TASKID.txt";

/** disBatch's variables and our DISBATCH_ATTEMPT (DISBATCH_KVSSTCP_HOST is checked separately). */
const NAMES = [
  "DISBATCH_ATTEMPT",
  "DISBATCH_CORES_PER_TASK",
  "DISBATCH_CYLINDER_RANK",
  "DISBATCH_ENGINE_RANK",
  "DISBATCH_JOBID",
  "DISBATCH_NAMETASKS",
  "DISBATCH_REPEAT_INDEX",
  "DISBATCH_REPEAT_INDEX_ZP",
  "DISBATCH_STREAM_INDEX",
  "DISBATCH_STREAM_INDEX_ZP",
  "DISBATCH_TASKID",
  "DISBATCH_TASKID_ZP",
];

function parseEnv(text: string | undefined): Record<string, string> {
  assert.ok(text !== undefined, "the task did not write its environment");
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) env[line.slice(0, i)] = line.slice(i + 1);
  }
  return env;
}

/** DISBATCH_* names inherited from the test's own environment (e.g. DISBATCH_BIN). */
const INHERITED = new Set(Object.keys(Deno.env.toObject()).filter((k) => k.startsWith("DISBATCH_")));

function ownNames(env: Record<string, string>): string[] {
  return Object.keys(env).filter((k) => !INHERITED.has(k) && k !== "DISBATCH_KVSSTCP_HOST").sort();
}

function uidOf(statusPath: string): string {
  return basename(statusPath).replace(/_status\.txt$/, "");
}

Deno.test("disbatch: tasks see every DISBATCH_ variable of the reference with its exact format", async () => {
  await using d = await tempDir();
  writeText(
    d.path,
    "Tasks",
    [
      "# comment", // 1
      DUMP, // 2  id 0
      "", // 3
      DUMP, // 4  id 1
      "#DISBATCH BARRIER", // 5  id 2
      "#DISBATCH REPEAT 2 start 3 step 4 " + DUMP, // 6  ids 3, 4 (repeat 3, 7)
      DUMP, // 7  id 5
      "",
    ].join("\n"),
  );
  const t0 = Date.now();
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const uid = uidOf(statusFileIn(d.path));
  assert.match(uid, /^Tasks_disBatch_\d{12}_\d{3}$/);
  // <yymmddHHMMSS>: two-digit year, local time of the run.
  const m = /_(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)_/.exec(uid)!;
  const stamp = new Date(
    2000 + Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
  );
  assert.ok(Math.abs(stamp.getTime() - t0) < 120_000, `stamp ${m[0]} is not the time of the run`);

  const expected: Record<number, [line: number, rep: number]> = {
    0: [2, -1],
    1: [4, -1],
    3: [6, 3],
    4: [6, 7],
    5: [7, -1],
  };
  const zp = (n: number) => (n < 0 ? "-" + String(-n).padStart(5, "0") : String(n).padStart(6, "0"));
  for (const [idText, [line, rep]] of Object.entries(expected)) {
    const id = Number(idText);
    const env = parseEnv(readOr(`${d.path}/env_${id}.txt`));
    assert.deepEqual(ownNames(env), NAMES, `task ${id}: variables`);
    assert.equal(env.DISBATCH_TASKID, String(id));
    assert.equal(env.DISBATCH_ATTEMPT, "0", "the first run of every task");
    assert.equal(env.DISBATCH_TASKID_ZP, zp(id));
    assert.equal(env.DISBATCH_STREAM_INDEX, String(line));
    assert.equal(env.DISBATCH_STREAM_INDEX_ZP, zp(line));
    assert.equal(env.DISBATCH_REPEAT_INDEX, String(rep));
    assert.equal(env.DISBATCH_REPEAT_INDEX_ZP, zp(rep));
    assert.equal(env.DISBATCH_JOBID, uid);
    assert.equal(env.DISBATCH_NAMETASKS, "Tasks");
    assert.equal(env.DISBATCH_ENGINE_RANK, "0");
    assert.ok(
      ["0", "1"].includes(env.DISBATCH_CYLINDER_RANK!),
      `cylinder rank ${env.DISBATCH_CYLINDER_RANK}`,
    );
    assert.equal(env.DISBATCH_CORES_PER_TASK, "1");
    if (env.DISBATCH_KVSSTCP_HOST !== undefined && !INHERITED.has("DISBATCH_KVSSTCP_HOST")) {
      assert.match(env.DISBATCH_KVSSTCP_HOST, /^\S+:\d+$/);
    }
  }
  // Exact literal formats called out by the reference.
  const env0 = parseEnv(readOr(`${d.path}/env_0.txt`));
  assert.equal(env0.DISBATCH_TASKID_ZP, "000000");
  assert.equal(env0.DISBATCH_REPEAT_INDEX_ZP, "-00001");
  assert.equal(env0.DISBATCH_STREAM_INDEX_ZP, "000002");
});

Deno.test("disbatch: -p outdir/myprefix names the run files and DISBATCH_JOBID after the prefix", async () => {
  await using d = await tempDir();
  Deno.mkdirSync(`${d.path}/outdir`);
  writeText(d.path, "Tasks", DUMP + "\n");
  const r = await runCli(["-s", "localhost:1", "-p", "outdir/myprefix", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.ok(exists(`${d.path}/outdir/myprefix_status.txt`), show(r));
  assert.equal(taskRowsById(rowsIn(`${d.path}/outdir`)).get(0)?.rc, 0);
  const env = parseEnv(readOr(`${d.path}/env_0.txt`));
  assert.equal(env.DISBATCH_JOBID, "myprefix");
  assert.equal(env.DISBATCH_NAMETASKS, "Tasks");
  assert.ok(![...Deno.readDirSync(d.path)].some((e) => e.name.endsWith("_status.txt")));
});

Deno.test("disbatch: -p with an existing directory puts <taskfile>_disBatch_* files there", async () => {
  await using d = await tempDir();
  Deno.mkdirSync(`${d.path}/runs`);
  writeText(d.path, "Tasks", DUMP + "\n");
  const r = await runCli(["-s", "localhost:1", "-p", "runs", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const status = statusFileIn(`${d.path}/runs`);
  assert.match(basename(status), /^Tasks_disBatch_\d{12}_\d{3}_status\.txt$/);
  assert.equal(parseEnv(readOr(`${d.path}/env_0.txt`)).DISBATCH_JOBID, uidOf(status));
});

Deno.test("disbatch: -p missingdir/x exits 1 naming the directory, and runs nothing", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "touch ran\n");
  const r = await runCli(["-s", "localhost:1", "-p", "missingdir/x", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 1, show(r));
  assert.match(r.stderr, /missingdir/);
  assert.ok(!exists(`${d.path}/ran`));
  assert.ok(!exists(`${d.path}/missingdir`), "the directory must not be created");
});

Deno.test("disbatch: tasks from stdin ('-') see DISBATCH_NAMETASKS=stdin and files are named stdin_disBatch_*", async () => {
  await using d = await tempDir();
  const r = await runCli(["-s", "localhost:2", "-"], {
    cwd: d.path,
    stdin: `${DUMP}\nreadlink /proc/$$/fd/0 > stdin_of_task.txt\n`,
  });
  assert.equal(r.code, 0, show(r));
  const status = statusFileIn(d.path);
  assert.match(basename(status), /^stdin_disBatch_\d{12}_\d{3}_status\.txt$/);
  const env = parseEnv(readOr(`${d.path}/env_0.txt`));
  assert.equal(env.DISBATCH_NAMETASKS, "stdin");
  assert.equal(env.DISBATCH_JOBID, uidOf(status));
  // The task's stdin is /dev/null, not the driver's stdin (the task stream).
  assert.equal(readOr(`${d.path}/stdin_of_task.txt`), "/dev/null\n");
});

Deno.test("disbatch: tasks run in the driver's working directory with stdin from /dev/null", async () => {
  await using d = await tempDir();
  Deno.mkdirSync(`${d.path}/sub`);
  writeText(d.path, "Tasks", "pwd -P > cwd.txt; readlink /proc/$$/fd/0 > stdin.txt\n");
  // The task file is given by a relative path from the subdirectory; the tasks still run in the cwd.
  const r = await runCli(["-s", "localhost:1", "-p", "run", "../Tasks"], { cwd: `${d.path}/sub` });
  assert.equal(r.code, 0, show(r));
  assert.equal(readOr(`${d.path}/sub/cwd.txt`), Deno.realPathSync(`${d.path}/sub`) + "\n");
  assert.equal(readOr(`${d.path}/sub/stdin.txt`), "/dev/null\n");
  assert.ok(exists(`${d.path}/sub/run_status.txt`));
});

Deno.test("disbatch: -s localhost:2 -t 5 runs 5 tasks at once, never more", async () => {
  await using d = await tempDir();
  writeText(d.path, "rv.sh", RENDEZVOUS_SH);
  writeText(d.path, "Tasks", "#DISBATCH REPEAT 6 bash ./rv.sh 5\n");
  const r = await runCli(["-s", "localhost:2", "-t", "5", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const rows = taskRowsById(rowsIn(d.path));
  assert.equal(rows.size, 6);
  for (const row of rows.values()) assert.equal(row.rc, 0, `task ${row.id} did not meet 4 others`);
  for (let i = 0; i < 6; i++) {
    const n = Number(readOr(`${d.path}/n_${i}`));
    assert.ok(n >= 1 && n <= 5, `task ${i} saw ${n} live tasks`);
  }
});

Deno.test("disbatch: -c 2 on localhost:2 gives one slot with DISBATCH_CORES_PER_TASK=2", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", `sleep 0.2; ${DUMP}\nsleep 0.2; ${DUMP}\n`);
  const r = await runCli(["-s", "localhost:2", "-c", "2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  for (const id of [0, 1]) {
    const env = parseEnv(readOr(`${d.path}/env_${id}.txt`));
    assert.equal(env.DISBATCH_CORES_PER_TASK, "2");
    assert.equal(env.DISBATCH_CYLINDER_RANK, "0");
  }
  const rows = taskRowsById(rowsIn(d.path));
  const [a, b] = [rows.get(0)!, rows.get(1)!].sort((x, y) => x.start - y.start);
  assert.ok(b!.start + 0.002 >= a!.end, "with one slot the tasks must not overlap");
});

Deno.test("disbatch: DISBATCH_CYLINDER_RANK stays within 0..slots-1", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", `#DISBATCH REPEAT 6 sleep 0.05; ${DUMP}\n`);
  const r = await runCli(["-s", "localhost:3", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  for (let id = 0; id < 6; id++) {
    const env = parseEnv(readOr(`${d.path}/env_${id}.txt`));
    assert.ok(
      ["0", "1", "2"].includes(env.DISBATCH_CYLINDER_RANK!),
      `task ${id}: ${env.DISBATCH_CYLINDER_RANK}`,
    );
    assert.equal(env.DISBATCH_ENGINE_RANK, "0");
  }
});

Deno.test("disbatch: -E names a variable that is not set: the run ends at once saying so; too few values: fewer slots, said", async () => {
  await using d = await tempDir();
  writeText(d.path, "T", 'echo "$DISBATCH_CYLINDER_RANK ${GPU-unset}" > out_$DISBATCH_TASKID\n'.repeat(4));
  const env = { GPU: "" };
  const unset = await runCli(["-s", "localhost:2", "-E", "NOPE", "-p", "a", "T"], { cwd: d.path, env });
  assert.equal(unset.code, 1, show(unset));
  assert.match(unset.stderr, /warning: -E NOPE is not set: the engine on \S+ cannot run tasks/);
  assert.match(unset.stderr, /no slot can run tasks: -E NOPE is not set here/);
  assert.equal(exists(`${d.path}/out_0`), false);
  const short = await runCli(["-s", "localhost:2", "-E", "GPU", "-p", "b", "T"], {
    cwd: d.path,
    env: { GPU: "g7" },
  });
  assert.equal(short.code, 0, show(short));
  assert.match(
    short.stderr,
    /warning: engine \d+ on \S+: -E GPU has 1 value\(s\) for 2 slot\(s\): using 1 slot\(s\)/,
  );
  for (const i of [0, 1, 2, 3]) assert.equal(readOr(`${d.path}/out_${i}`), "0 g7\n", `task ${i}`);
});

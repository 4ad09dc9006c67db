/**
 * Driving disbatch from a program: `--results` lines against the status file, a `--taskcommand`
 * generator that reads results and submits more, generators that fail, the Python DisBatcher
 * (clients/python) and the Deno module (mod.ts) with their examples.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { cliCommand, runCli, tempDir } from "../helpers/run_cli.ts";
import { sh, showRan } from "../helpers/rig_helpers.ts";
import { exists, readRows, show } from "./e2e_helpers.ts";
import { DisBatcher, DisBatchError } from "../../mod.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A bin directory with the `disbatch` launcher of the CLI under test (what the clients find on PATH). */
const BIN = await (async () => {
  const home = await Deno.makeTempDir({ prefix: "disbatch_api_home_" });
  const [cmd, ...pre] = cliCommand();
  const r = await sh(cmd!, [...pre, "install", `${home}/bin`], { env: { HOME: home }, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`disbatch install failed: ${showRan(r)}`);
  globalThis.addEventListener("unload", () => Deno.removeSync(home, { recursive: true }));
  return `${home}/bin`;
})();
const PATH = `${BIN}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;

Deno.test("api: --results writes one JSON line per item, field by field the status file's", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(
    `${d.path}/Tasks`,
    [
      "#DISBATCH PERENGINE START echo start",
      "echo out",
      "echo err >&2; exit 3",
      "#DISBATCH BARRIER",
      "#DISBATCH REPEAT 2 start 5 echo rep $DISBATCH_REPEAT_INDEX",
      "printf '\\xff\\n'",
      "",
    ].join("\n"),
  );
  const r = await runCli(["--results", "res.jsonl", "-s", "localhost:2", "-p", "run", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(r.code, 0, show(r));
  const rows = readRows(`${d.path}/run_status.txt`);
  const results = Deno.readTextFileSync(`${d.path}/res.jsonl`).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(results.length, rows.length, "one result per status line");
  const key = (flags: string, id: number) => `${flags[3] === "P" ? "P" : flags[0] === "B" ? "B" : "T"}${id}`;
  const byKey = new Map(results.map((x) => [key(x.Flags, x.TaskId), x]));
  for (const row of rows) {
    const x = byKey.get(key(row.flags, row.id));
    assert.ok(x, `a result for ${row.flags} ${row.id}`);
    assert.deepEqual(
      [
        x.Flags,
        x.TaskId,
        x.TaskStreamIndex,
        x.TaskRepIndex,
        x.Host,
        x.PID,
        x.ReturnCode,
        x.OutBytes,
        x.ErrBytes,
      ],
      [row.flags, row.id, row.line, row.rep, row.node, row.pid, row.rc, row.outBytes, row.errBytes],
    );
    assert.equal(x.Elapsed.toFixed(3), row.elapsed.toFixed(3));
    assert.equal(x.Start.toFixed(3), row.start.toFixed(3));
    assert.equal(x.End.toFixed(3), row.end.toFixed(3));
    assert.equal(x.TaskCmd, row.cmd);
    assert.equal(x.Attempt, 0);
  }
  const kinds = results.map((x) => `${x.Kind}:${x.Reason}`).sort();
  assert.deepEqual(kinds, [
    "barrier:passed",
    "perEngine:succeeded",
    "task:failed",
    "task:succeeded",
    "task:succeeded",
    "task:succeeded",
    "task:succeeded",
  ]);
  const err = results.find((x) => x.ReturnCode === 3);
  assert.deepEqual([err.ErrData, err.OutData, err.Reason], ["err\n", "", "failed"]);
  // On resume, skipped tasks have results too (a generator waiting for them must not hang).
  const again = await runCli([
    "-r",
    "run_status.txt",
    "--results",
    "-",
    "-s",
    "localhost:1",
    "-p",
    "run2",
    "Tasks",
  ], {
    cwd: d.path,
  });
  assert.equal(again.code, 0, show(again));
  const skipped = again.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((x) =>
    x.Reason === "skipped"
  );
  assert.equal(skipped.length, 5, again.stdout);
});

Deno.test("api: --results tells a BARRIER CHECK that stopped the run (Reason failed) from one that passed", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(
    `${d.path}/Tasks`,
    "true\n#DISBATCH BARRIER CHECK\nexit 4\n#DISBATCH BARRIER CHECK\ntouch after\n",
  );
  const r = await runCli(["--results", "res.jsonl", "-s", "localhost:2", "-p", "run", "Tasks"], {
    cwd: d.path,
  });
  assert.equal(r.code, 1, show(r));
  const barriers = Deno.readTextFileSync(`${d.path}/res.jsonl`).trim().split("\n").map((l) => JSON.parse(l))
    .filter((x) => x.Kind === "barrier").map((x) => [x.TaskStreamIndex, x.ReturnCode, x.Reason]);
  assert.deepEqual(barriers, [[2, 0, "passed"], [4, 0, "failed"]]);
  assert.equal(exists(`${d.path}/after`), false);
});

Deno.test("api: a --taskcommand generator reads results on its stdin and submits more based on them", async () => {
  await using d = await tempDir();
  // Submits 4 tasks (1 and 3 fail), waits for their results, then submits a task that repairs each
  // failure (in id order, so that a resume sees the same stream) and ends once those have results.
  Deno.writeTextFileSync(
    `${d.path}/gen.py`,
    `import json, sys
for i in range(4):
    print(f"echo {i} >> ran; exit {i % 2}", flush=True)
results = {}
for line in sys.stdin:
    r = json.loads(line)
    results[r["TaskId"]] = r
    if len(results) == 4:
        break
failed = sorted(i for i, r in results.items() if r["ReturnCode"] != 0)
for i in failed:
    print(f"echo fix {i} >> fixed", flush=True)
for line in sys.stdin:
    results[json.loads(line)["TaskId"]] = 1
    if len(results) == 4 + len(failed):
        break
`,
  );
  const t0 = performance.now();
  const r = await runCli(["--taskcommand", "python3 gen.py", "-s", "localhost:2", "-p", "run"], {
    cwd: d.path,
  });
  assert.equal(r.code, 0, show(r));
  assert.ok((performance.now() - t0) / 1000 < 10);
  assert.deepEqual(Deno.readTextFileSync(`${d.path}/fixed`).trim().split("\n").sort(), ["fix 1", "fix 3"]);
  const rows = readRows(`${d.path}/run_status.txt`);
  assert.deepEqual(rows.map((x) => x.id).sort(), [0, 1, 2, 3, 4, 5]);
  assert.ok(rows.every((x) => x.id < 4 ? x.rc === x.id % 2 : x.rc === 0));
  // Resume with the same generator: the recorded tasks are skipped and their results still come back.
  const again = await runCli(
    ["--taskcommand", "python3 gen.py", "-r", "run_status.txt", "-R", "-p", "run2"],
    {
      cwd: d.path,
    },
  );
  assert.equal(again.code, 0, show(again));
  assert.equal(
    Deno.readTextFileSync(`${d.path}/ran`).trim().split("\n").length,
    4 + 2,
    "only the failures ran again",
  );
});

Deno.test("api: a generator that crashes, writes nothing or writes binary ends the run at once, naming it", async (t) => {
  const cases: [string, number, RegExp][] = [
    ["echo true; exit 4", 1, /the task command \(echo true; exit 4\) exited with status 4/],
    ["kill -9 $$", 1, /the task command \(kill -9 \$\$\) was killed by SIGKILL/],
    ["exit 0", 1, /the task command \(exit 0\) ended its output without writing a task/],
    [
      "printf 'echo a\\n\\0\\1\\2'",
      2,
      /the task command .* wrote binary data \(a NUL byte\) on line 2 of its output/,
    ],
  ];
  for (const [cmd, code, message] of cases) {
    await t.step(cmd, async () => {
      await using d = await tempDir();
      const t0 = performance.now();
      const r = await runCli(["--taskcommand", cmd, "-s", "localhost:1", "-p", "run"], { cwd: d.path });
      const wall = (performance.now() - t0) / 1000;
      assert.equal(r.code, code, show(r));
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /Uncaught|\n\s+at /);
      // At once rather than hanging (the CLI's own start included, on a loaded machine).
      assert.ok(wall < 8, `ended ${wall.toFixed(1)} s after it started`);
    });
  }
});

Deno.test("api: --taskserver and --kvsserver point to the ways that exist", async () => {
  const r = await runCli(["--taskserver", "h:1"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--taskcommand CMD.*disbatch --results - -.*clients\/python.*mod\.ts/);
});

Deno.test("api: the Python DisBatcher runs the squares example (syncTasks, REPEAT, wait_one_task, done)", async () => {
  await using d = await tempDir();
  const r = await sh("python3", [`${ROOT}clients/python/examples/squares.py`, "12", "-s", "localhost:2"], {
    cwd: d.path,
    env: { PATH, PYTHONPATH: `${ROOT}clients/python` },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, showRan(r));
  assert.match(r.stdout, /task 7: '7\^2 49' returned 1/);
  assert.match(r.stdout, /all results as expected/);
  assert.ok(
    [...Deno.readDirSync(d.path)].some((e) => /^squares_disBatch_\d{12}_\d{3}_status\.txt$/.test(e.name)),
  );
});

Deno.test("api: the Python DisBatcher raises instead of hanging when disbatch fails", async () => {
  await using d = await tempDir();
  const script = `from disbatch import disBatch
db = disBatch.DisBatcher(tasksname='bad', args=['-s', 'localhost:x'])
try:
    db.submit('true')
    db.syncTasks([0])
except disBatch.DisBatchError as e:
    print('raised:', str(e).splitlines()[0])
`;
  const t0 = performance.now();
  const r = await sh("python3", ["-c", script], {
    cwd: d.path,
    env: { PATH, PYTHONPATH: `${ROOT}clients/python` },
    timeoutMs: 30_000,
  });
  assert.equal(r.code, 0, showRan(r));
  assert.match(r.stdout, /raised: disbatch ended \(exit status 2\)/);
  assert.ok((performance.now() - t0) / 1000 < 10);
});

Deno.test("api: the Deno module's example runs (submit, wait, a follow-up task, REPEAT results as they come)", async () => {
  await using d = await tempDir();
  const r = await sh(Deno.execPath(), ["run", "-A", `${ROOT}examples/squares.ts`, "-s", "localhost:2"], {
    cwd: d.path,
    env: { PATH },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, showRan(r));
  assert.match(r.stdout, /task 3: 9 \(exit 0\)/);
  assert.match(r.stdout, /task 7: 49 \(exit 1\)\ntask 10: recheck 7/);
  for (const c of ["cube 1", "cube 8", "cube 27"]) assert.match(r.stdout, new RegExp(`task 1[123]: ${c}`));
});

Deno.test("api: DisBatcher in this process: results by id and as they come; a failed run rejects", async () => {
  await using d = await tempDir();
  const db = new DisBatcher({
    command: cliCommand(),
    cwd: d.path,
    args: ["-s", "localhost:2"],
    onMessage: () => {},
  });
  await db.submit("echo a");
  await db.submit("#DISBATCH BARRIER");
  await db.submit("echo b; exit 5");
  const got = await db.wait([0, 2]);
  assert.deepEqual([got.get(0)!.OutData, got.get(2)!.ReturnCode], ["a\n", 5]);
  assert.equal(await db.done(), 0);
  await assert.rejects(() => db.submit("true"), DisBatchError);
  const bad = new DisBatcher({
    command: cliCommand(),
    cwd: d.path,
    args: ["--no-such-option"],
    onMessage: () => {},
  });
  const e = await bad.waitOne().then(() => undefined, (x) => x);
  assert.ok(e instanceof DisBatchError && e.exitCode === 2, String(e));
  assert.match(e.message, /unrecognized arguments: --no-such-option/);
});

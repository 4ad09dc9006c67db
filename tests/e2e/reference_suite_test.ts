/**
 * The reference's own test suite (disBatch's tests/test_ssh/run.sh) as black-box tests, plus
 * the stricter fail-fast checks the reference does not make (non-zero exit, no orphaned task).
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import {
  exists,
  killSleepers,
  leftoverSleepers,
  rowsIn,
  show,
  uniqueSleep,
  writeText,
} from "./e2e_helpers.ts";

const TASKS = "touch A.txt\ntouch B.txt\ntouch C.txt\n";

function statusFilesMatching(dir: string, re: RegExp): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => re.test(n)).sort();
}

Deno.test("disbatch: three tasks on 2 slots all run", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", TASKS);
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  for (const f of ["A.txt", "B.txt", "C.txt"]) {
    assert.ok(exists(`${d.path}/${f}`), `${f} missing\n${show(r)}`);
  }
  const rows = rowsIn(d.path);
  assert.deepEqual(rows.map((x) => x.id).sort(), [0, 1, 2]);
  assert.ok(rows.every((x) => x.rc === 0 && x.flags === "    "), JSON.stringify(rows));
});

Deno.test("disbatch: resume after appending a task runs only the new task (-r after the positional)", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", TASKS);
  const first = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(first.code, 0, show(first));
  for (const f of ["A.txt", "B.txt", "C.txt"]) Deno.removeSync(`${d.path}/${f}`);
  Deno.writeTextFileSync(`${d.path}/Tasks`, "touch D.txt\n", { append: true });
  // The shell glob `Tasks*_status.txt` of the reference script: exactly one file matches.
  const glob = statusFilesMatching(d.path, /^Tasks.*_status\.txt$/);
  assert.equal(glob.length, 1, `glob matched ${glob.join(", ")}`);
  const r = await runCli(["-s", "localhost:2", "Tasks", "-r", glob[0]!], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.ok(exists(`${d.path}/D.txt`), `D.txt missing\n${show(r)}`);
  for (const f of ["A.txt", "B.txt", "C.txt"]) assert.ok(!exists(`${d.path}/${f}`), `${f} was re-run`);
});

Deno.test("disbatch: an empty task file (/dev/null) exits 0 quickly with 'No tasks to run.'", async () => {
  await using d = await tempDir();
  const r = await runCli(["-s", "localhost:2", "/dev/null"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.ok(r.wall < 5, `took ${r.wall}s`);
  assert.match(r.stderr, /No tasks to run\./);
});

Deno.test("disbatch: --fail-fast starts nothing after the failure, exits non-zero and leaves no task running", async () => {
  await using d = await tempDir();
  const marker = uniqueSleep(1000);
  writeText(d.path, "Tasks_failfast", `sleep ${marker}\nexit 1\ntouch A.txt\n`);
  try {
    const r = await runCli(["-s", "localhost:2", "--fail-fast", "Tasks_failfast"], {
      cwd: d.path,
      timeoutMs: 30_000,
    });
    assert.ok(!exists(`${d.path}/A.txt`), `A.txt was created after the failure\n${show(r)}`);
    assert.notEqual(r.code, 0, show(r));
    assert.equal(r.code, 1, `our --fail-fast exits 1\n${show(r)}`);
    assert.ok(r.wall < 10, `fail-fast run took ${r.wall.toFixed(2)} s`);
    const left = await leftoverSleepers(marker);
    assert.deepEqual(left, [], `sleep ${marker} still running after the run ended`);
  } finally {
    await killSleepers(marker);
  }
});

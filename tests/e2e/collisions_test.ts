/**
 * One run per prefix: a second driver with the same `-p` stops before it touches any file of the
 * first (whose records and dbUtil.sh stay intact), a lock left by a killed driver is taken over,
 * and `-r X_status.txt -p X` is refused instead of truncating its own input.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import { pollUntil, readRows, show, start } from "./e2e_helpers.ts";

Deno.test("collision: a second driver with the same -p is refused and the first run is untouched", async () => {
  await using d = await tempDir();
  // The first run's tasks wait for the test (60 s at most): it is surely running when the second starts.
  const held = "for i in $(seq 600); do [ -e release ] && break; sleep 0.1; done";
  Deno.writeTextFileSync(`${d.path}/Tasks`, `${held}; echo $DISBATCH_TASKID >> done\n`.repeat(8));
  const first = start(["-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  await pollUntil("the first run's lock", () => {
    try {
      return Deno.statSync(`${d.path}/run_lock`).isFile;
    } catch {
      return false;
    }
  }, 30_000);
  const dbUtil = await pollUntil("dbUtil.sh", () => {
    try {
      return Deno.readTextFileSync(`${d.path}/run_dbUtil.sh`);
    } catch {
      return undefined;
    }
  });
  const second = await runCli(["-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  assert.equal(second.code, 2, show(second));
  assert.match(
    second.stderr,
    /^disbatch: Another disbatch run uses -p run: the driver pid \d+ on \S+ holds .*run_lock\./,
  );
  Deno.writeTextFileSync(`${d.path}/release`, "");
  const r = await first.done;
  assert.equal(r.code, 0, show(r));
  assert.equal(Deno.readTextFileSync(`${d.path}/run_dbUtil.sh`), dbUtil, "dbUtil.sh (and its secret) kept");
  assert.deepEqual(readRows(`${d.path}/run_status.txt`).map((x) => x.id).sort((a, b) => a - b), [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
  ]);
  assert.equal(Deno.readTextFileSync(`${d.path}/done`).trim().split("\n").length, 8, "each task ran once");
  assert.throws(() => Deno.statSync(`${d.path}/run_lock`), Deno.errors.NotFound, "the lock is released");
});

Deno.test("collision: the lock of a driver that died is taken over", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, "true\n");
  // A dead driver on this host: a pid that cannot exist.
  Deno.writeTextFileSync(`${d.path}/run_lock`, `${Deno.hostname()} 999999999\n`);
  const r = await runCli(["-q", "-s", "localhost:1", "-p", "run", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.equal(readRows(`${d.path}/run_status.txt`).length, 1);
  // A live one on another host (fresh heartbeat) is respected.
  Deno.writeTextFileSync(`${d.path}/run_lock`, "some-other-host 1\n");
  const busy = await runCli(["-q", "-s", "localhost:1", "-p", "run", "Tasks"], { cwd: d.path });
  assert.equal(busy.code, 2, show(busy));
  assert.match(busy.stderr, /the driver pid 1 on some-other-host holds/);
});

Deno.test("collision: -r X_status.txt -p X is refused and the status file is kept whole", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, "true\n".repeat(5));
  assert.equal((await runCli(["-q", "-s", "localhost:1", "-p", "X", "Tasks"], { cwd: d.path })).code, 0);
  const before = Deno.readTextFileSync(`${d.path}/X_status.txt`);
  const r = await runCli(["-s", "localhost:1", "-p", "X", "-r", "X_status.txt", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /-r X_status\.txt is the status file this run would write \(-p X\).*-p X\.2/);
  assert.equal(Deno.readTextFileSync(`${d.path}/X_status.txt`), before);
});

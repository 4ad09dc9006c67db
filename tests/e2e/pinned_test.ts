/**
 * The task file is pinned: overwritten in place mid-run (`cat new > Tasks`), the run stops cleanly
 * before running anything of the new text; what ran is recorded, the exit status is not 0.
 *
 * @module
 */

import assert from "node:assert/strict";
import { tempDir } from "../helpers/run_cli.ts";
import { pollUntil, readRows, show, start } from "./e2e_helpers.ts";

Deno.test("pinned: a task file overwritten mid-run stops the run before any new or spliced task runs", async () => {
  await using d = await tempDir();
  const pad = "#".repeat(100);
  const old = Array.from({ length: 3000 }, (_, i) => `echo ${i} >> old_ran # ${pad}`).join("\n") + "\n";
  Deno.writeTextFileSync(`${d.path}/Tasks`, old);
  const run = start(["-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  await pollUntil("some tasks to run", () => {
    try {
      return Deno.readTextFileSync(`${d.path}/old_ran`).split("\n").length > 50;
    } catch {
      return false;
    }
  }, 30_000);
  const fresh = Array.from({ length: 3000 }, (_, i) => `echo ${i} >> new_ran # ${pad}x`).join("\n") + "\n";
  Deno.writeTextFileSync(`${d.path}/Tasks`, fresh); // truncates and rewrites the same file
  const r = await run.done;
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /The task file Tasks changed while the run was reading it .*resume with -r/);
  assert.throws(
    () => Deno.statSync(`${d.path}/new_ran`),
    Deno.errors.NotFound,
    "no task of the new text ran",
  );
  const rows = readRows(`${d.path}/run_status.txt`);
  assert.ok(rows.length > 0 && rows.length < 3000, `${rows.length} rows`);
  for (const row of rows) assert.match(row.cmd, /^echo \d+ >> old_ran # #+$/, "only old, whole commands");
  const ran = Deno.readTextFileSync(`${d.path}/old_ran`).trim().split("\n");
  assert.equal(ran.length, rows.length, "every task that ran is recorded");
});

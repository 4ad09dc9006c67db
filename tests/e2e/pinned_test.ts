/**
 * The task file is pinned: overwritten in place mid-run (`cat new > Tasks`), the run stops cleanly
 * before running anything of the new text; what ran is recorded, the exit status is not 0. Lines
 * appended mid-run do not stop it and do not run; the run says how to run them.
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

Deno.test("pinned: lines appended mid-run are not run; the run ends well and says how to run them", async () => {
  await using d = await tempDir();
  const pad = "#".repeat(100);
  const n = 3000;
  // Long enough to be read in several pieces while tasks run.
  const old = Array.from({ length: n }, (_, i) => `echo ${i} >> ran # ${pad}`).join("\n") + "\n";
  Deno.writeTextFileSync(`${d.path}/Tasks`, old);
  const run = start(["-s", "localhost:2", "-p", "run", "Tasks"], { cwd: d.path });
  await pollUntil("some tasks to run", () => {
    try {
      return Deno.readTextFileSync(`${d.path}/ran`).split("\n").length > 50;
    } catch {
      return false;
    }
  }, 30_000);
  Deno.writeTextFileSync(`${d.path}/Tasks`, "echo appended >> ran\necho appended2 >> ran\n", {
    append: true,
  });
  const r = await run.done;
  assert.equal(r.code, 0, show(r));
  assert.match(
    r.stderr,
    /warning: the task file Tasks grew by 43 byte\(s\) during the run; .* what was added did not run\. To run it \(what ran is skipped\): disbatch -r \S+run_status\.txt -s localhost:2 -p run\.2 Tasks\n/,
  );
  const ran = Deno.readTextFileSync(`${d.path}/ran`).trim().split("\n");
  assert.equal(ran.length, n, "every task of the file as it was, once; nothing appended");
  assert.equal(new Set(ran).size, n);
  // The command it gives runs what was appended, and only that.
  const again = start(["-r", "run_status.txt", "-s", "localhost:2", "-p", "run.2", "Tasks"], { cwd: d.path });
  const r2 = await again.done;
  assert.equal(r2.code, 0, show(r2));
  const all = Deno.readTextFileSync(`${d.path}/ran`).trim().split("\n");
  assert.deepEqual(all.slice(n).sort(), ["appended", "appended2"]);
});

/**
 * `disbatch report` on the status file of a real run, through the CLI launcher.
 */

import assert from "node:assert/strict";
import { runCli, statusFileIn, tempDir } from "../helpers/run_cli.ts";

const TASKS = [
  "sleep 0.2",
  "echo 'half done'; echo '<b>boom</b> & bust' >&2; exit 3",
  "echo hi",
  "#DISBATCH BARRIER",
  "echo after",
].join("\n") + "\n";

/** One real run per test file: a temp dir holding its status file. */
async function realRun(): Promise<{ path: string; status: string } & AsyncDisposable> {
  const dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/T`, TASKS);
  const run = await runCli(["-s", "localhost:2", "T"], { cwd: dir.path });
  assert.equal(run.code, 0, run.stderr);
  return { path: dir.path, status: statusFileIn(dir.path), [Symbol.asyncDispose]: dir[Symbol.asyncDispose] };
}

Deno.test("disbatch report writes a self-contained page next to the status file", async () => {
  await using run = await realRun();
  const r = await runCli(["report", run.status], { cwd: run.path });
  assert.equal(r.code, 0, r.stderr);
  const page = run.status.replace(/_status\.txt$/, "_report.html");
  assert.equal(r.stdout.trim(), page);
  const html = await Deno.readTextFile(page);
  assert.match(html, /^<!DOCTYPE html>/);
  assert.equal(html.match(/<tr class="fail">/g)?.length, 1, "one failure row");
  assert.match(html, /<span class="rc">3<\/span>/);
  assert.match(html, /half done/);
  assert.match(html, /&lt;b&gt;boom&lt;\/b&gt; &amp; bust/);
  assert.match(html, /echo &#39;half done&#39;; echo &#39;&lt;b&gt;boom/);
  assert.equal(html.match(/<svg class="chart"/g)?.length, 2);
  assert.doesNotMatch(html, /<script|<link |src="http/, "no script, no external asset");

  const custom = `${run.path}/custom.html`;
  const o = await runCli(["report", "-o", custom, run.status], { cwd: run.path });
  assert.equal(o.code, 0, o.stderr);
  assert.equal(o.stdout.trim(), custom);
  assert.equal(await Deno.readTextFile(custom), html);
});

Deno.test("disbatch report --json prints the summary", async () => {
  await using run = await realRun();
  const r = await runCli(["report", "--json", run.status], { cwd: run.path });
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.deepEqual([s.tasks, s.failed, s.succeeded, s.barriers, s.skipped], [4, 1, 3, 1, 0]);
  assert.equal(s.hosts.length, 1);
  assert.ok(s.wall >= 0.2 && s.duration.max >= 0.2, JSON.stringify(s));
  assert.equal([...Deno.readDirSync(run.path)].filter((e) => e.name.endsWith(".html")).length, 0);
});

Deno.test("disbatch report: missing, empty or foreign files and bad usage exit 2", async () => {
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/junk_status.txt`, "this is not\na status file\n");
  await Deno.writeTextFile(`${dir.path}/empty_status.txt`, "");
  for (
    const [args, message] of [
      [
        ["report", "nope_status.txt"],
        /^disbatch report: cannot read status file nope_status\.txt: no such file\n$/,
      ],
      [
        ["report", "junk_status.txt"],
        /^disbatch report: junk_status\.txt holds no status line \(2 unparseable/,
      ],
      [["report", "empty_status.txt"], /^disbatch report: empty_status\.txt holds no status line: /],
      [["report"], /STATUSFILE/],
      [["report", "--bogus", "x"], /unrecognized arguments: --bogus/],
    ] as const
  ) {
    const r = await runCli([...args], { cwd: dir.path });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, "");
  }
});

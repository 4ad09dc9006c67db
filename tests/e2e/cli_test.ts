/**
 * The command line and our CLI differences: usage errors, --help/--version, the
 * no-`-s` default, DISBATCH_SSH_NODELIST, bad -s values, the end-of-run summary.
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import {
  exists,
  linesWith,
  readOr,
  RENDEZVOUS_SH,
  rowsIn,
  show,
  taskRowsById,
  writeText,
} from "./e2e_helpers.ts";

/** disBatch's options that we support (not --taskcommand/--taskserver/--kvsserver, not -g). */
const OPTIONS = [
  "-e",
  "--exit-code",
  "--force-resume",
  "--logfile",
  "--loglevel",
  "--mailTo",
  "--mailFreq",
  "-p",
  "--prefix",
  "-r",
  "--resume-from",
  "-R",
  "--retry",
  "-S",
  "--startup-only",
  "--status-header",
  "--use-address",
  "-w",
  "--web",
  "-f",
  "--fail-fast",
  "--version",
  "-C",
  "--context-task-limit",
  "-c",
  "--cpusPerTask",
  "--fill",
  "--no-retire",
  "-l",
  "--label",
  "--retire-cmd",
  "-s",
  "--ssh-node",
  "-t",
  "--tasksPerNode",
];

/** The Slurm/ssh variables that would change how a run without -s picks its resources. */
const RESOURCE_ENV = ["SLURM_JOBID", "SLURM_JOB_ID", "DISBATCH_SSH_NODELIST"];
const inSlurmOrSsh = RESOURCE_ENV.some((k) => Deno.env.get(k) !== undefined);

function assertUsageError(
  r: { code: number; stderr: string; stdout: string; wall: number },
  what: RegExp,
): void {
  assert.equal(r.code, 2, show(r as never));
  assert.match(r.stderr, /^usage: disbatch/m, show(r as never));
  assert.match(r.stderr, /^disbatch: error: /m, show(r as never));
  assert.match(r.stderr, what, show(r as never));
}

Deno.test("disbatch: --help exits 0 and mentions every supported reference option", async () => {
  await using d = await tempDir();
  const r = await runCli(["--help"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const text = r.stdout;
  const missing = OPTIONS.filter((o) =>
    !new RegExp(`(^|[\\s\\[,])${o.replace(/[-]/g, "\\-")}([\\s\\],=]|$)`, "m").test(text)
  );
  assert.deepEqual(missing, [], "options absent from --help");
  assert.match(text, /^usage: disbatch/m);
  assert.match(text, /taskfile/);
  const short = await runCli(["-h"], { cwd: d.path });
  assert.equal(short.code, 0);
  assert.equal(short.stdout, r.stdout);
});

Deno.test("disbatch: --version prints one line with the version and which executable runs", async () => {
  await using d = await tempDir();
  const r = await runCli(["--version"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^disbatch \d+\.\d+\.\d+ \(\/[^\n]*\)\n$/);
  const bin = Deno.env.get("DISBATCH_BIN");
  if (bin) assert.ok(r.stdout.includes(Deno.realPathSync(bin)), r.stdout);
  else assert.match(r.stdout, /main\.ts on deno /);
});

Deno.test("disbatch: usage errors exit 2 with 'usage:' and 'disbatch: error:' lines", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "touch ran\n");
  assertUsageError(await runCli([], { cwd: d.path }), /required/);
  assertUsageError(await runCli(["--bogus", "Tasks"], { cwd: d.path }), /--bogus/);
  assertUsageError(await runCli(["Tasks", "-s"], { cwd: d.path }), /-s/);
  assertUsageError(await runCli(["--mailFreq", "3", "Tasks"], { cwd: d.path }), /--mailTo/);
  assert.ok(!exists(`${d.path}/ran`), "no task may run after a usage error");
  assert.deepEqual([...Deno.readDirSync(d.path)].map((e) => e.name), ["Tasks"], "no run files created");
});

Deno.test('disbatch: a missing task file exits 2 with "can\'t open"', async () => {
  await using d = await tempDir();
  const r = await runCli(["-s", "localhost:2", "NoSuchTasks"], { cwd: d.path });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /can't open 'NoSuchTasks'/);
  assert.deepEqual([...Deno.readDirSync(d.path)], [], "no run files created");
});

Deno.test({
  name: "disbatch: without -s and outside Slurm it runs on every local core with a one-line note on stderr",
  ignore: inSlurmOrSsh,
  fn: async () => {
    await using d = await tempDir();
    writeText(d.path, "Tasks", "env | grep ^DISBATCH_CYLINDER_RANK= > rank.txt\n");
    const r = await runCli(["Tasks"], { cwd: d.path });
    assert.equal(r.code, 0, show(r));
    assert.match(readOr(`${d.path}/rank.txt`) ?? "", /^DISBATCH_CYLINDER_RANK=\d+\n$/);
    const notes = r.stderr.split("\n").filter((l) => /\bcores?\b/i.test(l) && /-s\b/.test(l));
    assert.equal(notes.length, 1, `expected one note about local cores and -s\n${show(r)}`);
    assert.ok(
      notes[0]!.includes(String(navigator.hardwareConcurrency)),
      `note should give the slot count: ${notes[0]}`,
    );
    // -q: nothing on stderr; the note is in the driver log.
    const q = await runCli(["-q", "-p", "quiet", "Tasks"], { cwd: d.path });
    assert.equal(q.code, 0, show(q));
    assert.equal(q.stderr, "");
    assert.match(
      readOr(`${d.path}/quiet_driver.log`) ?? "",
      /no -s and no Slurm allocation: running on this machine/,
    );
  },
});

Deno.test("disbatch: DISBATCH_SSH_NODELIST=localhost:2 works like -s localhost:2", async () => {
  await using d = await tempDir();
  writeText(d.path, "rv.sh", RENDEZVOUS_SH);
  writeText(d.path, "Tasks", "#DISBATCH REPEAT 3 bash ./rv.sh 2\n");
  const r = await runCli(["Tasks"], { cwd: d.path, env: { DISBATCH_SSH_NODELIST: "localhost:2" } });
  assert.equal(r.code, 0, show(r));
  const rows = taskRowsById(rowsIn(d.path));
  assert.equal(rows.size, 3);
  for (const row of rows.values()) assert.equal(row.rc, 0, `task ${row.id} did not meet another task`);
  for (let i = 0; i < 3; i++) {
    const n = Number(readOr(`${d.path}/n_${i}`));
    assert.ok(n >= 1 && n <= 2, `task ${i} saw ${n} live tasks with 2 slots`);
  }
  assert.equal(linesWith(r.stderr, "use -s").length, 0, `no local-cores note expected\n${show(r)}`);
});

Deno.test("disbatch: -s localhost:x is a clear error, exit 2, fast, and runs nothing", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "touch ran\n");
  const r = await runCli(["-s", "localhost:x", "Tasks"], { cwd: d.path, timeoutMs: 30_000 });
  assert.equal(r.code, 2, show(r));
  assert.ok(r.wall < 5, `took ${r.wall.toFixed(1)} s`);
  assert.match(r.stderr, /localhost:x/);
  assert.ok(!exists(`${d.path}/ran`));
});

Deno.test("disbatch: the options may follow the positional task file", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "touch ran\n");
  const r = await runCli(["Tasks", "-s", "localhost:1", "-p", "run1"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.ok(exists(`${d.path}/ran`) && exists(`${d.path}/run1_status.txt`));
});

Deno.test("disbatch: a run prints a short summary on stderr at the end, and -q silences it", async () => {
  await using d = await tempDir();
  writeText(d.path, "Tasks", "true\nexit 3\n");
  const r = await runCli(["-s", "localhost:2", "Tasks"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  assert.notEqual(r.stderr.trim(), "", "a summary is expected");
  const tail = r.stderr.trim().split("\n").slice(-4).join("\n");
  assert.match(tail, /\b2\b.*task|task.*\b2\b/i, `summary should count the 2 tasks\n${show(r)}`);
  assert.equal(r.stdout, "", "nothing on stdout");
  const q = await runCli(["-s", "localhost:2", "-q", "-p", "quiet", "Tasks"], { cwd: d.path });
  assert.equal(q.code, 0, show(q));
  assert.equal(q.stderr, "", show(q));
});

Deno.test("disbatch: --help fits 80 columns and its synopsis names every option", async () => {
  await using d = await tempDir();
  const r = await runCli(["--help"], { cwd: d.path });
  assert.equal(r.code, 0, show(r));
  const long = r.stdout.split("\n").filter((l) => l.length > 79);
  assert.deepEqual(long, [], "lines wider than 79 columns");
  const synopsis = r.stdout.slice(0, r.stdout.indexOf("\n\n"));
  for (
    const opt of [
      "-e",
      "-f",
      "-r",
      "-R",
      "--force-resume",
      "-p",
      "-S",
      "-w",
      "-q",
      "-s",
      "-c",
      "-t",
      "-C",
      "-l",
      "-E",
    ]
  ) {
    assert.ok(synopsis.includes(`[${opt}`), `${opt} missing from the synopsis`);
  }
});

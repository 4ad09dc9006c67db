/**
 * `--event-log FILE`: a real run's events replay through a fresh scheduler to the same actions,
 * and the records among them are the status file's lines. This keeps every adapter honest: an
 * input that reached the scheduler without going through an event would make the replay differ.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseEventStream, replay } from "../../lib/reactor.ts";
import { formatStatusRecord } from "../../lib/status_record.ts";
import { runCli, tempDir } from "../helpers/run_cli.ts";

const TASKS = [
  "#DISBATCH PERENGINE START echo start > pe_$DISBATCH_ENGINE_RANK",
  "#DISBATCH PERENGINE STOP echo stop >> pe_$DISBATCH_ENGINE_RANK",
  "echo a",
  "sleep 0.3; exit 3",
  "[ -e once ] || { touch once; exit 1; }; echo second try",
  "#DISBATCH BARRIER",
  "#DISBATCH TIMEOUT 1",
  "sleep 10",
  "#DISBATCH TIMEOUT 0",
  "#DISBATCH REPEAT 6 start 1 echo rep $DISBATCH_REPEAT_INDEX",
  "",
].join("\n");

Deno.test("--event-log: a run's events replay to the same actions, and its records are the status file", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, TASKS);
  const r = await runCli([
    "-s",
    "localhost:2",
    "--retries",
    "1",
    "--event-log",
    "ev.jsonl",
    "-p",
    "run",
    "Tasks",
  ], {
    cwd: d.path,
  });
  assert.equal(r.code, 0, r.stderr);
  const { head, steps } = parseEventStream(Deno.readTextFileSync(`${d.path}/ev.jsonl`));
  assert.equal(head.options.retries, 1);
  const kinds = new Set(steps.map((s) => s.e.kind));
  for (const k of ["perEngineBlock", "contextJoined", "engineJoined", "item", "tasksDone", "tasksEnded"]) {
    assert.ok(kinds.has(k as never), `a ${k} event: ${[...kinds]}`);
  }
  const { scheduler, differences } = replay(head, steps);
  assert.deepEqual(differences, []);
  assert.equal(scheduler.phase, "done");
  const records = steps.flatMap((s) =>
    s.a.flatMap((a) => a.kind === "record" ? [formatStatusRecord(a.record)] : [])
  );
  const status = Deno.readTextFileSync(`${d.path}/run_status.txt`).split("\n").filter(Boolean);
  assert.deepEqual(records, status);
  // Every task line (10 with the REPEAT) and the barrier are recorded; the retried one has an attempt.
  assert.equal(status.length, 2 + 10 + 1, status.join("\n"));
  assert.ok(steps.some((s) => s.a.some((a) => a.kind === "attempt")), "an attempt run again");
});

Deno.test("--event-log: an empty name or a file that cannot be made is a usage error (exit 2); no run starts", async () => {
  const cases: { arg: string; error: RegExp }[] = [
    { arg: "", error: /argument --event-log: expected a file name/ },
    {
      arg: "no/such/dir/ev.jsonl",
      error:
        /argument --event-log: can't open 'no\/such\/dir\/ev.jsonl': \[Errno 2\] No such file or directory/,
    },
  ];
  for (const c of cases) {
    await using d = await tempDir();
    Deno.writeTextFileSync(`${d.path}/Tasks`, "touch ran\n");
    const r = await runCli(["--event-log", c.arg, "-p", "run", "Tasks"], { cwd: d.path });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, c.error);
    assert.deepEqual(
      [...Deno.readDirSync(d.path)].map((e) => e.name),
      ["Tasks"],
      "no run file made, nothing run",
    );
  }
});

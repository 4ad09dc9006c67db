import assert from "node:assert/strict";
import { resultLine, resultObject } from "../../lib/results.ts";
import type { StatusRecord } from "../../lib/types.ts";

const base: StatusRecord = {
  flags: "    ",
  taskId: 4,
  line: 5,
  repeatIndex: -1,
  host: "n1",
  pid: 77,
  returnCode: 0,
  elapsed: 1.0625,
  start: 100.0004,
  end: 101.0629,
  stdoutBytes: 3,
  stdoutSnippet: "hi\n",
  stderrBytes: 0,
  stderrSnippet: "",
  command: "echo hi",
};

Deno.test("resultObject() names the fields as disBatch's report dictionaries, with Kind, Reason and Attempt", () => {
  assert.deepEqual(Object.keys(resultObject(base, 0)), [
    "Flags",
    "TaskId",
    "TaskStreamIndex",
    "TaskRepIndex",
    "Host",
    "PID",
    "ReturnCode",
    "Elapsed",
    "Start",
    "End",
    "OutBytes",
    "OutData",
    "ErrBytes",
    "ErrData",
    "TaskCmd",
    "Kind",
    "Reason",
    "Attempt",
  ]);
  // Times are rounded exactly as the status file writes them (%.3f, ties to even).
  const r = resultObject(base, 2);
  assert.deepEqual([r.Elapsed, r.Start, r.End, r.Attempt], [1.062, 100, 101.063, 2]);
});

Deno.test("resultObject() tells the kind and the reason from the flags and the return code", () => {
  const cases: [Partial<StatusRecord>, string, string][] = [
    [{}, "task", "succeeded"],
    [{ flags: "R   ", returnCode: 2 }, "task", "failed"],
    [{ flags: "R  T", returnCode: -15 }, "task", "timeout"],
    [{ flags: "R  K", returnCode: -15 }, "task", "killed"],
    [{ flags: "R   ", returnCode: -100, pid: -1 }, "task", "lost"],
    [{ flags: "   S" }, "task", "skipped"],
    [{ flags: "R  S", returnCode: 1 }, "task", "skipped"],
    [{ flags: "B    " }, "barrier", "passed"],
    [{ flags: "C    " }, "barrier", "passed"],
    [{ flags: "   P" }, "perEngine", "succeeded"],
    [{ flags: "R  P", returnCode: 1 }, "perEngine", "failed"],
  ];
  for (const [over, kind, reason] of cases) {
    const r = resultObject({ ...base, ...over }, 0);
    assert.deepEqual([r.Kind, r.Reason], [kind, reason], JSON.stringify(over));
  }
  // A BARRIER CHECK that found failures: the status file's line is a passed one's, the result says so.
  const check = resultObject({ ...base, flags: "C    " }, 0, true);
  assert.deepEqual([check.Kind, check.Reason, check.ReturnCode], ["barrier", "failed", 0]);
});

Deno.test("resultLine() is one JSON line; undecodable bytes of a command survive as escapes", () => {
  const line = resultLine({ ...base, command: "printf '\udcff'" }, 0);
  assert.ok(line.endsWith("}\n") && !line.slice(0, -1).includes("\n"));
  assert.match(line, /"TaskCmd":"printf '\\udcff'"/);
  assert.equal(JSON.parse(line).TaskCmd, "printf '\udcff'");
});

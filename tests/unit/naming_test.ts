import assert from "node:assert/strict";
import { jobIdOf, makeUid, stampYmdHms, taskFileName } from "../../lib/naming.ts";

Deno.test("taskFileName() is basename(name).strip('<>'), stdin for -", () => {
  const cases: [string, string][] = [
    ["Tasks", "Tasks"],
    ["dir/Tasks", "Tasks"],
    ["/abs/path/to/My Tasks.txt", "My Tasks.txt"],
    ["./Tasks", "Tasks"],
    ["-", "stdin"],
    ["<stdin>", "stdin"],
    ["/dev/stdin", "stdin"],
    ["<<odd>>", "odd"],
    ["a<b>c", "a<b>c"],
    ["dir/<x>", "x"],
  ];
  for (const [name, want] of cases) assert.equal(taskFileName(name), want, name);
});

Deno.test("stampYmdHms() is strftime('%y%m%d%H%M%S') with a two-digit year", () => {
  const cases: [Parameters<typeof stampYmdHms>[0], string][] = [
    [{ year: 2026, month: 11, day: 25, hour: 15, minute: 48, second: 51 }, "261125154851"],
    [{ year: 2000, month: 1, day: 2, hour: 3, minute: 4, second: 5 }, "000102030405"],
    [{ year: 2105, month: 12, day: 31, hour: 23, minute: 59, second: 59 }, "051231235959"],
  ];
  for (const [parts, want] of cases) assert.equal(stampYmdHms(parts), want, JSON.stringify(parts));
});

Deno.test("makeUid() names runs in a directory or uses an explicit prefix", () => {
  const cases: [Parameters<typeof makeUid>, string][] = [
    [
      [{ kind: "dir", dir: "/home/u/run" }, "Tasks", "261125154851", 846],
      "/home/u/run/Tasks_disBatch_261125154851_846",
    ],
    [
      [{ kind: "dir", dir: "/home/u/run" }, "stdin", "261125154851", 7],
      "/home/u/run/stdin_disBatch_261125154851_007",
    ],
    [[{ kind: "dir", dir: "/w" }, "T", "000102030405", 0], "/w/T_disBatch_000102030405_000"],
    [
      [{ kind: "prefix", dir: "/home/u/out", name: "myprefix" }, "Tasks", "261125154851", 5],
      "/home/u/out/myprefix",
    ],
  ];
  for (const [args, want] of cases) assert.equal(makeUid(...args), want, JSON.stringify(args));
});

Deno.test("jobIdOf() is the uid's basename (DISBATCH_JOBID)", () => {
  assert.equal(jobIdOf("/home/u/run/Tasks_disBatch_261125154851_846"), "Tasks_disBatch_261125154851_846");
  assert.equal(jobIdOf("/home/u/out/run1"), "run1");
});

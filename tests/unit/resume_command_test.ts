import assert from "node:assert/strict";
import { resumeCommand } from "../../lib/resume_command.ts";

Deno.test("resumeCommand() swaps the resume options for -r STATUS and keeps the rest", () => {
  const S = "/w/T_status.txt";
  const cases: [string[], boolean, string][] = [
    [["Tasks"], false, `disbatch -r ${S} Tasks`],
    [
      ["-s", "localhost:2", "--timeout", "1h", "Tasks"],
      false,
      `disbatch -r ${S} -s localhost:2 --timeout 1h Tasks`,
    ],
    [["-r", "old.txt", "-R", "Tasks"], false, `disbatch -r ${S} Tasks`],
    [
      ["--resume-from=old.txt", "--retry", "--force-resume", "-rold2.txt", "Tasks"],
      false,
      `disbatch -r ${S} Tasks`,
    ],
    [["-p", "run/x", "Tasks"], true, `disbatch -r ${S} -p run/x.2 Tasks`],
    [["--prefix=run/x.2", "Tasks"], true, `disbatch -r ${S} --prefix run/x.3 Tasks`],
    [["-prun", "Tasks"], true, `disbatch -r ${S} -p run.2 Tasks`],
    [["-p", "out", "Tasks"], false, `disbatch -r ${S} -p out Tasks`],
    [["-s", "h:1", "my tasks"], false, `disbatch -r ${S} -s h:1 'my tasks'`],
    [["--", "-r"], false, `disbatch -r ${S} -- -r`],
  ];
  for (const [args, files, want] of cases) assert.equal(resumeCommand(args, S, files), want, args.join(" "));
});

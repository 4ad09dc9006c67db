import assert from "node:assert/strict";
import { type DbUtilInput, renderDbUtil } from "../../lib/dbutil.ts";

const SECRET = "f00dfeed".repeat(8);

const INPUT: DbUtilInput = {
  uid: "/home/u/my runs/Tasks_disBatch_261125154851_007",
  addresses: ["10.0.0.1:4444", "vm:4444"],
  secret: SECRET,
  self: ["/opt/deno dir/deno", "run", "-A", "/src/it's here/main.ts"],
};

/** Split a line into shell words: enough of POSIX sh for single quotes, `\` escapes and blanks. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      assert.ok(end > i, `unterminated quote in ${line}`);
      word = (word ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (ch === "\\") {
      word = (word ?? "") + line[++i];
    } else if (ch === " " || ch === "\t") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? "") + ch;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

function lineStarting(script: string, start: string): string {
  const line = script.split("\n").find((l) => l.trimStart().startsWith(start));
  assert.ok(line !== undefined, `no line starting with ${start}`);
  return line.trim();
}

Deno.test("renderDbUtil() writes a bash script with the run's variables", () => {
  const s = renderDbUtil(INPUT);
  assert.ok(s.startsWith("#!/bin/bash\n"));
  assert.ok(s.endsWith("\n"));
  assert.deepEqual(shellWords(lineStarting(s, "export DISBATCH_KVSSTCP_HOST=")), [
    "export",
    "DISBATCH_KVSSTCP_HOST=10.0.0.1:4444",
  ]);
  assert.deepEqual(shellWords(lineStarting(s, "export DISBATCH_DRIVER=")), [
    "export",
    "DISBATCH_DRIVER=10.0.0.1:4444,vm:4444",
  ]);
  assert.deepEqual(shellWords(lineStarting(s, "export DISBATCH_UID=")), [
    "export",
    `DISBATCH_UID=${INPUT.uid}`,
  ]);
});

Deno.test("renderDbUtil() holds the secret only in its export line", () => {
  const s = renderDbUtil(INPUT);
  const lines = s.split("\n").filter((l) => l.includes(SECRET));
  assert.equal(lines.length, 1);
  assert.equal(lines[0], `export DISBATCH_SECRET='${SECRET}'`);
  assert.equal(s.split(SECRET).length, 2, "exactly one occurrence");
});

Deno.test("renderDbUtil() quotes paths with spaces and quotes in every command", () => {
  const s = renderDbUtil(INPUT);
  const self = INPUT.self;
  assert.deepEqual(shellWords(lineStarting(s, "--mon)")), [
    "--mon)",
    "shift;",
    "exec",
    ...self,
    "--mon",
    '"$@"',
    ";;",
  ]);
  assert.deepEqual(shellWords(lineStarting(s, "--engine)")), ["--engine)", "exec", ...self, '"$@"', ";;"]);
  assert.deepEqual(shellWords(lineStarting(s, "--stop|--status)")), [
    "--stop|--status)",
    "exec",
    ...self,
    "--control",
    '"$@"',
    ";;",
  ]);
  assert.deepEqual(shellWords(lineStarting(s, "*)")), [
    "*)",
    "exec",
    ...self,
    "--context",
    `${INPUT.uid}_dbUtil.sh`,
    '"$@"',
    "<",
    "/dev/null",
    "1>",
    `${INPUT.uid}_\${BASHPID-$$}_context_launch.log`,
    ";;",
  ]);
});

Deno.test("renderDbUtil() keeps a plain binary path readable", () => {
  const s = renderDbUtil({
    uid: "/w/T_disBatch_1_001",
    addresses: ["h:1"],
    secret: "ab",
    self: ["/usr/bin/disbatch"],
  });
  assert.ok(s.includes("exec '/usr/bin/disbatch' --context '/w/T_disBatch_1_001_dbUtil.sh' \"$@\""), s);
  assert.ok(s.includes('case "$1" in'));
  assert.ok(s.includes("esac"));
});

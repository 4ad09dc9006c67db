import assert from "node:assert/strict";
import {
  LAUNCHER_PROGRAM,
  type LauncherLine,
  parseLauncherLine,
  poolLine,
  requestLine,
  withdrawLine,
} from "../../lib/launcher_text.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const none = { bytes: 0, head: new Uint8Array(0), tail: new Uint8Array(0) };

Deno.test("parseLauncherLine(): every report, and anything else as other", () => {
  const cases: [string, LauncherLine][] = [
    ["R 3.11.7 posix_spawn through ctypes", {
      kind: "ready",
      version: "3.11.7",
      spawn: "posix_spawn through ctypes",
    }],
    ["R 3.11.7", { kind: "other", text: "R 3.11.7" }],
    ["X python 3.6.8 has no posix_spawn", { kind: "unusable", why: "python 3.6.8 has no posix_spawn" }],
    ["S 12 4242 1796392753.350831 3", {
      kind: "started",
      run: 12,
      pid: 4242,
      start: 1796392753.350831,
      slot: 3,
    }],
    ["S 12 4242 1796392753.350831", { kind: "other", text: "S 12 4242 1796392753.350831" }],
    ["F 3 -1 Argument list too long (os error 7)", {
      kind: "failed",
      run: 3,
      slot: -1,
      message: "Argument list too long (os error 7)",
    }],
    ["W 17", { kind: "withdrawn", run: 17 }],
    ["W 17 x", { kind: "other", text: "W 17 x" }],
    ["E 2 21199 -15 1.5 2.25 0 - - 0 - -", {
      kind: "ended",
      run: 2,
      pid: 21199,
      returnCode: -15,
      start: 1.5,
      end: 2.25,
      stdout: none,
      stderr: none,
    }],
    ["E 1 21198 3 1.0 2.0 3 68690a - 4 6572720a -", {
      kind: "ended",
      run: 1,
      pid: 21198,
      returnCode: 3,
      start: 1,
      end: 2,
      stdout: { bytes: 3, head: enc("hi\n"), tail: new Uint8Array(0) },
      stderr: { bytes: 4, head: enc("err\n"), tail: new Uint8Array(0) },
    }],
    // Malformed lines are not taken for reports.
    ["E 1 21198 3 1.0 2.0 3 6869zz - 0 - -", { kind: "other", text: "E 1 21198 3 1.0 2.0 3 6869zz - 0 - -" }],
    ["E 1 21198 3 1.0 2.0 3 68690a -", { kind: "other", text: "E 1 21198 3 1.0 2.0 3 68690a -" }],
    ["S x 1 2", { kind: "other", text: "S x 1 2" }],
    ["Traceback (most recent call last):", { kind: "other", text: "Traceback (most recent call last):" }],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseLauncherLine(line), want, line);
});

Deno.test("requestLine(): one JSON line per task, whatever the command holds", () => {
  const cases: [string, Record<string, string>][] = [
    ["echo hi", { DISBATCH_TASKID: "0" }],
    ["printf 'a\\nb'\n echo \"q\" \t tab", { A: "x y", B: "" }],
    ["eval $'\\xFF'", {}],
    ["echo ünïcode ✓", { V: "é" }],
  ];
  for (const [command, env] of cases) {
    const line = requestLine(7, 1, command, env);
    assert.equal(line.indexOf("\n"), line.length - 1, "exactly one newline, at the end");
    assert.deepEqual(JSON.parse(line), [7, 1, command, env]);
  }
});

Deno.test("poolLine(), withdrawLine(), a queued request: the JSON the launcher's queue reads", () => {
  const cases: [string, unknown][] = [
    [
      poolLine(
        new Map<number, Record<string, string>>([[0, { DISBATCH_CYLINDER_RANK: "0", GPU: "a" }], [3, {
          DISBATCH_CYLINDER_RANK: "3",
        }]]),
      ),
      ["pool", { "0": { DISBATCH_CYLINDER_RANK: "0", GPU: "a" }, "3": { DISBATCH_CYLINDER_RANK: "3" } }],
    ],
    [poolLine(new Map()), ["pool", {}]],
    [withdrawLine([4, 9]), ["withdraw", [4, 9]]],
    [requestLine(5, null, "echo 'a b'", { X: "1" }), [5, null, "echo 'a b'", { X: "1" }]],
  ];
  for (const [line, want] of cases) {
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), line);
    assert.deepEqual(JSON.parse(line), want);
  }
});

Deno.test("LAUNCHER_PROGRAM: the text python runs, with nothing interpolated away", () => {
  // A template slip (`${…}`) would silently drop python text.
  assert.ok(!LAUNCHER_PROGRAM.includes("${"));
  for (
    const needle of [
      "posix_spawn",
      "setpgroup=0",
      "setsigdef",
      "os.WTERMSIG",
      "killpg",
      "rmtree",
      "mkfifo",
    ]
  ) {
    assert.ok(LAUNCHER_PROGRAM.includes(needle), needle);
  }
});

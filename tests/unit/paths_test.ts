/** Our path resolution against `node:path`'s POSIX one (which the tests may load). */
import assert from "node:assert/strict";
import { posix } from "node:path";
import { parentDir, resolvePath } from "../../lib/paths.ts";

const CWDS = ["/", "/home/u", "/home/u/", "/a/b/c"];
const PATHS: string[][] = [
  [],
  [""],
  ["."],
  [".."],
  ["../.."],
  ["../../../../x"],
  ["Tasks"],
  ["./Tasks"],
  ["runs/../Tasks"],
  ["runs//deep///Tasks/"],
  ["/abs"],
  ["/abs/./x/../y/"],
  ["//double"],
  ["/"],
  ["a", "b"],
  ["a", "/b", "c"],
  ["/w/", "x/"],
  ["/w", "", "x"],
  ["a", "..", "..", "b"],
  ["dir with space", "f.txt"],
  ["...", "..x", ".y"],
];

Deno.test("resolvePath() matches path.posix.resolve", () => {
  for (const cwd of CWDS) {
    for (const p of PATHS) {
      assert.equal(resolvePath(cwd, ...p), posix.resolve(cwd, ...p), `${cwd} ${JSON.stringify(p)}`);
    }
  }
});

Deno.test("parentDir() matches path.posix.dirname on resolved paths", () => {
  for (const cwd of CWDS) {
    for (const p of PATHS) {
      const abs = resolvePath(cwd, ...p);
      assert.equal(parentDir(abs), posix.dirname(abs), abs);
    }
  }
});

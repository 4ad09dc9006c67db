/**
 * Which python3 the task launcher runs on: the first program on PATH, not a version manager's
 * shell-script shim, nor one whose real name says it is older than 3.8.
 *
 * @module
 */

import assert from "node:assert/strict";
import { findPython3 } from "../../adapters/launcher.ts";
import { tempDir } from "../helpers/run_cli.ts";

const REAL = ["/usr/bin/python3", "/bin/python3"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

Deno.test("findPython3(): a program rather than a shim, and not a python3.6", async () => {
  assert.ok(REAL, "this test needs a python3 in /usr/bin or /bin (apt-get install python3)");
  await using d = await tempDir();
  const dir = (name: string) => {
    Deno.mkdirSync(`${d.path}/${name}`);
    return `${d.path}/${name}`;
  };
  const shims = dir("shims");
  Deno.writeTextFileSync(`${shims}/python3`, '#!/usr/bin/env bash\nexec pyenv exec python3 "$@"\n', {
    mode: 0o755,
  });
  const old = dir("old");
  Deno.copyFileSync(REAL!, `${old}/python3.6`);
  Deno.symlinkSync(`${old}/python3.6`, `${old}/python3`);
  const notExec = dir("noexec");
  Deno.writeTextFileSync(`${notExec}/python3`, "\x7fELF", { mode: 0o644 });
  const empty = dir("empty");
  const good = dir("good");
  Deno.copyFileSync(REAL!, `${good}/python3`);
  const cases: [string, string[], string][] = [
    ["the shim is passed over", [shims, good], `${good}/python3`],
    ["a python3.6 is passed over", [old, good], `${good}/python3`],
    ["one that cannot run is passed over", [notExec, empty, good], `${good}/python3`],
    ["relative PATH entries are not searched", ["shims", good], `${good}/python3`],
    ["only a shim: the shim", [empty, shims], `${shims}/python3`],
    ["a shim before an old one: the shim (it may find a newer python)", [old, shims], `${shims}/python3`],
    ["only an old one: that one (the launcher says it cannot work)", [old], `${old}/python3`],
    ["none: the name, for the error to name it", [empty], "python3"],
    ["empty PATH", [], "python3"],
  ];
  for (const [label, path, want] of cases) assert.equal(findPython3(path.join(":")), want, label);
});

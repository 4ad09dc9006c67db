/**
 * `deno task compile` (scripts/compile.ts): the built binary is checked before it is called a
 * success. A real runtime cannot be downloaded here, so the failure paths are what CI can run:
 * `DENORT_BIN` naming something that is not a runtime gives a binary that cannot start, which must
 * fail loudly (exit 1) instead of "compiled".
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { elfMachine, isDenortDownloadFailure, TARGETS } from "../../scripts/compile.ts";

const SCRIPT = fileURLToPath(new URL("../../scripts/compile.ts", import.meta.url));

async function compile(args: string[], env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", SCRIPT, ...args],
    env,
    stdin: "null",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("elfMachine() reads e_machine of little-endian ELF headers only", () => {
  const elf = (machine: number, data = 1) => {
    const h = new Uint8Array(64);
    h.set([0x7f, 0x45, 0x4c, 0x46, 2, data], 0);
    h[18] = machine & 0xff;
    h[19] = machine >> 8;
    return h;
  };
  const cases: [Uint8Array, number | undefined][] = [
    [elf(62), 62],
    [elf(183), 183],
    [elf(62, 2), undefined],
    [new TextEncoder().encode("#!/bin/sh\necho not an elf file\n"), undefined],
    [new Uint8Array(4), undefined],
  ];
  for (const [head, want] of cases) assert.equal(elfMachine(head), want);
  assert.deepEqual(Object.keys(TARGETS).sort(), ["aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"]);
});

Deno.test("isDenortDownloadFailure() tells a failed runtime download from other compile errors", () => {
  const cases: [string, boolean][] = [
    [
      "error: Writing deno compile executable failed\n  Download https://dl.deno.land/release/v2.9.6/denort-x.zip: dns error",
      true,
    ],
    ["Setting up base binary... error sending request for url", true],
    ['error: Module not found "file:///x/main.ts"', false],
    ["TS2322 [ERROR]: Type 'string' is not assignable", false],
  ];
  for (const [text, want] of cases) assert.equal(isDenortDownloadFailure(text), want, text);
});

Deno.test("compile: a binary that cannot start is a loud failure, exit 1, not 'compiled'", async () => {
  const dir = await Deno.makeTempDir({ prefix: "disbatch_compile_" });
  try {
    const r = await compile(["--output", `${dir}/disbatch`], { DENORT_BIN: "/bin/false" });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /compile failed: .*disbatch does not start: .*--version` exited 1/);
    assert.doesNotMatch(r.stderr, /^compiled /m);
    const cross = await compile(["--target", "aarch64-unknown-linux-gnu", "--output", `${dir}/arm`], {
      DENORT_BIN: "/bin/false",
    });
    assert.equal(cross.code, 1, cross.stderr);
    assert.match(
      cross.stderr,
      /not an ELF executable for aarch64-unknown-linux-gnu \(e_machine 62, expected 183\)/,
    );
    const bad = await compile(["--target", "sparc-sun-solaris"], {});
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(
      bad.stderr,
      /unknown --target sparc-sun-solaris; use one of x86_64-unknown-linux-gnu, aarch64/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The engine's launch contract at the command line: an engine started for another contract
 * version (an executable replaced while a run goes on) refuses with one line and status 2.
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import { engineArgv, LAUNCH_CONTRACT_VERSION } from "../../lib/launch_contract.ts";

const ARGV = engineArgv({
  connect: "127.0.0.1:9",
  context: 0,
  host: "localhost",
  slots: 1,
  coresPerSlot: 1,
  label: "SSH0",
  launch: "0.0",
  envResource: [],
});

Deno.test("an engine started for another launch contract version refuses with one line", async () => {
  await using d = await tempDir();
  const cases: [string, string[], RegExp][] = [
    [
      "a newer version",
      ["--engine", "--contract", String(LAUNCH_CONTRACT_VERSION + 1), ...ARGV.slice(3)],
      new RegExp(
        `^disbatch --engine: started for launch contract ${
          LAUNCH_CONTRACT_VERSION + 1
        }, but this disbatch speaks launch contract ${LAUNCH_CONTRACT_VERSION}: .*use the same disbatch binary`,
      ),
    ],
    [
      "no version",
      ["--engine", ...ARGV.slice(3)],
      /^disbatch --engine: started without a launch contract version/,
    ],
  ];
  for (const [why, args, re] of cases) {
    const r = await runCli(args, {
      cwd: d.path,
      env: { DISBATCH_SECRET: "ab".repeat(32) },
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 2, `${why}: ${r.stderr}`);
    assert.equal(r.stdout, "", why);
    const lines = r.stderr.split("\n").filter(Boolean);
    assert.equal(lines.length, 1, `${why}: ${r.stderr}`);
    assert.match(lines[0]!, re, why);
    assert.deepEqual([...Deno.readDirSync(d.path)], [], `${why}: no file written`);
  }
});

/**
 * `disbatch -` reads tasks from stdin and starts each as soon as its line arrives (the reference
 * held every line back until the next one came), and ends when stdin does.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cliCommand, tempDir } from "../helpers/run_cli.ts";
import { pollUntil } from "./e2e_helpers.ts";

Deno.test("disbatch -: each task starts when its line arrives, the run ends at end of input", async () => {
  await using dir = await tempDir();
  const [cmd, ...pre] = cliCommand();
  const child = new Deno.Command(cmd!, {
    args: [...pre, "-q", "-s", "localhost:2", "-p", `${dir.path}/run`, "-"],
    cwd: dir.path,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  const enc = new TextEncoder();
  try {
    await w.write(enc.encode("touch first\n"));
    // stdin stays open: the first task must run anyway
    await pollUntil("the first task to run while stdin is open", () => {
      try {
        return Deno.statSync(`${dir.path}/first`).isFile || undefined;
      } catch {
        return undefined;
      }
    }, 20_000);
    await w.write(enc.encode("#DISBATCH BARRIER\ntouch second\n"));
    await w.close();
    const out = await child.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.ok(Deno.statSync(`${dir.path}/second`).isFile);
    const lines = Deno.readTextFileSync(`${dir.path}/run_status.txt`).trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => l.split("\t").slice(1, 3).join(",")), ["0,1", "1,2", "2,3"]);
    assert.match(Deno.readTextFileSync(`${dir.path}/run_status.txt`), /\ttouch first\n/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
  }
});

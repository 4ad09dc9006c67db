/**
 * `disbatch -w` under a flood of idle connections to the dashboard port, with few descriptors
 * (`ulimit -n 256`): the run finishes every task and exits 0.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cliCommand, tempDir } from "../helpers/run_cli.ts";
import { shellQuote } from "../../adapters/self_command.ts";
import { pollUntil } from "./e2e_helpers.ts";

Deno.test("dashboard flood: 400 idle connections under ulimit -n 256 do not stop the run", async () => {
  await using d = await tempDir();
  Deno.writeTextFileSync(`${d.path}/Tasks`, "sleep 0.1; echo x >> done_$DISBATCH_TASKID\n".repeat(60));
  const cmd = [...cliCommand(), "-w", "-s", "localhost:2", "-p", "run", "Tasks"].map(shellQuote).join(" ");
  const child = new Deno.Command("bash", {
    args: ["-c", `ulimit -n 256 && exec ${cmd}`],
    cwd: d.path,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const url = await pollUntil("the dashboard URL", () => {
    try {
      return Deno.readTextFileSync(`${d.path}/run_url`).trim() || undefined;
    } catch {
      return undefined;
    }
  }, 30_000);
  const port = Number(new URL(url).port);
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < 400; i++) {
    try {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    } catch { /* refused while the accept queue is full: fine */ }
  }
  const out = await child.output();
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed by the gate */ }
  }
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.doesNotMatch(stderr, /Uncaught|Too many open files/);
  for (let i = 0; i < 60; i++) assert.equal(Deno.readTextFileSync(`${d.path}/done_${i}`), "x\n");
});

/**
 * `<run>_dbUtil.sh --stop TARGET` against a `-S` run with three local contexts (alpha, beta,
 * beta) of one engine each: what it prints and its exit status for a missing target, names that
 * match nothing, an engine rank, a label two contexts carry and a context id; an engine that has
 * left is "no engine" again; the stopped engines finish their running task and take no other.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Decoded, decoded, spawnCli, tempDir } from "../helpers/run_cli.ts";

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

async function waitFor(what: string, probe: () => boolean, last: () => string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}; last seen:\n${last()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function dbUtil(script: string, args: string[], cwd: string): Promise<Decoded> {
  const out = await new Deno.Command(script, { args, cwd, stdin: "null", stdout: "piped", stderr: "piped" })
    .output();
  return decoded(out);
}

Deno.test({
  name:
    "dbUtil.sh --stop: one line and exit 0 for what it stops, 1 for a name that matches nothing, 2 without a target",
  sanitizeResources: false, // the run's processes are ended by hand in finally
  sanitizeOps: false,
}, async () => {
  await using d = await tempDir("disbatch_stop_");
  const run = `${d.path}/run`;
  const script = `${run}_dbUtil.sh`;
  const log = `${run}_driver.log`;
  // Every task notes which engine started it, when.
  Deno.writeTextFileSync(
    `${d.path}/Tasks`,
    'echo "$DISBATCH_ENGINE_RANK $(date +%s.%N)" >> starts; sleep 1\n'.repeat(300),
  );
  const driver = spawnCli(["-S", "-p", run, "Tasks"], { cwd: d.path });
  const driverOut = driver.output();
  const contexts: Deno.ChildProcess[] = [];
  try {
    await waitFor(
      "the run's dbUtil.sh",
      () => /DISBATCH_DRIVER='[^']+'/.test(readOr(script)),
      () => readOr(log),
    );
    // One at a time, so that contexts 0, 1, 2 are alpha, beta, beta and engine n is context n's.
    for (const [i, label] of ["alpha", "beta", "beta"].entries()) {
      contexts.push(
        new Deno.Command(script, {
          args: ["-s", "localhost:1", "-l", label],
          cwd: d.path,
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn(),
      );
      await waitFor(
        `context ${label} and its engine`,
        () =>
          new RegExp(`Context ${label} \\(${i}, `).test(readOr(log)) &&
          readOr(log).includes(`Engine ${i} joined`),
        () => readOr(log),
      );
    }

    const cases: { args: string[]; code: number; stdout: string; stderr?: RegExp }[] = [
      {
        args: ["--stop"],
        code: 2,
        stdout: "",
        // dbUtil.sh's own usage, not the driver's.
        stderr:
          /^usage: \S+_dbUtil\.sh \[CONTEXT OPTIONS\]\n.*--stop ENGINE\|cID\|LABEL\n.*--help says more\)\ndisbatch: error: --stop needs an engine rank \(e\.g\. 3\), a context id \(c1\) or a context label \(e\.g\. SSH1, J1234\)\n$/,
      },
      { args: ["--stop", "99"], code: 1, stdout: "no engine 99\n" },
      { args: ["--stop", "c9"], code: 1, stdout: "no context 9\n" },
      { args: ["--stop", "gamma"], code: 1, stdout: "no context gamma\n" },
      { args: ["--stop", "0"], code: 0, stdout: "stopping engine 0\n" },
      { args: ["--stop", "beta"], code: 0, stdout: "stopping contexts beta (1), beta (2)\n" },
      { args: ["--stop", "c0"], code: 0, stdout: "stopping context alpha (0)\n" },
    ];
    for (const c of cases) {
      const r = await dbUtil(script, c.args, d.path);
      const what = `${c.args.join(" ")}: exit ${r.code}, stdout ${
        JSON.stringify(r.stdout)
      }, stderr ${r.stderr}`;
      assert.equal(r.code, c.code, what);
      assert.equal(r.stdout, c.stdout, what);
      if (c.stderr) assert.match(r.stderr, c.stderr, what);
      else assert.equal(r.stderr, "", what);
    }
    const stoppedAt = Date.now() / 1000;

    // Each engine finishes the task it runs (sleep 1) and leaves, and then its context; none
    // starts another task after the stop.
    await waitFor(
      "the three engines and their contexts to leave",
      () => (readOr(log).match(/Context (alpha|beta) finished/g) ?? []).length === 3,
      () => readOr(log),
    );
    const late = readOr(`${d.path}/starts`).trim().split("\n").map((l) => l.split(" ").map(Number))
      .filter(([, t]) => t! > stoppedAt + 0.5);
    assert.deepEqual(late, [], "a stopped engine started a task after --stop");
    for (const r of [0, 1, 2]) {
      assert.match(readOr(log), new RegExp(`Stopping engine ${r} on \\S+ \\(soft\\)`));
    }
    // Once --status lists no engine, rank 1 names nothing.
    let status: Decoded | undefined;
    const deadline = Date.now() + 30_000;
    for (;;) {
      status = await dbUtil(script, ["--status"], d.path);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^run "run": running; /);
      if (!/^ {2}engine /m.test(status.stdout)) break;
      assert.ok(Date.now() < deadline, `engines still listed:\n${status.stdout}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const flag of ["--help", "-h"]) {
      const help = await dbUtil(script, [flag], d.path);
      assert.equal(help.code, 0, help.stderr);
      assert.equal(help.stderr, "");
      assert.match(help.stdout, new RegExp(`^usage: \\S+run_dbUtil\\.sh \\[CONTEXT OPTIONS\\]\n`));
      assert.match(help.stdout, /--stop +let an engine/);
    }
    const gone = await dbUtil(script, ["--stop", "1"], d.path);
    assert.deepEqual([gone.code, gone.stdout], [1, "no engine 1\n"], "an engine that has left");
  } finally {
    try {
      driver.kill("SIGTERM");
    } catch { /* gone */ }
    await driverOut;
    for (const c of contexts) {
      const t = setTimeout(() => {
        try {
          c.kill("SIGKILL");
        } catch { /* gone */ }
      }, 15_000);
      await c.status;
      clearTimeout(t);
    }
  }
});

Deno.test({
  name: "the driver names why it dropped a stranger once: an oversized frame, a message before the handshake",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await using d = await tempDir("disbatch_strangers_");
  const run = `${d.path}/run`;
  const script = `${run}_dbUtil.sh`;
  const log = `${run}_driver.log`;
  Deno.writeTextFileSync(`${d.path}/Tasks`, "true\n");
  const driver = spawnCli(["-S", "-p", run, "Tasks"], { cwd: d.path });
  const driverOut = driver.output();
  try {
    await waitFor(
      "the run's dbUtil.sh",
      () => /DISBATCH_DRIVER='[^']+'/.test(readOr(script)),
      () => readOr(log),
    );
    const port = Number(/DISBATCH_DRIVER='[^',]*:(\d+)/.exec(readOr(script))?.[1]);
    // What each stranger sends, and the line the driver writes about it.
    const frame = (json: string) => {
      const body = new TextEncoder().encode(json);
      const out = new Uint8Array(4 + body.length);
      new DataView(out.buffer).setUint32(0, body.length);
      out.set(body, 4);
      return out;
    };
    const strangers: [Uint8Array, RegExp][] = [
      [
        new Uint8Array([0x7f, 0, 0, 0]),
        /WARNING Rejected connection from 127\.0\.0\.1:\d+: frame of 2130706432 bytes is larger than the limit of 65536\n/,
      ],
      [
        frame('{"kind":"watch"}'),
        /WARNING Rejected connection from 127\.0\.0\.1:\d+: sent "watch" before authenticating\n/,
      ],
      [
        frame("[1,2]"),
        /WARNING Rejected connection from 127\.0\.0\.1:\d+: message is not an object with a string kind\n/,
      ],
    ];
    for (const [bytes, line] of strangers) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await c.write(bytes);
      // The driver closes the connection: read until it does.
      const buf = new Uint8Array(4096);
      try {
        while ((await c.read(buf)) !== null) { /* the challenge */ }
      } catch { /* reset */ }
      c.close();
      await waitFor(`the line ${line}`, () => line.test(readOr(log)), () => readOr(log));
    }
    // A stranger that connects and leaves quietly is no warning.
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    const status = await dbUtil(script, ["--status"], d.path);
    assert.equal(status.code, 0, status.stderr);
    const rejections = readOr(log).split("\n").filter((l) => /Rejected|Dropped/.test(l));
    assert.equal(rejections.length, 3, `one line per stranger:\n${rejections.join("\n")}`);
  } finally {
    try {
      driver.kill("SIGTERM");
    } catch { /* gone */ }
    await driverOut;
  }
});

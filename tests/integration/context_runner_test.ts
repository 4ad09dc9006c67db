/**
 * The context runner with real launcher processes, started by a kind of the test's own (its
 * starter runs a small shell script instead of an engine): what it reports for a launcher that
 * cannot start, one that ends, an unreachable host tried again within the limit, and a lost engine
 * started again or not, as its kind says.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ContextKind, EngineStarter, PlannedEngine } from "../../lib/context_kind.ts";
import { ContextRunner, type ContextRunnerInput } from "../../adapters/context_runner.ts";
import { Logger } from "../../adapters/log.ts";
import { tempDir } from "../helpers/run_cli.ts";

/** A starter that runs `script` with `sh`, the engine's arguments after it. */
function shStarter(script: string, unreachable?: RegExp): EngineStarter {
  return {
    via: "sh",
    onThisMachine: true,
    command: (_p, i) => ({ argv: ["/bin/sh", "-c", script, "sh", ...i.engineArgs], env: {} }),
    ...(unreachable ? { unreachable } : {}),
  };
}

function kindWith(starter: EngineStarter, restartsLostEngines: boolean): ContextKind {
  return {
    name: "test",
    applies: () => true,
    plan: () => ({ kind: "test", label: "T", engines: [], notes: [], warnings: [] }),
    starters: [starter],
    restartsLostEngines,
    timeLimited: false,
    namesItself: false,
    implicit: false,
  };
}

const ENGINE: PlannedEngine = { host: "h1", slots: 1, coresPerSlot: 1, via: "sh" };

/** A runner whose reports are collected as lines. */
function runner(dir: string, kind: ContextKind, o: Partial<ContextRunnerInput> = {}) {
  const reports: string[] = [];
  const said: string[] = [];
  const log = new Logger(`${dir}/driver.log`, "INFO");
  const r = new ContextRunner({
    id: 3,
    label: "T",
    kind,
    run: { uid: `${dir}/run`, connect: "c", localConnect: "lc", secret: "s", envResource: [] },
    log,
    say: (m) => said.push(m),
    restarts: 0,
    going: () => true,
    joined: () => false,
    reports: {
      startFailed: (e, launch, error) => reports.push(`startFailed ${e.host} ${launch} ${error}`),
      started: (l, seq) => reports.push(`started ${l.launchId} ${seq}`),
      exited: (l, s) => reports.push(`exited ${l.launchId} ${s.code}`),
      ended: (l, s, last, seq) => reports.push(`ended ${l.launchId} ${s.code} ${seq} ${last}`),
      coming: (e) => reports.push(`coming ${e.host}`),
      notComing: (e) => reports.push(`notComing ${e.host}`),
    },
    ...o,
  });
  return { r, reports, said, log };
}

Deno.test("ContextRunner: a launcher that cannot start, and one that ends, are reported once each", async () => {
  await using d = await tempDir();
  const bad: EngineStarter = {
    ...shStarter(""),
    command: () => ({ argv: [`${d.path}/no-such-program`], env: {} }),
  };
  const failing = runner(d.path, kindWith(bad, true));
  failing.r.launch(ENGINE);
  await failing.r.settled();
  assert.equal(failing.reports.length, 1, String(failing.reports));
  assert.match(failing.reports[0]!, /^startFailed h1 3\.0 .*no-such-program/);
  failing.log.close();

  const ending = runner(
    d.path,
    kindWith(shStarter('echo "engine args: $*"; echo last words >&2; exit 4'), true),
  );
  ending.r.launch(ENGINE);
  ending.r.launch({ ...ENGINE, host: "h2" });
  await ending.r.settled();
  ending.log.close();
  assert.deepEqual(ending.reports.filter((l) => l.startsWith("started")).sort(), [
    "started 3.0 0",
    "started 3.1 1",
  ]);
  assert.deepEqual(ending.reports.filter((l) => l.startsWith("exited")).sort(), [
    "exited 3.0 4",
    "exited 3.1 4",
  ]);
  assert.deepEqual(ending.reports.filter((l) => l.startsWith("ended")).sort(), [
    "ended 3.0 4 0 last words",
    "ended 3.1 4 1 last words",
  ]);
  const wrap = Deno.readTextFileSync(`${d.path}/run_T_h1_engine_wrap.log`);
  assert.match(
    wrap,
    /engine args: --engine --contract 1 --connect lc --context 3 --host h1 .*--label T --launch 3\.0/,
  );
});

Deno.test("ContextRunner: an unreachable host is tried again within --engine-restarts, then reported", async () => {
  await using d = await tempDir();
  const starter = shStarter(
    'echo "ssh: connect to host h1 port 22: Connection refused" >&2; exit 255',
    /refused/,
  );
  const { r, reports, said, log } = runner(d.path, kindWith(starter, true), { restarts: 2 });
  r.launch(ENGINE);
  // 1 s, then 2 s later: three launches in all, the last one reported as ended.
  const deadline = Date.now() + 30_000;
  while (!reports.some((l) => l.startsWith("ended")) && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 100));
  }
  await r.settled();
  r.close();
  log.close();
  assert.equal(reports.filter((l) => l.startsWith("started")).length, 3, String(reports));
  assert.equal(reports.filter((l) => l.startsWith("exited")).length, 3, String(reports));
  assert.deepEqual(reports.filter((l) => l.startsWith("ended")), [
    "ended 3.2 255 2 ssh: connect to host h1 port 22: Connection refused",
  ]);
  assert.equal(
    reports.filter((l) => l.startsWith("coming")).length,
    0,
    "it never joined: no one more coming",
  );
  assert.deepEqual(said, [
    "disbatch: cannot reach h1 (ssh: connect to host h1 port 22: Connection refused); starting it again in 1 s",
    "disbatch: cannot reach h1 (ssh: connect to host h1 port 22: Connection refused); starting it again in 2 s",
  ]);
  const text = Deno.readTextFileSync(`${d.path}/driver.log`);
  assert.match(text, /restart 1 of 2/);
  assert.match(text, /tried 2 time\(s\) again already, not any more \(--engine-restarts 2\)/);
});

Deno.test("ContextRunner: a lost engine is started again only where its kind restarts lost engines", async () => {
  await using d = await tempDir();
  const cases: { restarts: boolean; going: boolean; again: boolean }[] = [
    { restarts: true, going: true, again: true },
    { restarts: false, going: true, again: false },
    { restarts: true, going: false, again: false },
  ];
  for (const c of cases) {
    const what = JSON.stringify(c);
    const { r, reports, log } = runner(d.path, kindWith(shStarter("sleep 30"), c.restarts), {
      restarts: 5,
      going: () => c.going,
      joined: () => true,
    });
    r.launch(ENGINE);
    assert.equal(r.engineLost("3.0"), c.again, what);
    assert.equal(r.engineLost("9.9"), false, `${what}: an unknown launch`);
    if (c.again) {
      assert.deepEqual(reports.filter((l) => l.startsWith("coming")), ["coming h1"], what);
      const deadline = Date.now() + 20_000;
      while (!reports.includes("started 3.1 1") && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(reports.includes("started 3.1 1"), `${what}: ${reports}`);
    }
    r.kill("SIGKILL");
    await r.settled();
    r.close();
    log.close();
    assert.equal(
      reports.filter((l) => l.startsWith("started")).length,
      c.again ? 2 : 1,
      `${what}: ${reports}`,
    );
    assert.equal(reports.filter((l) => l.startsWith("ended")).length, c.again ? 2 : 1, `${what}: ${reports}`);
  }
});

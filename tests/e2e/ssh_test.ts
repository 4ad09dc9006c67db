/**
 * SSH contexts on the local rig (scripts/rig/ssh-up.sh): `otherhost` (127.0.0.2, same machine)
 * and the namespace hosts n1, n2 (own network and hostname, shared filesystem and PIDs).
 * Covers `-s` host lists, the reference suite over ssh, unreachable hosts, contexts added to a
 * `-S` driver with `<run>_dbUtil.sh`, `-C`, soft stop, an engine or the driver killed with
 * SIGKILL, and strangers connecting to the driver port.
 *
 * Every test runs in its own directory under /tmp (all rig hosts share it).
 *
 * @module
 */

import assert from "node:assert/strict";
import { cliCommand, type CliResult, decoded, runCli, spawnPiped } from "../helpers/run_cli.ts";
import { gate, RIG_SCRIPTS } from "../helpers/gates.ts";
import {
  appendTaskForResume,
  assertOnlyNewTaskRan,
  assertRefFilesMade,
  countBy,
  ids,
  type Ran,
  range,
  REF_TASKS,
  sh,
  sharedDir,
  showRan,
  snippet,
  taskRowsIn,
  waitDbUtil,
} from "../helpers/rig_helpers.ts";
import {
  assertOnceEach,
  doneCounts,
  exists,
  finish,
  killAndWait,
  killPid,
  killSleepers,
  leftoverSleepers,
  onceTasks,
  pollUntil,
  readOr,
  RENDEZVOUS_SH,
  type Row,
  rowsIn,
  type Running,
  show,
  sleepers,
  type Spawned,
  start,
  uniqueSleep,
  writeText,
} from "./e2e_helpers.ts";

const IGNORE = await gate("ssh");
const LOCAL_HOST = Deno.hostname().split(".")[0]!;

// ---------------------------------------------------------------------------------------------
// helpers

/** Regex source matching `s` literally. */
function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * PIDs of `sleep <marker>` processes on `host`, seen through `ssh host pgrep -f`. The pattern is
 * anchored (`^sleep …`) so that the remote shell running pgrep does not match itself. All rig
 * hosts share one PID namespace, so pgrep is limited to the host's network namespace (`--ns $$`).
 */
async function remoteSleepers(host: string, marker: string): Promise<number[]> {
  const cmd = `pgrep --ns $$ --nslist net -f '^sleep ${reEscape(marker)}$'`;
  const r = await sh("ssh", [host, cmd], { timeoutMs: 20_000 });
  if (r.code !== 0 && r.code !== 1) throw new Error(`ssh ${host} pgrep failed (${r.code}): ${r.stderr}`);
  return r.stdout.split(/\s+/).filter((s) => s).map(Number);
}

/** Wait until `sleep <marker>` is gone on every host; returns what is left at the deadline. */
async function waitRemoteGone(hosts: string[], marker: string, timeoutMs: number): Promise<string[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const left: string[] = [];
    for (const h of hosts) {
      for (const pid of await remoteSleepers(h, marker)) left.push(`${h}:${pid}`);
    }
    if (left.length === 0 || performance.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** host:port pairs of `export DISBATCH_DRIVER='…'` in a dbUtil.sh. */
function driverEndpoints(dbUtil: string): { host: string; port: number }[] {
  const m = /DISBATCH_DRIVER='([^']*)'/.exec(Deno.readTextFileSync(dbUtil));
  assert.ok(m, `no DISBATCH_DRIVER in ${dbUtil}`);
  return m[1]!.split(",").map((hp) => {
    const i = hp.lastIndexOf(":");
    return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
  });
}

/** The port of the driver of the run with prefix path `pp` (its first DISBATCH_DRIVER endpoint). */
async function driverPort(pp: string): Promise<number> {
  return driverEndpoints(await waitDbUtil(pp))[0]!.port;
}

/** Run `<dbUtil.sh> args` to completion. */
function dbUtilRun(dbUtil: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<Ran> {
  return sh("bash", [dbUtil, ...args], { cwd, timeoutMs });
}

/** Start `<dbUtil.sh> args` (a context: it runs until its engines leave). */
function dbUtilSpawn(dbUtil: string, args: string[], cwd: string): Running<Ran> {
  const child = spawnPiped("bash", [dbUtil, ...args], { cwd });
  return { child, done: child.output().then(decoded) };
}

/** One engine line of `dbUtil.sh --status`. */
interface EngineState {
  rank: number;
  context: number;
  host: string;
  state: string;
  running: number;
}

function parseStatus(text: string): EngineState[] {
  const out: EngineState[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*engine (\d+) \(c(\d+)\) (\S+): (\w+), (\d+) running/.exec(line);
    if (m) {
      out.push({
        rank: Number(m[1]),
        context: Number(m[2]),
        host: m[3]!,
        state: m[4]!,
        running: Number(m[5]),
      });
    }
  }
  return out;
}

/** argv of a live process (NUL-separated /proc/PID/cmdline), or undefined. */
function argvOf(pid: number): string[] | undefined {
  try {
    const raw = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    const argv = raw.split("\0");
    if (argv.at(-1) === "") argv.pop();
    return argv.length ? argv : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Engine processes of one run on this machine (every rig host shares the PID namespace):
 * `pgrep -f -- --engine`, then only the engine itself (not the ssh client nor the remote shell)
 * whose `--connect` list has the run's port and whose `--label` (and `--host`) match.
 */
async function engineProcesses(port: number, label: string, host?: string): Promise<number[]> {
  const r = await sh("pgrep", ["-f", "--", "--engine"], { timeoutMs: 10_000 });
  const pids = r.stdout.split(/\s+/).filter((s) => s).map(Number);
  return pids.filter((pid) => {
    const argv = argvOf(pid);
    if (!argv || !argv.includes("--engine")) return false;
    const prog = argv[0]!.split("/").pop()!;
    if (["ssh", "bash", "sh", "sshd"].includes(prog)) return false;
    const val = (k: string) => {
      const i = argv.indexOf(k);
      return i >= 0 ? argv[i + 1] : undefined;
    };
    const connect = val("--connect") ?? "";
    if (!connect.split(",").some((hp) => hp.endsWith(`:${port}`))) return false;
    if (val("--label") !== label) return false;
    return host === undefined || val("--host") === host;
  });
}

/**
 * Cleanup after a test that kills engines or the driver: the driver, the tasks' `sleep <marker>`
 * and the run's engines (when its `port` is known).
 */
async function cleanUpKilledRun(drv: Spawned, marker: string, port: number): Promise<void> {
  await killAndWait(drv);
  await killSleepers(marker);
  if (port) { for (const pid of await engineProcesses(port, "SSH0")) killPid(pid); }
}

/** Task rows (not barriers, not per-engine) of the run with prefix path `pp`. */
function taskRows(pp: string): Row[] {
  const text = readOr(`${pp}_status.txt`);
  if (text === undefined) return [];
  return taskRowsIn(pp.slice(0, pp.lastIndexOf("/")));
}

/**
 * Assert that a finished run with prefix path `pp` exited 0 and has one status line for each of
 * tasks 0..n-1; returns those task rows.
 */
function allTaskRows(r: CliResult, pp: string, n: number, idsMessage = show(r)): Row[] {
  assert.equal(r.code, 0, show(r));
  const rows = taskRows(pp);
  assert.deepEqual(ids(rows), range(n), idsMessage);
  return rows;
}

/** `disbatch -s HOSTS -p DIR/run T` in `dir`. */
function runOn(hosts: string, dir: string, timeoutMs: number): Promise<CliResult> {
  return runCli(["-s", hosts, "-p", `${dir}/run`, "T"], { cwd: dir, timeoutMs });
}

// ---------------------------------------------------------------------------------------------
// host lists

Deno.test({ name: "ssh: -s otherhost:2 runs every task over ssh on otherhost", ignore: IGNORE }, async () => {
  await using d = await sharedDir("disbatch_ssh_other_");
  // SSH_CONNECTION = "client-ip client-port server-ip server-port": server 127.0.0.2 is otherhost.
  // SHLVL: a task's bash is at level 2, as locally; at 1 with SSH_CLIENT set it would read ~/.bashrc
  // first, taking itself for the shell sshd started.
  writeText(d.path, "T", 'echo "$(hostname) ${SSH_CONNECTION:-none} SHLVL=$SHLVL"\n'.repeat(4));
  const r = await runOn("otherhost:2", d.path, 60_000);
  const rows = allTaskRows(r, `${d.path}/run`, 4);
  for (const row of rows) {
    assert.equal(row.rc, 0, JSON.stringify(row.fields));
    assert.equal(row.node, "otherhost", JSON.stringify(row.fields));
    const [host, ...conn] = snippet(row).split(" ");
    assert.equal(host, Deno.hostname(), `otherhost is an alias of this machine: hostname ${host}`);
    assert.equal(
      conn[2],
      "127.0.0.2",
      `task did not run through ssh to otherhost: SSH_CONNECTION=${conn.join(" ")}`,
    );
    assert.equal(conn[4], "SHLVL=2", "the task's bash did not take itself for sshd's shell");
  }
});

Deno.test({
  name: "ssh: --retire-cmd runs where disbatch was started, so its relative paths hold",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_retire_");
  // The host that runs `true` has nothing left while the other runs `sleep`: it is retired.
  writeText(d.path, "T", "sleep 6\ntrue\n");
  const r = await runCli(
    ["-s", "otherhost:1,n1:1", "--retire-cmd", 'echo "$NODE" >> retired.txt', "-p", `${d.path}/run`, "T"],
    { cwd: d.path, timeoutMs: 60_000 },
  );
  allTaskRows(r, `${d.path}/run`, 2);
  const retired = readOr(`${d.path}/retired.txt`) ?? "";
  assert.match(retired, /^(otherhost|n1)\n$/, `retired.txt: ${JSON.stringify(retired)}\n${show(r)}`);
});

Deno.test(
  { name: "ssh: -s n1:2,n2:2 runs on both nodes, hostname = Node column", ignore: IGNORE },
  async () => {
    await using d = await sharedDir("disbatch_ssh_n1n2_");
    writeText(d.path, "rdv.sh", RENDEZVOUS_SH);
    // 4 tasks that must all run at once (so both nodes' 2 slots are used), then 4 more.
    writeText(
      d.path,
      "T",
      "bash rdv.sh 4 && hostname\n".repeat(4) + "sleep 0.2; hostname\n".repeat(4),
    );
    const r = await runOn("n1:2,n2:2", d.path, 60_000);
    const rows = allTaskRows(r, `${d.path}/run`, 8);
    for (const row of rows) {
      assert.equal(
        row.rc,
        0,
        `task ${row.id} failed (a rendezvous task fails when 4 slots were not busy at once): ${
          JSON.stringify(row.fields)
        }`,
      );
      assert.ok(["n1", "n2"].includes(row.node), JSON.stringify(row.fields));
      assert.equal(snippet(row), row.node, `task ${row.id}: hostname vs Node column`);
    }
    const first4 = countBy(rows.filter((x) => x.id < 4), (x) => x.node);
    assert.deepEqual(first4, { n1: 2, n2: 2 }, "2 slots per node");
  },
);

Deno.test(
  { name: "ssh: -s localhost:1,otherhost:2 mixes a local engine and an ssh one", ignore: IGNORE },
  async () => {
    await using d = await sharedDir("disbatch_ssh_mix_");
    writeText(d.path, "rdv.sh", RENDEZVOUS_SH);
    writeText(d.path, "T", 'bash rdv.sh 3 && echo "$(hostname) ${SSH_CONNECTION:-none}"\n'.repeat(3));
    const r = await runOn("localhost:1,otherhost:2", d.path, 60_000);
    const rows = allTaskRows(r, `${d.path}/run`, 3);
    for (const row of rows) {
      assert.equal(
        row.rc,
        0,
        `3 slots were not busy at once: ${JSON.stringify(row.fields)}`,
      );
    }
    // localhost is reported under this host's name (disBatch's Node column).
    assert.deepEqual(countBy(rows, (x) => x.node), { [LOCAL_HOST]: 1, otherhost: 2 });
    for (const row of rows.filter((x) => x.node === "otherhost")) {
      assert.equal(snippet(row).split(" ")[3], "127.0.0.2", `not run over ssh: ${row.outSnip}`);
    }
  },
);

// ---------------------------------------------------------------------------------------------
// the reference suite against -s otherhost:2

Deno.test({ name: "ssh reference suite: three tasks on otherhost:2 all run", ignore: IGNORE }, async () => {
  await using d = await sharedDir("disbatch_ssh_ref1_");
  writeText(d.path, "Tasks", REF_TASKS);
  const r = await runCli(["-s", "otherhost:2", "Tasks"], { cwd: d.path, timeoutMs: 60_000 });
  assert.equal(r.code, 0, show(r));
  assertRefFilesMade(d.path, show(r));
  const rows = rowsIn(d.path);
  assert.deepEqual(ids(rows), [0, 1, 2]);
  assert.ok(
    rows.every((x) => x.rc === 0 && x.node === "otherhost"),
    JSON.stringify(rows.map((x) => x.fields)),
  );
});

Deno.test({
  name: "ssh reference suite: resume after appending a task runs only the new one",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_ref2_");
  writeText(d.path, "Tasks", REF_TASKS);
  const first = await runCli(["-s", "otherhost:2", "Tasks"], { cwd: d.path, timeoutMs: 60_000 });
  assert.equal(first.code, 0, show(first));
  const status = appendTaskForResume(d.path);
  const r = await runCli(["-s", "otherhost:2", "Tasks", "-r", status], { cwd: d.path, timeoutMs: 60_000 });
  assert.equal(r.code, 0, show(r));
  assertOnlyNewTaskRan(d.path, show(r));
});

Deno.test({ name: "ssh reference suite: /dev/null exits 0 quickly", ignore: IGNORE }, async () => {
  await using d = await sharedDir("disbatch_ssh_ref3_");
  const r = await runCli(["-s", "otherhost:2", "/dev/null"], { cwd: d.path, timeoutMs: 30_000 });
  assert.equal(r.code, 0, show(r));
  assert.ok(r.wall < 5, `took ${r.wall.toFixed(2)} s`);
});

Deno.test({
  name: "ssh reference suite: --fail-fast on otherhost:2 starts nothing more, exits 1, leaves no orphan",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_ref4_");
  const marker = uniqueSleep(1000);
  writeText(d.path, "Tasks_failfast", `sleep ${marker}\nexit 1\ntouch A.txt\n`);
  try {
    const r = await runCli(["-s", "otherhost:2", "--fail-fast", "Tasks_failfast"], {
      cwd: d.path,
      timeoutMs: 45_000,
    });
    assert.ok(!exists(`${d.path}/A.txt`), `A.txt was created after the failure\n${show(r)}`);
    assert.equal(r.code, 1, show(r));
    assert.ok(r.wall < 15, `fail-fast run took ${r.wall.toFixed(2)} s`);
    const left = await waitRemoteGone(["otherhost"], marker, 3_000);
    assert.deepEqual(left, [], `sleep ${marker} still running on otherhost after the run ended`);
  } finally {
    await killSleepers(marker);
  }
});

// ---------------------------------------------------------------------------------------------
// unreachable hosts

Deno.test(
  { name: "ssh: -s nosuchhost:2 fails within 15 s naming the wrap log", ignore: IGNORE },
  async () => {
    await using d = await sharedDir("disbatch_ssh_nohost_");
    writeText(d.path, "T", "true\ntrue\n");
    const r = await runOn("nosuchhost:2", d.path, 30_000);
    assert.notEqual(r.code, 0, show(r));
    assert.ok(r.wall < 15, `took ${r.wall.toFixed(2)} s\n${show(r)}`);
    const wrap = `${d.path}/run_SSH0_nosuchhost_engine_wrap.log`;
    assert.ok(r.stderr.includes(wrap), `stderr does not name ${wrap}\n${show(r)}`);
    assert.ok(exists(wrap), `${wrap} does not exist`);
    assert.match(Deno.readTextFileSync(wrap), /nosuchhost/, "the wrap log holds ssh's error");
  },
);

Deno.test({
  name: "ssh: -s n1:2,nosuchhost:2 runs the tasks on n1, names only nosuchhost's wrap log and exits 0",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_halfhost_");
  writeText(d.path, "T", "hostname\n".repeat(3));
  const r = await runOn("n1:2,nosuchhost:2", d.path, 30_000);
  assert.ok(r.wall < 15, `took ${r.wall.toFixed(2)} s\n${show(r)}`);
  const rows = taskRows(`${d.path}/run`);
  assert.deepEqual(ids(rows), [0, 1, 2], show(r));
  assert.ok(rows.every((x) => x.rc === 0 && x.node === "n1" && snippet(x) === "n1"), show(r));
  const bad = `${d.path}/run_SSH0_nosuchhost_engine_wrap.log`;
  assert.ok(r.stderr.includes(bad), `stderr does not name ${bad}\n${show(r)}`);
  assert.ok(!r.stderr.includes("run_SSH0_n1_engine_wrap.log"), `stderr blames n1\n${show(r)}`);
  // The work was done: exit 0 (as disBatch, whose ssh context ends well), the failed engine said.
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /Some engine processes failed -- please check the logs \(.*nosuchhost/, show(r));
});

Deno.test({
  name: "ssh: a host that cannot be reached at first is tried again with back-off and then runs the tasks",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_comeback_");
  writeText(d.path, "T", "hostname\n".repeat(4));
  // An ssh in front of the real one: the first two connections fail as an unreachable host does.
  writeText(
    d.path,
    "ssh",
    `#!/bin/bash\nn=$(cat ${d.path}/tries 2>/dev/null || echo 0); echo $((n + 1)) > ${d.path}/tries\n` +
      `if [ "$n" -lt 2 ]; then echo "ssh: connect to host n3 port 22: Connection refused" >&2; exit 255; fi\n` +
      `exec /usr/bin/ssh "$@"\n`,
  );
  Deno.chmodSync(`${d.path}/ssh`, 0o755);
  const r = await runCli(["-s", "n3:2", "-p", `${d.path}/run`, "T"], {
    cwd: d.path,
    env: { PATH: `${d.path}:${Deno.env.get("PATH")}` },
    timeoutMs: 60_000,
  });
  assert.equal(r.code, 0, show(r));
  assert.match(
    r.stderr,
    /cannot reach n3 \(ssh: connect to host n3 port 22: Connection refused\); starting it again in 1 s/,
  );
  assert.match(r.stderr, /starting it again in 2 s/);
  assert.ok(r.wall >= 3, `the tries waited 1 s, then 2 s: ${r.wall.toFixed(1)} s`);
  const rows = allTaskRows(r, `${d.path}/run`, 4);
  assert.ok(rows.every((x) => x.rc === 0 && x.node === "n3" && snippet(x) === "n3"), show(r));
});

// ---------------------------------------------------------------------------------------------
// contexts added to a -S driver

Deno.test({
  name: "ssh: a context added with run_dbUtil.sh -s n2:2 runs the tasks of a -S driver",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_addctx_");
  const pp = `${d.path}/run`;
  writeText(d.path, "T", "sleep 0.3; hostname\n".repeat(4));
  const drv = start(["-S", "-p", pp, "T"], { cwd: d.path });
  let ctx: ReturnType<typeof dbUtilSpawn> | undefined;
  try {
    const dbu = await waitDbUtil(pp);
    const st = await dbUtilRun(dbu, ["--status"], d.path);
    assert.equal(st.code, 0, `--status: ${st.stdout}${st.stderr}`);
    assert.deepEqual(parseStatus(st.stdout), [], `-S must start no engine:\n${st.stdout}`);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(taskRows(pp), [], "a task ran before any context was added");
    ctx = dbUtilSpawn(dbu, ["-s", "n2:2"], d.path);
    const r = await finish(drv, 60_000);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /Run this script to add compute contexts:\n\s+\S*run_dbUtil\.sh/);
    const rows = taskRows(pp);
    assert.deepEqual(ids(rows), range(4), show(r));
    for (const row of rows) {
      assert.equal(row.rc, 0, JSON.stringify(row.fields));
      assert.equal(row.node, "n2", JSON.stringify(row.fields));
      assert.equal(snippet(row), "n2");
    }
    const c = await ctx.done;
    assert.equal(c.code, 0, `context exited ${c.code}: ${c.stderr}`);
  } finally {
    await killAndWait(drv);
    if (ctx) await killAndWait(ctx);
  }
});

Deno.test({ name: "ssh: an added context with -C 2 runs exactly 2 tasks", ignore: IGNORE }, async () => {
  await using d = await sharedDir("disbatch_ssh_ctxlimit_");
  const pp = `${d.path}/run`;
  writeText(d.path, "T", "sleep 0.3; hostname\n".repeat(6));
  const drv = start(["-S", "-p", pp, "T"], { cwd: d.path });
  const ctxs: ReturnType<typeof dbUtilSpawn>[] = [];
  try {
    const dbu = await waitDbUtil(pp);
    const limited = dbUtilSpawn(dbu, ["-s", "n1:2", "-C", "2", "-l", "lim"], d.path);
    ctxs.push(limited);
    // The limited context ends by itself once its engine has run its 2 tasks.
    const lc = await finish(limited, 45_000);
    assert.equal(lc.code, 0, `limited context exited ${lc.code}: ${lc.stderr}`);
    assert.match(lc.stderr, /context lim \(\d+\) added to the run \S+: n1:2; this command stays/);
    // A host that cannot be: said where dbUtil.sh runs, and its exit status says the context failed.
    const bad = await dbUtilRun(dbu, ["-s", "nosuchhost.invalid:1"], d.path);
    assert.equal(bad.code, 1, showRan(bad));
    assert.match(
      bad.stderr,
      /the engine on nosuchhost\.invalid exited \(status 255\): ssh: Could not resolve hostname/,
    );
    const launchLogs = [...Deno.readDirSync(d.path)].filter((e) => e.name.endsWith("_context_launch.log"));
    assert.deepEqual(launchLogs, [], "no empty launch log left per dbUtil.sh call");
    const onN1 = await pollUntil(
      "2 finished tasks on n1",
      () => {
        const n = taskRows(pp).filter((x) => x.node === "n1");
        return n.length >= 2 ? n : undefined;
      },
      10_000,
      50,
    );
    assert.equal(onN1.length, 2, "the -C 2 context ran more than 2 tasks");
    const rest = dbUtilSpawn(dbu, ["-s", "n2:2"], d.path);
    ctxs.push(rest);
    const r = await finish(drv, 60_000);
    const rows = allTaskRows(r, pp, 6);
    assert.ok(
      rows.every((x) => x.rc === 0 && snippet(x) === x.node),
      JSON.stringify(rows.map((x) => x.fields)),
    );
    assert.deepEqual(countBy(rows, (x) => x.node), { n1: 2, n2: 4 });
    assert.equal((await rest.done).code, 0);
  } finally {
    await killAndWait(drv);
    for (const c of ctxs) await killAndWait(c);
  }
});

// ---------------------------------------------------------------------------------------------
// soft stop, engine and driver failures

Deno.test({
  name: "ssh: --stop RANK lets that engine finish its running task and take no new one",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_stop_");
  const pp = `${d.path}/run`;
  writeText(d.path, "rdv.sh", RENDEZVOUS_SH);
  // Tasks 0 and 1 meet (one per engine), say so in a file, then run until the test releases them
  // (60 s at most): the stop lands while both run. The driver counts a task as running once it is
  // sent, so the test waits for the tasks' own word that they have started.
  const held = "for i in $(seq 600); do [ -e release ] && break; sleep 0.1; done";
  writeText(
    d.path,
    "T",
    `bash rdv.sh 2 && touch met_$DISBATCH_TASKID && ${held} && hostname\n`.repeat(2) +
      "sleep 0.2; hostname\n".repeat(4),
  );
  const drv = start(["-s", "n1:1,n2:1", "-p", pp, "T"], { cwd: d.path });
  try {
    const dbu = await waitDbUtil(pp);
    await pollUntil(
      "tasks 0 and 1 running, one on each engine",
      () => exists(`${d.path}/met_0`) && exists(`${d.path}/met_1`),
      30_000,
      50,
    );
    const st = await dbUtilRun(dbu, ["--status"], d.path);
    const engines = parseStatus(st.stdout).filter((x) => x.state === "active" && x.running === 1);
    const victim = engines.find((e) => e.host === "n1");
    assert.ok(victim, JSON.stringify(engines));
    const tSent = Date.now() / 1000;
    const stop = await dbUtilRun(dbu, ["--stop", String(victim.rank)], d.path);
    const tStop = Date.now() / 1000;
    assert.equal(stop.code, 0, `--stop: ${stop.stdout}${stop.stderr}`);
    assert.match(stop.stdout, new RegExp(`stop\\w* engine ${victim.rank}`, "i"));
    // Released once the engine has the stop (a task that ended before would free its slot for another).
    await pollUntil(
      "the stop in the engine's log",
      () =>
        [...Deno.readDirSync(d.path)].some((e) =>
          e.name.endsWith(`_engine_${victim.rank}.log`) &&
          /Stopping: /.test(Deno.readTextFileSync(`${d.path}/${e.name}`))
        ),
      30_000,
      50,
    );
    writeText(d.path, "release", "");
    const r = await finish(drv, 60_000);
    const rows = allTaskRows(r, pp, 6);
    assert.ok(
      rows.every((x) => x.rc === 0 && snippet(x) === x.node),
      JSON.stringify(rows.map((x) => x.fields)),
    );
    const n1 = rows.filter((x) => x.node === "n1");
    const running = n1.filter((x) => x.start <= tSent && x.end >= tSent);
    assert.equal(
      running.length,
      1,
      `n1's task running at the stop: ${JSON.stringify(n1.map((x) => x.fields))}`,
    );
    assert.ok(running[0]!.end > tStop, "the running task was finished, not cut short");
    const late = n1.filter((x) => x.start > tStop);
    assert.deepEqual(late.map((x) => x.fields), [], "the stopped engine started a task after --stop");
    assert.equal(rows.filter((x) => x.node === "n2").length, 6 - n1.length);
  } finally {
    await killAndWait(drv);
  }
});

Deno.test({
  name: "ssh: an engine killed with SIGKILL mid-task: its task is re-queued and every task completes once",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_enginekill_");
  const pp = `${d.path}/run`;
  const marker = uniqueSleep(30);
  // On otherhost (ssh from 127.0.0.2) a task's first attempt sleeps 30 s, so the engine there is
  // surely killed mid-task and an orphaned task would be visible; everywhere else it is short.
  const task =
    `if [ "$(echo $SSH_CONNECTION | cut -d' ' -f3)" = 127.0.0.2 ] && [ ! -e long_$DISBATCH_TASKID ]; ` +
    `then touch long_$DISBATCH_TASKID; sleep ${marker}; fi; sleep 0.5; echo done >> done_$DISBATCH_TASKID\n`;
  writeText(d.path, "T", task.repeat(8));
  const drv = start(["-s", "localhost:1,otherhost:1", "-p", pp, "T"], { cwd: d.path });
  let port = 0;
  try {
    port = await driverPort(pp);
    const victimTask = await pollUntil(
      "the otherhost engine in a long task",
      async () => {
        const s = await sleepers(marker);
        return s.length === 1 ? s[0] : undefined;
      },
      30_000,
      50,
    );
    const pids = await engineProcesses(port, "SSH0", "otherhost");
    assert.equal(
      pids.length,
      1,
      `engine processes of otherhost: ${pids.map((p) => argvOf(p)?.join(" ")).join("\n")}`,
    );
    Deno.kill(pids[0]!, "SIGKILL");
    const t0 = performance.now();
    await pollUntil(
      `task process ${victimTask.pid} gone`,
      () => argvOf(victimTask.pid)?.[0] !== "sleep",
      5_000,
      50,
    )
      .catch(() => assert.fail(`the killed engine's task (pid ${victimTask.pid}) still runs 5 s later`));
    const reaped = (performance.now() - t0) / 1000;
    const r = await finish(drv, 60_000);
    const rows = allTaskRows(r, pp, 8, `one status line per task id\n${show(r)}`);
    assert.ok(rows.every((x) => x.rc === 0), JSON.stringify(rows.map((x) => x.fields)));
    for (const id of range(8)) {
      assert.equal(readOr(`${d.path}/done_${id}`), "done\n", `task ${id} did not complete exactly once`);
    }
    const log = Deno.readTextFileSync(`${pp}_driver.log`);
    assert.match(log, /runs again \(attempt 1/, "the driver log does not mention the second attempt");
    assert.ok(reaped < 5, `task reaped after ${reaped.toFixed(1)} s`);
    assert.deepEqual(await leftoverSleepers(marker, 1_000), [], "a long task survived");
  } finally {
    await cleanUpKilledRun(drv, marker, port);
  }
});

Deno.test({
  name: "ssh: a SIGKILLed engine's task that ignores SIGTERM is gone before its re-queued copy starts",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_overlap_");
  const pp = `${d.path}/run`;
  // The first task that runs on otherhost ignores SIGTERM and stamps the time every 50 ms until it
  // is killed for good; each task's (re-)run stamps when it starts. The two must never overlap.
  const task =
    `if [ "$(echo $SSH_CONNECTION | cut -d' ' -f3)" = 127.0.0.2 ] && mkdir long 2>/dev/null; then ` +
    `echo $DISBATCH_TASKID > victim; trap '' TERM; while :; do date +%s.%N >> alive; sleep 0.05; done; fi; ` +
    `date +%s.%N > copy_$DISBATCH_TASKID; sleep 0.5`;
  // Enough tasks that localhost cannot run them all (6 s) before otherhost's engine has joined, even
  // when ssh is slow under load.
  writeText(d.path, "T", `${task}\n`.repeat(12));
  const drv = start(["-s", "localhost:1,otherhost:1", "-p", pp, "T"], { cwd: d.path });
  let port = 0;
  try {
    port = await driverPort(pp);
    await pollUntil(
      "the original to stamp",
      () => (readOr(`${d.path}/alive`) ?? "").split("\n").length > 3,
      30_000,
    );
    const pids = await engineProcesses(port, "SSH0", "otherhost");
    assert.equal(pids.length, 1);
    Deno.kill(pids[0]!, "SIGKILL");
    const r = await finish(drv, 60_000);
    assert.equal(r.code, 0, show(r));
    const alive = (readOr(`${d.path}/alive`) ?? "").trim().split("\n").map(Number);
    const victim = (readOr(`${d.path}/victim`) ?? "").trim();
    const copy = Number((readOr(`${d.path}/copy_${victim}`) ?? "").trim());
    assert.ok(copy > 0, "the copy ran");
    const last = Math.max(...alive);
    assert.ok(last < copy, `the original stamped ${(last - copy).toFixed(2)} s after its copy started`);
  } finally {
    await cleanUpKilledRun(drv, "none", port);
  }
});

Deno.test({
  name:
    "ssh: driver killed with SIGKILL, --driver-grace 3: engines on n1 and n2 kill their tasks within 15 s",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_driverkill_");
  const pp = `${d.path}/run`;
  const marker = uniqueSleep(30);
  writeText(d.path, "T", `sleep ${marker}\n`.repeat(4));
  const drv = start(["-s", "n1:1,n2:1", "--driver-grace", "3", "-p", pp, "T"], { cwd: d.path });
  let port = 0;
  try {
    port = await driverPort(pp);
    await pollUntil("a sleep on n1 and on n2", async () => (await sleepers(marker)).length >= 2, 30_000, 100);
    assert.equal((await remoteSleepers("n1", marker)).length, 1, "ssh n1 pgrep");
    assert.equal((await remoteSleepers("n2", marker)).length, 1, "ssh n2 pgrep");
    drv.child.kill("SIGKILL");
    const t0 = performance.now();
    const r = await drv.done;
    assert.equal(r.signal, "SIGKILL");
    const left = await waitRemoteGone(["n1", "n2"], marker, 15_000);
    const took = (performance.now() - t0) / 1000;
    assert.deepEqual(left, [], `tasks still running ${took.toFixed(1)} s after the driver was killed`);
    const engines = await pollUntil(
      "engines gone",
      async () => {
        const e = await engineProcesses(port, "SSH0");
        return e.length === 0 || performance.now() - t0 > 15_000 ? { e } : undefined;
      },
      20_000,
      200,
    );
    assert.deepEqual(engines.e, [], "engine processes still alive 15 s after the driver was killed");
  } finally {
    await cleanUpKilledRun(drv, marker, port);
  }
});

Deno.test({
  name: "ssh: a SIGKILLed driver restarted with --reattach on the login host picks up n1 and n2's engines",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_reattach_");
  const pp = `${d.path}/run`;
  const n = 10;
  writeText(d.path, "T", onceTasks(n, 2));
  const done = () => doneCounts(d.path, n);
  const drv = start(["-s", "n1:1,n2:1", "-p", pp, "T"], { cwd: d.path });
  let port = 0;
  try {
    port = await driverPort(pp);
    await pollUntil("two tasks done", () => done().filter((c) => c > 0).length >= 2 || undefined, 60_000);
    drv.child.kill("SIGKILL");
    await drv.done;
    const t0 = performance.now();
    const again = await sh("bash", [`${RIG_SCRIPTS}rig-on.sh`, "login", ...cliCommand(), "--reattach", pp], {
      cwd: d.path,
      timeoutMs: 120_000,
    });
    assert.equal(again.code, 0, showRan(again));
    assertOnceEach(d.path, n);
    const rows = taskRows(pp);
    assert.deepEqual(ids(rows), range(n));
    const log = Deno.readTextFileSync(`${pp}_driver.log`);
    const back = [...log.matchAll(/Engine (\d+) on (n1|n2) reconnected from/g)].map((m) => m[2]).sort();
    assert.deepEqual(back, ["n1", "n2"], log);
    assert.match(log, /Re-attaching to run \S+ \(pid \d+ on login/);
    console.log(`re-attached on login; restart to the end ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    await killAndWait(drv);
    if (port) { for (const pid of await engineProcesses(port, "SSH0")) killPid(pid); }
  }
});

// ---------------------------------------------------------------------------------------------
// strangers on the driver port

/** Read from `conn` until EOF or error; true when the peer closed it within `ms`. */
async function closedByPeer(conn: Deno.Conn, ms: number): Promise<{ closed: boolean; bytes: Uint8Array }> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  const deadline = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, ms);
  let closed = false;
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) {
        closed = true;
        break;
      }
      chunks.push(buf.slice(0, n));
    }
  } catch (e) {
    // reset by peer counts as closed by the driver; our own close (timeout) as not
    closed = !(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted);
  }
  clearTimeout(deadline);
  try {
    conn.close();
  } catch { /* closed */ }
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) all.set(c, off), off += c.length;
  return { closed, bytes: all };
}

/** Decode every length-prefixed JSON frame in `bytes`. */
function frames(bytes: Uint8Array): { kind: string; [k: string]: unknown }[] {
  const out: { kind: string }[] = [];
  let off = 0;
  while (bytes.length - off >= 4) {
    const n = new DataView(bytes.buffer, bytes.byteOffset + off, 4).getUint32(0);
    if (bytes.length - off - 4 < n) break;
    out.push(JSON.parse(new TextDecoder().decode(bytes.subarray(off + 4, off + 4 + n))));
    off += 4 + n;
  }
  return out;
}

function frame(obj: unknown): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(obj));
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** Read one complete frame (the driver's challenge). */
async function readFrame(conn: Deno.Conn, ms: number): Promise<{ kind: string; [k: string]: unknown }> {
  let acc = new Uint8Array(0);
  const buf = new Uint8Array(4096);
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const n = await conn.read(buf);
    if (n === null) throw new Error("connection closed before the first frame");
    const next = new Uint8Array(acc.length + n);
    next.set(acc), next.set(buf.subarray(0, n), acc.length);
    acc = next;
    const f = frames(acc);
    if (f.length) return f[0]!;
  }
  throw new Error("no frame in time");
}

Deno.test({
  name:
    "ssh: strangers on the driver port (garbage, a hello with a wrong mac) are rejected; the run finishes",
  ignore: IGNORE,
}, async () => {
  await using d = await sharedDir("disbatch_ssh_stranger_");
  const pp = `${d.path}/run`;
  writeText(d.path, "T", "sleep 0.5; hostname\n".repeat(8));
  const drv = start(["-s", "otherhost:2", "-p", pp, "T"], { cwd: d.path });
  const conns: Deno.Conn[] = [];
  try {
    const port = await driverPort(pp);
    const connect = async () => {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(c);
      return c;
    };
    // 1. random bytes (first byte 0xff: not a plausible frame length)
    const g = await connect();
    const junk = crypto.getRandomValues(new Uint8Array(200));
    junk[0] = 0xff;
    await g.write(junk);
    // 2. a well-framed body of random bytes (not UTF-8 JSON)
    const g2 = await connect();
    const body = crypto.getRandomValues(new Uint8Array(64));
    body[0] = 0xff; // never valid UTF-8
    const f2 = new Uint8Array(4 + body.length);
    new DataView(f2.buffer).setUint32(0, body.length);
    f2.set(body, 4);
    await g2.write(f2);
    // 3. a proper hello answering the challenge, with a wrong mac
    const h = await connect();
    const challenge = await readFrame(h, 10_000);
    assert.equal(challenge.kind, "challenge", JSON.stringify(challenge));
    await h.write(frame({
      kind: "hello",
      version: challenge.version,
      role: "engine",
      mac: "00".repeat(32),
      nonce: crypto.randomUUID(),
      host: "evilhost",
      pid: 4242,
      context: 0,
      slots: 8,
      coresPerSlot: 1,
    }));
    const [rg, rg2, rh] = await Promise.all([
      closedByPeer(g, 15_000),
      closedByPeer(g2, 15_000),
      closedByPeer(h, 15_000),
    ]);
    assert.ok(rg.closed, "the driver kept the garbage connection open");
    assert.ok(rg2.closed, "the driver kept the bad-frame connection open");
    assert.ok(rh.closed, "the driver kept the wrong-mac connection open");
    const answers = frames(rh.bytes).map((m) => m.kind);
    assert.ok(!answers.includes("welcome"), `wrong mac was welcomed: ${answers}`);
    assert.ok(!answers.includes("tasks"), `wrong mac was given tasks: ${answers}`);

    const r = await finish(drv, 60_000);
    const rows = allTaskRows(r, pp, 8);
    assert.ok(
      rows.every((x) => x.rc === 0 && x.node === "otherhost"),
      JSON.stringify(rows.map((x) => x.fields)),
    );
    const log = Deno.readTextFileSync(`${pp}_driver.log`);
    const hits = log.split("\n").filter((l) => /Rejected|Dropped/.test(l));
    assert.ok(hits.length >= 1, `no Rejected/Dropped line in the driver log:\n${log}`);
    for (const [what, c] of [["garbage", g], ["bad frame", g2], ["wrong mac", h]] as const) {
      const local = `127.0.0.1:${(c.localAddr as Deno.NetAddr).port}`;
      assert.ok(
        hits.some((l) => l.includes(local)),
        `no Rejected/Dropped line for the ${what} stranger (${local}):\n${log}`,
      );
    }
    assert.ok(
      hits.some((l) => /wrong secret|auth/i.test(l)),
      `the wrong mac is not logged:\n${hits.join("\n")}`,
    );
    assert.ok(!/joined from evilhost/.test(log), "the stranger joined as an engine");
  } finally {
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await killAndWait(drv);
  }
});

/**
 * Runs whose tasks go through the task launcher (and runs on a node without python3, where the
 * engine spawns each task itself): the status file, the tasks' output counts and what each task
 * did are the same, and the engine log says which way tasks were started.
 */

import assert from "node:assert/strict";
import { outputWithin, runCli, spawnCli, statusFileIn, tempDir } from "../helpers/run_cli.ts";
import { doneCounts, readRows, show, writeText } from "./e2e_helpers.ts";
import { isLive } from "../helpers/spawn_cases.ts";

function engineLog(dir: string): string {
  return [...Deno.readDirSync(dir)].filter((e) => /_engine_\d+\.log$/.test(e.name))
    .map((e) => Deno.readTextFileSync(`${dir}/${e.name}`)).join("");
}

/** The first task waits for the launcher to be ready; the rest print, fail, die and count themselves. */
function tasks(n: number): string {
  const lines = ["sleep 1.5; echo ran > done_0"];
  for (let i = 1; i < n; i++) {
    lines.push(
      i % 10 === 3
        ? `echo ran >> done_${i}; kill -TERM $$`
        : i % 10 === 7
        ? `echo ran >> done_${i}; printf '%060d' ${i} >&2; exit ${i % 256}`
        : `echo ran >> done_${i}; printf 'task %d %s\\n' $DISBATCH_TASKID "$(ps -o pgid= $$ | tr -d ' ')"`,
    );
  }
  return lines.join("\n") + "\n";
}

function check(dir: string, n: number): void {
  const rows = readRows(statusFileIn(dir)).filter((r) => r.id >= 0);
  assert.equal(rows.length, n);
  assert.deepEqual(doneCounts(dir, n), Array(n).fill(1), "each task ran once");
  for (const r of rows) {
    if (r.id === 0) continue;
    if (r.id % 10 === 3) assert.equal(r.rc, -15, `task ${r.id} died of SIGTERM`);
    else if (r.id % 10 === 7) {
      assert.equal(r.rc, r.id % 256);
      assert.equal(r.errBytes, 60);
      const text = String(r.id).padStart(60, "0");
      assert.equal(r.errSnip, `'${text.slice(0, 40)}...${text.slice(40)}'`);
    } else {
      assert.equal(r.rc, 0);
      assert.equal(r.outSnip, `'task ${r.id} ${r.pid}\\n'`, "the task leads its own process group");
      assert.equal(r.outBytes, `task ${r.id} ${r.pid}\n`.length);
    }
  }
}

Deno.test("launcher run: 40 tasks at -s localhost:2 through the launcher, each once, exact codes and output", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const n = 40;
  const taskFile = writeText(dir, "Tasks", tasks(n));
  const r = await runCli(["-s", "localhost:2", taskFile], { cwd: dir });
  assert.equal(r.code, 0, show(r));
  check(dir, n);
  const log = engineLog(dir);
  assert.match(log, /task launcher ready \(\S*python\S* [\d.]+, pid \d+; posix_spawn through ctypes\)/);
  assert.match(log, /launcher CPU/);
});

Deno.test("launcher run: with DISBATCH_LAUNCHER_CTYPES=0 the launcher uses os.posix_spawn, with the same results", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const n = 30;
  const taskFile = writeText(dir, "Tasks", tasks(n));
  const r = await runCli(["-s", "localhost:2", taskFile], {
    cwd: dir,
    env: { DISBATCH_LAUNCHER: "1", DISBATCH_LAUNCHER_CTYPES: "0" },
  });
  assert.equal(r.code, 0, show(r));
  check(dir, n);
  assert.match(engineLog(dir), /task launcher ready .*; os\.posix_spawn \(DISBATCH_LAUNCHER_CTYPES=0\)\)/);
});

Deno.test("launcher run: without python3 the engine says so and spawns each task itself, with the same results", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const n = 20;
  const taskFile = writeText(dir, "Tasks", tasks(n));
  // A PATH with the tools tasks and the engine need, and no python3.
  const bin = `${dir}/bin`;
  Deno.mkdirSync(bin);
  for (const tool of ["ps", "tr", "mkfifo", "setsid", "sleep", "hostname"]) {
    for (const d of ["/usr/bin", "/bin", "/usr/sbin"]) {
      try {
        Deno.symlinkSync(Deno.realPathSync(`${d}/${tool}`), `${bin}/${tool}`);
        break;
      } catch {
        // not there
      }
    }
  }
  const r = await runCli(["-s", "localhost:2", taskFile], { cwd: dir, env: { PATH: bin } });
  assert.equal(r.code, 0, show(r));
  check(dir, n);
  assert.match(engineLog(dir), /no task launcher \(python3: .*\); the engine spawns each task itself/);
  assert.match(
    engineLog(dir),
    /Tasks the engine starts itself \(without a task launcher, or before it is ready\): posix_spawn through the C library/,
  );
});

Deno.test("launcher run: the engine's own ways (posix_spawn, and Deno.Command where it is turned off) give the same results", async () => {
  for (
    const [env, way] of [
      [{ DISBATCH_LAUNCHER: "0" }, "posix_spawn through the C library"],
      [{ DISBATCH_LAUNCHER: "0", DISBATCH_POSIX_SPAWN: "0" }, "setsid through Deno.Command"],
    ] as const
  ) {
    await using tmp = await tempDir();
    const dir = tmp.path;
    const n = 30;
    const taskFile = writeText(dir, "Tasks", tasks(n));
    const r = await runCli(["-s", "localhost:2", taskFile], { cwd: dir, env });
    assert.equal(r.code, 0, show(r));
    check(dir, n);
    const log = engineLog(dir);
    assert.ok(
      log.includes(`Tasks the engine starts itself (without a task launcher, or before it is ready): ${way}`),
      log,
    );
    assert.doesNotMatch(log, /task launcher ready/);
  }
});

Deno.test("launcher run: every task through the launcher's queue gets its own slot's variables, each once, never more than the slots at once", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const n = 120;
  const lines = [];
  for (let i = 0; i < n; i++) {
    lines.push(`echo ran >> done_${i}; echo "$DISBATCH_CYLINDER_RANK $GPU"; sleep 0.0${i % 4}`);
  }
  const taskFile = writeText(dir, "Tasks", lines.join("\n") + "\n");
  // DISBATCH_LAUNCHER=1: no task is started by the engine itself, so every one goes through the queue.
  const r = await runCli(["-s", "localhost:3", "-E", "GPU", taskFile], {
    cwd: dir,
    env: { GPU: "g0,g1,g2", DISBATCH_LAUNCHER: "1" },
  });
  assert.equal(r.code, 0, show(r));
  const rows = readRows(statusFileIn(dir)).filter((x) => x.id >= 0);
  assert.equal(rows.length, n);
  assert.deepEqual(doneCounts(dir, n), Array(n).fill(1), "each task ran once");
  for (const x of rows) assert.match(x.outSnip, /^'([012]) g\1\\n'$/, `task ${x.id}: ${x.outSnip}`);
  const edges = rows.flatMap((x) => [[x.start, 1], [x.end, -1]] as [number, number][])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, now += d);
  assert.ok(most <= 3, `at most 3 tasks at once, saw ${most}`);
  assert.doesNotMatch(engineLog(dir), /spawns each task itself/);
});

Deno.test("launcher run: --fail-fast with tasks queued in the launcher: it stops at once, nothing left running, none twice", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  // This run's tasks, told apart from other tests' by their command line.
  const mark = `failfast_${crypto.randomUUID().slice(0, 8)}`;
  const n = 300;
  const lines = [];
  // Tasks this short and all succeeding: the engine is handed several per slot, which wait in the
  // launcher's queue when task 150 fails (the engine log says how many were asked back).
  for (let i = 0; i < n; i++) {
    lines.push(i === 150 ? "echo ran >> done_150; exit 3" : `echo ran >> done_${i}; : ${mark}`);
  }
  const taskFile = writeText(dir, "Tasks", lines.join("\n") + "\n");
  const r = await runCli(["-s", "localhost:2", "-f", taskFile], {
    cwd: dir,
    env: { DISBATCH_LAUNCHER: "1" },
  });
  assert.equal(r.code, 1, show(r));
  const counts = doneCounts(dir, n);
  assert.ok(counts.every((c) => c <= 1), "no task ran twice");
  assert.equal(counts[150], 1);
  const ran = counts.filter((c) => c === 1).length;
  assert.ok(ran < n, `the run stopped early (${ran} of ${n} ran)`);
  const rows = readRows(statusFileIn(dir)).filter((x) => x.id >= 0);
  const recorded = new Set(rows.map((x) => x.id));
  // What ran is recorded (a task killed as it started may be recorded before it wrote anything);
  // what was still queued never ran.
  counts.forEach((c, id) => c && assert.ok(recorded.has(id), `task ${id} ran and is recorded`));
  for (const x of rows) if (x.rc === 0) assert.equal(counts[x.id], 1, `task ${x.id} succeeded once`);
  // As disBatch: once the failure has ended, no task starts, although slots and queued tasks wait.
  const failure = rows.find((x) => x.id === 150)!;
  const late = rows.filter((x) => x.start > failure.end).map((x) =>
    `${x.id} at +${(x.start - failure.end).toFixed(4)} s`
  );
  assert.deepEqual(late, [], "tasks started after the failure");
  const orphans = new Deno.Command("pgrep", { args: ["-f", mark] }).outputSync();
  assert.equal(new TextDecoder().decode(orphans.stdout).trim(), "", "no task left running");
});

/** Live processes (not zombies) whose command line holds `needle`. */
function livePids(needle: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (!isLive(Number(e.name))) continue;
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(needle)) out.push(Number(e.name));
    } catch {
      // gone
    }
  }
  return out;
}

/**
 * Kill the engine of a run whose two tasks it started itself, then check that the tasks died with it,
 * the run finished (the engine started again runs them at once) and nothing is left in `TMPDIR`.
 * @param writableTmp false: `TMPDIR` does not exist, so the engine has no files (no posix_spawn, no
 *   launcher, no list file: the reaper hears of the groups on its stdin)
 */
async function killEngineMidRun(writableTmp: boolean): Promise<void> {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const scratch = `${dir}/tmp`;
  if (writableTmp) Deno.mkdirSync(scratch);
  // Each task runs long the first time only: the engine started again after the kill finishes the run.
  const tag = `engine-kill-${crypto.randomUUID().slice(0, 8)}`;
  const lines = [0, 1].map((i) => `[ -e ran_${i} ] && exit 0; touch ran_${i}; exec -a ${tag} sleep 60`);
  const taskFile = writeText(dir, "Tasks", lines.join("\n") + "\n");
  const child = spawnCli(["-s", "localhost:2", taskFile], {
    cwd: dir,
    env: { DISBATCH_LAUNCHER: "0", TMPDIR: scratch },
  });
  try {
    // Until both run their sleep: a bash that has not exec'd yet (and its fork for `touch`) bears the tag too.
    for (let i = 0; i < 300 && livePids(tag).length !== 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(livePids(tag).length, 2, "both tasks run");
    const engines = livePids("--engine").filter((pid) => {
      try {
        return Deno.readLinkSync(`/proc/${pid}/cwd`) === Deno.realPathSync(dir);
      } catch {
        return false;
      }
    });
    assert.equal(engines.length, 1, "one engine in the run's directory");
    if (writableTmp) {
      assert.ok([...Deno.readDirSync(scratch)].some((e) => e.name.startsWith("disbatch-tasks-")));
    }
    Deno.kill(engines[0]!, "SIGKILL");
    const out = await outputWithin(child, 60_000);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.deepEqual(livePids(tag), [], "the tasks of the killed engine were killed");
    const way = writableTmp ? "posix_spawn through the C library" : "setsid through Deno.Command";
    assert.ok(engineLog(dir).includes(way), engineLog(dir));
    if (writableTmp) {
      let left: string[] = [];
      for (let i = 0; i < 50; i++) {
        // Ours only: a compiled binary keeps a code cache there too (`deno-compile-*`).
        left = [...Deno.readDirSync(scratch)].map((e) => e.name).filter((n) => n.startsWith("disbatch-"));
        if (!left.length) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(left, [], "no task output directory or process-group list left behind");
    }
    const rows = readRows(statusFileIn(dir)).filter((r) => r.id >= 0);
    assert.deepEqual(rows.map((r) => r.rc).sort(), [0, 0], "both ran again and succeeded");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // ended
    }
    for (const pid of livePids(tag)) Deno.kill(pid, "SIGKILL");
  }
}

Deno.test("launcher run: an engine killed outright while running tasks it started itself leaves no task and no file behind", async () => {
  await killEngineMidRun(true);
});

Deno.test("launcher run: without a writable TMPDIR, an engine killed outright still leaves no task behind", async () => {
  await killEngineMidRun(false);
});

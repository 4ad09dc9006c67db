/**
 * Runs whose tasks go through the task launcher (and runs on a node without python3, where the
 * engine spawns each task itself): the status file, the tasks' output counts and what each task
 * did are the same, and the engine log says which way tasks were started.
 */

import assert from "node:assert/strict";
import { runCli, statusFileIn, tempDir } from "../helpers/run_cli.ts";
import { doneCounts, readRows, show, writeText } from "./e2e_helpers.ts";

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
  assert.match(log, /task launcher ready \(python [\d.]+/);
  assert.match(log, /launcher CPU/);
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
});

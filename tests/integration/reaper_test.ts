/**
 * The reaper companion with real processes: the engine's list of task groups (a file it appends to,
 * written anew once mostly stale) is what the reaper kills when the engine's side ends, and it
 * removes the list and the engine's output directory afterwards.
 */
import assert from "node:assert/strict";
import { Reaper } from "../../adapters/process.ts";
import { isLive as alive } from "../helpers/spawn_cases.ts";

/** A process leading a session and group of its own (util-linux `setsid` execs it: its pid is the group). */
function groupLeader(): Deno.ChildProcess {
  return new Deno.Command("setsid", { args: ["sleep", "60"], stdin: "null", stdout: "null", stderr: "null" })
    .spawn();
}

async function until(what: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (what()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return what();
}

/** Let the reaper's microtask write what was queued. */
const turn = () => new Promise((r) => setTimeout(r, 0));

Deno.test("reaper: after thousands of tasks (the list written anew), the engine's end kills exactly the groups still listed and cleans up", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "disbatch-reaper-test-" });
  const outputs = `${dir}/outputs`;
  Deno.mkdirSync(outputs);
  const listed = groupLeader();
  const forgotten = groupLeader();
  try {
    const reaper = new Reaper(30, outputs, dir);
    const list = [...Deno.readDirSync(dir)].find((e) => e.name.startsWith("disbatch-groups-"))!.name;
    reaper.add(listed.pid);
    reaper.add(forgotten.pid);
    await turn();
    // 20,000 short tasks come and go: far more than 64 KiB of lines, so the list is written anew.
    for (let i = 0; i < 20000; i++) {
      reaper.add(4_000_000 + i);
      reaper.remove(4_000_000 + i);
      if (i % 100 === 0) await turn();
    }
    reaper.remove(forgotten.pid);
    await turn();
    const lines = Deno.readTextFileSync(`${dir}/${list}`).trim().split("\n");
    assert.ok(lines.length < 5000, `the list was written anew (${lines.length} lines)`);
    const live = new Set<number>();
    for (const l of lines) l[0] === "+" ? live.add(Number(l.slice(1))) : live.delete(Number(l.slice(1)));
    assert.deepEqual([...live], [listed.pid], "the list holds exactly the running group");
    reaper.close();
    assert.ok(await until(() => !alive(listed.pid), 5000), "the listed group was killed");
    assert.ok(alive(forgotten.pid), "a group the engine was done with is left alone");
    assert.ok(
      await until(() => [...Deno.readDirSync(dir)].length === 0, 5000),
      `the list and the output directory were removed: ${[...Deno.readDirSync(dir)].map((e) => e.name)}`,
    );
  } finally {
    for (const c of [listed, forgotten]) {
      try {
        c.kill("SIGKILL");
      } catch {
        // gone
      }
      await c.status;
    }
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("reaper: an engine that ends with nothing running leaves no list behind", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "disbatch-reaper-test-" });
  try {
    const reaper = new Reaper(30, undefined, dir);
    reaper.add(4_100_000);
    reaper.remove(4_100_000);
    await turn();
    reaper.close();
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

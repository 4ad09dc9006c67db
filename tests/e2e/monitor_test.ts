// deno-lint-ignore-file no-console
/**
 * `<run>_dbUtil.sh --mon` in a REAL terminal (tmux): a `-S` run with two contexts of one engine
 * each, the monitor lists both, `j E y` soft-stops the second engine, `q` quits and leaves the
 * terminal as it was; a monitor open when the driver exits says the run is over; one started
 * after says it cannot contact the driver and exits 1.
 *
 * Needs tmux (`apt-get install -y tmux`): without it the test fails saying so, unless
 * `DISBATCH_E2E_SKIP` names `tmux` (see tests/helpers/gates.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { spawnCli, tempDir } from "../helpers/run_cli.ts";
import { gate } from "../helpers/gates.ts";

const dec = new TextDecoder();
/** A tmux server of our own, so that the user's sessions are never touched. */
const SOCKET = `disbatch-monitor-test-${Deno.pid}`;

async function tmux(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("tmux", { args: ["-L", SOCKET, ...args], stdin: "null" }).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const IGNORE = await gate("tmux");

/** Poll `probe` until it returns a value, or fail with `what` and the last state seen. */
async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  o: { timeoutMs?: number; last?: () => string | Promise<string> } = {},
): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}${o.last ? `; last seen:\n${await o.last()}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function q(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Start `command` in a detached 120x30 session; the shell stays after it for us to read. */
async function session(name: string, command: string): Promise<void> {
  const modes =
    "stty -a | tr ';' ' ' | tr -s ' ' '\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '";
  const script = `${command}; echo "monitor exited $?"; echo "stty: $(${modes})."; exec sleep 600`;
  const r = await tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "30", `sh -c ${q(script)}`);
  assert.equal(r.code, 0, `tmux new-session: ${r.stderr}`);
}

async function screen(name: string): Promise<string> {
  return (await tmux("capture-pane", "-p", "-t", name)).stdout;
}

async function keys(name: string, ...k: string[]): Promise<void> {
  const r = await tmux("send-keys", "-t", name, ...k);
  assert.equal(r.code, 0, `tmux send-keys: ${r.stderr}`);
}

async function screenMatching(name: string, what: string, re: RegExp, timeoutMs = 30_000): Promise<string> {
  return await waitFor(what, async () => {
    const s = await screen(name);
    return re.test(s) ? s : undefined;
  }, { timeoutMs, last: () => screen(name) });
}

function readOr(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

Deno.test({
  name: "dbUtil.sh --mon shows the engines, soft-stops one, quits cleanly and sees the run end",
  ignore: IGNORE,
  sanitizeResources: false, // tmux and the run's processes are ended by hand in finally
  sanitizeOps: false,
}, async () => {
  await using dir = await tempDir("disbatch_mon_");
  const run = `${dir.path}/run`;
  const dbUtil = `${run}_dbUtil.sh`;
  const log = `${run}_driver.log`;
  Deno.writeTextFileSync(`${dir.path}/Tasks`, "sleep 1\n".repeat(200));
  const driver = spawnCli(["-S", "-p", run, "Tasks"], { cwd: dir.path });
  const driverOut = driver.output();
  const contexts: Deno.ChildProcess[] = [];
  try {
    await waitFor("the run's dbUtil.sh", () => {
      try {
        return Deno.statSync(dbUtil).isFile;
      } catch {
        return undefined;
      }
    }, { last: () => readOr(log) });
    for (let i = 0; i < 2; i++) {
      contexts.push(
        new Deno.Command(dbUtil, {
          args: ["-s", "localhost:1"],
          cwd: dir.path,
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).spawn(),
      );
    }
    await waitFor("two engines to join", () => /Engine 1 joined/.test(readOr(log)) || undefined, {
      last: () => readOr(log),
    });

    // --- the monitor lists both engines; select the second, stop it softly ---
    await session("mon", `${q(dbUtil)} --mon`);
    const first = await screenMatching(
      "mon",
      "both engine rows",
      /^>\s+0 SSH\d\s+\S+\s+active .*\n\s+1 SSH\d\s+\S+\s+active /m,
    );
    assert.match(first, /Run: run\s+Status: running/);
    assert.match(first, / Rank Context Host\s+State\s+(Last\s+)?Avail Assigned Finished Failed/);
    assert.match(first, /Up\/Down select {2}E stop engine {2}C stop context {2}h help {2}q quit/);
    await keys("mon", "j");
    await screenMatching("mon", "the second engine selected", /^>\s+1 SSH\d/m);
    await keys("mon", "E");
    await screenMatching("mon", "the confirmation", /\| Stop engine 1 softly\? y\/n \|/);
    await keys("mon", "y");
    await waitFor(
      "the driver to log the stop",
      () => /Stopping engine 1 on \S+ \(soft\)/.test(readOr(log)) || undefined,
      {
        last: () => readOr(log),
      },
    );
    await screenMatching("mon", "the driver's answer", /^stopping engine 1$/m);
    // a soft stop lets the running `sleep 1` finish; then the engine leaves the list
    const stopped = await waitFor("engine 1 to leave the list", async () => {
      const s = await screen("mon");
      return /^>\s+0 SSH\d\s+\S+\s+active /m.test(s) && !/^\s*>?\s+1 SSH\d/m.test(s) ? s : undefined;
    }, { last: () => screen("mon") });
    assert.match(stopped, /^Slots 1 /m);

    // --- help, then q: the shell gets a cooked terminal and the normal screen back ---
    await keys("mon", "h");
    await screenMatching("mon", "the help", /\| disbatch monitor: keys/);
    await keys("mon", "x");
    await waitFor(
      "the help to close",
      async () => !/disbatch monitor: keys/.test(await screen("mon")) || undefined,
    );
    await keys("mon", "q");
    const after = await screenMatching("mon", "the monitor to exit", /monitor exited \d+\nstty: .*\./);
    assert.match(after, /monitor exited 0\n/);
    assert.match(after, /^stty: (icanon echo|echo icanon) \.$/m, "canonical mode and echo are back");
    assert.ok(!after.includes("Rank Context"), "the alternate screen is gone");
    assert.equal((await tmux("display", "-p", "-t", "mon", "#{alternate_on}")).stdout.trim(), "0");

    // --- a monitor open when the driver exits says so and waits for q ---
    await session("end", `${q(dbUtil)} --mon`);
    await screenMatching("end", "the second monitor", /^>\s+0 SSH\d/m);
    driver.kill("SIGTERM");
    const ended = await screenMatching(
      "end",
      "the end of the run",
      /\[the disbatch driver has exited: the run is over\]/,
    );
    assert.match(ended, /^q quit\s*$/m);
    assert.match(ended, /Status: over/);
    await keys("end", "q");
    await screenMatching("end", "the second monitor to exit", /monitor exited 0\n/);

    // --- after the run: cannot contact, exit 1 ---
    await driverOut;
    await session("late", `${q(dbUtil)} --mon`);
    const late = await screenMatching("late", "the late monitor to give up", /monitor exited \d+/);
    assert.match(
      late.replace(/\n/g, ""),
      /Cannot contact the disbatch driver .*The run ended \(exit status \d+\)\./,
    );
    assert.match(late, /monitor exited 1/);
  } finally {
    await tmux("kill-server");
    try {
      driver.kill("SIGKILL");
    } catch { /* gone */ }
    const out = await driverOut;
    for (const c of contexts) {
      const t = setTimeout(() => {
        try {
          c.kill("SIGKILL");
        } catch { /* gone */ }
      }, 15_000);
      await c.output();
      clearTimeout(t);
    }
    if (out.code !== 143 && out.code !== 128 + 15 && out.code !== 0) {
      console.log(`driver exit ${out.code}: ${dec.decode(out.stderr)}`);
    }
  }
});

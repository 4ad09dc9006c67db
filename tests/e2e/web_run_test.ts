/**
 * `disbatch -w` on a real run: the URL is printed and written to `<uid>_url`, the API answers 401
 * without the token and the live state with it, a headless Chromium renders the engine table and
 * the timeline of the running run, and the Stop button's API soft-stops an engine.
 *
 * @module
 */

import assert from "node:assert/strict";
import { headlessChromium, NO_CHROMIUM } from "../helpers/chromium.ts";
import { spawnCli, tempDir } from "../helpers/run_cli.ts";

async function waitFor<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function dumpDom(url: string): Promise<string> {
  const r = await headlessChromium(["--virtual-time-budget=4000", "--dump-dom", url]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

Deno.test({
  name: "disbatch -w: live dashboard of a running run, token required, Stop works",
  ignore: NO_CHROMIUM,
}, async () => {
  await using dir = await tempDir();
  const tasks = Array.from({ length: 12 }, (_, i) => `sleep 0.${i % 3 + 2}; echo t${i}`).join("\n") + "\n";
  // The last tasks wait for the test (60 s at most): the run cannot end before Stop, however slow the page is.
  const held = "for i in $(seq 600); do [ -e release ] && break; sleep 0.1; done\n";
  Deno.writeTextFileSync(`${dir.path}/Tasks`, tasks + held.repeat(8));
  const child = spawnCli(["-w", "-s", "localhost:2", "-p", `${dir.path}/run`, "Tasks"], { cwd: dir.path });
  try {
    const url = await waitFor("run_url", () => {
      try {
        return Deno.readTextFileSync(`${dir.path}/run_url`).trim() || undefined;
      } catch {
        return undefined;
      }
    });
    const u = new URL(url);
    assert.match(u.searchParams.get("token") ?? "", /^[0-9a-f]{16,}$/);
    const base = `http://127.0.0.1:${u.port}`;

    const denied = await fetch(`${base}/api/state`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const wrong = await fetch(`${base}/?token=not-the-token`);
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();

    const token = u.searchParams.get("token")!;
    const state = await waitFor("an engine in the state", async () => {
      const r = await fetch(`${base}/api/state`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200);
      const s = await r.json();
      return s.snapshot.engines.length > 0 && s.snapshot.finished > 0 ? s : undefined;
    });
    assert.equal(state.snapshot.uid, `${dir.path}/run`);
    assert.equal(state.snapshot.engines[0].slots, 2);

    const dom = await dumpDom(`${base}/?token=${token}`);
    assert.match(dom, /<table id="engine-table">/);
    assert.match(dom, /<tr><td class="num">0<\/td><td class="num">0<\/td><td class="mono">/);
    assert.match(dom, /<svg class="chart" id="timeline-svg"/);
    assert.ok((dom.match(/<rect class="task"/g)?.length ?? 0) >= 1, "timeline has task bars");

    const stop = await fetch(`${base}/api/stop?token=${token}`, {
      method: "POST",
      body: JSON.stringify({ engine: 0 }),
    });
    assert.equal(stop.status, 200);
    assert.match(await stop.text(), /stopping engine 0/);
    // The two running ones end; the queued ones do not start.
    await waitFor(
      "the stop in the engine's log",
      () =>
        [...Deno.readDirSync(dir.path)].some((e) =>
          e.name.endsWith("_engine_0.log") &&
          /Stopping: /.test(Deno.readTextFileSync(`${dir.path}/${e.name}`))
        ) || undefined,
    );
    Deno.writeTextFileSync(`${dir.path}/release`, "");
    const out = await child.output();
    // The only engine left softly with tasks queued: the run ends non-zero, listing what did not run.
    const err = new TextDecoder().decode(out.stderr);
    assert.notEqual(out.code, 0, err);
    assert.match(err, /No engine is left/);
    assert.match(Deno.readTextFileSync(`${dir.path}/run_driver.log`), /Stopping engine 0/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
  }
});

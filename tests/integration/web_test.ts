/**
 * The web dashboard: token checks and the JSON API over real HTTP, then the page rendered by a real
 * headless Chromium (Debian's /usr/bin/chromium, installed by .ci/run), which must draw the engine
 * table and the SVG timeline from /api/state with its own script.
 *
 * Screenshots of the dashboard and of a report go to a temporary directory; run with
 * `deno test -A tests/integration/web_test.ts -- --update` to refresh docs/dashboard.png and
 * docs/report.png.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type DashboardState, startDashboard } from "../../adapters/web.ts";
import { DashboardTracker } from "../../lib/dashboard.ts";
import { answerStop } from "../../lib/control.ts";
import { parseStatusText, renderReportHtml, summarize } from "../../lib/report.ts";
import type { StatusRecord } from "../../lib/types.ts";
import { headlessChromium, NO_CHROMIUM } from "../helpers/chromium.ts";
import { tempDir } from "../helpers/run_cli.ts";

const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url));
const DEMO_STATUS = fileURLToPath(new URL("../fixtures/status/demo_run_status.txt", import.meta.url));
const UPDATE = Deno.args.includes("--update");
const TOKEN = "t0k3n-web-test";
const NOW = 1795629000;

/** A small deterministic PRNG (mulberry32), so the fake run looks the same on every run. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function failure(id: number, rc: number, host: string, err: string): StatusRecord {
  return {
    flags: "R E ",
    taskId: id,
    line: id + 3,
    repeatIndex: -1,
    host,
    pid: 4000 + id,
    returnCode: rc,
    elapsed: 2.5,
    start: NOW - 60,
    end: NOW - 57.5,
    stdoutBytes: 14,
    stdoutSnippet: `step ${id} of 4\n`,
    stderrBytes: err.length,
    stderrSnippet: err,
    command: `python analyze.py --chunk ${id} --out results/${id}.h5`,
  };
}

/** A run 150 s in: 3 engines in 2 contexts, 12 slots, recent tasks, throughput, failures. */
function fakeState(): DashboardState {
  const rnd = prng(42);
  const startedAt = NOW - 150;
  const engines = [
    { rank: 0, context: 0, host: "n01", slots: 4 },
    { rank: 1, context: 0, host: "n02", slots: 4 },
    { rank: 2, context: 1, host: "gpu-c003", slots: 4 },
    { rank: 3, context: 1, host: "gpu-c004", slots: 2 },
  ];
  const timeline: DashboardState["timeline"] = [];
  let id = 0;
  for (const e of engines) {
    for (let slot = 0; slot < e.slots; slot++) {
      let t = startedAt + 1 + rnd() * 3;
      while (t < NOW) {
        const d = 4 + rnd() * 14;
        const end = t + d >= NOW ? 0 : t + d;
        const rc = end !== 0 && rnd() < 0.04 ? 1 + Math.floor(rnd() * 3) : 0;
        timeline.push({ engine: e.rank, slot, host: e.host, id: id++, start: t, end, rc });
        t += d + 0.3 + rnd() * 0.5;
      }
    }
  }
  const ended = timeline.filter((t) => t.end !== 0);
  const throughput = [];
  for (let t = startedAt; t <= NOW; t += 5) {
    const done = ended.filter((x) => x.end <= t);
    throughput.push({ t, finished: done.length, failed: done.filter((x) => x.rc !== 0).length });
  }
  const failed = ended.filter((t) => t.rc !== 0).length;
  return {
    snapshot: {
      finished: ended.length,
      failed,
      barriers: 1,
      skipped: 0,
      running: timeline.length - ended.length,
      queued: 143,
      slots: 14,
      engines: engines.map((e) => {
        const mine = timeline.filter((t) => t.engine === e.rank);
        const fin = mine.filter((t) => t.end !== 0);
        return {
          ...e,
          state: e.rank === 3 ? "stopping" : "active",
          running: mine.length - fin.length,
          assigned: mine.length,
          finished: fin.length,
          failed: fin.filter((t) => t.rc !== 0).length,
        };
      }),
      contexts: [
        { id: 0, label: "SSH0 n01,n02", taskLimit: 0, assigned: 0, engines: 2 },
        { id: 1, label: "SLURM 48213", taskLimit: 0, assigned: 0, engines: 2 },
      ],
      phase: "running",
      tasksEnded: true,
      retried: 2,
      timedOut: 1,
      quarantined: [{ host: "n03", reason: "3 tasks in a row failed there and then succeeded elsewhere" }],
      uid: "analysis_disBatch_261125093012_417",
      startedAt,
    },
    now: NOW,
    timeline,
    throughput,
    failures: [
      failure(17, 1, "n02", "Traceback (most recent call last):\n  KeyError: '<dataset /x17>'\n"),
      failure(40, 2, "n01", "error: cannot open results/40.h5 & retry <script>alert(1)</script>\n"),
    ],
    attempts: [failure(12, 1, "n03", "segfault\n")],
  };
}

async function chromium(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return await headlessChromium(["--hide-scrollbars", ...args]);
}

async function screenshot(url: string, png: string): Promise<void> {
  const r = await chromium([
    "--virtual-time-budget=3000",
    "--window-size=1280,900",
    `--screenshot=${png}`,
    url,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const bytes = await Deno.readFile(png);
  assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG file");
  assert.ok(bytes.length > 20_000, `screenshot ${png} looks empty (${bytes.length} bytes)`);
  if (UPDATE) {
    await Deno.mkdir(DOCS, { recursive: true });
    await Deno.copyFile(png, `${DOCS}${png.split("/").pop()}`);
  }
}

Deno.test("startDashboard() requires the token, serves the state and forwards stops", async () => {
  const state = fakeState();
  const stops: unknown[] = [];
  const web = startDashboard({
    hostname: "127.0.0.1",
    port: 0,
    token: TOKEN,
    state: () => state,
    // A run of engines 0 and 1 in context 0 (SSH0).
    stop: (t) => {
      stops.push(t);
      return answerStop(t, {
        engines: [{ rank: 0, context: 0 }, { rank: 1, context: 0 }],
        contexts: [{ id: 0, label: "SSH0" }],
      });
    },
  });
  try {
    assert.match(web.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=t0k3n-web-test$/);
    const base = web.url.replace(/\?.*$/, "");
    for (
      const [path, init] of [["", {}], ["api/state", {}], ["api/state?token=wrong", {}], ["api/stop", {
        method: "POST",
        body: '{"engine":1}',
      }], ["api/state", { headers: { authorization: "Bearer t0k3n-web-tesT" } }]] as const
    ) {
      const r = await fetch(base + path, init);
      assert.equal(r.status, 401, path);
      assert.match(await r.text(), /^Unauthorized: .*token/);
    }
    assert.deepEqual(stops, []);

    const byQuery = await fetch(`${base}api/state?token=${TOKEN}`);
    assert.equal(byQuery.status, 200);
    assert.match(byQuery.headers.get("content-type")!, /^application\/json/);
    assert.deepEqual(await byQuery.json(), JSON.parse(JSON.stringify(state)));
    const auth = { authorization: `Bearer ${TOKEN}` };
    const byHeader = await fetch(`${base}api/state`, { headers: auth });
    assert.equal((await byHeader.json()).snapshot.uid, state.snapshot.uid);

    const page = await fetch(web.url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<meta name="disbatch-token" content="t0k3n-web-test">/);

    const stop = (body: string) => fetch(`${base}api/stop`, { method: "POST", headers: auth, body });
    const r1 = await stop('{"engine":1}');
    assert.deepEqual([r1.status, await r1.text()], [200, "stopping engine 1\n"]);
    const r2 = await stop('{"context":0}');
    assert.deepEqual([r2.status, await r2.text()], [200, "stopping context SSH0 (0)\n"]);
    const r3 = await stop('{"engine":9}');
    assert.deepEqual([r3.status, await r3.text()], [404, "no engine 9\n"]);
    const r4 = await stop('{"context":3}');
    assert.deepEqual([r4.status, await r4.text()], [404, "no context 3\n"]);
    for (const bad of ["{}", '{"engine":-1}', '{"engine":1,"context":1}', "not json"]) {
      const r = await stop(bad);
      assert.equal(r.status, 400, bad);
      await r.body?.cancel();
    }
    assert.deepEqual(stops, [
      { kind: "engine", rank: 1 },
      { kind: "context", id: 0 },
      { kind: "engine", rank: 9 },
      { kind: "context", id: 3 },
    ]);
    const get = await fetch(`${base}api/stop`, { headers: auth });
    assert.equal(get.status, 405);
    await get.body?.cancel();
    const missing = await fetch(`${base}nope`, { headers: auth });
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await web.close();
  }
});

Deno.test({
  name: "dashboard page renders engines, timeline, throughput and failures in headless Chromium",
  ignore: NO_CHROMIUM,
}, async () => {
  const state = fakeState();
  const web = startDashboard({
    hostname: "127.0.0.1",
    port: 0,
    token: TOKEN,
    state: () => state,
    stop: (t) => ({ found: true, target: t, contexts: [], engines: [] }),
  });
  await using dir = await tempDir();
  try {
    const r = await chromium(["--virtual-time-budget=3000", "--dump-dom", web.url]);
    assert.equal(r.code, 0, r.stderr);
    const dom = r.stdout;
    assert.match(dom, /<h1 id="uid">analysis_disBatch_261125093012_417<\/h1>/);
    assert.match(dom, /<table id="engine-table">/);
    for (const e of state.snapshot.engines) {
      assert.match(
        dom,
        new RegExp(
          `<tr><td class="num">${e.rank}</td><td class="num">${e.context}</td><td class="mono">${e.host}</td>`,
        ),
      );
    }
    assert.match(dom, /data-engine="0">Stop engine<\/button>/);
    assert.match(dom, /data-context="1">Stop context<\/button>/);
    assert.doesNotMatch(dom, /data-engine="3"/, "no Stop button on a stopping engine");
    assert.match(dom, /<svg class="chart" id="timeline-svg"/);
    const bars = dom.match(/<rect class="task"/g)?.length ?? 0;
    assert.ok(bars >= 12, `timeline bars: ${bars}`);
    assert.match(dom, /<svg class="chart" id="throughput-svg"/);
    assert.match(dom, /<table id="failure-table">/);
    assert.match(dom, /retry &lt;script&gt;alert\(1\)&lt;\/script&gt;/, "snippets are escaped");
    assert.match(dom, /class="live"/, "the page says it is connected");
    assert.match(dom, /id="quarantined">quarantined: n03 \(3 tasks in a row failed there/);
    assert.match(dom, /2 attempt\(s\) run again · 1 stopped at their time limit/);
    assert.match(dom, /<tr class="attempt"><td class="num">12 <span class="pill">ran again<\/span>/);

    await screenshot(web.url, `${dir.path}/dashboard.png`);
  } finally {
    await web.close();
  }
});

Deno.test({ name: "report page screenshot in headless Chromium", ignore: NO_CHROMIUM }, async () => {
  await using dir = await tempDir();
  const { records } = parseStatusText(await Deno.readTextFile(DEMO_STATUS));
  const html = `${dir.path}/demo_report.html`;
  await Deno.writeTextFile(html, renderReportHtml(summarize(records), records, "demo_run"));
  await screenshot(`file://${html}`, `${dir.path}/report.png`);
});

Deno.test("DashboardTracker keeps running tasks, bounded history and the first failures", () => {
  const t = new DashboardTracker({ maxTimeline: 10, maxSamples: 8, maxFailures: 2 });
  const snap = fakeState().snapshot;
  for (let i = 0; i < 40; i++) {
    t.assigned(i % 2, `n${i % 2}`, i, 100 + i);
    if (i < 36) {
      t.finished(i % 2, { id: i, slot: 0, start: 100 + i, end: 100.5 + i, returnCode: i % 9 === 0 ? 1 : 0 });
    }
    t.sample(100 + i, i, 0);
  }
  t.record({ ...fakeState().failures[0]!, returnCode: 0 });
  for (const f of fakeState().failures.concat(fakeState().failures)) t.record(f);
  const s = t.state(snap, 140);
  const running = s.timeline.filter((e) => e.end === 0);
  assert.deepEqual(running.map((e) => [e.id, e.engine, e.slot]), [[36, 0, 0], [37, 1, 0], [38, 0, 1], [
    39,
    1,
    1,
  ]]);
  assert.equal(s.timeline.length - running.length, 10);
  assert.ok(s.throughput.length <= 8 && s.throughput.at(-1)!.t === 140, JSON.stringify(s.throughput));
  assert.equal(s.throughput[0]!.t, 100, "the first point is kept");
  assert.equal(s.failures.length, 2);
  t.engineGone(0);
  assert.deepEqual(t.state(snap, 141).timeline.filter((e) => e.end === 0).map((e) => e.id), [37, 39]);
});

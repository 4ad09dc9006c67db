import assert from "node:assert/strict";
import {
  ALLOC_DEFAULTS,
  type AllocAction,
  allocationNodesLine,
  allocationOverLine,
  AllocPolicy,
} from "../../lib/allocator.ts";
import {
  allocationsInLog,
  type LoggedAllocation,
  parseStatusText,
  percentile,
  quarantinedInLog,
  renderReportHtml,
  summarize,
} from "../../lib/report.ts";
import { histogramSvg, timelineSvg } from "../../lib/report_charts.ts";
import { formatStatusRecord } from "../../lib/status_record.ts";
import { escapeHtml, packLanes, visibleText } from "../../lib/svg.ts";
import type { StatusRecord } from "../../lib/types.ts";

const T0 = 1_796_000_000;
const FIXTURES = new URL("../fixtures/status/", import.meta.url);
const reference = Deno.readTextFileSync(new URL("reference_status.txt", FIXTURES));
const demo = Deno.readTextFileSync(new URL("demo_run_status.txt", FIXTURES));

function close(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-6, `${what}: ${actual} != ${expected}`);
}

function record(over: Partial<StatusRecord>): StatusRecord {
  return {
    flags: "    ",
    taskId: 0,
    line: 1,
    repeatIndex: -1,
    host: "vm",
    pid: 1,
    returnCode: 0,
    elapsed: 1,
    start: 100,
    end: 101,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    command: "true",
    ...over,
  };
}

Deno.test("parseStatusText() skips the header and blank lines and counts bad ones", () => {
  const { records, badLines } = parseStatusText(reference + "\nnot a status line\n");
  assert.equal(records.length, 14);
  assert.equal(badLines, 1);
});

Deno.test("summarize() counts every kind of line of the reference status file", () => {
  const s = summarize(parseStatusText(reference).records);
  assert.deepEqual(
    [
      s.tasks,
      s.succeeded,
      s.failed,
      s.killed,
      s.skipped,
      s.barriers,
      s.perEngine,
      s.perEngineFailed,
      s.zombies,
    ],
    [9, 5, 4, 1, 1, 2, 1, 0, 1],
  );
  assert.deepEqual(s.hosts, [
    { host: "n042", tasks: 1, failed: 1, busy: 2.5, failedAttempts: 0 },
    { host: "vm", tasks: 8, failed: 3, busy: 1.059, failedAttempts: 0 },
  ]);
  close(s.firstStart!, 1795621734.298, "first start (skipped lines excluded)");
  close(s.lastEnd!, 1795622200.034, "last end");
  close(s.wall, 465.736, "wall");
  close(s.taskTime, 3.559, "task time");
  close(s.throughput, 9 / 465.736, "throughput");
  close(s.concurrency, 3.559 / 465.736, "concurrency");
  close(s.duration?.min, 0, "min");
  close(s.duration?.median, 0.005, "median");
  close(s.duration?.p90, 1.013 + 0.2 * (2.5 - 1.013), "p90");
  close(s.duration?.max, 2.5, "max");
  close(s.duration?.mean, 3.559 / 9, "mean");
});

Deno.test("summarize() does not depend on line order or on the header line", () => {
  const { records } = parseStatusText(reference);
  const noHeader = parseStatusText(reference.split("\n").slice(1).join("\n")).records;
  assert.deepEqual(summarize([...records].reverse()), summarize(records));
  assert.deepEqual(summarize(noHeader), summarize(records));
});

Deno.test("summarize() on a real run spread over three hosts", () => {
  const s = summarize(parseStatusText(demo).records);
  assert.deepEqual([s.tasks, s.failed, s.barriers, s.perEngine], [90, 4, 1, 3]);
  assert.deepEqual(s.hosts.map((h) => [h.host, h.tasks, h.failed]), [["n01", 32, 1], ["n02", 30, 2], [
    "n03",
    28,
    1,
  ]]);
  assert.ok(s.concurrency > 5 && s.concurrency <= 6, `6 slots: ${s.concurrency}`);
});

Deno.test("summarize() of no task has no durations and no rates", () => {
  const s = summarize([record({ flags: "B    " }), record({ flags: "   S" })]);
  assert.deepEqual([s.tasks, s.barriers, s.skipped, s.duration, s.throughput], [0, 1, 1, null, 0]);
});

Deno.test("percentile() interpolates linearly", () => {
  for (
    const [values, q, expected] of [
      [[5], 0.9, 5],
      [[1, 2], 0.5, 1.5],
      [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9.1],
      [[0, 10], 0, 0],
      [[0, 10], 1, 10],
    ] as const
  ) close(percentile(values, q), expected, `${values} q=${q}`);
});

Deno.test("renderReportHtml() escapes every text from the status file", () => {
  const evil = record({
    flags: "R E ",
    returnCode: 7,
    host: `<img src=x onerror="alert(1)">`,
    stdoutBytes: 9,
    stdoutSnippet: "a\x1b[31m<b>\x00",
    stderrBytes: 30,
    stderrSnippet: "</pre><script>alert('x')</script>",
    command: `echo "<script>" & caf\udce9 'q'`,
  });
  const html = renderReportHtml(summarize([evil]), [evil], `<run "1">`);
  assert.doesNotMatch(html, /<script>|<img |<b>/);
  for (const raw of ["\x00", "\x1b", "\udce9"]) {
    assert.ok(!html.includes(raw), `raw ${JSON.stringify(raw)} in the page`);
  }
  assert.match(html, /<title>disBatch report: &lt;run &quot;1&quot;&gt;<\/title>/);
  assert.ok(html.includes(escapeHtml(`<img src=x onerror="alert(1)">`)));
  assert.ok(html.includes("a\\x1b[31m&lt;b&gt;\\x00"));
  assert.ok(html.includes("&lt;/pre&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
  assert.ok(html.includes("echo &quot;&lt;script&gt;&quot; &amp; caf\\xe9 &#39;q&#39;"));
  assert.doesNotMatch(html, /<script|src="http|href="http/i, "self-contained, no script");
});

Deno.test("renderReportHtml() lists the reference file's failures and draws its charts", () => {
  const { records } = parseStatusText(reference);
  const html = renderReportHtml(summarize(records), records, "ref");
  const rows = html.match(/<tr class="fail">/g) ?? [];
  assert.equal(rows.length, 4);
  assert.match(html, /syntax error near\.\.\./);
  assert.doesNotMatch(html, /[\udc80-\udcff]/u, "non-UTF-8 command bytes never written as lone surrogates");
  assert.match(html, /killed<\/span>/);
  assert.equal(html.match(/<svg class="chart"/g)?.length, 2, "timeline and histogram");
});

Deno.test("visibleText() shows control characters and escaped bytes", () => {
  for (
    const [input, expected] of [
      ["plain\ttext\n", "plain\ttext\n"],
      ["\x00\x07\x1b\x7f", "\\x00\\x07\\x1b\\x7f"],
      ["a\u2028b", "a\\u2028b"],
      ["\udcff\udc80", "\\xff\\x80"],
      ["😀 中文", "😀 中文"],
    ] as const
  ) assert.equal(visibleText(input), expected);
});

Deno.test("packLanes() uses the fewest lanes and never overlaps within a lane", () => {
  const cases: [{ start: number; end: number }[], number[], number][] = [
    [[], [], 0],
    [[{ start: 0, end: 1 }], [0], 1],
    [[{ start: 0, end: 1 }, { start: 1, end: 2 }], [0, 0], 1],
    [[{ start: 1, end: 2 }, { start: 0, end: 3 }], [1, 0], 2],
    [
      [{ start: 0, end: 10 }, { start: 1, end: 2 }, { start: 3, end: 4 }, { start: 2, end: 5 }],
      [0, 1, 2, 1],
      3,
    ],
    [[{ start: 5, end: 4 }, { start: 5, end: 5 }], [0, 0], 1],
  ];
  for (const [intervals, lane, lanes] of cases) {
    assert.deepEqual(packLanes(intervals), { lane, lanes }, JSON.stringify(intervals));
  }
  // Random intervals: lanes equal the largest number of intervals open at once.
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const iv = Array.from({ length: 400 }, () => {
    const start = Math.floor(rnd() * 1000);
    return { start, end: start + 1 + Math.floor(rnd() * 60) };
  });
  const { lane, lanes } = packLanes(iv);
  let most = 0;
  for (const p of iv) most = Math.max(most, iv.filter((q) => q.start <= p.start && p.start < q.end).length);
  assert.equal(lanes, most);
  for (let i = 0; i < iv.length; i++) {
    for (let j = i + 1; j < iv.length; j++) {
      if (lane[i] !== lane[j]) continue;
      assert.ok(iv[i]!.end <= iv[j]!.start || iv[j]!.end <= iv[i]!.start, `overlap in lane ${lane[i]}`);
    }
  }
});

Deno.test("timelineSvg() draws one row per lane of each host", () => {
  const { records } = parseStatusText(demo);
  const tasks = records.filter((r) => r.flags[3] === " " && r.flags[0] !== "B");
  const svg = timelineSvg(
    tasks.map((r) => ({ host: r.host, start: r.start, end: r.end, kind: "ok" as const, label: "" })),
    [],
  );
  for (const h of ["n01", "n02", "n03"]) {
    assert.match(svg, new RegExp(`${h}: \\d+ task\\(s\\) in 2 lane\\(s\\)`));
  }
  assert.equal(svg.match(/<rect class="t"/g)?.length, 90, "no merging at this scale");
});

Deno.test("report round trip: records still format to the fixture's lines", () => {
  // The report reads with parseStatusLine; make sure nothing was lost for the fixture we ship.
  const lines = demo.split("\n").filter((l) => l !== "");
  assert.deepEqual(parseStatusText(demo).records.map(formatStatusRecord), lines);
});

Deno.test("renderReportHtml() counts tasks killed by disbatch apart from failures", () => {
  const recs = [
    record({ taskId: 0, returnCode: 0 }),
    record({ taskId: 1, flags: "R E ", returnCode: 3 }),
    record({ taskId: 2, flags: "R  K", returnCode: -15 }),
    record({ taskId: 3, flags: "R  K", returnCode: -15 }),
  ];
  const html = renderReportHtml(summarize(recs), recs, "k");
  const cardValue = (name: string) =>
    new RegExp(`${name}</[^>]+>\\s*<[^>]+>([^<]+)<`).exec(html)?.[1]?.trim();
  assert.equal(cardValue("Failed"), "1", html.slice(0, 2000));
  assert.equal(cardValue("Killed"), "2");
});

Deno.test("histogramSvg() puts the labels of close markers one below the other", () => {
  const samples = Array.from({ length: 50 }, (_, i) => ({ seconds: 1 + i / 100, failed: false }));
  const svg = histogramSvg(samples, [{ label: "median", seconds: 1.25 }, { label: "p90", seconds: 1.26 }]);
  const ys = [...svg.matchAll(/<text x="[0-9.]+" y="([0-9.]+)"[^>]*paint-order="stroke">(median|p90)</g)]
    .map((m) => Number(m[1]));
  assert.equal(ys.length, 2, svg);
  assert.ok(Math.abs(ys[0]! - ys[1]!) >= 12, `labels overlap: y ${ys}`);
});

Deno.test("summarize() and the page count timeouts (flag T) and the attempts that ran again", () => {
  const line = (flags: string, id: number, host: string, rc: number) =>
    parseStatusText(
      `${flags}\t${id}\t${id + 1}\t-1\t${host}\t9\t${rc}\t1.000\t100.000\t101.000\t0\t''\t0\t''\tsleep 9`,
    )
      .records[0]!;
  const records = [line("R  T", 0, "a", -15), line("    ", 1, "b", 0)];
  const attempts = [line("R   ", 1, "a", 3), line("R  T", 0, "b", -15)];
  const log = "x WARNING Host a quarantined: 3 tasks in a row failed there and then succeeded elsewhere; " +
    "it gets no more tasks\nx WARNING Host a looks bad (y), but no other host can take its tasks\n";
  const s = summarize(records, attempts, quarantinedInLog(log));
  assert.deepEqual([s.tasks, s.failed, s.timedOut, s.attempts], [2, 1, 1, 2]);
  assert.deepEqual(s.quarantined, [{
    host: "a",
    reason: "3 tasks in a row failed there and then succeeded elsewhere",
  }]);
  assert.deepEqual(s.hosts.map((h) => [h.host, h.tasks, h.failedAttempts]), [["a", 1, 1], ["b", 1, 1]]);
  const html = renderReportHtml(s, records, "run", attempts);
  assert.match(html, /<div class="k">Timed out<\/div><div class="v">1<\/div>/);
  assert.match(html, /<h2>Attempts that ran again <span class="note">2 line\(s\)/);
  assert.match(html, /<span class="pill">timed out<\/span>/);
  assert.match(html, /\+1 retried/);
  assert.match(html, /a <span class="pill">quarantined<\/span>/);
});

Deno.test("allocationsInLog() reads the allocations of a --alloc run; the page lists them", () => {
  const log = [
    "2026-12-04 03:34:02,702 INFO Asking for allocation A1: 60 task(s) ready, room for 0",
    "2026-12-04 03:34:02,716 INFO Allocation A1 is Slurm job 75",
    "2026-12-04 03:34:03,087 INFO Allocation A1 is running until 2026-12-04T03:36:02.086Z",
    "2026-12-04 03:34:03,702 INFO Asking for allocation A2: 59 task(s) ready, room for 0",
    "2026-12-04 03:34:03,900 WARNING sbatch failed: Invalid partition; asking again in 5 s",
    "",
  ].join("\n");
  const a = allocationsInLog(log);
  assert.deepEqual(a, [
    {
      label: "A1",
      asked: "2026-12-04 03:34:02",
      jobId: "75",
      running: "2026-12-04 03:34:03",
      endsAt: "2026-12-04T03:36:02.086Z",
    },
    { label: "A2", asked: "2026-12-04 03:34:03" },
  ]);
  const html = renderReportHtml(summarize([], [], [], a), [], "run");
  assert.match(html, /<h2>Allocations <span class="note">2 asked for with --alloc/);
  assert.match(html, /<td>A2<\/td><td class="mono">—<\/td><td>2026-12-04 03:34:03<\/td><td>never ran<\/td>/);
});

Deno.test("allocationsInLog() and the page: each allocation's state, nodes, start and end", () => {
  // The lines as the allocator writes them (the policy's messages and the log lines of lib/allocator.ts).
  const p = new AllocPolicy({ ...ALLOC_DEFAULTS, maxAllocs: 4, backlog: 4, nodesPerAlloc: 2, maxNodes: 8 });
  const lines: string[] = [];
  const at = (t: number) =>
    `2026-12-04 03:${String(30 + Math.floor(t / 60)).padStart(2, "0")}:${
      String(t % 60).padStart(2, "0")
    },000`;
  const log = (t: number, m: string) => lines.push(`${at(t)} INFO ${m}`);
  const info = (t: number, acts: AllocAction[]) => {
    for (const a of acts) if (a.kind === "log") log(t, a.message);
  };
  for (let i = 0; i < 4; i++) info(0, p.decide(T0, { ready: 50, freeSlots: new Map(), over: false }));
  info(1, p.submitted("A1", "75", T0 + 1));
  info(1, p.submitted("A2", "76", T0 + 1));
  info(1, p.submitted("A3", "77", T0 + 1));
  p.submitFailed("A4", "Invalid partition", T0 + 1);
  const a = (label: string) => p.allocations.find((x) => x.label === label)!;
  log(1, allocationOverLine(a("A4")));
  p.started("A1", T0 + 2, T0 + 122);
  log(2, "Allocation A1 is running until 2026-12-04T03:32:02.000Z");
  p.observed("75", { state: "RUNNING", nodes: "n[1-2]", nodeCount: 2 }, T0 + 5);
  log(5, allocationNodesLine(a("A1")));
  p.started("A2", T0 + 6);
  log(6, "Allocation A2 is running");
  p.contextGone("A1", T0 + 90);
  log(90, allocationOverLine(a("A1")));
  p.close(T0 + 100);
  log(100, allocationOverLine(a("A2")));
  log(100, allocationOverLine(a("A3")));
  const found = allocationsInLog(lines.join("\n") + "\n");
  const s = summarize([], [], [], found);
  const cases: { label: string; want: Partial<LoggedAllocation>; row: RegExp }[] = [
    {
      label: "A1",
      want: {
        state: "ended",
        jobId: "75",
        nodesAsked: 2,
        nodeCount: 2,
        nodes: "n[1-2]",
        ended: "2026-12-04 03:31:30",
      },
      row:
        /<td>A1<\/td><td class="mono">75<\/td><td>2026-12-04 03:30:00<\/td><td>2026-12-04 03:30:02<\/td><td><span class="pill ended">ended<\/span><\/td><td class="mono">2 \(n\[1-2\]\)<\/td><td>2026-12-04 03:31:30 \(its engines finished\)<\/td><td>2026-12-04T03:32:02.000Z<\/td>/,
    },
    {
      label: "A2",
      want: { state: "ended", running: "2026-12-04 03:30:06", outcome: "ended with the run" },
      row:
        /<td>A2<\/td>.*<span class="pill ended">ended<\/span><\/td><td class="mono">2 asked<\/td><td>2026-12-04 03:31:40 \(ended with the run\)<\/td>/,
    },
    {
      label: "A3",
      want: { state: "cancelled", outcome: "cancelled at the end of the run" },
      row:
        /<td>A3<\/td>.*<td>never ran<\/td><td><span class="pill cancelled">cancelled<\/span><\/td><td class="mono">2 asked<\/td>/,
    },
    {
      label: "A4",
      want: { state: "failed", jobId: undefined, outcome: "not submitted: Invalid partition" },
      row:
        /<td>A4<\/td><td class="mono">—<\/td>.*<span class="pill failed">failed<\/span>.*\(not submitted: Invalid partition\)/,
    },
  ];
  const html = renderReportHtml(s, [], "run");
  for (const c of cases) {
    const got = s.allocations.find((x) => x.label === c.label);
    assert.ok(got, c.label);
    for (const [k, v] of Object.entries(c.want)) {
      assert.deepEqual(got[k as keyof LoggedAllocation], v, `${c.label}.${k}`);
    }
    assert.match(html, c.row, c.label);
  }
  assert.match(html, /<th>State<\/th><th>Nodes<\/th><th>Ended<\/th><th>Time limit \(UTC\)<\/th>/);
  // A log cut short (the driver still running, or killed): the last state it told.
  const cut = summarize([], [], [], allocationsInLog(lines.slice(0, 9).join("\n"))).allocations;
  assert.deepEqual(cut.map((x) => [x.label, x.state]), [
    ["A1", "running"],
    ["A2", "pending"],
    ["A3", "pending"],
    ["A4", "failed"],
  ]);
});

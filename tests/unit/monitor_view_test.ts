import assert from "node:assert/strict";
import type { Allocation } from "../../lib/allocator.ts";
import {
  decodeKeys,
  ENDED_MESSAGE,
  followSelection,
  HELP_LINES,
  type MonitorEngine,
  monitorEngines,
  monitorKey,
  type MonitorState,
  type MonitorUi,
  renderMonitor,
  visibleLength,
} from "../../lib/monitor_view.ts";

const REVERSE = "\x1b[7m";

function engine(rank: number, context: number, host: string, state = "active"): MonitorEngine {
  return {
    rank,
    context,
    host,
    slots: 2,
    state,
    running: 1,
    assigned: 5 + rank,
    finished: 4,
    failed: rank % 2,
  };
}

function run(over: Partial<MonitorState> = {}): MonitorState {
  return {
    uid: "/scratch/run/Tasks_disBatch_1",
    startedAt: 1000,
    finished: 10,
    failed: 1,
    barriers: 1,
    skipped: 2,
    running: 3,
    queued: 5,
    slots: 6,
    phase: "running",
    tasksEnded: true,
    retried: 0,
    timedOut: 0,
    quarantined: [],
    contexts: [
      { id: 0, label: "SSH0", taskLimit: 0, assigned: 11, engines: 2 },
      { id: 1, label: "J123456", taskLimit: 0, assigned: 7, engines: 1 },
    ],
    engines: [
      engine(0, 0, "n001"),
      engine(1, 0, "n002.cluster.example.org"),
      engine(2, 1, "gpu17", "stopping"),
      engine(3, 1, "n009", "gone"),
    ],
    ...over,
  };
}

const plain = (l: string) => l.replaceAll(REVERSE, "").replaceAll("\x1b[0m", "");

Deno.test("renderMonitor() draws header, progress, table and footer at 80x12", () => {
  const lines = renderMonitor(run(), { columns: 80, rows: 12, selected: 1, now: 1100 });
  assert.deepEqual(lines, [
    "Run: Tasks_disBatch_1   Status: running   Elapsed: 1m40s",
    "Slots 6   Running 3   Queued 5   Finished 10   Failed 1   Barrier 1   Skipped 2",
    "[#############################....................]  60%  12/20 tasks  ETA 1m20s",
    "",
    " Rank Context Host                     State    Avail Assigned Finished Failed",
    "    0 SSH0    n001                     active       1        5        4      0",
    `${REVERSE}>   1 SSH0    n002.cluster.example.org active       1        6        4      1  \x1b[0m`,
    "    2 J123456 gpu17                    stopping     1        7        4      0",
    "",
    "",
    "",
    "Up/Down select  E stop engine  C stop context  h help  q quit",
  ]);
});

Deno.test("renderMonitor() returns exactly rows lines, none wider than columns", () => {
  const many = run({
    engines: Array.from({ length: 40 }, (_, i) => engine(i, i % 2, `host-${i}.example.org`)),
  });
  for (const columns of [60, 61, 79, 80, 120, 200]) {
    for (const rows of [12, 13, 24, 30, 60]) {
      for (
        const extra of [{}, { help: true }, { dialog: "Stop engine 3 softly? y/n" }, { ended: ENDED_MESSAGE }]
      ) {
        for (const selected of [0, 7, 39, 99]) {
          const lines = renderMonitor(many, { columns, rows, selected, now: 2000, ...extra });
          const label = `${columns}x${rows} ${JSON.stringify(extra)} selected ${selected}`;
          assert.equal(lines.length, rows, label);
          for (const l of lines) assert.ok(visibleLength(l) <= columns, `${label}: ${JSON.stringify(l)}`);
        }
      }
    }
  }
});

Deno.test("renderMonitor() keeps the selected engine on screen when the list scrolls", () => {
  const many = run({ engines: Array.from({ length: 40 }, (_, i) => engine(i, 0, `h${i}`)) });
  for (const selected of [0, 5, 6, 20, 39]) {
    const lines = renderMonitor(many, { columns: 80, rows: 12, selected, now: 2000 });
    const marked = lines.filter((l) => l.startsWith(REVERSE));
    assert.equal(marked.length, 1);
    assert.match(plain(marked[0]!), new RegExp(`^>\\s+${selected} SSH0\\s+h${selected} `));
    assert.match(lines.at(-1)!, /of 40\)$/);
  }
});

Deno.test("renderMonitor() highlights only the selected row", () => {
  const lines = renderMonitor(run(), { columns: 100, rows: 20, selected: 2, now: 1100 });
  const marked = lines.filter((l) => l.includes(REVERSE));
  assert.equal(marked.length, 1);
  assert.match(plain(marked[0]!), /^>\s+2 J123456 gpu17\s+stopping/);
  assert.equal(visibleLength(marked[0]!), 100, "the highlight spans the window");
  assert.equal(lines.filter((l) => l.startsWith(">")).length, 0);
});

Deno.test("renderMonitor() does not list engines that have left", () => {
  const text = renderMonitor(run(), { columns: 100, rows: 20, selected: 0, now: 1100 }).join("\n");
  assert.ok(!text.includes("n009"));
  assert.deepEqual(monitorEngines(run()).map((e) => e.rank), [0, 1, 2]);
});

Deno.test("renderMonitor() truncates long host names and context labels with ...", () => {
  const long = "a-very-long-compute-node-name-0042.rack17.datacenter.example.org";
  const state = run({
    engines: [engine(0, 0, long), engine(1, 1, "n2")],
    contexts: [{ id: 0, label: "a-rather-long-context-label", taskLimit: 0, assigned: 1, engines: 1 }],
  });
  const lines = renderMonitor(state, { columns: 80, rows: 12, selected: 1, now: 1100 });
  assert.equal(lines[5], "    0 a-rather-l... a-very-long-compu... active       1        5        4      0");
  // at the narrowest width every column is still there
  const narrow = renderMonitor(state, { columns: 60, rows: 12, selected: 1, now: 1100 });
  assert.equal(narrow[4], " Rank Context Host   State    Avail Assigned Finished Failed");
  assert.equal(narrow[5], "    0 a-ra... a-v... active       1        5        4      0");
  const wide = renderMonitor(state, { columns: 200, rows: 12, selected: 1, now: 1100 }).join("\n");
  assert.ok(wide.includes(long), "a wide window shows the whole name");
});

Deno.test("renderMonitor() shows control characters in names as ?", () => {
  const state = run({ engines: [engine(0, 0, "evil\x1b[2Jhost")] });
  const lines = renderMonitor(state, { columns: 80, rows: 12, selected: 5, now: 1100 });
  assert.ok(lines.every((l) => !l.includes("\x1b[2J")));
  assert.match(plain(lines[5]!), /evil\?\[2Jhost/);
});

Deno.test("renderMonitor() asks for a bigger window below 60x12", () => {
  for (const [columns, rows] of [[59, 30], [120, 11], [20, 3], [59, 1]] as const) {
    const lines = renderMonitor(run(), { columns, rows, selected: 0, now: 1100 });
    assert.equal(lines.length, rows);
    assert.ok(lines[0]!.length <= columns);
    assert.ok(lines[0]!.startsWith("Window too small: need 60x12".slice(0, columns - 3)));
    assert.ok(lines.slice(1).every((l) => l === ""));
  }
  assert.equal(
    renderMonitor(run(), { columns: 80, rows: 5, selected: 0, now: 0 })[0],
    "Window too small: need 60x12, have 80x5 (q quits)",
  );
  assert.deepEqual(renderMonitor(run(), { columns: 80, rows: 0, selected: 0, now: 0 }), []);
});

Deno.test("renderMonitor() draws a confirmation dialog in a box", () => {
  const lines = renderMonitor(run(), {
    columns: 80,
    rows: 24,
    selected: 1,
    dialog: "Stop engine 1 softly? y/n",
    now: 1100,
  });
  const i = lines.findIndex((l) => l.includes("| Stop engine 1 softly? y/n |"));
  assert.ok(i > 0);
  assert.match(lines[i - 2]!, /\+-+\+/);
  assert.match(lines[i + 2]!, /\+-+\+/);
  const box = lines[i]!.indexOf("|");
  assert.ok(box > 20 && box < 40, "centred");
});

Deno.test("renderMonitor() draws the help over the screen", () => {
  const lines = renderMonitor(run(), { columns: 80, rows: 24, selected: 0, help: true, now: 1100 });
  for (const h of HELP_LINES.filter(Boolean)) assert.ok(lines.some((l) => l.includes(h)), h);
});

Deno.test("renderMonitor() spaces the counters to fit the window", () => {
  const at = (columns: number, over: Partial<MonitorState> = {}) =>
    renderMonitor(run(over), { columns, rows: 12, selected: 0, now: 1100 })[1];
  assert.equal(at(80), "Slots 6   Running 3   Queued 5   Finished 10   Failed 1   Barrier 1   Skipped 2");
  assert.equal(at(76), "Slots 6  Running 3  Queued 5  Finished 10  Failed 1  Barrier 1  Skipped 2");
  assert.equal(at(68), "Slots 6 Running 3 Queued 5 Finished 10 Failed 1 Barrier 1 Skipped 2");
  assert.equal(at(60, { skipped: 0 }), "Slots 6 Running 3 Queued 5 Finished 10 Failed 1 Barrier 1");
  assert.equal(at(60), "Slots 6 Running 3 Queued 5 Finished 10 Failed 1 Barrier 1...");
});

Deno.test("renderMonitor() reports the run state and progress", () => {
  const cases: [Partial<MonitorState>, RegExp, RegExp][] = [
    [{}, /Status: running /, /60% {2}12\/20 tasks {2}ETA 1m20s$/],
    [{ tasksEnded: false }, /Status: running \(reading tasks\)/, /12\/20\+ tasks {2}ETA \?$/],
    [{ phase: "draining" }, /Status: draining/, /ETA/],
    [{ phase: "aborting" }, /Status: ending/, /ETA/],
    [{ phase: "done", running: 0, queued: 0 }, /Status: ending/, /\[#{50}\] 100% {2}12\/12 tasks {2}ETA 0s$/],
    [{ finished: 0, skipped: 0, running: 0 }, /Status: running/, /0% {2}0\/5 tasks {2}ETA \?$/],
  ];
  for (const [over, status, progress] of cases) {
    const lines = renderMonitor(run(over), { columns: 100, rows: 20, selected: 0, now: 1100 });
    assert.match(lines[0]!, status, JSON.stringify(over));
    assert.match(lines[2]!, progress, JSON.stringify(over));
  }
});

Deno.test("renderMonitor() shows the end of the run and only q in the footer", () => {
  const lines = renderMonitor(run(), { columns: 80, rows: 12, selected: 0, ended: ENDED_MESSAGE, now: 1100 });
  assert.equal(lines[3], "[the disbatch driver has exited: the run is over]");
  assert.match(lines[0]!, /Status: over/);
  assert.equal(lines.at(-1), "q quit");
});

Deno.test("renderMonitor() shows the driver's answer and a Last column when the driver sends it", () => {
  const state = run({ engines: [{ ...engine(0, 0, "n1"), lastHeard: 1097 }] });
  const lines = renderMonitor(state, {
    columns: 80,
    rows: 12,
    selected: 0,
    notice: "stopping engine 0",
    now: 1100,
  });
  assert.equal(lines[3], "stopping engine 0");
  assert.match(lines[4]!, /State\s+Last Avail/);
  assert.match(plain(lines[5]!), /active\s+3s/);
});

Deno.test("renderMonitor() waits for the first snapshot and invites adding engines", () => {
  const before = renderMonitor(undefined, { columns: 80, rows: 12, selected: 0, now: 0 });
  assert.equal(before.length, 12);
  assert.match(before[1]!, /Waiting/);
  const empty = renderMonitor(run({ engines: [] }), { columns: 80, rows: 12, selected: 0, now: 1100 });
  assert.match(empty[5]!, /No engine yet: add some with Tasks_disBatch_1_dbUtil\.sh -s HOST:N/);
});

Deno.test("decodeKeys() names arrows, Escape, Enter and Ctrl-C", () => {
  const cases: [string, string[]][] = [
    ["\x1b[A\x1b[B", ["up", "down"]],
    ["\x1bOA\x1bOB", ["up", "down"]],
    ["\x1b[1;2A", ["up"]],
    ["\x1b[5~x", ["x"]],
    ["\x1b", ["escape"]],
    ["\x1bq", ["escape", "q"]],
    ["\r\n\x03", ["enter", "enter", "interrupt"]],
    ["jkudECh?qy", ["j", "k", "u", "d", "E", "C", "h", "?", "q", "y"]],
  ];
  for (const [input, keys] of cases) assert.deepEqual(decodeKeys(input), keys, JSON.stringify(input));
});

Deno.test("monitorKey() moves the selection within the engine list", () => {
  const s = run();
  let ui: MonitorUi = { selected: 0, rank: 0, help: false };
  const press = (k: string) => ui = monitorKey(ui, k, s).ui;
  press("up");
  assert.equal(ui.selected, 0);
  press("down"), press("j"), press("d");
  assert.deepEqual([ui.selected, ui.rank], [2, 2]);
  press("k");
  assert.deepEqual([ui.selected, ui.rank], [1, 1]);
  press("u");
  assert.deepEqual([ui.selected, ui.rank], [0, 0]);
});

Deno.test("monitorKey() asks before stopping an engine or a context", () => {
  const s = run();
  const ui: MonitorUi = { selected: 1, rank: 1, help: false };
  const e = monitorKey(ui, "E", s);
  assert.equal(e.ui.dialog?.text, "Stop engine 1 softly? y/n");
  assert.equal(e.send, undefined);
  assert.deepEqual(monitorKey(e.ui, "y", s).send, { kind: "engine", rank: 1 });
  const no = monitorKey(e.ui, "n", s);
  assert.equal(no.send, undefined);
  assert.equal(no.ui.dialog, undefined);
  assert.equal(monitorKey(e.ui, "q", s).quit, undefined, "q in a dialog only cancels it");
  const c = monitorKey(ui, "C", s);
  assert.equal(c.ui.dialog?.text, "Stop context SSH0 (c0) and its 2 engines softly? y/n");
  assert.deepEqual(monitorKey(c.ui, "Y", s).send, { kind: "context", id: 0 });
  const stopping = monitorKey({ selected: 2, rank: 2, help: false }, "E", s);
  assert.equal(stopping.ui.dialog, undefined);
  assert.equal(stopping.ui.notice, "Engine 2 is already stopping");
});

Deno.test("monitorKey() toggles help, quits on q and Ctrl-C, and stops nothing once the run is over", () => {
  const s = run();
  const ui: MonitorUi = { selected: 0, rank: 0, help: false };
  const help = monitorKey(ui, "?", s).ui;
  assert.equal(help.help, true);
  assert.equal(monitorKey(help, "x", s).ui.help, false);
  assert.equal(monitorKey(help, "h", s).ui.help, false);
  assert.equal(monitorKey(ui, "q", s).quit, true);
  assert.equal(
    monitorKey({ ...ui, dialog: { target: { kind: "engine", rank: 0 }, text: "" } }, "interrupt", s).quit,
    true,
  );
  const over = { ...ui, ended: ENDED_MESSAGE };
  assert.equal(monitorKey(over, "E", s).ui.dialog, undefined);
  assert.equal(monitorKey(over, "C", s).ui.dialog, undefined);
  assert.equal(monitorKey(over, "q", s).quit, true);
  assert.equal(monitorKey({ ...ui, selected: 0 }, "E", run({ engines: [] })).ui.notice, "No engine to stop");
});

Deno.test("followSelection() keeps the same engine selected when rows come and go", () => {
  const ui: MonitorUi = { selected: 1, rank: 1, help: false };
  const moved = followSelection(ui, run({ engines: [engine(0, 0, "a", "gone"), engine(1, 0, "b")] }));
  assert.deepEqual([moved.selected, moved.rank], [0, 1]);
  const gone = followSelection(
    ui,
    run({ engines: [engine(0, 0, "a"), engine(1, 0, "b", "gone"), engine(2, 0, "c")] }),
  );
  assert.deepEqual([gone.selected, gone.rank], [1, 2], "the next engine takes the place of one that left");
  const last = followSelection({ selected: 5, rank: 9, help: false }, run());
  assert.deepEqual([last.selected, last.rank], [2, 2]);
  assert.deepEqual(followSelection(ui, undefined), ui);
});

Deno.test("renderMonitor() shows retries, time limits, quarantined hosts and the walltime hand-off", () => {
  const lines = renderMonitor(
    run({
      retried: 4,
      timedOut: 1,
      quarantined: [{ host: "n002.cluster.example.org", reason: "its engine was lost 2 times" }],
      stopAt: 1000 + 3600,
    }),
    { rows: 14, columns: 100, now: 1000 + 600, selected: 0 },
  ).map(plain);
  assert.match(lines[0]!, /Hand-off in: 50m/);
  assert.match(lines[1]!, /Retried 4 +Timed out 1/);
  assert.match(lines[3]!, /^Quarantined: n002\.cluster\.example\.org \(its engine was lost 2 times\)$/);
});

Deno.test("renderMonitor() lists the allocations alive and a paused allocator", () => {
  const lines = renderMonitor(
    run({
      allocations: [
        {
          label: "A1",
          jobId: "112",
          state: "running",
          submittedAt: 1000,
          startedAt: 1001,
          endsAt: 1100 + 85,
          nodes: "n2",
          slots: 2,
        },
        { label: "A2", jobId: "113", state: "pending", submittedAt: 1090 },
        { label: "A0", jobId: "111", state: "ended", submittedAt: 900, outcome: "its engines finished" },
      ],
      allocatorPaused: "3 failures in a row",
    }),
    { rows: 14, columns: 160, now: 1100, selected: 0 },
  ).map(plain);
  // One row per allocation, the ended one too (this replaced a check of the old one-line format).
  const at = lines.indexOf("Allocator paused: 3 failures in a row");
  assert.ok(at > 0, lines.join("\n"));
  assert.deepEqual(lines.slice(at + 1, at + 5), [
    " Alloc Job State   Nodes  Start     End      Note",
    " A1    112 running 1 (n2) 1m39s ago in 1m25s 2 slot(s)",
    " A2    113 pending -      -         -        pending for 10s",
    " A0    111 failed  -      -         -        its engines finished",
  ], lines.join("\n"));
});

Deno.test("renderMonitor() shows every allocation of the run as a row: job, state, nodes, start, end", () => {
  const base = { submittedAt: 900 };
  const cases: { name: string; alloc: Allocation; row: RegExp }[] = [
    {
      name: "being submitted",
      alloc: { ...base, label: "A5", state: "submitting", nodesAsked: 2 },
      row: /^ A5 +- +submitting +2 asked +- +- +being submitted$/,
    },
    {
      name: "pending",
      alloc: { ...base, label: "A4", jobId: "104", state: "pending", nodesAsked: 2 },
      row: /^ A4 +104 +pending +2 asked +- +- +pending for 3m20s$/,
    },
    {
      name: "running with a time limit: time left",
      alloc: {
        ...base,
        label: "A3",
        jobId: "103",
        state: "running",
        startedAt: 1000,
        endsAt: 1160,
        nodesAsked: 2,
        nodeCount: 2,
        nodes: "n[1-2]",
        slots: 8,
      },
      row: /^ A3 +103 +running +2 \(n\[1-2\]\) +1m40s ago +in 1m00s +8 slot\(s\)$/,
    },
    {
      name: "running, engines not joined yet",
      alloc: { ...base, label: "A6", jobId: "106", state: "running", startedAt: 1090, nodesAsked: 1 },
      row: /^ A6 +106 +running +1 +10s ago +- +engines starting$/,
    },
    {
      name: "ended",
      alloc: {
        ...base,
        label: "A1",
        jobId: "101",
        state: "ended",
        startedAt: 910,
        endedAt: 1040,
        nodeCount: 1,
        nodes: "n3",
        outcome: "its engines finished",
      },
      row: /^ A1 +101 +ended +1 \(n3\) +3m10s ago +1m00s ago +its engines finished$/,
    },
    {
      name: "cancelled before it ran",
      alloc: {
        ...base,
        label: "A7",
        jobId: "107",
        state: "ended",
        endedAt: 1095,
        nodesAsked: 2,
        outcome: "cancelled at the end of the run",
      },
      row: /^ A7 +107 +cancelled +2 asked +- +5s ago +cancelled at the end of the run$/,
    },
    {
      name: "failed to submit",
      alloc: {
        ...base,
        label: "A2",
        state: "ended",
        endedAt: 950,
        nodesAsked: 2,
        outcome: "not submitted: bad",
      },
      row: /^ A2 +- +failed +2 asked +- +2m30s ago +not submitted: bad$/,
    },
  ];
  for (const c of cases) {
    const lines = renderMonitor(run({ allocations: [c.alloc] }), {
      rows: 16,
      columns: 120,
      now: 1100,
      selected: 0,
    }).map(plain);
    const title = lines.findIndex((l) => l.startsWith(" Alloc Job"));
    assert.ok(title > 0, `${c.name}: ${lines.join("\n")}`);
    assert.match(lines[title + 1]!, c.row, c.name);
  }
});

Deno.test("renderMonitor() keeps the allocations alive and the latest ones over when rows are few", () => {
  const ended = (n: number): Allocation => ({
    label: `A${n}`,
    jobId: String(100 + n),
    state: "ended",
    submittedAt: 0,
    startedAt: n * 10,
    endedAt: n * 10 + 5,
    outcome: "its engines finished",
  });
  const allocations = [
    ...Array.from({ length: 8 }, (_, i) => ended(i + 1)),
    { label: "A9", jobId: "109", state: "running" as const, submittedAt: 90, startedAt: 95 },
  ];
  const cases = [
    { rows: 12, columns: 80, labels: ["A8", "A9"], hidden: 7 },
    { rows: 24, columns: 80, labels: ["A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9"], hidden: 1 },
    { rows: 40, columns: 100, labels: allocations.map((a) => a.label), hidden: 0 },
  ];
  for (const c of cases) {
    const lines = renderMonitor(run({ allocations }), { ...c, now: 200, selected: 0 });
    assert.equal(lines.length, c.rows);
    assert.ok(lines.every((l) => visibleLength(l) <= c.columns), `${c.rows}x${c.columns}`);
    const shown = lines.map(plain).flatMap((l) => /^ (A\d+) /.exec(l)?.[1] ?? []);
    assert.deepEqual(shown, c.labels, `${c.rows}x${c.columns}`);
    const title = lines.map(plain).find((l) => l.startsWith(" Alloc"))!;
    if (c.hidden) assert.match(title, new RegExp(`Note \\(\\+${c.hidden} earlier\\)$`), title);
    else assert.doesNotMatch(title, /earlier/);
    assert.ok(lines.some((l) => / SSH0 /.test(plain(l))), "engines still listed");
  }
});

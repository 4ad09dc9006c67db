import assert from "node:assert/strict";
import type { Allocation } from "../../lib/allocator.ts";
import { DashboardTracker } from "../../lib/dashboard.ts";
import type { DashboardState } from "../../lib/dashboard.ts";
import { dashboardPage } from "../../adapters/dashboard_page.ts";

const NOW = 2000;

function snapshot(allocations?: Allocation[], allocatorPaused?: string): DashboardState["snapshot"] {
  return {
    finished: 3,
    failed: 0,
    barriers: 0,
    skipped: 0,
    running: 1,
    queued: 4,
    slots: 2,
    engines: [{
      rank: 0,
      context: 0,
      host: "n1",
      slots: 2,
      state: "active",
      running: 1,
      assigned: 4,
      finished: 3,
      failed: 0,
    }],
    contexts: [{ id: 0, label: "A1", taskLimit: 0, assigned: 4, engines: 1 }],
    phase: "running",
    tasksEnded: true,
    retried: 0,
    timedOut: 0,
    quarantined: [],
    uid: "run",
    startedAt: 1000,
    ...(allocations ? { allocations } : {}),
    ...(allocatorPaused ? { allocatorPaused } : {}),
  };
}

const ALLOCS: Allocation[] = [
  {
    label: "A1",
    jobId: "101",
    state: "ended",
    submittedAt: 1000,
    startedAt: 1010,
    endedAt: 1500,
    nodesAsked: 2,
    nodeCount: 2,
    nodes: "n[1-2]",
    outcome: "its engines finished",
  },
  {
    label: "A2",
    jobId: "102",
    state: "running",
    submittedAt: 1400,
    startedAt: 1405,
    endsAt: NOW + 600,
    nodesAsked: 2,
    nodeCount: 2,
    nodes: "n[3-4]",
    slots: 8,
  },
  { label: "A3", jobId: "103", state: "pending", submittedAt: NOW - 45, nodesAsked: 2 },
  {
    label: "A4",
    state: "ended",
    submittedAt: 1100,
    endedAt: 1100,
    nodesAsked: 2,
    outcome: "not submitted: <bad>",
  },
];

Deno.test("DashboardTracker.state() gives every allocation of the run as a row", () => {
  const cases: { name: string; allocations?: Allocation[]; rows?: string[][] }[] = [
    { name: "no --alloc: no rows", allocations: undefined, rows: undefined },
    { name: "--alloc, nothing asked for yet", allocations: [], rows: [] },
    {
      name: "ended, running, pending and failed ones",
      allocations: ALLOCS,
      rows: [
        ["A1", "101", "ended", "2 (n[1-2])", "16m30s ago", "8m20s ago", "its engines finished"],
        ["A2", "102", "running", "2 (n[3-4])", "9m55s ago", "in 10m00s", "8 slot(s)"],
        ["A3", "103", "pending", "2 asked", "-", "-", "pending for 45s"],
        ["A4", "-", "failed", "2 asked", "-", "15m00s ago", "not submitted: <bad>"],
      ],
    },
  ];
  for (const c of cases) {
    const st = new DashboardTracker().state(snapshot(c.allocations), NOW);
    assert.deepEqual(
      st.allocations?.map((r) => [r.label, r.job, r.state, r.nodes, r.start, r.end, r.note]),
      c.rows,
      c.name,
    );
  }
});

/** A page element, as much as the page's script uses. */
interface FakeElement {
  innerHTML: string;
  hidden: boolean;
  className: string;
  lastChild: { textContent: string };
}

/** Run the page's script against a fake document and one answer of `GET /api/state`. */
async function renderPage(state: DashboardState): Promise<Map<string, FakeElement>> {
  const html = dashboardPage("t");
  const js = html.slice(html.indexOf("<script>") + 8, html.lastIndexOf("</script>"));
  const els = new Map<string, FakeElement>();
  const document = {
    title: "",
    querySelector: () => null,
    addEventListener: () => {},
    getElementById(id: string) {
      if (!els.has(id)) {
        els.set(id, { innerHTML: "", hidden: false, className: "", lastChild: { textContent: "" } });
      }
      return els.get(id)!;
    },
  };
  const fetch = () => Promise.resolve({ status: 200, ok: true, json: () => Promise.resolve(state) });
  new Function("document", "fetch", "setTimeout", "location", js)(document, fetch, () => 0, { search: "" });
  for (let i = 0; i < 10; i++) await Promise.resolve();
  assert.equal(els.get("live")?.className, "live", "the state was drawn");
  return els;
}

Deno.test("the dashboard page draws the allocations as a table, or hides the panel without any", async () => {
  const cases: {
    name: string;
    allocations?: Allocation[];
    paused?: string;
    hidden: boolean;
    rows: RegExp[];
  }[] = [
    { name: "no --alloc", hidden: true, rows: [] },
    {
      name: "four allocations, the allocator paused",
      allocations: ALLOCS,
      paused: "3 failures in a row",
      hidden: false,
      rows: [
        /^<tr><td>A1<\/td><td class="mono">101<\/td><td><span class="pill ended">ended<\/span><\/td><td class="mono">2 \(n\[1-2\]\)<\/td><td>16m30s ago<\/td><td>8m20s ago<\/td><td>its engines finished<\/td><\/tr>$/,
        /^<tr><td>A2<\/td><td class="mono">102<\/td><td><span class="pill running">running<\/span>.*<td>in 10m00s<\/td>/,
        /^<tr><td>A3<\/td><td class="mono">103<\/td><td><span class="pill pending">pending<\/span><\/td><td class="mono">2 asked<\/td><td>-<\/td><td>-<\/td><td>pending for 45s<\/td><\/tr>$/,
        /^<tr><td>A4<\/td><td class="mono">-<\/td><td><span class="pill failed">failed<\/span>.*<td>not submitted: &lt;bad&gt;<\/td><\/tr>$/,
      ],
    },
  ];
  for (const c of cases) {
    const els = await renderPage(new DashboardTracker().state(snapshot(c.allocations, c.paused), NOW));
    assert.equal(els.get("alloc-panel")?.hidden, c.hidden, c.name);
    const table = els.get("allocations")?.innerHTML ?? "";
    const rows = table.match(/<tr><td>.*?<\/tr>/g) ?? [];
    assert.equal(rows.length, c.rows.length, `${c.name}: ${table}`);
    c.rows.forEach((re, i) => assert.match(rows[i]!, re, c.name));
    if (c.paused) {
      assert.match(els.get("acount")!.innerHTML, /4 asked for with --alloc · .*paused: 3 failures in a row/);
    }
  }
});

Deno.test("DashboardTracker.state() draws what engines hold from the registry's tasks in flight", () => {
  const cases: {
    name: string;
    inFlight: { rank: number; host: string; tasks: { id: number; sentAt: number }[] }[];
    /** [engine, slot, host, id, start] of the running entries */
    running: [number, number, string, number, number][];
  }[] = [
    { name: "nothing in flight", inFlight: [], running: [] },
    { name: "an idle engine", inFlight: [{ rank: 0, host: "n1", tasks: [] }], running: [] },
    {
      name: "tasks in the order sent, on slots from 0",
      inFlight: [
        { rank: 0, host: "n1", tasks: [{ id: 4, sentAt: 1990 }, { id: 2, sentAt: 1991 }] },
        { rank: 2, host: "n2", tasks: [{ id: 7, sentAt: 1995 }] },
      ],
      running: [[0, 0, "n1", 4, 1990], [0, 1, "n1", 2, 1991], [2, 0, "n2", 7, 1995]],
    },
  ];
  for (const c of cases) {
    const t = new DashboardTracker();
    // What was assigned by hand is not drawn when the registry's view is given.
    t.assigned(5, "old", 99, 1000);
    t.finished(0, { id: 1, slot: 1, start: 1980, end: 1985, returnCode: 0 }, "n1");
    const s = t.state(snapshot(), NOW, c.inFlight);
    const running = s.timeline.filter((e) => e.end === 0);
    assert.deepEqual(running.map((e) => [e.engine, e.slot, e.host, e.id, e.start]), c.running, c.name);
    assert.deepEqual(s.timeline.filter((e) => e.end !== 0).map((e) => [e.id, e.host, e.slot]), [[
      1,
      "n1",
      1,
    ]]);
  }
});

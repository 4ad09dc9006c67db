/**
 * The dashboard page served by `adapters/web.ts`: one HTML document with inline CSS and script,
 * kept as a string constant so `deno compile` carries it. The script polls `GET /api/state` every
 * second and draws everything (cards, progress, the run's allocations, engines with Stop buttons, an SVG timeline per
 * engine slot, a throughput chart, failures); it is browser I/O (fetch, timers), hence in
 * `adapters/` rather than the pure `lib/`.
 *
 * @module
 */

import { BASE_CSS, escapeHtml, OUTCOME_COLORS } from "../lib/svg.ts";

const PAGE_CSS = `
.live{margin-left:auto;font-size:12.5px;color:#cbd5e1;display:flex;align-items:center;gap:7px}
.live i{width:9px;height:9px;border-radius:50%;background:#22c55e;box-shadow:0 0 0 3px rgba(34,197,94,.25)}
.live.off i{background:#f43f5e;box-shadow:0 0 0 3px rgba(244,63,94,.25)}
.progress{display:flex;height:14px;border-radius:99px;overflow:hidden;background:#e2e8f0;margin:6px 0 8px}
.progress span{height:100%}
.pmeta{display:flex;justify-content:space-between;color:var(--muted);font-size:13px;flex-wrap:wrap;gap:8px}
.pmeta b{color:var(--ink);font-variant-numeric:tabular-nums}
button.stop{border:1px solid #fecdd3;background:#fff1f2;color:#be123c;border-radius:6px;padding:2px 9px;
font-size:12px;font-weight:600;cursor:pointer}
button.stop:hover{background:#ffe4e6}
.top-row{grid-template-columns:minmax(0,1fr) minmax(0,1fr);margin-bottom:0}
.top-row>div>.cards{margin-bottom:18px}
.cards.three{grid-template-columns:repeat(3,minmax(0,1fr))}
#engine-table td,#engine-table th,#allocation-table td,#allocation-table th{white-space:nowrap}
section.panel[hidden]{display:none}
.pill.pending,.pill.submitting{background:#fef3c7;color:#92400e}.pill.failed{background:#ffe4e6;color:#9f1239}
#engine-table td.act{text-align:right;width:1%}
#toast{position:fixed;right:18px;bottom:18px;background:#0f172a;color:#fff;border-radius:8px;padding:10px 14px;
font-size:13px;opacity:0;transition:opacity .3s;pointer-events:none}
#toast.show{opacity:.95}
`;

const CLIENT_JS = `
(function () {
  "use strict";
  var COLORS = ${JSON.stringify(OUTCOME_COLORS)};
  var meta = document.querySelector('meta[name="disbatch-token"]');
  var token = new URLSearchParams(location.search).get("token") || (meta ? meta.content : "");
  var headers = { Authorization: "Bearer " + token };
  var shown = {};
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }
  function vis(s) {
    return String(s).replace(/[\\x00-\\x08\\x0b-\\x1f\\x7f\\u2028\\u2029]|[\\udc80-\\udcff]/g, function (c) {
      var n = c.charCodeAt(0); if (n >= 0xdc80) n -= 0xdc00;
      return n < 256 ? "\\\\x" + (n < 16 ? "0" : "") + n.toString(16) : "\\\\u" + n.toString(16);
    });
  }
  function num(n) { return Number(n).toLocaleString("en-US"); }
  function dur(s) {
    if (!isFinite(s) || s < 0) return "—";
    if (s < 10) return s.toFixed(2) + "s"; if (s < 60) return s.toFixed(1) + "s";
    var m = Math.floor(s / 60); if (m < 60) return m + "m" + String(Math.floor(s % 60)).padStart(2, "0") + "s";
    return Math.floor(m / 60) + "h" + String(m % 60).padStart(2, "0") + "m";
  }
  function set(id, html) { if (shown[id] !== html) { document.getElementById(id).innerHTML = html; shown[id] = html; } }
  function card(k, v, cls) { return '<div class="card ' + (cls || "") + '"><div class="k">' + k + '</div><div class="v">' + v + "</div></div>"; }
  function rate(st) {
    var p = st.throughput, last = p[p.length - 1]; if (!last) return 0;
    for (var i = p.length - 1; i >= 0; i--) if (last.t - p[i].t >= 60 || i === 0) {
      var dt = last.t - p[i].t; return dt > 0 ? (last.finished - p[i].finished) / dt : 0;
    }
    return 0;
  }
  function render(st) {
    var s = st.snapshot, elapsed = st.now - s.startedAt;
    document.title = "disBatch: " + s.uid;
    set("uid", esc(s.uid));
    set("phase", '<span class="pill ' + esc(s.phase) + '">' + esc(s.phase) + "</span> elapsed " + dur(elapsed) + (s.tasksEnded ? " · task list complete" : " · task list still open") + (s.stopAt ? " · walltime hand-off in " + dur(Math.max(0, s.stopAt - st.now)) : "") + (s.retried ? " · " + num(s.retried) + " attempt(s) run again" : "") + (s.timedOut ? " · " + num(s.timedOut) + " stopped at their time limit" : "") + (s.killed ? " · " + num(s.killed) + " killed as the run ended" : "") + (s.quarantined.length ? ' · <span class="rc" id="quarantined">quarantined: ' + s.quarantined.map(function (q) { return esc(vis(q.host)) + " (" + esc(vis(q.reason)) + ")"; }).join("; ") + "</span>" : ""));
    var engines = s.engines.filter(function (e) { return e.state !== "gone"; }).length;
    var ok = s.finished - s.failed - (s.killed || 0);
    set("cards", [card("Done", num(ok), "good"), card("Failed", num(s.failed), s.failed ? "bad" : ""),
      card("Running", num(s.running)), card("Queued", num(s.queued) + (s.tasksEnded ? "" : "<small>+</small>")),
      card("Slots", num(s.slots)), card("Engines", num(engines))].join(""));
    var total = s.finished + s.running + s.queued, r = rate(st);
    var pct = function (n) { return total ? (100 * n / total).toFixed(2) + "%" : "0"; };
    set("bar", '<span style="width:' + pct(ok) + ";background:" + COLORS.ok + '"></span><span style="width:' + pct(s.failed) + ";background:" + COLORS.failed + '"></span><span style="width:' + pct(s.running) + ";background:" + COLORS.running + '"></span>');
    var eta = s.phase === "done" ? "finished" : !s.tasksEnded ? "ETA unknown until the task list is complete" : r > 0 ? "ETA " + dur((s.queued + s.running) / r) : "ETA —";
    set("pmeta", "<span><b>" + num(s.finished) + "</b> of <b>" + num(total) + (s.tasksEnded ? "" : "+") + "</b> tasks (" + (total ? (100 * s.finished / total).toFixed(1) : "0") + "%)" + (s.skipped ? " · " + num(s.skipped) + " skipped" : "") + (s.barriers ? " · " + num(s.barriers) + " barrier(s)" : "") + "</span><span><b>" + r.toFixed(r < 10 ? 2 : 0) + "</b> tasks/s · " + eta + "</span>");
    renderAllocations(st); renderEngines(s); renderTimeline(st); renderThroughput(st); renderFailures(st);
  }
  function renderAllocations(st) {
    var rows = st.allocations || [], paused = st.snapshot.allocatorPaused;
    document.getElementById("alloc-panel").hidden = !rows.length && !paused;
    if (!rows.length && !paused) return;
    set("acount", rows.length + " asked for with --alloc" + (paused ? ' · <span class="rc">paused: ' + esc(vis(paused)) + "</span>" : ""));
    set("allocations", rows.length ? '<table id="allocation-table"><thead><tr><th>Allocation</th><th>Slurm job</th><th>State</th><th>Nodes</th><th>Start</th><th>End</th><th>Note</th></tr></thead><tbody>' + rows.map(function (r) {
      return "<tr><td>" + esc(r.label) + '</td><td class="mono">' + esc(r.job) + '</td><td><span class="pill ' + esc(r.state) + '">' + esc(r.state) + '</span></td><td class="mono">' + esc(vis(r.nodes)) + "</td><td>" + esc(r.start) + "</td><td>" + esc(r.end) + "</td><td>" + esc(vis(r.note)) + "</td></tr>";
    }).join("") + "</tbody></table>" : '<div class="empty">No allocation yet.</div>');
  }
  function renderEngines(s) {
    var rows = [], labels = {};
    s.contexts.forEach(function (c) { labels[c.id] = c.label; });
    var ids = s.contexts.map(function (c) { return c.id; });
    s.engines.forEach(function (e) { if (ids.indexOf(e.context) < 0) ids.push(e.context); });
    ids.forEach(function (cid) {
      var mine = s.engines.filter(function (e) { return e.context === cid; });
      var live = mine.some(function (e) { return e.state === "active"; });
      rows.push('<tr class="group"><td colspan="9">Context ' + cid + (labels[cid] ? " · " + esc(vis(labels[cid])) : "") + " · " + mine.length + " engine(s)</td><td class=act>" + (live ? '<button class="stop" data-context="' + cid + '">Stop context</button>' : "") + "</td></tr>");
      mine.forEach(function (e) {
        rows.push("<tr><td class=num>" + e.rank + "</td><td class=num>" + e.context + '</td><td class="mono">' + esc(vis(e.host)) + "</td><td class=num>" + e.slots + "</td><td class=num>" + e.running + "</td><td class=num>" + num(e.assigned) + "</td><td class=num>" + num(e.finished) + "</td><td class=num>" + (e.failed ? '<span class="rc">' + e.failed + "</span>" : "0") + '</td><td><span class="pill ' + esc(e.state) + '">' + esc(e.state) + '</span></td><td class="act">' + (e.state === "active" ? '<button class="stop" data-engine="' + e.rank + '">Stop engine</button>' : "") + "</td></tr>");
      });
    });
    set("engines", rows.length ? '<table id="engine-table"><thead><tr><th class=num>Rank</th><th class=num>Context</th><th>Host</th><th class=num>Slots</th><th class=num>Running</th><th class=num>Assigned</th><th class=num>Finished</th><th class=num>Failed</th><th>State</th><th></th></tr></thead><tbody>' + rows.join("") + "</tbody></table>" : '<div class="empty">No engine has joined yet.</div>');
  }
  function axis(s) { return s === 0 ? "0" : s < 60 ? +s.toPrecision(3) + "s" : s < 3600 ? Math.floor(s / 60) + "m" + (Math.round(s % 60) ? String(Math.round(s % 60)).padStart(2, "0") + "s" : "") : Math.floor(s / 3600) + "h" + String(Math.round(s % 3600 / 60)).padStart(2, "0"); }
  function step(range, n) {
    var raw = range / n, steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400];
    if (raw < 1) { var p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p; return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p; }
    for (var i = 0; i < steps.length; i++) if (steps[i] >= raw) return steps[i];
    return 86400 * Math.ceil(raw / 86400);
  }
  function xAxis(out, L, R, y0, y1, from, to, base) {
    var st = step(to - from || 1, 8);
    for (var v = Math.ceil((from - base) / st) * st; v + base <= to + 1e-9; v += st) {
      var x = L + (v + base - from) / ((to - from) || 1) * (R - L);
      out.push('<line class="grid" x1="' + x.toFixed(1) + '" x2="' + x.toFixed(1) + '" y1="' + y0 + '" y2="' + y1 + '"/><text x="' + x.toFixed(1) + '" y="' + (y1 + 15) + '" text-anchor="' + (x > R - 24 ? "end" : "middle") + '">' + axis(+v.toPrecision(12)) + "</text>");
    }
  }
  function renderTimeline(st) {
    var s = st.snapshot, now = st.now, from = Math.max(s.startedAt, now - 300), to = Math.max(now, from + 1);
    var rows = {}, keys = [];
    function row(e, slot, host) { var k = e + ":" + slot; if (!rows[k]) { rows[k] = { e: e, s: slot, host: host }; keys.push(k); } return rows[k]; }
    s.engines.forEach(function (e) { if (e.state !== "gone") for (var i = 0; i < e.slots; i++) row(e.rank, i, e.host); });
    var bars = st.timeline.filter(function (t) { return (t.end === 0 || t.end >= from); });
    bars.forEach(function (t) { row(t.engine, t.slot, t.host); });
    if (!keys.length) { set("timeline", '<div class="empty">No task has run yet.</div>'); return; }
    keys.sort(function (a, b) { return rows[a].e - rows[b].e || rows[a].s - rows[b].s; });
    var rh = keys.length <= 16 ? 18 : keys.length <= 48 ? 10 : Math.max(2, Math.floor(600 / keys.length));
    var W = 1160, L = 120, R = W - 14, T = 6, H = T + keys.length * rh, out = [];
    out.push('<svg class="chart" id="timeline-svg" viewBox="0 0 ' + W + " " + (H + 24) + '" role="img" aria-label="Recent tasks per engine slot">');
    var index = {};
    keys.forEach(function (k, i) {
      index[k] = i; var r = rows[k];
      if (r.e % 2 === 0) out.push('<rect x="' + L + '" y="' + (T + i * rh) + '" width="' + (R - L) + '" height="' + rh + '" fill="#f8fafc"/>');
      if (rh >= 10) out.push('<text x="' + (L - 8) + '" y="' + (T + i * rh + rh / 2 + 4) + '" text-anchor="end">' + (r.s === 0 ? esc(vis(r.host).slice(0, 14)) + " · e" + r.e + " " : "") + "s" + r.s + "</text>");
    });
    xAxis(out, L, R, T, H, from, to, s.startedAt);
    var scale = (R - L) / (to - from), pad = rh >= 10 ? 2 : 0;
    bars.forEach(function (t) {
      var a = Math.max(t.start, from), b = t.end === 0 ? now : t.end, i = index[t.engine + ":" + t.slot];
      var x = L + (a - from) * scale, w = Math.max(1.5, (b - a) * scale - ((b - a) * scale >= 4 ? 1 : 0));
      var c = t.end === 0 ? COLORS.running : t.rc !== 0 ? COLORS.failed : COLORS.ok;
      out.push('<rect class="task" x="' + x.toFixed(1) + '" y="' + (T + i * rh + pad) + '" width="' + w.toFixed(1) + '" height="' + (rh - 2 * pad) + '" rx="2" fill="' + c + '"><title>task ' + t.id + " on " + esc(vis(t.host)) + " slot " + t.slot + (t.end === 0 ? " running " + dur(now - t.start) : " rc " + t.rc + ", " + dur(t.end - t.start)) + "</title></rect>");
    });
    out.push('<line class="axis" x1="' + L + '" x2="' + R + '" y1="' + H + '" y2="' + H + '"/></svg>');
    set("timeline", out.join(""));
  }
  function renderThroughput(st) {
    var p = st.throughput, s = st.snapshot;
    if (p.length < 1) { set("throughput", '<div class="empty">No data yet.</div>'); return; }
    var W = 520, H = 250, L = 44, R = W - 22, T = 10, B = H - 26, from = s.startedAt, to = Math.max(st.now, from + 1);
    var top = 1; p.forEach(function (q) { top = Math.max(top, q.finished); });
    var ys = step(top, 4); top = Math.ceil(top / ys) * ys;
    var X = function (t) { return (L + (t - from) / (to - from) * (R - L)).toFixed(1); };
    var Y = function (n) { return (B - n / top * (B - T)).toFixed(1); };
    var out = ['<svg class="chart" id="throughput-svg" viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="Tasks finished over time">'];
    for (var v = 0; v <= top; v += ys) out.push('<line class="grid" x1="' + L + '" x2="' + R + '" y1="' + Y(v) + '" y2="' + Y(v) + '"/><text x="' + (L - 6) + '" y="' + (+Y(v) + 4) + '" text-anchor="end">' + num(v) + "</text>");
    xAxis(out, L, R, T, B, from, to, from);
    var line = function (key) { return p.map(function (q, i) { return (i ? "L" : "M") + X(q.t) + " " + Y(q[key]); }).join(" "); };
    var first = p[0], last = p[p.length - 1];
    out.push('<path d="M' + X(first.t) + " " + B + " " + line("finished").replace(/^M/, "L") + " L" + X(last.t) + " " + B + ' Z" fill="' + COLORS.ok + '" fill-opacity=".14"/>');
    out.push('<path d="' + line("finished") + '" fill="none" stroke="' + COLORS.ok + '" stroke-width="2"/>');
    out.push('<path d="' + line("failed") + '" fill="none" stroke="' + COLORS.failed + '" stroke-width="2"/>');
    out.push('<line class="axis" x1="' + L + '" x2="' + R + '" y1="' + B + '" y2="' + B + '"/></svg>');
    set("throughput", out.join(""));
  }
  function snip(t, n) { return n === 0 && !t ? '<span class="empty">—</span>' : '<pre class="snip">' + esc(vis(t)) + "</pre>"; }
  function renderFailures(st) {
    var f = st.failures;
    set("fcount", (f.length ? (st.snapshot.failed > f.length ? "first " + f.length + " of " + num(st.snapshot.failed) : f.length + " failed") : "") + (st.attempts.length ? " · the last " + st.attempts.length + " failed attempt(s) that ran again are listed after them" : ""));
    f = f.concat(st.attempts.map(function (r) { return Object.assign({}, r, { retried: true }); }));
    set("failures", f.length ? '<table id="failure-table"><thead><tr><th class=num>Task</th><th class=num>Line</th><th class=num>Rc</th><th>Host</th><th class=num>Elapsed</th><th>Stdout</th><th>Stderr</th><th>Command</th></tr></thead><tbody>' + f.map(function (r) {
      return "<tr" + (r.retried ? ' class="attempt"' : "") + "><td class=num>" + r.taskId + (r.retried ? ' <span class="pill">ran again</span>' : "") + "</td><td class=num>" + r.line + '</td><td class=num><span class="rc">' + r.returnCode + (r.flags.charAt(3) === "T" ? " timeout" : "") + '</span></td><td class="mono">' + esc(vis(r.host)) + "</td><td class=num>" + r.elapsed.toFixed(3) + "s</td><td>" + snip(r.stdoutSnippet, r.stdoutBytes) + "</td><td>" + snip(r.stderrSnippet, r.stderrBytes) + "</td><td><code>" + esc(vis(r.command.length > 300 ? r.command.slice(0, 299) + "…" : r.command)) + "</code></td></tr>";
    }).join("") + "</tbody></table>" : '<div class="empty">No task has failed.</div>');
  }
  function live(ok, text) { var el = document.getElementById("live"); el.className = ok ? "live" : "live off"; el.lastChild.textContent = text; }
  function toast(text) { var t = document.getElementById("toast"); t.textContent = text; t.className = "show"; setTimeout(function () { t.className = ""; }, 4000); }
  function poll() {
    fetch("/api/state", { headers: headers, cache: "no-store" }).then(function (r) {
      if (r.status === 401) throw new Error("token rejected: open the URL disbatch printed");
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (st) { render(st); live(true, "live"); setTimeout(poll, 1000); }, function (e) {
      live(false, "disconnected: " + (e && e.message && e.message.indexOf("token") === 0 ? e.message : "the run has ended or the driver is unreachable"));
      setTimeout(poll, 3000);
    });
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("button.stop"); if (!b) return;
    var body = b.dataset.engine !== undefined ? { engine: +b.dataset.engine } : { context: +b.dataset.context };
    var what = body.engine !== undefined ? "engine " + body.engine : "context " + body.context;
    if (!confirm("Stop " + what + "? Running tasks finish, then it leaves.")) return;
    fetch("/api/stop", { method: "POST", headers: { Authorization: headers.Authorization, "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (r) { return r.text(); }).then(toast, function () { toast("Could not reach the driver"); });
  });
  poll();
})();
`;

const PAGE = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,"><meta name="disbatch-token" content="%TOKEN%">
<title>disBatch dashboard</title><style>${BASE_CSS}${PAGE_CSS}</style></head>
<body><header class="top"><span class="brand">disbatch</span><div><h1 id="uid">connecting…</h1>
<div class="sub" id="phase"></div></div><div class="live off" id="live"><i></i><span>connecting</span></div></header>
<main><div class="grid2 top-row"><div><div class="cards three" id="cards"></div>
<section class="panel"><h2>Progress</h2><div class="progress" id="bar"></div><div class="pmeta" id="pmeta"></div></section></div>
<section class="panel"><h2>Throughput <span class="note">tasks finished (blue) and failed (red) since start</span></h2>
<div id="throughput"></div></section></div>
<section class="panel"><h2>Timeline <span class="note">recent tasks per engine slot (last 5 minutes);
green = running, blue = done, red = failed</span></h2><div id="timeline"></div></section>
<section class="panel" id="alloc-panel" hidden><h2>Allocations <span class="note" id="acount"></span></h2>
<div id="allocations"></div></section>
<section class="panel"><h2>Engines <span class="note">Stop lets running tasks finish, then the engine leaves</span></h2>
<div id="engines"></div></section>
<section class="panel"><h2>Failed tasks <span class="note" id="fcount"></span></h2><div id="failures"></div></section>
</main><div id="toast"></div><script>${CLIENT_JS}</script></body></html>
`;

/**
 * The dashboard page for a request that presented `token` (embedded so the script can use it
 * when the page was opened with an `Authorization` header rather than `?token=`).
 *
 * @param token The run's dashboard token.
 * @returns The HTML document.
 *
 * @example
 * ```ts ignore
 * new Response(dashboardPage(token), { headers: { "content-type": "text/html; charset=utf-8" } });
 * ```
 */
export function dashboardPage(token: string): string {
  return PAGE.replace("%TOKEN%", () => escapeHtml(token));
}

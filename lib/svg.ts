/**
 * Small pure helpers shared by the run report and the dashboard: HTML escaping, axis ticks, lane
 * packing for timelines, and the pages' common stylesheet. No DOM, no I/O: everything returns text.
 *
 * @example Escape, then pack two overlapping intervals into two lanes
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeHtml, packLanes } from "./svg.ts";
 *
 * assert.equal(escapeHtml(`<a href="x">&</a>`), "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;");
 * assert.deepEqual(packLanes([{ start: 0, end: 2 }, { start: 1, end: 3 }]), { lane: [0, 1], lanes: 2 });
 * ```
 *
 * @module
 */

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for HTML and SVG, in element content and in quoted attribute values alike.
 *
 * @param text Any text.
 * @returns The text with `& < > " '` replaced by entities.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeHtml } from "./svg.ts";
 *
 * assert.equal(escapeHtml("it's <b>"), "it&#39;s &lt;b&gt;");
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Control characters, line/paragraph separators and lone surrogates (escaped bytes of `text.ts`). */
const INVISIBLE =
  // deno-lint-ignore no-control-regex -- finding control characters is the point
  /[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Makes every character of a snippet or command visible and safe to write as UTF-8: control
 * characters become `\xNN`, U+2028/U+2029 become `\uNNNN`, and the lone surrogates that stand for
 * undecodable bytes (U+DC80..U+DCFF, Python's surrogateescape) become the byte `\xNN` again.
 * Newlines and tabs are kept. Apply {@linkcode escapeHtml} afterwards.
 *
 * @param text A decoded snippet or command.
 * @returns Printable text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { visibleText } from "./svg.ts";
 *
 * assert.equal(visibleText("\x1b[31mred\ncaf\udce9"), "\\x1b[31mred\ncaf\\xe9");
 * ```
 */
export function visibleText(text: string): string {
  return text.replace(INVISIBLE, (c) => {
    const code = c.charCodeAt(0);
    if (code >= 0xdc80 && code <= 0xdcff) return `\\x${(code - 0xdc00).toString(16).padStart(2, "0")}`;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`;
  });
}

/**
 * Cuts text to at most `max` characters, with `…` at the end when cut.
 *
 * @param text Any text.
 * @param max Largest length of the result (at least 1).
 * @returns The text or its shortened form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clip } from "./svg.ts";
 *
 * assert.equal(clip("abcdef", 4), "abc…");
 * ```
 */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, Math.max(0, max - 1)) + "…";
}

/** The result of {@linkcode packLanes}. */
export interface LanePacking {
  /** Lane of each interval, in input order (0-based). */
  lane: number[];
  /** Number of lanes used. */
  lanes: number;
}

/**
 * Packs intervals into the fewest lanes so that no two intervals of a lane overlap: intervals are
 * taken by start time and each goes to the lowest-numbered free lane (greedy interval partitioning,
 * which is optimal). Status lines carry no slot number, so this rebuilds one slot row per lane.
 * An interval that ends exactly when another starts may share its lane.
 *
 * @param intervals Start and end of each interval (end before start is treated as end = start).
 * @returns The lane of each interval and the lane count.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packLanes } from "./svg.ts";
 *
 * const p = packLanes([{ start: 0, end: 5 }, { start: 1, end: 2 }, { start: 2, end: 4 }, { start: 5, end: 6 }]);
 * assert.deepEqual(p, { lane: [0, 1, 1, 0], lanes: 2 });
 * ```
 */
export function packLanes(intervals: readonly { start: number; end: number }[]): LanePacking {
  const order = intervals.map((_, i) => i).sort((a, b) =>
    intervals[a]!.start - intervals[b]!.start || intervals[a]!.end - intervals[b]!.end || a - b
  );
  const laneEnd: number[] = [];
  const lane = new Array<number>(intervals.length);
  for (const i of order) {
    const { start, end } = intervals[i]!;
    let k = laneEnd.findIndex((e) => e <= start);
    if (k < 0) k = laneEnd.push(0) - 1;
    laneEnd[k] = Math.max(start, end);
    lane[i] = k;
  }
  return { lane, lanes: laneEnd.length };
}

/**
 * A "nice" step (1, 2 or 5 times a power of ten) that cuts `range` into about `count` parts.
 *
 * @param range Length of the axis (> 0).
 * @param count Wanted number of parts.
 * @returns The step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { niceStep } from "./svg.ts";
 *
 * assert.equal(niceStep(97, 5), 20);
 * ```
 */
export function niceStep(range: number, count: number): number {
  if (!(range > 0)) return 1;
  const raw = range / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/**
 * Tick values from 0 (or the first multiple of the step at or above `min`) up to `max`; for time
 * axes over seconds, steps snap to 1/2/5/10/15/30 s, minutes and hours.
 *
 * @param min Axis start.
 * @param max Axis end.
 * @param count About how many ticks.
 * @param time Snap to clock-friendly steps.
 * @returns Ascending tick values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ticks } from "./svg.ts";
 *
 * assert.deepEqual(ticks(0, 100, 4, true), [0, 30, 60, 90]);
 * ```
 */
export function ticks(min: number, max: number, count: number, time = false): number[] {
  let step = niceStep(max - min, count);
  if (time && step >= 10) {
    const steps = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
    step = steps.find((s) => s >= (max - min) / Math.max(1, count)) ?? step;
  }
  const out: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + 1e-9 && out.length < 100; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

/**
 * Seconds as axis text: `0`, `250ms`, `45s`, `2m30s`, `1h05m`.
 *
 * @param s Seconds.
 * @returns Short text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { axisSeconds } from "./svg.ts";
 *
 * assert.deepEqual([0, 0.25, 45, 150, 3900].map(axisSeconds), ["0", "250ms", "45s", "2m30s", "1h05m"]);
 * ```
 */
export function axisSeconds(s: number): string {
  if (s === 0) return "0";
  if (Math.abs(s) < 1) return `${Number((s * 1000).toPrecision(3))}ms`;
  if (s < 60) return `${Number(s.toPrecision(3))}s`;
  if (s < 3600) {
    const m = Math.floor(s / 60), r = Math.round(s % 60);
    return r ? `${m}m${String(r).padStart(2, "0")}s` : `${m}m`;
  }
  const h = Math.floor(s / 3600), m = Math.round((s % 3600) / 60);
  return m ? `${h}h${String(m).padStart(2, "0")}m` : `${h}h`;
}

/** Colours of task outcomes, shared by the report and the dashboard (also used in legends). */
export const OUTCOME_COLORS = {
  ok: "#3b82f6",
  failed: "#e11d48",
  killed: "#f59e0b",
  perEngine: "#8b5cf6",
  zombie: "#94a3b8",
  running: "#22c55e",
} as const;

/** The stylesheet of the report and the dashboard: light, system fonts, cards, tables, charts. */
export const BASE_CSS = `
:root{--bg:#f5f7fb;--card:#fff;--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--accent:#2563eb;
--ok:${OUTCOME_COLORS.ok};--bad:${OUTCOME_COLORS.failed};--warn:${OUTCOME_COLORS.killed};--run:${OUTCOME_COLORS.running}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
header.top{background:linear-gradient(100deg,#0f172a,#1e3a8a);color:#fff;padding:18px 28px;display:flex;
align-items:center;gap:18px;flex-wrap:wrap}
header.top h1{font-size:20px;margin:0;font-weight:650;letter-spacing:.2px}
header.top .sub{color:#cbd5e1;font-size:13px}
.brand{font-weight:800;letter-spacing:.5px;background:#fff;color:#1e3a8a;border-radius:6px;padding:2px 8px;font-size:13px}
main{max-width:1240px;margin:0 auto;padding:20px 24px 40px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin-bottom:18px}
.cards.six{grid-template-columns:repeat(6,minmax(0,1fr))}
@media (max-width:800px){.cards.six{grid-template-columns:repeat(3,minmax(0,1fr))}}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px;
box-shadow:0 1px 2px rgba(15,23,42,.04)}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.6px}
.card .v{font-size:24px;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px}
.card .v small{font-size:13px;color:var(--muted);font-weight:500}
.card.bad .v{color:var(--bad)} .card.good .v{color:#15803d}
section.panel{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px 16px;
margin-bottom:18px;box-shadow:0 1px 2px rgba(15,23,42,.04)}
section.panel h2{font-size:15px;margin:0 0 10px;font-weight:650;display:flex;align-items:center;gap:10px}
section.panel h2 .note{font-weight:400;color:var(--muted);font-size:12.5px}
.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:18px}
.grid2.wide-left{grid-template-columns:minmax(0,3fr) minmax(0,2fr)}
@media (max-width:900px){.grid2,.grid2.wide-left{grid-template-columns:1fr}}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.4px;
border-bottom:1px solid var(--line);padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid #f1f5f9;padding:6px 8px;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.group td{background:#f8fafc;font-weight:600}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12px}
pre.snip{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;min-width:150px;max-width:340px;max-height:7.5em;overflow:auto;
background:#f8fafc;border:1px solid #eef2f7;border-radius:6px;padding:4px 6px}
.rc{display:inline-block;min-width:28px;text-align:center;border-radius:999px;padding:0 7px;font-weight:650;
background:#ffe4e6;color:#be123c}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600;background:#e2e8f0;
color:#334155}
.pill.running{background:#dcfce7;color:#166534}.pill.draining,.pill.stopping{background:#fef3c7;color:#92400e}
.pill.aborting,.pill.gone{background:#ffe4e6;color:#9f1239}.pill.done{background:#dbeafe;color:#1e40af}
.pill.active{background:#dcfce7;color:#166534}
.legend{display:flex;gap:14px;flex-wrap:wrap;color:var(--muted);font-size:12px;margin-top:6px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:7px;vertical-align:-1px}
.bar{height:8px;background:#eef2f7;border-radius:99px;overflow:hidden;min-width:80px}
.bar>span{display:block;height:100%;background:var(--accent)}
svg.chart{width:100%;height:auto;display:block}
svg.chart text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#64748b}
svg.chart .grid{stroke:#eef2f7}
svg.chart .axis{stroke:#cbd5e1}
.empty{color:var(--muted);font-style:italic;padding:8px 0}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:8px}
`;

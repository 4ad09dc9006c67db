/**
 * The run report (`disbatch report`): numbers and a self-contained HTML page from any status file,
 * ours or the reference's, with or without the header line, in completion order or not. Pure:
 * `adapters/report_main.ts` reads the file and writes the page. The numbers come from
 * `./report_summary.ts`, what the driver log adds from `./report_log.ts` (both re-exported here);
 * this module draws the page.
 *
 * @example A page from one status line
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStatusText, renderReportHtml, summarize } from "./report.ts";
 *
 * const { records } = parseStatusText(
 *   "    \t0\t1\t-1\tvm\t10\t0\t0.200\t100.000\t100.200\t0\t''\t0\t''\tsleep 0.2\n",
 * );
 * const html = renderReportHtml(summarize(records), records, "Tasks_disBatch_1");
 * assert.match(html, /^<!DOCTYPE html>/);
 * assert.match(html, /sleep 0\.2/);
 * ```
 *
 * @module
 */

import { formatDuration } from "./progress_view.ts";
import { histogramSvg, type TimelineBar, timelineSvg } from "./report_charts.ts";
import type { LoggedAllocation } from "./report_log.ts";
import { isTask, type ReportSummary } from "./report_summary.ts";
import { type RecordKind, recordKind } from "./status_record.ts";
import { failureTable, formatNumber as fmt, hostTable, outcomeTable } from "./report_tables.ts";
import { BASE_CSS, clip, escapeHtml, OUTCOME_COLORS, visibleText } from "./svg.ts";
import type { StatusRecord } from "./types.ts";

export {
  allocationsInLog,
  type LoggedAllocation,
  loggedAllocationState,
  quarantinedInLog,
} from "./report_log.ts";
export { parseStatusText, percentile, type ReportSummary, summarize } from "./report_summary.ts";

/** Failures listed in the page at most; the rest are counted. */
export const MAX_FAILURE_ROWS = 500;

function barKind(r: StatusRecord, k: RecordKind): TimelineBar["kind"] {
  if (k === "perEngine") return "perEngine";
  if (k === "zombie") return "zombie";
  if (k === "killed") return "killed";
  return r.returnCode !== 0 ? "failed" : "ok";
}

/** Nodes of a logged allocation: `2 (n[1-2])` once it ran, `2 asked` before, else `—`. */
function loggedNodes(a: LoggedAllocation): string {
  if (a.nodeCount !== undefined) return `${a.nodeCount}${a.nodes ? ` (${a.nodes})` : ""}`;
  return a.nodesAsked !== undefined ? `${a.nodesAsked} asked` : "—";
}

function card(k: string, v: string, cls = ""): string {
  return `<div class="card ${cls}"><div class="k">${escapeHtml(k)}</div><div class="v">${v}</div></div>`;
}

function utc(epoch: number): string {
  const d = new Date(epoch * 1000);
  // A hand-edited or corrupt line may hold inf, nan or 1e308: show it, do not crash on it.
  if (!Number.isFinite(d.getTime())) return String(epoch);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/**
 * Renders the self-contained report page: inline CSS and SVG, no script, no external asset.
 * Every text from the status file (hosts, commands, snippets) is made visible and HTML-escaped.
 *
 * @param summary From {@linkcode summarize}.
 * @param records The same records.
 * @param title Page title (for example the run's uid).
 * @param attempts Earlier attempts that ran again (the run's attempts file), listed after the failures.
 * @returns The HTML document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderReportHtml, summarize } from "./report.ts";
 *
 * const html = renderReportHtml(summarize([]), [], "<run>");
 * assert.match(html, /<title>disBatch report: &lt;run&gt;<\/title>/);
 * ```
 */
export function renderReportHtml(
  summary: ReportSummary,
  records: readonly StatusRecord[],
  title: string,
  attempts: readonly StatusRecord[] = [],
): string {
  const s = summary, d = s.duration;
  const bars: TimelineBar[] = [], barriers: number[] = [], failures: StatusRecord[] = [];
  const samples: { seconds: number; failed: boolean }[] = [];
  for (const r of records) {
    const k = recordKind(r.flags);
    if (k === "barrier") barriers.push(r.end);
    else if (k !== "skip") {
      bars.push({
        host: r.host,
        start: r.start,
        end: r.end,
        kind: barKind(r, k),
        label: `task ${r.taskId} (line ${r.line}) rc ${r.returnCode}, ${fmt(r.elapsed, 3)}s: ${
          clip(visibleText(r.command), 120)
        }`,
      });
    }
    if (isTask(k)) samples.push({ seconds: r.elapsed, failed: r.returnCode !== 0 });
    if ((isTask(k) || k === "perEngine") && r.returnCode !== 0) failures.push(r);
  }
  failures.sort((a, b) =>
    Number(recordKind(a.flags) === "perEngine") - Number(recordKind(b.flags) === "perEngine") ||
    a.taskId - b.taskId
  );
  const dur = (x: number | undefined) => (x === undefined ? "—" : escapeHtml(formatDuration(x)));
  const cards = [
    card("Tasks", fmt(s.tasks, 0)),
    // Tasks killed by disbatch (flag K) are not their own failures: a card of their own.
    card("Failed", fmt(s.failed - s.killed, 0), s.failed - s.killed ? "bad" : "good"),
    ...(s.killed ? [card("Killed", fmt(s.killed, 0))] : []),
    ...(s.timedOut ? [card("Timed out", fmt(s.timedOut, 0), "bad")] : []),
    ...(s.attempts ? [card("Ran again", fmt(s.attempts, 0))] : []),
    card("Skipped", fmt(s.skipped, 0)),
    card("Barriers", fmt(s.barriers, 0)),
    card("Hosts", fmt(s.hosts.length, 0)),
    card("Throughput", `${fmt(s.throughput)} <small>tasks/s</small>`),
    card("Wall span", dur(s.wall)),
    card("Task time", dur(s.taskTime)),
    card("Concurrency", `${fmt(s.concurrency, 1)} <small>avg</small>`),
    card("Median", dur(d?.median)),
    card("p90", dur(d?.p90)),
    card("Max", dur(d?.max)),
  ];
  const sub = [
    `${fmt(records.length, 0)} status lines`,
    s.firstStart !== null ? `started ${utc(s.firstStart)}` : "",
    s.lastEnd !== null ? `ended ${utc(s.lastEnd)}` : "",
    s.killed ? `${s.killed} killed` : "",
    s.timedOut ? `${s.timedOut} timed out` : "",
    s.attempts ? `${s.attempts} earlier attempt(s) ran again` : "",
    ...s.quarantined.map((q) => `quarantined ${q.host}: ${q.reason}`),
    s.perEngine ? `${s.perEngine} per-engine (${s.perEngineFailed} failed)` : "",
    s.zombies ? `${s.zombies} zombie line(s)` : "",
  ].filter(Boolean).map(escapeHtml).join(" · ");
  const legend = (Object.keys(OUTCOME_COLORS) as (keyof typeof OUTCOME_COLORS)[])
    .filter((k) => k !== "running")
    .map((k) =>
      `<span><i style="background:${OUTCOME_COLORS[k]}"></i>${k === "perEngine" ? "per-engine" : k}</span>`
    )
    .join("") + `<span><i style="background:#0f172a;height:2px"></i>barrier</span>`;
  const outcomes = outcomeTable([
    { label: "succeeded", count: s.succeeded, color: OUTCOME_COLORS.ok },
    { label: "failed", count: s.failed - s.killed, color: OUTCOME_COLORS.failed },
    { label: "killed", count: s.killed, color: OUTCOME_COLORS.killed },
    { label: "skipped (resume)", count: s.skipped, color: "#cbd5e1" },
    { label: "per-engine", count: s.perEngine, color: OUTCOME_COLORS.perEngine },
    { label: "zombie", count: s.zombies, color: OUTCOME_COLORS.zombie },
    { label: "barrier", count: s.barriers, color: "#0f172a" },
  ]);
  const marks = d ? [{ label: "median", seconds: d.median }, { label: "p90", seconds: d.p90 }] : [];
  const shown = failures.length > MAX_FAILURE_ROWS ? `, first ${MAX_FAILURE_ROWS} shown` : "";
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>disBatch report: ${escapeHtml(title)}</title><style>${BASE_CSS}</style></head>
<body><header class="top"><span class="brand">disbatch</span><div><h1>${escapeHtml(title)}</h1>
<div class="sub">${sub}</div></div></header><main>
<div class="cards six">${cards.join("")}</div>
<section class="panel"><h2>Timeline <span class="note">one row per host and slot (rebuilt from start/end times)</span></h2>
${timelineSvg(bars, barriers)}<div class="legend">${legend}</div></section>
<div class="grid2 wide-left"><section class="panel">
<h2>Task durations <span class="note">${d ? `mean ${dur(d.mean)}, min ${dur(d.min)}` : ""}</span></h2>
${histogramSvg(samples, marks)}</section>
<section class="panel"><h2>Hosts <span class="note">${s.hosts.length} host(s)</span></h2>${
    hostTable(s.hosts, new Set(s.quarantined.map((q) => q.host)))
  }
<h2 style="margin-top:18px">Outcomes</h2>${outcomes}</section></div>
<section class="panel"><h2>Failures <span class="note">${failures.length} failed line(s)${shown}</span></h2>
${failureTable(failures, MAX_FAILURE_ROWS)}</section>
${
    s.allocations.length
      ? `<section class="panel"><h2>Allocations <span class="note">${s.allocations.length} asked for with --alloc ` +
        `(from the driver log; local times)</span></h2><table><thead><tr><th>Allocation</th><th>Slurm job</th>` +
        `<th>Asked for</th><th>Running from</th><th>State</th><th>Nodes</th><th>Ended</th>` +
        `<th>Time limit (UTC)</th></tr></thead><tbody>${
          s.allocations.map((a) =>
            `<tr><td>${escapeHtml(a.label)}</td><td class="mono">${escapeHtml(a.jobId ?? "—")}</td><td>${
              escapeHtml(a.asked)
            }</td><td>${escapeHtml(a.running ?? "never ran")}</td><td><span class="pill ${
              escapeHtml(a.state ?? "")
            }">${escapeHtml(a.state ?? "—")}</span></td><td class="mono">${
              escapeHtml(loggedNodes(a))
            }</td><td>${
              escapeHtml(a.ended ? `${a.ended} (${a.outcome})` : a.running ? "not logged" : "—")
            }</td><td>${escapeHtml(a.endsAt ?? "—")}</td></tr>`
          ).join("")
        }</tbody></table></section>`
      : ""
  }
${
    attempts.length
      ? `<section class="panel"><h2>Attempts that ran again <span class="note">${attempts.length} ` +
        `line(s) of the attempts file: each task ran again, its last outcome is above</span></h2>` +
        `${failureTable(attempts, MAX_FAILURE_ROWS)}</section>`
      : ""
  }
<footer>Generated by <code>disbatch report</code> from the run's status file.</footer></main></body></html>
`;
}

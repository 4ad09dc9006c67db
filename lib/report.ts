/**
 * The run report (`disbatch report`): numbers and a self-contained HTML page from any status file,
 * ours or the reference's, with or without the header line, in completion order or not. Pure:
 * `adapters/report_main.ts` reads the file and writes the page.
 *
 * @example Summarize two lines
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStatusText, summarize } from "./report.ts";
 *
 * const { records } = parseStatusText(
 *   "R   \t1\t2\t-1\tvm\t11\t3\t0.004\t100.000\t100.004\t0\t''\t0\t''\texit 3\n" +
 *     "    \t0\t1\t-1\tvm\t10\t0\t0.200\t100.000\t100.200\t0\t''\t0\t''\tsleep 0.2\n",
 * );
 * const s = summarize(records);
 * assert.equal(s.tasks, 2);
 * assert.equal(s.failed, 1);
 * assert.equal(s.wall, 0.2);
 * ```
 *
 * @module
 */

import { allocationStatus, type AllocShownState } from "./allocator.ts";
import { formatDuration } from "./progress_view.ts";
import { histogramSvg, type TimelineBar, timelineSvg } from "./report_charts.ts";
import { parseStatusLine, type RecordKind, recordKind } from "./status_record.ts";
import { failureTable, formatNumber as fmt, hostTable, outcomeTable } from "./report_tables.ts";
import { BASE_CSS, clip, escapeHtml, OUTCOME_COLORS, visibleText } from "./svg.ts";
import type { StatusRecord } from "./types.ts";

/** Failures listed in the page at most; the rest are counted. */
export const MAX_FAILURE_ROWS = 500;

/** The numbers of a run; `--json` prints this object. Durations and times are in seconds. */
export interface ReportSummary {
  /** Task lines run in this run: normal and killed (`K`); not skipped, zombie, per-engine or barrier lines. */
  tasks: number;
  /** Tasks with return code 0. */
  succeeded: number;
  /** Tasks with a non-zero return code (killed ones included). */
  failed: number;
  /** Tasks killed by disbatch itself (flag `K`). */
  killed: number;
  /** Tasks stopped at their time limit (flag `T`; counted in `failed` too). */
  timedOut: number;
  /** Earlier attempts that failed and ran again (`<run>_attempts.txt`); 0 when there is none. */
  attempts: number;
  /** Hosts the run quarantined, and why (from the driver log, when it is there). */
  quarantined: { host: string; reason: string }[];
  /** Allocations the run asked for (`--alloc`; from the driver log, when it is there). */
  allocations: LoggedAllocation[];
  /** Lines skipped on resume (flag `S`). */
  skipped: number;
  /** Barrier lines (`B`/`C`). */
  barriers: number;
  /** PERENGINE START/STOP lines, and how many of them failed. */
  perEngine: number;
  perEngineFailed: number;
  /** Late reports of tasks already given up on (flag `Z`). */
  zombies: number;
  /** Tasks per host (status lines name the host, not the engine rank), natural host order. */
  hosts: { host: string; tasks: number; failed: number; busy: number; failedAttempts: number }[];
  /** First start and last end over every line but skipped ones (null when there is none). */
  firstStart: number | null;
  lastEnd: number | null;
  /** lastEnd − firstStart. */
  wall: number;
  /** Sum of task durations. */
  taskTime: number;
  /** Tasks per second over the wall span (0 when the span is 0). */
  throughput: number;
  /** Average number of tasks running at once: taskTime / wall. */
  concurrency: number;
  /** Task duration statistics (linear-interpolated percentiles, as numpy's default); null without tasks. */
  duration: { min: number; mean: number; median: number; p90: number; max: number } | null;
}

/**
 * Parses a whole status file: the header line and blank lines are skipped, unparseable lines counted.
 *
 * @param text The file's text.
 * @returns The records in file order and the number of lines that could not be parsed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStatusText } from "./report.ts";
 *
 * assert.deepEqual(parseStatusText("junk\n\n"), { records: [], badLines: 1 });
 * ```
 */
export function parseStatusText(text: string): { records: StatusRecord[]; badLines: number } {
  const records: StatusRecord[] = [];
  let badLines = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const r = parseStatusLine(line);
    if (r === undefined) badLines++;
    else if (r !== "header") records.push(r);
  }
  return { records, badLines };
}

function isTask(k: RecordKind): boolean {
  return k === "normal" || k === "killed" || k === "timeout";
}

/**
 * The hosts a run quarantined, from its driver log (`… WARNING Host n3 quarantined: why; it gets no more tasks`).
 *
 * @param log The driver log's text.
 * @returns Host and reason, in log order, each host once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quarantinedInLog } from "./report.ts";
 *
 * const log = "2026-12-04 10:00:00,000 WARNING Host n3 quarantined: its engine was lost 2 times; it gets no more tasks\n";
 * assert.deepEqual(quarantinedInLog(log), [{ host: "n3", reason: "its engine was lost 2 times" }]);
 * ```
 */
export function quarantinedInLog(log: string): { host: string; reason: string }[] {
  const out = new Map<string, string>();
  for (const m of log.matchAll(/ WARNING Host (\S+) quarantined: (.*); it gets no more tasks$/gm)) {
    if (!out.has(m[1]!)) out.set(m[1]!, m[2]!);
  }
  return [...out].map(([host, reason]) => ({ host, reason }));
}

/** An allocation as the driver log tells it (times as the log writes them, local). */
export interface LoggedAllocation {
  label: string;
  jobId?: string;
  asked: string;
  running?: string;
  /** Its end as Slurm set it (UTC, ISO 8601). */
  endsAt?: string;
  /**
   * Where it stands at the log's end: `submitting`, `pending`, `running`, `ended`, `cancelled`,
   * `failed` (set by {@linkcode summarize}; see {@linkcode loggedAllocationState}).
   */
  state?: AllocShownState;
  /** Nodes it asked for (`-N`). */
  nodesAsked?: number;
  /** Nodes Slurm gave it, and their names, once it ran. */
  nodeCount?: number;
  nodes?: string;
  /** When it was over, and how. */
  ended?: string;
  outcome?: string;
}

/**
 * The allocations a run asked for (`--alloc`), from its driver log.
 *
 * @param log The driver log's text.
 * @returns One row per allocation, in the order they were asked for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocationsInLog } from "./report.ts";
 *
 * const log = "2026-12-04 03:34:02,702 INFO Asking for allocation A1: 60 task(s) ready\n" +
 *   "2026-12-04 03:34:02,716 INFO Allocation A1 is Slurm job 75\n" +
 *   "2026-12-04 03:34:03,087 INFO Allocation A1 is running until 2026-12-04T03:36:02.086Z\n";
 * assert.deepEqual(allocationsInLog(log), [{
 *   label: "A1", asked: "2026-12-04 03:34:02", jobId: "75", running: "2026-12-04 03:34:03",
 *   endsAt: "2026-12-04T03:36:02.086Z",
 * }]);
 * ```
 */
export function allocationsInLog(log: string): LoggedAllocation[] {
  const out = new Map<string, LoggedAllocation>();
  const line = /^(\S+ \S+),\d+ \w+ (.*)$/gm;
  for (const [, at, text] of log.matchAll(line)) {
    const asked = /^Asking for allocation (A\d+):(?:.*; (\d+) node\(s\) asked)?/.exec(text!);
    if (asked) {
      out.set(asked[1]!, {
        label: asked[1]!,
        asked: at!,
        ...(asked[2] ? { nodesAsked: Number(asked[2]) } : {}),
      });
      continue;
    }
    const m = /^Allocation (A\d+)(?: \(job \S+\))? (.*)$/.exec(text!);
    const a = m && out.get(m[1]!);
    if (!a) continue;
    const rest = m[2]!;
    let x: RegExpExecArray | null;
    if ((x = /^is Slurm job (\S+)$/.exec(rest))) a.jobId = x[1]!;
    else if ((x = /^is running(?: until (\S+))?$/.exec(rest))) {
      a.running = at!;
      if (x[1]) a.endsAt = x[1];
    } else if ((x = /^now ends at (\S+)$/.exec(rest))) a.endsAt = x[1]!;
    else if ((x = /^holds (\d+) node\(s\): (\S+)$/.exec(rest))) {
      a.nodeCount = Number(x[1]);
      if (x[2] !== "?") a.nodes = x[2]!;
    } else if ((x = /^is over: (.*)$/.exec(rest))) {
      a.ended = at!;
      a.outcome = x[1]!;
    }
  }
  return [...out.values()];
}

/**
 * Where a logged allocation stands at the log's end.
 *
 * @param a What the log told of it.
 * @returns `ended`, `cancelled` or `failed` once over (as {@linkcode allocationStatus}), else
 *   `running`, `pending` (it has a job id) or `submitting`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loggedAllocationState } from "./report.ts";
 *
 * assert.equal(loggedAllocationState({ label: "A1", asked: "", jobId: "7" }), "pending");
 * assert.equal(
 *   loggedAllocationState({ label: "A1", asked: "", jobId: "7", outcome: "cancelled at the end of the run" }),
 *   "cancelled",
 * );
 * ```
 */
export function loggedAllocationState(a: LoggedAllocation): AllocShownState {
  if (a.outcome !== undefined) {
    return allocationStatus({ state: "ended", outcome: a.outcome, ...(a.running ? { startedAt: 0 } : {}) });
  }
  return a.running ? "running" : a.jobId ? "pending" : "submitting";
}

/**
 * Linear-interpolated percentile of sorted values.
 *
 * @param sorted Ascending values (not empty).
 * @param q Between 0 and 1.
 * @returns The percentile.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percentile } from "./report.ts";
 *
 * assert.equal(percentile([1, 2, 3, 4], 0.5), 2.5);
 * ```
 */
export function percentile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const i = Math.floor(pos);
  const next = sorted[Math.min(i + 1, sorted.length - 1)]!;
  return sorted[i]! + (next - sorted[i]!) * (pos - i);
}

/**
 * Computes the run's numbers from its status lines (any order).
 *
 * @param records Parsed status lines.
 * @returns The summary.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { summarize } from "./report.ts";
 *
 * assert.equal(summarize([]).duration, null);
 * ```
 */
export function summarize(
  records: readonly StatusRecord[],
  attempts: readonly StatusRecord[] = [],
  quarantined: readonly { host: string; reason: string }[] = [],
  allocations: readonly LoggedAllocation[] = [],
): ReportSummary {
  const s: ReportSummary = {
    tasks: 0,
    succeeded: 0,
    failed: 0,
    killed: 0,
    timedOut: 0,
    attempts: attempts.length,
    quarantined: [],
    allocations: [],
    skipped: 0,
    barriers: 0,
    perEngine: 0,
    perEngineFailed: 0,
    zombies: 0,
    hosts: [],
    firstStart: null,
    lastEnd: null,
    wall: 0,
    taskTime: 0,
    throughput: 0,
    concurrency: 0,
    duration: null,
  };
  const hosts = new Map<string, ReportSummary["hosts"][number]>();
  const durations: number[] = [];
  for (const r of records) {
    const k = recordKind(r.flags);
    if (k !== "skip") {
      s.firstStart = Math.min(s.firstStart ?? Infinity, r.start);
      s.lastEnd = Math.max(s.lastEnd ?? -Infinity, r.end, r.start);
    }
    if (k === "skip") s.skipped++;
    else if (k === "barrier") s.barriers++;
    else if (k === "zombie") s.zombies++;
    else if (k === "perEngine") {
      s.perEngine++;
      if (r.returnCode !== 0) s.perEngineFailed++;
    }
    if (!isTask(k)) continue;
    const d = Math.max(0, r.elapsed);
    s.tasks++;
    if (k === "killed") s.killed++;
    if (k === "timeout") s.timedOut++;
    if (r.returnCode !== 0) s.failed++;
    durations.push(d);
    s.taskTime += d;
    const h = hosts.get(r.host) ?? { host: r.host, tasks: 0, failed: 0, busy: 0, failedAttempts: 0 };
    h.tasks++;
    if (r.returnCode !== 0) h.failed++;
    h.busy += d;
    hosts.set(r.host, h);
  }
  for (const a of attempts) {
    const h = hosts.get(a.host) ?? { host: a.host, tasks: 0, failed: 0, busy: 0, failedAttempts: 0 };
    h.failedAttempts++;
    hosts.set(a.host, h);
  }
  s.quarantined = quarantined.map((q) => ({ ...q }));
  s.allocations = allocations.map((a) => ({ ...a, state: loggedAllocationState(a) }));
  s.succeeded = s.tasks - s.failed;
  s.hosts = [...hosts.values()].sort((a, b) => a.host.localeCompare(b.host, "en", { numeric: true }));
  if (s.firstStart !== null && s.lastEnd !== null) s.wall = round6(s.lastEnd - s.firstStart);
  s.taskTime = round6(s.taskTime);
  for (const h of s.hosts) h.busy = round6(h.busy);
  if (s.wall > 0) {
    s.throughput = round6(s.tasks / s.wall);
    s.concurrency = round6(s.taskTime / s.wall);
  }
  if (durations.length > 0) {
    durations.sort((a, b) => a - b);
    s.duration = {
      min: durations[0]!,
      mean: round6(s.taskTime / durations.length),
      median: round6(percentile(durations, 0.5)),
      p90: round6(percentile(durations, 0.9)),
      max: durations[durations.length - 1]!,
    };
  }
  return s;
}

/** Rounds away float noise (status times have millisecond resolution). */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

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

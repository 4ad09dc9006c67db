/**
 * The HTML tables of the run report: hosts, outcomes and failures. Pure: every text that comes
 * from the status file is made visible ({@linkcode visibleText}) and HTML-escaped here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostTable } from "./report_tables.ts";
 *
 * assert.match(hostTable([{ host: "<n1>", tasks: 3, failed: 1, busy: 2.5 }]), /&lt;n1&gt;/);
 * ```
 *
 * @module
 */

import { formatDuration } from "./progress_view.ts";
import { recordKind } from "./status_record.ts";
import { clip, escapeHtml, visibleText } from "./svg.ts";
import type { StatusRecord } from "./types.ts";

/**
 * A number with thousands separators and at most `digits` decimals (`en-US`, whatever the locale).
 *
 * @param x The number.
 * @param digits Most decimals.
 * @returns For example `12,345.67`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatNumber } from "./report_tables.ts";
 *
 * assert.equal(formatNumber(12345.678), "12,345.68");
 * ```
 */
export function formatNumber(x: number, digits = 2): string {
  return x.toLocaleString("en-US", { maximumFractionDigits: digits });
}

function shareBar(part: number, whole: number, color?: string): string {
  const pct = whole > 0 ? (100 * part / whole).toFixed(1) : "0";
  return `<div class="bar"><span style="width:${pct}%${color ? `;background:${color}` : ""}"></span></div>`;
}

/**
 * Tasks per host with a share bar.
 *
 * @param hosts Rows from the summary.
 * @returns A `<table>`, or an empty-state `<div>`.
 */
export function hostTable(
  hosts: readonly { host: string; tasks: number; failed: number; busy: number; failedAttempts?: number }[],
  quarantined: ReadonlySet<string> = new Set(),
): string {
  if (hosts.length === 0) return `<div class="empty">No task ran.</div>`;
  const most = hosts.reduce((m, h) => Math.max(m, h.tasks), 0);
  const rows = hosts.map((h) =>
    `<tr><td class="mono">${escapeHtml(visibleText(h.host))}${
      quarantined.has(h.host) ? ` <span class="pill">quarantined</span>` : ""
    }</td><td class="num">${formatNumber(h.tasks, 0)}</td>` +
    `<td class="num">${h.failed ? `<span class="rc">${formatNumber(h.failed, 0)}</span>` : "0"}${
      h.failedAttempts
        ? ` <small title="failed attempts that ran again">+${h.failedAttempts} retried</small>`
        : ""
    }</td>` +
    `<td class="num">${escapeHtml(formatDuration(h.busy))}</td>` +
    `<td style="width:32%">${shareBar(h.tasks, most)}</td></tr>`
  );
  return `<table><thead><tr><th>Host</th><th class="num">Tasks</th><th class="num">Failed</th>` +
    `<th class="num">Busy</th><th>Share</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/**
 * How the status lines ended, one row per outcome with a bar against the largest.
 *
 * @param rows Label, count and colour of each outcome (rows with count 0 are left out).
 * @returns A `<table>`.
 */
export function outcomeTable(rows: readonly { label: string; count: number; color: string }[]): string {
  const shown = rows.filter((r) => r.count > 0);
  const most = shown.reduce((m, r) => Math.max(m, r.count), 0);
  const body = shown.map((r) =>
    `<tr><td><i class="sw" style="background:${r.color}"></i>${escapeHtml(r.label)}</td>` +
    `<td class="num">${formatNumber(r.count, 0)}</td><td style="width:55%">${
      shareBar(r.count, most, r.color)
    }</td></tr>`
  );
  return `<table class="outcomes"><tbody>${body.join("")}</tbody></table>`;
}

function snippet(text: string, bytes: number): string {
  if (bytes === 0 && text === "") return `<span class="empty">—</span>`;
  return `<pre class="snip">${escapeHtml(visibleText(text))}</pre>`;
}

/**
 * The failures table: task id (`P` prefix for per-engine tasks), line, return code, host,
 * elapsed, stdout and stderr snippets, command.
 *
 * @param failures Failed status lines, in the order to show.
 * @param max Most rows.
 * @returns A `<table>`, or an empty-state `<div>`.
 */
export function failureTable(failures: readonly StatusRecord[], max: number): string {
  if (failures.length === 0) return `<div class="empty">No task failed.</div>`;
  const rows = failures.slice(0, max).map((r) => {
    const k = recordKind(r.flags);
    const id = (k === "perEngine" ? "P" : "") + r.taskId +
      (k === "killed" ? ` <span class="pill">killed</span>` : "") +
      (k === "timeout" ? ` <span class="pill">timed out</span>` : "");
    return `<tr class="fail"><td class="num">${id}</td><td class="num">${r.line}</td>` +
      `<td class="num"><span class="rc">${r.returnCode}</span></td>` +
      `<td class="mono">${escapeHtml(visibleText(r.host))}</td><td class="num">${
        formatNumber(r.elapsed, 3)
      }s</td>` +
      `<td>${snippet(r.stdoutSnippet, r.stdoutBytes)}</td><td>${
        snippet(r.stderrSnippet, r.stderrBytes)
      }</td>` +
      `<td><code>${escapeHtml(visibleText(clip(r.command, 400)))}</code></td></tr>`;
  });
  return `<table><thead><tr><th class="num">Task</th><th class="num">Line</th><th class="num">Rc</th><th>Host</th>` +
    `<th class="num">Elapsed</th><th>Stdout</th><th>Stderr</th><th>Command</th></tr></thead>` +
    `<tbody>${rows.join("")}</tbody></table>`;
}

/**
 * The two SVG charts of the run report: a timeline of every task per host and rebuilt slot (lane),
 * and a histogram of task durations. Pure: records in, SVG text out.
 *
 * @example A two-task timeline
 * ```ts
 * import assert from "node:assert/strict";
 * import { timelineSvg } from "./report_charts.ts";
 *
 * const svg = timelineSvg([
 *   { host: "n1", start: 0, end: 2, kind: "ok", label: "task 0" },
 *   { host: "n1", start: 1, end: 3, kind: "failed", label: "task 1" },
 * ], []);
 * assert.match(svg, /^<svg/);
 * assert.equal(svg.match(/<rect class="t"/g)?.length, 2);
 * ```
 *
 * @module
 */

import { axisSeconds, clip, escapeHtml, OUTCOME_COLORS, packLanes, ticks } from "./svg.ts";

/** How a bar is coloured. */
export type BarKind = keyof typeof OUTCOME_COLORS;

/** One task drawn on the timeline. */
export interface TimelineBar {
  /** Row group. */
  host: string;
  /** Unix seconds. */
  start: number;
  /** Unix seconds. */
  end: number;
  /** Colour. */
  kind: BarKind;
  /** Tooltip text (plain, escaped here). */
  label: string;
}

const WIDTH = 1160;
const LEFT = 168;
const RIGHT = 14;

function rowHeight(lanes: number): number {
  if (lanes <= 16) return 18;
  if (lanes <= 48) return 10;
  return Math.max(2, Math.min(6, Math.floor(720 / lanes)));
}

/**
 * The timeline: one band per host (natural order), one row per lane from {@linkcode packLanes},
 * bars coloured by outcome with a tooltip, dashed lines for barriers, and a time axis relative to
 * the first start. Bars closer than half a pixel in the same lane and colour are merged (their
 * tooltip counts them), so huge runs stay light.
 *
 * @param bars The tasks to draw.
 * @param barriers Unix seconds at which barriers were passed.
 * @returns An `<svg>` element, or an empty-state `<div>` when there is nothing to draw.
 *
 * @example Nothing to draw
 * ```ts
 * import assert from "node:assert/strict";
 * import { timelineSvg } from "./report_charts.ts";
 *
 * assert.match(timelineSvg([], []), /class="empty"/);
 * ```
 */
export function timelineSvg(bars: readonly TimelineBar[], barriers: readonly number[]): string {
  if (bars.length === 0) return `<div class="empty">No task ran in this run (all skipped or none).</div>`;
  let t0 = Infinity, t1 = -Infinity;
  const byHost = new Map<string, TimelineBar[]>();
  for (const b of bars) {
    t0 = Math.min(t0, b.start);
    t1 = Math.max(t1, b.start, b.end);
    const list = byHost.get(b.host);
    if (list) list.push(b);
    else byHost.set(b.host, [b]);
  }
  t1 = Math.max(t1, t0 + 1e-3);
  const hosts = [...byHost.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const perHost = hosts.map((h) => ({ host: h, bars: byHost.get(h)!, pack: packLanes(byHost.get(h)!) }));
  const lanes = perHost.reduce((n, h) => n + h.pack.lanes, 0);
  const rh = rowHeight(lanes);
  const gap = rh >= 10 ? 6 : 3;
  const top = 8;
  const plotH = lanes * rh + gap * (hosts.length - 1);
  const height = top + plotH + 26;
  const scale = (WIDTH - LEFT - RIGHT) / (t1 - t0);
  const x = (t: number) => LEFT + (t - t0) * scale;
  const out: string[] = [
    `<svg class="chart" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="Task timeline per host and slot">`,
  ];
  for (const v of ticks(0, t1 - t0, 10, true)) {
    const px = x(t0 + v).toFixed(1);
    out.push(`<line class="grid" x1="${px}" x2="${px}" y1="${top}" y2="${top + plotH}"/>`);
    const anchor = Number(px) > WIDTH - RIGHT - 24 ? "end" : "middle";
    out.push(`<text x="${px}" y="${top + plotH + 16}" text-anchor="${anchor}">${axisSeconds(v)}</text>`);
  }
  let y = top;
  perHost.forEach((h, hi) => {
    const bandH = h.pack.lanes * rh;
    if (hi % 2 === 0) {
      out.push(
        `<rect x="${LEFT}" y="${y}" width="${WIDTH - LEFT - RIGHT}" height="${bandH}" fill="#f8fafc"/>`,
      );
    }
    const label = clip(h.host, 22);
    out.push(
      `<text x="${LEFT - (rh >= 10 ? 22 : 8)}" y="${
        (y + bandH / 2 + 4).toFixed(1)
      }" text-anchor="end" font-weight="600">` +
        `<title>${escapeHtml(h.host)}: ${h.bars.length} task(s) in ${h.pack.lanes} lane(s)</title>` +
        `${escapeHtml(label)}</text>`,
    );
    if (rh >= 10) {
      for (let k = 0; k < h.pack.lanes; k++) {
        out.push(
          `<text x="${LEFT - 6}" y="${y + k * rh + rh / 2 + 3.5}" text-anchor="end" font-size="9">${
            k + 1
          }</text>`,
        );
      }
    }
    out.push(...laneRects(h.bars, h.pack.lane, { y, rh, x, scale }));
    y += bandH + gap;
  });
  for (const b of barriers) {
    const px = x(b).toFixed(1);
    out.push(
      `<line x1="${px}" x2="${px}" y1="${top - 4}" y2="${
        top + plotH
      }" stroke="#0f172a" stroke-dasharray="3 3">` +
        `<title>barrier at +${axisSeconds(b - t0)}</title></line>`,
    );
  }
  out.push(
    `<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${top + plotH}" y2="${top + plotH}"/>`,
    `</svg>`,
  );
  return out.join("");
}

function laneRects(
  bars: readonly TimelineBar[],
  lane: readonly number[],
  g: { y: number; rh: number; x: (t: number) => number; scale: number },
): string[] {
  const order = bars.map((_, i) => i).sort((a, b) => lane[a]! - lane[b]! || bars[a]!.start - bars[b]!.start);
  const out: string[] = [];
  let cur: { lane: number; kind: BarKind; x1: number; x2: number; n: number; label: string } | undefined;
  const flush = () => {
    if (!cur) return;
    const pad = g.rh >= 10 ? 2 : g.rh >= 4 ? 1 : 0;
    const title = cur.n === 1 ? cur.label : `${cur.n} tasks`;
    out.push(
      `<rect class="t" x="${cur.x1.toFixed(1)}" y="${g.y + cur.lane * g.rh + pad}" width="${
        Math.max(1, cur.x2 - cur.x1 - (cur.x2 - cur.x1 >= 4 ? 1 : 0)).toFixed(1)
      }" height="${g.rh - 2 * pad}" rx="${g.rh >= 10 ? 2 : 0}" fill="${OUTCOME_COLORS[cur.kind]}">` +
        `<title>${escapeHtml(title)}</title></rect>`,
    );
  };
  for (const i of order) {
    const b = bars[i]!;
    const x1 = g.x(b.start), x2 = g.x(Math.max(b.start, b.end));
    // Merge only slivers (both under 3 px) that touch: separate tasks stay visible as separate bars.
    const sliver = x2 - x1 < 3 && cur !== undefined && cur.x2 - cur.x1 < 3;
    if (
      cur && sliver && cur.lane === lane[i] && cur.kind === b.kind && x1 <= Math.max(cur.x2, cur.x1 + 1) + 0.5
    ) {
      cur.x2 = Math.max(cur.x2, x2);
      cur.n++;
      continue;
    }
    flush();
    cur = { lane: lane[i]!, kind: b.kind, x1, x2, n: 1, label: b.label };
  }
  flush();
  return out;
}

/** One duration for {@linkcode histogramSvg}. */
export interface DurationSample {
  /** Seconds. */
  seconds: number;
  /** Drawn in the failure colour, stacked on top. */
  failed: boolean;
}

/**
 * A histogram of task durations: about 40 bins of equal width from 0 to the longest (log-spaced
 * bins when the longest is over 50 times the median), failed tasks stacked in red, and dashed
 * markers (for example median and p90).
 *
 * @param samples Task durations.
 * @param marks Vertical markers with their label.
 * @returns An `<svg>` element, or an empty-state `<div>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { histogramSvg } from "./report_charts.ts";
 *
 * const svg = histogramSvg([{ seconds: 1, failed: false }, { seconds: 2, failed: true }], []);
 * assert.match(svg, /<svg/);
 * ```
 */
export function histogramSvg(
  samples: readonly DurationSample[],
  marks: readonly { label: string; seconds: number }[],
): string {
  if (samples.length === 0) return `<div class="empty">No task durations to show.</div>`;
  const W = 680, H = 280, L = 44, R = 24, T = 16, B = 30;
  const sorted = samples.map((s) => Math.max(0, s.seconds)).sort((a, b) => a - b);
  const max = sorted[sorted.length - 1]!;
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const log = median > 0 && max / median > 50 && sorted[0]! > 0;
  const lo = log ? Math.log10(sorted[0]!) : 0;
  const hi = log ? Math.log10(max) : max;
  const nBins = Math.min(40, Math.max(1, new Set(sorted).size > 1 ? 40 : 1));
  const span = hi - lo || 1;
  const pos = (s: number) => (log ? Math.log10(Math.max(s, 1e-9)) - lo : s - lo) / span;
  const bin = (s: number) => Math.min(nBins - 1, Math.max(0, Math.floor(pos(s) * nBins)));
  const ok = new Array<number>(nBins).fill(0), bad = new Array<number>(nBins).fill(0);
  for (const s of samples) (s.failed ? bad : ok)[bin(Math.max(0, s.seconds))]!++;
  const top = Math.max(...ok.map((v, i) => v + bad[i]!));
  const pw = W - L - R, ph = H - T - B;
  const bw = pw / nBins;
  const yOf = (n: number) => T + ph - (n / top) * ph;
  const out = [
    `<svg class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="Histogram of task durations">`,
  ];
  for (const v of ticks(0, top, 4)) {
    if (v !== Math.round(v)) continue;
    const py = yOf(v).toFixed(1);
    out.push(`<line class="grid" x1="${L}" x2="${W - R}" y1="${py}" y2="${py}"/>`);
    out.push(
      `<text x="${L - 6}" y="${Number(py) + 4}" text-anchor="end">${v.toLocaleString("en-US")}</text>`,
    );
  }
  for (let i = 0; i < nBins; i++) {
    const x0 = L + i * bw + 0.5, w = Math.max(0.5, bw - 1);
    const from = log ? 10 ** (lo + (i / nBins) * span) : lo + (i / nBins) * span;
    const to = log ? 10 ** (lo + ((i + 1) / nBins) * span) : lo + ((i + 1) / nBins) * span;
    const tip = `${axisSeconds(from)} – ${axisSeconds(to)}: ${ok[i]} ok, ${bad[i]} failed`;
    if (ok[i]) {
      out.push(
        `<rect x="${x0.toFixed(1)}" y="${yOf(ok[i]!).toFixed(1)}" width="${w.toFixed(1)}" height="${
          (T + ph - yOf(ok[i]!)).toFixed(1)
        }" fill="${OUTCOME_COLORS.ok}"><title>${escapeHtml(tip)}</title></rect>`,
      );
    }
    if (bad[i]) {
      out.push(
        `<rect x="${x0.toFixed(1)}" y="${yOf(ok[i]! + bad[i]!).toFixed(1)}" width="${w.toFixed(1)}" height="${
          (yOf(ok[i]!) - yOf(ok[i]! + bad[i]!)).toFixed(1)
        }" fill="${OUTCOME_COLORS.failed}"><title>${escapeHtml(tip)}</title></rect>`,
      );
    }
  }
  const xTicks = log
    ? ticks(Math.ceil(lo), Math.floor(hi), 6).filter(Number.isInteger).map((e) => 10 ** e)
    : ticks(0, hi, 6, true);
  for (const v of xTicks) {
    const px = (L + pos(v) * pw).toFixed(1);
    out.push(`<text x="${px}" y="${H - 12}" text-anchor="middle">${axisSeconds(v)}</text>`);
  }
  // Labels of close markers (median and p90 often are) go one below the other, never on top.
  marks.forEach((m, i) => {
    if (!(m.seconds >= (log ? 10 ** lo : 0))) return;
    const px = (L + Math.min(1, pos(m.seconds)) * pw).toFixed(1);
    out.push(
      `<line x1="${px}" x2="${px}" y1="${T}" y2="${T + ph}" stroke="#0f172a" stroke-dasharray="4 3"/>`,
      `<text x="${Number(px) + 4}" y="${
        T + 10 + 13 * i
      }" fill="#0f172a" stroke="#fff" stroke-width="3" paint-order="stroke">${escapeHtml(m.label)}</text>`,
    );
  });
  if (log) out.push(`<text x="${W - R}" y="${T - 3}" text-anchor="end">log scale</text>`);
  out.push(
    `<line class="axis" x1="${L}" x2="${W - R}" y1="${T + ph}" y2="${T + ph}"/>`,
    `</svg>`,
  );
  return out.join("");
}

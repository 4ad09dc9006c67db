/**
 * The full-screen monitor of `<run>_dbUtil.sh --mon`, as pure functions:
 * {@linkcode renderMonitor} turns a driver snapshot into exactly the lines of the screen, and
 * {@linkcode allocationLines} draws the run's allocations. What a key does is decided in
 * `./monitor_keys.ts` ({@linkcode decodeKeys}, {@linkcode monitorKey}, re-exported here); widths and
 * boxes come from `./screen_text.ts`. `adapters/monitor.ts` owns the terminal and the connection and
 * only paints lines and sends what these functions return.
 *
 * The screen is plain ASCII (HPC login nodes often run with `LANG=C`); the selected engine row is
 * marked with `>` and shown in reverse video.
 *
 * @example Render a small run
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderMonitor, visibleLength } from "./monitor_view.ts";
 *
 * const state = {
 *   uid: "/scratch/Tasks_disBatch_1", startedAt: 1000, finished: 4, failed: 1, barriers: 0,
 *   skipped: 0, retried: 0, timedOut: 0, running: 2, queued: 4, slots: 2, phase: "running" as const,
 *   tasksEnded: true, quarantined: [],
 *   contexts: [{ id: 0, label: "SSH0", taskLimit: 0, assigned: 6, engines: 1 }],
 *   engines: [{ rank: 0, context: 0, host: "n001", slots: 2, state: "active", running: 2,
 *     assigned: 6, finished: 4, failed: 1 }],
 * };
 * const lines = renderMonitor(state, { columns: 80, rows: 12, selected: 0, now: 1010 });
 * assert.equal(lines.length, 12);
 * assert.ok(lines.every((l) => visibleLength(l) <= 80));
 * assert.match(lines[0]!, /Run: Tasks_disBatch_1/);
 * ```
 *
 * @module
 */

import { type Allocation, type AllocationRow, allocationRows } from "./allocator.ts";
import { formatDuration } from "./progress_view.ts";
import type { RunState, WireEngine } from "./protocol.ts";
import { monitorEngines } from "./monitor_keys.ts";
import { boxed, clean, fit, overlay, padEnd, padStart, RESET, REVERSE } from "./screen_text.ts";

export {
  decodeKeys,
  followSelection,
  type MonitorDialog,
  monitorEngines,
  monitorKey,
  type MonitorKeyName,
  type MonitorStep,
  type MonitorUi,
} from "./monitor_keys.ts";
export { visibleLength } from "./screen_text.ts";

/** Smallest usable window (rows × columns). */
export const MIN_ROWS = 12;
/** Smallest usable window width. */
export const MIN_COLUMNS = 60;

/** Shown when the connection to the driver is gone. */
export const ENDED_MESSAGE = "[the disbatch driver has exited: the run is over]";

/** One engine as the monitor sees it; `lastHeard` (Unix seconds) is shown when a driver sends it. */
export type MonitorEngine = WireEngine;

/** What the driver sends in a `snapshot` message (the wire's run state, see `protocol.ts`). */
export type MonitorState = RunState;

/** How to draw one frame. */
export interface MonitorView {
  /** Terminal width. */
  columns: number;
  /** Terminal height; exactly this many lines are returned. */
  rows: number;
  /** Index of the selected row in {@linkcode monitorEngines}. */
  selected: number;
  /** A yes/no question drawn in a box over the screen (e.g. `Stop engine 3 softly? y/n`). */
  dialog?: string;
  /** Draw the key help over the screen. */
  help?: boolean;
  /** Set when the driver is gone (e.g. {@linkcode ENDED_MESSAGE}); the footer then only offers `q`. */
  ended?: string;
  /** A one-line message under the progress bar (the driver's last answer). */
  notice?: string;
  /** Unix seconds, for the elapsed time, the ETA and `Last`. */
  now: number;
}

/**
 * The label of a run: the basename of its uid.
 * @param uid the uid path prefix
 * @returns e.g. `Tasks_disBatch_260101_1`
 */
function runLabel(uid: string): string {
  return uid.split("/").filter(Boolean).pop() ?? uid;
}

function statusWord(state: MonitorState): string {
  if (state.phase === "running") return state.tasksEnded ? "running" : "running (reading tasks)";
  if (state.phase === "draining") return "draining";
  return "ending";
}

function contextLabel(state: MonitorState, id: number): string {
  return state.contexts.find((c) => c.id === id)?.label ?? `c${id}`;
}

/** The counters, spaced as widely as the window allows (a zero Skipped goes first when short). */
function countsText(state: MonitorState, columns: number): string {
  const parts = [
    `Slots ${state.slots}`,
    `Running ${state.running}`,
    `Queued ${state.queued}${state.tasksEnded ? "" : "+"}`,
    `Finished ${state.finished}`,
    `Failed ${state.failed}`,
    `Barrier ${state.barriers}`,
    `Skipped ${state.skipped}`,
  ];
  // Attempts run again and time limits reached, when there were any (before Skipped).
  const extra = [
    ...(state.retried ? [`Retried ${state.retried}`] : []),
    ...(state.timedOut ? [`Timed out ${state.timedOut}`] : []),
    ...(state.held ? [`Held ${state.held}`] : []),
  ];
  parts.splice(parts.length - 1, 0, ...extra);
  const short = state.skipped === 0 ? parts.slice(0, -1) : parts;
  for (const [p, gap] of [[parts, 3], [parts, 2], [parts, 1], [short, 1]] as const) {
    const line = p.join(" ".repeat(gap));
    if (line.length <= columns) return line;
  }
  return short.join(" ");
}

/** Progress line: bar, percentage, counts and ETA (tasks/s since the start). */
function progressText(state: MonitorState, now: number, width: number): string {
  const done = state.finished + state.skipped;
  const total = done + state.running + state.queued;
  const frac = total > 0 ? done / total : state.tasksEnded ? 1 : 0;
  const pct = `${Math.floor(frac * 100)}%`;
  const elapsed = Math.max(0, now - state.startedAt);
  let eta = "ETA ?";
  if (state.tasksEnded && state.running + state.queued === 0) eta = "ETA 0s";
  else if (state.tasksEnded && state.finished > 0 && elapsed > 0) {
    eta = `ETA ${formatDuration(((state.running + state.queued) * elapsed) / state.finished)}`;
  }
  const counts = `${done}/${total}${state.tasksEnded ? "" : "+"} tasks`;
  const tail = ` ${padStart(pct, 4)}  ${counts}  ${eta}`;
  const barWidth = Math.max(10, Math.min(50, width - tail.length - 2));
  const filled = Math.round(frac * barWidth);
  return `[${"#".repeat(filled)}${".".repeat(barWidth - filled)}]${tail}`;
}

interface Column {
  title: string;
  width: number;
  right: boolean;
  cell(e: MonitorEngine): string;
}

function engineColumns(state: MonitorState, columns: number, now: number): Column[] {
  const num = (title: string, f: (e: MonitorEngine) => number): Column => ({
    title,
    width: title.length,
    right: true,
    cell: (e) => String(f(e)),
  });
  const cols: Column[] = [
    { title: "Rank", width: 4, right: true, cell: (e) => String(e.rank) },
    { title: "Context", width: 7, right: false, cell: (e) => contextLabel(state, e.context) },
    { title: "Host", width: 0, right: false, cell: (e) => e.host },
    { title: "State", width: 8, right: false, cell: (e) => e.state },
  ];
  if (state.engines.some((e) => typeof e.lastHeard === "number")) {
    cols.push({
      title: "Last",
      width: 5,
      right: true,
      cell: (e) => typeof e.lastHeard === "number" ? `${Math.max(0, Math.round(now - e.lastHeard))}s` : "-",
    });
  }
  cols.push(
    num("Avail", (e) => Math.max(0, e.slots - e.running)),
    num("Assigned", (e) => e.assigned),
    num("Finished", (e) => e.finished),
    num("Failed", (e) => e.failed),
  );
  // one column for the `>` marker, one space between columns; the host takes what is left,
  // a long context label some of it
  const fixed = 1 + cols.reduce((n, c) => n + c.width, 0) + (cols.length - 1);
  let spare = Math.max(4, columns - fixed);
  const ctx = cols[1]!;
  const longest = Math.max(...monitorEngines(state).map((e) => contextLabel(state, e.context).length), 0);
  const extra = Math.min(Math.max(0, longest - ctx.width), Math.max(0, Math.floor((spare - 6) / 3)));
  ctx.width += extra;
  spare -= extra;
  const hosts = Math.max(4, ...monitorEngines(state).map((e) => [...clean(e.host)].length));
  cols[2]!.width = Math.min(spare, hosts);
  return cols;
}

function row(cols: Column[], cells: string[], marker: string): string {
  const parts = cols.map((c, i) => {
    const t = fit(clean(cells[i] ?? ""), c.width);
    return c.right ? padStart(t, c.width) : padEnd(t, c.width);
  });
  return (marker + parts.join(" ")).trimEnd();
}

/**
 * The allocations of the run as a table: a title row, then one row per allocation (job id, state,
 * nodes, start, end or time left, note), oldest first. When there are more than `room` rows, the
 * ones alive are kept and the oldest that are over give way (`Note (+N earlier)` counts them).
 * @param allocs every allocation of the run @param now Unix seconds @param room rows for allocations
 * @returns the lines (not cut to the window's width)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocationLines } from "./monitor_view.ts";
 * const lines = allocationLines([{ label: "A1", jobId: "7", state: "pending", submittedAt: 0, nodesAsked: 2 }], 30, 5);
 * assert.deepEqual(lines, [
 *   " Alloc Job State   Nodes   Start End Note",
 *   " A1    7   pending 2 asked -     -   pending for 30s",
 * ]);
 * ```
 */
export function allocationLines(allocs: readonly Allocation[], now: number, room: number): string[] {
  const all = allocationRows(allocs, now);
  let shown = all;
  if (all.length > room) {
    const keep = new Set(all.map((r, i) => ({ r, i })).filter(({ r }) => isAlive(r)).map(({ i }) => i));
    for (let i = all.length - 1; i >= 0 && keep.size < room; i--) keep.add(i);
    shown = all.filter((_, i) => keep.has(i)).slice(-Math.max(1, room));
  }
  const hidden = all.length - shown.length;
  const titles: AllocationRow = {
    label: "Alloc",
    job: "Job",
    state: "State" as AllocationRow["state"],
    nodes: "Nodes",
    start: "Start",
    end: "End",
    note: hidden > 0 ? `Note (+${hidden} earlier)` : "Note",
  };
  const keys = ["label", "job", "state", "nodes", "start", "end", "note"] as const;
  const widths = keys.map((k) => Math.max(...[titles, ...shown].map((r) => [...clean(r[k])].length)));
  // Long node lists are cut so that the note keeps some room.
  widths[3] = Math.min(widths[3]!, 30);
  return [titles, ...shown].map((r) =>
    (" " + keys.map((k, i) => padEnd(fit(clean(r[k]), widths[i]!), widths[i]!)).join(" ")).trimEnd()
  );
}

function isAlive(r: AllocationRow): boolean {
  return r.state === "submitting" || r.state === "pending" || r.state === "running";
}

/** The lines of the help overlay. */
export const HELP_LINES: readonly string[] = [
  "disbatch monitor: keys",
  "",
  "Up / k / u    select the previous engine",
  "Down / j / d  select the next engine",
  "E             stop the selected engine softly: it",
  "              finishes its running tasks, then leaves",
  "C             stop the selected engine's whole context",
  "h / ?         show or hide this help",
  "q             quit the monitor (the run goes on)",
  "",
  "Press any key to close this help.",
];

/**
 * Draw one frame of the monitor.
 *
 * @param state the driver's last snapshot, or undefined before the first one arrives
 * @param view window size, selection, overlays and the current time
 * @returns exactly `view.rows` lines, each at most `view.columns` columns wide (see
 *   {@linkcode visibleLength}); a window smaller than {@linkcode MIN_ROWS} × {@linkcode MIN_COLUMNS}
 *   gets a one-line request for a bigger one
 * @example A window that is too small
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderMonitor } from "./monitor_view.ts";
 *
 * const lines = renderMonitor(undefined, { columns: 50, rows: 5, selected: 0, now: 0 });
 * assert.equal(lines.length, 5);
 * assert.match(lines[0]!, /need 60x12/);
 * ```
 */
export function renderMonitor(state: MonitorState | undefined, view: MonitorView): string[] {
  const rows = Math.max(0, Math.floor(view.rows));
  const columns = Math.max(0, Math.floor(view.columns));
  const lines: string[] = [];
  const put = (s: string) => lines.push(fit(s, columns).trimEnd());
  if (rows < MIN_ROWS || columns < MIN_COLUMNS) {
    put(`Window too small: need ${MIN_COLUMNS}x${MIN_ROWS}, have ${columns}x${rows} (q quits)`);
    while (lines.length < rows) lines.push("");
    return lines.slice(0, rows);
  }
  const footer = view.ended ? "q quit" : "Up/Down select  E stop engine  C stop context  h help  q quit";
  if (!state) {
    put("disbatch monitor");
    put(view.ended ?? "Waiting for the driver's first report...");
    while (lines.length < rows - 1) lines.push("");
    put(footer);
    return lines;
  }
  const elapsed = formatDuration(Math.max(0, view.now - state.startedAt));
  const status = view.ended ? "over (showing the last report)" : statusWord(state);
  const ends = state.stopAt !== undefined && !view.ended
    ? `   Hand-off in: ${formatDuration(Math.max(0, state.stopAt - view.now))}`
    : "";
  put(`Run: ${clean(runLabel(state.uid))}   Status: ${status}   Elapsed: ${elapsed}${ends}`);
  put(countsText(state, columns));
  put(progressText(state, view.now, columns));
  if (state.quarantined.length > 0) {
    put(`Quarantined: ${state.quarantined.map((q) => `${clean(q.host)} (${clean(q.reason)})`).join("; ")}`);
  }
  if (state.allocatorPaused) put(`Allocator paused: ${clean(state.allocatorPaused)}`);
  if ((state.allocations ?? []).length > 0) {
    // At most half of what is left (at least two rows): the engines keep the rest.
    const room = Math.max(2, Math.floor((rows - lines.length - 4) / 2));
    for (const l of allocationLines(state.allocations!, view.now, room)) put(l);
  }
  put(view.ended ?? clean(view.notice ?? ""));
  const cols = engineColumns(state, columns, view.now);
  put(row(cols, cols.map((c) => c.title), " "));
  const engines = monitorEngines(state);
  const space = rows - lines.length - 1;
  const selected = Math.min(Math.max(0, view.selected), Math.max(0, engines.length - 1));
  const first = engines.length <= space
    ? 0
    : Math.min(Math.max(0, selected - space + 1), engines.length - space);
  let highlight = -1;
  if (engines.length === 0) {
    put(
      state.phase === "running"
        ? `  No engine yet: add some with ${clean(runLabel(state.uid))}_dbUtil.sh -s HOST:N`
        : "  No engine left",
    );
  }
  for (let i = first; i < Math.min(engines.length, first + space); i++) {
    const e = engines[i]!;
    if (i === selected) highlight = lines.length;
    put(row(cols, cols.map((c) => c.cell(e)), i === selected ? ">" : " "));
  }
  while (lines.length < rows - 1) lines.push("");
  const hidden = engines.length - space;
  put(hidden > 0 ? `${footer}   (${first + 1}-${first + space} of ${engines.length})` : footer);
  let covered = new Set<number>();
  if (view.help) covered = overlay(lines, boxed([...HELP_LINES], columns), columns);
  else if (view.dialog) covered = overlay(lines, boxed(["", clean(view.dialog), ""], columns), columns);
  if (highlight >= 0 && !covered.has(highlight)) {
    lines[highlight] = REVERSE + padEnd(lines[highlight]!, columns) + RESET;
  }
  return lines;
}

/**
 * Plain-text screen helpers for the monitor: the width of a line in columns, control characters
 * made harmless, cutting and padding to a width, and boxes drawn over lines. Widths count code
 * points; escape sequences take no room. Pure; {@linkcode visibleLength} is re-exported from
 * {@linkcode ./monitor_view.ts}.
 *
 * @example Cut, pad and box
 * ```ts
 * import assert from "node:assert/strict";
 * import { boxed, fit, padStart } from "./screen_text.ts";
 *
 * assert.equal(fit("abcdefgh", 6), "abc...");
 * assert.equal(padStart("7", 3), "  7");
 * assert.deepEqual(boxed(["hi"], 80), ["+----+", "| hi |", "+----+"]);
 * ```
 *
 * @module
 */

/** Starts reverse video. */
export const REVERSE = "\x1b[7m";
/** Resets all attributes. */
export const RESET = "\x1b[0m";
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/**
 * The number of columns a line takes (escape sequences take none).
 * @param line a rendered line
 * @returns its width in columns (one per code point)
 * @example Reverse video takes no room
 * ```ts
 * import assert from "node:assert/strict";
 * import { visibleLength } from "./screen_text.ts";
 *
 * assert.equal(visibleLength("\x1b[7mab\x1b[0m"), 2);
 * ```
 */
export function visibleLength(line: string): number {
  return [...line.replace(ANSI, "")].length;
}

/**
 * Control characters (escape sequences in a label, say) must not reach the terminal.
 * @param s any text @returns `s` with every control character replaced by `?`
 */
export function clean(s: string): string {
  return s.replace(CONTROL, "?");
}

/**
 * Cut to `width` code points, ending in `...` when something was cut.
 * @param s the text @param width columns available @returns at most `width` code points
 */
export function fit(s: string, width: number): string {
  const cps = [...s];
  if (cps.length <= width) return s;
  if (width <= 3) return cps.slice(0, Math.max(0, width)).join("");
  return cps.slice(0, width - 3).join("") + "...";
}

/** Pad with spaces on the right to `width` code points (longer text is left as it is). */
export function padEnd(s: string, width: number): string {
  return s + " ".repeat(Math.max(0, width - [...s].length));
}

/** Pad with spaces on the left to `width` code points (longer text is left as it is). */
export function padStart(s: string, width: number): string {
  return " ".repeat(Math.max(0, width - [...s].length)) + s;
}

/**
 * Draw `box` (lines of equal width) centred over `lines`, in place; the lines drawn over lose their
 * escape sequences.
 * @param lines the screen, changed in place @param box the box's lines @param columns screen width
 * @returns the indexes of the lines the box covers
 */
export function overlay(lines: string[], box: string[], columns: number): Set<number> {
  const covered = new Set<number>();
  const w = box[0]?.length ?? 0;
  const top = Math.max(0, Math.floor((lines.length - box.length) / 2));
  const left = Math.max(0, Math.floor((columns - w) / 2));
  box.forEach((b, i) => {
    const y = top + i;
    if (y >= lines.length) return;
    const under = padEnd([...lines[y]!.replace(ANSI, "")].slice(0, columns).join(""), left);
    const cps = [...under];
    lines[y] = (cps.slice(0, left).join("") + b + cps.slice(left + w).join("")).trimEnd();
    covered.add(y);
  });
  return covered;
}

/**
 * Text in a box of `+`, `-` and `|`, one space of margin, no wider than `columns - 2`.
 * @param text the lines inside @param columns screen width @returns the box's lines, all of one width
 */
export function boxed(text: string[], columns: number): string[] {
  const inner = Math.min(columns - 4, Math.max(...text.map((t) => [...t].length)) + 2);
  const edge = `+${"-".repeat(inner)}+`;
  return [
    edge,
    ...text.map((t) => `|${padEnd(fit(` ${t}`, inner), inner)}|`),
    edge,
  ];
}

/**
 * Durations and points in time as users write them on the command line, in `#DISBATCH TIMEOUT`,
 * and as Slurm prints them (`squeue -o %L`: `MM:SS`, `HH:MM:SS`, `D-HH:MM:SS`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDuration } from "./duration.ts";
 *
 * assert.equal(parseDuration("90"), 90);
 * assert.equal(parseDuration("1:30:00"), 5400);
 * assert.equal(parseDuration("2-00:00:00"), 172800);
 * assert.equal(parseDuration("10m"), 600);
 * assert.equal(parseDuration("soon"), undefined);
 * ```
 *
 * @module
 */

const UNIT_S: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Seconds from `S`, `S.s`, `Ns`/`Nm`/`Nh`/`Nd`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`.
 * @param text the duration as written (surrounding blanks allowed)
 * @returns seconds (≥ 0), or undefined when it is not a duration
 */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  let m = /^(\d+(?:\.\d+)?|\.\d+)([smhd])?$/i.exec(t);
  if (m) return Number(m[1]) * UNIT_S[(m[2] ?? "s").toLowerCase()]!;
  m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(t);
  if (!m) return undefined;
  const [, days, a, b, c] = m;
  if (days === undefined && b === undefined) return undefined; // a bare number was handled above
  const n = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  if (days !== undefined) {
    // D-HH, D-HH:MM, D-HH:MM:SS
    if (n(b) >= 60 || n(c) >= 60) return undefined;
    return n(days) * 86400 + n(a) * 3600 + n(b) * 60 + n(c);
  }
  if (c === undefined) {
    // MM:SS
    if (n(b) >= 60) return undefined;
    return n(a) * 60 + n(b);
  }
  if (n(b) >= 60 || n(c) >= 60) return undefined;
  return n(a) * 3600 + n(b) * 60 + n(c);
}

/**
 * A point in time: Unix seconds (`1767225600`), or a local date and time
 * (`2026-12-04T18:00`, `2026-12-04 18:00:30`), given the local time zone's offset.
 * @param text as written @param offsetMinutes minutes to add to local time to get UTC
 *   (`Date.prototype.getTimezoneOffset()` of that date)
 * @returns Unix seconds, or undefined when it is neither form
 */
export function parsePointInTime(text: string, offsetMinutes: number): number | undefined {
  const t = text.trim();
  if (/^\d{9,}(\.\d+)?$/.test(t)) return Number(t);
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as number[];
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > 31 || h! > 23 || mi! > 59 || s! > 59) return undefined;
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!) / 1000 + offsetMinutes * 60;
}

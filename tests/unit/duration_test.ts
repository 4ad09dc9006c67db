import assert from "node:assert/strict";
import { parseDuration, parsePointInTime } from "../../lib/duration.ts";

Deno.test("parseDuration() reads seconds, units and Slurm's [D-]HH:MM:SS", () => {
  const cases: [string, number | undefined][] = [
    ["0", 0],
    ["90", 90],
    ["1.5", 1.5],
    [" 30 ", 30],
    ["90s", 90],
    ["10m", 600],
    ["2h", 7200],
    ["1d", 86400],
    ["2H", 7200],
    ["05:30", 330],
    ["1:00:00", 3600],
    ["48:00:00", 172800],
    ["1-00:00:00", 86400],
    ["2-12", 216000],
    ["2-12:30", 217800],
    ["", undefined],
    ["-5", undefined],
    ["1:60", undefined],
    ["1:00:60", undefined],
    ["10 m", undefined],
    ["UNLIMITED", undefined],
    ["INVALID", undefined],
    ["1e3", undefined],
  ];
  for (const [text, want] of cases) assert.equal(parseDuration(text), want, JSON.stringify(text));
});

Deno.test("parsePointInTime() reads Unix seconds and local date-times", () => {
  assert.equal(parsePointInTime("1796352900", 0), 1796352900);
  assert.equal(parsePointInTime("2026-12-04T18:00", 0), Date.UTC(2026, 11, 4, 18, 0) / 1000);
  assert.equal(parsePointInTime("2026-12-04 18:00:30", -60), Date.UTC(2026, 11, 4, 17, 0, 30) / 1000);
  for (const bad of ["tomorrow", "2026-13-01T00:00", "2026-12-04", "18:00", "123"]) {
    assert.equal(parsePointInTime(bad, 0), undefined, bad);
  }
});

import assert from "node:assert/strict";
import * as monitorView from "../../lib/monitor_view.ts";
import {
  boxed,
  clean,
  fit,
  overlay,
  padEnd,
  padStart,
  RESET,
  REVERSE,
  visibleLength,
} from "../../lib/screen_text.ts";

Deno.test("screen_text: lib/monitor_view.ts re-exports visibleLength", () => {
  assert.equal(monitorView.visibleLength, visibleLength);
});

Deno.test("visibleLength() counts code points and skips escape sequences", () => {
  const cases: [string, number][] = [
    ["", 0],
    ["abc", 3],
    [`${REVERSE}ab${RESET}`, 2],
    ["\x1b[1;31mred\x1b[0m", 3],
    ["héllo→", 6],
    ["😀x", 2],
  ];
  for (const [line, want] of cases) assert.equal(visibleLength(line), want, JSON.stringify(line));
});

Deno.test("clean() shows control characters as ?", () => {
  const cases: [string, string][] = [
    ["plain text", "plain text"],
    ["a\x1b[2Jb", "a?[2Jb"],
    ["tab\there\n", "tab?here?"],
    ["\x7f\x9b", "??"],
    ["é→😀", "é→😀"],
  ];
  for (const [s, want] of cases) assert.equal(clean(s), want, JSON.stringify(s));
});

Deno.test("fit() cuts to the width, ending in ... when there is room for it", () => {
  const cases: [string, number, string][] = [
    ["abc", 5, "abc"],
    ["abcde", 5, "abcde"],
    ["abcdef", 5, "ab..."],
    ["abcdef", 3, "abc"],
    ["abcdef", 2, "ab"],
    ["abcdef", 0, ""],
    ["abcdef", -1, ""],
    ["😀😀😀😀😀", 4, "😀..."],
  ];
  for (const [s, w, want] of cases) assert.equal(fit(s, w), want, `${s} ${w}`);
});

Deno.test("padEnd() and padStart() pad to code points and never cut", () => {
  const cases: [string, number, string, string][] = [
    ["ab", 4, "ab  ", "  ab"],
    ["ab", 2, "ab", "ab"],
    ["abcd", 2, "abcd", "abcd"],
    ["é", 3, "é  ", "  é"],
    ["", 0, "", ""],
  ];
  for (const [s, w, end, start] of cases) {
    assert.equal(padEnd(s, w), end, `padEnd ${s} ${w}`);
    assert.equal(padStart(s, w), start, `padStart ${s} ${w}`);
  }
});

Deno.test("boxed() frames the text with a margin, no wider than the screen allows", () => {
  const cases: [string[], number, string[]][] = [
    [["hi"], 80, ["+----+", "| hi |", "+----+"]],
    [["", "yes?", ""], 80, ["+------+", "|      |", "| yes? |", "|      |", "+------+"]],
    [["a long line"], 10, ["+------+", "| a ...|", "+------+"]],
  ];
  for (const [text, columns, want] of cases) assert.deepEqual(boxed(text, columns), want, text.join("/"));
});

Deno.test("overlay() centres a box over the lines and says which lines it covers", () => {
  const cases: { lines: string[]; box: string[]; columns: number; want: string[]; covered: number[] }[] = [
    {
      lines: ["0123456789", "0123456789", "0123456789"],
      box: ["+--+", "|ab|", "+--+"],
      columns: 10,
      want: ["012+--+789", "012|ab|789", "012+--+789"],
      covered: [0, 1, 2],
    },
    {
      lines: ["", "xx", "", ""],
      box: ["[]"],
      columns: 6,
      want: ["", "xx[]", "", ""],
      covered: [1],
    },
    {
      lines: [`${REVERSE}abcdefgh${RESET}`, "short"],
      box: ["##"],
      columns: 8,
      want: ["abc##fgh", "short"],
      covered: [0],
    },
    {
      lines: ["one"],
      box: ["1", "2", "3"],
      columns: 5,
      want: ["on1"],
      covered: [0],
    },
  ];
  for (const c of cases) {
    const lines = [...c.lines];
    const covered = overlay(lines, c.box, c.columns);
    assert.deepEqual(lines, c.want, c.box.join("/"));
    assert.deepEqual([...covered], c.covered, c.box.join("/"));
  }
});

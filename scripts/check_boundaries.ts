// deno-lint-ignore-file no-console
/**
 * Keeps `lib/` pure: no file under it may touch the runtime (`Deno.`), the clock
 * (`Date.now`, `performance.now`, timers), randomness (`Math.random`), or import from
 * `../adapters`. Matches inside `//` and `/* … *\/` comments (JSDoc included) do not count;
 * string literals do, so that an `import … from "../adapters/x.ts"` is caught.
 *
 * Usage: `deno run --allow-read scripts/check_boundaries.ts [DIR…]` (default: the repository's
 * `lib/`). Prints `file:line: rule: source line` for each violation and exits 1, or prints
 * `boundaries ok`.
 *
 * @module
 */

import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** A forbidden construct and the pattern that finds it in comment-free source. */
export interface BoundaryRule {
  /** Short name printed with each violation. */
  name: string;
  /** Pattern matched against one line of source whose comments were blanked out. */
  pattern: RegExp;
}

/** The rules `lib/` must follow. */
export const BOUNDARY_RULES: readonly BoundaryRule[] = [
  { name: "Deno.", pattern: /(?<![\w$.])Deno\s*\./ },
  { name: "Date.now", pattern: /(?<![\w$.])Date\s*\.\s*now\b/ },
  { name: "setTimeout", pattern: /(?<![\w$])setTimeout\b/ },
  { name: "setInterval", pattern: /(?<![\w$])setInterval\b/ },
  { name: "Math.random", pattern: /(?<![\w$.])Math\s*\.\s*random\b/ },
  { name: "performance.now", pattern: /(?<![\w$.])performance\s*\.\s*now\b/ },
  {
    name: "import from ../adapters",
    pattern: /(?:\bfrom|\bimport)\s*\(?\s*["'`](?:\.\.\/)+adapters(?:\/|["'`])/,
  },
];

/** One rule broken on one line. */
export interface BoundaryViolation {
  /** 1-based line number. */
  line: number;
  /** Name of the broken {@linkcode BoundaryRule}. */
  rule: string;
  /** The offending source line, trimmed. */
  text: string;
}

/** Keywords after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER_WORD = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/**
 * Blank out the comments of TypeScript/JavaScript source, keeping line breaks (so line numbers
 * stay right) and everything else, string and template literals included. A small lexer, not a
 * parser: it knows strings, template literals (with nested `${}`), regular expression literals
 * (by the usual previous-token heuristic) and both comment forms.
 *
 * @param src source text
 * @returns the same text with every comment character other than a newline replaced by a space
 */
export function stripComments(src: string): string {
  const out: string[] = [];
  /** Open `${` expressions: for each, how many `{` are open inside it. */
  const templateBraces: number[] = [];
  let i = 0;
  /** Last significant code token: a punctuator char, or "w" (word/number/literal end), or "k" (keyword). */
  let prev = "";
  const n = src.length;

  function blank(from: number, to: number): void {
    for (let k = from; k < to; k++) out.push(src[k] === "\n" ? "\n" : " ");
  }
  function keep(from: number, to: number): void {
    out.push(src.slice(from, to));
  }
  /** Index just past a quoted string starting at `start` (quote char at `start`). */
  function endOfString(start: number): number {
    const q = src[start];
    let k = start + 1;
    while (k < n && src[k] !== q && src[k] !== "\n") k += src[k] === "\\" ? 2 : 1;
    return Math.min(k + 1, n);
  }
  /** Index just past a template chunk starting after a `` ` `` or `}`; sets `opensExpr`. */
  function endOfTemplateChunk(start: number): { end: number; opensExpr: boolean } {
    let k = start;
    while (k < n) {
      if (src[k] === "\\") k += 2;
      else if (src[k] === "`") return { end: k + 1, opensExpr: false };
      else if (src[k] === "$" && src[k + 1] === "{") return { end: k + 2, opensExpr: true };
      else k++;
    }
    return { end: n, opensExpr: false };
  }
  function endOfRegex(start: number): number {
    let k = start + 1;
    let inClass = false;
    while (k < n && src[k] !== "\n") {
      const c = src[k];
      if (c === "\\") k += 2;
      else {
        if (c === "[") inClass = true;
        else if (c === "]") inClass = false;
        else if (c === "/" && !inClass) {
          k++;
          while (k < n && /[a-z]/i.test(src[k]!)) k++;
          return k;
        }
        k++;
      }
    }
    return k;
  }
  function template(start: number): void {
    const { end, opensExpr } = endOfTemplateChunk(start);
    keep(i, end);
    i = end;
    if (opensExpr) {
      templateBraces.push(0);
      prev = "{";
    } else prev = "w";
  }

  while (i < n) {
    const c = src[i]!;
    const d = src[i + 1];
    if (c === "/" && d === "/") {
      let k = i;
      while (k < n && src[k] !== "\n") k++;
      blank(i, k);
      i = k;
    } else if (c === "/" && d === "*") {
      const close = src.indexOf("*/", i + 2);
      const k = close < 0 ? n : close + 2;
      blank(i, k);
      i = k;
    } else if (c === '"' || c === "'") {
      const k = endOfString(i);
      keep(i, k);
      i = k;
      prev = "w";
    } else if (c === "`") {
      i++;
      out.push("`");
      template(i);
    } else if (c === "/") {
      const regex = prev === "" || prev === "k" || (prev !== "w" && !")]}".includes(prev));
      const k = regex ? endOfRegex(i) : i + 1;
      keep(i, k);
      i = k;
      prev = regex ? "w" : "/";
    } else if (/[\w$]/.test(c)) {
      let k = i;
      while (k < n && /[\w$]/.test(src[k]!)) k++;
      const word = src.slice(i, k);
      keep(i, k);
      i = k;
      prev = REGEX_AFTER_WORD.has(word) ? "k" : "w";
    } else if (c === "}" && templateBraces.length > 0 && templateBraces.at(-1) === 0) {
      templateBraces.pop();
      out.push("}");
      i++;
      template(i);
    } else {
      if (templateBraces.length > 0) {
        if (c === "{") templateBraces[templateBraces.length - 1]!++;
        else if (c === "}") templateBraces[templateBraces.length - 1]!--;
      }
      out.push(c);
      i++;
      if (!/\s/.test(c)) prev = c;
    }
  }
  return out.join("");
}

/**
 * Find the boundary violations in one file's source.
 *
 * @param src source text
 * @param rules rules to apply
 * @returns one entry per rule broken per line, in line order
 */
export function findViolations(
  src: string,
  rules: readonly BoundaryRule[] = BOUNDARY_RULES,
): BoundaryViolation[] {
  const code = stripComments(src).split("\n");
  const lines = src.split("\n");
  const found: BoundaryViolation[] = [];
  code.forEach((text, idx) => {
    for (const rule of rules) {
      if (rule.pattern.test(text)) found.push({ line: idx + 1, rule: rule.name, text: lines[idx]!.trim() });
    }
  });
  return found;
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) files.push(...sourceFiles(p));
    else if (e.isFile && /\.(?:[cm]?[jt]sx?)$/.test(e.name)) files.push(p);
  }
  return files.sort();
}

function main(args: string[]): number {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const dirs = args.length > 0 ? args : [join(root, "lib")];
  let bad = 0;
  for (const dir of dirs) {
    for (const file of sourceFiles(dir)) {
      const shown = relative(Deno.cwd(), file);
      for (const v of findViolations(Deno.readTextFileSync(file))) {
        console.log(`${shown}:${v.line}: ${v.rule}: ${v.text}`);
        bad++;
      }
    }
  }
  if (bad > 0) {
    console.log(
      `boundaries broken: ${bad} violation(s) (lib/ must stay free of runtime, clock and adapters)`,
    );
    return 1;
  }
  console.log("boundaries ok");
  return 0;
}

if (import.meta.main) Deno.exit(main(Deno.args));

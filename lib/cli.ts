/**
 * Command-line parsing with argparse's rules (the reference is a Python argparse program):
 * options anywhere, `--opt=value`, unique prefixes of long options (`--fail` = `--fail-fast`),
 * clustered short flags (`-eR`), attached short values (`-slocalhost:2`), `--` and `-` for stdin.
 *
 * @module
 */

/** A usage mistake; `main.ts` prints the usage line and `disbatch: error: <message>`, exit 2. */
export class UsageError extends Error {
  /** Process exit status. */
  readonly exitCode: number;
  /** @param message argparse-style message @param exitCode defaults to 2 */
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = "UsageError";
    this.exitCode = exitCode;
  }
}

/** How an option takes its value. */
export interface OptionSpec {
  /** Long name without dashes (also the key in the result). */
  long: string;
  /** Short letter without dash. */
  short?: string;
  /** `flag`: no value; `value`: one value (last wins); `list`: repeatable. */
  type: "flag" | "value" | "list";
  /** Placeholder in help. */
  metavar?: string;
}

/** Parse result: option values by long name, positionals in order. */
export interface ParsedArgs {
  options: Record<string, string | string[] | true>;
  positionals: string[];
}

function spell(spec: OptionSpec): string {
  return spec.short ? `-${spec.short}/--${spec.long}` : `--${spec.long}`;
}

/**
 * Parse `args` against `specs`.
 *
 * @param args command-line arguments (without the program)
 * @param specs the accepted options
 * @returns options and positionals
 * @throws {UsageError} for unknown/ambiguous options or missing values
 */
export function parseArgv(args: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const options: ParsedArgs["options"] = {};
  const positionals: string[] = [];
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const set = (spec: OptionSpec, value: string | true) => {
    if (spec.type === "list") ((options[spec.long] ??= []) as string[]).push(value as string);
    else options[spec.long] = value;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const takeValue = (spec: OptionSpec, inline: string | undefined): string => {
      if (inline !== undefined) return inline;
      const next = args[i + 1];
      // As argparse: a word with a space is a value even when it starts with "-" (`--alloc '-N 2 -t 1:00:00'`).
      if (
        next === undefined ||
        (next.startsWith("-") && next !== "-" && !/^-\d/.test(next) && !next.includes(" "))
      ) {
        throw new UsageError(`argument ${spell(spec)}: expected one argument`);
      }
      i++;
      return next;
    };
    if (a === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const inline = eq < 0 ? undefined : a.slice(eq + 1);
      let spec = specs.find((s) => s.long === name);
      if (!spec) {
        const matches = specs.filter((s) => s.long.startsWith(name));
        if (matches.length > 1) {
          throw new UsageError(
            `ambiguous option: --${name} could match ${matches.map((m) => `--${m.long}`).join(", ")}`,
          );
        }
        spec = matches[0];
      }
      if (!spec) throw new UsageError(`unrecognized arguments: ${a}${didYouMean(name, specs)}`);
      if (spec.type === "flag") {
        if (inline !== undefined) {
          throw new UsageError(`argument ${spell(spec)}: ignored explicit argument '${inline}'`);
        }
        set(spec, true);
      } else set(spec, takeValue(spec, inline));
      continue;
    }
    if (a.startsWith("-") && a !== "-" && !/^-\d/.test(a)) {
      for (let j = 1; j < a.length; j++) {
        const spec = byShort.get(a[j]!);
        if (!spec) throw new UsageError(`unrecognized arguments: ${j === 1 ? a : `-${a[j]} (in ${a})`}`);
        if (spec.type === "flag") {
          set(spec, true);
          continue;
        }
        let rest = a.slice(j + 1);
        if (rest.startsWith("=")) rest = rest.slice(1);
        set(spec, takeValue(spec, rest === "" ? undefined : rest));
        break;
      }
      continue;
    }
    positionals.push(a);
  }
  return { options, positionals };
}

function didYouMean(name: string, specs: readonly OptionSpec[]): string {
  let best: string | undefined;
  let bestD = 3;
  for (const s of specs) {
    const d = editDistance(name.toLowerCase(), s.long.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = s.long;
    }
  }
  return best ? ` (did you mean --${best}?)` : "";
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/**
 * Parse a whole number option value.
 * @param spec option name for the message @param value text @param min smallest allowed
 * @returns the number
 * @throws {UsageError} when it is not an integer ≥ min
 */
export function intOption(spec: string, value: string, min: number): number {
  if (!/^[+-]?\d+$/.test(value.trim()) || Number(value) < min) {
    throw new UsageError(
      `argument ${spec}: invalid int value: '${value}'${
        /^[+-]?\d+$/.test(value.trim()) ? ` (must be at least ${min})` : ""
      }`,
    );
  }
  return Number(value);
}

/**
 * Parse a number option value (argparse `type=float`).
 * @param spec option name @param value text
 * @returns the number
 * @throws {UsageError} when it is not a positive number
 */
export function floatOption(spec: string, value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`argument ${spec}: invalid float value: '${value}' (must be a positive number)`);
  }
  return n;
}

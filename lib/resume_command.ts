/**
 * The command that resumes a run: the same command line with `-r <its status file>` instead of
 * the resume options it had, and, when `-p` named the files themselves (not a directory), a new
 * prefix (`run` → `run.2`, `run.2` → `run.3`) so the new run does not overwrite what it resumes from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resumeCommand } from "./resume_command.ts";
 *
 * assert.equal(
 *   resumeCommand(["-s", "localhost:2", "-r", "old_status.txt", "Tasks"], "/w/T_status.txt", false),
 *   "disbatch -r /w/T_status.txt -s localhost:2 Tasks",
 * );
 * ```
 *
 * @module
 */

import { shellQuote } from "./text.ts";

/**
 * @param args the run's command-line arguments (without the program)
 * @param statusPath its status file
 * @param prefixNamesFiles true when `-p` gave a file-name prefix rather than a directory
 * @returns a shell command line
 */
export function resumeCommand(
  args: readonly string[],
  statusPath: string,
  prefixNamesFiles: boolean,
): string {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (a === "-r" || a === "--resume-from") {
      i++;
      continue;
    }
    if (
      a.startsWith("--resume-from=") || /^-r./.test(a) || a === "-R" || a === "--retry" ||
      a === "--force-resume"
    ) {
      continue;
    }
    const p = /^(-p|--prefix)(=?)(.*)$/.exec(a);
    if (p && prefixNamesFiles) {
      const inline = p[3] !== "" || p[2] === "=";
      const value = inline ? p[3]! : args[++i] ?? "";
      out.push(p[1]!, nextPrefix(value));
      continue;
    }
    out.push(a);
  }
  return ["disbatch", "-r", statusPath, ...out].map(shellQuote).join(" ");
}

/** `run` → `run.2`, `run.7` → `run.8`. */
function nextPrefix(prefix: string): string {
  const m = /^(.*)\.(\d+)$/.exec(prefix);
  return m ? `${m[1]}.${Number(m[2]) + 1}` : `${prefix}.2`;
}

/**
 * `disbatch report STATUSFILE [-o FILE] [--json]`: reads a status file and writes the run report
 * (`lib/report.ts`) next to it, or prints its summary as JSON.
 *
 * @module
 */

import { basename } from "node:path";
import { parseArgv, UsageError } from "../lib/cli.ts";
import {
  allocationsInLog,
  parseStatusText,
  quarantinedInLog,
  renderReportHtml,
  summarize,
} from "../lib/report.ts";
import { osErrorReason } from "./task_source.ts";

/** The usage line of the `report` mode. */
export const REPORT_USAGE = "usage: disbatch report STATUSFILE [-o FILE] [--json]";

/**
 * Where the report goes by default: `_status.txt` replaced by `_report.html`, else `.html` appended.
 *
 * @param statusPath The status file.
 * @returns The report path.
 *
 * @example
 * ```ts ignore
 * defaultReportPath("run_status.txt"); // "run_report.html"
 * ```
 */
export function defaultReportPath(statusPath: string): string {
  return statusPath.endsWith("_status.txt")
    ? statusPath.slice(0, -"_status.txt".length) + "_report.html"
    : statusPath + ".html";
}

/**
 * Runs the `report` mode. Prints the report's path (or, with `--json`, the summary) on stdout; a
 * missing, unreadable or unparseable status file is one line on stderr and exit status 2.
 *
 * @param args Arguments after `report`.
 * @returns The exit status.
 * @throws {UsageError} For bad arguments (`main.ts` prints it with the usage line).
 *
 * @example
 * ```ts ignore
 * const code = await reportMain(["run_status.txt", "--json"]);
 * ```
 */
export async function reportMain(args: string[]): Promise<number> {
  const { options, positionals } = parseArgv(args, [
    { long: "output", short: "o", type: "value", metavar: "FILE" },
    { long: "json", type: "flag" },
    { long: "help", short: "h", type: "flag" },
  ]);
  if (options.help) {
    console.log(`${REPORT_USAGE}\n\nWrite a self-contained HTML report of a run from its status file.\n
  -o, --output FILE  where to write it (default: STATUSFILE with _status.txt → _report.html; - for stdout)
  --json             print the summary as JSON instead`);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? "the following arguments are required: STATUSFILE"
        : `unrecognized arguments: ${positionals.slice(1).join(" ")}`,
    );
  }
  const path = positionals[0]!;
  let text: string;
  try {
    text = new TextDecoder().decode(await Deno.readFile(path));
  } catch (e: unknown) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.IsADirectory
      ? "it is a directory; give the <prefix>_status.txt file of a run"
      : osErrorReason(e);
    console.error(`disbatch report: cannot read status file ${path}: ${why}`);
    return 2;
  }
  const { records, badLines } = parseStatusText(text);
  if (records.length === 0) {
    console.error(
      `disbatch report: ${path} holds no status line${
        badLines ? ` (${badLines} unparseable line(s))` : ""
      }: is it a *_status.txt file?`,
    );
    return 2;
  }
  if (badLines > 0) {
    console.error(`disbatch report: warning: ignored ${badLines} unparseable line(s) in ${path}`);
  }
  // The attempts that ran again (--retries, lost engines) sit next to the status file.
  const attemptsPath = path.replace(/_status\.txt$/, "_attempts.txt");
  let attempts: ReturnType<typeof parseStatusText>["records"] = [];
  if (attemptsPath !== path) {
    try {
      attempts = parseStatusText(new TextDecoder().decode(await Deno.readFile(attemptsPath))).records;
    } catch { /* no attempt ran again */ }
  }
  // Quarantined hosts are in the driver log, when it is there (the default log path).
  let quarantined: ReturnType<typeof quarantinedInLog> = [];
  let allocations: ReturnType<typeof allocationsInLog> = [];
  const logPath = path.replace(/_status\.txt$/, "_driver.log");
  if (logPath !== path) {
    try {
      const log = new TextDecoder().decode(await Deno.readFile(logPath));
      quarantined = quarantinedInLog(log);
      allocations = allocationsInLog(log);
    } catch { /* no log, or --logfile elsewhere */ }
  }
  const summary = summarize(records, attempts, quarantined, allocations);
  if (options.json) {
    console.log(JSON.stringify(summary, null, 2));
    return 0;
  }
  const title = basename(path).replace(/_status\.txt$/, "");
  const html = renderReportHtml(summary, records, title, attempts);
  const out = typeof options.output === "string" ? options.output : defaultReportPath(path);
  if (out === "-") {
    await Deno.stdout.write(new TextEncoder().encode(html));
    return 0;
  }
  try {
    await Deno.writeTextFile(out, html);
  } catch (e: unknown) {
    console.error(`disbatch report: cannot write ${out}: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  console.log(out);
  return 0;
}

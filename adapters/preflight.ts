/**
 * The driver's command-line checks that need the machine, made before anything starts and in
 * argparse's order: the `-g` notice, a malformed `-s`, the `--logfile` opened (and truncated) as
 * `FileType('w')` does at parse time, and the `-r` status files read.
 *
 * @module
 */

import { UsageError } from "../lib/cli.ts";
import type { DriverInvocation } from "../lib/driver_options.ts";
import type { ResumeTable } from "../lib/resume.ts";
import { parseSshNodeList } from "../lib/ssh.ts";
import { readResumeFiles } from "./run_files.ts";
import { stderrLine } from "./stderr.ts";
import { osErrorText } from "./task_source.ts";

/**
 * Check the driver's arguments against the machine and read the resume files.
 * @param inv parsed command line
 * @returns the `-r` records, or undefined without `-r`
 * @throws {UsageError} for a bad `-s`, an unwritable `--logfile` or an unreadable `-r` file
 */
export function preflight(inv: DriverInvocation): ResumeTable | undefined {
  if (inv.gpu) stderrLine("-g/--gpu is deprecated. It is no longer needed and will be ignored.");
  if (inv.context.sshNodes.length > 0) {
    try {
      parseSshNodeList(inv.context.sshNodes); // a bad -s is a usage error before anything starts
    } catch (e) {
      throw new UsageError(`argument -s/--ssh-node: ${e instanceof Error ? e.message : e}`);
    }
  }
  if (inv.logFile !== undefined) {
    try {
      Deno.openSync(inv.logFile, { write: true, create: true, truncate: true }).close();
    } catch (e) {
      throw new UsageError(`argument --logfile: can't open '${inv.logFile}': ${osErrorText(e, inv.logFile)}`);
    }
  }
  if (inv.resumeFrom.length === 0) return undefined;
  const { table, badLines } = readResumeFiles(inv.resumeFrom);
  if (badLines > 0) {
    stderrLine(
      `disbatch: warning: ${badLines} line(s) of ${
        inv.resumeFrom.join(", ")
      } could not be read as status lines and were ignored`,
    );
  }
  return table;
}

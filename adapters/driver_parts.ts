/**
 * Parts of the driver that `driver.ts` wires: the output files opened before the run makes any
 * other (`--results`, `--event-log`), the allocator of `--alloc` fed from the scheduler, and what a
 * signal to the driver does (the first stops the run, a second exits at once).
 *
 * @module
 */

import { capacityByLabel } from "../lib/allocator.ts";
import { UsageError } from "../lib/cli.ts";
import { allocNodeCount, type DriverInvocation } from "../lib/driver_options.ts";
import type { Scheduler } from "../lib/scheduler.ts";
import type { RunPorts } from "./actions.ts";
import { Allocator } from "./allocator.ts";
import type { AutoContext } from "./auto_context.ts";
import { EventLog } from "./event_log.ts";
import type { JournalFile } from "./journal_file.ts";
import type { Reattach } from "./reattach.ts";
import { ResultsFile } from "./results_out.ts";
import type { StatusWriter } from "./run_files.ts";
import type { Peer } from "./server.ts";
import { trapSignals } from "./signals.ts";
import { osErrorText } from "./task_source.ts";

/**
 * Open `--results` and `--event-log` (a re-attached driver's events go to a stream of their own).
 * @param inv the command line @param re a re-attached driver's inheritance @param warn trouble writing them
 * @throws {UsageError} for a file that cannot be made (exit 2, before the run makes any file)
 */
export function openOutputs(
  inv: DriverInvocation,
  re: Reattach | undefined,
  warn: (m: string) => void,
): { results: ResultsFile | undefined; eventLog: EventLog | undefined } {
  let results: ResultsFile | undefined;
  if (inv.results !== undefined) {
    try {
      results = new ResultsFile(inv.results, warn, re !== undefined);
    } catch (e) {
      throw new UsageError(`argument --results: can't open '${inv.results}': ${osErrorText(e, inv.results)}`);
    }
  }
  let eventLog: EventLog | undefined;
  if (inv.eventLog !== undefined) {
    const path = re ? `${inv.eventLog}.${re.journal.drivers.length + 1}` : inv.eventLog;
    try {
      eventLog = new EventLog(path, warn);
    } catch (e) {
      throw new UsageError(`argument --event-log: can't open '${path}': ${osErrorText(e, path)}`);
    }
  }
  return { results, eventLog };
}

/**
 * The allocator of `--alloc`: it sees the work ready and the free slots per allocation, and moves
 * an allocation's end in the scheduler.
 */
export function runAllocator(
  inv: DriverInvocation,
  args: string[],
  h: Pick<RunPorts, "log" | "say" | "now" | "react"> & { uid: string; dbUtilPath: string; sched: Scheduler },
): Allocator {
  const { sched, react, now } = h;
  const allocator: Allocator = new Allocator({
    args,
    maxAllocs: inv.maxAllocs,
    backlog: inv.allocBacklog,
    nodesPerAlloc: allocNodeCount(args),
    ...(inv.maxAllocNodes !== undefined ? { maxNodes: inv.maxAllocNodes } : {}),
    uid: h.uid,
    dbUtilPath: h.dbUtilPath,
    log: h.log,
    say: h.say,
    now,
    work: () => {
      const snap = sched.snapshot();
      const { freeSlots, slots } = capacityByLabel(snap);
      for (const [l, x] of slots) allocator.slots(l, x.n, x.nodes.join(","));
      return { ready: sched.readyWork(), freeSlots, over: snap.phase !== "running" };
    },
    endMoved: (label, endsAt) => react({ kind: "contextEnd", label, endsAt, now: now() }),
  });
  allocator.start();
  return allocator;
}

/**
 * SIGINT/SIGTERM/SIGHUP: the first stops the run (running tasks are killed), a second makes the
 * driver tell engines to kill their tasks and exit at once.
 * @returns a function that puts the signals back
 */
export function trapDriverSignals(
  h: Pick<RunPorts, "log" | "say" | "now" | "react"> & {
    links: ReadonlyMap<number, Peer>;
    allocator: Allocator | undefined;
    status: StatusWriter;
    journal: JournalFile;
    auto: AutoContext;
    exitNow: (code: number) => never;
  },
): () => void {
  const { log, say, now, react, links } = h;
  return trapSignals({
    first(name, n) {
      log.info(`Received ${name}: killing running tasks`);
      react({
        kind: "abort",
        exitCode: 128 + n,
        message:
          `disbatch: received ${name}: the run was stopped; the tasks it killed are flagged K in the ` +
          `status file or not recorded, and a plain -r runs them again`,
        now: now(),
      });
    },
    again(name, n) {
      say(`disbatch: second ${name}: exiting now`);
      // Engines kill their tasks at once rather than wait for a driver that is not coming back.
      for (const p of links.values()) {
        p.link.send({ kind: "kill", reason: `driver received a second ${name}` });
      }
      h.allocator?.cancelNow();
      h.status.close();
      h.journal.ended(128 + n);
      const flushed = Promise.all([...links.values()].map((p) => p.link.flush()));
      Promise.race([flushed, new Promise((r) => setTimeout(r, 300))]).finally(() => {
        h.auto.kill("SIGKILL");
        h.exitNow(128 + n);
      });
    },
  });
}

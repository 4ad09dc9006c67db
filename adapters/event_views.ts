/**
 * The records the driver keeps of what happened, written from the event stream in one place
 * (before the scheduler handles each event): the run journal (engines joined, tasks they handed
 * back, engines gone — for a driver restarted with `--reattach`) and the dashboard's history of
 * finished tasks. Neither keeps engine or context state of its own: what an engine is, they read
 * from the registry (`sched.view`).
 *
 * @module
 */

import type { DashboardTracker } from "../lib/dashboard.ts";
import type { DriverEvent } from "../lib/reactor.ts";
import type { Scheduler } from "../lib/scheduler.ts";
import type { JournalFile } from "./journal_file.ts";

/**
 * @param o the scheduler (to read), the journal, and the dashboard's history with `--web`
 * @returns what to call with each event before the scheduler handles it
 */
export function eventViews(
  o: { sched: Scheduler; journal: JournalFile; tracker?: DashboardTracker | undefined },
): (ev: DriverEvent) => void {
  const { sched, journal, tracker } = o;
  return (ev) => {
    switch (ev.kind) {
      case "engineJoined":
        journal.joined(ev.rank, ev.context, ev.slots, ev.host);
        return;
      case "released":
        journal.returned(ev.rank, ev.ids);
        return;
      case "engineGone":
        journal.gone(ev.rank);
        return;
      case "tasksDone":
        if (tracker) {
          const host = sched.view.engine(ev.rank)?.host ?? "";
          for (const out of ev.outcomes) tracker.finished(ev.rank, out, host);
        }
        return;
    }
  };
}

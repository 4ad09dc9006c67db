/**
 * `<run>_dbUtil.sh --stop ENGINE|CONTEXT` and `--status`: one request to the running driver.
 *
 * @module
 */

import { UsageError } from "../lib/cli.ts";
import { allocationText } from "../lib/allocator.ts";
import { ClientError, connectToDriver } from "./client.ts";
import type { FromDriver } from "../lib/protocol.ts";
import { parseStopArg, stopAnswerText, stopExitCode } from "../lib/control.ts";
import { formatDuration } from "../lib/progress_view.ts";

/**
 * Send one control request and print the answer.
 * @param args `--stop TARGET` or `--status`
 * @returns exit status
 */
export async function controlMain(args: string[]): Promise<number> {
  const [what, target] = args;
  if (what !== "--stop" && what !== "--status") throw new UsageError(`unknown control request ${what}`);
  const stop = what === "--stop" ? parseStopArg(target) : undefined;
  let s;
  try {
    s = await connectToDriver("control");
  } catch (e) {
    console.error(`disbatch: ${e instanceof ClientError ? e.message : e}`);
    return 1;
  }
  const answer = new Promise<FromDriver>((resolve) => {
    s.onMessage = (m) => {
      if (m.kind === "ack" || m.kind === "snapshot") resolve(m);
    };
  });
  s.link.send(stop ? { kind: "requestStop", target: stop } : { kind: "watch" });
  const m = await Promise.race([answer, s.link.closed.then(() => undefined)]);
  s.link.close("done");
  if (!m) {
    console.error("disbatch: the driver closed the connection without answering");
    return 1;
  }
  if (m.kind === "ack") {
    console.log(stopAnswerText(m.answer));
    return stopExitCode(m.answer);
  }
  if (m.kind === "snapshot") {
    const st = m.state;
    console.log(
      `run "${
        st.uid.split("/").pop()
      }": ${st.phase}; finished ${st.finished}, failed ${st.failed}, running ${st.running}, queued ${st.queued}${
        st.tasksEnded ? "" : "+"
      }, slots ${st.slots}${st.retried ? `, ${st.retried} earlier attempt(s) (their tasks run again)` : ""}${
        st.timedOut ? `, ${st.timedOut} timed out` : ""
      }${
        st.stopAt !== undefined
          ? `; hand-off for the walltime in ${Math.max(0, Math.round(st.stopAt - Date.now() / 1000))} s`
          : ""
      }${
        st.held
          ? `; ${st.held} task(s) held for the engines of a driver that died, for up to ${
            Math.max(0, Math.round((st.heldUntil ?? 0) - Date.now() / 1000))
          } s more`
          : ""
      }`,
    );
    for (const q of st.quarantined) console.log(`  quarantined ${q.host}: ${q.reason}`);
    for (const a of st.allocations ?? []) console.log(`  ${allocationText(a, Date.now() / 1000)}`);
    if (st.allocatorPaused) console.log(`  the allocator is paused: ${st.allocatorPaused}`);
    for (const c of st.contexts) {
      console.log(
        `  context c${c.id} ${c.label}: ${c.engines} engine(s), ${c.assigned} task(s) assigned${
          c.taskLimit > 0 ? ` of ${c.taskLimit}` : ""
        }${
          c.endsAt !== undefined
            ? `; its allocation ends in ${formatDuration(Math.max(0, c.endsAt - Date.now() / 1000))}`
            : ""
        }`,
      );
    }
    for (const e of st.engines.filter((e) => e.state !== "gone")) {
      console.log(
        `  engine ${e.rank} (c${e.context}) ${e.host}: ${e.state}, ${e.running} running, ${e.finished} finished, ${e.failed} failed`,
      );
    }
  }
  return 0;
}

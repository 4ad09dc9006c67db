/**
 * `--mailTo ADDR --mailFreq N`: a progress mail every N finished tasks and one at the end of the
 * run, through {@linkcode Mailer} (which never blocks or breaks the run).
 *
 * @module
 */

import type { SchedulerSnapshot } from "../lib/scheduler.ts";
import type { StatusRecord } from "../lib/types.ts";
import type { Logger } from "./log.ts";
import { Mailer, mailServer } from "./mail.ts";

/** Counts completions and mails progress. */
export class RunMailer {
  #mailer: Mailer;
  #every: number;
  #label: string;
  #done = 0;
  #failed = 0;
  #recent: StatusRecord[] = [];
  #log: Logger;

  /**
   * @param to recipients @param every mail every N finished tasks @param uid run uid
   * @param log driver log @param say a line for the terminal (the one failure is shown there too)
   */
  constructor(to: string, every: number, uid: string, log: Logger, say: (line: string) => void) {
    const { host, port } = mailServer();
    this.#mailer = new Mailer({
      to,
      host,
      port,
      log: {
        info: (m) => log.info(m),
        warn: (m) => {
          log.warn(m);
          say(`disbatch: warning: ${m}`);
        },
      },
    });
    this.#every = every;
    this.#log = log;
    this.#label = uid.split("/").pop() ?? uid;
  }

  /** @param r a status record (barriers and skipped lines are not counted) */
  record(r: StatusRecord): void {
    const f = r.flags;
    if (f.length !== 4 || f[3] === "S" || f[3] === "P") return;
    this.#done++;
    // Killed as the run ended (K): not a failure of its own, as the end-of-run summary counts.
    if (r.returnCode !== 0 && f[3] !== "K") this.#failed++;
    this.#recent.push(r);
    if (this.#recent.length > 10) this.#recent.shift();
    if (this.#done % this.#every === 0) {
      this.#mailer.notify(
        `disbatch ${this.#label}: ${this.#done} tasks done, ${this.#failed} failed`,
        this.#body(),
      );
    }
  }

  #body(): string {
    const lines = [
      `Run ${this.#label}: ${this.#done} task(s) finished, ${this.#failed} failed.`,
      "",
      "Latest:",
    ];
    for (const r of this.#recent) {
      lines.push(
        `  task ${r.taskId} (line ${r.line}) on ${r.host}: exit ${r.returnCode}, ${r.elapsed.toFixed(3)} s: ${
          r.command.slice(0, 120)
        }`,
      );
    }
    return lines.join("\n");
  }

  /**
   * The final mail, then wait (bounded by the mailer's timeout) for the queue.
   * @param s final state @param code exit status @param messages end-of-run messages
   */
  async end(s: SchedulerSnapshot, code: number, messages: string[]): Promise<void> {
    this.#mailer.notify(
      `disbatch ${this.#label}: run ended (exit ${code}), ${s.finished} tasks, ${s.failed} failed` +
        (s.killed ? `, ${s.killed} killed as the run ended` : ""),
      [`Run ${this.#label} ended with exit status ${code}.`, ...messages, "", this.#body()].join("\n"),
    );
    // Give the last mail a moment; a slow server must not hold the run's exit for long.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = await Promise.race([
      this.#mailer.close().then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), 3000)),
    ]);
    clearTimeout(timer);
    if (!done) {
      this.#log.warn(
        "The mail server did not finish within 3 s of the end of the run; the last mail may be lost",
      );
    }
  }
}

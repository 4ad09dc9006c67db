/**
 * Writing the run journal (`<uid>_journal`, format in `lib/journal.ts`) and the driver's published
 * address (`<uid>_address`). Journal lines are appended synchronously, before the engines are sent
 * what they record, so a driver killed at any instant leaves a journal that covers every task it
 * sent; they reach the disk itself within a second (fdatasync when something was written).
 *
 * @module
 */

import {
  contextLine,
  type DriverAddress,
  endLine,
  formatDriverAddress,
  goneLine,
  headerLine,
  joinLine,
  type JournalContext,
  type JournalHeader,
  returnedLine,
  sentLine,
} from "../lib/journal.ts";
import type { Logger } from "./log.ts";

const encoder = new TextEncoder();

/** The journal of a run, open for appending. */
export class JournalFile {
  readonly path: string;
  #file: Deno.FsFile | undefined;
  #dirty = false;
  #syncing = false;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #log: Logger;
  #failed = false;

  /** The launcher's note (see `lib/launcher.ts`): holds the uid while the run is not over. */
  readonly #note: string | undefined;

  /**
   * @param uid the run's uid @param log the driver log (a write that fails is said once)
   * @param note the launcher's note file, when a launcher supervises this driver
   */
  constructor(uid: string, log: Logger, note?: string) {
    this.path = `${uid}_journal`;
    this.#log = log;
    this.#file = Deno.openSync(this.path, { append: true, create: true, mode: 0o600 });
    this.#timer = setInterval(() => this.#sync(), 1000);
    this.#note = note;
    if (note) {
      try {
        Deno.writeTextFileSync(note, uid);
      } catch (e) {
        log.warn(
          `Cannot write the launcher's note ${note} (${
            e instanceof Error ? e.message : e
          }): a driver that dies is not started again`,
        );
      }
    }
  }

  #write(text: string): void {
    if (!this.#file) return;
    try {
      const data = encoder.encode(text);
      let off = 0;
      while (off < data.length) off += this.#file.writeSync(data.subarray(off));
      this.#dirty = true;
    } catch (e) {
      if (!this.#failed) {
        this.#failed = true;
        this.#log.warn(
          `Cannot write the journal ${this.path} (${
            e instanceof Error ? e.message : e
          }): a driver restarted ` +
            `with --reattach may run some tasks twice`,
        );
      }
    }
  }

  async #sync(): Promise<void> {
    if (!this.#dirty || this.#syncing || !this.#file) return;
    this.#dirty = false;
    this.#syncing = true;
    try {
      await this.#file.syncData();
    } catch { /* not every file system syncs; the lines are written */ }
    this.#syncing = false;
  }

  /** @param h this driver's start */
  header(h: JournalHeader): void {
    this.#write(headerLine(h));
  }
  /** @param id context id @param c what it is */
  context(id: number, c: JournalContext): void {
    this.#write(contextLine(id, c));
  }
  /** An engine joined. */
  joined(rank: number, context: number, slots: number, host: string): void {
    this.#write(joinLine(rank, context, slots, host));
  }
  /** An engine left. */
  gone(rank: number): void {
    this.#write(goneLine(rank));
  }
  /** Tasks are about to be sent to an engine. */
  sent(rank: number, ids: readonly number[]): void {
    if (ids.length) this.#write(sentLine(rank, ids));
  }
  /** An engine handed tasks back. */
  returned(rank: number, ids: readonly number[]): void {
    if (ids.length) this.#write(returnedLine(rank, ids));
  }

  /** The run ended with this exit status (it cannot be re-attached): write it, sync and close. */
  ended(code: number): void {
    this.#write(endLine(code));
    this.close();
    if (this.#note) {
      try {
        Deno.writeTextFileSync(this.#note, "");
      } catch { /* the launcher then sees the exit status only */ }
    }
  }

  /** Sync and close. */
  close(): void {
    clearInterval(this.#timer);
    if (!this.#file) return;
    try {
      this.#file.syncDataSync();
    } catch { /* see #sync */ }
    this.#file.close();
    this.#file = undefined;
  }
}

/**
 * Publish where this driver listens, for engines that lost the previous one (mode 0600: the
 * address is no secret, but the run's files are the user's).
 * @param uid the run's uid @param a the address
 */
export function publishAddress(uid: string, a: DriverAddress): void {
  const path = `${uid}_address`;
  const tmp = `${path}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(tmp, formatDriverAddress(a), { mode: 0o600 });
  Deno.renameSync(tmp, path);
}

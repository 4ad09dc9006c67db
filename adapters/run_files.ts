/**
 * The run's files: the uid from `-p`, the status file writer (whole lines, written
 * as they complete, one write per batch), and reading status files for `-r`.
 *
 * @module
 */

import { parentDir, resolvePath } from "../lib/paths.ts";
import { jobIdOf, makeUid, type PrefixPlan, stampYmdHms, taskFileName } from "../lib/naming.ts";
import { ResumeTable } from "../lib/resume.ts";
import { UsageError } from "../lib/cli.ts";
import { formatStatusRecord, STATUS_HEADER, statusLines } from "../lib/status_record.ts";
import type { StatusRecord } from "../lib/types.ts";
import { formatLock, LOCK_BEAT_S, lockIsStale, parseLock } from "../lib/run_lock.ts";
import { osErrorReason, osErrorText } from "./task_source.ts";
import { pidLives } from "./procfs.ts";

/**
 * The lock a running driver holds on its prefix (`<uid>_lock`, see `lib/run_lock.ts`): a second
 * driver with the same `-p` meets it before it touches any file.
 */
export class RunLock {
  readonly #path: string;
  readonly #beat: ReturnType<typeof setInterval>;
  #held = true;

  private constructor(path: string) {
    this.#path = path;
    this.#beat = setInterval(() => {
      const now = new Date();
      try {
        Deno.utimeSync(this.#path, now, now);
      } catch { /* removed under us: nothing to refresh */ }
    }, LOCK_BEAT_S * 1000);
    Deno.unrefTimer(this.#beat as unknown as number);
  }

  /**
   * Take the lock of a run, or fail when a live driver holds it (a stale lock is taken over).
   * @param uid the run's uid @param host this host's name @param prefix `-p` as given, for messages
   * @returns the held lock
   * @throws {RunFileError} naming the driver that holds it (exit 2)
   */
  static acquire(uid: string, host: string, prefix: string): RunLock {
    const path = `${uid}_lock`;
    for (let attempt = 0;; attempt++) {
      try {
        const f = Deno.openSync(path, { write: true, createNew: true, mode: 0o600 });
        f.writeSync(new TextEncoder().encode(formatLock({ host, pid: Deno.pid })));
        f.close();
        return new RunLock(path);
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists) || attempt > 0) throw e;
      }
      let text = "", ageS = 0;
      try {
        text = Deno.readTextFileSync(path);
        ageS = (Date.now() - (Deno.statSync(path).mtime?.getTime() ?? Date.now())) / 1000;
      } catch { /* vanished meanwhile: try again */ }
      const owner = parseLock(text);
      if (text !== "" && !lockIsStale(owner, { host, ageS, pidAlive: pidLives })) {
        throw new RunFileError(
          `Another disbatch run uses -p ${prefix}: ${
            owner ? `the driver pid ${owner.pid} on ${owner.host}` : "a driver"
          } holds ${path}. Choose another -p, or wait for that run to end (nothing was touched)`,
          2,
        );
      }
      try {
        Deno.removeSync(path); // the leftover of a driver that died
      } catch { /* already gone */ }
    }
  }

  /** Give the lock up (at the end of the run). */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    clearInterval(this.#beat);
    try {
      Deno.removeSync(this.#path);
    } catch { /* gone */ }
  }
}

/** A problem with the run's files that the user must fix (exit status given). */
export class RunFileError extends Error {
  /** @param message what and what to do @param exitCode process status */
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = "RunFileError";
  }
}

/**
 * Work out the uid for this run.
 * @param prefix `-p` value
 * @param taskFile task file as given
 * @returns absolute uid and the job id
 * @throws {RunFileError} when the parent directory of a name prefix does not exist
 */
export function planUid(
  prefix: string,
  taskFile: string,
): { uid: string; jobId: string; nameTasks: string; prefixNamesFiles: boolean } {
  const abs = resolvePath(Deno.cwd(), prefix);
  let plan: PrefixPlan;
  let isDir = false;
  try {
    isDir = Deno.statSync(abs).isDirectory;
  } catch { /* not there */ }
  if (isDir) plan = { kind: "dir", dir: Deno.realPathSync(abs) };
  else {
    const parent = prefix.endsWith("/") ? abs : parentDir(abs);
    let kind: "dir" | "other" | "missing" = "missing";
    try {
      kind = Deno.statSync(parent).isDirectory ? "dir" : "other";
    } catch { /* missing */ }
    if (kind === "other") {
      throw new RunFileError(`${parent} is a file, not a directory: choose another -p (DIR/NAME)`, 1);
    }
    if (kind === "missing" || prefix.endsWith("/")) {
      throw new RunFileError(
        `Directory ${parent} does not exist. Create it first (mkdir -p ${parent}) or choose another -p`,
        1,
      );
    }
    plan = { kind: "prefix", dir: Deno.realPathSync(parent), name: abs.split("/").pop()! };
  }
  checkWritable(plan.dir);
  const d = new Date();
  const stamp = stampYmdHms({
    year: d.getFullYear(),
    month: d.getMonth() + 1,
    day: d.getDate(),
    hour: d.getHours(),
    minute: d.getMinutes(),
    second: d.getSeconds(),
  });
  const nameTasks = taskFileName(taskFile);
  const uid = makeUid(plan, nameTasks, stamp, Math.floor(Math.random() * 1000));
  return { uid, jobId: jobIdOf(uid), nameTasks, prefixNamesFiles: plan.kind === "prefix" };
}

/**
 * Make sure the run's files can be written in `dir` before any is: a read-only file system, a
 * missing permission or a full disk is one plain message, not a failure halfway.
 * @throws {RunFileError} naming the directory, the reason and what to do (exit 1)
 */
function checkWritable(dir: string): void {
  const probe = `${dir}/.disbatch-probe-${Deno.pid}`;
  try {
    Deno.writeTextFileSync(probe, "probe\n");
    Deno.removeSync(probe);
  } catch (e) {
    try {
      Deno.removeSync(probe);
    } catch { /* never created */ }
    const why = osErrorReason(e);
    throw new RunFileError(
      `Cannot write the run's files in ${dir}: ${why}. Choose a writable place with -p DIR/NAME`,
      1,
    );
  }
}

const encoder = new TextEncoder();

/**
 * Appends status lines; lines completed in the same turn of the event loop go out in one write.
 * A write that fails (a full disk, a quota) does not stop the run: the unwritten bytes are kept and
 * written with the next lines, the trouble is reported once and its end too. Lines are never torn:
 * what could still not be written at the close is cut back to the last whole line and counted.
 */
export class StatusWriter {
  #file: Deno.FsFile;
  #pending: string[] = [];
  #stuck: Uint8Array | undefined;
  #scheduled = false;
  /** Bytes in the file up to the end of the last whole line written. */
  #whole = 0;
  #written = 0;
  #failing = false;
  #onTrouble: (message: string) => void;
  /** Lines written so far. */
  count = 0;

  /**
   * @param path status file (truncated, unless `append`) @param header write the header line first
   * @param onTrouble told once when writing starts failing, and once when it works again
   */
  constructor(
    path: string,
    header: boolean,
    onTrouble: (message: string) => void = () => {},
    append = false,
  ) {
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: !append });
    if (append) {
      // A driver restarted with --reattach goes on after the lines the last one wrote.
      this.#whole = this.#written = this.#file.seekSync(0, Deno.SeekMode.End);
    }
    this.#onTrouble = onTrouble;
    this.path = path;
    if (header && !append) this.#pending.push(STATUS_HEADER + "\n");
    this.flush();
  }

  /** The file's path. */
  readonly path: string;

  /** @param r a record to append */
  add(r: StatusRecord): void {
    this.#pending.push(formatStatusRecord(r) + "\n");
    this.count++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      // At the end of this turn of the event loop, not of this microtask: the thousands of lines a
      // resume skips between two reads of the task file go out in one write, not one write each.
      setTimeout(() => this.flush(), 0);
    }
  }

  /** Write what is pending now (and what an earlier write could not). */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0 && !this.#stuck) return;
    const fresh = encoder.encode(this.#pending.join(""));
    this.#pending = [];
    let data = fresh;
    if (this.#stuck) {
      data = new Uint8Array(this.#stuck.length + fresh.length);
      data.set(this.#stuck);
      data.set(fresh, this.#stuck.length);
      this.#stuck = undefined;
    }
    let off = 0;
    try {
      while (off < data.length) {
        const n = this.#file.writeSync(data.subarray(off));
        const last = data.subarray(off, off + n).lastIndexOf(10);
        if (last >= 0) this.#whole = this.#written + last + 1;
        this.#written += n;
        off += n;
      }
    } catch (e) {
      this.#stuck = data.slice(off);
      if (!this.#failing) {
        this.#failing = true;
        this.#onTrouble(
          `cannot write the status file ${this.path}: ${e instanceof Error ? e.message : e}; ` +
            `the run goes on and its lines are kept to be written when that works again`,
        );
      }
      return;
    }
    if (this.#failing) {
      this.#failing = false;
      this.#onTrouble(`the status file ${this.path} is written again; no line was lost`);
    }
  }

  /**
   * Flush and close.
   * @returns the number of whole lines that could not be written (0 normally)
   */
  close(): number {
    this.flush();
    let lost = 0;
    if (this.#stuck) {
      // Never leave a torn line for a later -r: cut back to the last whole line.
      const tail = this.#stuck;
      lost = tail.filter((b) => b === 10).length;
      try {
        this.#file.truncateSync(this.#whole);
      } catch { /* keep what is there */ }
      this.#stuck = undefined;
    }
    try {
      this.#file.syncSync(); // the run's record is on disk before the driver exits
    } catch { /* not a regular file (e.g. /dev/null), or the disk refuses */ }
    this.#file.close();
    return lost;
  }
}

/**
 * Read `-r` status files into a resume table.
 * @param paths files as given
 * @returns the table and how many lines could not be parsed
 * @throws {UsageError} when a file cannot be read (argparse style, exit 2)
 */
export function readResumeFiles(paths: string[]): { table: ResumeTable; badLines: number } {
  const table = new ResumeTable();
  let badLines = 0;
  for (const p of paths) {
    let text: string;
    try {
      text = new TextDecoder().decode(Deno.readFileSync(p));
    } catch (e) {
      throw new UsageError(`argument -r/--resume-from: can't open '${p}': ${osErrorText(e, p)}`);
    }
    let good = 0, bad = 0;
    let firstBad = "";
    // A last line without its newline: a write cut short may have cut its command (see ResumeTable.add).
    const lastStart = text.endsWith("\n") ? text.length : text.lastIndexOf("\n") + 1;
    const whole = text.slice(0, lastStart);
    for (const r of statusLines(whole)) {
      if (typeof r === "string") {
        bad++;
        firstBad ||= r;
      } else {
        good++;
        table.add(r, p);
      }
    }
    for (const r of statusLines(text.slice(lastStart))) {
      if (typeof r === "string") {
        bad++;
        firstBad ||= r;
      } else {
        good++;
        table.add(r, p, true);
      }
    }
    if (good === 0 && bad > 0) {
      // Garbage, a log or the task file itself: resuming from it would silently rerun everything.
      const shown = firstBad.length > 60 ? `${firstBad.slice(0, 60)}…` : firstBad;
      throw new UsageError(
        `argument -r/--resume-from: '${p}' holds no status line (${bad} line(s), the first: ${
          JSON.stringify(shown)
        }); give the <prefix>_status.txt file of an earlier run`,
      );
    }
    badLines += bad;
  }
  return { table, badLines };
}

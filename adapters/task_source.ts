/**
 * Reading the task file (or stdin) as a lazy stream of parser items, without holding it in
 * memory, plus the up-front check of a regular file (directive errors and resume mismatches are
 * reported before any task runs).
 *
 * @module
 */

import { UsageError } from "../lib/cli.ts";
import type { DriverInvocation } from "../lib/driver_options.ts";
import { LineSplitter } from "../lib/line_splitter.ts";
import { ResumeMismatchError, type ResumeTable } from "../lib/resume.ts";
import { splitPhysicalLine, type TaskFileItem, TaskFileParser } from "../lib/task_file.ts";
import type { StatusRecord, Task } from "../lib/types.ts";
import { stderrLine } from "./stderr.ts";
import { binaryKind } from "../lib/text.ts";
import { heldOpen } from "./procfs.ts";

/** An open task stream: a file, or stdin for `-`. */
export interface TaskSource {
  read(p: Uint8Array): Promise<number | null>;
  close(): void;
  /**
   * A regular task file, at the end of the run: whether it is still what the run read, or grew
   * (lines appended: `grewBy` bytes), or was changed (rewritten after the run had read it).
   */
  since?(): { kind: "same" } | { kind: "grown"; grewBy: number } | { kind: "changed" };
}

/**
 * Python's `[Errno 2] No such file or directory: 'x'` style, which argparse users know.
 * @param e the error of an open @param path the path as given
 * @returns the message
 */
export function osErrorText(e: unknown, path: string): string {
  if (e instanceof Deno.errors.NotFound) return `[Errno 2] No such file or directory: '${path}'`;
  if (e instanceof Deno.errors.PermissionDenied) return `[Errno 13] Permission denied: '${path}'`;
  if (e instanceof Deno.errors.IsADirectory) return `[Errno 21] Is a directory: '${path}'`;
  return osErrorReason(e);
}

/**
 * The reason of an OS error without Deno's trailing `: open '/path'` (the caller names the path).
 * @param e the error @returns the message
 */
export function osErrorReason(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/: \w+ '[^']*'$/, "");
}

/**
 * Whether a process of this user holds the FIFO `st` open for writing, or this process holds it
 * (read from /proc: a writer of another user is not seen).
 * @param st the FIFO's stat @returns true when one does
 */
function fifoHasWriter(st: Deno.FileInfo): boolean {
  return heldOpen(new Set([`${st.dev}:${st.ino}`]), (pid, fd) => {
    // Held by this process already (`<(program)`: the shell passed it): opening it does not wait.
    if (Number(pid) === Deno.pid) return true;
    try {
      const flags = /flags:\s*([0-7]+)/.exec(Deno.readTextFileSync(`/proc/${pid}/fdinfo/${fd}`))?.[1];
      return flags !== undefined && (parseInt(flags, 8) & 3) !== 0;
    } catch {
      return false;
    }
  });
}

/**
 * Open the task file the way argparse's FileType does, with its message on failure.
 * @param path task file path, or `-` for stdin (never closed)
 * @returns the open source
 * @throws {UsageError} when the file cannot be opened
 */
export async function openTaskFile(path: string): Promise<TaskSource> {
  if (path === "-") return { read: (p) => Deno.stdin.read(p), close: () => {} };
  let file: Deno.FsFile;
  try {
    // Linux opens a directory for reading without complaint; argparse's FileType does not.
    const st = await Deno.stat(path);
    if (st.isDirectory) throw new Deno.errors.IsADirectory();
    // Opening a FIFO waits for its writer: with none there yet, say so rather than hang without a
    // word (`disbatch <(program)` has one). Asked of /proc: an open may hold the event loop.
    if (st.isFifo && !fifoHasWriter(st)) {
      stderrLine(`disbatch: ${path} is a FIFO: waiting for a program to write tasks into it`);
    }
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new UsageError(`argument taskfile: can't open '${path}': ${osErrorText(e, path)}`);
  }
  try {
    const st = await file.stat();
    if (st.isFile) {
      await refuseBinary(file, path);
      return await pinned(file, path, st);
    }
  } catch (e) {
    file.close();
    throw e;
  }
  return file;
}

/** The task file changed while the run was reading it. */
export class TaskFileChangedError extends Error {
  /** @param path the task file @param what what changed */
  constructor(readonly path: string, what: string) {
    super(
      `The task file ${path} changed while the run was reading it (${what}); the run stops before running ` +
        `anything from the new text. Tasks that ran are in the status file: to go on, resume with -r from it ` +
        `(edit a copy of a task file, never the one a run is reading)`,
    );
    this.name = "TaskFileChangedError";
  }
}

/**
 * A regular task file, pinned: the run reads it as it was when it was opened. After every read its
 * size and modification time must still be those it had (`cat new > Tasks` mid-run changes both),
 * else the read fails with {@linkcode TaskFileChangedError} before any item of the new text is used —
 * unless the file only grew and what was read is still there (lines appended): the appended bytes are
 * not read ({@linkcode TaskSource.grown} tells how many there are, for the end of the run).
 */
async function pinned(file: Deno.FsFile, path: string, at: Deno.FileInfo): Promise<TaskSource> {
  const mtime = at.mtime?.getTime();
  let offset = 0;
  let last: Uint8Array = new Uint8Array(0); // the last bytes read, at offset - last.length
  /** The bytes in the file from `end - length` to `end` (fewer at its end). */
  const bytesAt = async (end: number, length: number): Promise<Uint8Array> => {
    const buf = new Uint8Array(length);
    await file.seek(end - length, Deno.SeekMode.Start);
    let got = 0;
    while (got < buf.length) {
      const r = await file.read(buf.subarray(got));
      if (r === null || r === 0) break;
      got += r;
    }
    await file.seek(offset, Deno.SeekMode.Start);
    return buf.subarray(0, got);
  };
  const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
  // The file's last bytes when it was opened: still there, at the same place, in a file that grew
  // means lines were appended (a rewrite would have to repeat them exactly).
  const tail = await bytesAt(at.size, Math.min(4096, at.size));
  /** Whether `bytes`, read before, are still in the file where they ended at `end`. */
  const unchanged = async (bytes: Uint8Array, end: number): Promise<boolean> =>
    bytes.length === 0 || same(await bytesAt(end, bytes.length), bytes);
  let seen = { size: at.size, mtime };
  return {
    async read(p: Uint8Array): Promise<number | null> {
      if (offset >= at.size) return null;
      // What was read before this read: checked below if the file changed meanwhile.
      const before = last, end = offset;
      const r = await file.read(p.subarray(0, Math.min(p.length, at.size - offset)));
      const n = r ?? 0;
      // Its end before the size it had: it was cut (a rewrite under way).
      if (n === 0) throw new TaskFileChangedError(path, `it ends at byte ${offset} of ${at.size}`);
      offset += n;
      if (n > 0) last = p.slice(Math.max(0, n - 4096), n);
      const now = await file.stat();
      if (now.size !== seen.size || now.mtime?.getTime() !== seen.mtime) {
        // Lines appended leave what was read in place, and make the file longer; anything else stops the run.
        if (now.size <= at.size) {
          throw new TaskFileChangedError(
            path,
            now.size === at.size ? "modified" : `size ${at.size} → ${now.size} bytes`,
          );
        }
        if (!(await unchanged(before, end)) || !(await unchanged(tail, at.size))) {
          throw new TaskFileChangedError(path, `size ${at.size} → ${now.size} bytes`);
        }
        seen = { size: now.size, mtime: now.mtime?.getTime() };
      }
      return n === 0 ? null : n;
    },
    close: () => file.close(),
    since() {
      try {
        const now = Deno.statSync(path);
        if (now.size === at.size && now.mtime?.getTime() === mtime) return { kind: "same" as const };
        if (now.size <= at.size) return { kind: "changed" as const };
        // Its last bytes at the start are still in their place: lines were appended.
        const f = Deno.openSync(path);
        try {
          const again = new Uint8Array(tail.length);
          f.seekSync(at.size - tail.length, Deno.SeekMode.Start);
          let got = 0;
          while (got < again.length) {
            const r = f.readSync(again.subarray(got));
            if (r === null || r === 0) break;
            got += r;
          }
          return got === again.length && same(again, tail)
            ? { kind: "grown" as const, grewBy: now.size - at.size }
            : { kind: "changed" as const };
        } finally {
          f.close();
        }
      } catch {
        return { kind: "changed" as const };
      }
    },
  };
}

/**
 * Refuse a file that is clearly not text (an executable, an archive, data): run as a task file it
 * would start hundreds of garbage "commands". Reads the first 8 KiB and seeks back.
 * @throws {UsageError} naming what the file looks like
 */
async function refuseBinary(file: Deno.FsFile, path: string): Promise<void> {
  const head = new Uint8Array(8192);
  let n = 0;
  for (;;) {
    const r = await file.read(head.subarray(n));
    if (r === null || r === 0) break;
    n += r;
    if (n === head.length) break;
  }
  await file.seek(0, Deno.SeekMode.Start);
  const kind = binaryKind(head.subarray(0, n));
  if (kind) {
    throw new UsageError(
      `argument taskfile: '${path}' is ${kind}, not a task file (one shell command per line); give the file of commands`,
    );
  }
}

/**
 * Check a regular task file before anything runs: directive errors and resume mismatches.
 * Warnings are printed to stderr as they are found.
 * @param inv the task file and the `-R`/`--force-resume` flags
 * @param name the name for messages
 * @param table `-r` records, if any
 * @returns warnings already printed, whether the file holds anything to do, and how many tasks
 *   (REPEAT expansions included, barriers not) it holds
 * @throws {TaskFileSyntaxError} for a directive error
 * @throws {ResumeMismatchError} when a task changed since the status file was written
 */
export async function prescan(
  inv: Pick<DriverInvocation, "taskFile" | "retry" | "forceResume">,
  name: string,
  table: ResumeTable | undefined,
): Promise<{ printed: Set<string>; empty: boolean; total: number }> {
  const f = await openTaskFile(inv.taskFile);
  const printed = new Set<string>();
  let empty = true;
  let same = 0, differ = 0, moved = 0, wrapped = 0, barriers = 0;
  /** What was added around the first recorded command found inside its new one (PREFIX, SUFFIX). */
  let around: string | undefined;
  const ids = { next: 0 };
  let first: { task: Task; record: StatusRecord; source: string } | undefined;
  try {
    // Without -r only directives matter: a REPEAT is not walked (resume needs every id).
    for await (const item of readTaskItems(f, name, table !== undefined, ids)) {
      if (item.kind === "barrier") barriers++;
      if (item.kind === "warning") {
        printed.add(item.message);
        stderrLine(`disbatch: warning: ${item.message}`);
      } else if (item.kind === "task" || item.kind === "barrier") empty = false;
      if (item.kind === "task" && table) {
        // Compare every recorded task (not -R's reruns) to tell an edited file from another one.
        const d = table.decide(item.task, { retry: false, force: inv.forceResume });
        if (d.action === "run" && d.torn) warnTorn(item.task, d.torn.source);
        if (d.action === "mismatch") {
          first ??= { task: item.task, record: d.record, source: d.source };
          differ++;
          // Only its line moved (lines added or removed above it): same command, same repeat index.
          if (d.record.command === item.task.command && d.record.repeatIndex === item.task.repeatIndex) {
            moved++;
          } else if (d.record.command !== "" && item.task.command.includes(d.record.command)) {
            // Its command inside the new one, with the same text around it as the others: a PREFIX or
            // SUFFIX was added (an edit of one command is not).
            const at = item.task.command.indexOf(d.record.command);
            const pair = `${item.task.command.slice(0, at)}\0${
              item.task.command.slice(at + d.record.command.length)
            }`;
            around ??= pair;
            if (pair === around) wrapped++;
          }
        } else if (d.action === "skip") same++;
      }
    }
  } finally {
    f.close();
  }
  if (first) {
    throw new ResumeMismatchError(first.task, first.record, first.source, { same, differ, moved, wrapped });
  }
  return { printed, empty, total: ids.next - barriers };
}

/** A status file's last line was cut short (a crash, a full disk) in a way that leaves its task unknown. */
function warnTorn(task: Task, source: string): void {
  stderrLine(
    `disbatch: warning: the last line of ${source} has no newline and its command does not match task ` +
      `${task.id} (line ${task.line}): a write cut short, ignored; the task runs again`,
  );
}

/**
 * Items of a task stream, in order, read in 64 KiB chunks.
 * @param file an open file (or stdin)
 * @param name the name for messages
 * @param expandRepeats false: a REPEAT yields its first task only (ids still advance)
 * @param ids when given, `next` follows the parser's next id (tasks, REPEAT expansions, barriers)
 * @returns an async iterator of parser items
 */
export async function* readTaskItems(
  file: { read(p: Uint8Array): Promise<number | null> },
  name: string,
  expandRepeats = true,
  ids?: { next: number },
): AsyncGenerator<TaskFileItem> {
  const parser = new TaskFileParser(name, { expandRepeats });
  if (ids) ids.next = 0;
  const splitter = new LineSplitter();
  const buf = new Uint8Array(64 * 1024);
  let lineNo = 0;
  for (;;) {
    const n = await file.read(buf);
    const lines = n === null ? splitter.end() : splitter.push(buf.subarray(0, n));
    for (const physical of lines) {
      lineNo++;
      for (const text of splitPhysicalLine(physical)) yield* parser.feed(text, lineNo);
      if (ids) ids.next = parser.nextId;
    }
    if (n === null) return;
  }
}

/**
 * True when `path` is a regular file we can read twice (a prescan, then the run).
 * @param path task file path or "-"
 * @returns whether to prescan
 */
export function isRegularFile(path: string): boolean {
  if (path === "-") return false;
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

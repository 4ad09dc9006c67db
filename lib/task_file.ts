/**
 * The task-file grammar: comments, PREFIX/SUFFIX, REPEAT, BARRIER [CHECK] [key],
 * PERENGINE START/STOP, TIMEOUT (ours: the time limit of the tasks that follow), task ids and line
 * numbers.
 *
 * {@linkcode TaskFileParser} is fed one physical line at a time (see `line_splitter.ts`) and yields
 * items lazily, so a `REPEAT 1000000` or a million-line file is never held in memory.
 *
 * @example
 * ```ts
 * import { TaskFileParser } from "./task_file.ts";
 * const p = new TaskFileParser("Tasks");
 * const items = [...p.feed("#DISBATCH REPEAT 2 echo hi", 1)];
 * // items[0] is the per-engine block closing, then two tasks with repeat indices 0 and 1
 * ```
 *
 * @module
 */

import { parseDuration } from "./duration.ts";
import type { Barrier, PerEngineTask, Task } from "./types.ts";

/** One thing the parser produced. */
export type TaskFileItem =
  /** A normal task (plain line or one REPEAT expansion). */
  | { kind: "task"; task: Task }
  /** `#DISBATCH BARRIER [CHECK] [key]` */
  | { kind: "barrier"; barrier: Barrier }
  /** `#DISBATCH PERENGINE START|STOP cmd` */
  | { kind: "perEngine"; task: PerEngineTask }
  /** The per-engine block is complete: the first line that is not PERENGINE/PREFIX/SUFFIX/comment. */
  | { kind: "perEngineDone" }
  /** Something the reference accepts but that is probably a mistake; the meaning is kept. */
  | { kind: "warning"; line: number; message: string };

/** A task file that cannot be run as written. */
export class TaskFileSyntaxError extends SyntaxError {
  /** File name as the user gave it. */
  readonly file: string;
  /** 1-based line. */
  readonly line: number;
  /** @param file task file name @param line 1-based line @param message what is wrong and what to do */
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.name = "TaskFileSyntaxError";
    this.file = file;
    this.line = line;
  }
}

// Python's bytes-regex \s is ASCII whitespace only; `.` excludes only \n (lines never hold one).
const WS = "[ \\t\\n\\r\\x0b\\x0c]";
const COMMENT_RE = new RegExp(`^${WS}*(#|$)`);
const PERENGINE_RE = /^#DISBATCH PERENGINE (START|STOP) ([^\n]*)$/i;
const PREFIX_RE = /^#DISBATCH PREFIX ([^\n]*)$/i;
const SUFFIX_RE = /^#DISBATCH SUFFIX ([^\n]*)$/i;
const TIMEOUT_RE = /^#DISBATCH TIMEOUT(?:[ \t]+([^\n]*))?$/;
const REPEAT_RE = new RegExp(
  `^#DISBATCH REPEAT${WS}+([0-9]+)(?:${WS}+start${WS}+([0-9]+))?(?:${WS}+step${WS}+([0-9]+))?` +
    `(?: ([^\\n]+))?${WS}*$`,
  "i",
);
// Case-sensitive and not anchored at the end, exactly as the reference (so BARRIER CHECKX is a check).
const BARRIER_RE = /^#DISBATCH BARRIER(?: (CHECK))?(?: ([^\n]*)$)?/;
const LOOSE_DIRECTIVE_RE = /^#DISBATCH[ \t]+(PREFIX|SUFFIX|REPEAT|BARRIER|PERENGINE|TIMEOUT)\b/i;

/** Stateful parser of one task stream. */
export class TaskFileParser {
  /** Name used in messages (`Tasks:12: …`). */
  readonly fileName: string;
  #prefix = "";
  #suffix = "";
  #timeout: number | undefined;
  #nextId = 0;
  #perEngineStart = 0;
  #perEngineStop = 0;
  #perEngineOpen = true;
  /** The line that closed the PERENGINE block (the first task, barrier or other directive). */
  #closedBy: { line: number; text: string } | undefined;
  readonly #expand: boolean;

  /**
   * @param fileName the task file's name as the user gave it, for messages
   * @param options `expandRepeats: false` yields only the first task of a REPEAT (ids still
   *   advance by its count): enough to check a file without walking a REPEAT of 10^9
   */
  constructor(fileName: string, options: { expandRepeats?: boolean } = {}) {
    this.fileName = fileName;
    this.#expand = options.expandRepeats ?? true;
  }

  /** Number of ids handed out so far (normal tasks, REPEAT expansions and barriers). */
  get nextId(): number {
    return this.#nextId;
  }

  /**
   * Parse one logical line (already split by `splitPhysicalLine`).
   *
   * @param text the line without its terminator
   * @param lineNo 1-based physical line number
   * @returns the items the line produces, lazily (REPEAT expands on demand)
   * @throws {TaskFileSyntaxError} for a PERENGINE line after the first task
   */
  *feed(text: string, lineNo: number): Generator<TaskFileItem> {
    if (lineNo === 1 && text.startsWith("\uFEFF")) {
      // As disBatch, it stays part of the line (a directive there is no directive, a command fails).
      yield this.#warn(
        lineNo,
        "the file starts with a byte order mark (U+FEFF, as some Windows editors save UTF-8): it is part of " +
          "the first line, which is then run as a command (and fails" +
          (/^\uFEFF\s*#/.test(text) ? ", no directive or comment" : "") + "); save the file without it",
      );
    }
    if (!text.startsWith("#DISBATCH")) {
      if (COMMENT_RE.test(text)) {
        yield* this.#commentWarning(text, lineNo);
        return;
      }
    }
    let m = PERENGINE_RE.exec(text);
    if (m) {
      if (!this.#perEngineOpen) {
        const by = this.#closedBy;
        throw new TaskFileSyntaxError(
          this.fileName,
          lineNo,
          "#DISBATCH PERENGINE must come before the first task, barrier or other directive" +
            (by ? ` (line ${by.line} is one: "${clip(by.text)}")` : "") + "; move it above that line",
        );
      }
      const phase = m[1]!.toUpperCase() === "START" ? "start" : "stop";
      const id = phase === "start" ? this.#perEngineStart++ : this.#perEngineStop++;
      const command = this.#prefix + m[2]! + this.#suffix;
      yield { kind: "perEngine", task: { id, line: lineNo, repeatIndex: -1, command, phase } };
      return;
    }
    if ((m = PREFIX_RE.exec(text))) {
      this.#prefix = m[1]!;
      return;
    }
    if ((m = SUFFIX_RE.exec(text))) {
      this.#suffix = m[1]!;
      return;
    }
    if ((m = TIMEOUT_RE.exec(text))) {
      const seconds = parseDuration(m[1] ?? "");
      if (seconds === undefined) {
        throw new TaskFileSyntaxError(
          this.fileName,
          lineNo,
          `#DISBATCH TIMEOUT needs a duration (seconds, 90s, 10m, 2h, HH:MM:SS or D-HH:MM:SS; 0 for no limit), ` +
            `got "${clip(m[1] ?? "")}"`,
        );
      }
      this.#timeout = seconds;
      return;
    }
    if (this.#perEngineOpen) {
      this.#perEngineOpen = false;
      this.#closedBy = { line: lineNo, text };
      yield { kind: "perEngineDone" };
    }
    if ((m = REPEAT_RE.exec(text))) {
      const count = Number(m[1]);
      let index = m[2] === undefined ? 0 : Number(m[2]);
      const step = m[3] === undefined ? 1 : Number(m[3]);
      const own = m[4] ?? "";
      if (/^(start|step)[ \t]/i.test(own)) {
        // disBatch's grammar: `start S` (a whole number) before `step K`; anything else is the command.
        yield this.#warn(
          lineNo,
          `the command of this REPEAT begins with "${own.split(/[ \t]/)[0]}": options go as ` +
            `"REPEAT N start S step K command", S and K whole numbers; otherwise they are part of the command`,
        );
      }
      const command = this.#prefix + own + this.#suffix;
      if (!this.#expand) {
        if (count > 0) {
          yield {
            kind: "task",
            task: this.#limited({ id: this.#nextId, line: lineNo, repeatIndex: index, command }),
          };
        }
        this.#nextId += count;
        return;
      }
      for (let i = 0; i < count; i++, index += step) {
        yield {
          kind: "task",
          task: this.#limited({ id: this.#nextId++, line: lineNo, repeatIndex: index, command }),
        };
      }
      return;
    }
    if ((m = BARRIER_RE.exec(text))) {
      const check = m[1] === "CHECK";
      const key = m[2] === undefined || m[2] === "" ? undefined : m[2];
      const rest = text.slice("#DISBATCH BARRIER".length);
      if ((rest !== "" && rest[0] !== " ") || (check && rest.length > 6 && rest[6] !== " ")) {
        yield this.#warn(
          lineNo,
          `"${clip(text)}" is read as a ${check ? "BARRIER CHECK" : "BARRIER"}${
            key ? ` with key "${key}"` : ""
          } (disBatch compatibility); write "#DISBATCH BARRIER${check ? " CHECK" : ""}${key ? " KEY" : ""}"`,
        );
      }
      const barrier: Barrier = key === undefined
        ? { id: this.#nextId++, line: lineNo, check, text }
        : { id: this.#nextId++, line: lineNo, check, key, text };
      yield { kind: "barrier", barrier };
      return;
    }
    if (text.startsWith("#DISBATCH ")) {
      yield this.#warn(lineNo, unknownDirectiveMessage(text));
      return;
    }
    yield {
      kind: "task",
      task: this.#limited({
        id: this.#nextId++,
        line: lineNo,
        repeatIndex: -1,
        command: this.#prefix + text + this.#suffix,
      }),
    };
  }

  /** The task with the time limit of the last `#DISBATCH TIMEOUT` (none before the first). */
  #limited(task: Task): Task {
    return this.#timeout === undefined ? task : { ...task, timeout: this.#timeout };
  }

  *#commentWarning(text: string, lineNo: number): Generator<TaskFileItem> {
    const t = text.trimStart();
    if (/^#disbatch\b/i.test(t) && LOOSE_DIRECTIVE_RE.test(t)) {
      yield this.#warn(
        lineNo,
        `"${clip(text)}" is a comment: directives must start the line with "#DISBATCH" in capitals`,
      );
    }
  }

  #warn(line: number, message: string): TaskFileItem {
    return { kind: "warning", line, message: `${this.fileName}:${line}: ${message}` };
  }
}

function clip(s: string): string {
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

function unknownDirectiveMessage(text: string): string {
  const what = `unknown directive "${clip(text)}" ignored (as disBatch does)`;
  if (/^#DISBATCH (PREFIX|SUFFIX)$/i.test(text)) {
    const kw = text.slice(10).toUpperCase();
    return `${what}: a bare "#DISBATCH ${kw}" does not clear the ${kw.toLowerCase()}; ` +
      `write "#DISBATCH ${kw} " with a trailing space to clear it`;
  }
  if (/^#DISBATCH REPEAT/i.test(text)) {
    return `${what}: expected "#DISBATCH REPEAT N [start S] [step K] [command]" ` +
      `with whole numbers and a single space before the command`;
  }
  if (/^#DISBATCH barrier/i.test(text)) return `${what}: BARRIER must be written in capitals`;
  if (/^#DISBATCH PERENGINE/i.test(text)) {
    return `${what}: expected "#DISBATCH PERENGINE START command" or "#DISBATCH PERENGINE STOP command"`;
  }
  if (/^#DISBATCH TIMEOUT/i.test(text)) return `${what}: TIMEOUT must be written in capitals`;
  return `${what}: known directives are PREFIX, SUFFIX, REPEAT, BARRIER, PERENGINE and TIMEOUT`;
}

/**
 * Split one physical line (as read up to `\n`, without it) the way the reference does
 * (`bytes.splitlines()` of each line): `\r\n` and a bare `\r` also end a line, so `a\rb` gives two
 * items with the same line number.
 *
 * @param physical the physical line without its `\n`
 * @returns the logical lines (at least one)
 */
export function splitPhysicalLine(physical: string): string[] {
  if (physical.indexOf("\r") < 0) return [physical];
  const body = physical.endsWith("\r") ? physical.slice(0, -1) : physical;
  return body.split("\r");
}

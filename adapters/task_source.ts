/**
 * Reading the task file (or stdin) as a lazy stream of parser items, without holding it in
 * memory, plus the up-front check of a regular file (directive errors and resume mismatches are
 * reported before any task runs).
 *
 * @module
 */

import { LineSplitter } from "../lib/line_splitter.ts";
import { splitPhysicalLine, type TaskFileItem, TaskFileParser } from "../lib/task_file.ts";

/**
 * Items of a task stream, in order, read in 64 KiB chunks.
 * @param file an open file (or stdin)
 * @param name the name for messages
 * @returns an async iterator of parser items
 */
export async function* readTaskItems(
  file: { read(p: Uint8Array): Promise<number | null> },
  name: string,
  expandRepeats = true,
): AsyncGenerator<TaskFileItem> {
  const parser = new TaskFileParser(name, { expandRepeats });
  const splitter = new LineSplitter();
  const buf = new Uint8Array(64 * 1024);
  let lineNo = 0;
  for (;;) {
    const n = await file.read(buf);
    const lines = n === null ? splitter.end() : splitter.push(buf.subarray(0, n));
    for (const physical of lines) {
      lineNo++;
      for (const text of splitPhysicalLine(physical)) yield* parser.feed(text, lineNo);
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

/**
 * Whole lines to stderr, written synchronously so they keep their order with the progress line
 * and the log.
 *
 * @module
 */

const encoder = new TextEncoder();

let broken = false;

/**
 * Write a message to stderr. A closed stderr (its reader went away: EPIPE) must not stop the run:
 * from then on messages are dropped (the driver log keeps them).
 * @param line a message for stderr, without its newline
 */
export function stderrLine(line: string): void {
  stderrWrite(line + "\n");
}

/**
 * Write text to stderr, dropping it once stderr is closed.
 * @param text what to write
 */
export function stderrWrite(text: string): void {
  if (broken) return;
  try {
    const data = encoder.encode(text);
    let off = 0;
    while (off < data.length) off += Deno.stderr.writeSync(data.subarray(off));
  } catch {
    broken = true;
  }
}

/** @returns true once a write to stderr failed (closed pipe, revoked terminal) */
export function stderrBroken(): boolean {
  return broken;
}

/**
 * Whole lines to stderr, written synchronously so they keep their order with the progress line
 * and the log.
 *
 * @module
 */

const encoder = new TextEncoder();

/** @param line a message for stderr, without its newline */
export function stderrLine(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

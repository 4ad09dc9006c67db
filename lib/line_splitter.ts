/**
 * Turns a stream of byte chunks into physical lines (split on `\n` only, as Python's binary file
 * iteration), decoded with surrogate escapes so non-UTF-8 bytes survive.
 *
 * @example
 * ```ts
 * import { LineSplitter } from "./line_splitter.ts";
 * const s = new LineSplitter();
 * s.push(new TextEncoder().encode("a\nb")); // ["a"]
 * s.end(); // ["b"]
 * ```
 *
 * @module
 */

import { decodeSurrogateEscape } from "./text.ts";

/** Incremental `\n` splitter; lines are returned without their `\n`. */
export class LineSplitter {
  #rest: Uint8Array = new Uint8Array(0);

  /**
   * Add a chunk.
   * @param chunk bytes as read
   * @returns the lines completed by this chunk
   */
  push(chunk: Uint8Array): string[] {
    let buf = chunk;
    if (this.#rest.length > 0) {
      buf = new Uint8Array(this.#rest.length + chunk.length);
      buf.set(this.#rest);
      buf.set(chunk, this.#rest.length);
    }
    const last = buf.lastIndexOf(10);
    if (last < 0) {
      this.#rest = buf.slice();
      return [];
    }
    this.#rest = buf.slice(last + 1);
    const lines = decodeSurrogateEscape(buf.subarray(0, last)).split("\n");
    return lines;
  }

  /**
   * Flush at end of input.
   * @returns the last line if the input did not end with `\n`
   */
  end(): string[] {
    if (this.#rest.length === 0) return [];
    const line = decodeSurrogateEscape(this.#rest);
    this.#rest = new Uint8Array(0);
    return [line];
  }
}

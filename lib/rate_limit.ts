/**
 * A limit on repeated log lines (rejected connections during an attack wave, say): at most
 * `burst` lines per `windowS` seconds; the lines held back are counted and reported in one line
 * when the next window opens. Time comes in as `now` (seconds).
 *
 * @module
 */

/** What to do with one line. */
export interface LimitVerdict {
  /** Write this line. */
  write: boolean;
  /** Lines held back in the window that just ended (report them first), or 0. */
  suppressed: number;
}

/** Counts lines per window. */
export class LineLimiter {
  readonly #burst: number;
  readonly #windowS: number;
  #start = -Infinity;
  #count = 0;
  #held = 0;

  /** @param burst lines allowed per window @param windowS window length in seconds */
  constructor(burst = 10, windowS = 10) {
    this.#burst = burst;
    this.#windowS = windowS;
  }

  /**
   * Decide about one line.
   * @param now seconds
   * @returns whether to write it, and how many were held back before
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { LineLimiter } from "./rate_limit.ts";
   * const l = new LineLimiter(1, 10);
   * assert.deepEqual(l.take(0), { write: true, suppressed: 0 });
   * assert.deepEqual(l.take(1), { write: false, suppressed: 0 });
   * assert.deepEqual(l.take(11), { write: true, suppressed: 1 });
   * ```
   */
  take(now: number): LimitVerdict {
    let suppressed = 0;
    if (now - this.#start >= this.#windowS) {
      suppressed = this.#held;
      this.#start = now;
      this.#count = 0;
      this.#held = 0;
    }
    if (this.#count < this.#burst) {
      this.#count++;
      return { write: true, suppressed };
    }
    this.#held++;
    return { write: false, suppressed };
  }
}

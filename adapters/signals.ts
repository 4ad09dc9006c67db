/**
 * The run's termination signals: the first SIGINT, SIGTERM or SIGHUP asks for an orderly abort,
 * any later one (of any of the three) for an immediate exit. Exit statuses are 128 + the number.
 *
 * @module
 */

const SIGNALS: readonly (readonly [Deno.Signal, number])[] = [["SIGINT", 2], ["SIGTERM", 15], ["SIGHUP", 1]];

/** What to do on a termination signal. */
export interface SignalHandlers {
  /** The first signal. @param name signal @param n its number */
  first(name: Deno.Signal, n: number): void;
  /** Every later signal. @param name signal @param n its number */
  again(name: Deno.Signal, n: number): void;
}

/**
 * Listen for SIGINT, SIGTERM and SIGHUP.
 * @param h the handlers
 * @returns a function that removes the listeners
 */
export function trapSignals(h: SignalHandlers): () => void {
  let signalled = 0;
  const installed = SIGNALS.map(([name, n]) => {
    const listener = () => {
      signalled++;
      if (signalled > 1) h.again(name, n);
      else h.first(name, n);
    };
    Deno.addSignalListener(name, listener);
    return [name, listener] as const;
  });
  return () => {
    for (const [name, listener] of installed) Deno.removeSignalListener(name, listener);
  };
}

/**
 * Monitors (`--mon`) watching a run: each gets a snapshot when it starts watching, one every second
 * the driver asks for, and the final counts as the run ends.
 *
 * @module
 */

import { type RunState, runStateOf } from "../lib/protocol.ts";
import type { PeersHost } from "./peers.ts";
import type { Peer } from "./server.ts";

/**
 * The state monitors see: the scheduler's snapshot, the run, and when engines were last heard.
 * @param h the driver's scheduler, run, allocations and engines' connections
 */
export function monitorState(
  h: Pick<PeersHost, "sched" | "uid" | "startedAt" | "allocations" | "links">,
): RunState {
  const snap = runStateOf(h.sched.snapshot(), {
    uid: h.uid,
    startedAt: h.startedAt,
    ...(h.allocations?.() ?? {}),
  });
  for (const e of snap.engines) {
    const p = h.links.get(e.rank);
    if (p) e.lastHeard = p.link.lastHeard / 1000;
  }
  return snap;
}

/** The monitors connected to the driver. */
export class Watchers {
  readonly #peers = new Set<Peer>();
  readonly #state: () => RunState;

  /** @param state the state monitors see now */
  constructor(state: () => RunState) {
    this.#state = state;
  }

  /** @param peer a monitor that asked to watch: it gets a snapshot at once */
  add(peer: Peer): void {
    this.#peers.add(peer);
    peer.link.send({ kind: "snapshot", state: this.#state() });
  }

  /** @param peer a monitor whose connection ended */
  remove(peer: Peer): void {
    this.#peers.delete(peer);
  }

  /** Send every monitor a snapshot (the driver does so every second). */
  send(): void {
    if (this.#peers.size === 0) return;
    const snap = this.#state();
    for (const w of this.#peers) w.link.send({ kind: "snapshot", state: snap });
  }

  /** Show monitors the final counts and give their connections up to 0.5 s to drain. */
  async farewell(): Promise<void> {
    if (this.#peers.size === 0) return;
    const last = this.#state();
    for (const w of this.#peers) w.link.send({ kind: "snapshot", state: { ...last, phase: "done" } });
    await Promise.race([
      Promise.all([...this.#peers].map((w) => w.link.flush())),
      new Promise((r) => setTimeout(r, 500)),
    ]);
  }
}

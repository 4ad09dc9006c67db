/**
 * The driver's side of its peers, as the {@linkcode DriverServer}'s handlers: engines get ranks
 * and join the {@linkcode Scheduler}, contexts (`dbUtil.sh`) register and report, `--stop` and the
 * dashboard stop engines or contexts, and monitors (`--mon`) join the {@linkcode Watchers}.
 *
 * @module
 */

import type { RunState, ToDriver } from "../lib/protocol.ts";
import { answerStop, type StopAnswer, type StopTarget } from "../lib/control.ts";
import type { RunPorts } from "./actions.ts";
import type { JournalContext } from "../lib/journal.ts";
import type { JournalFile } from "./journal_file.ts";
import { describe, GIVE_UP_MARGIN_S, type Peer, type ServerHandlers } from "./server.ts";
import { monitorState, Watchers } from "./watchers.ts";

/** What {@linkcode DriverPeers} needs from the driver. */
export interface PeersHost extends RunPorts {
  /**
   * The engines' connections by rank; filled and emptied here. They are the sockets only: which
   * engines and contexts the run has, and what they hold, is the scheduler's (`sched.view`).
   */
  links: Map<number, Peer>;
  /** An engine's connection ended. */
  engineClosed(rank: number): void;
  /**
   * An engine was lost (no goodbye, or one forced by a signal) while the run goes on: start it
   * again if its context can.
   * @param launch its launch id (engines the driver started), if any
   * @returns true when a restart is on its way
   */
  engineLost?(launch: string | undefined): boolean;
  /** Run uid and start time, for monitor snapshots. */
  uid: string;
  startedAt: number;
  /** A context registered (an allocation of the run's own starts its engines). */
  contextRegistered?(label: string, endsAt: number | undefined): void;
  /** A context's connection ended. */
  contextLeft?(label: string): void;
  /** The run's allocations, for monitors and `--status`. */
  allocations?(): Pick<RunState, "allocations" | "allocatorPaused">;
  /** The run journal (for a driver restarted with `--reattach`): the contexts here, the rest from the events. */
  journal?: JournalFile;
  /** `--driver-grace` in seconds (how long a silent engine keeps its tasks). */
  driverGrace: number;
}

/**
 * Seconds a driver waits for an engine whose connection broke without a goodbye to come back
 * before its tasks run elsewhere (an engine mends a broken link within about a second).
 */
export const RECONNECT_WINDOW_S = 4;

/** Engines, contexts and monitors connected to the driver. */
export class DriverPeers implements ServerHandlers {
  readonly #h: PeersHost;
  /** The connections of contexts that registered (`dbUtil.sh`), by id. */
  readonly #contextLinks = new Map<number, Peer>();
  readonly #joinedLaunches = new Set<string>();
  /** Monitors (`--mon`) watching the run. */
  readonly watchers: Watchers;
  /** Engines that said `bye` (their leaving is a clean finish), with the signal that made them leave. */
  readonly #saidBye = new WeakMap<Peer, string | undefined>();
  /** Engines whose connection broke without a goodbye, waited for a moment (rank → wait). */
  readonly #mending = new Map<number, { timer: ReturnType<typeof setTimeout>; peer: Peer }>();
  /** Launches whose launcher exited and took its engine with it (launch id → how it ended). */
  readonly #launcherOver = new Map<string, string>();
  /** Connections an engine replaced with a new one (their end is not the engine's). */
  readonly #replaced = new WeakSet<Peer>();
  /** Re-attached: engines of the last driver that may come back, by rank. */
  readonly #expected = new Map<number, { context: number; host: string }>();
  #nextRank = 0;
  #nextContext = 0;

  /** @param host what the handlers act on */
  constructor(host: PeersHost) {
    this.#h = host;
    this.watchers = new Watchers(() => monitorState(host));
  }

  /**
   * Register a context that runs inside the driver.
   * @param label its label @returns its id
   */
  addContext(label: string, info: Omit<JournalContext, "label" | "origin">): number {
    const id = this.#nextContext++;
    this.#h.journal?.context(id, { label, origin: "auto", ...info });
    return id;
  }

  /**
   * Re-attached: the engines the last driver had, and where numbering goes on (its contexts have
   * joined the scheduler).
   * @param engines rank → what it was, for those that did not leave
   */
  restore(
    engines: ReadonlyMap<number, { context: number; host: string }>,
    nextRank: number,
    nextContext: number,
  ): void {
    for (const [r, e] of engines) this.#expected.set(r, e);
    this.#nextRank = Math.max(this.#nextRank, nextRank);
    this.#nextContext = Math.max(this.#nextContext, nextContext);
  }

  /** @param launchId a launcher's id @returns whether its engine joined the run */
  hasJoined(launchId: string): boolean {
    return this.#joinedLaunches.has(launchId);
  }

  /** @param peer a peer past the handshake @returns a rank for an engine, or why it is refused */
  accepted(peer: Peer): { rank: number } | { reject: string; gone?: boolean } {
    const h = peer.hello;
    if (h.role === "engine") {
      if (typeof h.slots !== "number" || h.slots < 1 || typeof h.context !== "number") {
        return { reject: "an engine must say its context and a slot count of at least 1" };
      }
      if (!this.#h.sched.view.context(h.context)) return { reject: `unknown context ${h.context}` };
      if (h.resume) {
        const r = h.resume.rank;
        const mending = this.#mending.get(r);
        if (mending !== undefined) {
          clearTimeout(mending.timer);
          this.#mending.delete(r);
          return { rank: r };
        }
        const old = this.#h.links.get(r);
        if (old) {
          // The same engine on a new connection (its old one broke): the old one ends quietly.
          this.#replaced.add(old);
          old.link.close("replaced by a new connection of the same engine");
          return { rank: r };
        }
        if (this.#expected.delete(r)) return { rank: r };
        return {
          reject: `engine ${r} is not part of this run any more (it was away longer than --driver-grace, ` +
            `and its tasks run elsewhere)`,
          gone: true,
        };
      }
      return { rank: this.#nextRank++ };
    }
    return { rank: -1 };
  }

  /**
   * Tell the `dbUtil.sh` that added an engine's context (the driver's own contexts have none) why
   * the engine leaves: its job's output then says why it ends.
   * @param rank the engine @param why the reason
   */
  engineLeaves(rank: number, why: string): void {
    const e = this.#h.sched.view.engine(rank);
    if (e) this.#dbUtilOf(e.context)?.send({ kind: "note", text: `the engine on ${e.host} leaves: ${why}` });
  }

  /** The open link of the `dbUtil.sh` that added a context (none for the driver's own). */
  #dbUtilOf(context: number) {
    const link = this.#contextLinks.get(context)?.link;
    return link && !link.isClosed ? link : undefined;
  }

  /** @param p a peer that got its `welcome` */
  joined(p: Peer): void {
    if (p.hello.role !== "engine") return;
    const h = p.hello;
    this.#h.links.set(p.rank!, p);
    // The dbUtil.sh that started it, if one did: it does not start a joined engine again (it was
    // lost, not unreachable), and its user hears the engine's warnings too.
    const toContext = this.#dbUtilOf(h.context!);
    if (h.launch) {
      this.#joinedLaunches.add(h.launch);
      toContext?.send({ kind: "engineJoined", launch: h.launch });
    }
    for (const note of h.notes ?? []) {
      this.#h.log.warn(`Engine ${p.rank} on ${h.host}: ${note}`);
      this.#h.say(`disbatch: warning: engine ${p.rank} on ${h.host}: ${note}`);
      toContext?.send({ kind: "note", text: `warning: the engine on ${h.host}: ${note}` });
    }
    if (h.resume) return; // what it holds comes in its `resume` message
    this.#h.react({
      kind: "engineJoined",
      rank: p.rank!,
      context: h.context!,
      host: h.host,
      slots: h.slots!,
      now: this.#h.now(),
    });
  }

  /** @param peer an authenticated peer @param msg its message */
  message(peer: Peer, msg: ToDriver): void {
    const { sched, log, react, now } = this.#h;
    const role = peer.hello.role;
    if (role === "engine") {
      const rank = peer.rank!;
      switch (msg.kind) {
        case "done":
          if (typeof msg.seq === "number") peer.ack = msg.seq;
          react({ kind: "tasksDone", rank, outcomes: msg.outcomes, now: now() });
          return;
        case "resume": {
          const h = peer.hello;
          if (!h.resume) break;
          log.info(
            `Engine ${rank} on ${h.host} reconnected from ${peer.remote}: ${msg.tasks.length} task(s) held, ` +
              `${msg.outcomes.length} outcome(s) to deliver`,
          );
          react({
            kind: "engineResumed",
            rank,
            context: h.context!,
            host: h.host,
            slots: h.slots!,
            tasks: msg.tasks,
            outcomes: msg.outcomes,
            now: now(),
          });
          return;
        }
        case "released":
          react({ kind: "released", rank, ids: msg.ids, now: now() });
          return;
        case "bye":
          this.#saidBye.set(peer, typeof msg.signal === "string" ? msg.signal : undefined);
          return;
        case "pong":
          return;
      }
      log.warn(`Ignored "${msg.kind}" from ${describe(peer)}`);
      return;
    }
    switch (msg.kind) {
      case "pong":
        return;
      case "registerContext": {
        if (role !== "context") break;
        if (sched.phase !== "running") {
          peer.link.send({ kind: "runOver" });
          return;
        }
        const id = this.#nextContext++;
        const label = msg.label || `SSH${id}`;
        this.#contextLinks.set(id, peer);
        log.info(
          `Context ${label} (${id}, ${msg.contextKind}) registered from ${peer.hello.host}: ${msg.engines} engine(s), task limit ${msg.taskLimit}`,
        );
        const endsAt = typeof msg.endsAt === "number" ? msg.endsAt : undefined;
        this.#h.journal?.context(id, {
          label,
          origin: "added",
          taskLimit: msg.taskLimit,
          engines: msg.engines,
          retires: msg.retires === true,
          ...(msg.keepHost ? { keepHost: msg.keepHost } : {}),
          ...(endsAt !== undefined ? { endsAt } : {}),
          ...(msg.jobId ? { jobId: msg.jobId } : {}),
        });
        react({
          kind: "contextJoined",
          id,
          label,
          taskLimit: msg.taskLimit,
          engines: msg.engines,
          retires: msg.retires === true,
          ...(msg.keepHost !== undefined ? { keepHost: msg.keepHost } : {}),
          added: true,
          ...(endsAt !== undefined ? { endsAt } : {}),
          now: now(),
        });
        this.#h.contextRegistered?.(label, endsAt);
        peer.link.send({ kind: "registered", context: id, label });
        return;
      }
      case "engineFailed":
        if (msg.launch && this.#joinedLaunches.has(msg.launch)) {
          log.info(`Engine launcher on ${msg.host} (context ${msg.context}) ${msg.reason}`);
          if (msg.engineOver) this.launcherOver(msg.launch, `its launcher ${msg.reason.replace(/;.*/, "")}`);
          return;
        }
        log.error(`Engine on ${msg.host} (context ${msg.context}) could not start: ${msg.reason}`);
        if (sched.phase === "running") {
          this.#h.say(`disbatch: engine on ${msg.host} could not start: ${msg.reason}`);
        }
        react({
          kind: "engineNotComing",
          context: msg.context,
          what: `the engine on ${msg.host}`,
          now: now(),
        });
        return;
      case "contextDone":
        log.info(`Context ${sched.view.context(msg.context)?.label ?? msg.context} finished`);
        return;
      case "requestStop":
        peer.link.send({ kind: "ack", answer: this.stop(msg.target) });
        return;
      case "watch":
        this.watchers.add(peer);
        return;
    }
    log.warn(`Ignored "${msg.kind}" from ${describe(peer)}`);
  }

  /**
   * An engine's launcher exited in a way that means the engine has ended too (it ran as the
   * launcher, or srun returned with its one task's status): its tasks are not kept for it to come
   * back once its connection broke (now or later). A silent engine (no break: a dead node, or one
   * cut off) is given up now only when the launcher was the engine itself.
   * @param launchId the launch @param how how the launcher ended, for the log
   * @param evenIfSilent the launcher was the engine's own process
   */
  launcherOver(launchId: string, how: string, evenIfSilent = false): void {
    if (!this.#joinedLaunches.has(launchId)) return;
    this.#launcherOver.set(launchId, how);
    for (const [rank, m] of this.#mending) {
      if (m.peer.hello.launch !== launchId) continue;
      clearTimeout(m.timer);
      this.#mending.delete(rank);
      this.#engineEnded(m.peer, how);
      return;
    }
    if (!evenIfSilent) return;
    for (const peer of this.#h.links.values()) {
      // Silent, its own process gone: its connection has not broken yet; end it now.
      if (peer.hello.launch === launchId && peer.away) peer.link.close(how);
    }
  }

  /** @param peer an engine that went silent */
  silent(peer: Peer): void {
    if (peer.rank === undefined) return;
    this.#h.react({
      kind: "engineAway",
      rank: peer.rank,
      graceS: this.#h.driverGrace + GIVE_UP_MARGIN_S,
      why: "is silent",
      now: this.#h.now(),
    });
  }

  /** @param peer a silent engine heard again */
  back(peer: Peer): void {
    if (peer.rank === undefined) return;
    this.#h.react({ kind: "engineBack", rank: peer.rank, now: this.#h.now() });
  }

  /** @param peer an authenticated peer whose connection ended @param reason why */
  closed(peer: Peer, reason: string): void {
    const { sched, react, now } = this.#h;
    if (this.#replaced.has(peer)) return;
    if (peer.hello.role === "engine" && peer.rank !== undefined) {
      const rank = peer.rank;
      const over = peer.hello.launch !== undefined ? this.#launcherOver.get(peer.hello.launch) : undefined;
      if (over !== undefined && !this.#saidBye.has(peer)) {
        this.#engineEnded(peer, over);
        return;
      }
      if (!this.#saidBye.has(peer) && !peer.away && sched.phase === "running") {
        // A connection that breaks without a goodbye: a dead engine (its companion has killed its
        // tasks), or a broken link the engine is already mending. Wait a moment for it to come back
        // before its tasks run elsewhere, so that they never run twice at once.
        this.#h.links.delete(rank);
        react({
          kind: "engineAway",
          rank,
          graceS: RECONNECT_WINDOW_S,
          why: `lost its connection (${reason})`,
          now: now(),
        });
        const timer = setTimeout(() => {
          this.#mending.delete(rank);
          this.#engineEnded(peer, reason);
        }, RECONNECT_WINDOW_S * 1000);
        this.#mending.set(rank, { timer, peer });
        return;
      }
      this.#engineEnded(peer, reason);
    }
    if (peer.hello.role === "context") {
      for (const [id, p] of this.#contextLinks) {
        if (p !== peer) continue;
        const label = sched.view.context(id)?.label ?? `${id}`;
        this.#h.log.info(`Context ${label} (${id}) disconnected: ${reason}`);
        this.#h.contextLeft?.(label);
        react({ kind: "contextGone", id, now: now() });
      }
    }
    if (peer.hello.role === "monitor") this.watchers.remove(peer);
  }

  /** An engine's connection ended for good. */
  #engineEnded(peer: Peer, reason: string): void {
    const { sched, react, now } = this.#h;
    if (peer.rank === undefined) return;
    this.#h.engineClosed(peer.rank);
    this.#h.links.delete(peer.rank);
    const clean = this.#saidBye.has(peer);
    const signal = this.#saidBye.get(peer);
    // Before the scheduler hears of it: a restart on its way keeps the run from ending for want of engines.
    // A quarantined host gets no engine again.
    if (
      (!clean || signal) && sched.phase === "running" && sched.quarantined(peer.hello.host) === undefined
    ) {
      this.#h.engineLost?.(peer.hello.launch);
    }
    react({
      kind: "engineGone",
      rank: peer.rank,
      end: !clean ? { kind: "lost", reason } : signal ? { kind: "signalled", signal } : { kind: "finished" },
      now: now(),
    });
  }

  /**
   * Stop an engine softly, or a context, or every context a label names (`dbUtil.sh --stop`, the
   * monitor, the dashboard).
   * @param t the target @returns whether it names something, and what is stopping
   */
  stop(t: StopTarget): StopAnswer {
    const { react, now, sched, links } = this.#h;
    const answer = answerStop(t, {
      // Engines connected now (one whose connection broke is not stopped until it is back).
      engines: sched.view.liveEngines().filter((e) => links.has(e.rank))
        .map((e) => ({ rank: e.rank, context: e.context })),
      contexts: sched.view.contexts().map((c) => ({ id: c.id, label: c.label })),
    });
    if (!answer.found) return answer;
    if (t.kind === "engine") react({ kind: "stopEngine", rank: t.rank, now: now() });
    else for (const c of answer.contexts) react({ kind: "stopContext", id: c.id, now: now() });
    return answer;
  }
}

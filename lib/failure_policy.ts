/**
 * What the scheduler does about failures: how often a task has run and failed (`--retries`,
 * `--crash-limit`, `DISBATCH_ATTEMPT`), and the health of each host (`--bad-node-after`): a host
 * where tasks keep failing that then succeed elsewhere, or whose engine was lost twice, is
 * quarantined (its engines are stopped and it gets no more tasks) unless it is the only one left.
 *
 * @module
 */

import type { Action } from "./scheduler_types.ts";
import type { Registry } from "./registry.ts";

/** What the scheduler remembers of a task that has been run more than once. */
export interface Tries {
  /** The attempt the next run is (`DISBATCH_ATTEMPT`). */
  attempt: number;
  /** Engines lost while running it. */
  crashes: number;
  /** Its own failures (non-zero exit, signal, time limit). */
  failures: number;
  /** Hosts where it failed. */
  failedHosts: Set<string>;
}

/** What the scheduler knows of a host's health. */
interface HostHealth {
  /** Tasks that failed here since the last success here. */
  streak: Set<number>;
  /** Of those, how many succeeded elsewhere since. */
  proven: number;
  /** Engines lost on it. */
  losses: number;
  /** Why it gets no more tasks, once quarantined. */
  quarantined?: string;
}

/** The settings the policy follows (a part of the scheduler's options). */
export interface FailureSettings {
  /** `--crash-limit`: a task lost with this many engines is recorded failed. */
  crashLimit: number;
  /** `--retries`: how many more times a failed task runs. */
  retries?: number;
  /** Failed-then-succeeded-elsewhere tasks in a row that quarantine a host (0: never). */
  badNodeAfter?: number;
}

/** Attempts per task and health per host. */
export class FailurePolicy {
  readonly #o: FailureSettings;
  readonly #reg: Registry;
  readonly #tries = new Map<number, Tries>();
  readonly #hosts = new Map<string, HostHealth>();
  /** Attempts that failed (or were lost with their engine) and were run again. */
  retried = 0;

  /** @param o settings @param reg the registry whose engines a quarantine stops */
  constructor(o: FailureSettings, reg: Registry) {
    this.#o = o;
    this.#reg = reg;
  }

  /** The attempt task `id` runs as next (0: its first run). */
  attemptOf(id: number): number {
    return this.#tries.get(id)?.attempt ?? 0;
  }

  /** Hosts where task `id` failed. */
  failedHosts(id: number): ReadonlySet<string> | undefined {
    return this.#tries.get(id)?.failedHosts;
  }

  /** Task `id` is recorded: its attempts are forgotten. */
  forget(id: number): void {
    this.#tries.delete(id);
  }

  /** Task `id` failed and has retries left (`--retries`). */
  retryLeft(id: number): boolean {
    const r = this.#o.retries ?? 0;
    return r > 0 && (this.#tries.get(id)?.failures ?? 0) < r;
  }

  /** An attempt of task `id` failed on `host` and it runs again. @returns its attempts */
  failedAttempt(id: number, host: string): Tries {
    const tries = this.#triesOf(id);
    tries.failures++;
    tries.attempt++;
    tries.failedHosts.add(host);
    this.retried++;
    return tries;
  }

  /** Task `id` was lost with its engine: it may run again unless the engines running it were lost `--crash-limit` times. */
  mayRunAfterLoss(id: number): boolean {
    return (this.#tries.get(id)?.crashes ?? 0) + 1 < this.#o.crashLimit;
  }

  /**
   * An attempt of task `id` was lost with its engine and it runs again.
   * @param crash whether the loss counts against `--crash-limit` (not when a signal stopped the engine)
   * @returns its attempts
   */
  lostAttempt(id: number, crash: boolean): Tries {
    const tries = this.#triesOf(id);
    if (crash) tries.crashes++;
    tries.attempt++;
    this.retried++;
    return tries;
  }

  /**
   * Re-attached: earlier attempts of tasks not finished yet (from the attempts file).
   * @param attempts per task id: its earlier attempts' return codes and hosts (-100: lost with its engine)
   */
  restore(attempts: ReadonlyMap<number, { rc: number; host: string }[]>): void {
    for (const [id, list] of attempts) {
      const t = this.#triesOf(id);
      for (const a of list) {
        t.attempt++;
        this.retried++;
        if (a.rc === -100) t.crashes++;
        else {
          t.failures++;
          t.failedHosts.add(a.host);
        }
      }
    }
  }

  #triesOf(id: number): Tries {
    let t = this.#tries.get(id);
    if (!t) this.#tries.set(id, t = { attempt: 0, crashes: 0, failures: 0, failedHosts: new Set() });
    return t;
  }

  // -- hosts -------------------------------------------------------------------------------------

  /** @returns why `host` gets no more tasks, or undefined when it is not quarantined */
  quarantined(host: string): string | undefined {
    return this.#hosts.get(host)?.quarantined;
  }

  /** Quarantined hosts and why. */
  quarantinedHosts(): { host: string; reason: string }[] {
    return [...this.#hosts].filter(([, h]) => h.quarantined !== undefined).map(([host, h]) => ({
      host,
      reason: h.quarantined!,
    }));
  }

  /** Task `id` failed on `host`. */
  hostFailed(host: string, id: number): void {
    if (!this.#o.badNodeAfter) return;
    // A task that fails on several hosts is its own fault: no evidence against any of them.
    const before = this.#tries.get(id)?.failedHosts;
    if (before && [...before].some((h) => h !== host)) {
      for (const h of before) this.#hosts.get(h)?.streak.delete(id);
      return;
    }
    this.#health(host).streak.add(id);
  }

  /**
   * A host whose last `badNodeAfter` tasks all failed (not yet proven its fault), with `--retries`:
   * it gets no task while a host in good standing can take it, so a node where everything fails at
   * once does not swallow the queue while the proof (their retries succeeding elsewhere) comes in.
   */
  suspect(host: string): boolean {
    // Only with --retries: without them no failure is ever proven to be the host's.
    const n = this.#o.retries ? this.#o.badNodeAfter ?? 0 : 0;
    return n > 0 && (this.#hosts.get(host)?.streak.size ?? 0) >= n;
  }

  /** Task `id` succeeded on `host`: its streak ends; hosts where it failed before are suspect. */
  hostSucceeded(host: string, id: number): Action[] {
    const n = this.#o.badNodeAfter ?? 0;
    if (!n) return [];
    const here = this.#hosts.get(host);
    if (here) {
      here.streak.clear();
      here.proven = 0;
    }
    const out: Action[] = [];
    const failedOn = this.#tries.get(id)?.failedHosts;
    // It failed here too before: a flaky task, no proof against the other hosts.
    if (failedOn?.has(host)) return out;
    for (const h of failedOn ?? []) {
      const bad = this.#hosts.get(h);
      if (h === host || !bad?.streak.has(id) || bad.quarantined !== undefined) continue;
      if (++bad.proven >= n) {
        out.push(
          ...this.#quarantine(h, `${bad.proven} tasks in a row failed there and then succeeded elsewhere`),
        );
      }
    }
    return out;
  }

  /** An engine on `host` was lost (with tasks). */
  hostLost(host: string, reason: string): Action[] {
    if (!this.#o.badNodeAfter) return [];
    const h = this.#health(host);
    h.losses++;
    if (h.losses < 2 || h.quarantined !== undefined) return [];
    return this.#quarantine(host, `its engine was lost ${h.losses} times (last: ${reason})`);
  }

  #health(host: string): HostHealth {
    let h = this.#hosts.get(host);
    if (!h) this.#hosts.set(host, h = { streak: new Set(), proven: 0, losses: 0 });
    return h;
  }

  /** No more tasks for `host`, unless it is the only host left to run them. */
  #quarantine(host: string, reason: string): Action[] {
    const h = this.#health(host);
    let elsewhere = false;
    for (const e of this.#reg.engines()) {
      if (e.state === "active" && e.host !== host && this.#hosts.get(e.host)?.quarantined === undefined) {
        elsewhere = true;
        break;
      }
    }
    if (!elsewhere) {
      return [{
        kind: "log",
        level: "warn",
        message:
          `Host ${host} looks bad (${reason}), but no other host can take its tasks: it keeps running them`,
      }];
    }
    h.quarantined = reason;
    const out: Action[] = [
      { kind: "log", level: "warn", message: `Host ${host} quarantined: ${reason}; it gets no more tasks` },
    ];
    for (const e of this.#reg.engines()) {
      if (e.host === host && this.#reg.stop(e)) out.push({ kind: "stopEngine", rank: e.rank });
    }
    return out;
  }
}

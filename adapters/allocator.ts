/**
 * `--alloc SBATCH_ARGS`: the driver asks Slurm for allocations itself. Each is a small batch script,
 * `<run>_alloc.sh`, that runs `<run>_dbUtil.sh -l A<n>` (one context of engines, as
 * `sbatch <run>_dbUtil.sh` does by hand), submitted with the user's options. {@linkcode AllocPolicy}
 * decides when; this adapter runs `sbatch`, watches the jobs with `squeue` and cancels what is
 * left with `scancel` at the end.
 *
 * @module
 */

import {
  ALLOC_DEFAULTS,
  type AllocAction,
  type Allocation,
  allocationNodesLine,
  allocationOverLine,
  AllocPolicy,
  type Work,
} from "../lib/allocator.ts";
import { parseDuration } from "../lib/duration.ts";
import { shellQuote } from "../lib/text.ts";
import type { Logger } from "./log.ts";

const decoder = new TextDecoder();

/** Run a Slurm command; never throws. */
async function slurm(cmd: string, args: string[]): Promise<{ ok: boolean; out: string; err: string }> {
  try {
    const r = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
    return { ok: r.success, out: decoder.decode(r.stdout), err: decoder.decode(r.stderr).trim() };
  } catch (e) {
    return { ok: false, out: "", err: `${cmd}: ${e instanceof Error ? e.message : e}` };
  }
}

/**
 * Check the user's sbatch options before anything runs (`sbatch --test-only`).
 * @param args the options of `--alloc`
 * @returns sbatch's complaint, or undefined when it would accept them
 */
export async function checkAllocArgs(args: string[]): Promise<string | undefined> {
  const r = await slurm("sbatch", ["--test-only", ...args, "--wrap", "true"]);
  if (r.ok) return undefined;
  return r.err.split("\n").filter(Boolean).at(-1) ?? "sbatch --test-only failed";
}

/** What the allocator needs from the driver. */
export interface AllocatorHost {
  /** The `--alloc` options, the caps. */
  args: string[];
  maxAllocs: number;
  backlog: number;
  /** `--max-alloc-nodes`: nodes held at once (undefined: no cap). */
  maxNodes?: number;
  /** Nodes one allocation asks for (its `-N`). */
  nodesPerAlloc: number;
  uid: string;
  dbUtilPath: string;
  log: Logger;
  say(line: string): void;
  now(): number;
  /** The run's ready work and free slots per context label. */
  work(): Work;
  /** An allocation's end moved (its time limit changed). */
  endMoved(label: string, endsAt: number): void;
}

/** The allocations of one run. */
export class Allocator {
  readonly #h: AllocatorHost;
  readonly #policy: AllocPolicy;
  readonly #script: string;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #polls = 0;
  #busy = false;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Jobs whose scancel is on its way (close() cancels them again if it has not finished). */
  readonly #pendingCancels: string[] = [];
  /** Allocations whose end the log has (`disbatch report` reads it). */
  readonly #logged = new Set<string>();

  /** @param h what it needs from the driver */
  constructor(h: AllocatorHost) {
    this.#h = h;
    this.#policy = new AllocPolicy({
      ...ALLOC_DEFAULTS,
      maxAllocs: h.maxAllocs,
      backlog: h.backlog,
      nodesPerAlloc: h.nodesPerAlloc,
      ...(h.maxNodes !== undefined ? { maxNodes: h.maxNodes } : {}),
    });
    this.#script = `${h.uid}_alloc.sh`;
    Deno.writeTextFileSync(
      this.#script,
      `#!/bin/sh\n# disbatch: one allocation of the run ${h.uid}, asked for by its driver (--alloc)\n` +
        `exec ${shellQuote(h.dbUtilPath)} -l "$1"\n`,
      { mode: 0o755 },
    );
  }

  /** Start deciding (every second) and watching the jobs (every 5 s). */
  start(): void {
    this.#ticker = setInterval(() => this.tick(), 1000);
    this.tick();
  }

  /** One decision (and every fifth time a look at the queue). */
  tick(): void {
    if (this.#busy) return;
    this.#apply(this.#policy.decide(this.#h.now(), this.#h.work()));
    if (++this.#polls % 5 === 0) this.#track(this.#poll());
  }

  /** A context registered: one of ours is running. @param label its label @param endsAt its end */
  contextRegistered(label: string, endsAt: number | undefined): void {
    if (this.#policy.started(label, this.#h.now(), endsAt)) {
      this.#h.log.info(
        `Allocation ${label} is running${endsAt ? ` until ${new Date(endsAt * 1000).toISOString()}` : ""}`,
      );
    }
  }

  /** @param label a context whose connection ended */
  contextLeft(label: string): void {
    this.#policy.contextGone(label, this.#h.now());
    this.#logEnds();
  }

  /** @param label an allocation's context @param slots the slots of its engines @param nodes their nodes */
  slots(label: string, slots: number, nodes: string): void {
    this.#policy.slots(label, slots, nodes);
  }

  /** For monitors and `--status`. */
  state(): { allocations: Allocation[]; allocatorPaused?: string } {
    const paused = this.#policy.pausedWhy(this.#h.now());
    return {
      allocations: this.#policy.allocations.map((a) => ({ ...a })),
      ...(paused ? { allocatorPaused: paused } : {}),
    };
  }

  /** One line for the end-of-run summary, when allocations were asked for. */
  summary(): string | undefined {
    const all = this.#policy.allocations;
    if (all.length === 0) return undefined;
    const ran = all.filter((a) => a.startedAt !== undefined).length;
    const ids = all.flatMap((a) => a.jobId ? [a.jobId] : []);
    const failed =
      all.filter((a) => a.startedAt === undefined && a.outcome && !/cancelled/.test(a.outcome)).length;
    return `disbatch: ${all.length} allocation(s) asked for (Slurm jobs ${
      ids.join(" ") || "none"
    }): ${ran} ran` +
      (failed ? `, ${failed} failed to start or submit` : "") +
      (all.length - ran - failed ? `, ${all.length - ran - failed} cancelled before they started` : "") +
      (this.#policy.lastFailure ? `; last trouble: ${this.#policy.lastFailure}` : "");
  }

  /**
   * The run ends: ask for nothing more, cancel the allocations that have not started, give the
   * running ones (whose engines are leaving) up to 10 s to end by themselves, then cancel the rest.
   */
  async close(): Promise<void> {
    clearInterval(this.#ticker);
    this.#busy = true;
    // A submission in flight gets its job id first (the closed policy then cancels it).
    await Promise.all(this.#inFlight);
    const running = new Set(
      this.#policy.allocations.filter((a) => a.state === "running" && a.jobId).map((a) => a.jobId!),
    );
    const ids = this.#policy.close(this.#h.now()).flatMap((a) => a.kind === "cancel" ? [a.jobId] : []);
    this.#logEnds();
    ids.push(...this.#pendingCancels.splice(0));
    const now = ids.filter((id) => !running.has(id));
    let later = ids.filter((id) => running.has(id));
    for (let i = 0; i < 50 && later.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const q = await slurm("squeue", ["-h", "-j", later.join(","), "-o", "%i"]);
      // squeue that failed says nothing: cancel them rather than leave them behind.
      if (!q.ok && !/Invalid job id/i.test(q.err)) break;
      const still = new Set(q.out.split("\n").map((l) => l.trim()).filter(Boolean));
      later = later.filter((id) => still.has(id));
    }
    const cancel = [...now, ...later];
    if (cancel.length === 0) return;
    this.#h.log.info(`Cancelling the run's allocations: ${cancel.join(" ")}`);
    const r = await slurm("scancel", cancel);
    if (!r.ok) this.#h.log.warn(`scancel ${cancel.join(" ")} failed: ${r.err}`);
  }

  /** On a second signal, just before exiting: cancel what is known, synchronously. */
  cancelNow(): void {
    const ids = this.#policy.close(this.#h.now()).flatMap((a) => a.kind === "cancel" ? [a.jobId] : []);
    this.#logEnds();
    if (ids.length === 0) return;
    try {
      new Deno.Command("scancel", { args: ids, stdin: "null", stdout: "null", stderr: "null" }).outputSync();
    } catch { /* nothing more to do */ }
  }

  #track(p: Promise<unknown>): void {
    this.#inFlight.add(p);
    p.finally(() => this.#inFlight.delete(p));
  }

  /** One log line per allocation that is over, once. */
  #logEnds(): void {
    for (const a of this.#policy.allocations) {
      if (a.state !== "ended" || this.#logged.has(a.label)) continue;
      this.#logged.add(a.label);
      this.#h.log.info(allocationOverLine(a));
    }
  }

  #apply(actions: AllocAction[]): void {
    this.#logEnds();
    for (const a of actions) {
      if (a.kind === "log") {
        if (a.level === "warn") {
          this.#h.log.warn(a.message);
          this.#h.say(`disbatch: ${a.message}`);
        } else this.#h.log.info(a.message);
      } else if (a.kind === "submit") this.#track(this.#submit(a.label));
      else if (a.kind === "cancel") {
        this.#pendingCancels.push(a.jobId);
        this.#track(
          slurm("scancel", [a.jobId]).then(() => {
            const i = this.#pendingCancels.indexOf(a.jobId);
            if (i >= 0) this.#pendingCancels.splice(i, 1);
          }),
        );
      }
    }
  }

  async #submit(label: string): Promise<void> {
    const jobName = `${this.#h.uid.split("/").pop()}_${label}`;
    const args = [
      "--parsable",
      "-J",
      jobName,
      "-o",
      `${this.#h.uid}_${label}_%j.out`,
      ...this.#h.args,
      this.#script,
      label,
    ];
    this.#h.log.info(`sbatch ${args.map(shellQuote).join(" ")}`);
    const r = await slurm("sbatch", args);
    const id = r.out.trim().split(";")[0] ?? "";
    if (r.ok && /^\d+(_\d+)?$/.test(id)) {
      this.#apply(this.#policy.submitted(label, id, this.#h.now()));
    } else {
      this.#apply(
        this.#policy.submitFailed(
          label,
          r.err.split("\n").filter(Boolean).at(-1) ?? `exit ${r.out}`,
          this.#h.now(),
        ),
      );
    }
  }

  async #poll(): Promise<void> {
    const ids = this.#policy.allocations.filter((a) => a.jobId && a.state !== "ended").map((a) => a.jobId!);
    if (ids.length === 0) return;
    const r = await slurm("squeue", ["-h", "-j", ids.join(","), "-o", "%i|%T|%N|%L|%D|%r"]);
    // squeue fails for ids it no longer knows when none is left; an empty answer is "all gone".
    if (!r.ok && !/Invalid job id/i.test(r.err)) return;
    const seen = new Map<
      string,
      { state: string; nodes: string; nodeCount?: number; endsAt?: number; reason?: string }
    >();
    for (const line of r.out.split("\n")) {
      const [id, state, nodes, left, count, reason] = line.trim().split("|");
      if (!id || !state) continue;
      const l = parseDuration(left ?? "");
      seen.set(id, {
        state,
        nodes: nodes ?? "",
        ...(/^\d+$/.test(count ?? "") ? { nodeCount: Number(count) } : {}),
        ...(l !== undefined ? { endsAt: this.#h.now() + l } : {}),
        ...(reason ? { reason } : {}),
      });
    }
    const now = this.#h.now();
    for (const id of ids) {
      const a = this.#policy.allocations.find((x) => x.jobId === id);
      const before = a?.endsAt;
      const nodesBefore = a?.nodeCount;
      this.#apply(this.#policy.observed(id, seen.get(id), now));
      const b = this.#policy.allocations.find((x) => x.jobId === id);
      const after = b?.endsAt;
      if (b && b.nodeCount !== undefined && b.nodeCount !== nodesBefore) {
        this.#h.log.info(allocationNodesLine({ ...b, nodes: seen.get(id)?.nodes || b.nodes }));
      }
      if (
        a && a.state === "running" && before !== undefined && after !== undefined &&
        Math.abs(after - before) > 30
      ) {
        this.#h.log.info(`Allocation ${a.label} now ends at ${new Date(after * 1000).toISOString()}`);
        this.#h.endMoved(a.label, after);
      }
    }
  }
}

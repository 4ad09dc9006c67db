/**
 * The one wire format between the driver and everything that talks to it (engines, contexts added
 * with `dbUtil.sh`, the monitor, `dbUtil.sh --stop`).
 *
 * Frame: a 4-byte big-endian length, then that many bytes of UTF-8 JSON (one message object with
 * a `kind`). Frames larger than {@linkcode MAX_FRAME} are a protocol violation.
 *
 * Handshake (mutual, per-run secret never sent): the driver sends `challenge` with a random nonce;
 * the peer answers `hello` with `mac = HMAC-SHA256(secret, "peer:" + driverNonce)` and a nonce of
 * its own; the driver checks it and answers `welcome` with `mac = HMAC(secret, "driver:" + peerNonce)`.
 * Nothing else is accepted before that, and a peer that fails is dropped with a log line.
 *
 * !!! IMPORTANT !!! Any change to a message's shape must increment PROTOCOL_VERSION.
 *
 * @module
 */

import { constantTimeEqual, hmacSha256, toHex } from "./sha256.ts";
import type { PerEngineTask, Task, TaskOutcome } from "./types.ts";
import type { StopAnswer, StopTarget } from "./control.ts";
import { ProtocolError } from "./protocol_table.ts";

export {
  asFromDriver,
  asToDriver,
  MESSAGE_KINDS,
  type MessageKind,
  ProtocolError,
  receiverOf,
} from "./protocol_table.ts";

/** Bumped on every incompatible change. */
export const PROTOCOL_VERSION = 9;
/** Largest accepted frame (bytes of JSON). */
export const MAX_FRAME = 16 * 1024 * 1024;

/** Who is connecting. */
export type PeerRole = "engine" | "context" | "monitor" | "control";

/** Run facts every engine needs. */
export interface RunInfo {
  /** `DISBATCH_JOBID`. */
  jobId: string;
  /** `DISBATCH_NAMETASKS`. */
  nameTasks: string;
  /** The driver's working directory; engines chdir there. */
  cwd: string;
  /** The uid path prefix of every run file (`…/Tasks_disBatch_…_123`). */
  uid: string;
  /** `host:port` engines use (also exported to tasks as `DISBATCH_KVSSTCP_HOST`). */
  address: string;
  /** `--loglevel`. */
  logLevel: string;
  /** `--kill-grace`: seconds between SIGTERM and SIGKILL when a task reaches its time limit. */
  killGrace: number;
  /**
   * `--driver-grace`: seconds an engine keeps its tasks running without a driver, trying to reach
   * it again (the same one, or one restarted with `--reattach`), before it kills them and exits.
   */
  driverGrace: number;
  /** This driver's start (a driver restarted with `--reattach` has another; see `<uid>_driver`). */
  epoch: string;
  /**
   * The driver's own `-c`, `-t` and `-E`, where its command line gave them: a context added with
   * `dbUtil.sh` takes each of these that its own command line does not give.
   */
  contextDefaults?: ContextDefaults;
}

/** The per-context options a `dbUtil.sh` context takes from the driver's command line. */
export interface ContextDefaults {
  cpusPerTask?: number;
  tasksPerNode?: number;
  envResource?: string[];
}

/**
 * What an engine that lost its driver says when it reaches a driver again (in a `resume` message
 * right after the `welcome`; its `hello` carries only its rank): every task it holds (running or
 * queued), and the outcomes the driver may not have received.
 */
export interface EngineResume {
  /** Tasks started or queued on the engine and not finished. */
  tasks: Task[];
  /** Outcomes not yet acknowledged by a driver (the driver ignores those it already has). */
  outcomes: TaskOutcome[];
  /** PERENGINE START tasks are done (a new driver does not send the block again). */
  startDone: boolean;
}

/** One engine in a {@linkcode RunState}. */
export interface WireEngine {
  rank: number;
  context: number;
  host: string;
  slots: number;
  /** `active`, `away`, `draining`, `gone`, … */
  state: string;
  running: number;
  assigned: number;
  finished: number;
  failed: number;
  /** Unix seconds the driver last heard from it. */
  lastHeard?: number;
}

/** One context in a {@linkcode RunState}. */
export interface WireContext {
  id: number;
  label: string;
  taskLimit: number;
  assigned: number;
  engines: number;
  /** When its allocation ends (Unix seconds), when it has an end. */
  endsAt?: number;
}

/** One allocation the run asked for (`--alloc`) in a {@linkcode RunState}. */
export interface WireAllocation {
  /** `A1`, `A2`, …: the label of its context. */
  label: string;
  /** Slurm job id, once sbatch answered. */
  jobId?: string;
  state: "submitting" | "pending" | "running" | "ended";
  submittedAt: number;
  startedAt?: number;
  /** When Slurm ends it (Unix seconds), once known. */
  endsAt?: number;
  endedAt?: number;
  slots?: number;
  nodes?: string;
  nodesAsked?: number;
  nodeCount?: number;
  /** Why it ended, once over. */
  outcome?: string;
}

/** The run's counters as the wire carries them (the scheduler's snapshot is mapped onto it). */
export interface WireSnapshot {
  finished: number;
  failed: number;
  /** Tasks killed as the run ended (flag `K`), when there are any: neither done nor failed. */
  killed?: number;
  barriers: number;
  skipped: number;
  running: number;
  queued: number;
  slots: number;
  engines: WireEngine[];
  contexts: WireContext[];
  phase: "running" | "draining" | "aborting" | "done";
  tasksEnded: boolean;
  /** Attempts that failed (or were lost with their engine) and were run again. */
  retried: number;
  /** Attempts stopped at their time limit. */
  timedOut: number;
  /** Hosts that get no more tasks, and why. */
  quarantined: { host: string; reason: string }[];
  /** When running tasks are stopped for the walltime (Unix seconds), when there is one. */
  stopAt?: number;
  /** Tasks held for the engines of a driver that died, and when they run (Unix seconds), when any. */
  held?: number;
  heldUntil?: number;
}

/** What monitors and `dbUtil.sh --status` are sent: the run's counters and its allocations. */
export type RunState = WireSnapshot & {
  uid: string;
  startedAt: number;
  /** Allocations the run asked for (`--alloc`), oldest first. */
  allocations?: WireAllocation[];
  /** Why the allocator does not ask for more now, when it paused. */
  allocatorPaused?: string;
};

/**
 * The state a `snapshot` message carries, copied field by field from the driver's counters (the
 * scheduler's snapshot has this shape; a field it gains does not reach the wire unless added here,
 * and a field it loses fails to compile here). Key order is the scheduler's, so the JSON is as before.
 * @param s the counters (the scheduler's snapshot)
 * @param run the run's uid, start and allocations
 * @returns a fresh object (engines copied: the driver fills in `lastHeard`)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runStateOf } from "./protocol.ts";
 * const s = runStateOf({ finished: 1, failed: 0, barriers: 0, skipped: 0, running: 0, queued: 0, slots: 1,
 *   engines: [], contexts: [], phase: "done", tasksEnded: true, retried: 0, timedOut: 0, quarantined: [] },
 *   { uid: "/w/J", startedAt: 5 });
 * assert.equal(s.uid, "/w/J");
 * assert.equal(s.phase, "done");
 * ```
 */
export function runStateOf(
  s: WireSnapshot,
  run: { uid: string; startedAt: number; allocations?: WireAllocation[]; allocatorPaused?: string },
): RunState {
  return {
    finished: s.finished,
    failed: s.failed,
    ...(s.killed ? { killed: s.killed } : {}),
    barriers: s.barriers,
    skipped: s.skipped,
    running: s.running,
    queued: s.queued,
    slots: s.slots,
    engines: s.engines.map((e) => ({
      rank: e.rank,
      context: e.context,
      host: e.host,
      slots: e.slots,
      state: e.state,
      running: e.running,
      assigned: e.assigned,
      finished: e.finished,
      failed: e.failed,
      ...(e.lastHeard !== undefined ? { lastHeard: e.lastHeard } : {}),
    })),
    contexts: s.contexts.map((c) => ({
      id: c.id,
      label: c.label,
      taskLimit: c.taskLimit,
      assigned: c.assigned,
      engines: c.engines,
      ...(c.endsAt !== undefined ? { endsAt: c.endsAt } : {}),
    })),
    phase: s.phase,
    tasksEnded: s.tasksEnded,
    retried: s.retried,
    timedOut: s.timedOut,
    quarantined: s.quarantined.map((q) => ({ host: q.host, reason: q.reason })),
    ...(s.stopAt !== undefined ? { stopAt: s.stopAt } : {}),
    ...(s.held ? { held: s.held, heldUntil: s.heldUntil ?? 0 } : {}),
    uid: run.uid,
    startedAt: run.startedAt,
    ...(run.allocations !== undefined ? { allocations: run.allocations } : {}),
    ...(run.allocatorPaused !== undefined ? { allocatorPaused: run.allocatorPaused } : {}),
  };
}

/** Messages from the driver. */
export type FromDriver =
  | { kind: "challenge"; version: number; nonce: string }
  | { kind: "welcome"; version: number; mac: string; rank: number; run: RunInfo }
  /** `gone`: an engine coming back whose tasks were given to others (it must kill its copies). */
  | { kind: "rejected"; reason: string; gone?: boolean }
  | { kind: "perEngine"; start: PerEngineTask[]; stop: PerEngineTask[] }
  /**
   * `ack`: as in `ping`, the last `done` message the driver has of this engine, its records written:
   * the engine may forget those outcomes at once rather than at the next ping (they die young).
   */
  | { kind: "tasks"; tasks: Task[]; ack?: number }
  | { kind: "stop" }
  | { kind: "kill"; reason: string }
  /** `ack`: the last `done` message (its `seq`) the driver has of this engine. */
  | { kind: "ping"; ack?: number }
  | { kind: "snapshot"; state: RunState }
  /** The answer to a stop request: whether it named something, and what was done. */
  | { kind: "ack"; answer: StopAnswer }
  /** The answer to `registerContext`: the context's id and label. */
  | { kind: "registered"; context: number; label: string }
  | { kind: "runOver" }
  /** To a context added with `dbUtil.sh`: a line for its user (why one of its engines leaves). */
  | { kind: "note"; text: string }
  /** To a context added with `dbUtil.sh`: the engine of this launch joined the run. */
  | { kind: "engineJoined"; launch: string };

/** Messages to the driver. */
export type ToDriver =
  | {
    kind: "hello";
    version: number;
    role: PeerRole;
    mac: string;
    nonce: string;
    host: string;
    pid: number;
    /** Engines: the context that started them. */
    context?: number;
    /** Engines: concurrent task slots. */
    slots?: number;
    /** Engines: `DISBATCH_CORES_PER_TASK`. */
    coresPerSlot?: number;
    /** Engines: the launch id the context gave it (to match launcher processes). */
    launch?: string;
    /** Engines: what they found wrong as they started (too few `-E` values), for the user. */
    notes?: string[];
    /** Engines that lost their driver and reach one again: their rank (what they hold follows). */
    resume?: { rank: number };
  }
  /** An engine that came back: what it holds (right after its `welcome`). */
  | ({ kind: "resume" } & EngineResume)
  /** `seq` numbers an engine's `done` messages (1, 2, …) so that the driver can acknowledge them. */
  | { kind: "done"; outcomes: TaskOutcome[]; seq?: number }
  | { kind: "released"; ids: number[] }
  /** The engine leaves; `signal` when a signal (Slurm's SIGTERM at the time limit, say) made it. */
  | { kind: "bye"; signal?: string }
  | { kind: "pong" }
  | {
    kind: "registerContext";
    label: string;
    contextKind: string;
    taskLimit: number;
    engines: number;
    /** Its idle nodes are retired (Slurm, --retire-cmd), so its idle engines may leave early. */
    retires?: boolean;
    /** The node it never retires (where the context runs). */
    keepHost?: string;
    /** When its Slurm allocation ends (Unix seconds), when it has a time limit. */
    endsAt?: number;
    /** The Slurm job its engines run in, when they run in one. */
    jobId?: string;
  }
  /** A launcher ended; if its engine never joined, it will not come. */
  /**
   * An engine's launcher could not start it or ended (`launch` set once it had started);
   * `engineOver`: the launcher's end means the engine has ended too (its tasks are not kept for it).
   */
  | {
    kind: "engineFailed";
    context: number;
    host: string;
    reason: string;
    launch?: string;
    engineOver?: boolean;
  }
  | { kind: "contextDone"; context: number }
  /** `dbUtil.sh --stop`, the monitor: stop an engine or contexts softly (answered with `ack`). */
  | { kind: "requestStop"; target: StopTarget }
  | { kind: "watch" };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encode one message as a frame.
 * @param msg the message
 * @returns length-prefixed bytes
 */
export function encodeFrame(msg: FromDriver | ToDriver): Uint8Array {
  const body = encoder.encode(JSON.stringify(msg));
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** Incremental frame reader: push bytes as they arrive, get whole messages back. */
export class FrameDecoder {
  /** Largest accepted frame; the driver lowers it until a peer has authenticated. */
  maxFrame = MAX_FRAME;
  #buf = new Uint8Array(4096);
  #len = 0;

  /**
   * @param chunk bytes read from the connection
   * @returns every complete message (plain objects with a string `kind`)
   * @throws {ProtocolError} on an oversized frame, bad UTF-8/JSON, or a message without `kind`
   */
  push(chunk: Uint8Array): { kind: string }[] {
    if (this.#len + chunk.length > this.#buf.length) {
      const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + chunk.length));
      next.set(this.#buf.subarray(0, this.#len));
      this.#buf = next;
    }
    this.#buf.set(chunk, this.#len);
    this.#len += chunk.length;
    const out: { kind: string }[] = [];
    let off = 0;
    while (this.#len - off >= 4) {
      const view = new DataView(this.#buf.buffer, this.#buf.byteOffset + off, 4);
      const n = view.getUint32(0);
      if (n > this.maxFrame) {
        throw new ProtocolError(`frame of ${n} bytes is larger than the limit of ${this.maxFrame}`);
      }
      if (this.#len - off - 4 < n) break;
      out.push(parseMessage(this.#buf.subarray(off + 4, off + 4 + n)));
      off += 4 + n;
    }
    if (off > 0) {
      this.#buf.copyWithin(0, off, this.#len);
      this.#len -= off;
    }
    return out;
  }
}

function parseMessage(bytes: Uint8Array): { kind: string } {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (e) {
    throw new ProtocolError(`frame is not UTF-8 JSON (${e instanceof Error ? e.message : e})`);
  }
  if (typeof value !== "object" || value === null || typeof (value as { kind?: unknown }).kind !== "string") {
    throw new ProtocolError("message is not an object with a string kind");
  }
  return value as { kind: string };
}

/**
 * The proof a peer sends in `hello` (or the driver in `welcome`).
 * @param secret the run's secret (hex)
 * @param who `"peer"` or `"driver"`
 * @param nonce the other side's nonce
 * @returns hex HMAC-SHA256
 */
export function authMac(secret: string, who: "peer" | "driver", nonce: string): string {
  return toHex(
    hmacSha256(encoder.encode(secret), encoder.encode(`disbatch/${PROTOCOL_VERSION}/${who}:${nonce}`)),
  );
}

/**
 * Constant-time check of a received proof.
 * @param secret the run's secret @param who who should have made it @param nonce our nonce @param mac received
 * @returns true when it matches
 */
export function checkMac(secret: string, who: "peer" | "driver", nonce: string, mac: string): boolean {
  const want = encoder.encode(authMac(secret, who, nonce));
  const got = encoder.encode(mac);
  return constantTimeEqual(want, got);
}

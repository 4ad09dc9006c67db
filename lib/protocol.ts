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

import { createHmac, timingSafeEqual } from "node:crypto";
import type { PerEngineTask, Task, TaskOutcome } from "./types.ts";
import { isStopAnswer, isStopTarget, type StopAnswer, type StopTarget } from "./control.ts";

/** Bumped on every incompatible change. */
export const PROTOCOL_VERSION = 7;
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
    })),
    phase: s.phase,
    tasksEnded: s.tasksEnded,
    retried: s.retried,
    timedOut: s.timedOut,
    quarantined: s.quarantined.map((q) => ({ host: q.host, reason: q.reason })),
    ...(s.stopAt !== undefined ? { stopAt: s.stopAt } : {}),
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
  | { kind: "tasks"; tasks: Task[] }
  | { kind: "stop" }
  | { kind: "kill"; reason: string }
  /** `ack`: the last `done` message (its `seq`) the driver has of this engine. */
  | { kind: "ping"; ack?: number }
  | { kind: "snapshot"; state: RunState }
  /** The answer to a stop request: whether it named something, and what was done. */
  | { kind: "ack"; answer: StopAnswer }
  /** The answer to `registerContext`: the context's id and label. */
  | { kind: "registered"; context: number; label: string }
  | { kind: "runOver" };

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
  }
  /** A launcher ended; if its engine never joined, it will not come. */
  | { kind: "engineFailed"; context: number; host: string; reason: string; launch?: string }
  | { kind: "contextDone"; context: number }
  /** `dbUtil.sh --stop`, the monitor: stop an engine or contexts softly (answered with `ack`). */
  | { kind: "requestStop"; target: StopTarget }
  | { kind: "watch" };

/** A frame or message that breaks the protocol. */
export class ProtocolError extends SyntaxError {
  /** @param message what was wrong */
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

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

// ---------------------------------------------------------------------------------------------
// The table of message kinds: who receives each, and a check for each of its fields. Both
// decoders — the driver's (asToDriver) and the peers' (asFromDriver) — come from it, and the
// compiler holds it to the message types above: every kind is listed, with the side that receives
// it, and every field of a kind has a check.

/** What is wrong with a field: `message "<owner>" <text>`. */
interface FieldError {
  owner: string;
  text: string;
}

/**
 * The check of one field: `test` answers fast (decoding is on every task's path); `explain` is
 * asked only when `test` failed, and says what is wrong, naming the field.
 */
interface Check {
  test(v: unknown): boolean;
  /** @param v the value test refused @param field its name (or `name[i]`) @param owner the message kind (or `kind.field`) */
  explain(v: unknown, field: string, owner: string): FieldError;
}

const prim = (t: "string" | "number" | "boolean", test: (v: unknown) => boolean): Check => ({
  test,
  explain: (_v, field, owner) => ({ owner, text: `needs a ${t} "${field}"` }),
});
const str = prim("string", (v) => typeof v === "string");
const num = prim("number", (v) => typeof v === "number");
const bool = prim("boolean", (v) => typeof v === "boolean");
/** Absent, or what `c` accepts. */
const opt = (c: Check): Check => ({ test: (v) => v === undefined || c.test(v), explain: c.explain });
/** One of the given strings. */
const among = (...values: string[]): Check => ({
  test: (v) => typeof v === "string" && values.includes(v),
  explain: (_v, field, owner) => ({
    owner,
    text: `needs ${values.map((x) => `"${x}"`).join(" or ")} as "${field}"`,
  }),
});
/** A value of a shape checked elsewhere (`lib/control.ts`). */
const shaped = (test: (v: unknown) => boolean): Check => ({
  test,
  explain: (_v, field, owner) => ({ owner, text: `holds a malformed "${field}"` }),
});
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
/** An object whose fields pass their checks (fields not listed are not looked at). */
const record = (fields: Record<string, Check>): Check => {
  const entries = Object.entries(fields);
  const keys = entries.map(([k]) => k);
  const tests = entries.map(([, c]) => c.test);
  return {
    test: (v) => {
      if (!isObject(v)) return false;
      for (let i = 0; i < keys.length; i++) if (!tests[i]!(v[keys[i]!])) return false;
      return true;
    },
    explain: (v, field, owner) => {
      if (!isObject(v)) return { owner, text: `needs an object "${field}"` };
      const [k, c] = entries.find(([k, c]) => !c.test(v[k]))!;
      return c.explain(v[k], k, `${owner}.${field}`);
    },
  };
};
/** An array whose items pass `item`; a bad item is "a malformed <noun>", with what is wrong in it. */
const list = (item: Check, noun: string): Check => ({
  test: (v) => {
    if (!Array.isArray(v)) return false;
    const t = item.test;
    for (let i = 0; i < v.length; i++) if (!t(v[i])) return false;
    return true;
  },
  explain: (v, field, owner) => {
    if (!Array.isArray(v)) return { owner, text: `needs an array "${field}"` };
    const i = v.findIndex((x) => !item.test(x));
    const e = item.explain(v[i], `${field}[${i}]`, owner);
    const where = e.owner === owner ? "" : `${e.owner.slice(owner.length + 1)} `;
    return { owner, text: `holds a malformed ${noun} (${where}${e.text})` };
  },
});

const TASK_FIELDS = {
  id: num,
  line: num,
  repeatIndex: num,
  command: str,
  timeout: opt(num),
  attempt: opt(num),
} satisfies { [F in keyof Task]-?: Check };
const task = record(TASK_FIELDS);
const perEngineTask = record(
  { ...TASK_FIELDS, phase: among("start", "stop") } satisfies { [F in keyof PerEngineTask]-?: Check },
);
const outcome = record(
  {
    id: num,
    kind: among("normal", "perEngine"),
    phase: opt(among("start", "stop")),
    slot: num,
    pid: num,
    returnCode: num,
    start: num,
    end: num,
    stdoutBytes: num,
    stdoutSnippet: str,
    stderrBytes: num,
    stderrSnippet: str,
    killed: bool,
    timedOut: opt(bool),
    attempt: opt(num),
  } satisfies { [F in keyof TaskOutcome]-?: Check },
);
const runInfo = record(
  {
    jobId: str,
    nameTasks: str,
    cwd: str,
    uid: str,
    address: str,
    logLevel: str,
    killGrace: num,
    driverGrace: num,
    epoch: str,
  } satisfies { [F in keyof RunInfo]-?: Check },
);
const runState = record(
  {
    finished: num,
    failed: num,
    barriers: num,
    skipped: num,
    running: num,
    queued: num,
    slots: num,
    engines: list(
      record(
        {
          rank: num,
          context: num,
          host: str,
          slots: num,
          state: str,
          running: num,
          assigned: num,
          finished: num,
          failed: num,
          lastHeard: opt(num),
        } satisfies { [F in keyof WireEngine]-?: Check },
      ),
      "engine",
    ),
    contexts: list(
      record(
        { id: num, label: str, taskLimit: num, assigned: num, engines: num } satisfies {
          [F in keyof WireContext]-?: Check;
        },
      ),
      "context",
    ),
    phase: among("running", "draining", "aborting", "done"),
    tasksEnded: bool,
    retried: num,
    timedOut: num,
    quarantined: list(record({ host: str, reason: str }), "quarantined host"),
    stopAt: opt(num),
    uid: str,
    startedAt: num,
    allocations: opt(list(
      record(
        {
          label: str,
          jobId: opt(str),
          state: among("submitting", "pending", "running", "ended"),
          submittedAt: num,
          startedAt: opt(num),
          endsAt: opt(num),
          endedAt: opt(num),
          slots: opt(num),
          nodes: opt(str),
          nodesAsked: opt(num),
          nodeCount: opt(num),
          outcome: opt(str),
        } satisfies { [F in keyof WireAllocation]-?: Check },
      ),
      "allocation",
    )),
    allocatorPaused: opt(str),
  } satisfies { [F in keyof RunState]-?: Check },
);

type Message = FromDriver | ToDriver;
/** Every message kind. */
export type MessageKind = Message["kind"];
type FieldsOf<K extends MessageKind> = Omit<Extract<Message, { kind: K }>, "kind">;

/** One kind of message: who receives it, and a check for each of its fields. */
interface KindSpec<K extends MessageKind> {
  /** `driver`: engines, contexts, monitors and control send it to the driver; `peer`: the driver sends it. */
  to: K extends ToDriver["kind"] ? "driver" : "peer";
  fields: { [F in keyof FieldsOf<K>]-?: Check };
}

/** The table of message kinds. */
const MESSAGES: { [K in MessageKind]: KindSpec<K> } = {
  // Driver → engines, contexts, monitors, control.
  challenge: { to: "peer", fields: { version: num, nonce: str } },
  welcome: { to: "peer", fields: { version: num, mac: str, rank: num, run: runInfo } },
  rejected: { to: "peer", fields: { reason: str, gone: opt(bool) } },
  perEngine: {
    to: "peer",
    fields: { start: list(perEngineTask, "task"), stop: list(perEngineTask, "task") },
  },
  tasks: { to: "peer", fields: { tasks: list(task, "task") } },
  stop: { to: "peer", fields: {} },
  kill: { to: "peer", fields: { reason: str } },
  ping: { to: "peer", fields: { ack: opt(num) } },
  snapshot: { to: "peer", fields: { state: runState } },
  ack: { to: "peer", fields: { answer: shaped(isStopAnswer) } },
  registered: { to: "peer", fields: { context: num, label: str } },
  runOver: { to: "peer", fields: {} },
  // Engines, contexts, monitors, control → driver.
  hello: {
    to: "driver",
    fields: {
      version: num,
      role: str,
      mac: str,
      nonce: str,
      host: str,
      pid: num,
      context: opt(num),
      slots: opt(num),
      coresPerSlot: opt(num),
      launch: opt(str),
      resume: opt(record({ rank: num })),
    },
  },
  resume: {
    to: "driver",
    fields: { tasks: list(task, "task"), outcomes: list(outcome, "outcome"), startDone: bool },
  },
  done: { to: "driver", fields: { outcomes: list(outcome, "outcome"), seq: opt(num) } },
  released: { to: "driver", fields: { ids: list(num, "task id") } },
  bye: { to: "driver", fields: { signal: opt(str) } },
  pong: { to: "driver", fields: {} },
  registerContext: {
    to: "driver",
    fields: {
      label: str,
      contextKind: str,
      taskLimit: num,
      engines: num,
      retires: opt(bool),
      keepHost: opt(str),
      endsAt: opt(num),
    },
  },
  engineFailed: {
    to: "driver",
    fields: { context: num, host: str, reason: str, launch: opt(str) },
  },
  contextDone: { to: "driver", fields: { context: num } },
  requestStop: { to: "driver", fields: { target: shaped(isStopTarget) } },
  watch: { to: "driver", fields: {} },
};

/** Each kind's checks as a list (built once: decoding is on the hot path of every task). */
const FIELD_LISTS = new Map<string, [string, Check][]>(
  Object.entries(MESSAGES).map(([k, spec]) => [k, Object.entries(spec.fields as Record<string, Check>)]),
);
const RECEIVERS = new Map<string, "driver" | "peer">(
  Object.entries(MESSAGES).map(([k, spec]) => [k, spec.to]),
);

/** Every message kind, in the table's order. */
export const MESSAGE_KINDS = Object.keys(MESSAGES) as readonly MessageKind[];

/**
 * Which side receives a kind of message, from the table.
 * @param kind a message kind
 * @returns `driver` or `peer`, or undefined for a kind that does not exist
 */
export function receiverOf(kind: string): "driver" | "peer" | undefined {
  return RECEIVERS.get(kind);
}

function decodeFor(to: "driver" | "peer", m: { kind: string }): Message {
  if (receiverOf(m.kind) !== to) throw new ProtocolError(`unknown message kind "${m.kind.slice(0, 40)}"`);
  const r = m as Record<string, unknown>;
  const fields = FIELD_LISTS.get(m.kind)!;
  for (let i = 0; i < fields.length; i++) {
    const [k, c] = fields[i]!;
    if (!c.test(r[k])) {
      const e = c.explain(r[k], k, m.kind);
      throw new ProtocolError(`message "${e.owner}" ${e.text}`);
    }
  }
  return m as Message;
}

/**
 * Check a decoded message is one the driver receives, with every field of the right type (from
 * the table of message kinds, as {@linkcode asFromDriver} the other way).
 * @param m a decoded message
 * @returns the typed message (the same object)
 * @throws {ProtocolError} for an unknown kind, or naming the kind and the field that is wrong
 */
export function asToDriver(m: { kind: string }): ToDriver {
  return decodeFor("driver", m) as ToDriver;
}

/**
 * Check a decoded message is one the driver sends — what engines, contexts, monitors and control
 * receive — with every field of the right type (from the same table as {@linkcode asToDriver}).
 * @param m a decoded message
 * @returns the typed message (the same object)
 * @throws {ProtocolError} for an unknown kind, or naming the kind and the field that is wrong
 */
export function asFromDriver(m: { kind: string }): FromDriver {
  return decodeFor("peer", m) as FromDriver;
}

/**
 * The proof a peer sends in `hello` (or the driver in `welcome`).
 * @param secret the run's secret (hex)
 * @param who `"peer"` or `"driver"`
 * @param nonce the other side's nonce
 * @returns hex HMAC-SHA256
 */
export function authMac(secret: string, who: "peer" | "driver", nonce: string): string {
  return createHmac("sha256", secret).update(`disbatch/${PROTOCOL_VERSION}/${who}:${nonce}`).digest("hex");
}

/**
 * Constant-time check of a received proof.
 * @param secret the run's secret @param who who should have made it @param nonce our nonce @param mac received
 * @returns true when it matches
 */
export function checkMac(secret: string, who: "peer" | "driver", nonce: string, mac: string): boolean {
  const want = encoder.encode(authMac(secret, who, nonce));
  const got = encoder.encode(mac);
  return want.length === got.length && timingSafeEqual(want, got);
}

/**
 * The table of message kinds, and the two decoders that come from it: who receives each kind, and a
 * check for each of its fields. `asToDriver` is what the driver accepts, `asFromDriver` what
 * engines, contexts, monitors and control accept; the compiler holds the table to the message types
 * of {@linkcode ./protocol.ts}. Both are re-exported from there.
 *
 * @module
 */

import { isStopAnswer, isStopTarget } from "./control.ts";
import type {
  ContextDefaults,
  FromDriver,
  RunInfo,
  RunState,
  ToDriver,
  WireAllocation,
  WireContext,
  WireEngine,
} from "./protocol.ts";
import type { PerEngineTask, Task, TaskOutcome } from "./types.ts";

/** A frame or message that breaks the protocol. */
export class ProtocolError extends SyntaxError {
  /** @param message what was wrong */
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

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
  stopsRun: opt(bool),
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
    contextDefaults: opt(record(
      {
        cpusPerTask: opt(num),
        tasksPerNode: opt(num),
        envResource: opt(list(str, "variable names")),
      } satisfies { [F in keyof ContextDefaults]-?: Check },
    )),
  } satisfies { [F in keyof RunInfo]-?: Check },
);
const runState = record(
  {
    finished: num,
    failed: num,
    killed: opt(num),
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
        { id: num, label: str, taskLimit: num, assigned: num, engines: num, endsAt: opt(num) } satisfies {
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
    held: opt(num),
    heldUntil: opt(num),
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
  tasks: { to: "peer", fields: { tasks: list(task, "task"), ack: opt(num) } },
  stop: { to: "peer", fields: {} },
  kill: { to: "peer", fields: { reason: str } },
  ping: { to: "peer", fields: { ack: opt(num) } },
  snapshot: { to: "peer", fields: { state: runState } },
  ack: { to: "peer", fields: { answer: shaped(isStopAnswer) } },
  registered: { to: "peer", fields: { context: num, label: str } },
  runOver: { to: "peer", fields: {} },
  note: { to: "peer", fields: { text: str } },
  engineJoined: { to: "peer", fields: { launch: str } },
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
      notes: opt(list(str, "note")),
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
      jobId: opt(str),
    },
  },
  engineFailed: {
    to: "driver",
    fields: { context: num, host: str, reason: str, launch: opt(str), engineOver: opt(bool) },
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

/**
 * The control plane as data. What `<run>_dbUtil.sh --stop`, the monitor (`--mon`) and the
 * dashboard (`--web`) ask the driver to stop is one {@linkcode StopTarget}, read once from what
 * the user typed or clicked; the driver answers with a {@linkcode StopAnswer} (found or not, and
 * what it stops), from which each client derives its message, exit status or HTTP status. Why a
 * connection ended is a {@linkcode CloseReason}, matched by kind, never by its wording.
 *
 * @module
 */

import { UsageError } from "./cli.ts";

/** What a stop request names: an engine by rank, a context by id (`c1`), or every context with a label. */
export type StopTarget =
  | { kind: "engine"; rank: number }
  | { kind: "context"; id: number }
  | { kind: "label"; label: string };

/** The driver's answer to a stop request. */
export type StopAnswer =
  /** Nothing of the run carries that name. */
  | { found: false; target: StopTarget }
  /**
   * Stopping: the contexts named (none for an engine target) and the connected engines the stop
   * applies to (the engine named, or the engines of those contexts).
   */
  | {
    found: true;
    target: StopTarget;
    contexts: { id: number; label: string }[];
    engines: number[];
  };

/** The one-line error for `--stop` without a target. */
export const STOP_NEEDS_TARGET =
  "--stop needs an engine rank (e.g. 3), a context id (c1) or a context label (e.g. SSH1, J1234)";

/**
 * Read the target of `<run>_dbUtil.sh --stop TARGET`: `3` is engine 3, `c1` context 1, anything
 * else a context label (every context that carries it).
 * @param text as typed (undefined when missing)
 * @returns the target
 * @throws {UsageError} when there is no target
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStopArg } from "./control.ts";
 * assert.deepEqual(parseStopArg("3"), { kind: "engine", rank: 3 });
 * assert.deepEqual(parseStopArg("c1"), { kind: "context", id: 1 });
 * assert.deepEqual(parseStopArg("J1234"), { kind: "label", label: "J1234" });
 * ```
 */
export function parseStopArg(text: string | undefined): StopTarget {
  if (!text) throw new UsageError(STOP_NEEDS_TARGET);
  if (/^\d+$/.test(text)) return { kind: "engine", rank: Number(text) };
  if (/^c\d+$/.test(text)) return { kind: "context", id: Number(text.slice(1)) };
  return { kind: "label", label: text };
}

/**
 * Read the body of the dashboard's `POST /api/stop`: exactly one of `engine` or `context`, a whole
 * number ≥ 0.
 * @param body the parsed JSON body
 * @returns the target
 * @throws {TypeError} when the body is not such an object
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stopTargetFromJson } from "./control.ts";
 * assert.deepEqual(stopTargetFromJson({ engine: 3 }), { kind: "engine", rank: 3 });
 * assert.deepEqual(stopTargetFromJson({ context: 0 }), { kind: "context", id: 0 });
 * assert.throws(() => stopTargetFromJson({ engine: 1, context: 2 }), TypeError);
 * ```
 */
export function stopTargetFromJson(body: unknown): StopTarget {
  if (typeof body !== "object" || body === null) throw new TypeError("Expected a JSON object");
  const o = body as Record<string, unknown>;
  const keys = Object.keys(o).filter((k) => o[k] !== undefined);
  if (keys.length === 1 && keys[0] === "engine" && isIndex(o.engine)) {
    return { kind: "engine", rank: o.engine };
  }
  if (keys.length === 1 && keys[0] === "context" && isIndex(o.context)) {
    return { kind: "context", id: o.context };
  }
  throw new TypeError('Expected {"engine": N} or {"context": N} with a whole number N');
}

function isIndex(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

/**
 * @param x a decoded value (from the wire)
 * @returns whether it is a well-formed {@linkcode StopTarget}
 */
export function isStopTarget(x: unknown): x is StopTarget {
  if (typeof x !== "object" || x === null) return false;
  const o = x as Record<string, unknown>;
  switch (o.kind) {
    case "engine":
      return isIndex(o.rank);
    case "context":
      return isIndex(o.id);
    case "label":
      return typeof o.label === "string" && o.label !== "";
  }
  return false;
}

/**
 * @param x a decoded value (from the wire)
 * @returns whether it is a well-formed {@linkcode StopAnswer}
 */
export function isStopAnswer(x: unknown): x is StopAnswer {
  if (typeof x !== "object" || x === null) return false;
  const o = x as Record<string, unknown>;
  if (!isStopTarget(o.target)) return false;
  if (o.found === false) return true;
  if (o.found !== true || !Array.isArray(o.contexts) || !Array.isArray(o.engines)) return false;
  return o.engines.every(isIndex) &&
    o.contexts.every((c) =>
      typeof c === "object" && c !== null && isIndex(c.id) && typeof c.label === "string"
    );
}

/** What a stop is resolved against: the run's connected engines and its contexts, in order. */
export interface StopScope {
  engines: Iterable<{ rank: number; context: number }>;
  contexts: Iterable<{ id: number; label: string }>;
}

/**
 * What a stop request names in a run: an engine rank names a connected engine, a context id one
 * context, a label every context that carries it (in the run's order).
 * @param t the target
 * @param run the run's engines and contexts
 * @returns the answer (the caller stops what it names)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { answerStop } from "./control.ts";
 * const run = { engines: [{ rank: 0, context: 0 }], contexts: [{ id: 0, label: "SSH0" }] };
 * assert.deepEqual(answerStop({ kind: "context", id: 0 }, run), {
 *   found: true,
 *   target: { kind: "context", id: 0 },
 *   contexts: [{ id: 0, label: "SSH0" }],
 *   engines: [0],
 * });
 * assert.deepEqual(answerStop({ kind: "engine", rank: 5 }, run).found, false);
 * ```
 */
export function answerStop(t: StopTarget, run: StopScope): StopAnswer {
  const engines = [...run.engines];
  if (t.kind === "engine") {
    if (!engines.some((e) => e.rank === t.rank)) return { found: false, target: t };
    return { found: true, target: t, contexts: [], engines: [t.rank] };
  }
  const contexts = [...run.contexts]
    .filter((c) => t.kind === "context" ? c.id === t.id : c.label === t.label)
    .map((c) => ({ id: c.id, label: c.label }));
  if (contexts.length === 0) return { found: false, target: t };
  const ids = new Set(contexts.map((c) => c.id));
  const ranks = engines.filter((e) => ids.has(e.context)).map((e) => e.rank).sort((a, b) => a - b);
  return { found: true, target: t, contexts, engines: ranks };
}

/**
 * @param t a target
 * @returns how messages name it: `engine 3`, `context 1`, `context J1234`
 */
export function stopTargetText(t: StopTarget): string {
  return t.kind === "engine" ? `engine ${t.rank}` : `context ${t.kind === "context" ? t.id : t.label}`;
}

/**
 * What the user reads for an answer (`--stop` prints it, the monitor shows it, the dashboard sends it).
 * @param a the driver's answer
 * @returns one line
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stopAnswerText } from "./control.ts";
 * assert.equal(stopAnswerText({ found: false, target: { kind: "engine", rank: 9 } }), "no engine 9");
 * assert.equal(
 *   stopAnswerText({
 *     found: true,
 *     target: { kind: "label", label: "J7" },
 *     contexts: [{ id: 1, label: "J7" }, { id: 4, label: "J7" }],
 *     engines: [2, 3],
 *   }),
 *   "stopping contexts J7 (1), J7 (4)",
 * );
 * ```
 */
export function stopAnswerText(a: StopAnswer): string {
  if (!a.found) return `no ${stopTargetText(a.target)}`;
  if (a.target.kind === "engine") return `stopping engine ${a.target.rank}`;
  return `stopping context${a.contexts.length > 1 ? "s" : ""} ${
    a.contexts.map((c) => `${c.label} (${c.id})`).join(", ")
  }`;
}

/**
 * @param a the driver's answer
 * @returns the exit status of `dbUtil.sh --stop`: 0 when something is stopping, 1 when nothing has that name
 */
export function stopExitCode(a: StopAnswer): number {
  return a.found ? 0 : 1;
}

/**
 * @param a the driver's answer
 * @returns the HTTP status of the dashboard's `POST /api/stop`: 200, or 404 when nothing has that name
 */
export function stopHttpStatus(a: StopAnswer): number {
  return a.found ? 200 : 404;
}

/** The driver refused a connection before it authenticated (the driver has logged why already). */
export type Refusal =
  | "handshake timeout"
  | "not authenticated"
  | "version mismatch"
  | "authentication failed"
  | "rejected"
  | "protocol error";

/** Why a connection ended. */
export type CloseReason =
  /** The other side closed it. */
  | { kind: "peerClosed" }
  /** A frame broke the protocol (too large, not UTF-8 JSON, no `kind`). */
  | { kind: "badFrame"; detail: string }
  /** Reading failed (the operating system's message). */
  | { kind: "readFailed"; detail: string }
  /** Writing failed (the operating system's message). */
  | { kind: "writeFailed"; detail: string }
  /** The driver refused the peer during the handshake. */
  | { kind: "refused"; why: Refusal }
  /** This side closed it for a reason of its own. */
  | { kind: "local"; text: string };

/**
 * @param r why a connection ended
 * @returns the words logs and messages use
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closeReasonText } from "./control.ts";
 * assert.equal(closeReasonText({ kind: "peerClosed" }), "connection closed by peer");
 * assert.equal(closeReasonText({ kind: "badFrame", detail: "x" }), "protocol error: x");
 * ```
 */
export function closeReasonText(r: CloseReason): string {
  switch (r.kind) {
    case "peerClosed":
      return "connection closed by peer";
    case "badFrame":
      return `protocol error: ${r.detail}`;
    case "readFailed":
      return r.detail;
    case "writeFailed":
      return `write failed: ${r.detail}`;
    case "refused":
      return r.why;
    case "local":
      return r.text;
  }
}

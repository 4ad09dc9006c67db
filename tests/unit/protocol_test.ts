import assert from "node:assert/strict";
import {
  asFromDriver,
  asToDriver,
  authMac,
  checkMac,
  encodeFrame,
  FrameDecoder,
  type FromDriver,
  MAX_FRAME,
  MESSAGE_KINDS,
  PROTOCOL_VERSION,
  ProtocolError,
  receiverOf,
  type RunState,
  runStateOf,
  type ToDriver,
  type WireAllocation,
} from "../../lib/protocol.ts";
import type { SchedulerSnapshot } from "../../lib/scheduler.ts";
import type { TaskOutcome } from "../../lib/types.ts";

const OUTCOME: TaskOutcome = {
  id: 3,
  kind: "normal",
  slot: 1,
  pid: 4321,
  returnCode: -9,
  start: 1795621734.298,
  end: 1795621735.307,
  stdoutBytes: 56,
  stdoutSnippet: "ünïcode 😀\n...tail",
  stderrBytes: 0,
  stderrSnippet: "",
  killed: true,
};

const SNAPSHOT: SchedulerSnapshot = {
  finished: 1,
  failed: 0,
  barriers: 0,
  skipped: 0,
  running: 1,
  queued: 2,
  slots: 2,
  engines: [{
    rank: 0,
    context: 0,
    host: "vm",
    slots: 2,
    state: "active",
    running: 1,
    assigned: 2,
    finished: 1,
    failed: 0,
  }],
  contexts: [{ id: 0, label: "SSH0", taskLimit: 0, assigned: 2, engines: 1 }],
  phase: "running",
  tasksEnded: true,
  retried: 1,
  timedOut: 0,
  quarantined: [{ host: "n2", reason: "its engine was lost 2 times" }],
};

/** One message of every kind the driver sends. */
const FROM_DRIVER: FromDriver[] = [
  { kind: "challenge", version: PROTOCOL_VERSION, nonce: "n0nce" },
  {
    kind: "welcome",
    version: PROTOCOL_VERSION,
    mac: "ab".repeat(32),
    rank: 2,
    run: {
      jobId: "J",
      nameTasks: "Tasks",
      cwd: "/w d",
      uid: "/w d/J",
      address: "10.0.0.1:1",
      logLevel: "INFO",
      killGrace: 10,
      driverGrace: 300,
      epoch: "h:1:2",
    },
  },
  { kind: "rejected", reason: "bad mac" },
  {
    kind: "perEngine",
    start: [{ id: 0, line: 4, repeatIndex: -1, command: "echo s", phase: "start" }],
    stop: [{ id: 0, line: 5, repeatIndex: -1, command: "echo t", phase: "stop" }],
  },
  {
    kind: "tasks",
    tasks: [
      { id: 0, line: 1, repeatIndex: -1, command: "printf 'a\\tb\\n'\t# tab" },
      { id: 1, line: 2, repeatIndex: 7, command: "echo caf\udce9 ünïcode 😀" }, // escaped non-UTF-8 byte
      { id: 2, line: 3, repeatIndex: -1, command: 'echo "quotes" \\ back\u2028slash' },
    ],
  },
  { kind: "stop" },
  { kind: "kill", reason: "fail-fast" },
  { kind: "ping" },
  { kind: "snapshot", state: { ...SNAPSHOT, uid: "/w/J", startedAt: 1795621000.5 } },
  {
    kind: "ack",
    answer: { found: true, target: { kind: "engine", rank: 0 }, contexts: [], engines: [0] },
  },
  {
    kind: "ack",
    answer: {
      found: true,
      target: { kind: "label", label: "J1234" },
      contexts: [{ id: 1, label: "J1234" }],
      engines: [2, 3],
    },
  },
  { kind: "ack", answer: { found: false, target: { kind: "context", id: 7 } } },
  { kind: "registered", context: 2, label: "J1234" },
  { kind: "runOver" },
  { kind: "note", text: "the engine on n2 leaves: nothing is left to run" },
  { kind: "engineJoined", launch: "1.0" },
  // Last, so that the indices above stay as the tests below use them.
  { kind: "snapshot", state: { ...SNAPSHOT, killed: 2, uid: "/w/J", startedAt: 1795621000.5 } },
  {
    kind: "welcome",
    version: PROTOCOL_VERSION,
    mac: "cd".repeat(32),
    rank: 3,
    run: {
      jobId: "J",
      nameTasks: "Tasks",
      cwd: "/w",
      uid: "/w/J",
      address: "10.0.0.1:1",
      logLevel: "INFO",
      killGrace: 10,
      driverGrace: 300,
      epoch: "h:1:2",
      contextDefaults: { cpusPerTask: 2.5, tasksPerNode: 3, envResource: ["GPU", "PORT"] },
    },
  },
];

/** One message of every kind the driver receives. */
const TO_DRIVER: ToDriver[] = [
  {
    kind: "hello",
    version: PROTOCOL_VERSION,
    role: "engine",
    mac: "cd".repeat(32),
    nonce: "x",
    host: "n1",
    pid: 77,
    context: 0,
    slots: 4,
    coresPerSlot: 1,
    launch: "l-1",
    notes: ["-E GPU has 1 value(s) for 4 slot(s): using 1 slot(s)"],
  },
  { kind: "hello", version: PROTOCOL_VERSION, role: "monitor", mac: "m", nonce: "y", host: "vm", pid: 1 },
  { kind: "done", outcomes: [OUTCOME, { ...OUTCOME, id: 0, kind: "perEngine", phase: "stop", slot: -1 }] },
  { kind: "done", outcomes: [] },
  { kind: "released", ids: [4, 5] },
  { kind: "bye" },
  { kind: "pong" },
  { kind: "registerContext", label: "mylabel", contextKind: "ssh", taskLimit: 2, engines: 1 },
  { kind: "engineFailed", context: 1, host: "n2", reason: "ssh exited 255", launch: "l-2" },
  { kind: "contextDone", context: 1 },
  { kind: "requestStop", target: { kind: "engine", rank: 3 } },
  { kind: "requestStop", target: { kind: "label", label: "mylabel" } },
  { kind: "requestStop", target: { kind: "context", id: 1 } },
  { kind: "watch" },
];

const ALL = [...FROM_DRIVER, ...TO_DRIVER];

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Feed `bytes` in chunks of the given sizes (cycled). */
function decodeInChunks(bytes: Uint8Array, sizes: number[]): { kind: string }[] {
  const d = new FrameDecoder();
  const out: { kind: string }[] = [];
  let off = 0;
  for (let i = 0; off < bytes.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(...d.push(bytes.subarray(off, off + n)));
    off += n;
  }
  return out;
}

function frameOf(body: Uint8Array, length = body.length): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, length);
  out.set(body, 4);
  return out;
}

Deno.test("encodeFrame() writes a 4-byte big-endian length and UTF-8 JSON", () => {
  const f = encodeFrame({ kind: "ping" });
  const body = new TextEncoder().encode('{"kind":"ping"}');
  assert.deepEqual([...f.subarray(0, 4)], [0, 0, 0, body.length]);
  assert.deepEqual(f.subarray(4), body);
});

Deno.test("FrameDecoder round-trips every message kind", () => {
  for (const msg of ALL) {
    assert.deepEqual(new FrameDecoder().push(encodeFrame(msg)), [msg], msg.kind);
  }
});

Deno.test("FrameDecoder reassembles messages split across chunks at any point", () => {
  const stream = concat(ALL.map(encodeFrame));
  const splits: number[][] = [[stream.length], [1], [2], [3], [5], [4096], [7, 1, 13], [4, 4, 4, 1000]];
  for (const sizes of splits) assert.deepEqual(decodeInChunks(stream, sizes), ALL, `chunks ${sizes}`);
  // Every single cut of a two-message stream.
  const two = concat([encodeFrame(FROM_DRIVER[4]!), encodeFrame(TO_DRIVER[2]!)]);
  for (let cut = 0; cut <= two.length; cut++) {
    const d = new FrameDecoder();
    const got = [...d.push(two.subarray(0, cut)), ...d.push(two.subarray(cut))];
    assert.deepEqual(got, [FROM_DRIVER[4], TO_DRIVER[2]], `cut at ${cut}`);
  }
});

Deno.test("FrameDecoder reads a frame larger than its initial buffer", () => {
  const big: FromDriver = {
    kind: "tasks",
    tasks: [{ id: 0, line: 1, repeatIndex: -1, command: "x".repeat(300_000) }],
  };
  const bytes = concat([encodeFrame(big), encodeFrame({ kind: "ping" })]);
  assert.deepEqual(decodeInChunks(bytes, [65536]), [big, { kind: "ping" }]);
  assert.deepEqual(decodeInChunks(bytes, [bytes.length]), [big, { kind: "ping" }]);
});

Deno.test("FrameDecoder waits for the rest of a frame", () => {
  const d = new FrameDecoder();
  const f = encodeFrame({ kind: "bye" });
  assert.deepEqual(d.push(f.subarray(0, 3)), []);
  assert.deepEqual(d.push(f.subarray(3, f.length - 1)), []);
  assert.deepEqual(d.push(f.subarray(f.length - 1)), [{ kind: "bye" }]);
  // A header announcing exactly MAX_FRAME bytes is allowed (the body has not come yet).
  assert.deepEqual(new FrameDecoder().push(frameOf(new Uint8Array(0), MAX_FRAME)), []);
});

Deno.test("FrameDecoder throws ProtocolError for oversized frames and garbage", () => {
  const enc = new TextEncoder();
  const cases: { bytes: Uint8Array; message: RegExp; why: string }[] = [
    {
      bytes: frameOf(new Uint8Array(0), MAX_FRAME + 1),
      message: /larger than the limit/,
      why: "oversized header",
    },
    { bytes: frameOf(new Uint8Array(0), 0xffffffff), message: /larger than the limit/, why: "huge header" },
    {
      bytes: enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      message: /larger than the limit/,
      why: "HTTP probe",
    },
    { bytes: enc.encode("SSH-2.0-OpenSSH_9.2\r\n"), message: /larger than the limit/, why: "ssh banner" },
    { bytes: frameOf(enc.encode("{not json")), message: /not UTF-8 JSON/, why: "bad JSON" },
    { bytes: frameOf(new Uint8Array([0x7b, 0xff, 0x7d])), message: /not UTF-8 JSON/, why: "bad UTF-8" },
    { bytes: frameOf(new Uint8Array(0)), message: /not UTF-8 JSON/, why: "empty frame" },
    { bytes: frameOf(enc.encode("[1,2]")), message: /string kind/, why: "array" },
    { bytes: frameOf(enc.encode("null")), message: /string kind/, why: "null" },
    { bytes: frameOf(enc.encode('"ping"')), message: /string kind/, why: "string" },
    { bytes: frameOf(enc.encode('{"kind":5}')), message: /string kind/, why: "numeric kind" },
    { bytes: frameOf(enc.encode('{"type":"ping"}')), message: /string kind/, why: "no kind" },
  ];
  for (const { bytes, message, why } of cases) {
    assert.throws(() => new FrameDecoder().push(bytes), (e: unknown) => {
      assert.ok(e instanceof ProtocolError, why);
      assert.equal(e.name, "ProtocolError");
      assert.match(e.message, message, why);
      return true;
    }, why);
  }
  // The limit is checked from the header alone, before the body is buffered.
  const d = new FrameDecoder();
  assert.throws(() => d.push(frameOf(new Uint8Array(0), MAX_FRAME + 1).subarray(0, 4)), ProtocolError);
});

Deno.test("asToDriver() accepts every message the driver understands", () => {
  for (const msg of TO_DRIVER) assert.equal(asToDriver(msg), msg, msg.kind);
});

Deno.test("asToDriver() rejects unknown kinds and missing or mistyped fields", () => {
  const cases: { msg: Record<string, unknown>; message: RegExp }[] = [
    { msg: { kind: "bogus" }, message: /unknown message kind "bogus"/ },
    { msg: { kind: "tasks", tasks: [] }, message: /unknown message kind "tasks"/ }, // driver → peer only
    { msg: { kind: "welcome" }, message: /unknown message kind/ },
    { msg: { kind: "x".repeat(100) }, message: /^unknown message kind "x{40}"$/ },
    { msg: { ...TO_DRIVER[0], mac: undefined }, message: /"hello" needs a string "mac"/ },
    { msg: { ...TO_DRIVER[0], pid: "77" }, message: /"hello" needs a number "pid"/ },
    { msg: { ...TO_DRIVER[0], version: "1" }, message: /"hello" needs a number "version"/ },
    { msg: { ...TO_DRIVER[0], role: undefined }, message: /"hello" needs a string "role"/ },
    { msg: { ...TO_DRIVER[0], nonce: 1 }, message: /"hello" needs a string "nonce"/ },
    { msg: { ...TO_DRIVER[0], host: null }, message: /"hello" needs a string "host"/ },
    { msg: { kind: "done" }, message: /"done" needs an array "outcomes"/ },
    { msg: { kind: "done", outcomes: [{ id: 1 }] }, message: /malformed outcome/ },
    { msg: { kind: "done", outcomes: [null] }, message: /malformed outcome/ },
    { msg: { kind: "done", outcomes: [{ ...OUTCOME, id: "3" }] }, message: /malformed outcome/ },
    { msg: { kind: "released", ids: 4 }, message: /"released" needs an array "ids"/ },
    { msg: { kind: "registerContext", label: "l", contextKind: "ssh", taskLimit: 0 }, message: /"engines"/ },
    {
      msg: { kind: "registerContext", label: 1, contextKind: "ssh", taskLimit: 0, engines: 1 },
      message: /"label"/,
    },
    {
      msg: { kind: "engineFailed", context: 0, reason: "r" },
      message: /"engineFailed" needs a string "host"/,
    },
    {
      msg: { kind: "requestStop", target: { kind: "engine", rank: "0" } },
      message: /"requestStop" holds a malformed "target"/,
    },
    {
      msg: { kind: "requestStop", target: { engine: 0 } },
      message: /"requestStop" holds a malformed "target"/,
    },
    { msg: { kind: "requestStop" }, message: /"requestStop" holds a malformed "target"/ },
  ];
  for (const { msg, message } of cases) {
    assert.throws(() => asToDriver(msg as { kind: string }), (e: unknown) => {
      assert.ok(e instanceof ProtocolError, JSON.stringify(msg).slice(0, 80));
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("authMac() is HMAC-SHA256 over the version, the role and the nonce", async () => {
  const secret = "0123456789abcdef".repeat(4);
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  for (const who of ["peer", "driver"] as const) {
    const sig = await crypto.subtle.sign(
      "HMAC",
      key,
      new TextEncoder().encode(`disbatch/${PROTOCOL_VERSION}/${who}:n0nce`),
    );
    const hex = [...new Uint8Array(sig)].map((b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(authMac(secret, who, "n0nce"), hex, who);
  }
  assert.match(authMac(secret, "peer", ""), /^[0-9a-f]{64}$/);
  assert.notEqual(authMac(secret, "peer", "a"), authMac(secret, "driver", "a"));
  assert.notEqual(authMac(secret, "peer", "a"), authMac(secret, "peer", "b"));
  assert.notEqual(authMac(secret, "peer", "a"), authMac(secret + "0", "peer", "a"));
});

Deno.test("checkMac() accepts only the exact proof", () => {
  const secret = "s3cr3t";
  const good = authMac(secret, "peer", "abc");
  assert.equal(checkMac(secret, "peer", "abc", good), true);
  const bad: [string, "peer" | "driver", string, string][] = [
    ["other", "peer", "abc", good],
    [secret, "driver", "abc", good],
    [secret, "peer", "abd", good],
    [secret, "peer", "abc", good.toUpperCase()],
    [secret, "peer", "abc", good.slice(0, -1)],
    [secret, "peer", "abc", good + "0"],
    [secret, "peer", "abc", ""],
    [secret, "peer", "abc", "ü".repeat(32)],
  ];
  for (const [s, who, nonce, mac] of bad) {
    assert.equal(checkMac(s, who, nonce, mac), false, `${s} ${who} ${nonce} ${mac}`);
  }
});

Deno.test("asFromDriver() accepts every message the driver sends and names what is wrong in others", () => {
  for (const m of FROM_DRIVER) assert.deepEqual(asFromDriver(m), m, m.kind);
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ kind: "hello" }, /unknown message kind "hello"/],
    [{ kind: "challenge", version: "2", nonce: "n" }, /"challenge" needs a number "version"/],
    [{ kind: "tasks", tasks: [{ id: 1 }] }, /"tasks" holds a malformed task/],
    [
      { kind: "welcome", version: 5, mac: "m", rank: 0, run: { cwd: "/" } },
      /"welcome.run" needs a string "jobId"/,
    ],
    [{ kind: "ack", message: "stopping" }, /"ack" holds a malformed "answer"/],
    [
      { kind: "ack", answer: { found: true, target: { kind: "engine", rank: 1 } } },
      /"ack" holds a malformed "answer"/,
    ],
  ];
  for (const [m, re] of bad) assert.throws(() => asFromDriver(m as { kind: string }), re);
});

/** Every message above, and the messages of an engine that comes back to a driver. */
const EVERY: (FromDriver | ToDriver)[] = [
  ...ALL,
  { ...TO_DRIVER[0]!, resume: { rank: 4 } } as ToDriver,
  {
    kind: "resume",
    tasks: [{ id: 5, line: 6, repeatIndex: -1, command: "sleep 1", attempt: 1 }],
    outcomes: [OUTCOME],
    startDone: true,
  },
  { kind: "done", outcomes: [{ ...OUTCOME, timedOut: true, attempt: 2 }], seq: 3 },
  { kind: "rejected", reason: "tasks given to others", gone: true },
  { kind: "ping", ack: 3 },
  { kind: "tasks", tasks: [{ id: 7, line: 8, repeatIndex: -1, command: "true" }], ack: 3 },
  { kind: "bye", signal: "SIGTERM" },
  {
    kind: "registerContext",
    label: "J7",
    contextKind: "slurm",
    taskLimit: 0,
    engines: 2,
    retires: true,
    keepHost: "n1",
    endsAt: 9e9,
  },
];

Deno.test("the table of message kinds lists every kind once, each received by one side", () => {
  assert.deepEqual([...MESSAGE_KINDS].sort(), [...new Set(EVERY.map((m) => m.kind))].sort());
  assert.equal(new Set(MESSAGE_KINDS).size, MESSAGE_KINDS.length);
  for (const m of FROM_DRIVER) assert.equal(receiverOf(m.kind), "peer", m.kind);
  for (const m of TO_DRIVER) assert.equal(receiverOf(m.kind), "driver", m.kind);
  for (const k of ["bogus", "", "toString", "__proto__", "constructor"]) {
    assert.equal(receiverOf(k), undefined, k);
  }
});

Deno.test("each decoder returns the message itself and refuses the other direction's kinds", () => {
  for (const m of EVERY.filter((m) => receiverOf(m.kind) === "driver")) {
    assert.equal(asToDriver(m), m, m.kind);
    assert.throws(
      () => asFromDriver(m),
      new RegExp(`^ProtocolError: unknown message kind "${m.kind}"$`),
      m.kind,
    );
  }
  for (const m of EVERY.filter((m) => receiverOf(m.kind) === "peer")) {
    assert.equal(asFromDriver(m), m, m.kind);
    assert.throws(
      () => asToDriver(m),
      new RegExp(`^ProtocolError: unknown message kind "${m.kind}"$`),
      m.kind,
    );
  }
  for (const k of ["toString", "__proto__", "hasOwnProperty"]) {
    assert.throws(() => asToDriver({ kind: k }), /unknown message kind/, k);
    assert.throws(() => asFromDriver({ kind: k }), /unknown message kind/, k);
  }
});

Deno.test("a field of the wrong type, or a required one missing, is named with its message's kind", () => {
  const decode = (m: { kind: string }) => receiverOf(m.kind) === "driver" ? asToDriver(m) : asFromDriver(m);
  const optional = new Set([
    ...[
      "hello.context",
      "hello.slots",
      "hello.coresPerSlot",
      "hello.launch",
      "hello.notes",
      "hello.resume",
      "engineFailed.launch",
    ],
    ...["done.seq", "rejected.gone", "ping.ack", "tasks.ack", "bye.signal"],
    ...["registerContext.retires", "registerContext.keepHost", "registerContext.endsAt"],
  ]);
  let checked = 0;
  for (const m of EVERY) {
    for (const [k, v] of Object.entries(m)) {
      if (k === "kind") continue;
      const wrong = typeof v === "object"
        ? 7
        : typeof v === "string"
        ? { no: 1 }
        : typeof v === "number"
        ? true
        : "7";
      for (const bad of optional.has(`${m.kind}.${k}`) ? [wrong] : [wrong, undefined]) {
        const msg = { ...m, [k]: bad } as { kind: string };
        assert.throws(() => decode(msg), (e: unknown) => {
          assert.ok(e instanceof ProtocolError, `${m.kind}.${k}`);
          assert.match(
            e.message,
            new RegExp(`^message "${m.kind}" (needs|holds) .*"${k}"`),
            `${m.kind}.${k}`,
          );
          return true;
        }, `${m.kind}.${k} = ${JSON.stringify(bad)}`);
        checked++;
      }
    }
  }
  assert.ok(checked > 60, `${checked} fields checked`);
});

Deno.test("a malformed item or nested field is named by its path inside the message", () => {
  const STATE: RunState = runStateOf(SNAPSHOT, { uid: "/w/J", startedAt: 1 });
  const cases: [Record<string, unknown>, string][] = [
    [
      { kind: "done", outcomes: [OUTCOME, { ...OUTCOME, returnCode: "0" }] },
      `message "done" holds a malformed outcome (outcomes[1] needs a number "returnCode")`,
    ],
    [
      { kind: "done", outcomes: [{ ...OUTCOME, kind: "other" }] },
      `message "done" holds a malformed outcome (outcomes[0] needs "normal" or "perEngine" as "kind")`,
    ],
    [
      { kind: "done", outcomes: [null] },
      `message "done" holds a malformed outcome (needs an object "outcomes[0]")`,
    ],
    [{ kind: "done", outcomes: [], seq: "1" }, `message "done" needs a number "seq"`],
    [
      { kind: "released", ids: [1, "2"] },
      `message "released" holds a malformed task id (needs a number "ids[1]")`,
    ],
    [
      { kind: "resume", tasks: [{ id: 1, line: 1, repeatIndex: -1 }], outcomes: [], startDone: false },
      `message "resume" holds a malformed task (tasks[0] needs a string "command")`,
    ],
    [
      { ...TO_DRIVER[0], resume: { rank: "1" } },
      `message "hello.resume" needs a number "rank"`,
    ],
    [
      { kind: "requestStop", target: { kind: "context", id: "1" } },
      `message "requestStop" holds a malformed "target"`,
    ],
    [
      { kind: "registerContext", label: "l", contextKind: "ssh", taskLimit: 0, engines: 1, endsAt: "soon" },
      `message "registerContext" needs a number "endsAt"`,
    ],
    [
      { ...FROM_DRIVER[4], tasks: [{ id: 0, line: 1, repeatIndex: -1, command: "x", timeout: "5" }] },
      `message "tasks" holds a malformed task (tasks[0] needs a number "timeout")`,
    ],
    [
      { ...FROM_DRIVER[3], stop: [{ id: 0, line: 5, repeatIndex: -1, command: "t", phase: "end" }] },
      `message "perEngine" holds a malformed task (stop[0] needs "start" or "stop" as "phase")`,
    ],
    [
      { ...FROM_DRIVER[1], run: { ...(FROM_DRIVER[1] as { run: object }).run, killGrace: "10" } },
      `message "welcome.run" needs a number "killGrace"`,
    ],
    [{ kind: "rejected", reason: "r", gone: 1 }, `message "rejected" needs a boolean "gone"`],
    [{ kind: "ping", ack: "3" }, `message "ping" needs a number "ack"`],
    [{ kind: "snapshot", state: [] }, `message "snapshot" needs an object "state"`],
    [
      { kind: "snapshot", state: { ...STATE, engines: undefined } },
      `message "snapshot.state" needs an array "engines"`,
    ],
    [
      { kind: "snapshot", state: { ...STATE, engines: [{ ...STATE.engines[0], host: 5 }] } },
      `message "snapshot.state" holds a malformed engine (engines[0] needs a string "host")`,
    ],
    [
      { kind: "snapshot", state: { ...STATE, contexts: [{ ...STATE.contexts[0], label: null }] } },
      `message "snapshot.state" holds a malformed context (contexts[0] needs a string "label")`,
    ],
    [
      { kind: "snapshot", state: { ...STATE, phase: "over" } },
      `message "snapshot.state" needs "running" or "draining" or "aborting" or "done" as "phase"`,
    ],
    [
      {
        kind: "snapshot",
        state: { ...STATE, allocations: [{ label: "A1", state: "lost", submittedAt: 1 }] },
      },
      `message "snapshot.state" holds a malformed allocation (allocations[0] needs "submitting" or "pending" or "running" or "ended" as "state")`,
    ],
    [
      { kind: "snapshot", state: { ...STATE, quarantined: [{ host: "n1" }] } },
      `message "snapshot.state" holds a malformed quarantined host (quarantined[0] needs a string "reason")`,
    ],
    [
      { kind: "snapshot", state: { ...STATE, stopAt: "later" } },
      `message "snapshot.state" needs a number "stopAt"`,
    ],
  ];
  for (const [m, want] of cases) {
    const decode = receiverOf(m.kind as string) === "driver" ? asToDriver : asFromDriver;
    assert.throws(() => decode(m as { kind: string }), (e: unknown) => {
      assert.ok(e instanceof ProtocolError, want);
      assert.equal(e.message, want);
      return true;
    }, want);
  }
});

Deno.test("runStateOf() sends the scheduler's snapshot as the same JSON, and only the wire's fields", () => {
  const allocations: WireAllocation[] = [
    {
      label: "A1",
      jobId: "75",
      state: "running",
      submittedAt: 10,
      startedAt: 12,
      endsAt: 400,
      nodes: "n1",
      nodeCount: 1,
    },
  ];
  const snaps: [string, SchedulerSnapshot, Parameters<typeof runStateOf>[1]][] = [
    ["plain", SNAPSHOT, { uid: "/w/J", startedAt: 5 }],
    ["with stopAt and allocations", { ...SNAPSHOT, stopAt: 99 }, {
      uid: "/w/J",
      startedAt: 5,
      allocations,
      allocatorPaused: "3 failures in a row",
    }],
    ["with tasks held for a dead driver's engines", { ...SNAPSHOT, stopAt: 99, held: 2, heldUntil: 300 }, {
      uid: "/w/J",
      startedAt: 5,
    }],
    ["allocator not paused", SNAPSHOT, {
      uid: "/w/J",
      startedAt: 5,
      allocations: [],
      allocatorPaused: undefined,
    }],
  ];
  for (const [why, snap, run] of snaps) {
    const state = runStateOf(snap, run);
    // What the driver sent before the wire had its own type: the snapshot spread with the run's facts.
    assert.equal(JSON.stringify(state), JSON.stringify({ ...snap, ...run }), why);
    assert.deepEqual(asFromDriver({ kind: "snapshot", state } as { kind: string }), {
      kind: "snapshot",
      state,
    }, why);
    assert.notEqual(
      state.engines,
      snap.engines,
      `${why}: engines are copied (the driver fills in lastHeard)`,
    );
    assert.notEqual(state.engines[0], snap.engines[0], why);
  }
  const extra = { ...SNAPSHOT, internal: 1, engines: [{ ...SNAPSHOT.engines[0]!, secretThing: 2 }] };
  const state = runStateOf(extra, { uid: "/w/J", startedAt: 5 });
  assert.ok(
    !("internal" in state) && !("secretThing" in state.engines[0]!),
    "fields the wire lacks stay home",
  );
  const heard = runStateOf({ ...SNAPSHOT, engines: [{ ...SNAPSHOT.engines[0]!, lastHeard: 7.5 }] }, {
    uid: "/w/J",
    startedAt: 5,
  });
  assert.equal(heard.engines[0]!.lastHeard, 7.5);
});

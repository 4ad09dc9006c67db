import assert from "node:assert/strict";
import { UsageError } from "../../lib/cli.ts";
import {
  answerStop,
  type CloseReason,
  closeReasonText,
  isStopAnswer,
  isStopTarget,
  parseStopArg,
  STOP_NEEDS_TARGET,
  type StopAnswer,
  stopAnswerText,
  stopExitCode,
  stopHttpStatus,
  type StopTarget,
  stopTargetFromJson,
} from "../../lib/control.ts";

Deno.test("parseStopArg() reads --stop targets: a rank, cN, or a label", () => {
  const cases: [string, StopTarget][] = [
    ["3", { kind: "engine", rank: 3 }],
    ["0", { kind: "engine", rank: 0 }],
    ["007", { kind: "engine", rank: 7 }],
    ["c1", { kind: "context", id: 1 }],
    ["c0", { kind: "context", id: 0 }],
    ["J1234", { kind: "label", label: "J1234" }],
    ["SSH0", { kind: "label", label: "SSH0" }],
    ["c1x", { kind: "label", label: "c1x" }],
    ["C1", { kind: "label", label: "C1" }],
    ["-1", { kind: "label", label: "-1" }],
    ["3 ", { kind: "label", label: "3 " }],
    ["my label", { kind: "label", label: "my label" }],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseStopArg(text), want, JSON.stringify(text));
});

Deno.test("parseStopArg() without a target is a usage error (exit 2) that says what to give", () => {
  for (const text of [undefined, ""]) {
    assert.throws(() => parseStopArg(text), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.exitCode, 2);
      assert.equal(
        e.message,
        "--stop needs an engine rank (e.g. 3), a context id (c1) or a context label (e.g. SSH1, J1234)",
      );
      assert.equal(e.message, STOP_NEEDS_TARGET);
      return true;
    });
  }
});

Deno.test("stopTargetFromJson() reads the dashboard's body: exactly one whole engine or context number", () => {
  const good: [unknown, StopTarget][] = [
    [{ engine: 3 }, { kind: "engine", rank: 3 }],
    [{ engine: 0 }, { kind: "engine", rank: 0 }],
    [{ context: 2 }, { kind: "context", id: 2 }],
    [{ context: 0, engine: undefined }, { kind: "context", id: 0 }],
  ];
  for (const [body, want] of good) assert.deepEqual(stopTargetFromJson(body), want, JSON.stringify(body));
  const bad: [unknown, string][] = [
    [null, "Expected a JSON object"],
    [3, "Expected a JSON object"],
    ["engine 3", "Expected a JSON object"],
    [{}, 'Expected {"engine": N} or {"context": N} with a whole number N'],
    [{ engine: -1 }, 'Expected {"engine": N} or {"context": N} with a whole number N'],
    [{ engine: 1.5 }, 'Expected {"engine": N} or {"context": N} with a whole number N'],
    [{ engine: "1" }, 'Expected {"engine": N} or {"context": N} with a whole number N'],
    [{ context: "SSH0" }, 'Expected {"engine": N} or {"context": N} with a whole number N'],
    [{ engine: 1, context: 1 }, 'Expected {"engine": N} or {"context": N} with a whole number N'],
    [{ rank: 1 }, 'Expected {"engine": N} or {"context": N} with a whole number N'],
  ];
  for (const [body, message] of bad) {
    assert.throws(() => stopTargetFromJson(body), { name: "TypeError", message }, JSON.stringify(body));
  }
});

Deno.test("isStopTarget() and isStopAnswer() accept only well-formed data from the wire", () => {
  const targets: [unknown, boolean][] = [
    [{ kind: "engine", rank: 0 }, true],
    [{ kind: "context", id: 4 }, true],
    [{ kind: "label", label: "J1" }, true],
    [{ kind: "label", label: "" }, false],
    [{ kind: "engine", rank: "0" }, false],
    [{ kind: "engine", rank: -1 }, false],
    [{ kind: "context", id: 1.5 }, false],
    [{ kind: "context", label: "x" }, false],
    [{ engine: 0 }, false],
    [null, false],
    ["engine 0", false],
  ];
  for (const [x, want] of targets) assert.equal(isStopTarget(x), want, JSON.stringify(x));
  const e0: StopTarget = { kind: "engine", rank: 0 };
  const answers: [unknown, boolean][] = [
    [{ found: false, target: e0 }, true],
    [{ found: true, target: e0, contexts: [], engines: [0] }, true],
    [
      { found: true, target: { kind: "label", label: "L" }, contexts: [{ id: 1, label: "L" }], engines: [] },
      true,
    ],
    [{ found: true, target: e0 }, false],
    [{ found: true, target: e0, contexts: [{ id: "1", label: "L" }], engines: [] }, false],
    [{ found: true, target: e0, contexts: [null], engines: [] }, false],
    [{ found: true, target: e0, contexts: [], engines: ["0"] }, false],
    [{ found: "yes", target: e0, contexts: [], engines: [] }, false],
    [{ found: false }, false],
    [{ ok: true, message: "stopping engine 0" }, false],
    [undefined, false],
  ];
  for (const [x, want] of answers) assert.equal(isStopAnswer(x), want, JSON.stringify(x));
});

Deno.test("answerStop() resolves a target against the run's engines and contexts", () => {
  const run = {
    engines: [
      { rank: 0, context: 0 },
      { rank: 3, context: 1 },
      { rank: 1, context: 1 },
      { rank: 4, context: 2 },
    ],
    contexts: [
      { id: 0, label: "SSH0" },
      { id: 1, label: "J7" },
      { id: 2, label: "J7" },
      { id: 3, label: "idle" },
    ],
  };
  const cases: [StopTarget, StopAnswer][] = [
    [{ kind: "engine", rank: 3 }, {
      found: true,
      target: { kind: "engine", rank: 3 },
      contexts: [],
      engines: [3],
    }],
    [{ kind: "engine", rank: 2 }, { found: false, target: { kind: "engine", rank: 2 } }],
    [
      { kind: "context", id: 1 },
      {
        found: true,
        target: { kind: "context", id: 1 },
        contexts: [{ id: 1, label: "J7" }],
        engines: [1, 3],
      },
    ],
    [
      { kind: "context", id: 3 },
      { found: true, target: { kind: "context", id: 3 }, contexts: [{ id: 3, label: "idle" }], engines: [] },
    ],
    [{ kind: "context", id: 9 }, { found: false, target: { kind: "context", id: 9 } }],
    [
      { kind: "label", label: "J7" },
      {
        found: true,
        target: { kind: "label", label: "J7" },
        contexts: [{ id: 1, label: "J7" }, { id: 2, label: "J7" }],
        engines: [1, 3, 4],
      },
    ],
    [
      { kind: "label", label: "SSH0" },
      {
        found: true,
        target: { kind: "label", label: "SSH0" },
        contexts: [{ id: 0, label: "SSH0" }],
        engines: [0],
      },
    ],
    [{ kind: "label", label: "j7" }, { found: false, target: { kind: "label", label: "j7" } }],
    [{ kind: "label", label: "0" }, { found: false, target: { kind: "label", label: "0" } }],
  ];
  for (const [t, want] of cases) assert.deepEqual(answerStop(t, run), want, JSON.stringify(t));
  assert.deepEqual(
    answerStop({ kind: "engine", rank: 0 }, { engines: [], contexts: [] }),
    { found: false, target: { kind: "engine", rank: 0 } },
  );
});

Deno.test("an answer gives the printed line, the --stop exit status and the dashboard's HTTP status", () => {
  const cases: [StopAnswer, string, number, number][] = [
    [{ found: false, target: { kind: "engine", rank: 9 } }, "no engine 9", 1, 404],
    [{ found: false, target: { kind: "context", id: 5 } }, "no context 5", 1, 404],
    [{ found: false, target: { kind: "label", label: "NOPE" } }, "no context NOPE", 1, 404],
    [
      { found: true, target: { kind: "engine", rank: 2 }, contexts: [], engines: [2] },
      "stopping engine 2",
      0,
      200,
    ],
    [
      { found: true, target: { kind: "context", id: 1 }, contexts: [{ id: 1, label: "SSH1" }], engines: [] },
      "stopping context SSH1 (1)",
      0,
      200,
    ],
    [
      {
        found: true,
        target: { kind: "label", label: "J7" },
        contexts: [{ id: 1, label: "J7" }, { id: 4, label: "J7" }],
        engines: [1, 2, 6],
      },
      "stopping contexts J7 (1), J7 (4)",
      0,
      200,
    ],
  ];
  for (const [a, text, code, http] of cases) {
    assert.deepEqual([stopAnswerText(a), stopExitCode(a), stopHttpStatus(a)], [text, code, http], text);
  }
});

Deno.test("closeReasonText() words each way a connection ends as the logs always did", () => {
  const cases: [CloseReason, string][] = [
    [{ kind: "peerClosed" }, "connection closed by peer"],
    [
      { kind: "badFrame", detail: "frame of 9 bytes is larger than the limit of 8" },
      "protocol error: frame of 9 bytes is larger than the limit of 8",
    ],
    [
      { kind: "readFailed", detail: "Connection reset by peer (os error 104)" },
      "Connection reset by peer (os error 104)",
    ],
    [{ kind: "writeFailed", detail: "Broken pipe (os error 32)" }, "write failed: Broken pipe (os error 32)"],
    [{ kind: "refused", why: "handshake timeout" }, "handshake timeout"],
    [{ kind: "refused", why: "protocol error" }, "protocol error"],
    [{ kind: "refused", why: "rejected" }, "rejected"],
    [{ kind: "local", text: "monitor quit" }, "monitor quit"],
  ];
  for (const [r, want] of cases) assert.equal(closeReasonText(r), want, JSON.stringify(r));
});

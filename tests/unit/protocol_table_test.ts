import assert from "node:assert/strict";
import {
  asFromDriver,
  asToDriver,
  MESSAGE_KINDS,
  ProtocolError,
  receiverOf,
} from "../../lib/protocol_table.ts";
import * as protocol from "../../lib/protocol.ts";

Deno.test("protocol_table: the table's decoders are the ones lib/protocol.ts exports", () => {
  assert.equal(protocol.asToDriver, asToDriver);
  assert.equal(protocol.asFromDriver, asFromDriver);
  assert.equal(protocol.ProtocolError, ProtocolError);
  assert.equal(protocol.MESSAGE_KINDS, MESSAGE_KINDS);
});

Deno.test("protocol_table: receiverOf() names the side each kind goes to", () => {
  const cases: [string, "driver" | "peer" | undefined][] = [
    ["hello", "driver"],
    ["done", "driver"],
    ["requestStop", "driver"],
    ["welcome", "peer"],
    ["tasks", "peer"],
    ["ack", "peer"],
    ["nonsense", undefined],
  ];
  for (const [kind, want] of cases) assert.equal(receiverOf(kind), want, kind);
});

Deno.test("protocol_table: each decoder refuses the other side's kinds with a ProtocolError", () => {
  const cases: [(m: { kind: string }) => unknown, { kind: string }, RegExp][] = [
    [asToDriver, { kind: "stop" }, /unknown message kind "stop"/],
    [asFromDriver, { kind: "watch" }, /unknown message kind "watch"/],
    [
      asToDriver,
      { kind: "requestStop", target: 3 } as { kind: string },
      /"requestStop" holds a malformed "target"/,
    ],
  ];
  for (const [decode, m, error] of cases) {
    assert.throws(
      () => decode(m),
      (e: unknown) => e instanceof ProtocolError && error.test(e.message),
      m.kind,
    );
  }
});

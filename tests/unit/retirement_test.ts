import assert from "node:assert/strict";
import { newContext, Registry } from "../../lib/registry.ts";
import { nodeLeft } from "../../lib/retirement.ts";
import type { EngineEnd } from "../../lib/scheduler.ts";

const FINISHED: EngineEnd = { kind: "finished" };

Deno.test("nodeLeft(): which node an engine's leaving gives back", () => {
  const cases: {
    name: string;
    retires?: boolean;
    keepHost?: string;
    /** [rank, host] of the context's engines; engine 0 leaves */
    engines: [number, string][];
    end?: EngineEnd;
    running?: boolean;
    want: unknown[];
  }[] = [
    {
      name: "the last engine on a node leaves",
      engines: [[0, "n2"], [1, "n3"]],
      want: [{ kind: "retireNode", context: 0, host: "n2" }],
    },
    {
      name: "signalled is a goodbye too",
      engines: [[0, "n2"]],
      end: { kind: "signalled", signal: "SIGTERM" },
      want: [{ kind: "retireNode", context: 0, host: "n2" }],
    },
    {
      name: "lost: the node is held",
      engines: [[0, "n2"]],
      end: { kind: "lost", reason: "killed" },
      want: [{ kind: "holdNode", context: 0, host: "n2" }],
    },
    { name: "another engine is still on the node", engines: [[0, "n2"], [1, "n2"]], want: [] },
    { name: "the node the context keeps", keepHost: "n2", engines: [[0, "n2"]], want: [] },
    { name: "a context that retires nothing", retires: false, engines: [[0, "n2"]], want: [] },
    { name: "the run is ending", engines: [[0, "n2"]], running: false, want: [] },
  ];
  for (const c of cases) {
    const reg = new Registry();
    reg.addContext(newContext(0, "sl", 0, c.engines.length, {
      retires: c.retires ?? true,
      ...(c.keepHost ? { keepHost: c.keepHost } : {}),
    }));
    // An engine of another context on the same node does not keep it.
    reg.addContext(newContext(1, "other", 0, 1, { retires: true }));
    reg.join(9, 1, "n2", 1);
    for (const [rank, host] of c.engines) reg.join(rank, 0, host, 1);
    reg.leave(0);
    assert.deepEqual(nodeLeft(reg, reg.engine(0)!, c.end ?? FINISHED, c.running ?? true), c.want, c.name);
  }
});

import assert from "node:assert/strict";
import { connectAny } from "../../adapters/transport.ts";

Deno.test("connectAny(): the first address that answers, skipping those that refuse", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    const accepted = listener.accept();
    const conn = await connectAny(`127.0.0.1:${deadPort},127.0.0.1:${port}`, Date.now() + 5000);
    assert.ok(typeof conn !== "string", String(conn));
    assert.equal((conn.remoteAddr as Deno.NetAddr).port, port);
    conn.close();
    (await accepted).close();
  } finally {
    listener.close();
  }
});

Deno.test("connectAny(): none answers before the deadline: the last error, naming the address", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const t0 = Date.now();
  const r = await connectAny(`127.0.0.1:${deadPort}`, Date.now() + 300);
  assert.equal(typeof r, "string");
  assert.match(r as string, new RegExp(`^127\\.0\\.0\\.1:${deadPort}: `));
  assert.ok(Date.now() - t0 < 5000, "it gives up after the deadline");
});

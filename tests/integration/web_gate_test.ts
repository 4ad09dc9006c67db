/**
 * The dashboard's gate (`adapters/web_gate.ts`) against idle and slow clients: past the cap a
 * connection is closed at once, a client that never finishes its headers is closed after the
 * header time, and the dashboard keeps answering proper requests throughout.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startDashboard } from "../../adapters/web.ts";
import type { DashboardState } from "../../lib/dashboard.ts";

/** Resolves with the ms from `t0` (when it connected) until the server closed the connection. */
async function closedAfter(c: Deno.Conn, t0: number, limitMs: number): Promise<number> {
  const buf = new Uint8Array(1024);
  const timer = setTimeout(() => c.close(), limitMs);
  try {
    while ((await c.read(buf)) !== null) { /* drain */ }
  } catch { /* closed by our timer or reset */ }
  clearTimeout(timer);
  return performance.now() - t0;
}

Deno.test("dashboard gate: a connection cap, a header deadline, and proper requests still served", async () => {
  const rejects: string[] = [];
  const web = startDashboard({
    hostname: "127.0.0.1",
    port: 0,
    token: "t0ken",
    state: () => ({}) as unknown as DashboardState,
    stop: (t) => ({ found: true, target: t, contexts: [], engines: [] }),
    onReject: (m) => rejects.push(m),
    limits: { maxConnections: 5, headerMs: 1000, idleMs: 5000 },
  });
  const port = Number(new URL(web.url).port);
  try {
    const idle: Deno.Conn[] = [];
    const at: number[] = [];
    for (let i = 0; i < 8; i++) {
      idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
      at.push(performance.now());
      await new Promise((r) => setTimeout(r, 20));
    }
    // A slow client too: headers begun, never finished (it is over the cap, closed at once as well).
    await idle[0]!.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n"));
    const times = await Promise.all(idle.map((c, i) => closedAfter(c, at[i]!, 8000)));
    const sorted = [...times].sort((a, b) => a - b);
    assert.ok(
      sorted.slice(0, 3).every((t) => t < 500),
      `3 over the cap closed at once: ${times.map(Math.round)}`,
    );
    assert.ok(
      sorted.slice(3).every((t) => t > 500 && t < 4000),
      `the rest after the 1 s header time: ${times.map(Math.round)}`,
    );
    assert.ok(rejects.some((m) => /refused a connection .*5 open already/.test(m)), rejects.join("\n"));
    assert.ok(rejects.some((m) => /no request headers within 1 s/.test(m)), rejects.join("\n"));
    // Proper requests pass, also with keep-alive.
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/api/stop?token=t0ken`, {
        method: "POST",
        body: JSON.stringify({ engine: 1 }),
      });
      assert.equal(r.status, 200, await r.text());
    }
    const denied = await fetch(`http://127.0.0.1:${port}/api/state`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
  } finally {
    await web.close();
  }
});

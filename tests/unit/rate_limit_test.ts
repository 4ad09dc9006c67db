import assert from "node:assert/strict";
import { LineLimiter } from "../../lib/rate_limit.ts";

Deno.test("LineLimiter.take() writes a burst per window and reports what it held back", () => {
  const l = new LineLimiter(3, 10);
  const seen = [0, 0.1, 0.2, 0.3, 0.4, 5, 10.5, 10.6, 30].map((t) => l.take(t));
  assert.deepEqual(seen.map((v) => v.write), [true, true, true, false, false, false, true, true, true]);
  assert.deepEqual(seen.map((v) => v.suppressed), [0, 0, 0, 0, 0, 0, 3, 0, 0]);
});

Deno.test("LineLimiter.take() of 2,876 lines in one second writes 10", () => {
  const l = new LineLimiter();
  let written = 0;
  for (let i = 0; i < 2876; i++) if (l.take(i / 2876).write) written++;
  assert.equal(written, 10);
  assert.equal(l.take(20).suppressed, 2866);
});

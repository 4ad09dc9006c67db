/**
 * Driving disbatch from TypeScript (`mod.ts`): ten squares, then one more task per result that
 * looked wrong, then a REPEAT whose results are read as they come.
 *
 *     deno run -A examples/squares.ts -s localhost:4
 *
 * Extra arguments go to disbatch. It prints one line per task and exits 0.
 */

import { DisBatcher } from "../mod.ts";

const db = new DisBatcher({ name: "squares", args: Deno.args });
const n = 10;
// Task i writes i*i on stdout; task 7 fails on purpose.
for (let i = 0; i < n; i++) await db.submit(`echo $(( ${i} * ${i} ))${i === 7 ? "; exit 1" : ""}`);
const squares = await db.wait([...Array(n).keys()]);
let next = n;
for (const [id, r] of [...squares].sort((a, b) => a[0] - b[0])) {
  console.log(`task ${id}: ${r.OutData.trim()} (exit ${r.ReturnCode})`);
  if (r.ReturnCode !== 0) {
    // Submit a follow-up based on the result: it gets the next id.
    await db.submit(`echo recheck ${id}`);
    const again = await db.wait([next++]);
    console.log(`task ${next - 1}: ${again.get(next - 1)!.OutData.trim()}`);
  }
}
// A REPEAT takes one id per repetition; read its results in the order they finish.
await db.submit(`#DISBATCH REPEAT 3 start 1 echo cube $(( DISBATCH_REPEAT_INDEX ** 3 ))`);
const cubes = new Set([next, next + 1, next + 2]);
for await (const r of db.results()) {
  if (!cubes.delete(r.TaskId)) continue;
  console.log(`task ${r.TaskId}: ${r.OutData.trim()}`);
  if (cubes.size === 0) break;
}
await db.done();

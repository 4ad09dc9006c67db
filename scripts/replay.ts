/**
 * Replay a `--event-log` file through a fresh scheduler and say whether it gives the same actions.
 *
 *     deno run --allow-read scripts/replay.ts run.events [--show]
 *
 * Exit 0 when every step gives the recorded actions, 1 when some differ (the first few are
 * printed), 2 when the file cannot be read. `--show` prints each event and its actions.
 *
 * @module
 */

import { parseEventStream, replay } from "../lib/reactor.ts";

const [path, ...rest] = Deno.args;
if (!path || path === "-h" || path === "--help") {
  console.error("usage: deno run --allow-read scripts/replay.ts EVENT_LOG [--show]");
  Deno.exit(2);
}
let stream;
try {
  stream = parseEventStream(Deno.readTextFileSync(path));
} catch (e) {
  console.error(`replay: ${path}: ${e instanceof Error ? e.message : e}`);
  Deno.exit(2);
}
if (rest.includes("--show")) {
  for (const s of stream.steps) console.log(`${JSON.stringify(s.e)}\n  -> ${JSON.stringify(s.a)}`);
}
const { scheduler, differences } = replay(stream.head, stream.steps);
const snap = scheduler.snapshot();
console.log(
  `${stream.steps.length} event(s) replayed; phase ${snap.phase}, ${snap.finished} finished, ${snap.failed} failed; ` +
    `${differences.length} step(s) differ`,
);
for (const d of differences.slice(0, 5)) {
  console.log(`line ${d.line}: ${JSON.stringify(d.event)}`);
  console.log(`  recorded: ${JSON.stringify(d.recorded)}`);
  console.log(`  replayed: ${JSON.stringify(d.replayed)}`);
}
Deno.exit(differences.length ? 1 : 0);

/**
 * Driver dispatch benchmark: a real driver (the CLI, `-S`), and many simulated engines in this one
 * process speaking the real protocol (handshake included), each finishing its tasks instantly.
 *
 *   deno run -A scripts/bench/dispatch.ts [--engines 1000] [--tasks 200000] [--slots 1]
 *
 * Prints dispatches per second (tasks assigned and reported back) and the driver's peak RSS.
 * Goal: >= 10,000 dispatches/s with 1,000 engines on this machine.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Link } from "../../adapters/transport.ts";
import { authMac, type FromDriver, PROTOCOL_VERSION } from "../../lib/protocol.ts";
import type { Task, TaskOutcome } from "../../lib/types.ts";
import { cliCommand } from "../../tests/helpers/run_cli.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    engines: { type: "string", default: "1000" },
    tasks: { type: "string", default: "200000" },
    slots: { type: "string", default: "1" },
  },
});
const nEngines = Number(values.engines);
const nTasks = Number(values.tasks);
const slots = Number(values.slots);
const dir = await Deno.makeTempDir({ prefix: "disbatch_dispatch_" });
Deno.writeTextFileSync(`${dir}/T`, "true\n".repeat(nTasks));
const cli = cliCommand();
const driver = new Deno.Command(cli[0]!, {
  args: [
    ...cli.slice(1),
    "-q",
    "-S",
    "--logfile",
    "/tmp/dispatch_driver.log",
    "-p",
    `${dir}/run`,
    `${dir}/T`,
  ],
  cwd: dir,
  stdout: "null",
  stderr: "inherit",
}).spawn();

let script = "";
for (let i = 0; i < 200 && !script; i++) {
  try {
    script = Deno.readTextFileSync(`${dir}/run_dbUtil.sh`);
  } catch {
    await new Promise((r) => setTimeout(r, 50));
  }
}
const get = (k: string) => script.match(new RegExp(`export ${k}='([^']*)'`))![1]!;
const address = get("DISBATCH_DRIVER").split(",").find((a) => a.startsWith("127.0.0.1")) ??
  get("DISBATCH_DRIVER").split(",")[0]!;
const secret = get("DISBATCH_SECRET");
const [host, port] = [
  address.slice(0, address.lastIndexOf(":")),
  Number(address.slice(address.lastIndexOf(":") + 1)),
];

async function connect(
  role: "context" | "engine",
  extra: Record<string, unknown>,
  onMsg: (l: Link, m: FromDriver) => void,
): Promise<Link> {
  const link = new Link(await Deno.connect({ hostname: host, port }));
  const nonce = crypto.randomUUID();
  let welcomed: () => void;
  const ready = new Promise<void>((r) => welcomed = r);
  link.onMessage = (raw) => {
    const m = raw as FromDriver;
    if (m.kind === "challenge") {
      link.send(
        {
          kind: "hello",
          version: PROTOCOL_VERSION,
          role,
          mac: authMac(secret, "peer", m.nonce),
          nonce,
          host: "sim",
          pid: Deno.pid,
          ...extra,
        } as never,
      );
    } else if (m.kind === "welcome") welcomed();
    else if (m.kind === "ping") link.send({ kind: "pong" });
    else onMsg(link, m);
  };
  link.start();
  await ready;
  return link;
}

let contextId = -1;
const ctx = await connect("context", {}, (_l, m) => {
  if (m.kind === "registered") contextId = m.context;
});
ctx.send({ kind: "registerContext", label: "SIM", contextKind: "ssh", taskLimit: 0, engines: nEngines });
while (contextId < 0) await new Promise((r) => setTimeout(r, 10));

let done = 0;
let firstAt = 0;
// Engines hold what they get until all of them are connected, so the measurement is of 1,000
// engines in steady state, not of the first few.
let held: [Link, FromDriver][] | undefined = [];
const onTasks = (l: Link, m: FromDriver) => {
  if (held) {
    held.push([l, m]);
    return;
  }
  if (m.kind === "tasks") {
    const now = Date.now() / 1000;
    const outcomes: TaskOutcome[] = m.tasks.map((t: Task) => ({
      id: t.id,
      kind: "normal",
      slot: 0,
      pid: 1,
      returnCode: 0,
      start: now,
      end: now,
      stdoutBytes: 0,
      stdoutSnippet: "",
      stderrBytes: 0,
      stderrSnippet: "",
      killed: false,
    }));
    done += outcomes.length;
    l.send({ kind: "done", outcomes });
  } else if (m.kind === "perEngine") {
    // no PERENGINE tasks in this file
  } else if (m.kind === "stop" || m.kind === "kill") {
    l.send({ kind: "bye" });
    l.flush().then(() => l.close("bye"));
  }
};
const t0 = performance.now();
const links: Link[] = [];
for (let i = 0; i < nEngines; i += 50) {
  const batch = await Promise.all(
    Array.from(
      { length: Math.min(50, nEngines - i) },
      () => connect("engine", { context: contextId, slots, coresPerSlot: 1 }, onTasks),
    ),
  );
  links.push(...batch);
}
const connected = (performance.now() - t0) / 1000;
firstAt = performance.now();
const replay = held;
held = undefined;
for (const [l, m] of replay) onTasks(l, m);
let peak = 0;
const sampler = setInterval(() => {
  try {
    const m = Deno.readTextFileSync(`/proc/${driver.pid}/status`).match(/VmRSS:\s+(\d+)/);
    if (m) peak = Math.max(peak, Number(m[1]) / 1024);
  } catch { /* exited */ }
}, 200);
const status = await driver.status;
clearInterval(sampler);
const span = (performance.now() - firstAt) / 1000;
console.log(
  `${nEngines} simulated engines x ${slots} slot(s) connected in ${
    connected.toFixed(2)
  } s; ${done} tasks dispatched and reported in ` +
    `${span.toFixed(2)} s = ${(done / span).toFixed(0)} dispatches/s (goal >= 10000); driver peak RSS ${
      peak.toFixed(0)
    } MB; driver exit ${status.code}`,
);
ctx.close("done");
await Deno.remove(dir, { recursive: true });

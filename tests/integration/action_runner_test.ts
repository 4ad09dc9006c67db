/**
 * The driver's {@linkcode ActionRunner}: tasks for an engine go out with the acknowledgement of its
 * `done` messages, and only after the records those messages brought are written.
 */

import assert from "node:assert/strict";
import { ActionRunner } from "../../adapters/actions.ts";
import type { Peer } from "../../adapters/server.ts";
import type { Logger } from "../../adapters/log.ts";
import type { FromDriver } from "../../lib/protocol.ts";
import type { Task } from "../../lib/types.ts";

const task = (id: number): Task => ({ id, line: id + 1, repeatIndex: -1, command: `echo ${id}` });

/** A runner over fake engine links; `said` is every message sent and every write of records, in order. */
function setup(acks: (number | undefined)[]) {
  const said: string[] = [];
  const links = new Map<number, Peer>();
  acks.forEach((ack, rank) => {
    const link = { send: (m: FromDriver) => said.push(`${rank} ${JSON.stringify(m)}`) };
    links.set(rank, { link, ack, rank, remote: "test", hello: {} } as unknown as Peer);
  });
  const log = { debugEnabled: false, debug() {}, info() {}, warn() {}, error() {} } as unknown as Logger;
  const runner = new ActionRunner({
    links,
    log,
    say() {},
    record() {},
    attempt() {},
    settled() {},
    launchContext() {},
    nodeFree() {},
    persist: () => said.push("persist"),
  });
  return { runner, said };
}

Deno.test("tasks for an engine carry the acknowledgement of its done messages, after the records are written", async () => {
  const cases: { name: string; acks: (number | undefined)[]; ranks: number[]; want: string[] }[] = [
    {
      name: "one engine with done messages received",
      acks: [4],
      ranks: [0, 0],
      want: [
        "persist",
        `0 {"kind":"tasks","tasks":[${JSON.stringify(task(0))},${JSON.stringify(task(1))}],"ack":4}`,
      ],
    },
    {
      name: "an engine that has sent no done message yet: no acknowledgement, nothing to write first",
      acks: [undefined],
      ranks: [0],
      want: [`0 {"kind":"tasks","tasks":[${JSON.stringify(task(0))}]}`],
    },
    {
      name: "two engines: the records are written once, each gets its own acknowledgement",
      acks: [2, 9],
      ranks: [0, 1],
      want: [
        "persist",
        `0 {"kind":"tasks","tasks":[${JSON.stringify(task(0))}],"ack":2}`,
        `1 {"kind":"tasks","tasks":[${JSON.stringify(task(1))}],"ack":9}`,
      ],
    },
  ];
  for (const c of cases) {
    const { runner, said } = setup(c.acks);
    runner.apply(c.ranks.map((rank, id) => ({ kind: "assign", rank, task: task(id) })));
    assert.deepEqual(said, [], `${c.name}: nothing goes out before the end of the turn`);
    await Promise.resolve();
    assert.deepEqual(said, c.want, c.name);
  }
});

/**
 * The driver's {@linkcode ActionRunner}: tasks for an engine go out with the acknowledgement of its
 * `done` messages, and only after the records those messages brought are written.
 */

import assert from "node:assert/strict";
import { ActionRunner } from "../../adapters/actions.ts";
import type { Peer } from "../../adapters/server.ts";
import type { Logger } from "../../adapters/log.ts";
import type { FromDriver } from "../../lib/protocol.ts";
import type { StatusRecord, Task } from "../../lib/types.ts";

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
    record: (r) => said.push(`record ${r.taskId}`),
    keep: (r) => said.push(`keep ${r.taskId}`),
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

Deno.test("a record of this run goes to every consumer; an earlier run's line kept goes to the status file alone", () => {
  const { runner, said } = setup([]);
  const rec = (taskId: number): StatusRecord => ({
    flags: "R  K",
    taskId,
    line: taskId + 1,
    repeatIndex: -1,
    host: "n1",
    pid: 7,
    returnCode: -15,
    elapsed: 40,
    start: 1,
    end: 41,
    stdoutBytes: 0,
    stdoutSnippet: "",
    stderrBytes: 0,
    stderrSnippet: "",
    command: "sleep 70",
  });
  runner.apply([{ kind: "record", record: rec(1) }, { kind: "record", record: rec(2), earlier: true }]);
  assert.deepEqual(said, ["record 1", "keep 2"]);
});

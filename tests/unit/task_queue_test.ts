import assert from "node:assert/strict";
import type { TaskEntry } from "../../lib/registry.ts";
import { TaskQueue } from "../../lib/task_queue.ts";
import type { Barrier, Task } from "../../lib/types.ts";

function task(id: number): Task {
  return { id, line: id + 1, repeatIndex: -1, command: `echo ${id}` };
}

function entry(id: number): TaskEntry {
  return { kind: "task", id, task: task(id), state: "queued" };
}

function barrier(id: number): Barrier {
  return { id, line: id + 1, check: false, text: "#DISBATCH BARRIER" };
}

/** A queue from a compact spec: numbers are tasks, "B<n>" barriers. */
function queue(items: (number | string)[]): TaskQueue {
  const q = new TaskQueue();
  for (const it of items) {
    q.push(
      typeof it === "number" ? entry(it) : { kind: "barrier", barrier: barrier(Number(it.slice(1))) },
    );
  }
  return q;
}

Deno.test("TaskQueue: counts of what is ready, pending and next", () => {
  const cases: {
    name: string;
    items: (number | string)[];
    requeued: number[];
    ready: number;
    pending: number;
    next: number | undefined;
    empty: boolean;
  }[] = [
    { name: "empty", items: [], requeued: [], ready: 0, pending: 0, next: undefined, empty: true },
    { name: "tasks", items: [0, 1, 2], requeued: [], ready: 3, pending: 3, next: 0, empty: false },
    {
      name: "a barrier holds what follows",
      items: [0, "B1", 2],
      requeued: [],
      ready: 1,
      pending: 3,
      next: 0,
      empty: false,
    },
    {
      name: "a barrier first",
      items: ["B0", 1],
      requeued: [],
      ready: 0,
      pending: 2,
      next: undefined,
      empty: false,
    },
    {
      name: "tasks to run again first",
      items: [5],
      requeued: [3, 1],
      ready: 3,
      pending: 3,
      next: 1,
      empty: false,
    },
    {
      name: "only tasks to run again",
      items: [],
      requeued: [2],
      ready: 1,
      pending: 1,
      next: 2,
      empty: false,
    },
  ];
  for (const c of cases) {
    const q = queue(c.items);
    for (const id of c.requeued) q.requeue(entry(id));
    assert.deepEqual(
      { ready: q.ready(), pending: q.pending, next: q.next()?.id, empty: q.empty },
      { ready: c.ready, pending: c.pending, next: c.next, empty: c.empty },
      c.name,
    );
  }
});

Deno.test("TaskQueue.requeue() keeps id order; takeRequeued() takes one", () => {
  const q = new TaskQueue();
  for (const id of [5, 2, 9, 3, 2.5]) q.requeue(entry(id));
  assert.deepEqual(q.requeued().map((e) => e.id), [2, 2.5, 3, 5, 9]);
  assert.equal(q.takeRequeued(1).id, 2.5);
  assert.deepEqual(q.requeued().map((e) => e.id), [2, 3, 5, 9]);
  assert.equal(q.requeuedCount, 4);
});

Deno.test("TaskQueue: head, shift and compaction keep file order", () => {
  const n = 3000;
  const q = queue(Array.from({ length: n }, (_, i) => i));
  for (let i = 0; i < n; i++) {
    const h = q.head();
    assert.ok(h?.kind === "task" && h.id === i);
    q.shift();
    q.compact();
  }
  assert.equal(q.head(), undefined);
  assert.equal(q.fileItems, 0);
  q.push(entry(n));
  assert.equal(q.fileItems, 1);
});

Deno.test("TaskQueue: a task an engine came back with is skipped once when read, until the file ends", () => {
  const q = new TaskQueue();
  q.skipOnRead(4);
  q.skipOnRead(6);
  assert.deepEqual([q.skipRead(4), q.skipRead(4), q.skipRead(5)], [true, false, false]);
  q.endOfFile();
  assert.equal(q.skipRead(6), false);
});

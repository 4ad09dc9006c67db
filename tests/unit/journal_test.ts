import assert from "node:assert/strict";
import {
  contextLine,
  endLine,
  formatDriverAddress,
  goneLine,
  headerLine,
  joinLine,
  parseDriverAddress,
  replayJournal,
  resumedLine,
  returnedLine,
  sentLine,
} from "../../lib/journal.ts";

const H = { argv: ["-s", "n1:2", "Tasks"], cwd: "/w", epoch: "e1", host: "login", pid: 7, at: 1 };

Deno.test("replayJournal() gives what was in flight, per engine, after sends, hand-backs and leaves", () => {
  const cases: { name: string; lines: string[]; sent: [number, number][]; alive: number[] }[] = [
    {
      name: "sent",
      lines: [joinLine(0, 0, 2, "n1"), sentLine(0, [1, 2])],
      sent: [[1, 0], [2, 0]],
      alive: [0],
    },
    {
      name: "handed back",
      lines: [joinLine(0, 0, 2, "n1"), sentLine(0, [1, 2]), returnedLine(0, [2])],
      sent: [[1, 0]],
      alive: [0],
    },
    {
      name: "engine left: its tasks are not in flight",
      lines: [joinLine(0, 0, 2, "n1"), sentLine(0, [1, 2]), goneLine(0)],
      sent: [],
      alive: [],
    },
    {
      name: "lost, then sent elsewhere: the last send counts",
      lines: [
        joinLine(0, 0, 1, "n1"),
        joinLine(1, 0, 1, "n2"),
        sentLine(0, [5]),
        goneLine(0),
        sentLine(1, [5]),
      ],
      sent: [[5, 1]],
      alive: [1],
    },
    {
      name: "a hand-back by another engine does not undo a later send",
      lines: [
        joinLine(0, 0, 1, "n1"),
        joinLine(1, 0, 1, "n2"),
        sentLine(0, [5]),
        sentLine(1, [5]),
        returnedLine(0, [5]),
      ],
      sent: [[5, 1]],
      alive: [0, 1],
    },
  ];
  for (const c of cases) {
    const s = replayJournal(headerLine(H) + c.lines.join(""));
    assert.deepEqual([...s.sent].sort((a, b) => a[0] - b[0]), c.sent, c.name);
    assert.deepEqual([...s.engines].filter(([, e]) => e.alive).map(([r]) => r), c.alive, c.name);
    assert.equal(s.badLines, 0, c.name);
  }
});

Deno.test("replayJournal() keeps contexts, -C counts, every driver's header and the end", () => {
  const text = headerLine(H) +
    contextLine(0, { label: "n", origin: "auto", taskLimit: 3, engines: 1, retires: false }) +
    joinLine(4, 0, 2, "n1") + sentLine(4, [1, 2, 3]) + returnedLine(4, [3]) +
    headerLine({ ...H, epoch: "e2", argv: ["ignored"] });
  const s = replayJournal(text);
  assert.equal(s.first?.epoch, "e1");
  assert.deepEqual(s.first?.argv, H.argv);
  assert.equal(s.drivers.length, 2);
  assert.equal(s.contexts.get(0)?.taskLimit, 3);
  assert.equal(s.assigned.get(0), 2);
  assert.equal(s.ended, undefined);
  assert.equal(replayJournal(text + endLine(0)).ended, 0);
  // a later start after an end (a run restarted anyway) is not ended
  assert.equal(replayJournal(text + endLine(1) + headerLine(H)).ended, undefined);
});

Deno.test("replayJournal() keeps the latest run that resumed this one (-r), whatever follows", () => {
  const a = { by: "/w/run2", host: "n1", pid: 7, at: 100 };
  const b = { by: "/w/run3", host: "n2", pid: 8, at: 200 };
  const cases: [string, string | undefined][] = [
    ["", undefined],
    [resumedLine(a), "/w/run2"],
    [resumedLine(a) + resumedLine(b), "/w/run3"],
    [resumedLine(a) + headerLine(H), "/w/run2"],
    ['T {"by":3}\n', undefined],
  ];
  for (const [lines, want] of cases) {
    assert.equal(replayJournal(headerLine(H) + lines).resumedBy?.by, want, lines);
  }
  assert.equal(replayJournal(headerLine(H) + 'T {"by":3}\n').badLines, 1);
});

Deno.test("replayJournal() skips a torn last line and garbage, counting them", () => {
  const s = replayJournal(headerLine(H) + joinLine(0, 0, 1, "n1") + "D 0 1,2\nD 0 x\nQ what\nD 0 3,");
  assert.deepEqual([...s.sent.keys()], [1, 2]);
  assert.equal(s.badLines, 3);
});

Deno.test("parseDriverAddress() reads what formatDriverAddress() writes and refuses anything else", () => {
  const a = { epoch: "e", host: "h", pid: 1, addresses: ["h:1", "10.0.0.1:1"] };
  assert.deepEqual(parseDriverAddress(formatDriverAddress(a)), a);
  for (const bad of ["", "{}", '{"epoch":1,"addresses":[]}', '{"epoch":"e","addresses":[1]}', "nonsense"]) {
    assert.equal(parseDriverAddress(bad), undefined, bad);
  }
});

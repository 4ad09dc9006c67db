import assert from "node:assert/strict";
import { floorDiv, parseSshNodeList, sshSlots, validateSlotOptions } from "../../lib/ssh.ts";

Deno.test("parseSshNodeList() reads HOST:N items from every -s value", () => {
  const cases: { items: string[]; hosts: [string, number][] }[] = [
    { items: [], hosts: [] },
    { items: ["localhost:2"], hosts: [["localhost", 2]] },
    { items: ["a:2,b:3", "c:1"], hosts: [["a", 2], ["b", 3], ["c", 1]] },
    { items: ["a:b:4"], hosts: [["a:b", 4]] },
    { items: ["[::1]:2"], hosts: [["[::1]", 2]] },
    { items: ["", " n1:4 , ,", ","], hosts: [["n1", 4]] },
    { items: ["n1.example.org:16"], hosts: [["n1.example.org", 16]] },
  ];
  for (const { items, hosts } of cases) {
    const list = parseSshNodeList(items);
    assert.deepEqual(list.hosts.map((h) => [h.host, h.cores]), hosts, JSON.stringify(items));
    assert.deepEqual(list.warnings, []);
  }
});

Deno.test("parseSshNodeList() sums repeated hosts and warns naming the host", () => {
  const list = parseSshNodeList(["localhost:2,n1:1", "localhost:1"]);
  assert.deepEqual(list.hosts, [{ host: "localhost", cores: 3 }, { host: "n1", cores: 1 }]);
  assert.equal(list.warnings.length, 1);
  assert.match(list.warnings[0]!, /localhost/);
  assert.match(list.warnings[0]!, /2 \+ 1 = 3/);
});

Deno.test("parseSshNodeList() does not replace localhost", () => {
  assert.equal(parseSshNodeList(["localhost:1"]).hosts[0]!.host, "localhost");
});

Deno.test("parseSshNodeList() throws SyntaxError naming the bad item", () => {
  assert.throws(() => parseSshNodeList(["localhost:x"]), {
    name: "SyntaxError",
    message:
      '-s item "localhost:x": expected HOST:CORECOUNT, e.g. localhost:4 (a core count that is not a whole number)',
  });
  // The message says what is wrong with the item.
  const why: [string, RegExp][] = [
    [":2", /\(no host before the colon\)$/],
    ["localhost", /\(no :CORECOUNT\)$/],
    ["a b:2", /\(a space in the host name\)$/],
    ["a:1.5", /\(a core count that is not a whole number\)$/],
    ["a:0", /a core count of at least 1/],
  ];
  for (const [item, re] of why) assert.throws(() => parseSshNodeList([item]), re, item);
  const bad = [
    "localhost",
    ":4",
    "a:",
    "a:0",
    "a:-1",
    "a:1.5",
    "a:+2",
    "a: 2",
    "a b:2",
    "a:99999999999999999999",
  ];
  for (const item of bad) {
    assert.throws(() => parseSshNodeList([`ok:1,${item}`]), (e: unknown) => {
      assert.ok(e instanceof SyntaxError, item);
      assert.ok(e.message.includes(`"${item.trim()}"`), e.message);
      assert.ok(e.message.includes("HOST:CORECOUNT"), e.message);
      return true;
    });
  }
});

Deno.test("sshSlots() follows disBatch's -c/-t rule", () => {
  const cases: { cores: number; c?: number; t?: number; slots: number; coresPerSlot: number }[] = [
    { cores: 4, slots: 4, coresPerSlot: 1 },
    { cores: 4, c: 2, slots: 2, coresPerSlot: 2 },
    { cores: 3, c: 2, slots: 1, coresPerSlot: 3 },
    { cores: 2, c: 3, slots: 0, coresPerSlot: 2 }, // disBatch: "No viable engines."
    { cores: 2, c: 0.5, slots: 4, coresPerSlot: 0 }, // as in disBatch
    { cores: 2, t: 5, slots: 5, coresPerSlot: 0 }, // -t is not capped, as in disBatch
    { cores: 8, c: 3, t: 2, slots: 2, coresPerSlot: 4 }, // -t wins over -c
    { cores: 1, c: 0.1, slots: 9, coresPerSlot: 0 }, // Python: 1 // 0.1 == 9.0
  ];
  for (const { cores, c, t, slots, coresPerSlot } of cases) {
    assert.deepEqual(
      sshSlots(cores, { cpusPerTask: c, tasksPerNode: t }),
      { slots, coresPerSlot },
      `cores=${cores} c=${c} t=${t}`,
    );
  }
});

Deno.test("sshSlots() throws RangeError for non-positive -c or -t", () => {
  const bad = [
    { cpusPerTask: 0 },
    { cpusPerTask: -1 },
    { cpusPerTask: NaN },
    { cpusPerTask: Infinity },
    {
      tasksPerNode: 0,
    },
    { tasksPerNode: 1.5 },
    { tasksPerNode: -2 },
  ];
  for (const options of bad) {
    assert.throws(() => sshSlots(4, options), RangeError, JSON.stringify(options));
    assert.throws(() => validateSlotOptions(options), RangeError);
  }
});

Deno.test("floorDiv() equals Python's // operator", () => {
  // Values printed by python3: 1//0.1, 3//0.3, 2//0.5, 7//2, -7//2, 7//-2, 0.7//0.1, 0//3
  const cases: [number, number, number][] = [
    [1, 0.1, 9],
    [3, 0.3, 10],
    [2, 0.5, 4],
    [7, 2, 3],
    [-7, 2, -4],
    [7, -2, -4],
    [0.7, 0.1, 6],
    [0, 3, 0],
    [128, 3, 42],
  ];
  for (const [a, b, expected] of cases) assert.equal(floorDiv(a, b), expected, `${a} // ${b}`);
});

import assert from "node:assert/strict";
import {
  splitPhysicalLine,
  type TaskFileItem,
  TaskFileParser,
  TaskFileSyntaxError,
} from "../../lib/task_file.ts";

/** Feed a whole text as the real reader does: split on `\n`, then `splitPhysicalLine`. */
function parse(text: string, name = "Tasks"): TaskFileItem[] {
  const parser = new TaskFileParser(name);
  const physical = text.split("\n");
  // The reader yields no line after a final "\n".
  if (physical.at(-1) === "") physical.pop();
  const out: TaskFileItem[] = [];
  physical.forEach((line, i) => {
    for (const logical of splitPhysicalLine(line)) out.push(...parser.feed(logical, i + 1));
  });
  return out;
}

type Row = [id: number, line: number, repeatIndex: number, command: string];

/** Normal tasks as `[id, line, repeatIndex, command]`. */
function tasks(items: TaskFileItem[]): Row[] {
  return items.flatMap((it) =>
    it.kind === "task" ? [[it.task.id, it.task.line, it.task.repeatIndex, it.task.command] as Row] : []
  );
}

function barriers(items: TaskFileItem[]) {
  return items.flatMap((it) => it.kind === "barrier" ? [it.barrier] : []);
}

function warnings(items: TaskFileItem[]): string[] {
  return items.flatMap((it) => it.kind === "warning" ? [it.message] : []);
}

function perEngine(items: TaskFileItem[]) {
  return items.flatMap((it) => it.kind === "perEngine" ? [it.task] : []);
}

/** Items other than the one-off perEngineDone marker. */
function content(items: TaskFileItem[]): Exclude<TaskFileItem, { kind: "perEngineDone" }>[] {
  return items.filter((it) => it.kind !== "perEngineDone");
}

Deno.test("TaskFileParser.feed() skips comments, blank and whitespace-only lines", () => {
  const cases: { line: string; why: string }[] = [
    { line: "# x", why: "comment" },
    { line: "   # x", why: "indented comment" },
    { line: "\t# x", why: "tab-indented comment" },
    { line: "", why: "blank" },
    { line: "   ", why: "spaces only" },
    { line: "\t", why: "tab only" },
    { line: "#", why: "bare hash" },
    { line: "#disbatch barrier", why: "lower-case directive is a comment" },
    { line: "#Disbatch PREFIX x", why: "mixed-case directive is a comment" },
    { line: "  #DISBATCH BARRIER", why: "indented directive is a comment" },
    { line: "\t#DISBATCH REPEAT 3 echo x", why: "tab-indented directive is a comment" },
  ];
  for (const { line, why } of cases) {
    const parser = new TaskFileParser("Tasks");
    const items = [...parser.feed(line, 1)];
    assert.deepEqual(items.filter((it) => it.kind !== "warning"), [], why);
    assert.equal(parser.nextId, 0, why);
    // A comment does not close the per-engine block.
    assert.deepEqual([...parser.feed("#DISBATCH PERENGINE START true", 2)].map((it) => it.kind), [
      "perEngine",
    ], why);
  }
});

Deno.test("TaskFileParser.feed() warns about directives that are comments because of case or indent", () => {
  for (const line of ["#disbatch barrier", "  #DISBATCH BARRIER", "#disbatch PREFIX x"]) {
    const w = warnings(parse(line));
    assert.equal(w.length, 1, line);
    assert.match(w[0]!, /^Tasks:1: .*comment/, line);
  }
  // An ordinary comment that merely mentions disbatch is quiet.
  assert.deepEqual(parse("# disbatch runs this file\n#disbatchery"), []);
});

Deno.test("TaskFileParser.feed() runs other lines verbatim as tasks", () => {
  const cases: { line: string; command: string }[] = [
    { line: "echo hi", command: "echo hi" },
    { line: "  echo indented", command: "  echo indented" },
    { line: "echo trailing   ", command: "echo trailing   " },
    { line: "echo a\\", command: "echo a\\" }, // no line continuation
    { line: "printf 'a\tb'", command: "printf 'a\tb'" },
    { line: "echo ünïcode 😀", command: "echo ünïcode 😀" },
    { line: "echo caf\udce9", command: "echo caf\udce9" }, // an escaped non-UTF-8 byte
    { line: "#DISBATCH", command: "#DISBATCH" },
    { line: "#DISBATCHX echo x", command: "#DISBATCHX echo x" },
    { line: "#DISBATCH_BARRIER", command: "#DISBATCH_BARRIER" },
    { line: "#DISBATCH\tBARRIER", command: "#DISBATCH\tBARRIER" },
  ];
  for (const { line, command } of cases) {
    assert.deepEqual(tasks(parse(line)), [[0, 1, -1, command]], JSON.stringify(line));
  }
});

Deno.test("TaskFileParser.feed() applies PREFIX and SUFFIX to later tasks only, replacing earlier ones", () => {
  const text = [
    "echo plain", // 1
    "#DISBATCH PREFIX cd /tmp && ", // 2
    "echo a", // 3
    "#DISBATCH SUFFIX  > out.txt 2>&1", // 4
    "echo b", // 5
    "#DISBATCH PREFIX ( ", // 6
    "#DISBATCH SUFFIX  )", // 7
    "echo c", // 8
    "#DISBATCH prefix [", // 9  keyword case does not matter
    "#DISBATCH Suffix ]", // 10
    "x", // 11
  ].join("\n");
  assert.deepEqual(tasks(parse(text)), [
    [0, 1, -1, "echo plain"],
    [1, 3, -1, "cd /tmp && echo a"],
    [2, 5, -1, "cd /tmp && echo b > out.txt 2>&1"],
    [3, 8, -1, "( echo c )"],
    [4, 11, -1, "[x]"],
  ]);
});

Deno.test("TaskFileParser.feed() keeps trailing spaces of PREFIX and SUFFIX", () => {
  const items = parse("#DISBATCH PREFIX a  \n#DISBATCH SUFFIX  b  \nX\n");
  assert.deepEqual(tasks(items), [[0, 3, -1, "a  X b  "]]);
});

Deno.test("TaskFileParser.feed() does not clear the prefix with a bare #DISBATCH PREFIX and warns", () => {
  for (const kw of ["PREFIX", "SUFFIX"]) {
    const set = `#DISBATCH ${kw} [${kw}]`;
    const items = parse([set, `#DISBATCH ${kw}`, "echo x"].join("\n"));
    const expected = kw === "PREFIX" ? "[PREFIX]echo x" : "echo x[SUFFIX]";
    assert.deepEqual(tasks(items), [[0, 3, -1, expected]], kw);
    const w = warnings(items);
    assert.equal(w.length, 1, kw);
    assert.match(w[0]!, /^Tasks:2: /, kw);
    assert.ok(w[0]!.includes(`"#DISBATCH ${kw} "`), w[0]);
  }
});

Deno.test("TaskFileParser.feed() clears the prefix and suffix with a trailing space", () => {
  const items = parse("#DISBATCH PREFIX p \n#DISBATCH SUFFIX  s\na\n#DISBATCH PREFIX \n#DISBATCH SUFFIX \nb");
  assert.deepEqual(tasks(items), [[0, 3, -1, "p a s"], [1, 6, -1, "b"]]);
  assert.deepEqual(warnings(items), []);
});

Deno.test("TaskFileParser.feed() expands REPEAT with start, step and command", () => {
  const cases: { line: string; indices: number[]; command: string }[] = [
    { line: "#DISBATCH REPEAT 3 echo hi", indices: [0, 1, 2], command: "echo hi" },
    { line: "#DISBATCH REPEAT 3 start 5 echo hi", indices: [5, 6, 7], command: "echo hi" },
    { line: "#DISBATCH REPEAT 3 step 10 echo hi", indices: [0, 10, 20], command: "echo hi" },
    { line: "#DISBATCH REPEAT 3 start 1 step 2 echo hi", indices: [1, 3, 5], command: "echo hi" },
    { line: "#DISBATCH REPEAT 3 start 4 step 0 echo hi", indices: [4, 4, 4], command: "echo hi" },
    { line: "#DISBATCH repeat 2 START 1 Step 2 echo hi", indices: [1, 3], command: "echo hi" },
    { line: "#DISBATCH REPEAT 2 step 3 start 1 echo order", indices: [0, 3], command: "start 1 echo order" },
    { line: "#DISBATCH REPEAT 2 start -5 echo neg", indices: [0, 1], command: "start -5 echo neg" },
    { line: "#DISBATCH REPEAT 2  echo two", indices: [0, 1], command: " echo two" },
    { line: "#DISBATCH REPEAT 2 echo trailing  ", indices: [0, 1], command: "echo trailing  " },
    { line: "#DISBATCH REPEAT 2", indices: [0, 1], command: "" },
    { line: "#DISBATCH REPEAT 2 ", indices: [0, 1], command: "" },
    { line: "#DISBATCH REPEAT\t2\tstart\t7", indices: [7, 8], command: "" },
    { line: "#DISBATCH REPEAT 1 start 9", indices: [9], command: "" },
  ];
  for (const { line, indices, command } of cases) {
    const items = parse(`#DISBATCH PREFIX <\n#DISBATCH SUFFIX >\n${line}`);
    assert.deepEqual(
      tasks(items),
      indices.map((r, i) => [i, 3, r, `<${command}>`] as Row),
      line,
    );
    // An option out of place stays part of the command, as in disBatch, with a warning.
    assert.equal(warnings(items).length, /^(start|step) /.test(command) ? 1 : 0, line);
  }
});

Deno.test("TaskFileParser.feed() emits nothing for REPEAT 0 but closes the per-engine block", () => {
  const parser = new TaskFileParser("Tasks");
  assert.deepEqual([...parser.feed("#DISBATCH REPEAT 0 echo x", 1)], [{ kind: "perEngineDone" }]);
  assert.equal(parser.nextId, 0);
  assert.deepEqual(tasks([...parser.feed("echo y", 2)]), [[0, 2, -1, "echo y"]]);
});

Deno.test("TaskFileParser.feed() ignores malformed REPEAT lines with a warning", () => {
  const cases = [
    "#DISBATCH REPEAT 2\techo tab", // a tab before the command
    "#DISBATCH REPEAT",
    "#DISBATCH REPEAT x echo",
    "#DISBATCH REPEAT -2 echo",
    "#DISBATCH REPEAT 2.5 echo",
  ];
  for (const line of cases) {
    const parser = new TaskFileParser("Tasks");
    const items = [...parser.feed(line, 4)];
    assert.deepEqual(tasks(items), [], line);
    const w = warnings(items);
    assert.equal(w.length, 1, line);
    assert.match(w[0]!, /^Tasks:4: unknown directive/, line);
    assert.equal(parser.nextId, 0, line);
  }
});

Deno.test("TaskFileParser.feed() warns when a REPEAT's command begins with an option out of place", () => {
  const cases: [string, string[], boolean][] = [
    ["#DISBATCH REPEAT 2 step 3 start 1 echo a", ["start 1 echo a", "start 1 echo a"], true],
    ["#DISBATCH REPEAT 1 start -5 echo a", ["start -5 echo a"], true],
    ["#DISBATCH REPEAT 1 start 1 step 2 step 3 x", ["step 3 x"], true],
    ["#DISBATCH REPEAT 2 start 1 step 2 echo a", ["echo a", "echo a"], false],
    ["#DISBATCH REPEAT 1 started", ["started"], false],
  ];
  for (const [line, commands, warned] of cases) {
    const items = [...new TaskFileParser("Tasks").feed(line, 4)];
    assert.deepEqual(tasks(items).map((t) => t[3]), commands, line);
    const w = warnings(items);
    assert.equal(w.length, warned ? 1 : 0, line);
    if (warned) {
      assert.match(w[0]!, /^Tasks:4: the command of this REPEAT begins with "(start|step)": options go as/);
    }
  }
});

Deno.test("TaskFileParser.feed() yields REPEAT expansions lazily", () => {
  const parser = new TaskFileParser("Tasks");
  const it = parser.feed("#DISBATCH REPEAT 1000000000 start 1 step 2 echo big", 1);
  assert.deepEqual(it.next().value, { kind: "perEngineDone" });
  const first = [it.next().value, it.next().value, it.next().value] as TaskFileItem[];
  assert.deepEqual(tasks(first), [[0, 1, 1, "echo big"], [1, 1, 3, "echo big"], [2, 1, 5, "echo big"]]);
  assert.equal(parser.nextId, 3);
});

Deno.test("TaskFileParser.feed() reads BARRIER, BARRIER CHECK and keys exactly as disBatch", () => {
  const cases: { line: string; check: boolean; key?: string; warns: boolean }[] = [
    { line: "#DISBATCH BARRIER", check: false, warns: false },
    { line: "#DISBATCH BARRIER ", check: false, warns: false },
    { line: "#DISBATCH BARRIER CHECK", check: true, warns: false },
    { line: "#DISBATCH BARRIER CHECK key1", check: true, key: "key1", warns: false },
    { line: "#DISBATCH BARRIER mykey", check: false, key: "mykey", warns: false },
    { line: "#DISBATCH BARRIER my key ", check: false, key: "my key ", warns: false },
    { line: "#DISBATCH BARRIERX", check: false, warns: true },
    { line: "#DISBATCH BARRIER CHECKX", check: true, warns: true },
  ];
  for (const { line, check, key, warns } of cases) {
    const items = parse(`echo a\n${line}\necho b`);
    const b = barriers(items);
    assert.equal(b.length, 1, line);
    const expected = key === undefined
      ? { id: 1, line: 2, check, text: line }
      : { id: 1, line: 2, check, key, text: line };
    assert.deepEqual(b[0], expected, line);
    assert.deepEqual(tasks(items), [[0, 1, -1, "echo a"], [2, 3, -1, "echo b"]], line);
    assert.equal(warnings(items).length, warns ? 1 : 0, line);
    if (warns) assert.match(warnings(items)[0]!, /^Tasks:2: /);
  }
});

Deno.test("TaskFileParser.feed() treats BARRIER as case-sensitive", () => {
  for (const line of ["#DISBATCH barrier", "#DISBATCH Barrier CHECK", "#DISBATCH BARRIER-check"]) {
    const items = parse(line);
    if (line === "#DISBATCH BARRIER-check") {
      // Not anchored at the end: still a plain barrier (with a warning).
      assert.equal(barriers(items).length, 1, line);
      continue;
    }
    assert.deepEqual(barriers(items), [], line);
    assert.deepEqual(tasks(items), [], line);
    assert.equal(warnings(items).length, 1, line);
    assert.match(warnings(items)[0]!, /unknown directive/, line);
  }
});

Deno.test("TaskFileParser.feed() gives barriers an id but not to unknown directives", () => {
  const text = [
    "echo 0", // 1 id 0
    "#DISBATCH FOO bar", // 2 unknown
    "#DISBATCH  PREFIX x", // 3 unknown (two spaces)
    "#DISBATCH BARRIER", // 4 id 1
    "#DISBATCH PERENGINEX", // 5 unknown
    "echo 2", // 6 id 2
  ].join("\n");
  const items = parse(text);
  assert.deepEqual(tasks(items), [[0, 1, -1, "echo 0"], [2, 6, -1, "echo 2"]]);
  assert.deepEqual(barriers(items).map((b) => b.id), [1]);
  const w = warnings(items);
  assert.deepEqual(w.map((m) => m.split(":")[1]), ["2", "3", "5"]);
  for (const m of w) assert.match(m, /unknown directive/);
  // The two-space PREFIX did not set a prefix.
  assert.equal(tasks(items)[1]![3], "echo 2");
});

Deno.test("TaskFileParser.feed() reads PERENGINE START/STOP with their own counters and the prefix", () => {
  const text = [
    "# setup", // 1
    "#DISBATCH PREFIX [", // 2
    "#DISBATCH SUFFIX ]", // 3
    "#DISBATCH PERENGINE START echo s0", // 4
    "#DISBATCH PERENGINE STOP echo t0", // 5
    "#DISBATCH perengine start echo s1", // 6
    "", // 7
    "#DISBATCH PERENGINE STOP echo t1", // 8
    "echo task", // 9
  ].join("\n");
  const items = parse(text);
  assert.deepEqual(perEngine(items), [
    { id: 0, line: 4, repeatIndex: -1, command: "[echo s0]", phase: "start" },
    { id: 0, line: 5, repeatIndex: -1, command: "[echo t0]", phase: "stop" },
    { id: 1, line: 6, repeatIndex: -1, command: "[echo s1]", phase: "start" },
    { id: 1, line: 8, repeatIndex: -1, command: "[echo t1]", phase: "stop" },
  ]);
  // PERENGINE lines take no task id; the block closes exactly once, before the first task.
  assert.deepEqual(items.map((it) => it.kind), [
    "perEngine",
    "perEngine",
    "perEngine",
    "perEngine",
    "perEngineDone",
    "task",
  ]);
  assert.deepEqual(tasks(items), [[0, 9, -1, "[echo task]"]]);
});

Deno.test("TaskFileParser.feed() closes the per-engine block once, at the first other line", () => {
  const cases: { text: string; closedAt: number }[] = [
    { text: "echo a\necho b", closedAt: 0 },
    { text: "#DISBATCH BARRIER\necho b", closedAt: 0 },
    { text: "#DISBATCH FOO\necho b", closedAt: 0 },
    { text: "#DISBATCH PREFIX x\n# c\n\necho b", closedAt: 0 },
    { text: "#DISBATCH PERENGINE START a\n#DISBATCH REPEAT 2 b", closedAt: 1 },
  ];
  for (const { text, closedAt } of cases) {
    const kinds = parse(text).filter((it) => it.kind !== "warning").map((it) => it.kind);
    assert.equal(kinds.filter((k) => k === "perEngineDone").length, 1, text);
    assert.equal(kinds.indexOf("perEngineDone"), closedAt, text);
  }
});

Deno.test("TaskFileParser.feed() rejects PERENGINE after a task with file:line", () => {
  // The line that closed the PERENGINE block is named.
  const cases: { text: string; line: number; by: string }[] = [
    { text: "echo a\n#DISBATCH PERENGINE START echo late", line: 2, by: 'line 1 is one: "echo a"' },
    {
      text: "#DISBATCH BARRIER\n\n#DISBATCH PERENGINE STOP echo late",
      line: 3,
      by: 'line 1 is one: "#DISBATCH BARRIER"',
    },
    {
      text: "#DISBATCH REPEAT 0\n#DISBATCH PERENGINE START x",
      line: 2,
      by: 'line 1 is one: "#DISBATCH REPEAT 0"',
    },
    { text: "#DISBATCH FOO\n#DISBATCH PERENGINE START x", line: 2, by: 'line 1 is one: "#DISBATCH FOO"' },
    {
      text: "#DISBATCH PERENGINE START ok\necho a\n#DISBATCH perengine stop x",
      line: 3,
      by: 'line 2 is one: "echo a"',
    },
  ];
  for (const { text, line, by } of cases) {
    assert.throws(() => parse(text, "dir/MyTasks"), (e: unknown) => {
      assert.ok(e instanceof TaskFileSyntaxError, text);
      assert.ok(e instanceof SyntaxError);
      assert.equal(e.name, "TaskFileSyntaxError");
      assert.equal(e.file, "dir/MyTasks");
      assert.equal(e.line, line);
      assert.ok(e.message.startsWith(`dir/MyTasks:${line}: `), e.message);
      assert.match(e.message, /PERENGINE must come before the first task, barrier or other directive/);
      assert.ok(e.message.includes(`(${by}); move it above that line`), e.message);
      return true;
    }, text);
  }
});

Deno.test("TaskFileParser.feed() reads a malformed PERENGINE as an unknown directive", () => {
  for (const line of ["#DISBATCH PERENGINE START", "#DISBATCH PERENGINE BEGIN echo", "#DISBATCH PERENGINE"]) {
    const items = parse(line);
    assert.deepEqual(perEngine(items), [], line);
    assert.deepEqual(tasks(items), [], line);
    assert.equal(warnings(items).length, 1, line);
    assert.match(warnings(items)[0]!, /PERENGINE START command/, line);
  }
});

Deno.test("TaskFileParser.feed() names the file in every warning", () => {
  const items = parse("#DISBATCH FOO", "sub/Tasks.txt");
  assert.match(warnings(items)[0]!, /^sub\/Tasks\.txt:1: unknown directive "#DISBATCH FOO"/);
  assert.deepEqual(content(items).map((it) => it.kind === "warning" ? it.line : -1), [1]);
});

Deno.test("splitPhysicalLine() splits on \\r and \\r\\n like bytes.splitlines()", () => {
  const cases: { physical: string; logical: string[] }[] = [
    { physical: "", logical: [""] },
    { physical: "echo a", logical: ["echo a"] },
    { physical: "echo a\r", logical: ["echo a"] },
    { physical: "echo a\rb", logical: ["echo a", "b"] },
    { physical: "a\rb\r", logical: ["a", "b"] },
    { physical: "a\r\r", logical: ["a", ""] },
    { physical: "\r", logical: [""] },
    { physical: "\ra", logical: ["", "a"] },
    { physical: "a\x0bb\x0cc", logical: ["a\x0bb\x0cc"] }, // bytes.splitlines() keeps VT and FF
  ];
  for (const { physical, logical } of cases) {
    assert.deepEqual(splitPhysicalLine(physical), logical, JSON.stringify(physical));
  }
});

Deno.test("TaskFileParser.feed() reads CRLF files and gives bare-\\r pieces the same line number", () => {
  assert.deepEqual(tasks(parse("echo a\r\necho b\r\n")), [[0, 1, -1, "echo a"], [1, 2, -1, "echo b"]]);
  assert.deepEqual(tasks(parse("#DISBATCH PREFIX p \r\necho a\r\n")), [[0, 2, -1, "p echo a"]]);
  assert.deepEqual(tasks(parse("echo 0\necho a\rb\necho c")), [
    [0, 1, -1, "echo 0"],
    [1, 2, -1, "echo a"],
    [2, 2, -1, "b"],
    [3, 3, -1, "echo c"],
  ]);
  // A CRLF barrier line is a barrier without a stray \r in its text.
  assert.deepEqual(barriers(parse("#DISBATCH BARRIER CHECK\r\n")), [
    { id: 0, line: 1, check: true, text: "#DISBATCH BARRIER CHECK" },
  ]);
});

Deno.test("TaskFileParser.feed() treats a last line without newline as a task", () => {
  assert.deepEqual(tasks(parse("echo a\necho b")), [[0, 1, -1, "echo a"], [1, 2, -1, "echo b"]]);
});

Deno.test("TaskFileParser.feed() numbers ids and lines over a realistic file", () => {
  const text = [
    "# Tasks: an example", // 1
    "", // 2
    "#DISBATCH PREFIX cd work && ", // 3
    "#DISBATCH PERENGINE START echo start > pe_$DISBATCH_ENGINE_RANK", // 4
    "#DISBATCH PERENGINE STOP echo stop", // 5
    "#DISBATCH SUFFIX  > out_${DISBATCH_TASKID_ZP}.txt 2>&1", // 6
    "", // 7
    "   # indented comment", // 8
    "echo hello", // 9
    "echo world", // 10
    "#DISBATCH REPEAT 3 start 10 step 5 echo rep", // 11
    "#DISBATCH BARRIER", // 12
    "#DISBATCH PREFIX ", // 13
    "#DISBATCH SUFFIX ", // 14
    "exit 5", // 15
    "#DISBATCH FOO", // 16
    "#DISBATCH BARRIER CHECK key", // 17
    "echo after", // 18
    "#disbatch barrier", // 19
    "echo last", // 20
  ].join("\n") + "\n";
  const items = parse(text);
  const sfx = " > out_${DISBATCH_TASKID_ZP}.txt 2>&1";
  assert.deepEqual(tasks(items), [
    [0, 9, -1, `cd work && echo hello${sfx}`],
    [1, 10, -1, `cd work && echo world${sfx}`],
    [2, 11, 10, `cd work && echo rep${sfx}`],
    [3, 11, 15, `cd work && echo rep${sfx}`],
    [4, 11, 20, `cd work && echo rep${sfx}`],
    [6, 15, -1, "exit 5"],
    [8, 18, -1, "echo after"],
    [9, 20, -1, "echo last"],
  ]);
  assert.deepEqual(barriers(items), [
    { id: 5, line: 12, check: false, text: "#DISBATCH BARRIER" },
    { id: 7, line: 17, check: true, key: "key", text: "#DISBATCH BARRIER CHECK key" },
  ]);
  assert.deepEqual(perEngine(items).map((t) => [t.phase, t.id, t.line, t.command]), [
    ["start", 0, 4, "cd work && echo start > pe_$DISBATCH_ENGINE_RANK"],
    ["stop", 0, 5, "cd work && echo stop"],
  ]);
  assert.deepEqual(warnings(items).map((m) => m.split(":")[1]), ["16", "19"]);
  // Items come in file order.
  const lines = content(items).map((it) =>
    it.kind === "task" || it.kind === "perEngine"
      ? it.task.line
      : it.kind === "barrier"
      ? it.barrier.line
      : it.line
  );
  assert.deepEqual(lines, [...lines].sort((a, b) => a - b));
});

Deno.test("TaskFileParser.nextId counts tasks, REPEAT expansions and barriers", () => {
  const parser = new TaskFileParser("Tasks");
  const feed = (line: string, n: number) => [...parser.feed(line, n)];
  feed("#DISBATCH PERENGINE START x", 1);
  assert.equal(parser.nextId, 0);
  feed("a", 2);
  assert.equal(parser.nextId, 1);
  feed("#DISBATCH REPEAT 4 b", 3);
  assert.equal(parser.nextId, 5);
  feed("#DISBATCH BARRIER", 4);
  assert.equal(parser.nextId, 6);
  feed("#DISBATCH PREFIX p", 5);
  feed("# c", 6);
  feed("#DISBATCH NOPE", 7);
  assert.equal(parser.nextId, 6);
});

Deno.test("TaskFileParser.feed() gives the following tasks the time limit of #DISBATCH TIMEOUT", () => {
  const items = parse(
    "a\n#DISBATCH TIMEOUT 10m\nb\n#DISBATCH REPEAT 2 c\n#DISBATCH TIMEOUT 0\nd\n#DISBATCH TIMEOUT 1:00:00\ne\n",
  );
  assert.deepEqual(
    items.flatMap((it) => it.kind === "task" ? [[it.task.command, it.task.timeout]] : []),
    [["a", undefined], ["b", 600], ["c", 600], ["c", 600], ["d", 0], ["e", 3600]],
  );
  // It does not close the PERENGINE block, like PREFIX.
  const pe = parse("#DISBATCH TIMEOUT 5\n#DISBATCH PERENGINE START s\nx\n");
  assert.equal(perEngine(pe).length, 1);
  assert.equal(tasks(pe).length, 1);
});

Deno.test("TaskFileParser.feed() refuses a TIMEOUT that is not a duration, naming the line", () => {
  for (const bad of ["#DISBATCH TIMEOUT soon", "#DISBATCH TIMEOUT", "#DISBATCH TIMEOUT -1"]) {
    assert.throws(
      () => parse(`a\n${bad}\n`),
      (e: unknown) =>
        e instanceof TaskFileSyntaxError && e.line === 2 &&
        /Tasks:2: #DISBATCH TIMEOUT needs a duration/.test(e.message),
      bad,
    );
  }
  assert.match(warnings(parse("#DISBATCH timeout 5\n")).join(), /TIMEOUT must be written in capitals/);
});

Deno.test("TaskFileParser.feed() warns about a byte order mark at the start of the file, and keeps it in the line", () => {
  for (const line of ["\uFEFF#DISBATCH REPEAT 2 echo hi", "\uFEFFecho first"]) {
    const p = new TaskFileParser("T");
    const items = [...p.feed(line, 1)];
    assert.equal(items[0]!.kind, "warning", line);
    assert.match((items[0] as { message: string }).message, /^T:1: the file starts with a byte order mark/);
    const tasks = items.filter((i) => i.kind === "task").map((i) => i.kind === "task" && i.task.command);
    assert.deepEqual(tasks, [line], "run as it is");
  }
  assert.ok(
    ![...new TaskFileParser("T").feed("\uFEFFecho", 2)].some((i) => i.kind === "warning"),
    "line 1 only",
  );
});

import assert from "node:assert/strict";
import { parseArgv, UsageError } from "../../lib/cli.ts";
import * as driverOptions from "../../lib/driver_options.ts";
import {
  type ContextOptions,
  contextOptionsFrom,
  contextSpecs,
  withDriverDefaults,
} from "../../lib/context_options.ts";

/** The context options of a command line, read as `dbUtil.sh` reads them. */
function read(args: string[]): ContextOptions {
  return contextOptionsFrom(parseArgv(args, contextSpecs()).options);
}

const NONE: ContextOptions = { taskLimit: 0, envResource: [], fill: false, noRetire: false, sshNodes: [] };

Deno.test("context_options: lib/driver_options.ts re-exports the context options", () => {
  assert.equal(driverOptions.contextOptionsFrom, contextOptionsFrom);
  assert.equal(driverOptions.contextSpecs, contextSpecs);
});

Deno.test("contextSpecs() names every option of a context once, and the driver takes them all", () => {
  const specs = contextSpecs();
  const longs = specs.map((s) => s.long);
  assert.deepEqual(longs, [
    "context-task-limit",
    "cpusPerTask",
    "env-resource",
    "fill",
    "gpu",
    "no-retire",
    "label",
    "retire-cmd",
    "ssh-node",
    "tasksPerNode",
  ]);
  assert.equal(new Set(specs.map((s) => s.short).filter(Boolean)).size, specs.filter((s) => s.short).length);
  for (const s of specs) {
    assert.ok(driverOptions.DRIVER_SPECS.some((d) => d.long === s.long && d.short === s.short), s.long);
  }
  assert.notEqual(contextSpecs(), specs, "a fresh list each time");
});

Deno.test("contextOptionsFrom() reads each option into ContextOptions", () => {
  const cases: [string[], ContextOptions][] = [
    [[], NONE],
    [["-C", "5"], { ...NONE, taskLimit: 5 }],
    [["--context-task-limit", "-3"], NONE],
    [["-c", "2"], { ...NONE, cpusPerTask: 2 }],
    [["--cpusPerTask", "0.5"], { ...NONE, cpusPerTask: 0.5 }],
    [["-t", "4"], { ...NONE, tasksPerNode: 4 }],
    [["-t", "0"], NONE],
    [["--tasksPerNode", "-1"], NONE],
    [["-E", "CUDA_VISIBLE_DEVICES", "-E", "X"], { ...NONE, envResource: ["CUDA_VISIBLE_DEVICES", "X"] }],
    [["--fill", "--no-retire"], { ...NONE, fill: true, noRetire: true }],
    [["-l", "gpus"], { ...NONE, label: "gpus" }],
    [["--label", ""], { ...NONE, label: "" }],
    [["--retire-cmd", "echo {node}"], { ...NONE, retireCmd: "echo {node}" }],
    [["-s", "a:2,b:3", "-s", "c:1"], { ...NONE, sshNodes: ["a:2,b:3", "c:1"] }],
    [["-g"], NONE],
  ];
  for (const [args, want] of cases) assert.deepEqual(read(args), want, args.join(" "));
});

Deno.test("contextOptionsFrom() refuses bad numbers with the option's name", () => {
  const cases: [string[], RegExp][] = [
    [["-C", "x"], /argument -C\/--context-task-limit: invalid int value: 'x'/],
    [["-c", "0"], /argument -c\/--cpusPerTask: invalid float value: '0' \(must be a positive number\)/],
    [["-c", "two"], /argument -c\/--cpusPerTask: invalid float value: 'two'/],
    [["-t", "1.5"], /argument -t\/--tasksPerNode: invalid int value: '1.5'/],
  ];
  for (const [args, want] of cases) {
    assert.throws(
      () => read(args),
      (e: unknown) => e instanceof UsageError && want.test(e.message),
      args.join(" "),
    );
  }
});

Deno.test("withDriverDefaults() fills each of -c, -t and -E the context does not give from the driver's", () => {
  const cases: {
    own: string[];
    driver: { cpusPerTask?: number; tasksPerNode?: number; envResource?: string[] } | undefined;
    want: Partial<ContextOptions>;
  }[] = [
    { own: [], driver: undefined, want: {} },
    { own: [], driver: {}, want: {} },
    { own: [], driver: { cpusPerTask: 2 }, want: { cpusPerTask: 2 } },
    { own: ["-c", "1"], driver: { cpusPerTask: 2 }, want: { cpusPerTask: 1 } },
    { own: ["-t", "3"], driver: { cpusPerTask: 2 }, want: { cpusPerTask: 2, tasksPerNode: 3 } },
    { own: ["-c", "4"], driver: { tasksPerNode: 5 }, want: { cpusPerTask: 4, tasksPerNode: 5 } },
    { own: [], driver: { envResource: ["A", "B"] }, want: { envResource: ["A", "B"] } },
    { own: ["-E", "C"], driver: { envResource: ["A"] }, want: { envResource: ["C"] } },
    {
      own: ["-s", "h:2", "-C", "3"],
      driver: { tasksPerNode: 1 },
      want: { sshNodes: ["h:2"], taskLimit: 3, tasksPerNode: 1 },
    },
  ];
  for (const c of cases) {
    const own = read(c.own);
    const before = structuredClone(own);
    assert.deepEqual(withDriverDefaults(own, c.driver), { ...NONE, ...c.want }, JSON.stringify(c));
    assert.deepEqual(own, before, "the context's own options are not changed");
  }
});

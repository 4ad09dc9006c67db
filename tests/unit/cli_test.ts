import assert from "node:assert/strict";
import { floatOption, intOption, type OptionSpec, parseArgv, UsageError } from "../../lib/cli.ts";
import {
  allocNodeCount,
  DRIVER_SPECS,
  type DriverInvocation,
  parseDriverArgs,
  schedulerOptions,
  USAGE,
} from "../../lib/driver_options.ts";
import { HELP } from "../../lib/help.ts";

/** Parse with no environment and expect an invocation. */
function inv(args: string[], env: Record<string, string> = {}): DriverInvocation {
  const r = parseDriverArgs(args, env);
  assert.ok(typeof r === "object", `expected an invocation for ${args.join(" ")}, got ${r}`);
  return r;
}

/** Expect a UsageError (exit 2 unless said otherwise) whose message matches. */
function usageError(args: string[], message: RegExp, env: Record<string, string> = {}, exitCode = 2): void {
  assert.throws(() => parseDriverArgs(args, env), (e: unknown) => {
    assert.ok(e instanceof UsageError, `${args.join(" ")}: ${e}`);
    assert.equal(e.name, "UsageError");
    assert.match(e.message, message, args.join(" "));
    assert.equal(e.exitCode, exitCode, args.join(" "));
    return true;
  });
}

Deno.test("parseDriverArgs() gives the defaults for a bare task file", () => {
  assert.deepEqual(inv(["Tasks"]), {
    taskFile: "Tasks",
    exitCode: false,
    failFast: false,
    forceResume: false,
    logLevel: "INFO",
    prefix: ".",
    resumeFrom: [],
    retry: false,
    startupOnly: false,
    statusHeader: false,
    web: false,
    quiet: false,
    engineRestarts: 5,
    retries: 0,
    crashLimit: 3,
    timeout: 0,
    killGrace: 10,
    driverGrace: 300,
    maxAllocs: 1,
    allocBacklog: 1,
    badNodeAfter: 3,
    gpu: false,
    context: { taskLimit: 0, envResource: [], fill: false, noRetire: false, sshNodes: [] },
  });
});

Deno.test("parseDriverArgs() reads --engine-restarts as a count of 0 or more", () => {
  assert.equal(inv(["--engine-restarts", "0", "Tasks"]).engineRestarts, 0);
  assert.equal(inv(["Tasks", "--engine-restarts=12"]).engineRestarts, 12);
  for (const bad of ["-1", "x", "1.5"]) {
    assert.throws(
      () => inv(["--engine-restarts", bad, "Tasks"]),
      /argument --engine-restarts: invalid int value/,
    );
  }
});

Deno.test("parseDriverArgs() accepts options before and after the task file", () => {
  const cases: string[][] = [
    ["Tasks", "-r", "old_status.txt"],
    ["-r", "old_status.txt", "Tasks"],
    ["-r", "old_status.txt", "--", "Tasks"],
    ["--resume-from", "old_status.txt", "Tasks"],
    ["Tasks", "--resume-from=old_status.txt"],
    ["Tasks", "-rold_status.txt"],
    ["Tasks", "-r=old_status.txt"],
    ["Tasks", "--resume=old_status.txt"],
  ];
  for (const args of cases) {
    const r = inv(args);
    assert.equal(r.taskFile, "Tasks", args.join(" "));
    assert.deepEqual(r.resumeFrom, ["old_status.txt"], args.join(" "));
  }
});

Deno.test("parseDriverArgs() reads every option in its long and short forms", () => {
  const cases: { args: string[]; check: (r: DriverInvocation) => unknown; want: unknown }[] = [
    { args: ["-e"], check: (r) => r.exitCode, want: true },
    { args: ["--exit-code"], check: (r) => r.exitCode, want: true },
    { args: ["-f"], check: (r) => r.failFast, want: true },
    { args: ["--fail-fast"], check: (r) => r.failFast, want: true },
    { args: ["-p", "out/run1"], check: (r) => r.prefix, want: "out/run1" },
    { args: ["--prefix=out/run1"], check: (r) => r.prefix, want: "out/run1" },
    { args: ["-S"], check: (r) => r.startupOnly, want: true },
    { args: ["--status-header"], check: (r) => r.statusHeader, want: true },
    { args: ["-w"], check: (r) => r.web, want: true },
    { args: ["-q"], check: (r) => r.quiet, want: true },
    { args: ["--logfile", "d.log"], check: (r) => r.logFile, want: "d.log" },
    { args: ["--loglevel", "DEBUG"], check: (r) => r.logLevel, want: "DEBUG" },
    // As the reference: -t 0 / -t -1 mean "not given", a negative -C means no limit.
    { args: ["-t", "0"], check: (r) => r.context.tasksPerNode, want: undefined },
    { args: ["-t", "-1"], check: (r) => r.context.tasksPerNode, want: undefined },
    { args: ["-C", "-1"], check: (r) => r.context.taskLimit, want: 0 },
    { args: ["--loglevel=WARNING"], check: (r) => r.logLevel, want: "WARNING" },
    { args: ["--use-address", "localhost:0"], check: (r) => r.useAddress, want: "localhost:0" },
    {
      args: ["--mailTo", "me@example.org"],
      check: (r) => [r.mailTo, r.mailFreq],
      want: ["me@example.org", 1],
    },
    { args: ["--mailTo", "me@x", "--mailFreq", "10"], check: (r) => r.mailFreq, want: 10 },
    { args: ["-C", "3"], check: (r) => r.context.taskLimit, want: 3 },
    { args: ["--context-task-limit=0"], check: (r) => r.context.taskLimit, want: 0 },
    { args: ["-c", "0.5"], check: (r) => r.context.cpusPerTask, want: 0.5 },
    { args: ["--cpusPerTask", "2"], check: (r) => r.context.cpusPerTask, want: 2 },
    { args: ["-t", "5"], check: (r) => r.context.tasksPerNode, want: 5 },
    {
      args: ["-E", "CUDA_VISIBLE_DEVICES"],
      check: (r) => r.context.envResource,
      want: ["CUDA_VISIBLE_DEVICES"],
    },
    { args: ["--fill"], check: (r) => r.context.fill, want: true },
    { args: ["--no-retire"], check: (r) => r.context.noRetire, want: true },
    { args: ["-l", "mylabel"], check: (r) => r.context.label, want: "mylabel" },
    { args: ["--retire-cmd", "echo $NODES"], check: (r) => r.context.retireCmd, want: "echo $NODES" },
    { args: ["-s", "localhost:2"], check: (r) => r.context.sshNodes, want: ["localhost:2"] },
    { args: ["-g"], check: (r) => r.gpu, want: true }, // deprecated: accepted with a message
    { args: ["--gpu"], check: (r) => r.context.sshNodes, want: [] },
  ];
  for (const { args, check, want } of cases) {
    assert.deepEqual(check(inv([...args, "Tasks"])), want, args.join(" "));
    assert.deepEqual(check(inv(["Tasks", ...args])), want, `Tasks ${args.join(" ")}`);
  }
});

Deno.test("parseDriverArgs() accepts unique prefixes of long options and rejects ambiguous ones", () => {
  const unique: { arg: string; check: (r: DriverInvocation) => unknown }[] = [
    { arg: "--fail", check: (r) => r.failFast },
    { arg: "--exit", check: (r) => r.exitCode },
    { arg: "--status", check: (r) => r.statusHeader },
    { arg: "--startup", check: (r) => r.startupOnly },
    { arg: "--qu", check: (r) => r.quiet },
    { arg: "--no", check: (r) => r.context.noRetire },
    { arg: "--fil", check: (r) => r.context.fill },
  ];
  for (const { arg, check } of unique) assert.equal(check(inv([arg, "Tasks"])), true, arg);
  assert.equal(inv(["--pre", "x", "Tasks"]).prefix, "x");
  assert.equal(inv(["--ssh", "n1:4", "Tasks"]).context.sshNodes[0], "n1:4");
  const ambiguous: { arg: string; names: string[] }[] = [
    { arg: "--f", names: ["--fail-fast", "--force-resume", "--fill"] },
    { arg: "--re", names: ["--resume-from", "--retry", "--retire-cmd"] },
    { arg: "--log", names: ["--logfile", "--loglevel"] },
    { arg: "--mail", names: ["--mailFreq", "--mailTo"] },
    { arg: "--task", names: ["--taskcommand", "--taskserver", "--tasksPerNode"] },
  ];
  for (const { arg, names } of ambiguous) {
    assert.throws(() => parseDriverArgs([arg, "x", "Tasks"], {}), (e: unknown) => {
      assert.ok(e instanceof UsageError, arg);
      assert.match(e.message, /^ambiguous option: /, arg);
      for (const n of names) assert.ok(e.message.includes(n), `${n} in ${e.message}`);
      return true;
    });
  }
});

Deno.test("parseDriverArgs() reads clustered short flags and attached values", () => {
  const a = inv(["-eR", "-r", "old", "Tasks"]);
  assert.deepEqual([a.exitCode, a.retry, a.resumeFrom], [true, true, ["old"]]);
  const b = inv(["-efRrold", "Tasks"]);
  assert.deepEqual([b.exitCode, b.failFast, b.retry, b.resumeFrom], [true, true, true, ["old"]]);
  const c = inv(["-slocalhost:2", "-C3", "-c0.5", "-t4", "-lmine", "Tasks"]);
  assert.deepEqual(c.context, {
    taskLimit: 3,
    cpusPerTask: 0.5,
    tasksPerNode: 4,
    label: "mine",
    envResource: [],
    fill: false,
    noRetire: false,
    sshNodes: ["localhost:2"],
  });
  assert.deepEqual(inv(["-s=localhost:2", "Tasks"]).context.sshNodes, ["localhost:2"]);
  assert.deepEqual(inv(["-es", "localhost:2", "Tasks"]).context.sshNodes, ["localhost:2"]);
});

Deno.test("parseDriverArgs() collects repeated -s, -r and -E in order", () => {
  const r = inv(["-s", "a:2,b:3", "Tasks", "-s", "c:1", "-r", "run1", "-r", "run2", "-E", "A", "-EB"]);
  assert.deepEqual(r.context.sshNodes, ["a:2,b:3", "c:1"]);
  assert.deepEqual(r.resumeFrom, ["run1", "run2"]);
  assert.deepEqual(r.context.envResource, ["A", "B"]);
  // A value option given twice: the last one wins.
  assert.equal(inv(["-p", "a", "-p", "b", "Tasks"]).prefix, "b");
});

Deno.test("parseDriverArgs() reads - as stdin and -- before a name that looks like an option", () => {
  assert.equal(inv(["-"]).taskFile, "-");
  assert.equal(inv(["-s", "localhost:2", "-"]).taskFile, "-");
  assert.equal(inv(["-e", "-", "-f"]).taskFile, "-");
  assert.equal(inv(["--", "-weird"]).taskFile, "-weird");
  assert.equal(inv(["-e", "--", "--fail-fast"]).failFast, false);
});

Deno.test("parseDriverArgs() reports a missing option value", () => {
  const cases: { args: string[]; name: string }[] = [
    { args: ["Tasks", "-r"], name: "-r/--resume-from" },
    { args: ["-p", "-e", "Tasks"], name: "-p/--prefix" },
    { args: ["Tasks", "--logfile"], name: "--logfile" },
    { args: ["Tasks", "--prefix", "--fail-fast"], name: "-p/--prefix" },
    { args: ["-es"], name: "-s/--ssh-node" },
  ];
  for (const { args, name } of cases) {
    usageError(args, new RegExp(`^argument ${name.replace("/", "\\/")}: expected one argument$`));
  }
});

Deno.test("parseDriverArgs() rejects unknown options, suggesting a near name", () => {
  const cases: { args: string[]; message: string }[] = [
    {
      args: ["--fail-fst", "Tasks"],
      message: "unrecognized arguments: --fail-fst (did you mean --fail-fast?)",
    },
    {
      args: ["--exitcode", "Tasks"],
      message: "unrecognized arguments: --exitcode (did you mean --exit-code?)",
    },
    {
      args: ["--mailto", "x", "Tasks"],
      message: "unrecognized arguments: --mailto (did you mean --mailTo?)",
    },
    { args: ["--bogus-option", "Tasks"], message: "unrecognized arguments: --bogus-option" },
    { args: ["-x", "Tasks"], message: "unrecognized arguments: -x" },
    { args: ["-ex", "Tasks"], message: "unrecognized arguments: -x (in -ex)" },
  ];
  for (const { args, message } of cases) usageError(args, new RegExp(`^${RegExp.escape(message)}$`));
  usageError(["--fail-fast=yes", "Tasks"], /^argument -f\/--fail-fast: ignored explicit argument 'yes'$/);
});

Deno.test("parseDriverArgs() needs exactly one task file unless --version or -h", () => {
  usageError([], /^one of the arguments taskfile --taskcommand --version is required$/);
  usageError(["-e", "-s", "localhost:2"], /is required/);
  usageError(["A", "B"], /^unrecognized arguments: B$/);
  usageError(["A", "B", "C"], /^unrecognized arguments: B C$/);
  assert.equal(parseDriverArgs(["--version"], {}), "version");
  usageError(["--version", "Tasks"], /^argument taskfile: not allowed with argument --version$/);
  for (const args of [["-h"], ["--help"], ["--he"], ["Tasks", "-h"], ["-eh"], ["-h", "--version"]]) {
    assert.equal(parseDriverArgs(args, {}), "help", args.join(" "));
  }
});

Deno.test("parseDriverArgs() takes --taskcommand, --results and --name; refuses the KVS server options", () => {
  const i = inv(["--taskcommand", "python gen.py", "--results", "-", "--name", "gen"]);
  assert.deepEqual([i.taskFile, i.taskCommand, i.results, i.name], ["", "python gen.py", "-", "gen"]);
  assert.equal(inv(["--taskc=./gen"]).taskCommand, "./gen");
  usageError(
    ["--taskcommand", "gen", "Tasks"],
    /^argument taskfile: not allowed with argument --taskcommand/,
  );
  usageError(["--taskcommand", " "], /argument --taskcommand: expected a shell command/);
  usageError([], /one of the arguments taskfile --taskcommand --version is required/);
  usageError(["--results", "", "Tasks"], /argument --results: expected a file name or - for stdout/);
  usageError(["--name", "a/b", "-"], /argument --name: expected a name without '\/' or blanks/);
  for (
    const args of [
      ["--taskserver", "host:1234"],
      ["--kvsserver", "host:1234", "Tasks"],
      ["--taskserver"], // disBatch takes them without a value too
      ["-s", "localhost:2", "--kvsserver"],
      ["--taskserver=h:1", "Tasks"],
    ]
  ) {
    usageError(
      args,
      /key-value server is not part of disbatch; feed tasks from a program with --taskcommand/,
    );
  }
});

Deno.test("parseDriverArgs() takes -s from DISBATCH_SSH_NODELIST outside Slurm", () => {
  const env = { DISBATCH_SSH_NODELIST: "localhost:2,n1:4" };
  assert.deepEqual(inv(["Tasks"], env).context.sshNodes, ["localhost:2,n1:4"]);
  assert.deepEqual(inv(["-s", "n2:1", "Tasks"], env).context.sshNodes, ["n2:1"], "-s wins");
  assert.deepEqual(inv(["Tasks"], { ...env, SLURM_JOB_ID: "42" }).context.sshNodes, [], "Slurm wins");
  assert.deepEqual(inv(["Tasks"], { DISBATCH_SSH_NODELIST: "" }).context.sshNodes, []);
  // A bad value names the variable, not a -s the user did not give; ignored when -s is given.
  assert.throws(
    () => inv(["Tasks"], { DISBATCH_SSH_NODELIST: "localhost:x" }),
    /^UsageError: DISBATCH_SSH_NODELIST in the environment \(used as -s, none given\): -s item "localhost:x"/,
  );
  assert.deepEqual(inv(["-s", "n2:1", "Tasks"], { DISBATCH_SSH_NODELIST: "localhost:x" }).context.sshNodes, [
    "n2:1",
  ]);
});

Deno.test("parseDriverArgs() rejects -S with -s, -E or --retire-cmd", () => {
  const cases: { args: string[]; names: string[] }[] = [
    { args: ["-S", "-s", "localhost:2"], names: ["-s/--ssh-node"] },
    { args: ["-S", "-E", "CUDA_VISIBLE_DEVICES"], names: ["-E/--env-resource"] },
    { args: ["-S", "--retire-cmd", "true"], names: ["--retire-cmd"] },
    {
      args: ["-Sslocalhost:1", "-EX", "--retire-cmd=x"],
      names: ["-s/--ssh-node", "-E/--env-resource", "--retire-cmd"],
    },
  ];
  for (const { args, names } of cases) {
    assert.throws(() => parseDriverArgs([...args, "Tasks"], {}), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, /^argument -S\/--startup-only: not allowed with /);
      for (const n of names) assert.ok(e.message.includes(n), `${n} in ${e.message}`);
      return true;
    }, args.join(" "));
  }
  // Accepted: --no-retire, an empty --retire-cmd, and -C/-c/-t (they become the defaults for dbUtil.sh).
  for (const args of [["--no-retire"], ["--retire-cmd", ""], ["-C", "2", "-c", "2", "-t", "1"]]) {
    assert.equal(inv(["-S", ...args, "Tasks"]).startupOnly, true, args.join(" "));
  }
});

Deno.test("parseDriverArgs() with -S ignores DISBATCH_SSH_NODELIST instead of calling it -s", () => {
  // The reference checks only the -s option; with -S no context is started, so the variable is moot.
  const r = inv(["-S", "Tasks"], { DISBATCH_SSH_NODELIST: "localhost:2" });
  assert.equal(r.startupOnly, true);
});

Deno.test("parseDriverArgs() needs --mailTo for --mailFreq", () => {
  usageError(["--mailFreq", "5", "Tasks"], /--mailFreq.*--mailTo/);
  usageError(["--mailTo", "me@x", "--mailFreq", "0", "Tasks"], /--mailFreq: invalid int value: '0'/);
  usageError(["--mailTo", "me@x", "--mailFreq", "often", "Tasks"], /invalid int value: 'often'/);
});

Deno.test("parseDriverArgs() needs -r for -R and --force-resume", () => {
  usageError(["-R", "Tasks"], /^argument -R\/--retry: needs -r STATUSFILE$/);
  usageError(["--force-resume", "Tasks"], /^argument --force-resume: needs -r STATUSFILE$/);
  const r = inv(["-R", "--force-resume", "-r", "s", "Tasks"]);
  assert.deepEqual([r.retry, r.forceResume], [true, true]);
});

Deno.test("parseDriverArgs() validates numbers, log levels and addresses", () => {
  const cases: { args: string[]; message: RegExp }[] = [
    { args: ["-C", "x"], message: /^argument -C\/--context-task-limit: invalid int value: 'x'$/ },
    { args: ["-C", "1.5"], message: /invalid int value: '1.5'/ },
    { args: ["-t", "x"], message: /^argument -t\/--tasksPerNode: invalid int value: 'x'$/ },
    { args: ["-c", "0"], message: /^argument -c\/--cpusPerTask: invalid float value: '0'/ },
    { args: ["-c", "-2"], message: /invalid float value: '-2'/ },
    { args: ["-c", "abc"], message: /invalid float value: 'abc'/ },
    { args: ["--loglevel", "LOUD"], message: /^argument --loglevel: invalid choice: 'LOUD'/ },
    { args: ["--loglevel", "debug"], message: /^argument --loglevel: invalid choice: 'debug'/ }, // case-sensitive
    { args: ["--use-address", "localhost"], message: /^argument --use-address: expected HOST:PORT/ },
    { args: ["--use-address", "host:port"], message: /expected HOST:PORT/ },
  ];
  for (const { args, message } of cases) usageError([...args, "Tasks"], message);
});

Deno.test("intOption() and floatOption() follow argparse's int and float", () => {
  const ints: [string, number, number | undefined][] = [
    ["0", 0, 0],
    ["42", 0, 42],
    ["+3", 1, 3],
    [" 7 ", 0, 7],
    ["-1", 0, undefined],
    ["0", 1, undefined],
    ["1e3", 0, undefined],
    ["", 0, undefined],
    ["0x10", 0, undefined],
  ];
  for (const [text, min, want] of ints) {
    if (want === undefined) assert.throws(() => intOption("-x", text, min), UsageError, JSON.stringify(text));
    else assert.equal(intOption("-x", text, min), want, JSON.stringify(text));
  }
  const floats: [string, number | undefined][] = [
    ["1", 1],
    ["0.5", 0.5],
    ["1e-1", 0.1],
    ["3.", 3],
    ["0", undefined],
    ["-1", undefined],
    ["", undefined],
    ["inf", undefined],
    ["nan", undefined],
  ];
  for (const [text, want] of floats) {
    if (want === undefined) assert.throws(() => floatOption("-c", text), UsageError, JSON.stringify(text));
    else assert.equal(floatOption("-c", text), want, JSON.stringify(text));
  }
});

Deno.test("parseArgv() keeps negative numbers and - as positionals and stops at --", () => {
  const specs: OptionSpec[] = [
    { long: "num", short: "n", type: "value" },
    { long: "verbose", short: "v", type: "flag" },
  ];
  assert.deepEqual(parseArgv(["-n", "-3", "-5", "-", "x"], specs), {
    options: { num: "-3" },
    positionals: ["-5", "-", "x"],
  });
  assert.deepEqual(parseArgv(["-v", "--", "-v", "--num=1"], specs), {
    options: { verbose: true },
    positionals: ["-v", "--num=1"],
  });
  assert.deepEqual(parseArgv(["--num="], specs), { options: { num: "" }, positionals: [] });
  assert.deepEqual(parseArgv(["-n", "-"], specs), { options: { num: "-" }, positionals: [] });
});

Deno.test("HELP documents every visible option and starts with USAGE", () => {
  assert.ok(HELP.startsWith(USAGE + "\n"));
  assert.ok(HELP.endsWith("\n"));
  const hidden = new Set(["kvsserver", "taskserver", "gpu"]);
  for (const spec of DRIVER_SPECS) {
    if (hidden.has(spec.long)) continue;
    assert.ok(HELP.includes(`--${spec.long}`), `--${spec.long} in HELP`);
    if (spec.short) assert.ok(HELP.includes(`-${spec.short}, --${spec.long}`), `-${spec.short} in HELP`);
  }
});

Deno.test("parseDriverArgs() reads the failure policies and says what a bad value is", () => {
  const i = inv([
    "--retries",
    "2",
    "--crash-limit=5",
    "--timeout",
    "1:30:00",
    "--kill-grace",
    "3s",
    "--walltime",
    "2h",
    "--bad-node-after",
    "0",
    "Tasks",
  ]);
  assert.deepEqual(
    [i.retries, i.crashLimit, i.timeout, i.killGrace, i.walltime, i.badNodeAfter],
    [2, 5, 5400, 3, 7200, 0],
  );
  assert.equal(inv(["--end-time", "1796352900", "Tasks"]).endTime, 1796352900);
  const bad: [string[], RegExp][] = [
    [["--retries", "-1"], /argument --retries: invalid int value: '-1'/],
    [["--crash-limit", "0"], /argument --crash-limit: invalid int value: '0' \(must be at least 1\)/],
    [["--timeout", "soon"], /argument --timeout: invalid duration 'soon' \(seconds, or 90s, 10m/],
    [["--kill-grace", "x"], /argument --kill-grace: invalid duration/],
    [["--walltime", "0"], /argument --walltime: must be more than 0/],
    [
      ["--end-time", "tomorrow"],
      /argument --end-time: expected a local time YYYY-MM-DDTHH:MM\[:SS\] or Unix seconds/,
    ],
  ];
  for (const [args, re] of bad) assert.throws(() => inv([...args, "Tasks"]), re, args.join(" "));
});

Deno.test("parseDriverArgs() reads --max-alloc-nodes as a node cap of at least one allocation's -N", () => {
  const ok: [string[], number][] = [
    [["--alloc", "-N 2 -t 10", "--max-alloc-nodes", "8"], 8],
    [["--alloc=-N2", "--max-alloc-nodes=2"], 2],
    [["--alloc=--nodes=2-4", "--max-alloc-nodes", "4"], 4],
    [["--alloc", "-n 8", "--max-alloc-nodes", "1"], 1],
  ];
  for (const [args, n] of ok) assert.equal(inv([...args, "Tasks"]).maxAllocNodes, n, args.join(" "));
  assert.equal(inv(["--alloc", "-N 2", "Tasks"]).maxAllocNodes, undefined, "no cap without it");
  const bad: [string[], RegExp][] = [
    [["--max-alloc-nodes", "4"], /^argument --max-alloc-nodes: needs --alloc$/],
    [
      ["--alloc", "-N 1", "--max-alloc-nodes", "0"],
      /^argument --max-alloc-nodes: invalid int value: '0' \(must be at least 1\)$/,
    ],
    [["--alloc", "-N 1", "--max-alloc-nodes", "-3"], /^argument --max-alloc-nodes: invalid int value: '-3'/],
    [
      ["--alloc", "-N 1", "--max-alloc-nodes", "two"],
      /^argument --max-alloc-nodes: invalid int value: 'two'/,
    ],
    [
      ["--alloc", "-N 1", "--max-alloc-nodes", "1.5"],
      /^argument --max-alloc-nodes: invalid int value: '1.5'/,
    ],
    [
      ["Tasks", "--alloc", "-N 1", "--max-alloc-nodes"],
      /^argument --max-alloc-nodes: expected one argument$/,
    ],
    [
      ["--alloc", "-N 4 -t 10", "--max-alloc-nodes", "3"],
      /^argument --max-alloc-nodes: 3 is fewer than the 4 node\(s\) each allocation asks for \(-N in --alloc\)$/,
    ],
    [["--alloc=--nodes=2-4", "--max-alloc-nodes", "3"], /3 is fewer than the 4 node\(s\)/],
  ];
  for (const [args, re] of bad) usageError(args.includes("Tasks") ? args : [...args, "Tasks"], re);
});

Deno.test("allocNodeCount() reads the nodes an allocation of --alloc asks for", () => {
  const cases: [string[], number][] = [
    [[], 1],
    [["-n", "8", "-t", "10"], 1],
    [["-N", "2"], 2],
    [["-N3"], 3],
    [["--nodes", "5"], 5],
    [["--nodes=2-4"], 4],
    [["-N", "1", "-N", "2"], 2],
    [["--nodes=1,4,8"], 8],
    [["-p", "gen", "--comment", "-N"], 1],
  ];
  for (const [args, n] of cases) assert.equal(allocNodeCount(args), n, args.join(" "));
});

Deno.test("parseDriverArgs() reads --alloc as shell words and checks its companions", () => {
  const i = inv(["--alloc", "-N 2 -t 1:00:00 -p gen --comment 'a b'", "--max-allocs", "4", "Tasks"]);
  assert.deepEqual(i.alloc, ["-N", "2", "-t", "1:00:00", "-p", "gen", "--comment", "a b"]);
  assert.deepEqual([i.maxAllocs, i.allocBacklog], [4, 1]);
  assert.deepEqual(inv(["--alloc=-N 1", "Tasks"]).alloc, ["-N", "1"]);
  usageError(["--alloc", "-N 1 --wrap x", "Tasks"], /--wrap is chosen by disbatch/);
  usageError(["--alloc", "-N 1 -o out", "Tasks"], /-o is chosen by disbatch/);
  usageError(["--alloc", "-J 'x", "Tasks"], /argument --alloc: unterminated '/);
  usageError(["--max-allocs", "2", "Tasks"], /argument --max-allocs: needs --alloc/);
  usageError(["--alloc", "-N 1", "--max-allocs", "0", "Tasks"], /--max-allocs: invalid int value: '0'/);
  usageError(["--alloc", "-N 1", "-S", "Tasks"], /argument --alloc: not allowed with -S/);
  usageError(
    ["--alloc", "-N 1 -t 30", "--timeout", "1h", "Tasks"],
    /argument --timeout: 1h is longer than an allocation of --alloc can run a task \(its time limit less 15 s: 1785 s\)/,
  );
  assert.equal(inv(["--alloc", "-N 1 --time=2:00:00", "--timeout", "1h", "Tasks"]).timeout, 3600);
});

Deno.test("schedulerOptions() gives the scheduler what the command line asks for", () => {
  const at = { host: "h", pid: 7 };
  const cases: { args: string[]; stopAt?: number; want: Record<string, unknown> }[] = [
    {
      args: ["T"],
      want: { failFast: false, startupOnly: false, exitCode: false, crashLimit: 3, badNodeAfter: 3 },
    },
    { args: ["-f", "-e", "T"], want: { failFast: true, exitCode: true } },
    { args: ["-S", "T"], want: { startupOnly: true } },
    { args: ["--alloc", "-p x", "T"], want: { startupOnly: true } },
    {
      args: ["--retries", "2", "--timeout", "1m", "--crash-limit", "5", "T"],
      want: { retries: 2, timeout: 60, crashLimit: 5 },
    },
    { args: ["--bad-node-after", "0", "T"], want: { badNodeAfter: 0 } },
    { args: ["T"], stopAt: 1000, want: { stopAt: 1000 } },
  ];
  for (const c of cases) {
    const o = schedulerOptions(inv(c.args), {
      ...at,
      ...(c.stopAt !== undefined ? { stopAt: c.stopAt } : {}),
    });
    for (const [k, v] of Object.entries(c.want)) {
      assert.equal(o[k as keyof typeof o], v, `${c.args.join(" ")}: ${k}`);
    }
    assert.equal(o.driverHost, "h");
    assert.equal(o.driverPid, 7);
    if (c.stopAt === undefined) assert.equal("stopAt" in o, false, c.args.join(" "));
  }
});

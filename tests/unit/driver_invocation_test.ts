import assert from "node:assert/strict";
import * as driverOptions from "../../lib/driver_options.ts";
import { type DriverInvocation, launchesOwnContext, schedulerOptions } from "../../lib/driver_invocation.ts";
import type { SchedulerOptions } from "../../lib/scheduler.ts";

/** A run asked for with nothing but a task file (the parser's defaults). */
function bare(): DriverInvocation {
  const parsed = driverOptions.parseDriverArgs(["Tasks"], {});
  assert.ok(typeof parsed === "object");
  return parsed;
}

const AT = { host: "n001", pid: 42 };

const DEFAULTS: SchedulerOptions = {
  failFast: false,
  startupOnly: false,
  launchContext: true,
  exitCode: false,
  crashLimit: 3,
  retries: 0,
  timeout: 0,
  badNodeAfter: 3,
  driverHost: "n001",
  driverPid: 42,
};

Deno.test("driver_invocation: lib/driver_options.ts re-exports schedulerOptions", () => {
  assert.equal(driverOptions.schedulerOptions, schedulerOptions);
});

Deno.test("schedulerOptions() copies what the scheduler needs, nothing else", () => {
  const cases: [string, Partial<DriverInvocation>, { stopAt?: number }, SchedulerOptions][] = [
    ["bare", {}, {}, DEFAULTS],
    ["-f -e", { failFast: true, exitCode: true }, {}, { ...DEFAULTS, failFast: true, exitCode: true }],
    ["-S: no context of its own", { startupOnly: true }, {}, {
      ...DEFAULTS,
      startupOnly: true,
      launchContext: false,
    }],
    ["--alloc waits for engines as -S", { alloc: ["-N", "1"] }, {}, {
      ...DEFAULTS,
      startupOnly: true,
      launchContext: false,
    }],
    ["--alloc with no option", { alloc: [] }, {}, { ...DEFAULTS, startupOnly: true, launchContext: false }],
    [
      "--alloc with -s hosts: those are its own context",
      {
        alloc: [],
        context: { ...bare().context, sshNodes: ["n1:2"] },
      },
      {},
      { ...DEFAULTS, startupOnly: true },
    ],
    [
      "limits",
      { retries: 2, timeout: 60, crashLimit: 5, badNodeAfter: 0 },
      {},
      { ...DEFAULTS, retries: 2, timeout: 60, crashLimit: 5, badNodeAfter: 0 },
    ],
    ["a run with an end", {}, { stopAt: 1000 }, { ...DEFAULTS, stopAt: 1000 }],
    ["an end at 0 is an end", {}, { stopAt: 0 }, { ...DEFAULTS, stopAt: 0 }],
    [
      "options the scheduler does not take",
      {
        quiet: true,
        web: true,
        killGrace: 1,
        driverGrace: 5,
        engineRestarts: 0,
        walltime: 60,
        mailTo: "a@x",
      },
      {},
      DEFAULTS,
    ],
  ];
  for (const [name, over, at, want] of cases) {
    assert.deepEqual(schedulerOptions({ ...bare(), ...over }, { ...AT, ...at }), want, name);
  }
});

Deno.test("launchesOwnContext(): the driver starts a context itself unless -S, or --alloc without -s", () => {
  const ssh = { ...bare().context, sshNodes: ["n1:2"] };
  const cases: [string, Partial<DriverInvocation>, boolean][] = [
    ["bare", {}, true],
    ["-S", { startupOnly: true }, false],
    ["--alloc", { alloc: ["-n", "4"] }, false],
    ["--alloc and -s", { alloc: ["-n", "4"], context: ssh }, true],
    ["-S and -s", { startupOnly: true, context: ssh }, false],
  ];
  for (const [label, o, want] of cases) {
    const inv = { ...bare(), ...o };
    assert.equal(launchesOwnContext(inv), want, label);
    assert.equal(schedulerOptions(inv, AT).launchContext, want, label);
  }
});

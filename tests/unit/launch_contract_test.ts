import assert from "node:assert/strict";
import { UsageError } from "../../lib/cli.ts";
import { renderDbUtil } from "../../lib/dbutil.ts";
import {
  dbUtilExports,
  driverEnvOf,
  ENGINE_MODE,
  ENGINE_PRIVATE_ENV,
  engineArgv,
  type EngineLaunch,
  LAUNCH_CONTRACT_VERSION,
  LAUNCH_ENV,
  LaunchContractError,
  localEngineEnv,
  parseEngineArgv,
  parseStandbyLine,
  secretInDbUtil,
  softVmemOf,
  standbyLine,
} from "../../lib/launch_contract.ts";

const SECRET = "0123456789abcdef".repeat(4);

const BASE: EngineLaunch = {
  connect: "10.0.0.1:4444,vm:4444",
  context: 0,
  host: "n1",
  slots: 4,
  coresPerSlot: 1,
  label: "SSH0",
  launch: "0.0",
  envResource: [],
};

/** One launch per field that can vary, each far from the base in that field. */
const LAUNCHES: [string, EngineLaunch][] = [
  ["base", BASE],
  ["connect: one IPv6 address", { ...BASE, connect: "[fe80::1]:7" }],
  ["context: a large id", { ...BASE, context: 123456 }],
  ["host: empty (the engine takes SLURMD_NODENAME or its host name)", { ...BASE, host: "" }],
  ["host: with dots and a dash", { ...BASE, host: "node-1.cluster.example.org" }],
  ["slots: one", { ...BASE, slots: 1 }],
  ["slots: many", { ...BASE, slots: 256 }],
  ["coresPerSlot: zero", { ...BASE, coresPerSlot: 0 }],
  ["coresPerSlot: eight", { ...BASE, coresPerSlot: 8 }],
  ["label: a Slurm job", { ...BASE, label: "J1234" }],
  ["label: empty", { ...BASE, label: "" }],
  ["label: spaces and quotes", { ...BASE, label: `my "odd" label's` }],
  ["launch: absent", (({ launch: _, ...rest }) => rest)(BASE)],
  ["launch: another", { ...BASE, launch: "17.3" }],
  ["envResource: one", { ...BASE, envResource: ["GPU=0"] }],
  ["envResource: several, in order", { ...BASE, envResource: ["B=2", "A=1", "EMPTY=", "X=a=b c"] }],
];

Deno.test("engineArgv() → parseEngineArgv() gives back every field", () => {
  for (const [why, l] of LAUNCHES) {
    const argv = engineArgv(l);
    assert.equal(argv[0], ENGINE_MODE, why);
    assert.deepEqual(
      parseEngineArgv(argv.slice(1), localEngineEnv(SECRET)),
      { launch: l, secret: SECRET },
      why,
    );
  }
});

Deno.test("engineArgv() writes the command line engines have always read, with the contract version", () => {
  assert.deepEqual(engineArgv({ ...BASE, envResource: ["A=1", "B=2"] }), [
    "--engine",
    "--contract",
    String(LAUNCH_CONTRACT_VERSION),
    "--connect",
    "10.0.0.1:4444,vm:4444",
    "--context",
    "0",
    "--host",
    "n1",
    "--slots",
    "4",
    "--cores",
    "1",
    "--label",
    "SSH0",
    "--launch",
    "0.0",
    "-E",
    "A=1",
    "-E",
    "B=2",
  ]);
});

Deno.test("parseEngineArgv() refuses another contract version with one line that says what to do", () => {
  const argv = engineArgv(BASE).slice(1);
  const cases: [string, string[], RegExp][] = [
    [
      "an older version",
      ["--contract", String(LAUNCH_CONTRACT_VERSION - 1), ...argv.slice(2)],
      new RegExp(`started for launch contract ${LAUNCH_CONTRACT_VERSION - 1}, but this disbatch speaks`),
    ],
    [
      "a newer version",
      ["--contract", String(LAUNCH_CONTRACT_VERSION + 1), ...argv.slice(2)],
      new RegExp(`started for launch contract ${LAUNCH_CONTRACT_VERSION + 1}, but this disbatch speaks`),
    ],
    ["no version (an older disbatch)", argv.slice(2), /without a launch contract version \(by an older/],
    ["not a number", ["--contract", "x", ...argv.slice(2)], /started for launch contract x,/],
    ["a version given twice, the last other", [...argv, "--contract", "0"], /launch contract 0,/],
  ];
  for (const [why, args, re] of cases) {
    assert.throws(() => parseEngineArgv(args, localEngineEnv(SECRET)), (e: unknown) => {
      assert.ok(e instanceof LaunchContractError, why);
      assert.match(e.message, re, why);
      assert.match(e.message, /use the same disbatch binary/, why);
      assert.ok(!e.message.includes("\n"), `${why}: one line`);
      return true;
    }, why);
  }
  // The version is checked first: a command line of another version is refused even when other
  // parts of it changed too.
  assert.throws(() => parseEngineArgv(["--contract", "99"], {}), LaunchContractError);
});

Deno.test("parseEngineArgv() names a missing secret or option and a malformed number", () => {
  const argv = engineArgv(BASE).slice(1);
  const without = (flag: string) => {
    const i = argv.indexOf(flag);
    return [...argv.slice(0, i), ...argv.slice(i + 2)];
  };
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    [
      "no secret",
      argv,
      {},
      /^--engine: DISBATCH_SECRET is not set \(engines are started by disbatch itself\)$/,
    ],
    ["an empty secret", argv, { DISBATCH_SECRET: "" }, /DISBATCH_SECRET is not set/],
    ["no --connect", without("--connect"), localEngineEnv(SECRET), /^--engine: --connect is required$/],
    ["no --context", without("--context"), localEngineEnv(SECRET), /--context is required/],
    ["no --host", without("--host"), localEngineEnv(SECRET), /--host is required/],
    ["no --slots", without("--slots"), localEngineEnv(SECRET), /--slots is required/],
    ["no --cores", without("--cores"), localEngineEnv(SECRET), /--cores is required/],
    ["no --label", without("--label"), localEngineEnv(SECRET), /--label is required/],
    ["zero slots", [...argv, "--slots", "0"], localEngineEnv(SECRET), /--slots: invalid int value: '0'/],
    ["a word for a number", [...argv, "--context", "c1"], localEngineEnv(SECRET), /--context: invalid int/],
    ["an unknown option", [...argv, "--bogus", "1"], localEngineEnv(SECRET), /--bogus/],
  ];
  for (const [why, args, env, re] of cases) {
    assert.throws(() => parseEngineArgv(args, env), (e: unknown) => {
      assert.ok(e instanceof UsageError, why);
      assert.match(e.message, re, why);
      return true;
    }, why);
  }
});

Deno.test("dbUtilExports() → driverEnvOf() gives back the addresses, the secret and the uid", () => {
  const cases: { addresses: string[]; secret: string; uid: string }[] = [
    { addresses: ["10.0.0.1:4444"], secret: SECRET, uid: "/w/Tasks_disBatch_261125154851_007" },
    { addresses: ["10.0.0.1:4444", "vm:4444", "[::1]:4444"], secret: SECRET, uid: "/home/u/my runs/it's/J" },
  ];
  for (const d of cases) {
    const env = exportedBy(dbUtilExports(d));
    assert.deepEqual(
      Object.keys(env).sort(),
      [LAUNCH_ENV.driver, LAUNCH_ENV.kvsstcpHost, LAUNCH_ENV.secret, LAUNCH_ENV.uid].sort(),
    );
    assert.equal(env[LAUNCH_ENV.kvsstcpHost], d.addresses[0]);
    assert.deepEqual(driverEnvOf(env), d, d.uid);
    // What the driver writes in the whole script is what a driver restarted with --reattach reads.
    assert.equal(secretInDbUtil(renderDbUtil({ ...d, self: ["/bin/disbatch"] })), d.secret);
  }
});

Deno.test("driverEnvOf() falls back to DISBATCH_KVSSTCP_HOST and needs an address and a secret", () => {
  const cases: [Record<string, string>, unknown][] = [
    [{ DISBATCH_KVSSTCP_HOST: "h:1", DISBATCH_SECRET: "s" }, { addresses: ["h:1"], secret: "s", uid: "" }],
    [{ DISBATCH_DRIVER: "a:1,,b:2", DISBATCH_SECRET: "s" }, {
      addresses: ["a:1", "b:2"],
      secret: "s",
      uid: "",
    }],
    [{ DISBATCH_DRIVER: "a:1", DISBATCH_KVSSTCP_HOST: "h:1", DISBATCH_SECRET: "s" }, {
      addresses: ["a:1"],
      secret: "s",
      uid: "",
    }],
    [{ DISBATCH_DRIVER: "a:1" }, undefined],
    [{ DISBATCH_DRIVER: "a:1", DISBATCH_SECRET: "" }, undefined],
    [{ DISBATCH_SECRET: "s" }, undefined],
    [{ DISBATCH_DRIVER: "", DISBATCH_SECRET: "s" }, undefined],
  ];
  for (const [env, want] of cases) assert.deepEqual(driverEnvOf(env), want, JSON.stringify(env));
});

Deno.test("secretInDbUtil() reads only a hex secret on its own export line", () => {
  const cases: [string, string | undefined][] = [
    [`#!/bin/bash\nexport DISBATCH_SECRET='${SECRET}'\n`, SECRET],
    [`export DISBATCH_SECRET='not hex'\n`, undefined],
    [`# export DISBATCH_SECRET='${SECRET}'\n`, undefined],
    [`#!/bin/bash\n`, undefined],
  ];
  for (const [text, want] of cases) assert.equal(secretInDbUtil(text), want, text);
});

Deno.test("the run's keys are the variables an engine keeps from its tasks; a local engine gets the secret", () => {
  assert.deepEqual([...ENGINE_PRIVATE_ENV].sort(), [
    "DISBATCH_DRIVER",
    "DISBATCH_SECRET",
    "DISBATCH_SOFT_VMEM_KIB",
    "DISBATCH_SRUN_STEP",
    "DISBATCH_UID",
  ]);
  assert.deepEqual(localEngineEnv(SECRET), { DISBATCH_SECRET: SECRET });
});

Deno.test("softVmemOf() reads the soft ulimit -v the launcher lifted, and nothing else", () => {
  const cases: [string | undefined, number | undefined][] = [
    [undefined, undefined],
    ["", undefined],
    ["4000000", 4000000],
    [" 4000000\n", 4000000],
    ["0", undefined],
    ["unlimited", undefined],
    ["-5", undefined],
    ["12abc", undefined],
  ];
  for (const [v, want] of cases) {
    assert.equal(softVmemOf(v === undefined ? {} : { DISBATCH_SOFT_VMEM_KIB: v }), want, String(v));
  }
});

/** The variables a script of `export NAME='value'` lines sets (single quotes as POSIX sh reads them). */
function exportedBy(script: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of script.split("\n").filter(Boolean)) {
    const m = /^export ([A-Z_]+)=((?:'[^']*'|\\')+)$/.exec(line);
    assert.ok(m, `not an export line: ${line}`);
    env[m[1]!] = m[2]!.replace(/'([^']*)'|\\'/g, (_, inside: string | undefined) => inside ?? "'");
  }
  return env;
}

Deno.test("standbyLine(): a standby engine's launch goes over one line and back", () => {
  const argv = engineArgv({
    connect: "127.0.0.1:4,vm:4",
    context: 0,
    host: "vm",
    slots: 2,
    coresPerSlot: 1,
    label: "SSH0",
    launch: "0.0",
    envResource: ["GPU=0,1", "a b\nc"],
  });
  const env = { ...localEngineEnv(SECRET), ODD: "line\nbreak \u00e9" };
  const line = standbyLine({ argv, env });
  assert.ok(line.endsWith("\n"));
  assert.equal(line.indexOf("\n"), line.length - 1, "one line, whatever the values hold");
  assert.deepEqual(parseStandbyLine(line.slice(0, -1)), { argv, env });
  const back = parseStandbyLine(line.slice(0, -1))!;
  assert.deepEqual(parseEngineArgv(back.argv.slice(1), back.env).secret, SECRET);
});

Deno.test("parseStandbyLine(): anything but a launch is nothing (the standby exits quietly)", () => {
  const bad = [
    "",
    "not json",
    "null",
    "[]",
    JSON.stringify({ argv: ["--context"], env: {} }),
    JSON.stringify({ argv: [ENGINE_MODE, 3], env: {} }),
    JSON.stringify({ argv: [ENGINE_MODE], env: [] }),
    JSON.stringify({ argv: [ENGINE_MODE], env: { A: 1 } }),
    JSON.stringify({ argv: [ENGINE_MODE] }),
  ];
  for (const b of bad) assert.equal(parseStandbyLine(b), undefined, b);
});

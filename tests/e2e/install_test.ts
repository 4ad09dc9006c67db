/**
 * `disbatch install`: the launcher a user puts on PATH and submits with sbatch. Runs the CLI under
 * test (`$DISBATCH_BIN` or `deno run … main.ts`); with a compiled binary it also checks the common
 * case `cp disbatch ~/bin/ && ~/bin/disbatch install`, where the file being installed is the
 * launcher's own path.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import { gate } from "../helpers/gates.ts";
import { sh, showRan } from "../helpers/rig_helpers.ts";
import { writeText } from "./e2e_helpers.ts";

const BIN = Deno.env.get("DISBATCH_BIN");

function show(r: { code: number; stdout: string; stderr: string }): string {
  return `code=${r.code}\n--- stdout:\n${r.stdout}\n--- stderr:\n${r.stderr}`;
}

/** Run `sh -c SCRIPT` in cwd with env (the shell's own ulimit, as a user's login shell would). */
function shell(script: string, cwd: string, env: Record<string, string>) {
  return sh("/bin/sh", ["-c", script], { cwd, env, timeoutMs: 120_000 });
}

Deno.test("install: writes DIR/disbatch, a small #!/bin/sh launcher, and says what to add to PATH", async () => {
  await using d = await tempDir();
  const env = { HOME: d.path, PATH: "/usr/bin:/bin" };
  const r = await runCli(["install"], { cwd: d.path, env });
  assert.equal(r.code, 0, show(r));
  const launcher = `${d.path}/bin/disbatch`;
  const bytes = Deno.readFileSync(launcher);
  assert.ok(bytes.length < 2048, `${bytes.length} bytes`);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 10)), "#!/bin/sh\n");
  assert.ok(!bytes.includes(0), "no NUL byte");
  assert.ok((Deno.statSync(launcher).mode! & 0o111) !== 0, "executable");
  assert.match(r.stdout, /disbatch \d+\.\d+\.\d+ installed/);
  assert.ok(r.stdout.includes(`launcher:   ${launcher}`), r.stdout);
  assert.match(r.stdout, /is not on your PATH.*\n {2}export PATH="\$HOME\/bin:\$PATH"/);
  if (BIN) {
    const kept = `${d.path}/.local/share/disbatch`;
    const versions = [...Deno.readDirSync(kept)].map((e) => e.name);
    assert.equal(versions.length, 1);
    assert.ok(Deno.statSync(`${kept}/${versions[0]}/disbatch`).size > 1_000_000, "the executable is kept");
  }
  // Idempotent, and quiet about PATH once DIR is on it.
  const again = await runCli(["install", `${d.path}/bin`], {
    cwd: d.path,
    env: { ...env, PATH: `${d.path}/bin:/usr/bin:/bin` },
  });
  assert.equal(again.code, 0, show(again));
  assert.deepEqual(Deno.readFileSync(launcher), bytes, "same launcher");
  assert.doesNotMatch(again.stdout, /not on your PATH|replaced/);
  // The launcher runs a task file.
  writeText(d.path, "T", "echo ran > out_$DISBATCH_TASKID\n".repeat(3));
  const run = await shell(`${launcher} -q -s localhost:2 T`, d.path, env);
  assert.equal(run.code, 0, showRan(run));
  assert.deepEqual([0, 1, 2].map((i) => Deno.readTextFileSync(`${d.path}/out_${i}`)), Array(3).fill("ran\n"));
});

Deno.test("install: replaces an older launcher and says so; a directory in the way is a clear error", async () => {
  await using d = await tempDir();
  const env = { HOME: d.path, PATH: `${d.path}/bin:/usr/bin:/bin` };
  Deno.mkdirSync(`${d.path}/bin`);
  writeText(
    d.path,
    "bin/disbatch",
    "#!/bin/sh\n# disbatch launcher 0.0.1: written by `disbatch install`; run that again to update it.\n" +
      `exec ${d.path}/old/disbatch "$@"\n`,
  );
  const r = await runCli(["install"], { cwd: d.path, env });
  assert.equal(r.code, 0, show(r));
  assert.match(
    r.stdout,
    new RegExp(`replaced: +disbatch 0\\.0\\.1 \\(${d.path}/old/disbatch; left in place`),
  );
  const v = await shell("disbatch --version", d.path, env);
  assert.equal(v.code, 0, showRan(v));
  assert.match(v.stdout, /^disbatch \d+\.\d+\.\d+ \(/);

  Deno.mkdirSync(`${d.path}/other/disbatch`, { recursive: true });
  const bad = await runCli(["install", `${d.path}/other`], { cwd: d.path, env });
  assert.equal(bad.code, 1, show(bad));
  assert.match(
    bad.stderr,
    /^disbatch: cannot install: .*other\/disbatch is a directory; remove it or name another DIR\n$/,
  );
  const two = await runCli(["install", "a", "b"], { cwd: d.path, env });
  assert.equal(two.code, 2, show(two));
  assert.match(two.stderr, /usage: disbatch install \[DIR\]/);
});

Deno.test("install: a compiled binary copied to DIR/disbatch installs itself there (from source: over a launcher)", async () => {
  await using d = await tempDir();
  Deno.mkdirSync(`${d.path}/bin`);
  const env = { HOME: d.path, PATH: `${d.path}/bin:/usr/bin:/bin` };
  if (BIN) {
    // cp disbatch ~/bin/ && disbatch install: the file being installed is the launcher's own path.
    Deno.copyFileSync(BIN, `${d.path}/bin/disbatch`);
    Deno.chmodSync(`${d.path}/bin/disbatch`, 0o755);
    const first = await shell("disbatch install", d.path, env);
    assert.equal(first.code, 0, showRan(first));
  } else {
    const first = await runCli(["install"], { cwd: d.path, env });
    assert.equal(first.code, 0, show(first));
  }
  assert.ok(Deno.statSync(`${d.path}/bin/disbatch`).size < 2048, "a launcher now");
  const v = await shell("disbatch --version", d.path, env);
  assert.equal(v.code, 0, showRan(v));
  if (BIN) assert.match(v.stdout, new RegExp(`\\(${d.path}/\\.local/share/disbatch/[^/]+/disbatch\\)`));
  const before = Deno.readFileSync(`${d.path}/bin/disbatch`);
  // Installing through the launcher itself changes nothing.
  const again = await shell("disbatch install", d.path, env);
  assert.equal(again.code, 0, showRan(again));
  assert.deepEqual(Deno.readFileSync(`${d.path}/bin/disbatch`), before);
  assert.doesNotMatch(again.stdout, /replaced/);
});

Deno.test("install: under a low soft ulimit -v the launcher lifts it for disbatch and the tasks get it back; a low hard limit is one clear line, exit 2", async () => {
  await using d = await tempDir();
  const env = { HOME: d.path, PATH: `${d.path}/bin:/usr/bin:/bin` };
  const r = await runCli(["install"], { cwd: d.path, env });
  assert.equal(r.code, 0, show(r));
  const n = 6;
  writeText(d.path, "T", "ulimit -S -v > soft_$DISBATCH_TASKID; env > env_$DISBATCH_TASKID\n".repeat(n));
  // A soft limit far below what the runtime reserves: without the launcher this crashes (exit 133).
  // Each way of starting tasks: the task launcher, the engine's posix_spawn, Deno.Command.
  for (
    const [prefix, extra] of [["a", "DISBATCH_LAUNCHER=1 "], ["b", "DISBATCH_LAUNCHER=0 "], [
      "c",
      "DISBATCH_LAUNCHER=0 DISBATCH_POSIX_SPAWN=0 ",
    ]]
  ) {
    const ok = await shell(
      `ulimit -S -v 4000000 && ${extra}disbatch -q -s localhost:2 -p ${prefix} T`,
      d.path,
      env,
    );
    assert.equal(ok.code, 0, showRan(ok));
    for (let i = 0; i < n; i++) {
      assert.equal(
        Deno.readTextFileSync(`${d.path}/soft_${i}`).trim(),
        "4000000",
        `${prefix}: task ${i} runs with the user's soft limit`,
      );
      assert.doesNotMatch(
        Deno.readTextFileSync(`${d.path}/env_${i}`),
        /DISBATCH_SOFT_VMEM/,
        "no plumbing in the tasks' environment",
      );
    }
  }
  // Without a lowered soft limit nothing is set.
  const hard = (await shell("ulimit -H -v", d.path, env)).stdout.trim();
  const plain = await shell("disbatch -q -s localhost:2 -p p T", d.path, env);
  assert.equal(plain.code, 0, showRan(plain));
  assert.equal(Deno.readTextFileSync(`${d.path}/soft_0`).trim(), hard);
  // A hard limit that low cannot be lifted: one line, exit 2, nothing written.
  const low = await shell("ulimit -v 4000000 && disbatch -q -s localhost:2 -p low T", d.path, env);
  assert.equal(low.code, 2, showRan(low));
  assert.match(
    low.stderr,
    /^disbatch: the hard virtual memory limit on \S+ is 4000000 KiB \(ulimit -H -v\); disbatch needs at least \d+ KiB .*admins.*\n$/,
  );
  assert.ok(![...Deno.readDirSync(d.path)].some((e) => e.name.startsWith("low")), "no run file written");
});

Deno.test({
  name: "install: sbatch --test-only accepts the launcher as a batch script",
  ignore: await gate("slurm"),
}, async () => {
  await using d = await tempDir();
  const env = { HOME: d.path, PATH: `${d.path}/bin:${Deno.env.get("PATH")}` };
  const r = await runCli(["install"], { cwd: d.path, env });
  assert.equal(r.code, 0, show(r));
  writeText(d.path, "T", "true\n");
  const t = await sh("sbatch", ["--test-only", "-n", "2", "disbatch", "T"], { cwd: d.path, env });
  assert.equal(t.code, 0, showRan(t));
  assert.match(t.stderr, /to start at/);
});

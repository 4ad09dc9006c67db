import assert from "node:assert/strict";
import {
  LAUNCHER_MARK,
  MIN_VMEM_KIB,
  onPath,
  parseLauncher,
  renderLauncher,
  storePath,
  vmemGuard,
} from "../../lib/launcher.ts";

Deno.test("renderLauncher() writes a small text script that sbatch accepts", () => {
  for (
    const exec of [
      ["/home/u/.local/share/disbatch/0.2.0/disbatch"],
      [
        "/usr/bin/deno",
        "run",
        "-A",
        "--no-lock",
        "--quiet",
        "--v8-flags=--optimize-for-size",
        "/src/it's here/main.ts",
      ],
      ["/opt/with space/disbatch"],
    ]
  ) {
    const s = renderLauncher({ exec, version: "0.2.0" });
    assert.ok(s.startsWith("#!/bin/sh\n"), "starts with #!");
    assert.ok(!s.includes("\0"), "no NUL");
    assert.ok(new TextEncoder().encode(s).length < 2048, "a few hundred bytes");
    assert.ok(s.includes(vmemGuard()), "guards the address space");
    assert.ok(s.endsWith(' "$@"\n'), "passes every argument");
    assert.ok(s.indexOf("ulimit") < s.indexOf("\nexec "), "guard before exec");
  }
});

Deno.test("parseLauncher() reads back the version and program of renderLauncher()", () => {
  const cases: [string[], string][] = [
    [["/a/b/disbatch"], "/a/b/disbatch"],
    [["/o'q/dis batch", "x"], "/o'q/dis batch"],
    [["/usr/bin/deno", "run", "-A", "/s/main.ts"], "/usr/bin/deno"],
  ];
  for (const [exec, want] of cases) {
    assert.deepEqual(parseLauncher(renderLauncher({ exec, version: "1.2.3" })), {
      version: "1.2.3",
      exec: want,
    });
  }
  assert.equal(parseLauncher('#!/bin/sh\nexec /x "$@"\n'), undefined, "not ours: no marker");
  assert.equal(parseLauncher(`${LAUNCHER_MARK} 1.0: x\n`), undefined, "no exec line");
});

Deno.test("storePath() keeps each version in its own directory under XDG_DATA_HOME or ~/.local/share", () => {
  const cases: [Record<string, string | undefined>, string][] = [
    [{ HOME: "/home/u" }, "/home/u/.local/share/disbatch/0.2.0/disbatch"],
    [{ HOME: "/home/u/" }, "/home/u/.local/share/disbatch/0.2.0/disbatch"],
    [{ HOME: "/home/u", XDG_DATA_HOME: "/data/x" }, "/data/x/disbatch/0.2.0/disbatch"],
    [{ HOME: "/home/u", XDG_DATA_HOME: "relative" }, "/home/u/.local/share/disbatch/0.2.0/disbatch"],
  ];
  for (const [env, want] of cases) assert.equal(storePath(env, "0.2.0"), want);
  assert.throws(() => storePath({}, "0.2.0"), RangeError);
  assert.throws(() => storePath({ HOME: "rel" }, "0.2.0"), /HOME/);
});

Deno.test("onPath() matches PATH entries, ignoring trailing slashes and empty entries", () => {
  const cases: [string, string | undefined, boolean][] = [
    ["/home/u/bin", "/usr/bin:/home/u/bin", true],
    ["/home/u/bin", "/home/u/bin/:/usr/bin", true],
    ["/home/u/bin", "/usr/bin::/bin", false],
    ["/home/u/bin", undefined, false],
    ["/home/u/bin", "/home/u/bin2", false],
  ];
  for (const [dir, path, want] of cases) assert.equal(onPath(dir, path), want, `${dir} in ${path}`);
});

Deno.test("vmemGuard() refuses a limit below MIN_VMEM_KIB with one line and exit 2", () => {
  const g = vmemGuard();
  assert.ok(g.includes(`-lt ${MIN_VMEM_KIB}`));
  assert.equal(g.match(/echo /g)?.length, 1, "one message");
  assert.match(g, /exit 2\n/);
  assert.ok(MIN_VMEM_KIB > 33_554_432, "more than the runtime's 32 GiB reservation");
});

/**
 * Local throughput benchmark: disbatch against xargs -P2 in the same invocation, on this machine.
 *
 *   deno task bench                 # all measurements (about 3 minutes on 2 cores)
 *   deno task bench -- --quick      # smaller sizes
 *   deno task bench -- --only 1,6   # just those measurements
 *
 * Prints, with medians of several rounds (the machine is noisy, so ratios matter):
 *   1. N x `true` at -s localhost:2: disbatch tasks/s / xargs -P2 tasks/s (goal >= 0.9)
 *   2. 1,000 x `sleep 0.01`: disbatch wall / xargs wall (goal <= 1.05)
 *   3. median wall time of a 1-task run (goal <= 0.3 s)
 *   4. peak RSS of the driver and the engine over 100,000 `true` tasks, and how much either grew after
 *      the first 10 % of the run (goal: not at all)
 *   5. the engine's own CPU per task and its task launcher's (from the engine log's last line), and
 *      what the spawn primitives cost at 2 in flight: the engine's own path when it has no
 *      launcher (`setsid bash -c`, piped output), `bash -c` without a process group of its own (not
 *      usable: no tree kill), Deno's `detached: true`, and xargs
 *   6. one engine alone on a CPU (`taskset`), at 2, 8 and 32 slots: its start rate, its CPU and its
 *      launcher's per task, and the starts/s each could sustain with a CPU of its own (1 / CPU per
 *      task); more slots, bigger batches
 *
 * Items 1 and 2 also run disbatch without its task launcher (`DISBATCH_LAUNCHER=0`: the engine
 * starts each task itself with `posix_spawn`, as on a node without python3), and without that
 * either (`DISBATCH_POSIX_SPAWN=0`: `Deno.Command`), alternating with the other runs.
 *
 * The baseline is `xargs -P 2 -I{} /bin/bash -c {}`: the same shell per task as disbatch uses.
 *
 * @module
 */

import { cliCommand } from "../../tests/helpers/run_cli.ts";
import { V8_FLAGS } from "../../adapters/self_command.ts";

const quick = Deno.args.includes("--quick");
/** `--only 1,6`: just those measurements. */
const only = Deno.args.includes("--only")
  ? Deno.args[Deno.args.indexOf("--only") + 1]?.split(",").map(Number)
  : undefined;
const want = (item: number) => !only || only.includes(item);
const dir = await Deno.makeTempDir({ prefix: "disbatch_bench_" });
const cli = cliCommand();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function writeTasks(name: string, line: string, n: number): string {
  const path = `${dir}/${name}`;
  Deno.writeTextFileSync(path, (line + "\n").repeat(n));
  return path;
}

async function timeIt(cmd: string[], stdinFile?: string): Promise<number> {
  const t0 = performance.now();
  const c = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    cwd: dir,
    stdin: stdinFile ? "piped" : "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  if (stdinFile) {
    const f = await Deno.open(stdinFile);
    await f.readable.pipeTo(c.stdin);
  }
  const out = await c.output();
  if (!out.success) throw new Error(`${cmd.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return (performance.now() - t0) / 1000;
}

const xargs = (file: string) =>
  timeIt(["xargs", "-P", "2", "-d", "\n", "-I{}", "/bin/bash", "-c", "{}"], file);
const ours = (file: string, extra: string[] = []) =>
  timeIt([...cli, "-q", "-s", "localhost:2", "-p", `${dir}/run`, ...extra, file]);
/** disbatch with the engine starting each task itself: `posix_spawn`, or with `Deno.Command`. */
const oursNoLauncher = (file: string, command = false) =>
  timeIt([
    "env",
    "DISBATCH_LAUNCHER=0",
    ...(command ? ["DISBATCH_POSIX_SPAWN=0"] : []),
    ...cli,
    "-q",
    "-s",
    "localhost:2",
    "-p",
    `${dir}/nol`,
    file,
  ]);

function line(s: string): void {
  console.log(s);
}

line(
  `disbatch local benchmark (${new Date().toISOString()}, ${navigator.hardwareConcurrency} cores, load ${
    Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
  })`,
);
line(`runner: ${cli.join(" ")}`);

/** The engine's and its launcher's "ms per task" from the last run's engine log (see EngineTasks#cpuText). */
function cpuPerTask(
  prefix: string,
): { engine?: number; launcher?: number; engineSteady?: number; launcherSteady?: number } {
  let newest: { path: string; at: number } | undefined;
  for (const e of Deno.readDirSync(dir)) {
    if (!e.name.startsWith(prefix + "_") || !e.name.endsWith("_engine_0.log")) continue;
    const path = `${dir}/${e.name}`;
    const at = Deno.statSync(path).mtime?.getTime() ?? 0;
    if (!newest || at > newest.at) newest = { path, at };
  }
  if (!newest) return {};
  const text = Deno.readTextFileSync(newest.path);
  const engine = /engine CPU [\d.]+ s for \d+ task\(s\) \(([\d.]+) ms per task\)/.exec(text);
  const launcher = /launcher CPU [\d.]+ s \(([\d.]+) ms per task\)/.exec(text);
  const steady = /since the launcher took the tasks: engine ([\d.]+) ms per task, launcher ([\d.]+) ms/.exec(
    text,
  );
  return {
    ...(engine ? { engine: Number(engine[1]) } : {}),
    ...(launcher ? { launcher: Number(launcher[1]) } : {}),
    ...(steady ? { engineSteady: Number(steady[1]), launcherSteady: Number(steady[2]) } : {}),
  };
}
/** Children of `ppid` whose command line has `needle`. */
function childrenOf(ppid: number, needle: string): number[] {
  const out: number[] = [];
  for (const ent of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(ent.name)) continue;
    try {
      const st = Deno.readTextFileSync(`/proc/${ent.name}/stat`);
      if (Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]) !== ppid) continue;
      if (Deno.readTextFileSync(`/proc/${ent.name}/cmdline`).includes(needle)) out.push(Number(ent.name));
    } catch { /* gone */ }
  }
  return out;
}

const launcherCpu: number[] = [];
const engineCpu: number[] = [];

// 1. true x N
if (want(1)) {
  const n = quick ? 2000 : 10000;
  const rounds = quick ? 3 : 5;
  const file = writeTasks("true", "true", n);
  const ratios: number[] = [];
  const baseRatios: number[] = [];
  const commandRatios: number[] = [];
  const oursRates: number[] = [];
  const xRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = n / await xargs(file);
    const d = n / await ours(file);
    const cpu = cpuPerTask("run");
    const b = n / await oursNoLauncher(file);
    const c = n / await oursNoLauncher(file, true);
    if (cpu.engine !== undefined) engineCpu.push(cpu.engine);
    if (cpu.launcher !== undefined) launcherCpu.push(cpu.launcher);
    xRates.push(x);
    oursRates.push(d);
    ratios.push(d / x);
    baseRatios.push(b / x);
    commandRatios.push(c / x);
  }
  line(
    `1. ${n} x true, 2 slots: disbatch ${median(oursRates).toFixed(0)} tasks/s, xargs -P2 ${
      median(xRates).toFixed(0)
    } tasks/s, ` +
      `ratio median ${median(ratios).toFixed(2)} (rounds: ${
        ratios.map((x) => x.toFixed(2)).join(" ")
      }; goal >= 0.9); without the launcher: posix_spawn ${median(baseRatios).toFixed(2)}, Deno.Command ${
        median(commandRatios).toFixed(2)
      }`,
  );
}

// 2. sleep 0.01 x 1000
if (want(2)) {
  const n = 1000;
  const rounds = quick ? 2 : 3;
  const file = writeTasks("sleep", "sleep 0.01", n);
  const ratios: number[] = [];
  const ow: number[] = [];
  const xw: number[] = [];
  const baseRatios: number[] = [];
  const commandRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const x = await xargs(file);
    const d = await ours(file);
    const b = await oursNoLauncher(file);
    const c = await oursNoLauncher(file, true);
    xw.push(x);
    ow.push(d);
    ratios.push(d / x);
    baseRatios.push(b / x);
    commandRatios.push(c / x);
  }
  line(
    `2. ${n} x sleep 0.01, 2 slots: disbatch ${median(ow).toFixed(2)} s, xargs ${median(xw).toFixed(2)} s, ` +
      `wall ratio median ${median(ratios).toFixed(2)} (goal <= 1.05); without the launcher: posix_spawn ${
        median(baseRatios).toFixed(2)
      }, Deno.Command ${median(commandRatios).toFixed(2)}`,
  );
}

// 3. one task
if (want(3)) {
  const file = writeTasks("one", "true", 1);
  const walls: number[] = [];
  for (let r = 0; r < 7; r++) walls.push(await ours(file));
  line(
    `3. 1-task run: median wall ${median(walls).toFixed(3)} s (min ${Math.min(...walls).toFixed(3)}, max ${
      Math.max(...walls).toFixed(3)
    }; goal <= 0.3 s)`,
  );
}

// 4. memory over 100,000 tasks
if (want(4)) {
  const n = quick ? 20000 : 100000;
  const file = writeTasks("mem", "true", n);
  const t0 = performance.now();
  const child = new Deno.Command(cli[0]!, {
    args: [...cli.slice(1), "-q", "-s", "localhost:2", "-p", `${dir}/mem`, file],
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let driverPeak = 0;
  let enginePeak = 0;
  const rss = (pid: number) => {
    try {
      const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+)/);
      return m ? Number(m[1]) / 1024 : 0;
    } catch {
      return 0;
    }
  };
  const samples: { t: number; d: number; e: number }[] = [];
  const timer = setInterval(() => {
    const d = rss(child.pid);
    let e = 0;
    for (const pid of childrenOf(child.pid, "--engine")) e = Math.max(e, rss(pid));
    driverPeak = Math.max(driverPeak, d);
    enginePeak = Math.max(enginePeak, e);
    samples.push({ t: (performance.now() - t0) / 1000, d, e });
  }, 500);
  const st = await child.status;
  clearInterval(timer);
  const wall = (performance.now() - t0) / 1000;
  const q = (f: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * f))]!;
  /** The peak after the first 10% of the run, above the RSS at 10%. */
  const grow = (k: "d" | "e") => {
    const from = Math.floor(samples.length * 0.1);
    const later = samples.slice(from).map((x) => x[k]).filter((v) => v > 0);
    return `${Math.max(0, Math.max(...later) - samples[from]![k]).toFixed(0)} MB`;
  };
  line(
    `4. ${n} x true: ${wall.toFixed(1)} s (${
      (n / wall).toFixed(0)
    } tasks/s, exit ${st.code}); peak RSS driver ${driverPeak.toFixed(0)} MB, ` +
      `engine ${enginePeak.toFixed(0)} MB; RSS at 10%/50%/90% of the run: driver ${
        [0.1, 0.5, 0.9].map((f) => q(f).d.toFixed(0)).join("/")
      } MB, ` +
      `engine ${[0.1, 0.5, 0.9].map((f) => q(f).e.toFixed(0)).join("/")} MB; ` +
      `growth after the first 10% (goal: none): driver ${grow("d")}, engine ${grow("e")}`,
  );
  if (Deno.env.get("DISBATCH_BIN")) {
    // A binary built without the V8 flag of scripts/compile.ts keeps garbage between full
    // collections: its memory grows where the shipped binary's stays flat.
    line(
      `   (DISBATCH_BIN: its RSS holds only if it was built with --v8-flags=${V8_FLAGS}, as scripts/compile.ts does)`,
    );
  }
}

// 5. engine CPU per task, and the spawn primitives
if (want(5)) {
  const n = quick ? 300 : 1000;
  const run = async (make: () => Deno.ChildProcess): Promise<number> => {
    const t0 = performance.now();
    let next = 0;
    const lane = async () => {
      while (next++ < n) {
        const c = make();
        await Promise.all([
          c.stdout ? c.stdout.pipeTo(new WritableStream()) : undefined,
          c.stderr ? c.stderr.pipeTo(new WritableStream()) : undefined,
          c.status,
        ]);
      }
    };
    await Promise.all([lane(), lane()]);
    return n / ((performance.now() - t0) / 1000);
  };
  const piped = { stdin: "null", stdout: "piped", stderr: "piped" } as const;
  const setsid = ["/usr/bin/setsid", "/bin/setsid"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  const rates: Record<string, number[]> = { setsid: [], plain: [], detached: [], xargs: [] };
  const file = writeTasks("spawn", "true", n);
  for (let r = 0; r < (quick ? 2 : 3); r++) {
    if (setsid) {
      rates.setsid!.push(
        await run(() => new Deno.Command(setsid, { args: ["/bin/bash", "-c", "true"], ...piped }).spawn()),
      );
    }
    rates.plain!.push(
      await run(() => new Deno.Command("/bin/bash", { args: ["-c", "true"], ...piped }).spawn()),
    );
    rates.detached!.push(
      await run(() =>
        new Deno.Command("/bin/bash", { args: ["-c", "true"], ...piped, detached: true }).spawn()
      ),
    );
    rates.xargs!.push(n / await xargs(file));
  }
  const show = (k: string) => rates[k]!.length ? `${median(rates[k]!).toFixed(0)}/s` : "n/a";
  line(
    `5. engine CPU per task (its own, not the tasks'): median ${
      engineCpu.length ? median(engineCpu).toFixed(3) : "n/a"
    } ms over the runs of 1. (goal <= 0.3 ms); its task launcher's: ${
      launcherCpu.length ? median(launcherCpu).toFixed(3) + " ms" : "n/a"
    }`,
  );
  line(
    `   spawning ${n} x bash -c true at 2 in flight: setsid + pipes (the engine's path) ${show("setsid")}, ` +
      `plain bash + pipes (no process group: not usable) ${show("plain")}, detached: true ${
        show("detached")
      }, ` +
      `xargs -P2 ${show("xargs")}`,
  );
}

// 6. one engine on a CPU of its own
if (want(6)) {
  const taskset = ["/usr/bin/taskset", "/bin/taskset"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
  if (!taskset || navigator.hardwareConcurrency < 2) {
    line("6. needs taskset (util-linux) and 2 CPUs: the pinned runs were not measured");
  } else {
    const n = quick ? 2000 : 6000;
    const file = writeTasks("pinned", "true", n);
    const pin = (cpu: number, pid: number) =>
      new Deno.Command(taskset, {
        args: ["-a", "-p", "-c", String(cpu), String(pid)],
        stdout: "null",
        stderr: "null",
      })
        .outputSync();
    line(
      `6. ${n} x true, the engine alone on CPU 0; the driver, the launcher and the tasks on CPU 1 ` +
        `(capacity: the starts/s its CPU per task allows with a CPU to itself)`,
    );
    for (const slots of [2, 8, 32]) {
      const rates: number[] = [];
      const eng: number[] = [];
      const lau: number[] = [];
      const engS: number[] = [];
      const lauS: number[] = [];
      for (let r = 0; r < (quick ? 1 : 2); r++) {
        const t0 = performance.now();
        const child = new Deno.Command(taskset, {
          args: ["-c", "1", ...cli, "-q", "-s", `localhost:${slots}`, "-p", `${dir}/pin`, file],
          cwd: dir,
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        let engine: number | undefined;
        let launcherPinned = false;
        const poll = setInterval(() => {
          engine ??= childrenOf(child.pid, "--engine")[0];
          if (engine === undefined || launcherPinned) return;
          const launcher = childrenOf(engine, "python3")[0];
          if (launcher === undefined) return;
          pin(0, engine);
          pin(1, launcher);
          launcherPinned = true;
        }, 20);
        const st = await child.status;
        clearInterval(poll);
        if (!st.success) throw new Error(`pinned run failed (exit ${st.code})`);
        rates.push(n / ((performance.now() - t0) / 1000));
        const cpu = cpuPerTask("pin");
        if (cpu.engine !== undefined) eng.push(cpu.engine);
        if (cpu.launcher !== undefined) lau.push(cpu.launcher);
        if (cpu.engineSteady !== undefined) engS.push(cpu.engineSteady);
        if (cpu.launcherSteady !== undefined) lauS.push(cpu.launcherSteady);
      }
      const m = (xs: number[]) => xs.length ? median(xs) : undefined;
      const ms = (x: number | undefined) => x?.toFixed(3) ?? "n/a";
      const cap = (x: number | undefined) => x ? (1000 / x).toFixed(0) : "n/a";
      const [e, l, es, ls] = [m(eng), m(lau), m(engS), m(lauS)];
      line(
        `   ${String(slots).padStart(2)} slots: ${
          median(rates).toFixed(0)
        } starts/s; ms/task over the whole run: ` +
          `engine ${ms(e)}, launcher ${ms(l)}; once the launcher took the tasks: engine ${ms(es)} ` +
          `(capacity ${cap(es)}/s), launcher ${ms(ls)} (capacity ${cap(ls)}/s)`,
      );
    }
  }
}

await Deno.remove(dir, { recursive: true });

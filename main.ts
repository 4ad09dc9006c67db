// deno-lint-ignore-file no-console
/**
 * disbatch: run a file of shell commands over local cores, ssh hosts or a Slurm allocation.
 * This file only picks the mode, wires adapters and turns errors into exit statuses.
 *
 * @module
 */

// Only what picks the mode is loaded before it: an engine loads the engine's modules and no
// others, and the driver starts its standby engine (adapters/standby.ts) before it loads its own.
import { ENGINE_MODE } from "./lib/launch_contract.ts";
import { VERSION } from "./lib/version.ts";

export { VERSION };

/** `--version`: the version and which executable runs (the compiled binary, or deno and main.ts). */
function versionLine(): string {
  const where = Deno.build.standalone
    ? Deno.execPath()
    : `${new URL(import.meta.url).pathname} on deno ${Deno.version.deno} (${Deno.execPath()})`;
  return `disbatch ${VERSION} (${where})`;
}

/** A driver told twice to stop leaves at once, wherever it is (the process is this file's to end). */
function exitNow(code: number): never {
  Deno.exit(code);
}

async function main(args: string[]): Promise<number> {
  const mode = args[0];
  let standby: typeof import("./adapters/standby.ts") | undefined;
  try {
    // Each mode loads only its own modules: an engine, started once per node, starts sooner.
    if (mode === ENGINE_MODE) {
      return await (await import("./adapters/engine_main.ts")).engineMain(args.slice(1));
    }
    if (mode === "--context") {
      return await (await import("./adapters/context_main.ts")).contextMain(args.slice(1));
    }
    if (mode === "--control") return await (await import("./adapters/control.ts")).controlMain(args.slice(1));
    if (mode === "report") return await (await import("./adapters/report_main.ts")).reportMain(args.slice(1));
    if (mode === "--mon") return await (await import("./adapters/monitor.ts")).monitorMain(args.slice(1));
    if (mode === "install") return await (await import("./adapters/install.ts")).installMain(args.slice(1));
    if (mode === "--reattach") {
      const { planReattach } = await import("./adapters/reattach.ts");
      const { inv, re } = await planReattach(
        args.slice(1),
        Deno.env.toObject(),
        new Date().getTimezoneOffset(),
      );
      return await (await import("./adapters/driver.ts")).runDriver(inv, exitNow, re);
    }
    const { parseDriverArgs } = await import("./lib/driver_options.ts");
    const inv = parseDriverArgs(args, Deno.env.toObject(), new Date().getTimezoneOffset());
    if (inv === "help") {
      console.log((await import("./lib/help.ts")).HELP.trimEnd());
      return 0;
    }
    if (inv === "version") {
      console.log(versionLine());
      return 0;
    }
    // The local engine starts now, while the driver loads and reads (see adapters/standby.ts).
    standby = await import("./adapters/standby.ts");
    standby.startStandby(inv, Deno.hostname());
    return await (await import("./adapters/driver.ts")).runDriver(inv, exitNow);
  } catch (e) {
    // The error kinds are loaded once there is an error (the modules are those that threw it).
    const [{ UsageError }, { USAGE }, { INSTALL_USAGE }, { TaskFileSyntaxError }, { ResumeMismatchError }] =
      await Promise.all([
        import("./lib/cli.ts"),
        import("./lib/driver_options.ts"),
        import("./lib/help.ts"),
        import("./lib/task_file.ts"),
        import("./lib/resume.ts"),
      ]);
    const [{ RunFileError }, { TaskFileChangedError }] = await Promise.all([
      import("./adapters/run_files.ts"),
      import("./adapters/task_source.ts"),
    ]);
    if (e instanceof UsageError) {
      // A run's dbUtil.sh: its own usage (the script is named, or its run is in the environment).
      const dbUtil = mode === "--context"
        ? args[1]
        : mode === "--control"
        ? `${Deno.env.get("DISBATCH_UID") ?? "<run>"}_dbUtil.sh`
        : undefined;
      console.error(
        `${
          mode === "report"
            ? "usage: disbatch report STATUSFILE [-o FILE] [--json]"
            : mode === "install"
            ? INSTALL_USAGE
            : dbUtil !== undefined
            ? `usage: ${dbUtil} [CONTEXT OPTIONS]\n       ${dbUtil} --mon | --status | --stop ENGINE|cID|LABEL\n` +
              `(${dbUtil} --help says more)`
            : USAGE
        }\ndisbatch: error: ${e.message}`,
      );
      return e.exitCode;
    }
    if (e instanceof RunFileError) {
      console.error(`disbatch: ${e.message}`);
      return e.exitCode;
    }
    if (
      e instanceof TaskFileSyntaxError || e instanceof ResumeMismatchError || e instanceof SyntaxError ||
      e instanceof TaskFileChangedError
    ) {
      console.error(`disbatch: ${e.message}`);
      return 2;
    }
    if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotFound) {
      console.error(`disbatch: ${e.message}`);
      return 1;
    }
    console.error(`disbatch: internal error (please report): ${e instanceof Error ? e.stack : e}`);
    return 70;
  } finally {
    // A standby the run did not take (it ended before its context started an engine here).
    standby?.dropStandby();
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

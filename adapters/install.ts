/**
 * `disbatch install [DIR]`: put the program where `sbatch disbatch Tasks` finds it. The executable
 * is kept in a versioned place (`~/.local/share/disbatch/VERSION/disbatch`) and `DIR/disbatch`
 * (default `~/bin`) becomes a small `#!/bin/sh` launcher that execs it (see `lib/launcher.ts`):
 * sbatch accepts only a text script, never the ~90 MB executable. Running from source
 * (`deno run -A main.ts install`), the launcher runs `deno run … main.ts` and nothing is copied.
 *
 * Every replacement is a rename of a complete file in the same directory, so a reader (a job
 * starting, another install) sees the old file or the new one, never half of one; running jobs keep
 * the executable they started with.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname, resolve } from "node:path";
import { UsageError } from "../lib/cli.ts";
import { INSTALL_USAGE } from "../lib/help.ts";
import { onPath, parseLauncher, renderLauncher, storePath } from "../lib/launcher.ts";
import { VERSION } from "../lib/version.ts";
import { selfCommand } from "./self_command.ts";
import { stderrLine as say } from "./stderr.ts";

function realOrSelf(p: string): string {
  try {
    return Deno.realPathSync(p);
  } catch {
    return p;
  }
}

/** Write `text` (or copy `from`) to `path` through a temporary file in the same directory. */
async function replaceFile(path: string, content: { text: string } | { from: string }): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}`;
  try {
    if ("text" in content) await Deno.writeTextFile(tmp, content.text, { mode: 0o755 });
    else await Deno.copyFile(content.from, tmp);
    await Deno.chmod(tmp, 0o755);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

/**
 * Run the install command.
 *
 * @param args the arguments after `install`
 * @returns exit status (0 done, 1 a file could not be written)
 * @throws {UsageError} for bad arguments
 */
export async function installMain(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { help: { type: "boolean", short: "h" } }, allowPositionals: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (parsed.values.help) {
    Deno.stdout.writeSync(new TextEncoder().encode(`${INSTALL_USAGE}
Keeps this executable in ~/.local/share/disbatch/${VERSION}/ ($XDG_DATA_HOME/disbatch/... when set)
and writes DIR/disbatch, a small #!/bin/sh launcher that runs it: sbatch accepts that as a batch
script (sbatch -n 5 disbatch Tasks), and it lifts the soft 'ulimit -v' the runtime cannot start under.
Running it again is harmless; installing a newer disbatch the same way upgrades.\n`));
    return 0;
  }
  if (parsed.positionals.length > 1) {
    throw new UsageError(`install takes one directory, got ${parsed.positionals.length}`);
  }
  const env = Deno.env.toObject();
  const home = env.HOME;
  const dirArg = parsed.positionals[0] ?? (home ? `${home}/bin` : undefined);
  if (!dirArg) {
    throw new UsageError("HOME is not set: name the directory, e.g. disbatch install /path/to/bin");
  }
  const dir = resolve(dirArg);
  const launcherPath = `${dir}/disbatch`;
  try {
    if (!Deno.statSync(dir).isDirectory) {
      say(`disbatch: cannot install: ${dir} is a file, not a directory; name a directory (default ~/bin)`);
      return 1;
    }
  } catch { /* absent: created below */ }
  try {
    if (Deno.statSync(launcherPath).isDirectory) {
      say(`disbatch: cannot install: ${launcherPath} is a directory; remove it or name another DIR`);
      return 1;
    }
  } catch { /* absent: fine */ }
  let before: ReturnType<typeof parseLauncher>;
  try {
    before = parseLauncher(await Deno.readTextFile(launcherPath));
  } catch { /* absent or binary */ }

  let exec: string[];
  let kept: string | undefined;
  try {
    await Deno.mkdir(dir, { recursive: true });
    if (Deno.build.standalone) {
      const store = storePath(env, VERSION);
      const self = realOrSelf(Deno.execPath());
      if (self !== realOrSelf(store)) {
        await Deno.mkdir(dirname(store), { recursive: true });
        await replaceFile(store, { from: self });
      }
      exec = [store];
      kept = `${store} (${mib(Deno.statSync(store).size)})`;
    } else {
      exec = selfCommand();
    }
    await replaceFile(launcherPath, { text: renderLauncher({ exec, version: VERSION }) });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    say(
      `disbatch: install failed: ${why}; nothing was changed where the error occurred (check the directory's permissions and free space)`,
    );
    return 1;
  }

  const lines = [`disbatch ${VERSION} installed`];
  if (kept) lines.push(`  executable: ${kept}`);
  else lines.push(`  runs from source: ${exec.join(" ")}`);
  lines.push(`  launcher:   ${launcherPath} (#!/bin/sh, ${Deno.statSync(launcherPath).size} bytes)`);
  if (before && before.exec !== exec[0]) {
    lines.push(
      `  replaced:   disbatch ${before.version} (${before.exec}; left in place for jobs still using it)`,
    );
  }
  if (!onPath(dir, env.PATH)) {
    const shown = home && dir.startsWith(`${home}/`) ? `$HOME${dir.slice(home.length)}` : dir;
    lines.push(
      `${dir} is not on your PATH: add this line to ~/.bashrc (or your shell's startup file) and open a new shell:`,
      `  export PATH="${shown}:$PATH"`,
    );
  }
  lines.push("Then: disbatch Tasks, or sbatch -n 5 disbatch Tasks inside Slurm");
  Deno.stdout.writeSync(new TextEncoder().encode(lines.join("\n") + "\n"));
  return 0;
}

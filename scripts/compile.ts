// deno-lint-ignore-file no-console
/**
 * Build the single-file binary: `deno compile -A --no-lock --output dist/disbatch main.ts`.
 *
 * Usage: `deno run -A scripts/compile.ts [--target TRIPLE] [--output PATH]`
 * (`--target` is passed to `deno compile`, e.g. `aarch64-unknown-linux-gnu`; with a target and
 * no `--output` the binary is `dist/disbatch-TRIPLE`).
 *
 * `deno compile` needs the `denort` runtime for the target, which it downloads from
 * dl.deno.land on first use and caches in `$DENO_DIR`. Without internet access (as on the
 * project's machines) that download fails: this script then says so plainly and exits 1.
 * `DENORT_BIN=/path/to/denort` makes `deno compile` use a local runtime instead.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";

/** Exit status when the runtime could not be downloaded (distinct from other failures). */
const EXIT_NO_DENORT = 3;

const USAGE = "usage: deno run -A scripts/compile.ts [--target TRIPLE] [--output PATH]";

/**
 * Whether `deno compile`'s error output says that fetching the `denort` runtime failed.
 *
 * @param stderr what `deno compile` wrote to stderr
 * @returns true for a download/network failure of the base binary
 */
export function isDenortDownloadFailure(stderr: string): boolean {
  // deno-lint-ignore no-control-regex
  const text = stderr.replace(/\x1b\[[0-9;]*m/g, "");
  const aboutRuntime = /denort|Setting up base binary|dl\.deno\.land/i.test(text);
  const network =
    /error sending request|dns error|failed to lookup address|Connect|timed out|Download|certificate|\b40[34]\b|\b5\d\d\b/i
      .test(text);
  return aboutRuntime && network;
}

async function main(argv: string[]): Promise<number> {
  let values: { target?: string; output?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        target: { type: "string" },
        output: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`compile: ${e instanceof Error ? e.message : e}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const root = fileURLToPath(new URL("..", import.meta.url));
  const output = values.output ?? (values.target ? `dist/disbatch-${values.target}` : "dist/disbatch");
  const args = ["compile", "-A", "--no-lock", "--output", output];
  if (values.target) args.push("--target", values.target);
  args.push("main.ts");
  await Deno.mkdir(dirname(resolve(root, output)), { recursive: true });
  console.error(`$ deno ${args.join(" ")}`);

  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  // Pass stderr through as it comes (progress lines), and keep a copy to classify a failure.
  const dec = new TextDecoder();
  let stderr = "";
  for await (const chunk of child.stderr) {
    stderr += dec.decode(chunk, { stream: true });
    await Deno.stderr.write(chunk);
  }
  stderr += dec.decode();
  const { code } = await child.status;
  if (code === 0) {
    console.error(`compiled ${output}`);
    return 0;
  }
  if (isDenortDownloadFailure(stderr)) {
    const target = values.target ?? Deno.build.target;
    console.error(
      [
        "",
        `compile failed: deno compile could not download the denort runtime for ${target}`,
        `(https://dl.deno.land/release/v${Deno.version.deno}/denort-${target}.zip).`,
        "This machine has no internet access, so deno compile cannot work here; this is expected.",
        "Run it on a machine that can reach dl.deno.land (the runtime is then cached in $DENO_DIR),",
        "or set DENORT_BIN to a local denort binary of the same Deno version.",
        "Tests run the CLI from source instead (deno run -A main.ts, or $DISBATCH_BIN if set).",
      ].join("\n"),
    );
    return EXIT_NO_DENORT;
  }
  console.error(`compile failed: deno compile exited with ${code}`);
  return code || 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));

// deno-lint-ignore-file no-console
/**
 * Build the single-file binary: `deno compile -A --no-lock --v8-flags=--optimize-for-size --output
 * dist/disbatch main.ts` (the V8 flags every disbatch process starts with: `V8_FLAGS`).
 *
 * Usage: `deno run -A scripts/compile.ts [--target TRIPLE] [--output PATH]`
 * (`--target` is `x86_64-unknown-linux-gnu` or `aarch64-unknown-linux-gnu`; with a target and
 * no `--output` the binary is `dist/disbatch-TRIPLE`).
 *
 * The built binary is checked before it is called a success: for this machine's target it must
 * start and print `disbatch VERSION (…)` for `--version` (a `DENORT_BIN` of another Deno version,
 * or anything that is not a runtime, makes `deno compile` exit 0 with a binary that cannot start);
 * for the other target its ELF header must name that architecture. Then its size and sha256 are
 * printed. Exit status: 0 built and checked; 1 `deno compile` failed or the binary fails the
 * check; 2 usage; 3 the runtime could not be downloaded.
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
import { VERSION } from "../lib/version.ts";
import { V8_FLAGS } from "../adapters/self_command.ts";

/** Exit status when the runtime could not be downloaded (distinct from other failures). */
const EXIT_NO_DENORT = 3;

const USAGE = "usage: deno run -A scripts/compile.ts [--target TRIPLE] [--output PATH]";

/** Targets disbatch is built for, with the ELF `e_machine` of each. */
export const TARGETS: Record<string, number> = {
  "x86_64-unknown-linux-gnu": 62,
  "aarch64-unknown-linux-gnu": 183,
};

/**
 * The `e_machine` field of a little-endian ELF file's header.
 *
 * @param head at least the first 20 bytes of the file
 * @returns the machine number, or undefined when it is not a little-endian ELF file
 */
export function elfMachine(head: Uint8Array): number | undefined {
  if (head.length < 20 || head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) {
    return undefined;
  }
  if (head[5] !== 1) return undefined; // EI_DATA: 1 = little-endian
  return head[18]! | (head[19]! << 8);
}

/**
 * Check a built binary: run `--version` when it is for this machine, else read its ELF header.
 *
 * @param path the binary
 * @param target its target triple
 * @param version the version it must report
 * @returns an error message, or undefined when it is fine
 */
async function checkBinary(path: string, target: string, version: string): Promise<string | undefined> {
  if (target !== Deno.build.target) {
    const f = await Deno.open(path);
    const head = new Uint8Array(20);
    await f.read(head);
    f.close();
    const m = elfMachine(head);
    return m === TARGETS[target]
      ? undefined
      : `${path} is not an ELF executable for ${target} (e_machine ${m ?? "none"}, expected ${
        TARGETS[target]
      })`;
  }
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(path, {
      args: ["--version"],
      stdin: "null",
      signal: AbortSignal.timeout(60_000),
    })
      .output();
  } catch (e) {
    return `${path} cannot be started: ${e instanceof Error ? e.message : e}`;
  }
  const text = new TextDecoder().decode(out.stdout);
  if (out.code === 0 && text.startsWith(`disbatch ${version} (`)) return undefined;
  // deno-lint-ignore no-control-regex
  const errLines = new TextDecoder().decode(out.stderr).replace(/\x1b\[[0-9;]*m/g, "").split("\n");
  const err = (errLines.find((l) => /error/i.test(l)) ?? errLines.find((l) => l.trim()) ?? "").trim();
  return `${path} does not start: \`${path} --version\` exited ${out.code}${
    out.signal ? ` (${out.signal})` : ""
  }` +
    ` and printed ${JSON.stringify((text.trim().split("\n")[0] ?? "").slice(0, 80))}${
      err ? `; stderr: ${err.slice(0, 200)}` : ""
    }` +
    " (is DENORT_BIN a denort of this Deno version?)";
}

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
  if (values.target && !(values.target in TARGETS)) {
    console.error(
      `compile: unknown --target ${values.target}; use one of ${Object.keys(TARGETS).join(", ")}\n${USAGE}`,
    );
    return 2;
  }
  const root = fileURLToPath(new URL("..", import.meta.url));
  const output = values.output ?? (values.target ? `dist/disbatch-${values.target}` : "dist/disbatch");
  const args = ["compile", "-A", "--no-lock", `--v8-flags=${V8_FLAGS}`, "--output", output];
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
    const path = resolve(root, output);
    const problem = await checkBinary(path, values.target ?? Deno.build.target, VERSION);
    if (problem) {
      console.error(`compile failed: ${problem}`);
      return 1;
    }
    const bytes = await Deno.readFile(path);
    const sha = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    console.error(`compiled ${output}: ${(bytes.length / 2 ** 20).toFixed(1)} MiB, sha256 ${sha}`);
    console.error(`install it with: ${output} install   (writes ~/bin/disbatch, see README "Install")`);
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

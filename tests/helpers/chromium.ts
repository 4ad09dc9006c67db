/**
 * Headless Chromium for the tests that render the web dashboard (Debian's /usr/bin/chromium,
 * installed by .ci/run).
 *
 * @module
 */

import { decoded, tempDir } from "./run_cli.ts";
import { gate } from "./gates.ts";

/** `ignore` for tests that need Chromium: they fail saying what to install unless DISBATCH_E2E_SKIP names it. */
export const NO_CHROMIUM = await gate("chromium");

/** Path of the Chromium binary. */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Run headless Chromium with a fresh profile (removed afterwards), no sandbox, GPU, QUIC,
 * first-run page, background networking, component updates or sync; killed after 90 s.
 * @param args further flags and the URL
 * @returns exit code, stdout and stderr
 */
export async function headlessChromium(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  await Deno.stat(CHROMIUM).catch(() => {
    throw new Error(
      `${CHROMIUM} is missing: install it (apt-get install -y chromium; bash scripts/test.sh does)`,
    );
  });
  await using profile = await tempDir("disbatch_chromium_");
  const out = await new Deno.Command(CHROMIUM, {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile.path}`,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(90_000),
  }).output();
  const { code, stdout, stderr } = decoded(out);
  return { code, stdout, stderr };
}

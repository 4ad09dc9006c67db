import assert from "node:assert/strict";
import { bashCommandArg, decodeSurrogateEscape } from "../../lib/text.ts";

/** Runs `/bin/bash -c <arg>` and returns its exit code and raw stdout. */
async function runBash(arg: string, locale: string): Promise<{ code: number; stdout: Uint8Array }> {
  const { code, stdout } = await new Deno.Command("/bin/bash", {
    args: ["-c", arg],
    env: { LC_ALL: locale },
    stdout: "piped",
    stderr: "null",
  }).output();
  return { code, stdout };
}

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

// Each command's original bytes (written as latin-1) print `expected` (also latin-1) and exit with `code`.
const CASES: { name: string; command: string; expected: string; code: number }[] = [
  {
    name: "invalid bytes in quotes",
    command: "printf '%s' '\xff\xfe\xc3\x28'",
    expected: "\xff\xfe\xc3\x28",
    code: 0,
  },
  {
    name: "every high byte",
    command: `printf '%s' '${String.fromCharCode(...Array.from({ length: 128 }, (_, i) => 0x80 + i))}'`,
    expected: String.fromCharCode(...Array.from({ length: 128 }, (_, i) => 0x80 + i)),
    code: 0,
  },
  {
    name: "valid UTF-8 next to an invalid byte",
    command: "echo caf\xc3\xa9 \xe9",
    expected: "caf\xc3\xa9 \xe9\n",
    code: 0,
  },
  {
    name: "quotes, backslashes and tabs",
    command: "printf '%s|%s\\n' \"a'b\" 'c\\\\d\t\x80'",
    expected: "a'b|c\\\\d\t\x80\n",
    code: 0,
  },
  {
    name: "shell syntax survives",
    command: 'x=\xff; for i in 1 2; do echo -n "$i$x"; done',
    expected: "1\xff2\xff",
    code: 0,
  },
  { name: "multi-line command", command: "echo a\xff\necho b", expected: "a\xff\nb\n", code: 0 },
  { name: "exit code", command: "echo -n \xfe; exit 3", expected: "\xfe", code: 3 },
];

for (const locale of ["C", "C.UTF-8"]) {
  for (const { name, command, expected, code } of CASES) {
    Deno.test(`bashCommandArg() reproduces the bytes in bash (${name}, LC_ALL=${locale})`, async () => {
      const text = decodeSurrogateEscape(latin1(command));
      const arg = bashCommandArg(text);
      assert.notEqual(arg, text, "the command must hold escaped bytes");
      const result = await runBash(arg, locale);
      assert.deepEqual(result, { code, stdout: latin1(expected) });
    });
  }
}

Deno.test("bashCommandArg() leaves valid UTF-8 as it is for bash", async () => {
  const command = "printf '%s' 'caf\u00e9 \ud83d\ude00'";
  assert.equal(bashCommandArg(command), command);
  const result = await runBash(command, "C.UTF-8");
  assert.deepEqual(result, { code: 0, stdout: new TextEncoder().encode("caf\u00e9 \ud83d\ude00") });
});

/**
 * A regular task file is read as it was when it was opened: lines appended meanwhile are not read
 * (and told at the end), a file rewritten in place while it is read is refused before any byte of
 * the new text is used.
 *
 * @module
 */

import assert from "node:assert/strict";
import { openTaskFile, TaskFileChangedError } from "../../adapters/task_source.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function readAll(src: Awaited<ReturnType<typeof openTaskFile>>, step: number, between?: () => void) {
  const out: string[] = [];
  const buf = new Uint8Array(step);
  for (let i = 0;; i++) {
    const n = await src.read(buf);
    if (n === null) break;
    out.push(dec.decode(buf.subarray(0, n)));
    if (i === 0) between?.();
  }
  return out.join("");
}

const TEXT = Array.from({ length: 40 }, (_, i) => `echo line_${i}`).join("\n") + "\n";

Deno.test("task file: lines appended while it is read are not read; since() tells how many bytes", async () => {
  const path = Deno.makeTempFileSync({ prefix: "tasks_append_" });
  try {
    Deno.writeTextFileSync(path, TEXT);
    const src = await openTaskFile(path);
    const text = await readAll(src, 16, () => Deno.writeTextFileSync(path, "echo more\n", { append: true }));
    assert.equal(text, TEXT);
    assert.deepEqual(src.since!(), { kind: "grown", grewBy: 10 });
    src.close();
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("task file: rewritten in place while it is read (a line made longer), the next read refuses it", async () => {
  const path = Deno.makeTempFileSync({ prefix: "tasks_rewrite_" });
  try {
    Deno.writeTextFileSync(path, TEXT);
    const src = await openTaskFile(path);
    const rewrite = () => {
      // As `cat new > Tasks` or an editor's save: same file, truncated and written again.
      const f = Deno.openSync(path, { write: true, truncate: true });
      f.writeSync(enc.encode(TEXT.replace("echo line_3\n", "echo line_3_fixed\n")));
      f.close();
    };
    await assert.rejects(() => readAll(src, 16, rewrite), TaskFileChangedError);
    assert.equal(src.since!().kind, "changed");
    src.close();
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("task file: cut short while it is read, the next read refuses it (no silent end)", async () => {
  const path = Deno.makeTempFileSync({ prefix: "tasks_cut_" });
  try {
    Deno.writeTextFileSync(path, TEXT);
    const src = await openTaskFile(path);
    await assert.rejects(() => readAll(src, 16, () => Deno.truncateSync(path, 20)), TaskFileChangedError);
    src.close();
  } finally {
    Deno.removeSync(path);
  }
});

/**
 * `--mailTo ADDR --mailFreq N` on a real run, against an SMTP server started by the test
 * (`DISBATCH_SMTP=127.0.0.1:PORT`): a progress mail every N tasks and one at the end; with no
 * server the run is neither broken nor slowed and the driver log says so once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCli, tempDir } from "../helpers/run_cli.ts";
import { smtpServer } from "../helpers/smtp_server.ts";

Deno.test("--mailTo: progress mails every --mailFreq tasks and a final mail", async () => {
  await using dir = await tempDir();
  const server = smtpServer();
  try {
    Deno.writeTextFileSync(`${dir.path}/Tasks`, "true\ntrue\nexit 3\ntrue\n");
    const r = await runCli([
      "--mailTo",
      "ops@example.org",
      "--mailFreq",
      "2",
      "-s",
      "localhost:1",
      "-p",
      `${dir.path}/run`,
      "Tasks",
    ], {
      cwd: dir.path,
      env: { DISBATCH_SMTP: `127.0.0.1:${server.port}` },
    });
    assert.equal(r.code, 0, r.stderr);
    const subjects = server.mails.map((m) => /^Subject: (.*)$/m.exec(m.data)?.[1] ?? "");
    assert.deepEqual(server.mails.map((m) => m.to), [["ops@example.org"], ["ops@example.org"], [
      "ops@example.org",
    ]]);
    assert.match(subjects[0]!, /^disbatch run: 2 tasks done, 0 failed$/);
    assert.match(subjects[1]!, /^disbatch run: 4 tasks done, 1 failed$/);
    assert.match(subjects[2]!, /^disbatch run: run ended \(exit 0\), 4 tasks, 1 failed$/);
    assert.match(server.mails[2]!.data, /task 2 \(line 3\) on \S+: exit 3/);
  } finally {
    await server.close();
  }
});

Deno.test("--mailTo without a mail server: said once on the terminal and in the log, the run is not slowed", async () => {
  await using dir = await tempDir();
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  Deno.writeTextFileSync(`${dir.path}/Tasks`, "true\n".repeat(6));
  const r = await runCli([
    "--mailTo",
    "ops@example.org",
    "-s",
    "localhost:2",
    "-p",
    `${dir.path}/run`,
    "Tasks",
  ], {
    cwd: dir.path,
    env: { DISBATCH_SMTP: `127.0.0.1:${port}` },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.wall < 10, `wall ${r.wall}`);
  const log = Deno.readTextFileSync(`${dir.path}/run_driver.log`);
  assert.equal(log.match(/Cannot send mail through 127\.0\.0\.1:\d+/g)?.length, 1, log);
  assert.equal(
    r.stderr.match(/disbatch: warning: Cannot send mail through 127\.0\.0\.1:\d+/g)?.length,
    1,
    r.stderr,
  );
});

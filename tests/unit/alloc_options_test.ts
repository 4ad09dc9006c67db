import assert from "node:assert/strict";
import * as driverOptions from "../../lib/driver_options.ts";
import { allocNodeCount, allocTimeLimit } from "../../lib/alloc_options.ts";

Deno.test("alloc_options: lib/driver_options.ts re-exports allocNodeCount", () => {
  assert.equal(driverOptions.allocNodeCount, allocNodeCount);
});

Deno.test("allocNodeCount() reads -N/--nodes as sbatch does, 1 without it", () => {
  const cases: [string[], number][] = [
    [[], 1],
    [["-n", "8", "-t", "10"], 1],
    [["-N", "2"], 2],
    [["-N3"], 3],
    [["--nodes", "4"], 4],
    [["--nodes=5"], 5],
    [["-N", "2-4"], 4],
    [["--nodes=1,3,2"], 3],
    [["-N", "0"], 1],
    [["-N", "2", "-N", "1"], 1],
    [["-N", "2", "--nodes=6"], 6],
    [["-N"], 1],
    [["-N", "x"], 1],
  ];
  for (const [args, want] of cases) assert.equal(allocNodeCount(args), want, args.join(" "));
});

Deno.test("allocTimeLimit() reads -t/--time as Slurm does: bare minutes or a duration", () => {
  const cases: [string[], number | undefined][] = [
    [[], undefined],
    [["-N", "2", "-n", "8"], undefined],
    [["-t", "30"], 1800],
    [["-t30"], 1800],
    [["--time", "90"], 5400],
    [["--time=1:00:00"], 3600],
    [["-t", "2:30"], 150],
    [["-t", "1-00:00:00"], 86400],
    [["-t", "10m"], 600],
    [["-N", "1", "-t", "5", "-t", "9"], 300],
    [["-t", "soon"], undefined],
    [["-t"], undefined],
  ];
  for (const [args, want] of cases) assert.equal(allocTimeLimit(args), want, args.join(" "));
});

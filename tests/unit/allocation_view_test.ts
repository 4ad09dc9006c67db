import assert from "node:assert/strict";
import * as allocator from "../../lib/allocator.ts";
import {
  allocationNodes,
  allocationNodesLine,
  allocationRows,
  allocationStatus,
} from "../../lib/allocation_view.ts";

Deno.test("allocation_view: lib/allocator.ts re-exports the views", () => {
  assert.equal(allocator.allocationNodes, allocationNodes);
  assert.equal(allocator.allocationRows, allocationRows);
  assert.equal(allocator.allocationStatus, allocationStatus);
});

Deno.test("allocationNodes() counts Slurm's nodes once it runs, else what was asked, else 1", () => {
  const cases: [{ nodeCount?: number; nodesAsked?: number }, number][] = [
    [{}, 1],
    [{ nodesAsked: 3 }, 3],
    [{ nodeCount: 2, nodesAsked: 3 }, 2],
    [{ nodeCount: 4 }, 4],
  ];
  for (const [a, want] of cases) assert.equal(allocationNodes(a), want, JSON.stringify(a));
});

Deno.test("allocationNodesLine() names the job, the count and the nodes", () => {
  const cases: [allocator.Allocation, string][] = [
    [
      { label: "A1", jobId: "12", state: "running", submittedAt: 0, nodes: "n[1-2]", nodeCount: 2 },
      "Allocation A1 (job 12) holds 2 node(s): n[1-2]",
    ],
    [{ label: "A2", state: "running", submittedAt: 0 }, "Allocation A2 holds 1 node(s): ?"],
  ];
  for (const [a, want] of cases) assert.equal(allocationNodesLine(a), want);
});

/**
 * The local context: this machine's cores, when the options name no other resources; and the
 * `local` way to start an engine (a child process of this program), which `-s localhost` uses too.
 *
 * @module
 */

import type { ContextKind, EngineStarter } from "./context_kind.ts";
import { sshSlots } from "./ssh.ts";
import { localEngineEnv } from "./launch_contract.ts";

/**
 * Closes every inherited descriptor above 2, then runs its arguments: tasks see only
 * stdin/stdout/stderr (the reference's close_fds=True), so a pipe the user's shell or CI runner
 * left open is never held by a task's daemon.
 */
export const CLOSE_FDS_AND_EXEC =
  'for f in /proc/$$/fd/*; do f=${f##*/}; [ "$f" -gt 2 ] 2>/dev/null && eval "exec $f>&-"; done; exec "$@"';

/** An engine on this machine: a child process, given the secret in its environment. */
export const LOCAL_STARTER: EngineStarter = {
  via: "local",
  onThisMachine: true,
  endsWithEngine: "always",
  command: (_p, i) => ({
    argv: ["/bin/bash", "-c", CLOSE_FDS_AND_EXEC, "disbatch-engine", ...i.self, ...i.engineArgs],
    env: localEngineEnv(i.secret),
  }),
};

/** All cores of this machine, one engine. */
export const LOCAL_KIND: ContextKind = {
  name: "local",
  applies: () => true,
  plan(o, f) {
    const s = sshSlots(f.cores, { cpusPerTask: o.cpusPerTask, tasksPerNode: o.tasksPerNode });
    return {
      kind: "local",
      label: o.label ?? `SSH${f.contextNumber}`,
      engines: [{ host: f.hostname, slots: s.slots, coresPerSlot: s.coresPerSlot, via: "local" }],
      notes: [
        `disbatch: no -s and no Slurm allocation: running on this machine (${f.hostname}) with ${s.slots} slot(s), ` +
        (o.cpusPerTask === undefined && o.tasksPerNode === undefined
          ? "one per core"
          : `on its ${f.cores} core(s) (${
            [
              o.tasksPerNode !== undefined ? `-t ${o.tasksPerNode}` : "",
              o.cpusPerTask !== undefined ? `-c ${o.cpusPerTask}` : "",
            ]
              .filter(Boolean).join(", ")
          })`) +
        `; use -s localhost:N to choose`,
      ],
      warnings: [],
    };
  },
  starters: [LOCAL_STARTER],
  restartsLostEngines: true,
  timeLimited: false,
  namesItself: false,
  implicit: true,
};

/**
 * The `<uid>_dbUtil.sh` script: the run's handle for adding contexts
 * (`sbatch … dbUtil.sh`, `dbUtil.sh -s host:n`), watching it (`--mon`) and soft-stopping engines
 * or contexts (`--stop`). It holds the run's secret, so the driver writes it with mode 0700.
 *
 * @module
 */

import { vmemGuard } from "./launcher.ts";
import { dbUtilExports, ENGINE_MODE } from "./launch_contract.ts";

function q(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** What the script needs to know. */
export interface DbUtilInput {
  uid: string;
  /** Addresses engines try in order (`host:port`). */
  addresses: string[];
  secret: string;
  /** argv prefix that runs disbatch (binary, or deno run … main.ts). */
  self: string[];
}

/**
 * Render the script.
 * @param i inputs
 * @returns the script text
 */
export function renderDbUtil(i: DbUtilInput): string {
  const self = i.self.map(q).join(" ");
  const script = `${i.uid}_dbUtil.sh`;
  const usage = [
    `usage: ${script} [CONTEXT OPTIONS]`,
    `       sbatch [SBATCH OPTIONS] ${script} [CONTEXT OPTIONS]`,
    `       ${script} --mon | --status | --stop ENGINE|cID|LABEL`,
    "",
    "Adds resources to the running run: the hosts of -s (ssh, or localhost), or the nodes of the Slurm",
    "allocation it runs in. Context options: -s HOST:N[,HOST:N...], -c CORES_PER_TASK,",
    "-t TASKS_PER_NODE, -E VAR, -C TASK_LIMIT, -l LABEL, --fill, --retire-cmd CMD, --no-retire;",
    "-c, -t and -E not given are the driver's.",
    "  --mon      watch the run full-screen (q quits)",
    "  --status   print the run's state and exit",
    "  --stop     let an engine (rank), a context (c1) or the contexts of a label finish softly",
  ];
  return `#!/bin/bash
# disbatch run ${i.uid}
#   sbatch -n 10 ${script}            add the nodes of a Slurm allocation
#   ${script} -s HOST:N [-C N] [-l LABEL]   add ssh hosts (or localhost)
#   ${script} --mon                   watch the run (q quits)
#   ${script} --stop ENGINE|CONTEXT   let an engine (rank) or a context (id or label) finish softly
#   ${script} --status                print the run's state and exit
# This file holds the run's secret: keep it private (mode 0700).
${vmemGuard()}${dbUtilExports({ addresses: i.addresses, secret: i.secret, uid: i.uid })}case "$1" in
  -h|--help) printf '%s\\n' ${usage.map(q).join(" ")}; exit 0 ;;
  --mon) shift; exec ${self} --mon "$@" ;;
  ${ENGINE_MODE}) exec ${self} "$@" ;;
  --stop|--status) exec ${self} --control "$@" ;;
  *) exec ${self} --context ${q(script)} "$@" < /dev/null 1> ${q(i.uid)}_\${BASHPID-$$}_context_launch.log ;;
esac
`;
}

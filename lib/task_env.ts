/**
 * The `DISBATCH_*` variables of a task, exact formats included.
 *
 * @example
 * ```ts
 * import { zeroPad } from "./task_env.ts";
 * zeroPad(-1); // "-00001": Python's f"{x:06d}" pads the sign too
 * ```
 *
 * @module
 */

import type { Task } from "./types.ts";

/**
 * Python's `f"{x:06d}"`: six wide, zero padded, the sign counted in the width, never truncated.
 * @param x an integer
 * @returns the padded text
 */
export function zeroPad(x: number): string {
  return x < 0 ? "-" + String(-x).padStart(5, "0") : String(x).padStart(6, "0");
}

/**
 * Variables that change per task.
 * @param task the task (per-engine tasks use their per-engine index as id)
 * @param slot the cylinder rank (-1 for PERENGINE tasks); null when the slot is not known yet (a task
 * for the launcher's queue, which adds its slot's variables): no `DISBATCH_CYLINDER_RANK` then
 * @returns variables to add to the engine's environment
 */
export function taskEnv(task: Task, slot: number | null): Record<string, string> {
  const vars = {
    DISBATCH_TASKID: String(task.id),
    DISBATCH_TASKID_ZP: zeroPad(task.id),
    DISBATCH_STREAM_INDEX: String(task.line),
    DISBATCH_STREAM_INDEX_ZP: zeroPad(task.line),
    DISBATCH_REPEAT_INDEX: String(task.repeatIndex),
    DISBATCH_REPEAT_INDEX_ZP: zeroPad(task.repeatIndex),
    DISBATCH_ATTEMPT: String(task.attempt ?? 0),
  };
  return slot === null ? vars : { DISBATCH_CYLINDER_RANK: String(slot), ...vars };
}

/** Variables that are the same for every task of one engine. */
export interface EngineEnvInput {
  jobId: string;
  nameTasks: string;
  rank: number;
  coresPerSlot: number;
  address: string;
  /**
   * The engine runs in its node's srun step (one task with the CPUs of all its slots): its tasks'
   * `SLURM_CPUS_PER_TASK` (and `SRUN_CPUS_PER_TASK`) is one slot's cores, as in disBatch's step of one srun task per slot, so
   * that `OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK` and an `srun` inside a task ask for a slot's share.
   */
  srunStep?: boolean;
  /**
   * The engine's own `SHLVL`. Started over ssh it is 0 (each `exec` on the way lowers it), and a
   * `bash -c` task that sees `SSH_CLIENT` with a level below 2 takes itself for the shell sshd started
   * and reads `~/.bashrc` first: each task paid for the user's whole shell set-up (0.8 s with pyenv in
   * it), and its changes to `PATH`. A level of at least 1 makes a task's bash level 2, as a task a
   * user's shell started locally sees.
   */
  shellLevel?: string | undefined;
}

/**
 * Variables set once per engine.
 * @param e engine facts
 * @returns variables
 */
export function engineEnv(e: EngineEnvInput): Record<string, string> {
  const vars: Record<string, string> = {
    DISBATCH_JOBID: e.jobId,
    DISBATCH_NAMETASKS: e.nameTasks,
    DISBATCH_ENGINE_RANK: String(e.rank),
    DISBATCH_CORES_PER_TASK: String(e.coresPerSlot),
    DISBATCH_KVSSTCP_HOST: e.address,
  };
  if (!(Number(e.shellLevel) >= 1)) vars.SHLVL = "1";
  if (e.srunStep) {
    // srun reads SRUN_CPUS_PER_TASK from Slurm 22.05 on, SLURM_CPUS_PER_TASK before; programs read the latter.
    vars.SLURM_CPUS_PER_TASK = vars.SRUN_CPUS_PER_TASK = String(Math.max(1, Math.floor(e.coresPerSlot)));
  }
  return vars;
}

/**
 * `-E VAR`: split each variable's comma list across slots (slot i gets element i, PERENGINE
 * tasks element 0). Fewer values than slots reduces the slots.
 * @param vars names given with -E
 * @param env the engine's environment
 * @param slots slots wanted
 * @returns per-slot values, the usable slot count, warnings, and the variables not set at all
 */
export function splitEnvResources(
  vars: readonly string[],
  env: Record<string, string | undefined>,
  slots: number,
): { perSlot: Record<string, string>[]; slots: number; warnings: string[]; unset: string[] } {
  const warnings: string[] = [];
  let usable = slots;
  const lists = vars.map((v) => {
    const raw = env[v];
    const values = raw === undefined ? [] : raw.split(","); // as Python: "" is one empty value
    if (values.length < usable) {
      warnings.push(
        `-E ${v} has ${values.length} value(s) for ${usable} slot(s): using ${values.length} slot(s)`,
      );
      usable = values.length;
    } else if (values.length > slots) {
      warnings.push(
        `-E ${v} has ${values.length} values for ${slots} slot(s): the extra values are not used`,
      );
    }
    return { v, values };
  });
  const perSlot: Record<string, string>[] = [];
  for (let i = 0; i < usable; i++) {
    const r: Record<string, string> = {};
    for (const { v, values } of lists) r[v] = values[i]!;
    perSlot.push(r);
  }
  return { perSlot, slots: usable, warnings, unset: vars.filter((v) => env[v] === undefined) };
}

/**
 * Why `-E` leaves no slot: its variables that are not set, else one with no value.
 * @param unset from {@linkcode splitEnvResources}
 */
export function noSlotReason(unset: readonly string[]): string {
  return unset.length ? `-E ${unset.join(", ")} is not set` : "an -E variable has no value";
}

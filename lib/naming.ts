/**
 * Run file names: `<dir>/<taskfile>_disBatch_<yymmddHHMMSS>_<NNN>` or an explicit
 * `-p dir/prefix`.
 *
 * @module
 */

/**
 * The task-file name used in file names and `DISBATCH_NAMETASKS`: `basename(name).strip('<>')`,
 * `stdin` for `-`.
 * @param taskFile as given
 * @returns the name
 */
export function taskFileName(taskFile: string): string {
  if (taskFile === "-") return "stdin";
  const base = taskFile.replace(/\/+$/, "").split("/").pop() ?? taskFile;
  return base.replace(/^[<>]+|[<>]+$/g, "");
}

/**
 * `time.strftime("%y%m%d%H%M%S")` of a local time.
 * @param d the parts of the local time
 * @returns 12 digits
 */
export function stampYmdHms(
  d: { year: number; month: number; day: number; hour: number; minute: number; second: number },
): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(d.year % 100)}${p(d.month)}${p(d.day)}${p(d.hour)}${p(d.minute)}${p(d.second)}`;
}

/** How `-p` was interpreted. */
export type PrefixPlan =
  /** `-p` names an existing directory: generated name inside it. */
  | { kind: "dir"; dir: string }
  /** `-p dir/name`: files are `dir/name_…`. */
  | { kind: "prefix"; dir: string; name: string };

/**
 * The uid (path prefix of every run file).
 * @param plan from `-p` (directory already made absolute)
 * @param tfn task-file name
 * @param stamp 12-digit time stamp
 * @param random 0..999
 * @returns absolute uid
 */
export function makeUid(plan: PrefixPlan, tfn: string, stamp: string, random: number): string {
  if (plan.kind === "prefix") return `${plan.dir}/${plan.name}`;
  return `${plan.dir}/${tfn}_disBatch_${stamp}_${String(random).padStart(3, "0")}`;
}

/**
 * `DISBATCH_JOBID`: the basename of the uid.
 * @param uid absolute uid
 * @returns basename
 */
export function jobIdOf(uid: string): string {
  return uid.split("/").pop()!;
}

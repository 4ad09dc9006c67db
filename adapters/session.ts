/**
 * Starting a process as the leader of a session of its own (no controlling terminal, its own
 * process group, out of reach of a signal to the caller's group).
 *
 * @module
 */

/** util-linux `setsid`, when present: the task becomes a session and process-group leader. */
export const SETSID = ["/usr/bin/setsid", "/bin/setsid"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});

/**
 * A command that starts `program` as the leader of a session (and process group) of its own:
 * through util-linux `setsid` where there is one (it execs, so the pid is the program's), else with
 * Deno's `detached: true`, whose fork copies the caller's memory map (7 ms in a 60 MB process,
 * against 0.8 ms through `setsid`).
 * @param program the program to run
 * @param options as for `Deno.Command` (without `detached`)
 * @returns the command, not yet spawned
 */
export function ownSessionCommand(
  program: string,
  options: Omit<Deno.CommandOptions, "detached"> & { args: string[] },
): Deno.Command {
  return SETSID
    ? new Deno.Command(SETSID, { ...options, args: [program, ...options.args] })
    : new Deno.Command(program, { ...options, detached: true });
}

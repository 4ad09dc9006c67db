/**
 * What `/proc` tells of this host's processes: their stat fields, whether one lives, and which
 * hold a given file open. Processes of other users are skipped where their files cannot be read.
 *
 * @module
 */

/**
 * A process's `/proc/PID/stat` fields after its name: the state is [0], the parent [1], the
 * process group [2], the session [3], utime [11], stime [12], the start [19] (clock ticks).
 * @param pid the process
 * @returns them, or undefined when it is gone
 */
export function procStat(pid: string | number): string[] | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/**
 * Whether process `pid` lives on this host.
 * @param pid process id @returns false for a zombie too: a killed driver not yet reaped is dead all the same
 */
export function pidLives(pid: number): boolean {
  const state = procStat(pid)?.[0];
  return state !== undefined && state !== "Z" && state !== "X";
}

/** The pids in `/proc` (none where there is no `/proc`). */
export function procPids(): string[] {
  try {
    return [...Deno.readDirSync("/proc")].map((e) => e.name).filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
}

/**
 * Whether some process holds open one of the files `want` (each `dev:ino`) on a descriptor that
 * `accept` takes (all, by default).
 * @param want files as `${dev}:${ino}` @param accept the process and descriptor of a match
 * @returns true at the first accepted match
 */
export function heldOpen(
  want: ReadonlySet<string>,
  accept: (pid: string, fd: string) => boolean = () => true,
): boolean {
  if (!want.size) return false;
  for (const pid of procPids()) {
    let fds: Deno.DirEntry[];
    try {
      fds = [...Deno.readDirSync(`/proc/${pid}/fd`)];
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const st = Deno.statSync(`/proc/${pid}/fd/${fd.name}`);
        if (want.has(`${st.dev}:${st.ino}`) && accept(pid, fd.name)) return true;
      } catch {
        // closed meanwhile
      }
    }
  }
  return false;
}

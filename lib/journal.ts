/**
 * The run journal (`<uid>_journal`) and the driver's published address (`<uid>_address`): what a
 * driver restarted with `--reattach` needs beyond the task file and the status file.
 *
 * The journal is one text line per event that moves a task or an engine:
 *
 *     H {"argv":[…],"cwd":"…","epoch":"…","host":"…","pid":123,"at":1790000000.1}   a driver started
 *     C 0 {"label":"local","taskLimit":0,"engines":1,"retires":false}               a context registered
 *     J 3 0 2 n1                      engine 3 of context 0 joined with 2 slots on n1
 *     D 3 17,18                       tasks 17 and 18 were sent to engine 3
 *     R 3 18                          engine 3 handed task 18 back
 *     G 3                             engine 3 left (its tasks are done, re-queued or written off)
 *     E 0                             the run ended with exit status 0 (nothing to re-attach to)
 *     T {"by":"…/run2","host":"…","pid":456,"at":…}   a later run resumed this one (`-r`): never re-attach
 *
 * A task's outcome is in the status file, not here: a task is in flight when its last `D` went to
 * an engine that has not left, did not hand it back, and the status file has no line for it.
 *
 * @module
 */

/** What a driver wrote in its `H` line. */
export interface JournalHeader {
  /** The driver's arguments (the first driver's are the run's). */
  argv: string[];
  /** Its working directory. */
  cwd: string;
  /** Its start, as in `<uid>_address`. */
  epoch: string;
  host: string;
  pid: number;
  /** Unix seconds it started. */
  at: number;
  /** The Slurm job it runs in (a batch script or a step of it): once that job is over, it is gone. */
  slurmJob?: string;
}

/** A context as registered. */
export interface JournalContext {
  label: string;
  /** `auto`: the driver's own (from `-s`, Slurm or the local cores); `added`: from `dbUtil.sh`. */
  origin: "auto" | "added";
  taskLimit: number;
  engines: number;
  retires: boolean;
  keepHost?: string;
  endsAt?: number;
  /** The Slurm job its engines run in, when they run in one: once the job is over, none is left. */
  jobId?: string;
}

/** An engine as the journal knows it. */
export interface JournalEngine {
  context: number;
  slots: number;
  host: string;
  /** False once it left. */
  alive: boolean;
}

/** The journal read back. */
export interface JournalState {
  /** The first driver's header (the run's arguments and directory). */
  first: JournalHeader | undefined;
  /** Every driver's header, oldest first. */
  drivers: JournalHeader[];
  contexts: Map<number, JournalContext>;
  engines: Map<number, JournalEngine>;
  /** Task id → the engine it was last sent to, for engines that did not leave (not checked against the status file). */
  sent: Map<number, number>;
  /** Tasks sent to each context (less those handed back), for `-C`. */
  assigned: Map<number, number>;
  /** Lines that could not be read (a torn last line, say). */
  badLines: number;
  /** The exit status the run ended with, when it ended (a later driver start clears it). */
  ended: number | undefined;
  /** The latest run that resumed this one from its status file (`-r`): re-attaching would run tasks twice. */
  resumedBy?: ResumedBy;
}

/** A run that resumed another one (`-r`), as the other one's journal says. */
export interface ResumedBy {
  /** Its uid (prefix path). */
  by: string;
  host: string;
  pid: number;
  /** Unix seconds it started. */
  at: number;
}

/** @returns the journal line that says a later run resumed this one */
export function resumedLine(r: ResumedBy): string {
  return `T ${JSON.stringify(r)}\n`;
}

/**
 * @param h a driver's header @returns its journal line (with the newline)
 */
export function headerLine(h: JournalHeader): string {
  return `H ${JSON.stringify(h)}\n`;
}

/** @returns the journal line of a registered context */
export function contextLine(id: number, c: JournalContext): string {
  return `C ${id} ${JSON.stringify(c)}\n`;
}

/** @returns the journal line of an engine that joined */
export function joinLine(rank: number, context: number, slots: number, host: string): string {
  return `J ${rank} ${context} ${slots} ${host.replace(/\s/g, "_")}\n`;
}

/** @returns the journal line of an engine that left */
export function goneLine(rank: number): string {
  return `G ${rank}\n`;
}

/** @returns the journal line of tasks sent to an engine */
export function sentLine(rank: number, ids: readonly number[]): string {
  return `D ${rank} ${ids.join(",")}\n`;
}

/** @returns the journal line of a run's end */
export function endLine(code: number): string {
  return `E ${code}\n`;
}

/** @returns the journal line of tasks an engine handed back */
export function returnedLine(rank: number, ids: readonly number[]): string {
  return `R ${rank} ${ids.join(",")}\n`;
}

const INT = /^-?\d+$/;

function ids(text: string | undefined): number[] | undefined {
  if (!text) return undefined;
  const out: number[] = [];
  for (const p of text.split(",")) {
    if (!INT.test(p)) return undefined;
    out.push(Number(p));
  }
  return out;
}

/**
 * Read a journal back.
 * @param text the whole file
 * @returns what it says
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replayJournal } from "./journal.ts";
 * const s = replayJournal("J 0 0 2 n1\nD 0 1,2\nR 0 2\n");
 * assert.deepEqual([...s.sent], [[1, 0]]);
 * ```
 */
export function replayJournal(text: string): JournalState {
  const s: JournalState = {
    first: undefined,
    drivers: [],
    contexts: new Map(),
    engines: new Map(),
    sent: new Map(),
    assigned: new Map(),
    badLines: 0,
    ended: undefined,
  };
  /** Tasks per engine, to drop them when it leaves. */
  const byEngine = new Map<number, Set<number>>();
  const lines = text.split("\n");
  // A last line without its newline was torn by the crash: not trusted.
  if (lines.at(-1) !== "") {
    s.badLines++;
    lines.pop();
  }
  for (const line of lines) {
    if (line === "") continue;
    const sp = line.indexOf(" ");
    const tag = line.slice(0, sp);
    const rest = line.slice(sp + 1);
    const f = rest.split(" ");
    let ok = true;
    switch (tag) {
      case "H": {
        try {
          const h = JSON.parse(rest) as JournalHeader;
          if (!Array.isArray(h.argv) || typeof h.cwd !== "string") throw new Error();
          s.first ??= h;
          s.drivers.push(h);
          s.ended = undefined;
        } catch {
          ok = false;
        }
        break;
      }
      case "C": {
        const j = rest.indexOf(" ");
        try {
          if (!INT.test(rest.slice(0, j))) throw new Error();
          s.contexts.set(Number(rest.slice(0, j)), JSON.parse(rest.slice(j + 1)) as JournalContext);
        } catch {
          ok = false;
        }
        break;
      }
      case "E":
        if (INT.test(rest)) s.ended = Number(rest);
        else ok = false;
        break;
      case "T":
        try {
          const r = JSON.parse(rest) as ResumedBy;
          if (typeof r.by !== "string" || typeof r.pid !== "number") throw new Error();
          s.resumedBy = r;
        } catch {
          ok = false;
        }
        break;
      case "J":
        if (f.length === 4 && INT.test(f[0]!) && INT.test(f[1]!) && INT.test(f[2]!)) {
          s.engines.set(Number(f[0]), {
            context: Number(f[1]),
            slots: Number(f[2]),
            host: f[3]!,
            alive: true,
          });
        } else ok = false;
        break;
      case "G":
        if (f.length === 1 && INT.test(f[0]!)) {
          const rank = Number(f[0]);
          const e = s.engines.get(rank);
          if (e) e.alive = false;
          for (const id of byEngine.get(rank) ?? []) if (s.sent.get(id) === rank) s.sent.delete(id);
          byEngine.delete(rank);
        } else ok = false;
        break;
      case "D":
      case "R": {
        const list = ids(f[1]);
        if (f.length !== 2 || !INT.test(f[0]!) || !list) {
          ok = false;
          break;
        }
        const rank = Number(f[0]);
        const ctx = s.engines.get(rank)?.context;
        let mine = byEngine.get(rank);
        if (!mine) byEngine.set(rank, mine = new Set());
        for (const id of list) {
          if (tag === "D") {
            s.sent.set(id, rank);
            mine.add(id);
          } else if (s.sent.get(id) === rank) {
            s.sent.delete(id);
            mine.delete(id);
          }
        }
        if (ctx !== undefined) {
          s.assigned.set(ctx, (s.assigned.get(ctx) ?? 0) + (tag === "D" ? list.length : -list.length));
        }
        break;
      }
      default:
        ok = false;
    }
    if (!ok) s.badLines++;
  }
  return s;
}

/** What `<uid>_address` says: where the run's driver listens now. */
export interface DriverAddress {
  /** The driver's start (changes when a driver is restarted with `--reattach`). */
  epoch: string;
  host: string;
  pid: number;
  /** `host:port` to try, in order. */
  addresses: string[];
}

/**
 * @param a the address @returns the file's text
 */
export function formatDriverAddress(a: DriverAddress): string {
  return JSON.stringify(a) + "\n";
}

/**
 * @param text the file's text @returns the address, or undefined when the text is not one
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDriverAddress, parseDriverAddress } from "./journal.ts";
 * const a = { epoch: "e1", host: "login1", pid: 9, addresses: ["login1:4000"] };
 * assert.deepEqual(parseDriverAddress(formatDriverAddress(a)), a);
 * assert.equal(parseDriverAddress("garbage"), undefined);
 * ```
 */
export function parseDriverAddress(text: string): DriverAddress | undefined {
  try {
    const a = JSON.parse(text) as DriverAddress;
    if (
      typeof a.epoch !== "string" || !Array.isArray(a.addresses) ||
      !a.addresses.every((x) => typeof x === "string")
    ) return undefined;
    return a;
  } catch {
    return undefined;
  }
}

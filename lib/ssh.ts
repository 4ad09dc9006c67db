/**
 * SSH context arithmetic: the `-s HOST:N` list (or `DISBATCH_SSH_NODELIST`) and the number of
 * slots ("cylinders") each host gets. Pure: the caller replaces `localhost`, runs ssh and logs
 * the warnings.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSshNodeList, sshSlots } from "./ssh.ts";
 *
 * const { hosts } = parseSshNodeList(["n1:4,n2:2"]);
 * assert.deepEqual(hosts, [{ host: "n1", cores: 4 }, { host: "n2", cores: 2 }]);
 * assert.deepEqual(sshSlots(4, { cpusPerTask: 2 }), { slots: 2, coresPerSlot: 2 });
 * ```
 *
 * @module
 */

/** One host of an SSH context and the cores the user declared for it. */
export interface SshHost {
  /** Host name as written (`localhost` is NOT replaced here). */
  host: string;
  /** Declared core count, a positive integer (summed when the host is repeated). */
  cores: number;
}

/** Result of {@linkcode parseSshNodeList}: hosts in first-seen order, plus warnings to log. */
export interface SshNodeList {
  hosts: SshHost[];
  warnings: string[];
}

/** Slot arithmetic options; `undefined` means "not given on the command line". */
export interface SlotOptions {
  /** `-c, --cpusPerTask` (may be fractional, as in disBatch). */
  cpusPerTask?: number | undefined;
  /** `-t, --tasksPerNode`: slots per node, not capped by the core count. */
  tasksPerNode?: number | undefined;
}

/** Slots (concurrent tasks) on one host and `DISBATCH_CORES_PER_TASK` for each. */
export interface HostSlots {
  slots: number;
  coresPerSlot: number;
}

/**
 * Parses `-s` items (each a comma list of `HOST:CORECOUNT`) like disBatch's SSHContext: split
 * on the LAST colon (so `a:b:4` is host `a:b`), skip empty items, sum repeated hosts.
 *
 * @param items The `-s` values in order (or `[DISBATCH_SSH_NODELIST]`).
 * @returns The hosts in first-seen order and one warning per repeated host.
 * @throws {SyntaxError} For an item that is not `HOST:N` with N a positive whole number.
 *
 * @example Repeated hosts are summed
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSshNodeList } from "./ssh.ts";
 *
 * const list = parseSshNodeList(["localhost:2,", "localhost:1"]);
 * assert.deepEqual(list.hosts, [{ host: "localhost", cores: 3 }]);
 * assert.equal(list.warnings.length, 1);
 * ```
 */
export function parseSshNodeList(items: readonly string[]): SshNodeList {
  const hosts: SshHost[] = [];
  const warnings: string[] = [];
  for (const raw of items.flatMap((item) => item.split(","))) {
    const item = raw.trim();
    if (item === "") continue;
    const colon = item.lastIndexOf(":");
    const host = colon < 0 ? "" : item.slice(0, colon);
    const count = colon < 0 ? "" : item.slice(colon + 1);
    if (host === "" || /\s/.test(host) || !/^-?[0-9]+$/.test(count)) {
      const what = colon < 0
        ? "no :CORECOUNT"
        : host === ""
        ? "no host before the colon"
        : /\s/.test(host)
        ? "a space in the host name"
        : "a core count that is not a whole number";
      throw new SyntaxError(`-s item "${item}": expected HOST:CORECOUNT, e.g. localhost:4 (${what})`);
    }
    const cores = Number(count);
    if (cores < 1 || !Number.isSafeInteger(cores)) {
      throw new SyntaxError(
        `-s item "${item}": expected HOST:CORECOUNT with a core count of at least 1, e.g. localhost:4`,
      );
    }
    const seen = hosts.find((h) => h.host === host);
    if (seen) {
      // disBatch SSHContext: "Repeated {n} so summing cores"
      warnings.push(
        `Host ${host} is repeated in the -s list: summing its cores ${seen.cores} + ${cores} = ${
          seen.cores + cores
        }`,
      );
      seen.cores += cores;
    } else {
      hosts.push({ host, cores });
    }
  }
  return { hosts, warnings };
}

/**
 * Slots and cores per slot for an SSH host (disBatch SSHContext): `-t` wins and is not capped;
 * otherwise `cores // cpusPerTask` (default 1). `coresPerSlot = cores // slots`, or `cores` when
 * there are no slots (disBatch's `cc // c if c else cc`).
 *
 * @param cores The host's declared core count.
 * @param options `-c` and `-t`, each `undefined` when not given.
 * @returns The slot count (0 when `-c` exceeds `cores`) and `DISBATCH_CORES_PER_TASK`.
 * @throws {RangeError} If `-c` is not a positive number or `-t` not a positive integer.
 *
 * @example `-c 0.5` doubles the slots and floors the cores per slot
 * ```ts
 * import assert from "node:assert/strict";
 * import { sshSlots } from "./ssh.ts";
 *
 * assert.deepEqual(sshSlots(2, { cpusPerTask: 0.5 }), { slots: 4, coresPerSlot: 0 });
 * assert.deepEqual(sshSlots(2, { tasksPerNode: 5 }), { slots: 5, coresPerSlot: 0 });
 * ```
 */
export function sshSlots(cores: number, options: SlotOptions): HostSlots {
  const { cpusPerTask = 1, tasksPerNode } = validateSlotOptions(options);
  const slots = tasksPerNode ?? Math.trunc(floorDiv(cores, cpusPerTask));
  return { slots, coresPerSlot: slots ? Math.floor(cores / slots) : cores };
}

/**
 * Checks `-c`/`-t` values, shared with the Slurm slot rule.
 *
 * @param options The raw options.
 * @returns The same options.
 * @throws {RangeError} If `-c` is not a positive finite number or `-t` not a positive integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateSlotOptions } from "./ssh.ts";
 *
 * assert.throws(() => validateSlotOptions({ cpusPerTask: 0 }), RangeError);
 * ```
 */
export function validateSlotOptions<T extends SlotOptions>(options: T): T {
  const { cpusPerTask, tasksPerNode } = options;
  if (cpusPerTask !== undefined && !(Number.isFinite(cpusPerTask) && cpusPerTask > 0)) {
    throw new RangeError(`Cannot use cpusPerTask ${cpusPerTask}: it must be a positive number`);
  }
  if (tasksPerNode !== undefined && !(Number.isSafeInteger(tasksPerNode) && tasksPerNode > 0)) {
    throw new RangeError(`Cannot use tasksPerNode ${tasksPerNode}: it must be a positive integer`);
  }
  return options;
}

/**
 * Python's float floor division `a // b` (CPython `float_floor_div`), so a fractional `-c`
 * gives disBatch's slot count: `1 // 0.1` is 9 in Python while `Math.floor(1 / 0.1)` is 10.
 *
 * @param a Dividend.
 * @param b Divisor, non-zero.
 * @returns `a // b` as Python computes it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { floorDiv } from "./ssh.ts";
 *
 * assert.equal(floorDiv(1, 0.1), 9);
 * assert.equal(floorDiv(7, 2), 3);
 * ```
 */
export function floorDiv(a: number, b: number): number {
  const mod = a % b;
  let div = (a - mod) / b;
  if (mod !== 0 && (b < 0) !== (mod < 0)) div -= 1;
  if (div === 0) return 0;
  let floored = Math.floor(div);
  if (div - floored > 0.5) floored += 1;
  return floored;
}

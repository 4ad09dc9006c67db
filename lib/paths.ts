/**
 * File paths as `node:path`'s POSIX `resolve` makes them, without loading the runtime's Node
 * compatibility layer at every process's start (it costs tens of milliseconds there).
 *
 * @module
 */

/**
 * An absolute, normalised path: the paths joined from the right until one is absolute (else onto
 * `cwd`), with `.`, `..`, repeated and trailing slashes resolved, as `path.posix.resolve(cwd, ...)`.
 * @param cwd the absolute directory relative paths start from
 * @param paths paths, each relative to the ones before it (empty ones are skipped)
 * @returns the absolute path
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolvePath } from "./paths.ts";
 * assert.equal(resolvePath("/home/u", "runs/../Tasks"), "/home/u/Tasks");
 * assert.equal(resolvePath("/home/u", "/w/", "x/"), "/w/x");
 * ```
 */
export function resolvePath(cwd: string, ...paths: string[]): string {
  let joined = "";
  for (let i = paths.length - 1; i >= -1 && !joined.startsWith("/"); i--) {
    const p = i >= 0 ? paths[i]! : cwd;
    if (!p) continue;
    joined = joined ? `${p}/${joined}` : p;
  }
  const out: string[] = [];
  for (const part of joined.split("/")) {
    if (!part || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/**
 * The directory an absolute, normalised path is in (`/` for `/` itself and its entries).
 * @param abs a path as {@linkcode resolvePath} makes them
 * @returns its parent directory
 */
export function parentDir(abs: string): string {
  return abs.slice(0, abs.lastIndexOf("/")) || "/";
}

/**
 * The program's version, printed by `--version`, written into launchers by `disbatch install` and
 * used to name the directory an installed executable is kept in.
 *
 * @module
 */

/** The version of this disbatch. */
export const VERSION = "0.2.0";

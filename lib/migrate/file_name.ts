/**
 * golang-migrate's migration file names: `VERSION_NAME.(up|down).EXT`, with VERSION an
 * unsigned integer (strata also requires it to fit PostgreSQL's bigint, the version column).
 */

/** What a migration file name says. */
export interface MigrationFileName {
  version: bigint;
  /** The part between the version and the direction, e.g. `create_users`. */
  name: string;
  direction: "up" | "down";
  /** Everything after the direction, e.g. `sql`. */
  ext: string;
}

const PATTERN = /^([0-9]+)_(.*)\.(down|up)\.(.*)$/s;
/** The largest version the version column (bigint) holds. */
export const MAX_VERSION = 9223372036854775807n;

/**
 * Parses a migration file name exactly as golang-migrate does; null when it does not
 * match (such files are ignored) or its version is too large for a bigint column.
 *
 * @example
 * ```ts
 * import { parseMigrationFileName } from "./file_name.ts";
 * console.log(parseMigrationFileName("000002_create_users.up.sql"));
 * // { version: 2n, name: "create_users", direction: "up", ext: "sql" }
 * console.log(parseMigrationFileName("README.md")); // null
 * ```
 */
export function parseMigrationFileName(fileName: string): MigrationFileName | null {
  const match = PATTERN.exec(fileName);
  if (!match) return null;
  const version = BigInt(match[1]);
  if (version > MAX_VERSION) return null;
  return { version, name: match[2], direction: match[3] as "up" | "down", ext: match[4] };
}

/** Why a file that looks like a migration is ignored, or null when it is not one. */
export function whyIgnored(fileName: string): string | null {
  const match = PATTERN.exec(fileName);
  if (match) return BigInt(match[1]) > MAX_VERSION ? "its version does not fit in a bigint" : null;
  if (!/\.sql$/i.test(fileName)) return null;
  if (!/^[0-9]+_/.test(fileName)) return "the name does not start with VERSION_ (digits then an underscore)";
  return "the name does not end in .up.EXT or .down.EXT";
}

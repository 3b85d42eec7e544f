/**
 * `-track NAME:DIR[:TABLE]`: one migration track for `up`, `status`, `validate`, `check` and
 * `verify`. DIR may
 * name an environment variable (`$DB_USER_MIGRATIONS_PATH` or `${...}`, quoted so the
 * shell leaves it to strata); when it is empty or unset the track is skipped, as Fluxbase
 * skips user migrations without a path. TABLE is golang-migrate's: `"schema"."table"`
 * quoted, or one identifier verbatim; default `schema_migrations`.
 */
import { StrataError } from "../db/strata_error.ts";
import { parseTableName, type TableName } from "../migrate/version_table.ts";

/** A parsed `-track`. */
export interface TrackSpec {
  name: string;
  /** The folder, or undefined when the variable it names is empty (skip). */
  dir?: string;
  table: TableName;
  skipReason?: string;
}

/**
 * Parses one `-track` value.
 *
 * @throws {StrataError} USAGE for a malformed value.
 * @example
 * ```ts
 * import { parseTrackSpec } from "./track_spec.ts";
 * console.log(parseTrackSpec('user:$DB_USER_MIGRATIONS_PATH:"migrations"."app"', { DB_USER_MIGRATIONS_PATH: "/migrations/user" }));
 * // { name: "user", dir: "/migrations/user", table: { schema: "migrations", table: "app" } }
 * ```
 */
export function parseTrackSpec(value: string, env: Readonly<Record<string, string | undefined>>): TrackSpec {
  const first = value.indexOf(":");
  if (first <= 0) {
    throw new StrataError("USAGE", `-track needs NAME:DIR[:TABLE], got ${JSON.stringify(value)}`, {
      hint: `Example: -track 'user:$DB_USER_MIGRATIONS_PATH:"migrations"."app"'`,
    });
  }
  const name = value.slice(0, first);
  const rest = value.slice(first + 1);
  const second = rest.indexOf(":");
  const rawDir = second < 0 ? rest : rest.slice(0, second);
  const rawTable = second < 0 ? "" : rest.slice(second + 1);
  if (rawDir === "") throw new StrataError("USAGE", `-track ${name}: the folder is missing (NAME:DIR[:TABLE])`);
  const table = parseTableName(rawTable === "" ? undefined : rawTable, rawTable.startsWith('"'));
  const variable = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$/.exec(rawDir);
  if (variable) {
    const key = variable[1] ?? variable[2];
    const dir = env[key]?.trim();
    return dir ? { name, dir, table } : { name, table, skipReason: `$${key} is empty or not set` };
  }
  return { name, dir: rawDir, table };
}

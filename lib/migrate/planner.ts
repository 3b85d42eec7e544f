/**
 * Which files run, in which direction, to move a database from its version to a target,
 * with golang-migrate's rules (up N, down N, down all, goto V). Pure: data in, steps out.
 */
import { StrataError } from "../db/strata_error.ts";
import type { Migration, MigrationSet } from "./migration_set.ts";

/** One file to run (or, when `file` is missing, a version to move past without running anything). */
export interface Step {
  migration: Migration;
  direction: "up" | "down";
  /** The file to run; undefined when this version has no file for this direction. */
  file?: string;
  /** The version before this step (null: nothing applied). */
  from: bigint | null;
  /** The version after it. */
  to: bigint | null;
}

/** A plan: its steps, and how many a limit asked for but the files could not give. */
export interface Plan {
  steps: Step[];
  /** up N / down N asked for more steps than exist: golang-migrate's "limit N short". */
  short: number;
}

function indexOfVersion(set: MigrationSet, version: bigint | null): number {
  if (version === null) return -1;
  const index = set.migrations.findIndex((m) => m.version === version);
  if (index < 0) {
    throw new StrataError(
      "VERSION_MISSING",
      `no migration found for version ${version}: the database is at ${version} but ${set.source.label} has no file for it`,
      {
        hint:
          `Restore the missing files (e.g. check out the branch that added version ${version}), or point -path at the right folder; ` +
          `'force' to a version the files have only if you know the schema matches it`,
      },
    );
  }
  return index;
}

/**
 * Steps for `up`: every version after the current one, or at most `limit` of them.
 *
 * @throws {StrataError} VERSION_MISSING when the current version has no file.
 * @example
 * ```ts
 * import { memorySource } from "./migration_source.ts";
 * import { loadMigrationSet } from "./migration_set.ts";
 * import { planUp } from "./planner.ts";
 * const set = await loadMigrationSet(memorySource({ "1_a.up.sql": "", "2_b.up.sql": "", "3_c.up.sql": "" }));
 * console.log(planUp(set, 1n).steps.map((s) => s.to)); // [2n, 3n]
 * console.log(planUp(set, null, 5).short); // 2
 * ```
 */
export function planUp(set: MigrationSet, current: bigint | null, limit?: number): Plan {
  const start = indexOfVersion(set, current) + 1;
  const available = set.migrations.slice(start);
  const chosen = limit === undefined ? available : available.slice(0, limit);
  const steps = chosen.map((migration, i): Step => ({
    migration,
    direction: "up",
    ...(migration.up === undefined ? {} : { file: migration.up }),
    from: i === 0 ? current : chosen[i - 1].version,
    to: migration.version,
  }));
  return { steps, short: limit === undefined ? 0 : Math.max(0, limit - chosen.length) };
}

/**
 * Steps for `down`: the current version and below, at most `limit` of them (all when
 * undefined).
 *
 * @throws {StrataError} VERSION_MISSING when the current version has no file.
 */
export function planDown(set: MigrationSet, current: bigint | null, limit?: number): Plan {
  const top = indexOfVersion(set, current);
  const steps: Step[] = [];
  for (let i = top; i >= 0 && (limit === undefined || steps.length < limit); i--) {
    const migration = set.migrations[i];
    steps.push({
      migration,
      direction: "down",
      ...(migration.down === undefined ? {} : { file: migration.down }),
      from: migration.version,
      to: i > 0 ? set.migrations[i - 1].version : null,
    });
  }
  return { steps, short: limit === undefined ? 0 : Math.max(0, limit - steps.length) };
}

/**
 * Steps for `goto V`: up to V or down to V. Both the current version and V must have files.
 *
 * @throws {StrataError} VERSION_MISSING when either version has no file.
 */
export function planGoto(set: MigrationSet, current: bigint | null, target: bigint): Plan {
  const from = indexOfVersion(set, current);
  if (!set.migrations.some((m) => m.version === target)) {
    const versions = set.migrations.map((m) => m.version);
    throw new StrataError(
      "VERSION_MISSING",
      `no migration found for version ${target}: ${set.source.label} has no file for the version goto was asked for`,
      {
        hint: versions.length === 0
          ? "The folder has no migrations"
          : `Its versions run from ${versions[0]} to ${versions[versions.length - 1]}; the database is at ${
            current ?? "no version"
          }`,
      },
    );
  }
  const to = indexOfVersion(set, target);
  if (to > from) return planUp(set, current, to - from);
  if (to < from) return planDown(set, current, from - to);
  return { steps: [], short: 0 };
}

/**
 * The migrations a source holds, ordered by version, with golang-migrate's rules for
 * duplicates and missing halves.
 */
import { StrataError } from "../db/strata_error.ts";
import { parseMigrationFileName, whyIgnored } from "./file_name.ts";
import type { MigrationSource } from "./migration_source.ts";

/** One version: its up and down file names (either may be missing). */
export interface Migration {
  version: bigint;
  /** Name from the up file (or the down file when there is no up). */
  name: string;
  up?: string;
  down?: string;
}

/** A file the source holds that is not a migration, and why. */
export interface IgnoredFile {
  file: string;
  reason: string;
}

/** Every migration in a source, in version order, plus the files that were ignored. */
export interface MigrationSet {
  source: MigrationSource;
  migrations: Migration[];
  /** Files that look like migrations (.sql) but do not match the naming rule. */
  ignored: IgnoredFile[];
}

/**
 * Lists a source and builds its migration set.
 *
 * @throws {StrataError} DUPLICATE_MIGRATION when one version has two up (or two down) files.
 * @example
 * ```ts
 * import { memorySource } from "./migration_source.ts";
 * import { loadMigrationSet } from "./migration_set.ts";
 * const set = await loadMigrationSet(memorySource({ "2_b.up.sql": "", "10_c.up.sql": "", "1_a.up.sql": "" }));
 * console.log(set.migrations.map((m) => m.version)); // [1n, 2n, 10n]
 * ```
 */
export async function loadMigrationSet(source: MigrationSource): Promise<MigrationSet> {
  const names = (await source.list()).slice().sort();
  const byVersion = new Map<bigint, Migration>();
  const ignored: IgnoredFile[] = [];
  for (const file of names) {
    const parsed = parseMigrationFileName(file);
    if (!parsed) {
      const reason = whyIgnored(file);
      if (reason) ignored.push({ file, reason });
      continue;
    }
    let migration = byVersion.get(parsed.version);
    if (!migration) {
      migration = { version: parsed.version, name: parsed.name };
      byVersion.set(parsed.version, migration);
    }
    const existing = migration[parsed.direction];
    if (existing !== undefined) {
      throw new StrataError(
        "DUPLICATE_MIGRATION",
        `duplicate migration file: ${file} (version ${parsed.version} already has ${existing} in ${source.label})`,
        { hint: "Give one of them another version number" },
      );
    }
    migration[parsed.direction] = file;
    if (parsed.direction === "up") migration.name = parsed.name;
  }
  const migrations = [...byVersion.values()].sort((
    a,
    b,
  ) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
  return { source, migrations, ignored };
}

/** The migration with this version, or undefined. */
export function findMigration(set: MigrationSet, version: bigint): Migration | undefined {
  return set.migrations.find((m) => m.version === version);
}

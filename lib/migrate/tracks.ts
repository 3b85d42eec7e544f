/**
 * Several migration tracks, one after another: each its own source and version table
 * (Fluxbase's system migrations into "migrations"."fluxbase", then the user's folder into
 * "migrations"."app"), with one log line per track.
 */
import type { Database } from "../db/database.ts";
import { StrataError } from "../db/strata_error.ts";
import { type MigrateRun, Migrator, type MigratorOptions } from "./migrator.ts";
import type { MigrationSource } from "./migration_source.ts";
import type { TableName } from "./version_table.ts";

/** One track: a name for logs, a source (none: skipped) and its version table. */
export interface Track {
  name: string;
  /** Undefined skips the track (e.g. an unset DB_USER_MIGRATIONS_PATH). */
  source: MigrationSource | undefined;
  table?: TableName;
  /** Why it is skipped, for the log line. */
  skipReason?: string;
}

/** What happened to one track. */
export interface TrackRun {
  name: string;
  skipped: boolean;
  /** The run, when the track ran. */
  run?: MigrateRun;
}

/**
 * Runs `up` on each track in order and stops at the first that fails. `log` gets
 * Fluxbase-style lines: `Running system migrations...`,
 * `Migrations applied successfully source=system version=6`, `No new migrations to apply source=user`.
 *
 * @throws {StrataError} what {@linkcode Migrator.up} throws when nothing ran (lock, dirty, ...), with the track
 *   in its message and in `track`.
 * @example
 * ```ts ignore
 * // On Node or Deno; on an edge runtime, import from "strata/core" and leave the folder track out.
 * import { bundledSource, directorySource, migrateTracks, parseTableName } from "strata";
 * const runs = await migrateTracks(db, [
 *   { name: "system", source: bundledSource(systemBundle), table: parseTableName('"migrations"."fluxbase"', true) },
 *   { name: "user", source: userPath ? directorySource(userPath) : undefined, table: parseTableName('"migrations"."app"', true) },
 * ], { log: (line) => logger.info(line) });
 * ```
 */
export async function migrateTracks(
  db: Database,
  tracks: readonly Track[],
  options: Omit<MigratorOptions, "source" | "table"> & { log?: (line: string) => void } = {},
): Promise<TrackRun[]> {
  const { log = () => {}, ...migratorOptions } = options;
  const runs: TrackRun[] = [];
  log("Running database migrations...");
  for (const track of tracks) {
    if (!track.source) {
      log(`Skipping ${track.name} migrations${track.skipReason ? `: ${track.skipReason}` : ""} source=${track.name}`);
      runs.push({ name: track.name, skipped: true });
      continue;
    }
    log(`Running ${track.name} migrations... path=${track.source.label}`);
    const migrator = new Migrator(db, {
      ...migratorOptions,
      source: track.source,
      ...(track.table ? { table: track.table } : {}),
    });
    let run: MigrateRun;
    try {
      run = await migrator.up();
    } catch (error) {
      // Nothing ran (a dirty database, the lock, a missing folder): the same log line as a
      // failed file, and the track on the error for code that recovers (force, then again).
      log(`Migrations failed source=${track.name}${error instanceof StrataError ? ` error=${error.code}` : ""}`);
      if (error instanceof StrataError && error.code === "SOURCE_NOT_FOUND") {
        // Its hint names -path, which a track does not have.
        const missing = new StrataError("SOURCE_NOT_FOUND", `${track.name} migrations: ${error.message}`, {
          cause: error,
          hint: `Fix the folder (or the variable) that names the ${track.name} track's migrations, or leave the ` +
            "variable empty to skip the track",
        });
        missing.track = track.name;
        throw missing;
      }
      if (error instanceof StrataError) error.track = track.name;
      if (error instanceof Error) error.message = `${track.name} migrations: ${error.message}`;
      throw error;
    }
    runs.push({ name: track.name, skipped: false, run });
    if (run.error) {
      log(`Migrations failed source=${track.name} version=${run.to.version ?? -1}${run.to.dirty ? " dirty=true" : ""}`);
      return runs;
    }
    log(
      run.noChange
        ? `No new migrations to apply source=${track.name}`
        : `Migrations applied successfully source=${track.name} version=${run.to.version ?? -1}`,
    );
  }
  log("Database migrations completed successfully");
  return runs;
}

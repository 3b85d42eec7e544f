/**
 * Several migration tracks, one after another: each its own source and version table
 * (Fluxbase's system migrations into "migrations"."fluxbase", then the user's folder into
 * "migrations"."app"), with one log line per track.
 */
import type { Database } from "../db/database.ts";
import { FileError, StrataError } from "../db/strata_error.ts";
import { type MigrateRun, Migrator, type MigratorOptions } from "./migrator.ts";
import type { MigrationSource } from "./migration_source.ts";
import { quoteIdent } from "../db/quote_ident.ts";
import { storedTable, type TableName, tableNameFor } from "./version_table.ts";

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
 * `Migrations applied successfully source=system version=6`, `No new migrations to apply source=user`,
 * and each track's warnings (`warning: Ignored 7-add.up.sql: ... source=user`), which also
 * reach `onEvent`.
 *
 * @throws {StrataError} what {@linkcode Migrator.up} throws when nothing ran (lock, dirty, ...), with the track
 *   in its message and in `track`; USAGE, before anything runs, when two tracks would share one version table.
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
  await assertSeparateTables(db, tracks);
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
      // Warnings are for people (a misnamed file that will never run, a file's own BEGIN
      // taken off): they go in the log beside the track's lines, as the CLI prints them.
      onEvent: (event) => {
        if (event.type === "warning") log(`warning: ${event.message} source=${track.name}`);
        migratorOptions.onEvent?.(event);
      },
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
      // The same fields as a track where nothing ran (error=CODE), and the file that failed.
      const file = run.error instanceof FileError ? ` file=${logValue(run.error.file)}` : "";
      log(
        `Migrations failed source=${track.name} error=${run.error.code}${file} version=${run.to.version ?? -1}${
          run.to.dirty ? " dirty=true" : ""
        }`,
      );
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

/**
 * Refuses two tracks (that run) with one version table. golang-migrate keeps one version per
 * table, so the second track would take the first one's version for its own: it would skip
 * its own files at or below it and report the first track's files as changed.
 *
 * @throws {StrataError} USAGE naming both tracks and the table.
 */
export async function assertSeparateTables(db: Database, tracks: readonly Track[]): Promise<void> {
  const running = tracks.filter((t) => t.source !== undefined);
  if (running.length < 2) return;
  const names = running.map((t) => tableNameFor(db.urlSettings, t.table));
  let current: string | undefined;
  if (names.some((n) => n.schema === undefined)) {
    const [row] = await db.query<{ schema: string | null }>("SELECT current_schema() AS schema");
    current = row?.schema ?? undefined;
  }
  const seen = new Map<string, string>();
  for (const [i, name] of names.entries()) {
    const schema = name.schema ?? current;
    // No current schema: the Migrator says so when the track runs.
    if (schema === undefined) continue;
    const table = storedTable(schema, name.table);
    const first = seen.get(table.sql);
    if (first !== undefined) {
      throw new StrataError(
        "USAGE",
        `Tracks ${first} and ${running[i].name} both use the version table ${table.sql}: ` +
          `${running[i].name} would take ${first}'s version for its own`,
        {
          hint: "Give each track its own table (golang-migrate's x-migrations-table), e.g. -track " +
            `'${running[i].name}:DIR:"migrations".${quoteIdent(running[i].name)}', or the track's \`table\` ` +
            "option from code",
        },
      );
    }
    seen.set(table.sql, running[i].name);
  }
}

/** A log line's value as is, or quoted when it holds a space or a quote (logfmt). */
function logValue(value: string): string {
  return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
}

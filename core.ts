/**
 * strata's runtime-agnostic core: the migrator, sources (bundles included), version table and
 * lock, the seeder (with a bundle's seeds), schema snapshots, and the database drivers'
 * wrappers. No node: built-ins, no Deno, no process: this entry bundles for edge runtimes
 * (Cloudflare Workers) as well as Node and Deno.
 *
 * @example
 * ```ts ignore
 * import postgres from "postgres";
 * import { memorySource, Migrator, postgresDatabase } from "strata/core";
 * const db = postgresDatabase(postgres(env.DATABASE_URL));
 * const run = await new Migrator(db, { source: memorySource(files) }).up();
 * if (run.error) throw run.error;
 * ```
 * @module
 */
export type { Database, Queryable, Row, ScriptItem, Session } from "./lib/db/database.ts";
export { ScriptError, serverErrorFields } from "./lib/db/database.ts";
export { type DatabaseUrl, DEFAULT_PGLITE_PATH, maskUrl, parseDatabaseUrl } from "./lib/db/database_url.ts";
export { pgliteDatabase, type PgliteDatabaseOptions } from "./lib/db/pglite_database.ts";
export { postgresDatabase, type PostgresDatabaseOptions } from "./lib/db/postgres_database.ts";
export { quoteIdent } from "./lib/db/quote_ident.ts";
export {
  FileError,
  type FileLocation,
  isStrataError,
  type ServerErrorFields,
  StrataError,
  type StrataErrorCode,
} from "./lib/db/strata_error.ts";
export { crc32, lockIdFor, migrationLockId } from "./lib/migrate/advisory_lock.ts";
export { type Bundle, type BundledFiles, type BundledSeeds, bundledSource } from "./lib/migrate/bundled_source.ts";
export { type DroppedObject } from "./lib/migrate/drop_schema.ts";
export { type MigrationFileName, parseMigrationFileName } from "./lib/migrate/file_name.ts";
export { memorySource, type MigrationSource } from "./lib/migrate/migration_source.ts";
export {
  findMigration,
  type IgnoredFile,
  loadMigrationSet,
  type Migration,
  type MigrationSet,
} from "./lib/migrate/migration_set.ts";
export {
  describeDirty,
  dirtyHint,
  type MigrateRun,
  type MigrationResult,
  Migrator,
  type MigratorEvent,
  type MigratorOptions,
  type PlannedRun,
  type PlannedStep,
  type PlanRequest,
} from "./lib/migrate/migrator.ts";
export { type HistoryRow, historyTableFor, readHistory, sha256Hex } from "./lib/migrate/history.ts";
export {
  computeStatus,
  type DirtyExplanation,
  type MigrationState,
  type MigrationStatus,
  type StatusEntry,
} from "./lib/migrate/migration_status.ts";
export { type Plan, planDown, planGoto, planUp, type Step } from "./lib/migrate/planner.ts";
export { migrateTracks, type Track, type TrackRun } from "./lib/migrate/tracks.ts";
export {
  loadParser,
  NO_TRANSACTION_ANNOTATION,
  parseSqlScript,
  type SqlScript,
  type SqlStatement,
} from "./lib/migrate/sql_script.ts";
export { bundledSeeds, type BundledSeedsOptions } from "./lib/seed/bundled_seeds.ts";
export { type DataSeed, defineSeed, type SeedContext, type SeedRow } from "./lib/seed/define_seed.ts";
export { parseJsonSeed } from "./lib/seed/parse_json_seed.ts";
export { runSeeds, type RunSeedsOptions, type SeedFile, type SeedResult, type SeedRun } from "./lib/seed/seeder.ts";
export {
  DEFAULT_TABLE,
  parseTableName,
  readVersion,
  type ResolvedTable,
  type TableName,
  type VersionState,
} from "./lib/migrate/version_table.ts";
export {
  type SchemaSnapshot,
  type SnapshotOptions,
  snapshotSchema,
  type TableRef,
} from "./lib/schema/snapshot_schema.ts";
export { emptySnapshot } from "./lib/schema/snapshot_types.ts";
export {
  diffSnapshots,
  formatDiff,
  type ObjectKind,
  type SchemaChange,
  type SchemaDiff,
} from "./lib/schema/diff_snapshots.ts";
export { diffToSql } from "./lib/schema/diff_to_sql.ts";
export { diffToScript } from "./lib/schema/diff_to_script.ts";
export { snapshotToJson, snapshotToSql } from "./lib/schema/format_snapshot.ts";
export { type MermaidOptions, snapshotToMermaid } from "./lib/schema/erd.ts";
export {
  checkDrift,
  type CheckDriftOptions,
  checkTracksDrift,
  type DriftReport,
  type DriftTrack,
  formatVerifyReport,
  replayMigrations,
  type ReplayOptions,
  type TracksDriftReport,
  type TracksVerifyReport,
  verifyMigrations,
  type VerifyOptions,
  type VerifyReport,
  type VerifyStep,
  type VerifyTrack,
  verifyTracks,
} from "./lib/schema/verify_migrations.ts";

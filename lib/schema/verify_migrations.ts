/**
 * `verify` and `check` as library calls: replay a source's migrations on a scratch
 * database, walk them up / down / up again comparing snapshots, and compare a live
 * database with the schema its applied migrations produce. Everything runs through the
 * {@linkcode Migrator}, so a file that cannot run in a transaction (CREATE INDEX
 * CONCURRENTLY) runs the way `up` runs it.
 */
import type { Database } from "../db/database.ts";
import { StrataError } from "../db/strata_error.ts";
import { historyTableFor } from "../migrate/history.ts";
import { loadMigrationSet, type Migration } from "../migrate/migration_set.ts";
import type { MigrationSource } from "../migrate/migration_source.ts";
import { describeDirty, type MigrateRun, Migrator } from "../migrate/migrator.ts";
import { assertSeparateTables } from "../migrate/tracks.ts";
import { DEFAULT_TABLE, resolveTable, type TableName } from "../migrate/version_table.ts";
import { quoteIdent } from "../db/quote_ident.ts";
import { truncateIdentifier } from "../db/truncate_identifier.ts";
import { diffSnapshots, formatDiff, type SchemaChange, type SchemaDiff } from "./diff_snapshots.ts";
import { snapshotSchema } from "./snapshot_schema.ts";
import { emptySnapshot, type SchemaSnapshot } from "./snapshot_types.ts";

/** Options for {@linkcode replayMigrations}. */
export interface ReplayOptions {
  /** The version table to use on the scratch database (default `schema_migrations`). */
  versionTable?: TableName;
  /**
   * Apply up to and including this version. Undefined: every migration (the latest);
   * null: none (the schema of an empty database).
   */
  to?: bigint | null;
}

/**
 * Applies the source's migrations on an empty scratch database (up to `to`) and snapshots
 * it, leaving out the version and history tables.
 *
 * When the version table is named with a schema the scratch lacks, that schema is created
 * first (golang-migrate never creates it, so it exists wherever the table does).
 *
 * @param scratch An empty database the caller throws away afterwards.
 * @param source The migrations.
 * @param options The version table and the version to stop at.
 * @returns The schema the migrations produce.
 * @throws {StrataError} USAGE when the scratch database already has a version; VERSION_MISSING
 *   when `to` is not a version of the source; MIGRATION_FAILED (naming the file, statement and
 *   line) when a migration fails; what {@linkcode Migrator.up} throws (PARSE_ERROR, ...).
 *
 * @example
 * ```ts
 * import { PGlite } from "@electric-sql/pglite";
 * import { pgliteDatabase } from "../db/pglite_database.ts";
 * import { memorySource } from "../migrate/migration_source.ts";
 * import { replayMigrations } from "./verify_migrations.ts";
 * const scratch = pgliteDatabase(new PGlite());
 * const snapshot = await replayMigrations(scratch, memorySource({ "1_notes.up.sql": "CREATE TABLE notes (id int)" }));
 * console.log(snapshot.objects.tables.map((t) => t.name)); // [ "notes" ]
 * await scratch.close();
 * ```
 */
export async function replayMigrations(
  scratch: Database,
  source: MigrationSource,
  options: ReplayOptions = {},
): Promise<SchemaSnapshot> {
  const table = options.versionTable ?? { table: DEFAULT_TABLE };
  await applyOnScratch(scratch, source, table, options.to);
  return await snapshotSchema(scratch, { exclude: await versionTables(scratch, table) });
}

/** Applies `source` on the scratch database up to `to` (undefined: all; null: none). */
async function applyOnScratch(
  scratch: Database,
  source: MigrationSource,
  table: TableName,
  to: bigint | null | undefined,
): Promise<void> {
  const migrator = await scratchMigrator(scratch, source, table, "replay");
  if (to === null) return;
  const set = await loadMigrationSet(source);
  if (to !== undefined && !set.migrations.some((m) => m.version === to)) {
    throw new StrataError("VERSION_MISSING", `No migration with version ${to} in ${source.label}`, {
      hint: `The versions there are ${describeVersions(set.migrations)}`,
    });
  }
  const run = to === undefined ? await migrator.up() : await migrator.goto(to);
  if (run.error && run.error.code !== "LIMIT_SHORT") throw replayError(run, source);
}

/** How one migration did in {@linkcode verifyMigrations}. */
export interface VerifyStep {
  version: bigint;
  /** The up file's name (the down file's, or `version_name`, when there is no up file). */
  name: string;
  /**
   * - `ok`: up, down and up again, and the schema came back each time
   * - `down does not restore`: after up then down the schema is not what it was before up
   * - `up again differs`: up after down gives another schema than the first up
   * - `up failed` / `down failed`: the file failed (verify stops there)
   * - `no down`: the version has no down file, so it cannot be reverted (not checked)
   */
  result: "ok" | "down does not restore" | "up again differs" | "up failed" | "down failed" | "no down";
  /**
   * For the two "differs" results: `diffSnapshots(expected, actual).changes`. For `down
   * does not restore` an `added` change is an object left over, `removed` one missing.
   */
  changes?: SchemaChange[];
  /** For failures: the migrator's error message (file, statement, line). */
  error?: string;
  /** For `up failed`: whether it was the second up (after the down). */
  again?: boolean;
}

/** What {@linkcode verifyMigrations} found. */
export interface VerifyReport {
  /** True when every migration went up, down and up again with the same schema. */
  ok: boolean;
  /** One entry per migration checked, in version order. */
  steps: VerifyStep[];
  /** Migrations not checked because an earlier one failed outright (always set by verifyMigrations). */
  notChecked?: Array<{ version: bigint; name: string }>;
}

/** Options for {@linkcode verifyMigrations}. */
export interface VerifyOptions {
  /** The version table to use on the scratch database (default `schema_migrations`). */
  versionTable?: TableName;
  /** Called after each migration is checked (progress). */
  onStep?: (step: VerifyStep) => void;
  /**
   * Count a migration with no down file as a failure (default false: golang-migrate
   * accepts a version without a down file and moves past it on `down` without running
   * anything, so a missing down is reported, not failed).
   */
  requireDown?: boolean;
}

/**
 * Checks that every migration can be reverted: on an empty scratch database, for each
 * migration in order, snapshot, up 1, snapshot, down 1, compare with the first snapshot,
 * up 1 again, compare with the second. A down that leaves objects over, drops too much or
 * changes something is reported with the objects named; a file that fails is reported with
 * the migrator's error, and verify stops there (the later migrations cannot run). A
 * "differs" does not stop it: the next migration starts from the schema as it then is.
 *
 * @param scratch An empty database the caller throws away afterwards.
 * @param source The migrations.
 * @param options The version table, a progress callback, and whether a missing down fails.
 * @returns One step per migration and whether all passed.
 * @throws {StrataError} USAGE when the scratch database already has a version (verify runs
 *   every down file: it must never touch a real database); what the migrator throws before
 *   running anything (PARSE_ERROR, DUPLICATE_MIGRATION, ...).
 *
 * @example
 * ```ts
 * import { PGlite } from "@electric-sql/pglite";
 * import { pgliteDatabase } from "../db/pglite_database.ts";
 * import { memorySource } from "../migrate/migration_source.ts";
 * import { formatVerifyReport, verifyMigrations } from "./verify_migrations.ts";
 * const scratch = pgliteDatabase(new PGlite());
 * const report = await verifyMigrations(scratch, memorySource({
 *   "1_notes.up.sql": "CREATE TABLE notes (id int); CREATE TABLE audit_log (id int);",
 *   "1_notes.down.sql": "DROP TABLE notes;",
 * }));
 * console.log(report.ok); // false
 * console.log(formatVerifyReport(report).split("\n")[1].trim()); // left over: table public.audit_log
 * await scratch.close();
 * ```
 */
export async function verifyMigrations(
  scratch: Database,
  source: MigrationSource,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const table = options.versionTable ?? { table: DEFAULT_TABLE };
  const migrator = await scratchMigrator(scratch, source, table, "verify");
  const set = await loadMigrationSet(source);
  const exclude = await versionTables(scratch, table);
  const snapshot = () => snapshotSchema(scratch, { exclude });
  const steps: VerifyStep[] = [];
  const report = (step: VerifyStep): void => {
    steps.push(step);
    options.onStep?.(step);
  };
  const stop = (index: number): VerifyReport => ({
    ok: false,
    steps,
    notChecked: set.migrations.slice(index + 1).map((m) => ({ version: m.version, name: fileOf(m) })),
  });

  let before = await snapshot();
  for (let i = 0; i < set.migrations.length; i++) {
    const migration = set.migrations[i];
    const base = { version: migration.version, name: fileOf(migration) };

    const up = await migrator.up({ limit: 1 });
    if (up.error) {
      report({ ...base, result: "up failed", error: up.error.message });
      return stop(i);
    }
    const after = await snapshot();
    if (migration.down === undefined) {
      report({ ...base, result: "no down" });
      before = after;
      continue;
    }

    const down = await migrator.down({ limit: 1 });
    if (down.error) {
      report({ ...base, result: "down failed", error: down.error.message });
      return stop(i);
    }
    const restored = diffSnapshots(before, await snapshot()).changes;

    const again = await migrator.up({ limit: 1 });
    if (again.error) {
      report(
        restored.length > 0
          ? { ...base, result: "down does not restore", changes: restored, error: `up again: ${again.error.message}` }
          : { ...base, result: "up failed", again: true, error: again.error.message },
      );
      return stop(i);
    }
    const current = await snapshot();
    const differs = diffSnapshots(after, current).changes;
    if (restored.length > 0) report({ ...base, result: "down does not restore", changes: restored });
    else if (differs.length > 0) report({ ...base, result: "up again differs", changes: differs });
    else report({ ...base, result: "ok" });
    before = current;
  }
  const failed = (step: VerifyStep) => step.result !== "ok" && (step.result !== "no down" || options.requireDown);
  return { ok: !steps.some(failed), steps, notChecked: [] };
}

/** One migration track for {@linkcode verifyTracks}. */
export interface VerifyTrack {
  /** How reports name it (`system`, `user`). */
  name: string;
  source: MigrationSource;
  /** Its version table; each track has its own (default `schema_migrations`). */
  versionTable?: TableName;
}

/** What {@linkcode verifyTracks} found. */
export interface TracksVerifyReport {
  /** True when every track's migrations went up, down and up again with the same schema. */
  ok: boolean;
  /** Each track, in order: its report, or none when an earlier track failed outright. */
  tracks: Array<{ name: string; report?: VerifyReport }>;
}

/**
 * {@linkcode verifyMigrations} for migrations kept in several tracks (`up -track`,
 * `migrateTracks`): the tracks are verified in order on one scratch database, each in its
 * own version table, and each ends applied, so a later track's files find what an earlier
 * track made, as they do when they run for real. A track whose file failed outright (up or
 * down) stops there: the tracks after it are not checked (no `report`).
 *
 * @throws {StrataError} USAGE when two tracks name one version table; what
 *   {@linkcode verifyMigrations} throws.
 */
export async function verifyTracks(
  scratch: Database,
  tracks: readonly VerifyTrack[],
  options: Omit<VerifyOptions, "versionTable" | "onStep"> & {
    /** Called after each migration is checked (progress). */
    onStep?: (track: string, step: VerifyStep) => void;
    /** Called when a track has been verified, before the next one starts. */
    onTrack?: (track: string, report: VerifyReport) => void;
  } = {},
): Promise<TracksVerifyReport> {
  const resolved = tracks.map((t) => ({ ...t, versionTable: t.versionTable ?? { table: DEFAULT_TABLE } }));
  await assertSeparateTables(scratch, resolved.map((t) => ({ name: t.name, source: t.source, table: t.versionTable })));
  const results: TracksVerifyReport["tracks"] = [];
  let stopped = false;
  for (const track of resolved) {
    if (stopped) {
      results.push({ name: track.name });
      continue;
    }
    const report = await verifyMigrations(scratch, track.source, {
      versionTable: track.versionTable,
      ...(options.requireDown === undefined ? {} : { requireDown: options.requireDown }),
      ...(options.onStep ? { onStep: (step: VerifyStep) => options.onStep!(track.name, step) } : {}),
    });
    results.push({ name: track.name, report });
    options.onTrack?.(track.name, report);
    // A step with an error stopped verify there: the track is not all applied.
    stopped = report.steps.some((step) => step.error !== undefined);
  }
  return { ok: results.every((r) => r.report?.ok === true), tracks: results };
}

const DOWN_WORDS = { added: "left over", removed: "missing", changed: "changed" } as const;
const AGAIN_WORDS = { added: "extra", removed: "missing", changed: "changed" } as const;

/**
 * The report as text for people: one line per version with its result; under a failure,
 * the objects named (`left over: table public.audit_log`, `missing: index
 * public.users_email_idx`, a changed object with its old and new definition) or the error;
 * then a summary line.
 *
 * @param report What {@linkcode verifyMigrations} returned.
 * @returns The text, ending with a newline.
 *
 * @example
 * ```ts
 * import { formatVerifyReport } from "./verify_migrations.ts";
 * console.log(formatVerifyReport({ ok: true, steps: [{ version: 1n, name: "1_a.up.sql", result: "ok" }] }));
 * // 1_a.up.sql: ok
 * // 1 migration goes up, down and up again with the same schema
 * ```
 */
export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  for (const step of report.steps) {
    lines.push(`${step.name}: ${describeResult(step)}`);
    const words = step.result === "up again differs" ? AGAIN_WORDS : DOWN_WORDS;
    for (const change of step.changes ?? []) {
      lines.push(`    ${words[change.change]}: ${change.kind} ${change.name}`);
      if (change.change === "changed") {
        // formatDiff reads only the changes: its line diff shows the old and new definition.
        const text = formatDiff({ changes: [change], from: emptySnapshot(), to: emptySnapshot() });
        for (const line of text.trimEnd().split("\n").slice(3)) lines.push(`      ${line}`);
      }
    }
    if (step.error !== undefined) {
      for (const [n, line] of step.error.split("\n").entries()) lines.push(`    ${n === 0 ? "error: " : "  "}${line}`);
    }
  }
  const notChecked = report.notChecked ?? [];
  if (notChecked.length > 0) {
    lines.push(`Not checked (an earlier migration failed): ${notChecked.map((m) => m.name).join(", ")}`);
  }
  const total = report.steps.length + notChecked.length;
  const noun = (n: number) => `${n} migration${n === 1 ? "" : "s"}`;
  const count = (result: VerifyStep["result"]) => report.steps.filter((s) => s.result === result).length;
  const noDown = count("no down");
  if (report.ok) {
    const checked = total - noDown;
    const skipped = noDown > 0 ? ` (${noDown} without a down file, not checked)` : "";
    lines.push(
      total === 0
        ? "No migrations to verify"
        : checked === 0
        ? `No migration has a down file: nothing to check${skipped}`
        : `${
          checked === 1 ? "1 migration goes" : `All ${checked} migrations go`
        } up, down and up again with the same schema${skipped}`,
    );
  } else {
    const bad = report.steps.filter((s) => s.result !== "ok" && s.result !== "no down").length;
    lines.push(
      `Verify failed: ${
        bad > 0
          ? `${noun(bad)} of ${total} failed${noDown > 0 ? `, ${noun(noDown)} without a down file` : ""}`
          : `${noun(noDown)} without a down file`
      }${notChecked.length > 0 ? `, ${notChecked.length} not checked` : ""}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function describeResult(step: VerifyStep): string {
  switch (step.result) {
    case "ok":
      return "ok";
    case "down does not restore":
      return "down does not restore the schema";
    case "up again differs":
      return "up after down gives a different schema than the first up";
    case "up failed":
      return step.again ? "up failed after the down" : "up failed";
    case "down failed":
      return "down failed";
    case "no down":
      return "no down file (cannot be reverted; not checked)";
  }
}

/** What {@linkcode checkDrift} found. */
export interface DriftReport {
  /** The live database's version (null: nothing applied). */
  version: bigint | null;
  /** Always false: a dirty database is refused. */
  dirty: boolean;
  /** From the schema the migrations produce (expected) to the live schema. */
  diff: SchemaDiff;
  /** True when the live schema differs from the expected one. */
  drifted: boolean;
  /**
   * Things that can explain a drift without anyone touching the database: applied files
   * changed since, versions below the current one that were never applied.
   */
  warnings: string[];
}

/** Options for {@linkcode checkDrift}. */
export interface CheckDriftOptions {
  /** The live database's version table (default `schema_migrations`); the scratch uses the same. */
  versionTable?: TableName;
}

/**
 * Compares a live database with the schema its applied migrations produce: reads the live
 * version, replays the source up to it on the scratch database, snapshots both (version and
 * history tables left out) and diffs expected → live. An `added` change is in the live
 * database but not in the migrations, `removed` the other way round.
 *
 * @param live The database to check; only read.
 * @param scratch An empty database the caller throws away afterwards.
 * @param source The migrations the live database was migrated with.
 * @param options The version table.
 * @returns The diff and whether the live database drifted.
 * @throws {StrataError} DIRTY when the live database is dirty (fix it first);
 *   VERSION_MISSING when versions applied to the live database are not in the source;
 *   MIGRATION_FAILED when the replay fails; what {@linkcode replayMigrations} throws.
 *
 * @example
 * ```ts
 * import { PGlite } from "@electric-sql/pglite";
 * import { pgliteDatabase } from "../db/pglite_database.ts";
 * import { memorySource } from "../migrate/migration_source.ts";
 * import { Migrator } from "../migrate/migrator.ts";
 * import { checkDrift } from "./verify_migrations.ts";
 * const source = memorySource({ "1_notes.up.sql": "CREATE TABLE notes (id int)" });
 * const live = pgliteDatabase(new PGlite());
 * await new Migrator(live, { source }).up();
 * await live.exec("ALTER TABLE notes ADD COLUMN body text");
 * const scratch = pgliteDatabase(new PGlite());
 * const report = await checkDrift(live, scratch, source);
 * console.log(report.drifted, report.diff.changes.map((c) => `${c.change} ${c.kind} ${c.name}`));
 * // true [ "added column public.notes.body" ]
 * await Promise.all([live.close(), scratch.close()]);
 * ```
 */
export async function checkDrift(
  live: Database,
  scratch: Database,
  source: MigrationSource,
  options: CheckDriftOptions = {},
): Promise<DriftReport> {
  const table = options.versionTable ?? { table: DEFAULT_TABLE };
  const { tracks, diff } = await driftOf(live, scratch, [{ name: "", source, versionTable: table }]);
  const { version, warnings } = tracks[0];
  return { version, dirty: false, diff, drifted: diff.changes.length > 0, warnings };
}

/** One migration track for {@linkcode checkTracksDrift}. */
export interface DriftTrack {
  /** How messages name it (`system`, `user`). */
  name: string;
  source: MigrationSource;
  /** Its version table; each track has its own (default `schema_migrations`). */
  versionTable?: TableName;
}

/** The result of {@linkcode checkTracksDrift}. */
export interface TracksDriftReport {
  /** Each track's live version (null: nothing applied) and its warnings, in order. */
  tracks: Array<{ name: string; version: bigint | null; warnings: string[] }>;
  /** From the schema the tracks' migrations produce, one after another, to the live schema. */
  diff: SchemaDiff;
  drifted: boolean;
}

/**
 * {@linkcode checkDrift} for a database migrated by several tracks (`up -track`, or
 * `migrateTracks`), each with its own folder and version table: every track's applied
 * migrations are replayed on the scratch database in the tracks' order, each to its own live
 * version, and the result is compared with the live schema. A later track may use what an
 * earlier one made, as it did when it was applied.
 *
 * @throws {StrataError} USAGE when two tracks name one version table; DIRTY, VERSION_MISSING
 *   and MIGRATION_FAILED as {@linkcode checkDrift}, their messages naming the track.
 */
export async function checkTracksDrift(
  live: Database,
  scratch: Database,
  tracks: readonly DriftTrack[],
): Promise<TracksDriftReport> {
  const resolved = tracks.map((t) => ({ ...t, versionTable: t.versionTable ?? { table: DEFAULT_TABLE } }));
  await assertSeparateTables(live, resolved.map((t) => ({ name: t.name, source: t.source, table: t.versionTable })));
  const { tracks: states, diff } = await driftOf(live, scratch, resolved);
  return { tracks: states, diff, drifted: diff.changes.length > 0 };
}

/**
 * Reads each track's live state (refusing a dirty one and applied versions without files),
 * replays them in order on the scratch database, and diffs expected -> live.
 */
async function driftOf(
  live: Database,
  scratch: Database,
  tracks: ReadonlyArray<{ name: string; source: MigrationSource; versionTable: TableName }>,
): Promise<{ tracks: Array<{ name: string; version: bigint | null; warnings: string[] }>; diff: SchemaDiff }> {
  const states: Array<Awaited<ReturnType<typeof appliedState>>> = [];
  for (const track of tracks) states.push(await appliedState(live, track));
  for (const [i, track] of tracks.entries()) {
    try {
      await applyOnScratch(scratch, track.source, track.versionTable, states[i].version);
    } catch (error) {
      if (tracks.length < 2 || !(error instanceof StrataError) || error.code !== "MIGRATION_FAILED") throw error;
      // Not an empty database: the tracks before this one made what it found there.
      const named = new StrataError(error.code, `${error.message}${trackWords(track.name)}`, {
        cause: error,
        hint: `The tracks replay in the order given (${tracks.map((t) => t.name).join(", ")}), each on what ` +
          "the ones before it made: a track this one needs may be missing or after it; if not, fix the file",
      });
      named.track = track.name;
      throw named;
    }
  }
  const excluded = async (db: Database) =>
    (await Promise.all(tracks.map((t) => versionTables(db, t.versionTable)))).flat();
  const expected = await snapshotSchema(scratch, { exclude: await excluded(scratch) });
  const actual = await snapshotSchema(live, { exclude: await excluded(live) });
  for (const [i, track] of tracks.entries()) {
    const now = await states[i].migrator.version();
    if (now.version !== states[i].version || now.dirty) {
      throw new StrataError(
        "INTERRUPTED",
        `${live.label}${trackWords(track.name)} moved from version ${states[i].version ?? -1} to ${now.version ?? -1}${
          now.dirty ? " (dirty)" : ""
        } while it was checked`,
        { hint: "Run check again once the migration is done" },
      );
    }
  }
  return {
    tracks: tracks.map((t, i) => ({ name: t.name, version: states[i].version, warnings: states[i].warnings })),
    diff: diffSnapshots(expected, actual),
  };
}

/** " (track NAME)" for a named track, nothing for a lone folder. */
function trackWords(name: string): string {
  return name === "" ? "" : ` (track ${name})`;
}

/** A track's live version, refused when dirty or when applied versions have no file; its warnings. */
async function appliedState(
  live: Database,
  track: { name: string; source: MigrationSource; versionTable: TableName },
): Promise<{ migrator: Migrator; version: bigint | null; warnings: string[] }> {
  const { source } = track;
  const migrator = new Migrator(live, { source, table: track.versionTable });
  const status = await migrator.status();
  const { version, dirty } = status.version;
  if (dirty) {
    throw new StrataError(
      "DIRTY",
      `Dirty database version ${version ?? -1} on ${live.label}${
        trackWords(track.name)
      }: fix it first, then check for drift`,
      { hint: describeDirty(status.dirty!) },
    );
  }
  const set = await loadMigrationSet(source);
  const missing = status.missingFiles.map((e) => e.version);
  if (version !== null && !set.migrations.some((m) => m.version === version) && !missing.includes(version)) {
    missing.push(version);
  }
  if (missing.length > 0) {
    missing.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    throw new StrataError(
      "VERSION_MISSING",
      `Applied migration${missing.length === 1 ? "" : "s"} missing from ${source.label}${trackWords(track.name)}: ${
        missing.length === 1 ? "version" : "versions"
      } ${missing.join(", ")} (the database is at version ${version})`,
      {
        hint: "check compares the database with the schema the files produce, so it needs every applied file: point " +
          (track.name === "" ? "-path" : `-track ${track.name}:DIR`) +
          " at the folder the database was migrated from (or check out the branch that added them)",
      },
    );
  }
  const warnings = [
    ...status.changed.map((e) =>
      `${e.up} changed since it was applied: the expected schema comes from the file as it is now`
    ),
    ...status.outOfOrder.map((e) =>
      `${e.up ?? `${e.version}_${e.name}`} is below the current version but was never applied: ` +
      "the expected schema includes it"
    ),
  ];
  return { migrator, version, warnings };
}

/** A migrator for an empty scratch database, its version table's schema made when missing. */
async function scratchMigrator(
  scratch: Database,
  source: MigrationSource,
  table: TableName,
  what: "verify" | "replay",
): Promise<Migrator> {
  const migrator = new Migrator(scratch, { source, table, client: `strata ${what} (scratch database)` });
  const state = await migrator.version();
  if (state.version !== null || state.dirty) {
    throw new StrataError(
      "USAGE",
      `${scratch.label} is at version ${state.version ?? -1}${
        state.dirty ? " (dirty)" : ""
      }: ${what} needs an empty scratch database`,
      {
        hint: what === "verify"
          ? "verify runs every down file, so it never runs on a database that holds migrations"
          : "Pass a fresh database (the scratch is created and dropped for you by the CLI)",
      },
    );
  }
  if (table.schema !== undefined) {
    const rows = await scratch.query("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1", [
      truncateIdentifier(table.schema),
    ]);
    if (rows.length === 0) await scratch.exec(`CREATE SCHEMA ${quoteIdent(table.schema)}`);
  }
  return migrator;
}

/** The version table and its history sibling, to leave out of a snapshot. */
async function versionTables(db: Database, table: TableName): Promise<Array<{ schema: string; table: string }>> {
  const resolved = await resolveTable(db, table).catch(() => undefined);
  if (!resolved) return [];
  const history = historyTableFor(resolved);
  return [{ schema: resolved.schema, table: resolved.table }, { schema: history.schema, table: history.table }];
}

function fileOf(migration: Migration): string {
  return migration.up ?? migration.down ?? `${migration.version}_${migration.name}`;
}

function describeVersions(migrations: readonly Migration[]): string {
  if (migrations.length === 0) return "none (the source is empty)";
  if (migrations.length <= 6) return migrations.map((m) => m.version).join(", ");
  return `${migrations[0].version} to ${migrations[migrations.length - 1].version} (${migrations.length} files)`;
}

function replayError(run: MigrateRun, source: MigrationSource): StrataError {
  const error = run.error!;
  return new StrataError(
    error.code,
    `Replaying ${source.label} on a scratch database failed: ${error.message}`,
    {
      cause: error,
      hint:
        "The migrations do not apply to an empty database; fix the file (strata verify shows each file's up and down)",
    },
  );
}

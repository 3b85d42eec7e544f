/**
 * The migrator: golang-migrate's operations (up, down, goto, force, version, drop) on a
 * {@linkcode Database}, with a transaction per file, parser-exact statements, a polled
 * advisory lock and results per migration instead of a throw half-way.
 */
import { type Database, ScriptError, type Session } from "../db/database.ts";
import { FileError, type ServerErrorFields, StrataError } from "../db/strata_error.ts";
import { acquireLock, migrationLockId, releaseLock } from "./advisory_lock.ts";
import { type DroppedObject, dropCurrentSchema } from "./drop_schema.ts";
import type { MigrationSource } from "./migration_source.ts";
import { loadMigrationSet, type MigrationSet } from "./migration_set.ts";
import { type Plan, planDown, planGoto, planUp, type Step } from "./planner.ts";
import { locateInScript, parseSqlScript, type SqlScript } from "./sql_script.ts";
import {
  ensureVersionTable,
  readVersion,
  type ResolvedTable,
  resolveTable,
  setVersionStatements,
  type TableName,
  type VersionState,
  writeVersion,
} from "./version_table.ts";

/** Options for a {@linkcode Migrator}. */
export interface MigratorOptions {
  /** Where the migration files come from. */
  source: MigrationSource;
  /** The version table (default `schema_migrations` in current_schema()). */
  table?: TableName;
  /** How long to wait for the advisory lock, in ms (default 15,000), counted from `startedAt`. */
  lockTimeoutMs?: number;
  /** When the caller began opening the database (ms since the epoch); default: now. */
  startedAt?: number;
  /**
   * golang-migrate's database name for the lock id. Default: the Database's `lockName`
   * (the URL path, `/mydb`, as golang-migrate's CLI has it), else current_database().
   */
  lockName?: string;
  /** `statement_timeout` for the session, in ms (`x-statement-timeout`). */
  statementTimeoutMs?: number;
  /** Aborting stops after the migration that is running. */
  signal?: AbortSignal;
  /** Progress, for logs. */
  onEvent?: (event: MigratorEvent) => void;
}

/** What happened to one migration file. */
export interface MigrationResult {
  version: bigint;
  name: string;
  direction: "up" | "down";
  /** The file, or undefined when the version has none for this direction. */
  file?: string;
  status: "applied" | "failed" | "not run";
  /** Whether it ran inside one transaction with its version update. */
  transactional: boolean;
  /** Wall time in ms, for applied and failed files. */
  durationMs?: number;
  /** Number of statements in the file. */
  statements?: number;
  /** A note for people: empty file, no down file, unwrapped BEGIN/COMMIT. */
  warning?: string;
}

/** The outcome of up / down / goto. */
export interface MigrateRun {
  /** The version before. */
  from: VersionState;
  /** The version after (dirty when a non-transactional file failed). */
  to: VersionState;
  /** One entry per planned file, in order. */
  results: MigrationResult[];
  /** True when nothing was planned (golang-migrate's "no change"). */
  noChange: boolean;
  /** The failure, when one happened; results say what did run. */
  error?: StrataError;
}

/** Progress events. */
export type MigratorEvent =
  | { type: "lock-wait"; lockId: bigint }
  | { type: "migration"; result: MigrationResult }
  | { type: "warning"; message: string };

interface Context {
  session: Session;
  table: ResolvedTable;
}

const DEFAULT_LOCK_TIMEOUT_MS = 15_000;

/**
 * Runs golang-migrate's operations against one database and one source.
 *
 * @example
 * ```ts ignore
 * import { Migrator, memorySource } from "strata/core";
 * const migrator = new Migrator(db, { source: memorySource({ "1_users.up.sql": "CREATE TABLE users (id int)" }) });
 * const run = await migrator.up();
 * if (run.error) throw run.error;
 * console.log(run.to.version); // 1n
 * ```
 */
export class Migrator {
  readonly #db: Database;
  readonly #options: MigratorOptions;
  readonly #startedAt: number;

  constructor(db: Database, options: MigratorOptions) {
    this.#db = db;
    this.#options = options;
    this.#startedAt = options.startedAt ?? Date.now();
  }

  /** Loads the source's migration set (file names only). */
  loadSet(): Promise<MigrationSet> {
    return loadMigrationSet(this.#options.source);
  }

  /**
   * Applies every pending migration, or the next `limit` of them.
   *
   * @returns the run; `error` is set on failure (MIGRATION_FAILED, DIRTY, LIMIT_SHORT, VERSION_MISSING, ...).
   */
  up(options: { limit?: number } = {}): Promise<MigrateRun> {
    return this.#migrate((set, state) => planUp(set, state.version, options.limit));
  }

  /** Reverts the applied migrations, or the last `limit` of them. */
  down(options: { limit?: number } = {}): Promise<MigrateRun> {
    return this.#migrate((set, state) => planDown(set, state.version, options.limit));
  }

  /** Moves up or down to `version`; both it and the current version must have files. */
  goto(version: bigint): Promise<MigrateRun> {
    return this.#migrate((set, state) => planGoto(set, state.version, version));
  }

  /**
   * Sets the version without running anything and clears dirty (`force -1` empties the
   * table). Allowed on a dirty database: it is the way out.
   *
   * @throws {StrataError} USAGE when version < -1.
   */
  async force(version: bigint): Promise<VersionState> {
    if (version < -1n) throw new StrataError("USAGE", `Version must be -1 or more, got ${version}`);
    return await this.#withLock(async ({ session, table }) => {
      await ensureVersionTable(session, table);
      const target = version < 0n ? null : version;
      await writeVersion(session, table, target, false);
      return { version: target, dirty: false };
    });
  }

  /** Reads the version without taking the lock or creating the table. */
  async version(): Promise<VersionState> {
    return await this.#db.withSession(async (session) => {
      const table = await resolveTable(session, this.#options.table ?? { table: "schema_migrations" });
      return await readVersion(session, table);
    });
  }

  /**
   * Drops every object of the current schema (golang-migrate's `drop`, extended to views,
   * sequences, routines and types), and empties the version table if it lives elsewhere.
   */
  async drop(): Promise<DroppedObject[]> {
    return await this.#withLock(async ({ session, table }) => {
      const dropped = await dropCurrentSchema(session);
      const [row] = await session.query<{ schema: string }>("SELECT current_schema() AS schema");
      if (row?.schema !== table.schema) {
        const { version } = await readVersion(session, table);
        if (version !== null) await writeVersion(session, table, null, false);
      }
      return dropped;
    });
  }

  async #withLock<T>(fn: (context: Context) => Promise<T>): Promise<T> {
    const deadline = this.#startedAt + (this.#options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    return await this.#db.withSession(async (session) => {
      if (this.#options.statementTimeoutMs !== undefined) {
        await session.query("SELECT set_config('statement_timeout', $1, false)", [String(this.#options.statementTimeoutMs)]);
      }
      const table = await resolveTable(session, this.#options.table ?? { table: "schema_migrations" });
      let lockName = this.#options.lockName ?? this.#db.lockName;
      if (lockName === undefined) {
        const [row] = await session.query<{ name: string }>("SELECT current_database() AS name");
        lockName = row.name;
      }
      const id = migrationLockId(table.schema, table.table, lockName);
      await acquireLock(session, id, {
        deadline,
        ...(this.#options.signal ? { signal: this.#options.signal } : {}),
        onWait: () => this.#options.onEvent?.({ type: "lock-wait", lockId: id }),
      });
      try {
        return await fn({ session, table });
      } finally {
        await releaseLock(session, id).catch(() => {});
      }
    });
  }

  #migrate(plan: (set: MigrationSet, state: VersionState) => Plan): Promise<MigrateRun> {
    return this.#withLock(async ({ session, table }) => {
      await ensureVersionTable(session, table);
      const from = await readVersion(session, table);
      const set = await this.loadSet();
      for (const ignored of set.ignored) {
        this.#warn(`Ignored ${ignored.file}: ${ignored.reason}`);
      }
      if (from.dirty) {
        throw new StrataError("DIRTY", `Dirty database version ${from.version ?? -1}. Fix and force version.`, {
          hint: dirtyHint(from.version, previousVersion(set, from.version)),
        });
      }
      const { steps, short } = plan(set, from);
      if (steps.length === 0) {
        const run: MigrateRun = { from, to: from, results: [], noChange: true };
        if (short > 0) run.error = new StrataError("LIMIT_SHORT", `limit ${short} short`);
        return run;
      }
      // Every file is read and parsed before the first one runs: a syntax error in the third
      // file stops the run before the first has changed anything.
      const scripts = new Map<string, SqlScript>();
      for (const step of steps) {
        if (step.file === undefined) continue;
        const text = await this.#options.source.read(step.file);
        scripts.set(step.file, await parseSqlScript(text, step.file));
      }
      const results: MigrationResult[] = steps.map((step) => ({
        version: step.migration.version,
        name: step.migration.name,
        direction: step.direction,
        ...(step.file === undefined ? {} : { file: step.file }),
        status: "not run",
        transactional: step.file === undefined ? true : scripts.get(step.file)!.transactional,
        ...(step.file === undefined ? {} : { statements: scripts.get(step.file)!.statements.length }),
      }));
      let to = from;
      for (let i = 0; i < steps.length; i++) {
        if (this.#options.signal?.aborted) {
          return {
            from,
            to,
            results,
            noChange: false,
            error: new StrataError("INTERRUPTED", `Interrupted: stopped at version ${to.version ?? -1}, ${steps.length - i} migration(s) not run`),
          };
        }
        const step = steps[i];
        const result = results[i];
        const script = step.file === undefined ? undefined : scripts.get(step.file)!;
        const started = performance.now();
        try {
          const warning = await this.#runStep(session, table, step, script);
          if (warning) {
            result.warning = warning;
            this.#warn(warning);
          }
          result.status = "applied";
          result.durationMs = performance.now() - started;
          to = { version: step.to, dirty: false };
          this.#options.onEvent?.({ type: "migration", result });
        } catch (error) {
          result.status = "failed";
          result.durationMs = performance.now() - started;
          this.#options.onEvent?.({ type: "migration", result });
          const dirty = script !== undefined && !script.transactional;
          to = dirty ? { version: step.to, dirty: true } : to;
          return { from, to, results, noChange: false, error: asStrataError(error) };
        }
      }
      const run: MigrateRun = { from, to, results, noChange: false };
      if (short > 0) run.error = new StrataError("LIMIT_SHORT", `limit ${short} short`);
      return run;
    });
  }

  async #runStep(session: Session, table: ResolvedTable, step: Step, script: SqlScript | undefined): Promise<string | undefined> {
    const label = `${step.migration.version}_${step.migration.name}`;
    if (script === undefined || script.statements.length === 0) {
      await writeVersion(session, table, step.to, false);
      return script === undefined
        ? `No ${step.direction} file for version ${step.migration.version} (${label}): version moved to ${step.to ?? -1} without running anything`
        : `${step.file} is empty: version moved to ${step.to ?? -1} without running anything`;
    }
    if (script.transactional) {
      const statements = script.statements.map((s) => s.sql);
      const batch = ["BEGIN", ...statements, ...setVersionStatements(table, step.to, false), "COMMIT"];
      try {
        await session.execScript(batch);
      } catch (error) {
        await session.exec("ROLLBACK").catch(() => {});
        if (!(error instanceof ScriptError)) throw connectionLost(error, step);
        const index = error.index - 1;
        if (index >= 0 && index < statements.length) {
          throw statementError(step, script, index, error.server, error, "transaction");
        }
        const what = index < 0 ? "could not start its transaction" : error.index === batch.length - 1
          ? "could not commit (a deferred constraint or trigger failed at COMMIT)"
          : "ran, but the version table could not be updated";
        throw new FileError("MIGRATION_FAILED", `${what}: ${error.server.message}`, { file: step.file! }, {
          cause: error,
          server: error.server,
          hint: `Nothing of ${step.file} was kept; the database is still at version ${step.from ?? -1}`,
        });
      }
      return script.unwrapped ? `${step.file}: its own BEGIN/COMMIT were taken off; it ran in strata's transaction` : undefined;
    }
    // Statements that cannot run in a transaction block: golang-migrate's dirty protocol,
    // one statement at a time so a failure names its statement.
    await writeVersion(session, table, step.to, true);
    for (let i = 0; i < script.statements.length; i++) {
      try {
        await session.exec(script.statements[i].sql);
      } catch (error) {
        const server = serverFieldsOf(error);
        if (!server) throw connectionLost(error, step);
        throw statementError(step, script, i, server, error, "dirty");
      }
    }
    await writeVersion(session, table, step.to, false);
    return undefined;
  }

  #warn(message: string): void {
    this.#options.onEvent?.({ type: "warning", message });
  }
}

function serverFieldsOf(error: unknown): ServerErrorFields | undefined {
  if (error instanceof ScriptError) return error.server;
  const e = error as Record<string, unknown> | null;
  if (!e || typeof e.severity !== "string" || typeof e.code !== "string") return undefined;
  return {
    message: String(e.message),
    code: e.code,
    ...(typeof e.detail === "string" ? { detail: e.detail } : {}),
    ...(typeof e.hint === "string" ? { hint: e.hint } : {}),
    ...(Number(e.position) > 0 ? { position: Number(e.position) } : {}),
    ...(typeof e.where === "string" ? { where: e.where } : {}),
  };
}

function statementError(
  step: Step,
  script: SqlScript,
  index: number,
  server: ServerErrorFields,
  cause: unknown,
  mode: "transaction" | "dirty",
): FileError {
  const statement = script.statements[index];
  const { line, column } = locateInScript(script, index, server.position);
  let reason = server.message;
  if (server.detail) reason += `, ${server.detail}`;
  if (server.where && !server.position) reason += ` (${server.where.split("\n")[0]})`;
  const version = step.to ?? -1;
  const hint = mode === "transaction"
    ? `Nothing of ${step.file} was kept: the database is still at version ${step.from ?? -1}, clean. Fix the file and run the command again`
    : `${step.file} runs outside a transaction: statements before ${index + 1} stay applied and the database is ` +
      `dirty at version ${version}. ${dirtyHint(step.to, step.from)}`;
  return new FileError("MIGRATION_FAILED", `migration failed: ${reason}`, {
    file: step.file!,
    statement: index + 1,
    line,
    column,
    sql: statement.sql,
    excerpt: script.text.split("\n")[line - 1] ?? "",
  }, { cause, server, hint });
}

function connectionLost(error: unknown, step: Step): StrataError {
  if (error instanceof StrataError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StrataError("MIGRATION_FAILED", `${step.file ?? step.migration.name}: ${message}`, {
    cause: error,
    hint: "The connection failed while the migration ran; a transactional file was rolled back by the server. Run 'version' to see where the database stands",
  });
}

function asStrataError(error: unknown): StrataError {
  if (error instanceof StrataError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new StrataError("MIGRATION_FAILED", message, { cause: error });
}

/**
 * The two ways out of a dirty version, as commands: `force V` when the failed file's
 * changes are all in place, `force OTHER` when they are all undone.
 */
export function dirtyHint(version: bigint | null, other: bigint | null): string {
  return `Repair the database by hand, then run 'force ${version ?? -1}' if the failed migration's changes are all in place, ` +
    `or 'force ${other ?? -1}' if none of them are, and run 'up' again`;
}

function previousVersion(set: MigrationSet, version: bigint | null): bigint | null {
  let previous: bigint | null = null;
  for (const m of set.migrations) {
    if (version !== null && m.version >= version) break;
    previous = m.version;
  }
  return previous;
}

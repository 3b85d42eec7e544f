/**
 * The migrator: golang-migrate's operations (up, down, goto, force, version, drop) on a
 * {@linkcode Database}, with a transaction per file, parser-exact statements, a polled
 * advisory lock, a history with checksums, and results per migration instead of a throw
 * half-way.
 */
import {
  ALREADY_EXISTS,
  connectionGone,
  type Database,
  type Queryable,
  ScriptError,
  type ScriptItem,
  scriptLeftTransactionOpen,
  serverErrorFields,
  type Session,
} from "../db/database.ts";
import { FileError, type ServerErrorFields, StrataError } from "../db/strata_error.ts";
import { acquireLock, migrationLockId, releaseLock } from "./advisory_lock.ts";
import type { DroppedObject } from "./drop_schema.ts";
import {
  ensureHistoryTable,
  historyNotPermitted,
  historyTableExists,
  historyTableFor,
  readHistoryRowsIfPermitted,
  recordApplied,
  recordFailure,
  recordReverted,
  recordStarted,
  sha256HexSync,
} from "./history.ts";
import type { MigrationSource } from "./migration_source.ts";
import { loadMigrationSet, type MigrationSet } from "./migration_set.ts";
import {
  computeStatus,
  type DirtyExplanation,
  type MigrationStatus,
  type RunningMigration,
  type StatusEntry,
} from "./migration_status.ts";
import { type Plan, planDown, planGoto, planUp, type Step } from "./planner.ts";
import { loadParser, parseSqlScript, scriptError, type SqlScript, type SqlStatement } from "./sql_script.ts";
import {
  ensureVersionTable,
  inTransaction,
  readVersion,
  readVersionRow,
  type ResolvedTable,
  resolveTable,
  setVersionStatements,
  type TableName,
  tableNameFor,
  tablesExist,
  type VersionState,
  versionTableExists,
  writeVersion,
} from "./version_table.ts";

/** Options for a {@linkcode Migrator}. */
export interface MigratorOptions {
  /** Where the migration files come from. */
  source: MigrationSource;
  /**
   * The version table. Default: the URL's `x-migrations-table` when openDatabase opened the
   * Database, else `schema_migrations` in current_schema().
   */
  table?: TableName;
  /** How long to wait for the advisory lock, in ms (default 15,000), counted from `startedAt`. */
  lockTimeoutMs?: number;
  /** When the caller began opening the database (ms since the epoch); default: now. */
  startedAt?: number;
  /**
   * golang-migrate's database name for the lock id, the only lock then taken. Default:
   * golang-migrate's lock under each name it may be computed from (the Database's
   * `lockName`, the URL path `/mydb`; `/` + current_database(); current_database()), so
   * strata's CLI, a server running strata from code, and golang-migrate's CLI and
   * `WithInstance` all exclude each other.
   */
  lockName?: string;
  /** `statement_timeout` for the session, in ms. Default: the URL's `x-statement-timeout` (see `table`). */
  statementTimeoutMs?: number;
  /** Aborting stops after the migration that is running. */
  signal?: AbortSignal;
  /** Progress, for logs. */
  onEvent?: (event: MigratorEvent) => void;
  /** Who or where is migrating, recorded in the history (e.g. `strata 0.1.0 on host, pid 12`). */
  client?: string;
  /** `up` goes on even when applied files changed since they were applied. */
  allowChanged?: boolean;
  /** `up` applies pending versions below the current one (golang-migrate skips them silently). */
  allowOutOfOrder?: boolean;
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
  /** A version below the current one, applied with `allowOutOfOrder`. */
  outOfOrder?: boolean;
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

/** One step of a dry run: the file, how it would run, its statements. */
export interface PlannedStep {
  version: bigint;
  name: string;
  direction: "up" | "down";
  file?: string;
  from: bigint | null;
  to: bigint | null;
  transactional: boolean;
  /** Why not in a transaction. */
  reason?: string;
  outOfOrder?: boolean;
  checksum?: string;
  statements: Array<{ sql: string; line: number; kind: string }>;
}

/** A dry run: what up / down / goto would do, changing nothing. */
export interface PlannedRun {
  from: VersionState;
  steps: PlannedStep[];
  /** golang-migrate's "limit N short". */
  short: number;
  noChange: boolean;
}

/** Which operation to plan. */
export type PlanRequest =
  | { command: "up"; limit?: number }
  | { command: "down"; limit?: number }
  | { command: "goto"; version: bigint };

/**
 * Progress events. `start` comes as a file begins (the version is `from` until it ends; a file
 * outside a transaction leaves `to` dirty if it stops part-way), `migration` when it ended.
 */
export type MigratorEvent =
  | { type: "lock-wait"; lockId: bigint }
  | { type: "start"; result: MigrationResult; from: VersionState; to: bigint | null }
  | { type: "migration"; result: MigrationResult }
  | { type: "warning"; message: string };

interface Context {
  session: Session;
  table: ResolvedTable;
  history: ResolvedTable;
  /**
   * False when this role may not create the history table: the migrations run and the
   * version table moves, as golang-migrate needs no more, but nothing is recorded.
   */
  keepHistory?: boolean;
}

interface Prepared {
  set: MigrationSet;
  from: VersionState;
  status: MigrationStatus;
  plan: Plan;
  outOfOrder: Step[];
  scripts: Map<string, SqlScript>;
  checksums: Map<string, string>;
  /** Whether the history table can be written (see Context.keepHistory). */
  keepHistory: boolean;
}

const DEFAULT_LOCK_TIMEOUT_MS = 15_000;
const NO_VERSION: VersionState = { version: null, dirty: false };

/**
 * Runs golang-migrate's operations against one database and one source.
 *
 * `up`, `down` and `goto` throw only when nothing has run (lock timeout, dirty database,
 * parse error, changed files); once a file has run, a failure comes back in the run's
 * `error`, with each file marked applied / failed / not run.
 *
 * @example
 * ```ts ignore
 * import { memorySource, Migrator } from "strata/core";
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
  #held: Context | undefined;

  constructor(db: Database, options: MigratorOptions) {
    this.#db = db;
    this.#options = options;
    this.#startedAt = options.startedAt ?? Date.now();
  }

  /** The source this migrator reads. */
  get source(): MigrationSource {
    return this.#options.source;
  }

  /** Loads the source's migration set (file names only). */
  loadSet(): Promise<MigrationSet> {
    return loadMigrationSet(this.#options.source);
  }

  /**
   * Applies every pending migration, or the next `limit` of them.
   *
   * @throws {StrataError} DIRTY, CHECKSUM_MISMATCH, OUT_OF_ORDER, VERSION_MISSING, PARSE_ERROR, LOCK_TIMEOUT (nothing ran)
   */
  up(options: { limit?: number } = {}): Promise<MigrateRun> {
    return this.#migrate({ command: "up", ...options });
  }

  /** Reverts the applied migrations, or the last `limit` of them. */
  down(options: { limit?: number } = {}): Promise<MigrateRun> {
    return this.#migrate({ command: "down", ...options });
  }

  /**
   * Moves up or down to `version`; both it and the current version must have files. A
   * JavaScript number or digit string is taken too (`goto(3)`), as long as it is exact.
   */
  goto(version: bigint): Promise<MigrateRun> {
    return this.#migrate({ command: "goto", version });
  }

  /**
   * What `up` / `down` / `goto` would do, file by file and statement by statement, without
   * changing anything: no lock, no table created. Throws what the real run would refuse
   * with (dirty, changed files, out of order, parse errors).
   */
  async plan(request: PlanRequest): Promise<PlannedRun> {
    request = checkedRequest(request);
    return await this.#session(async (session) => {
      const table = await this.#resolve(session);
      const prepared = await this.#prepare(session, table, historyTableFor(table), request, false);
      const steps = [...prepared.outOfOrder, ...prepared.plan.steps].map((step): PlannedStep => {
        const script = step.file === undefined ? undefined : prepared.scripts.get(step.file);
        const checksum = step.file === undefined ? undefined : prepared.checksums.get(step.file);
        return {
          version: step.migration.version,
          name: step.migration.name,
          direction: step.direction,
          ...(step.file === undefined ? {} : { file: step.file }),
          from: step.from,
          to: step.to,
          transactional: script?.transactional ?? true,
          ...(script?.reason === undefined ? {} : { reason: script.reason }),
          ...(prepared.outOfOrder.includes(step) ? { outOfOrder: true } : {}),
          ...(checksum === undefined ? {} : { checksum }),
          statements: (script?.statements ?? []).map((s) => ({ sql: s.sql, line: s.line, kind: s.kind })),
        };
      });
      return { from: prepared.from, steps, short: prepared.plan.short, noChange: steps.length === 0 };
    });
  }

  /**
   * Every migration's state (applied, pending, missing file, changed, out of order, failed)
   * with when it was applied and how long it took, and, when the database is dirty, how to
   * get out. Reads only: no lock, nothing created or written.
   */
  async status(): Promise<MigrationStatus> {
    return await this.#session(async (session) => {
      const table = await this.#resolve(session);
      const set = await this.loadSet();
      const from = await readVersion(session, table);
      const historyTable = historyTableFor(table);
      const history = (await historyTableExists(session, historyTable))
        ? await readHistoryRowsIfPermitted(session, historyTable)
        : [];
      if (history === undefined) {
        this.#warn(`${historyNotPermitted(historyTable).message}: shown without it`);
      }
      const checksums = await this.#checksums(set, new Map());
      const status = computeStatus(set, checksums, from, history ?? []);
      const running = await this.#lockHolder(session, table);
      if (running) status.running = running;
      // An index that a running CREATE INDEX CONCURRENTLY is building is INVALID until it ends.
      if (status.dirty && !running) await this.#findInvalidIndexes(session, status.dirty);
      if (set.ignored.length > 0) status.ignored = set.ignored;
      return status;
    });
  }

  /**
   * For a database left dirty by a file that failed outside a transaction at a CREATE INDEX
   * CONCURRENTLY: the INVALID indexes it left, which must be dropped before the file runs
   * again (the error said so when it failed; status and the DIRTY refusal say it again).
   * A file strata started and recorded no end of (killed, or its connection lost: the most
   * common way such a build dies) may have stopped at any statement: each of its CREATE INDEX
   * CONCURRENTLY is looked at. Never while another session holds the migration lock (the
   * caller checks): an index still being built is INVALID too.
   * Reads and parses that file only on this path; says nothing when it cannot.
   */
  async #findInvalidIndexes(session: Session, dirty: DirtyExplanation): Promise<void> {
    if (!dirty.file || dirty.transactional !== false || !(dirty.failedStatement || dirty.unfinished)) return;
    try {
      const text = await this.#options.source.read(dirty.file);
      const script = await (this.#options.source.parse ?? parseSqlScript)(text, dirty.file);
      const statements = dirty.failedStatement
        ? [script.statements[dirty.failedStatement - 1 - (script.unwrapped ? 1 : 0)]]
        : script.statements;
      const names = new Set<string>();
      for (const statement of statements) {
        for (const name of (await invalidIndexesLeftBy(session, statement))?.names ?? []) names.add(name);
      }
      if (names.size > 0) dirty.invalidIndexes = [...names];
    } catch {
      // The file is gone or changed, the parser cannot load: the rest of the explanation stands.
    }
  }

  /** The changed files whose text, with its line endings turned the other way, has the recorded checksum. */
  async #lineEndingsOnly(changed: readonly StatusEntry[]): Promise<string[]> {
    const files: string[] = [];
    for (const entry of changed) {
      if (!entry.up || !entry.recordedChecksum) continue;
      const text = await this.#options.source.read(entry.up).catch(() => undefined);
      if (text === undefined) continue;
      const lf = text.replaceAll("\r\n", "\n");
      if (
        sha256HexSync(lf) === entry.recordedChecksum ||
        sha256HexSync(lf.replaceAll("\n", "\r\n")) === entry.recordedChecksum
      ) {
        files.push(entry.up);
      }
    }
    return files;
  }

  /** The other session holding the migration lock, if any (a server only: PGlite has one session). */
  async #lockHolder(session: Session, table: ResolvedTable): Promise<RunningMigration | undefined> {
    if (this.#db.dialect !== "postgres" || this.#held) return undefined;
    const explicit = this.#options.lockName;
    const current = explicit === undefined
      ? (await session.query<{ name: string }>("SELECT current_database() AS name"))[0].name
      : undefined;
    const ids = this.#lockIds(table, current);
    const [row] = await session.query<{ pid: number; since: string | null; app: string | null }>(
      `SELECT l.pid, to_char(coalesce(a.xact_start, a.backend_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS since,
              a.application_name AS app
       FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = ANY($1::oid[]) AND l.objsubid = 1
         AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
         AND l.pid <> pg_backend_pid()
       LIMIT 1`,
      [ids.map((id) => id.toString())],
    );
    if (!row) return undefined;
    return { pid: Number(row.pid), since: row.since ?? null, applicationName: row.app || null };
  }

  /**
   * Sets the version without running anything and clears dirty (`force -1` empties the
   * table). Allowed on a dirty database: it is the way out. The history follows.
   *
   * @throws {StrataError} USAGE when version < -1.
   */
  async force(version: bigint): Promise<VersionState> {
    if (version < -1n) throw new StrataError("USAGE", `Version must be -1 or more, got ${version}`);
    // A folder that is not there (a mistyped -path) fails before anything is written, as
    // golang-migrate's force does; a set that cannot be read otherwise (two files for one
    // version) still lets force repair the version table.
    const set = await this.loadSet().catch((error: unknown) => {
      if (error instanceof StrataError && error.code === "SOURCE_NOT_FOUND") throw error;
      return undefined;
    });
    // What the caller saw: a migration holding the lock may move the version while force
    // waits for it, and forcing over what it did would undo its record.
    const seen = this.#held ? undefined : await this.version().catch(() => undefined);
    return await this.#withLock(async ({ session, table, history }) => {
      if (seen) {
        const now = await readVersion(session, table);
        if (now.version !== seen.version || now.dirty !== seen.dirty) {
          const show = (v: VersionState) => `${v.version ?? "none"}${v.dirty ? " (dirty)" : ""}`;
          throw new StrataError(
            "INTERRUPTED",
            `While force waited for the migration lock, the migration holding it moved the version from ${
              show(seen)
            } to ${show(now)}: nothing was forced`,
            { hint: "Run 'status' to see where the database stands now, then force again only if it still needs it" },
          );
        }
      }
      await ensureVersionTable(session, table);
      let keepHistory = await this.#historyOrWarn(() => ensureHistoryTable(session, history));
      // A role granted the version table but not the history its owner's strata wrote: force
      // is its way out of a dirty state, as golang-migrate's is, so the version row alone.
      const rows = keepHistory ? await readHistoryRowsIfPermitted(session, history) : [];
      if (rows === undefined) {
        const { message, hint } = historyNotPermitted(history);
        this.#warn(`${message}: the version is forced without it. ${hint}`);
        keepHistory = false;
      }
      const target = version < 0n ? null : version;
      const state: VersionState = { version: target, dirty: false };
      let extra: ScriptItem[] = [];
      if (!keepHistory) {
        // golang-migrate's force: the version row alone
      } else if (set) {
        const status = computeStatus(set, await this.#checksums(set, new Map()), state, rows ?? []);
        extra = this.#reconcileItems(history, status, "recorded by force");
      } else {
        extra = [{ text: `DELETE FROM ${history.sql} WHERE version > $1`, params: [(target ?? -1n).toString()] }];
      }
      await writeVersion(session, table, target, false, extra);
      return state;
    });
  }

  /** Reads the version without taking the lock or creating the table. */
  async version(): Promise<VersionState> {
    return await this.#session(async (session) => await readVersion(session, await this.#resolve(session)));
  }

  /**
   * Drops every object of the current schema (golang-migrate's `drop`, extended to views,
   * sequences, routines and types), and empties the version and history tables if they
   * live elsewhere.
   */
  async drop(): Promise<DroppedObject[]> {
    return await this.#withLock(async ({ session, table, history }) => {
      const { dropCurrentSchema } = await import("./drop_schema.ts");
      const dropped = await dropCurrentSchema(session);
      const [row] = await session.query<{ schema: string }>("SELECT current_schema() AS schema");
      if (row?.schema !== table.schema && (await versionTableExists(session, table))) {
        const keepHistory = await this.#historyOrWarn(() => ensureHistoryTable(session, history));
        await writeVersion(session, table, null, false, keepHistory ? [`DELETE FROM ${history.sql}`] : []);
      }
      // Another track's version table (golang-migrate's shape) outside the current schema
      // still says its migrations are applied, though their objects may have been dropped.
      const stale: Array<{ name: string; version: string }> = [];
      // Only a warning: nothing here may fail a drop that is already committed.
      if (dropped.length > 0) {
        try {
          const others = await session.query<{ name: string }>(OTHER_VERSION_TABLES, [table.schema, table.table]);
          for (const { name } of others) {
            const [held] = await session.query<{ version: string | null }>(
              `SELECT version::text AS version FROM ${name} WHERE version IS NOT NULL LIMIT 1`,
            );
            if (held?.version && BigInt(held.version) >= 0n) stale.push({ name, version: held.version });
          }
        } catch {
          // a table this role cannot read: no warning rather than a failed drop
        }
      }
      if (stale.length > 0) {
        this.#warn(
          `Other version tables still record applied migrations: ${
            stale.map((o) => `${o.name} at ${o.version}`).join(", ")
          }. drop removed everything in the current schema, whichever track made it: if a track's objects were ` +
            "there, reset that track too (force -1 with its x-migrations-table) before running up, or its " +
            "migrations will not run again",
        );
      }
      return dropped;
    });
  }

  /**
   * Holds the migration lock while `fn` runs: every call on this migrator inside it (plan,
   * up, status, ...) uses the locked session, so nothing else can migrate in between (deploy
   * takes a backup between plan and up).
   */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#held) return await fn();
    return await this.#withLock(async (context) => {
      this.#held = context;
      try {
        return await fn();
      } finally {
        this.#held = undefined;
      }
    });
  }

  #session<T>(fn: (session: Session) => Promise<T>): Promise<T> {
    return this.#held ? fn(this.#held.session) : this.#db.withSession(fn);
  }

  #resolve(session: Session): Promise<ResolvedTable> {
    return resolveTable(session, tableNameFor(this.#db.urlSettings, this.#options.table));
  }

  /**
   * The advisory locks a migration holds, ascending. A `lockName` given to the Migrator is
   * the only one. Otherwise golang-migrate's key under each name it may be computed from:
   * the URL's path (`/mydb`, its CLI and strata's), `/` + current_database() (strata on a
   * Database opened without a URL), and current_database() (a Go service using its
   * `WithInstance`), so that every one of them excludes every other.
   */
  #lockIds(table: ResolvedTable, currentDatabase: string | undefined): bigint[] {
    const explicit = this.#options.lockName;
    const names = explicit === undefined
      ? [this.#db.lockName, currentDatabase === undefined ? undefined : `/${currentDatabase}`, currentDatabase]
      : [explicit];
    // golang-migrate hashes the names as it was given them, before the server cuts any to 63 bytes.
    const { schema, table: tableName } = table.given ?? table;
    const ids = new Set<bigint>();
    for (const name of names) if (name !== undefined) ids.add(migrationLockId(schema, tableName, name));
    return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async #withLock<T>(fn: (context: Context) => Promise<T>): Promise<T> {
    if (this.#held) return await fn(this.#held);
    const deadline = this.#startedAt + (this.#options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    let locked = false;
    try {
      return await this.#withLockedSession(deadline, () => (locked = true), fn);
    } catch (error) {
      if (error instanceof StrataError || !connectionGone(error)) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw locked
        ? new StrataError("CONNECTION_LOST", `The connection to the server was lost: ${message}`, {
          cause: error,
          hint: "No migration file was running when it went. Run 'version' to see where the database stands, " +
            "then run the command again once the server is back",
        })
        : new StrataError(
          "CONNECTION_LOST",
          `The connection to the server was lost before the migration lock was taken: ${message}`,
          {
            cause: error,
            hint: "Nothing was changed. Check that the server is up and why it ended the session " +
              "(a restart, pg_terminate_backend, idle_session_timeout), then run the command again",
          },
        );
    }
  }

  async #withLockedSession<T>(
    deadline: number,
    onLocked: () => void,
    fn: (context: Context) => Promise<T>,
  ): Promise<T> {
    return await this.#db.withSession(async (session) => {
      // Sent together (one pipeline on postgres.js), in this order.
      const setUp: Promise<unknown>[] = [];
      if (this.#db.dialect === "postgres") {
        // A migrator killed mid-statement (SIGKILL, a lost pod) must not keep the lock until
        // the server next writes to the dead socket: have it check the client every second.
        setUp.push(session.query(
          "SELECT set_config('client_connection_check_interval', '1000', false) WHERE current_setting('server_version_num')::int >= 140000",
        ));
      }
      const statementTimeoutMs = this.#options.statementTimeoutMs ?? this.#db.urlSettings?.statementTimeoutMs;
      if (statementTimeoutMs !== undefined && this.#db.dialect === "pglite") {
        this.#warn(
          "statementTimeoutMs is not enforced on PGlite: it runs each statement in this process to its end",
        );
      } else if (statementTimeoutMs !== undefined) {
        setUp.push(session.query("SELECT set_config('statement_timeout', $1, false)", [String(statementTimeoutMs)]));
      }
      const resolving = this.#resolve(session);
      const naming = this.#options.lockName === undefined
        ? session.query<{ name: string }>("SELECT current_database() AS name")
        : Promise.resolve([]);
      const [table, names] = await settleInOrder(resolving, naming, setUp);
      const ids = this.#lockIds(table, (names as Array<{ name: string }>)[0]?.name);
      // In ascending order, so two strata processes never each hold one and wait for the other.
      const held: bigint[] = [];
      try {
        for (const id of ids) {
          await acquireLock(session, id, {
            deadline,
            ...(this.#options.signal ? { signal: this.#options.signal } : {}),
            onWait: () => this.#options.onEvent?.({ type: "lock-wait", lockId: id }),
          });
          held.push(id);
        }
        onLocked();
        return await fn({ session, table, history: historyTableFor(table) });
      } finally {
        for (const id of held.reverse()) await releaseLock(session, id).catch(() => {});
      }
    });
  }

  async #checksums(set: MigrationSet, texts: Map<string, string>): Promise<Map<string, string>> {
    const checksums = new Map<string, string>();
    // A source that can hash natively (the directory source) does; the text is read again
    // only for the files that will run. Others are read (and kept in `texts`) and hashed.
    const source = this.#options.source as MigrationSource & { checksum?: (fileName: string) => Promise<string> };
    for (const m of set.migrations) {
      if (m.up === undefined) continue;
      if (typeof source.checksum === "function") {
        checksums.set(m.up, await source.checksum(m.up));
        continue;
      }
      const text = await source.read(m.up);
      texts.set(m.up, text);
      checksums.set(m.up, sha256HexSync(text));
    }
    return checksums;
  }

  /** Reads everything, reconciles (when writing), checks the refusals, plans and parses. */
  async #prepare(
    session: Session,
    table: ResolvedTable,
    history: ResolvedTable,
    request: PlanRequest,
    write: boolean,
  ): Promise<Prepared> {
    const [versionExists, historyExists] = await tablesExist(session, [table, history]);
    // The history table is created once something is to be written to it, after the dirty
    // check: a role that may not create tables still gets `no change` or golang-migrate's
    // dirty message, as golang-migrate would give it.
    let historyReady = historyExists;
    let historyRefused = false;
    const readyHistory = async () => {
      if (write && !historyReady) await ensureHistoryTable(session, history);
      historyReady = true;
    };
    // Both reads are sent at once (one pipeline on postgres.js); the history travels while
    // the files are read and hashed.
    const versionRead = versionExists ? readVersionRow(session, table) : Promise.resolve(NO_VERSION);
    const historyRead = historyExists ? readHistoryRowsIfPermitted(session, history) : Promise.resolve([]);
    historyRead.catch(() => {});
    const from = await versionRead;
    // The source first, as golang-migrate opens it before the database: a folder that is not
    // there (an unmounted volume, a wrong path) leaves no empty version table behind.
    const set = await this.loadSet();
    if (write && !versionExists) await ensureVersionTable(session, table);
    // golang-migrate skips these without a word; a file meant as a migration (1-create.up.sql)
    // would then never run, so strata says so on every run.
    for (const ignored of set.ignored) this.#warn(`Ignored ${ignored.file}: ${ignored.reason}`);
    // The parser (WASM, a few hundred ms to compile) loads while the files are hashed and the
    // history is read, when a file is likely to run; a no-op `up` never loads it.
    if (!this.#options.source.parse && mayRun(request, set, from)) loadParser().catch(() => {});
    const texts = new Map<string, string>();
    const checksums = await this.#checksums(set, texts);
    const historyRows = await historyRead;
    const unreadable = historyRows === undefined;
    if (unreadable) {
      this.#warn(
        `${historyNotPermitted(history).message}: applied files are not checked against their checksums`,
      );
    }
    const status = computeStatus(set, checksums, from, historyRows ?? []);
    if (from.dirty) {
      await this.#findInvalidIndexes(session, status.dirty!);
      throw new StrataError("DIRTY", `Dirty database version ${from.version ?? -1}. Fix and force version.`, {
        hint: describeDirty(status.dirty!),
      });
    }
    const { record, remove, settle } = status.reconcile;
    if (!unreadable && record.length + remove.length + settle.length > 0) {
      // A role that may not create the history table can still run a no-op `up`: the
      // history waits for a run that can create it (one with files to run says so).
      let unrecordable = false;
      if (write) {
        if (!(await this.#historyOrWarn(readyHistory))) {
          unrecordable = true;
          historyRefused = true;
        }
        if (!unrecordable) {
          await inTransaction(session, this.#reconcileItems(history, status, "applied outside strata"));
        }
      }
      const parts: string[] = [];
      if (record.length) {
        parts.push(
          `${
            listVersions(record.map((r) => r.version))
          } applied outside strata (recorded with the checksums of the current files)`,
        );
      }
      if (remove.length) parts.push(`${listVersions(remove)} reverted outside strata (removed from the history)`);
      if (settle.length) {
        parts.push(`${listVersions(settle.map((r) => r.version))} forced past a failure (recorded as applied)`);
      }
      if (!unrecordable) {
        this.#warn(`The version table (${from.version ?? -1}) moved without strata: ${parts.join("; ")}`);
      }
    }

    const plan = request.command === "up"
      ? planUp(set, from.version, request.limit)
      : request.command === "down"
      ? planDown(set, from.version, request.limit)
      : planGoto(set, from.version, request.version);
    let outOfOrder: Step[] = [];
    if (request.command === "up") {
      if (status.changed.length > 0 && !this.#options.allowChanged) {
        throw changedError(status.changed, await this.#lineEndingsOnly(status.changed));
      }
      if (status.outOfOrder.length > 0) {
        if (!this.#options.allowOutOfOrder) throw outOfOrderError(status.outOfOrder, from.version);
        outOfOrder = status.outOfOrder.map((entry) => {
          const migration = set.migrations.find((m) => m.version === entry.version)!;
          return {
            migration,
            direction: "up" as const,
            ...(migration.up === undefined ? {} : { file: migration.up }),
            from: from.version,
            to: from.version,
          };
        });
      }
    }
    // Every file is read and parsed before the first one runs: a syntax error in the third
    // file stops the run before the first has changed anything.
    const scripts = new Map<string, SqlScript>();
    for (const step of [...outOfOrder, ...plan.steps]) {
      if (step.file === undefined) continue;
      const text = texts.get(step.file) ?? (await this.#options.source.read(step.file));
      const parse = this.#options.source.parse ?? parseSqlScript;
      scripts.set(step.file, await parse(text, step.file));
    }
    let keepHistory = true;
    if (write && outOfOrder.length + plan.steps.length > 0) {
      if (unreadable) {
        const { message, hint } = historyNotPermitted(history);
        throw new StrataError("QUERY_FAILED", `${message}; nothing was run`, { hint });
      }
      // Refused above already (and said so): the files run without it.
      keepHistory = historyRefused ? false : await this.#historyOrWarn(readyHistory);
    }
    return { set, from, status, plan, outOfOrder, scripts, checksums, keepHistory };
  }

  /**
   * Creates the history table; when this role may not (golang-migrate asks only for the
   * version table), warns and answers false: what follows runs without a history.
   */
  async #historyOrWarn(create: () => Promise<void>): Promise<boolean> {
    try {
      await create();
      return true;
    } catch (error) {
      if (!(error instanceof StrataError && error.code === "QUERY_FAILED")) throw error;
      this.#warn(
        `${error.message}: strata's history is not kept (no checksums, times or failures recorded). ${error.hint ?? ""}`
          .trim(),
      );
      return false;
    }
  }

  #reconcileItems(history: ResolvedTable, status: MigrationStatus, note: string): ScriptItem[] {
    const { record, remove, settle } = status.reconcile;
    const client = this.#options.client ?? null;
    return [
      ...remove.flatMap((version) => recordReverted(history, version)),
      ...record.flatMap((r) =>
        recordApplied(history, { ...r, durationMs: null, client, transactional: null, note, appliedNow: false })
      ),
      ...settle.map((r): ScriptItem => ({
        text:
          `UPDATE ${history.sql} SET status = 'applied', checksum = $2, note = 'forced after a failure' WHERE version = $1`,
        params: [r.version.toString(), r.checksum],
      })),
    ];
  }

  #migrate(request: PlanRequest): Promise<MigrateRun> {
    try {
      request = checkedRequest(request);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#withLock(async ({ session, table, history }) => {
      const prepared = await this.#prepare(session, table, history, request, true);
      const { from, plan, outOfOrder, scripts, checksums, keepHistory } = prepared;
      const steps = [...outOfOrder, ...plan.steps];
      if (steps.length === 0) {
        const run: MigrateRun = { from, to: from, results: [], noChange: true };
        if (plan.short > 0) run.error = limitShort(request, plan.short, 0);
        return run;
      }
      const results: MigrationResult[] = steps.map((step) => {
        const script = step.file === undefined ? undefined : scripts.get(step.file)!;
        return {
          version: step.migration.version,
          name: step.migration.name,
          direction: step.direction,
          ...(step.file === undefined ? {} : { file: step.file }),
          status: "not run",
          transactional: script?.transactional ?? true,
          ...(script === undefined ? {} : { statements: script.statements.length }),
          ...(outOfOrder.includes(step) ? { outOfOrder: true } : {}),
        };
      });
      let to = from;
      for (let i = 0; i < steps.length; i++) {
        // In-process PGlite: a signal that came during the last file is seen before the next.
        await this.#db.turn?.();
        if (this.#options.signal?.aborted) {
          return {
            from,
            to,
            results,
            noChange: false,
            error: new StrataError(
              "INTERRUPTED",
              `Interrupted: stopped at version ${to.version ?? -1}, ${steps.length - i} migration(s) not run`,
            ),
          };
        }
        const step = steps[i];
        const result = results[i];
        const script = step.file === undefined ? undefined : scripts.get(step.file)!;
        const checksum = step.migration.up === undefined ? null : checksums.get(step.migration.up) ?? null;
        this.#options.onEvent?.({ type: "start", result, from: to, to: step.to });
        const started = performance.now();
        try {
          const warning = await this.#runStep(
            { session, table, history, keepHistory },
            step,
            script,
            checksum,
            outOfOrder.includes(step),
          );
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
      if (plan.short > 0) run.error = limitShort(request, plan.short, plan.steps.length);
      return run;
    });
  }

  async #runStep(
    { session, table, history, keepHistory = true }: Context,
    step: Step,
    script: SqlScript | undefined,
    checksum: string | null,
    outOfOrder: boolean,
  ): Promise<string | undefined> {
    const label = `${step.migration.version}_${step.migration.name}`;
    const client = this.#options.client ?? null;
    const transactional = script?.transactional ?? true;
    const historyItems = (durationMs: number | null): ScriptItem[] =>
      !keepHistory ? [] : step.direction === "up"
        ? recordApplied(history, {
          version: step.migration.version,
          name: step.migration.name,
          checksum,
          durationMs,
          client,
          transactional,
        })
        : recordReverted(history, step.migration.version);
    // An out-of-order version is applied below the current one: the version row stays.
    const versionItems = outOfOrder ? [] : setVersionStatements(table, step.to, false);

    if (script === undefined || script.statements.length === 0) {
      await inTransaction(session, [...versionItems, ...historyItems(null)]);
      return script === undefined
        ? `No ${step.direction} file for version ${step.migration.version} (${label}): version moved to ${
          step.to ?? -1
        } without running anything`
        : `${step.file} is empty: version moved to ${step.to ?? -1} without running anything`;
    }
    if (script.transactional) {
      const statements = script.statements.map((s) => s.sql);
      const batch: ScriptItem[] = ["BEGIN", ...statements, ...versionItems, ...historyItems(null), "COMMIT"];
      try {
        await session.execScript(batch);
      } catch (error) {
        if (scriptLeftTransactionOpen(error, batch.length)) await session.exec("ROLLBACK").catch(() => {});
        if (!(error instanceof ScriptError) || connectionGone(error.cause ?? error)) {
          throw connectionLost(error, step, { transactional: true });
        }
        const index = error.index - 1;
        if (index >= 0 && index < statements.length) {
          throw statementError(step, script, index, error.server, error, { dirty: false }, this.#db.dialect);
        }
        const what = index < 0
          ? "could not start its transaction"
          : error.index === batch.length - 1
          ? "could not commit (a deferred constraint or trigger failed at COMMIT)"
          : "ran, but the version table could not be updated";
        throw new FileError("MIGRATION_FAILED", `${what}: ${error.server.message}`, { file: step.file! }, {
          cause: error,
          server: error.server,
          hint: `Nothing of ${step.file} was kept; ${stillAt(step.from)}`,
        });
      }
      return script.unwrapped
        ? `${step.file}: its own BEGIN/COMMIT were taken off; it ran in strata's transaction`
        : undefined;
    }
    // Statements that cannot run in a transaction block: golang-migrate's dirty protocol,
    // one statement at a time so a failure names its statement (and the history keeps it).
    const started = performance.now();
    if (!outOfOrder) {
      await writeVersion(
        session,
        table,
        step.to,
        true,
        keepHistory
          ? recordStarted(history, {
            version: step.migration.version,
            name: step.migration.name,
            checksum,
            direction: step.direction,
            client,
          })
          : [],
      );
    }
    for (let i = 0; i < script.statements.length; i++) {
      try {
        await session.exec(script.statements[i].sql);
      } catch (error) {
        const server = serverErrorFields(error);
        if (!server || connectionGone(error)) {
          throw connectionLost(error, step, { transactional: false, statement: i, script, outOfOrder });
        }
        // A failure inside a transaction the file opened itself aborted that transaction:
        // end it, so the failure can be recorded (and the statements since its BEGIN are gone).
        const openedAt = openTransactionAt(script, i);
        // A COMMIT that fails ends the transaction itself.
        if (openedAt !== undefined && !endsTransaction(script.statements[i])) {
          await session.exec("ROLLBACK").catch(() => {});
        }
        if (keepHistory) {
          await inTransaction(
            session,
            recordFailure(history, {
              version: step.migration.version,
              name: step.migration.name,
              checksum,
              direction: step.direction,
              client,
              failedStatement: i + 1,
              error: openedAt === undefined
                ? server.message
                : `${server.message} (${
                  statementRange(openedAt + 1, i + 1)
                } were rolled back with the transaction the file opened at statement ${openedAt + 1})`,
            }),
          ).catch(() => {});
        }
        const invalidIndexes = await invalidIndexNote(session, script.statements[i]);
        throw statementError(
          step,
          script,
          i,
          server,
          error,
          { dirty: true, openedAt, invalidIndexes },
          this.#db.dialect,
        );
      }
    }
    await inTransaction(session, [
      ...(outOfOrder ? [] : setVersionStatements(table, step.to, false)),
      ...historyItems(performance.now() - started),
    ]);
    return undefined;
  }

  #warn(message: string): void {
    this.#options.onEvent?.({ type: "warning", message });
  }
}

/**
 * A request as JavaScript callers may pass it (the types are not checked at run time): a
 * limit must be a whole number, 0 or more; goto's version a bigint, or an exact number or
 * digit string, taken as one.
 *
 * @throws {StrataError} USAGE otherwise.
 */
function checkedRequest(request: PlanRequest): PlanRequest {
  if (request.command !== "goto") {
    const { limit } = request;
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 0)) {
      throw new StrataError("USAGE", `limit must be a whole number, 0 or more, got ${String(limit)}`);
    }
    return request;
  }
  const given = request.version as unknown;
  if (typeof given === "bigint") return request;
  if (
    (typeof given === "number" && Number.isSafeInteger(given) && given >= 0) ||
    (typeof given === "string" && /^\d+$/.test(given))
  ) {
    return { command: "goto", version: BigInt(given as number | string) };
  }
  throw new StrataError("USAGE", `goto needs a version (a bigint), got ${String(given)}`);
}

/** golang-migrate's `limit N short`, with what happened in words. */
function limitShort(request: PlanRequest, short: number, ran: number): StrataError {
  const down = request.command === "down";
  const what = ran === 0
    ? down ? "No migration is applied: nothing to revert" : "No migration is pending: nothing to apply"
    : `Only ${ran} migration${ran === 1 ? " was" : "s were"} ${
      down ? "applied: all reverted" : "pending: all applied"
    }`;
  return new StrataError("LIMIT_SHORT", `limit ${short} short`, { hint: what });
}

/** Whether a request will probably run a file (a guess, only for loading the parser early). */
function mayRun(request: PlanRequest, set: MigrationSet, from: VersionState): boolean {
  if (request.command === "goto") return true;
  if (request.command === "down") return from.version !== null;
  const last = set.migrations[set.migrations.length - 1];
  return last !== undefined && (from.version === null || last.version > from.version);
}

/** Awaits every promise (so none is left to reject unhandled), then throws the first failure. */
async function settleInOrder<A, B>(a: Promise<A>, b: Promise<B>, rest: Promise<unknown>[]): Promise<[A, B]> {
  const settled = await Promise.allSettled([...rest, a, b]);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return [
    (settled[rest.length] as PromiseFulfilledResult<A>).value,
    (settled[rest.length + 1] as PromiseFulfilledResult<B>).value,
  ];
}

function listVersions(versions: readonly bigint[]): string {
  return `${versions.length === 1 ? "version" : "versions"} ${versions.join(", ")}`;
}

function changedError(changed: readonly StatusEntry[], lineEndings: readonly string[] = []): StrataError {
  const files = changed.map((e) =>
    `${e.up} (applied ${e.appliedAt ?? "outside strata"}; checksum was ${e.recordedChecksum?.slice(0, 12)}, now ${
      e.checksum?.slice(0, 12)
    })`
  );
  return new StrataError(
    "CHECKSUM_MISMATCH",
    `Applied migration${changed.length === 1 ? "" : "s"} changed since applied: ${files.join("; ")}`,
    {
      hint:
        (lineEndings.length
          ? `${lineEndings.join(", ")} differ${
            lineEndings.length === 1 ? "s" : ""
          } from what was applied only in line endings (CRLF against LF: git's core.autocrlf, an editor): ` +
            "check the file out with the line endings it had (a .gitattributes `*.sql text eol=lf`), " +
            "or pass -allow-changed. "
          : "") +
        "Never edit an applied migration: restore the file (git checkout) and write a new migration for the change, " +
        "or pass -allow-changed to migrate anyway",
    },
  );
}

function outOfOrderError(entries: readonly StatusEntry[], current: bigint | null): StrataError {
  const files = entries.map((e) => e.up ?? `${e.version}_${e.name}`);
  return new StrataError(
    "OUT_OF_ORDER",
    `Pending migration${files.length === 1 ? "" : "s"} below the current version ${current ?? -1}: ${
      files.join(", ")
    } (golang-migrate would skip ${files.length === 1 ? "it" : "them"} silently)`,
    {
      hint: `Renumber ${files.length === 1 ? "it" : "them"} above ${
        current ?? -1
      } ('create' makes a new version), or pass -allow-out-of-order to apply ${files.length === 1 ? "it" : "them"} now`,
    },
  );
}

/** A dirty database explained, with the exact way out in each case. */
export function describeDirty(dirty: DirtyExplanation): string {
  const parts: string[] = [];
  if (dirty.file && dirty.unfinished) {
    parts.push(
      `${dirty.file} (${dirty.direction ?? "up"}) was started by strata${
        dirty.startedAt ? ` at ${dirty.startedAt}` : ""
      } outside a transaction and recorded no end: its process was killed or lost its connection (or it is ` +
        "still running: 'status' says so), and the statements it ran stay applied.",
    );
  } else if (dirty.file) {
    parts.push(
      `${dirty.file} (${dirty.direction ?? "up"}) failed${
        dirty.failedStatement ? ` at statement ${dirty.failedStatement}` : ""
      }` +
        `${
          dirty.transactional === false && (dirty.failedStatement ?? 0) > 1
            ? " outside a transaction, so the statements before it stay applied"
            : ""
        }` +
        `${dirty.error ? `: ${dirty.error}` : ""}.`,
    );
  } else {
    parts.push(
      `Version ${
        dirty.version ?? -1
      } was left dirty by a migration strata did not run (golang-migrate, or by hand; strata records each file it starts)${
        dirty.likelyDown
          ? `; strata's history still has version ${dirty.likelyDown.version} applied, so it was most likely its down ` +
            `migration${dirty.likelyDown.file ? ` (${dirty.likelyDown.file})` : ""} that failed`
          : ""
      }.`,
    );
  }
  if (dirty.invalidIndexes?.length) {
    parts.push(
      `It left ${invalidIndexCount(dirty.invalidIndexes.length)} behind: run ${
        dirty.invalidIndexes.map(dropInvalidIndex).join(" and ")
      } before running the file again.`,
    );
  }
  parts.push(`${dirtyHint(dirty.forceIfComplete, dirty.forceIfUndone, dirty.direction ?? "up")}.`);
  // At -1 no up can have failed: -1 has no file.
  if (dirty.likelyDown && dirty.version !== null) {
    parts.push(
      `If it was version ${dirty.version ?? -1}'s up that failed instead: 'force ${
        dirty.version ?? -1
      }' if its changes are all in place, 'force ${dirty.likelyDown.forceIfUpUndone ?? -1}' if none are, then 'up'.`,
    );
  }
  return parts.join(" ");
}

/** "the database is still at version 3", or "the database still has no migration applied" (golang-migrate's -1). */
function stillAt(version: bigint | null | undefined): string {
  return version === null || version === undefined
    ? "the database still has no migration applied"
    : `the database is still at version ${version}`;
}

function statementError(
  step: Step,
  script: SqlScript,
  index: number,
  server: ServerErrorFields,
  cause: unknown,
  mode: { dirty: false } | { dirty: true; openedAt: number | undefined; invalidIndexes: string },
  dialect: Database["dialect"],
): FileError {
  const kept = mode.dirty
    ? `${step.file} runs outside a transaction: ${
      whatStays(script, index, mode.openedAt)
    }${mode.invalidIndexes}, and the database is dirty at version ${step.to ?? -1}. ${stepDirtyHint(step)}`
    : `Nothing of ${step.file} was kept: ${stillAt(step.from)}, clean. ${transactionalAdvice(server.code)}${
      adoptionAdvice(step, server.code)
    }`;
  // PostgreSQL 16+ says `extension "x" is not available`; 15 and older name the missing control file.
  const missing = /extension "(.+?)" is not available/.exec(server.message)?.[1] ??
    /could not open extension control file "[^"]*\/([^/"]+)\.control"/.exec(server.message)?.[1];
  const extension = missing === undefined
    ? ""
    : dialect === "pglite"
    ? `. The embedded PGlite runs only the extensions it ships (PostgreSQL's contrib: pgcrypto, citext, cube, ...), ` +
      "loaded when it is opened: the CLI loads those the migrations name, code passes them to " +
      `openDatabase(url, { extensions: [...] }). ${missing} is not loaded: if PGlite does not ship it ` +
      "(pgvector's vector, PostGIS), run these migrations on a PostgreSQL server"
    : `. The server does not have the ${missing} extension installed: install its package on the database server ` +
      `(for pgvector on Debian: postgresql-NN-pgvector), or ask whoever runs it`;
  return scriptError("MIGRATION_FAILED", step.file!, script, index, server, {
    cause,
    hint: kept + extension,
    prefix: "migration failed: ",
  });
}

/**
 * Tables shaped like golang-migrate's version table (exactly `version bigint, dirty boolean`)
 * other than $1.$2.
 */
const OTHER_VERSION_TABLES = `
SELECT format('%I.%I', n.nspname, c.relname) AS name
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT (n.nspname = $1 AND c.relname = $2) AND has_table_privilege(c.oid, 'SELECT')
  AND (SELECT array_agg(a.attname::text || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
       FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
      = ARRAY['version bigint', 'dirty boolean']
ORDER BY 1`;

/** What to do after a transactional file failed, by SQLSTATE: most failures are the file's, not all. */
function transactionalAdvice(code: string | undefined): string {
  switch (code) {
    case "2D000": // invalid_transaction_termination: COMMIT in a DO block or a procedure
    case "25001": // active_sql_transaction: a statement that refuses a transaction block, run from a function
      return "The file manages transactions itself (a COMMIT in a DO block or procedure, say): make " +
        "'-- strata:no-transaction' its first line so it runs outside strata's transaction, then run the command again";
    case "55P03": // lock_not_available: lock_timeout
      return "The file may be fine: a lock it needed was held past lock_timeout. Run the command again when the " +
        "table is not in use, or raise lock_timeout (options=-c lock_timeout=... in the URL)";
    case "57014": // query_canceled: statement_timeout or a cancel
      return "The file may be fine: the statement was canceled (statement_timeout, x-statement-timeout or " +
        "pg_cancel_backend). Run the command again, with a longer timeout if it needs one";
    case "40P01": // deadlock_detected
    case "40001": // serialization_failure
      return "The file may be fine: it lost a deadlock or serialization conflict with another session. " +
        "Run the command again";
    default:
      return "Fix the file and run the command again";
  }
}

/**
 * For an up file that failed on something already there: the database may have been built
 * before its migrations (an ORM's auto-migrate, a restored dump), golang-migrate's way in is
 * to record what is there as applied.
 */
function adoptionAdvice(step: Step, code: string | undefined): string {
  if (step.direction !== "up" || code === undefined || !ALREADY_EXISTS.has(code)) return "";
  return `. If the database was built without these migrations (an ORM's auto-migrate, a restored dump) and ` +
    `everything ${step.file} creates is there already, record it as applied without running it: 'force ${step.to}' ` +
    `(or the last version whose changes are all in place), then 'up'`;
}

/** "statements 1 to 3", "statement 1". */
function statementRange(from: number, to: number): string {
  return from === to ? `statement ${from}` : `statements ${from} to ${to}`;
}

/** What a non-transactional file that failed at statement `index` (0-based) left applied. */
function whatStays(script: SqlScript, index: number, openedAt: number | undefined): string {
  const before = (end: number) =>
    end === 0 ? "nothing before it stays applied" : `${statementRange(1, end)} ${end === 1 ? "stays" : "stay"} applied`;
  if (openedAt !== undefined) {
    return `statement ${index + 1} failed inside the transaction the file opened at statement ${openedAt + 1} (line ${
      script.statements[openedAt].line
    }), so ${statementRange(openedAt + 1, index + 1)} ${openedAt === index ? "was" : "were"} rolled back with it and ${
      before(openedAt)
    }`;
  }
  return index === 0 ? "it failed at its first statement, so nothing before it ran" : before(index);
}

/**
 * The index of the BEGIN that opened the transaction statement `index` ran in, when the
 * file manages transactions itself; undefined outside one.
 */
function openTransactionAt(script: SqlScript, index: number): number | undefined {
  let open: number | undefined;
  for (let k = 0; k < index; k++) {
    const effect = transactionEffect(script.statements[k]);
    if (effect === "open") open = k;
    else if (effect === "end") open = undefined;
  }
  return open;
}

/** Whether a statement ends the transaction it runs in, and opens none (COMMIT, ROLLBACK, PREPARE TRANSACTION). */
function endsTransaction(statement: SqlStatement): boolean {
  return transactionEffect(statement) === "end";
}

function transactionEffect(statement: SqlStatement): "open" | "end" | undefined {
  if (statement.kind !== "TransactionStmt") return undefined;
  const text = statement.sql.replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, "").toUpperCase();
  if (/^(BEGIN|START)\b/.test(text)) return "open";
  // COMMIT AND CHAIN / ROLLBACK AND CHAIN end one transaction and open the next at once.
  if (/\bAND\s+CHAIN\s*$/.test(text)) return "open";
  if (/^(COMMIT|END|ABORT|PREPARE)\b/.test(text)) return "end";
  if (/^ROLLBACK\b/.test(text) && !/^ROLLBACK\s+((WORK|TRANSACTION)\s+)?TO\b/.test(text)) return "end";
  return undefined;
}

/**
 * A CREATE INDEX CONCURRENTLY that fails after it made its index leaves the index behind,
 * INVALID; one that fails before (an unknown column, a name already taken) leaves none. So the
 * catalog says which: the INVALID index of the statement's name on its table, or for an
 * unnamed index every INVALID index of the table, each with the DROP to run.
 */
async function invalidIndexNote(session: Session, statement: SqlStatement | undefined): Promise<string> {
  const left = await invalidIndexesLeftBy(session, statement);
  if (left === undefined || left.names.length === 0) return "";
  const drops = left.names.map(dropInvalidIndex);
  return left.named
    ? `; a failed CREATE INDEX CONCURRENTLY leaves its index behind, and ${left.names[0]} is INVALID: run ${
      drops[0]
    } before running it again`
    : `; a failed CREATE INDEX CONCURRENTLY leaves its index behind, and ${left.table} has ${
      invalidIndexCount(left.names.length)
    }: run ${drops.join(" and ")}${left.names.length === 1 ? "" : " (one at a time)"} before running it again`;
}

/** "an INVALID index", "2 INVALID indexes". */
function invalidIndexCount(count: number): string {
  return count === 1 ? "an INVALID index" : `${count} INVALID indexes`;
}

/** The statement that drops an INVALID index a failed CREATE INDEX CONCURRENTLY left. */
export function dropInvalidIndex(name: string): string {
  return `DROP INDEX CONCURRENTLY IF EXISTS ${name}`;
}

/**
 * The INVALID indexes a CREATE INDEX CONCURRENTLY statement that failed left behind: the one
 * of its name, or for an unnamed index every INVALID index of its table. Undefined for any
 * other statement, or when the catalog cannot be read.
 */
async function invalidIndexesLeftBy(
  session: Queryable,
  statement: SqlStatement | undefined,
): Promise<{ names: string[]; named: boolean; table: string } | undefined> {
  if (!statement || statement.kind !== "IndexStmt") return undefined;
  const text = statement.sql.replace(LEADING_COMMENTS, "");
  const match = CREATE_INDEX_CONCURRENTLY.exec(text);
  if (!match) return undefined;
  const [, name, table] = match;
  try {
    const rows = await session.query<{ name: string }>(INVALID_INDEXES, [table, name ?? null]);
    return { names: rows.map((r) => r.name), named: name !== undefined, table };
  } catch {
    return undefined;
  }
}

const LEADING_COMMENTS = /^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/;

/** An identifier as written: quoted (with "" inside), or a plain word. */
const IDENT = String.raw`(?:"(?:[^"]|"")+"|[^\s"(.;]+)`;

/** `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] [name] ON [ONLY] table`: the name and the table as written. */
const CREATE_INDEX_CONCURRENTLY = new RegExp(
  String
    .raw`^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:(?!ON\b)(${IDENT})\s+)?ON\s+(?:ONLY\s+)?(${IDENT}(?:\s*\.\s*${IDENT})*)`,
  "i",
);

/** INVALID indexes on table $1 (as written), only the one named $2 (as written, in the table's schema) unless null. */
const INVALID_INDEXES = `
SELECT format('%I.%I', n.nspname, c.relname) AS name
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND i.indrelid = to_regclass($1)
  AND ($2::text IS NULL OR c.oid = to_regclass(quote_ident(n.nspname) || '.' || $2::text))
ORDER BY c.oid`;

/** Where a file stood when its connection was lost. */
type LostAt =
  | { transactional: true }
  | { transactional: false; statement: number; script: SqlScript; outOfOrder: boolean };

function connectionLost(error: unknown, step: Step, at: LostAt): StrataError {
  if (error instanceof StrataError) return error;
  const cause = error instanceof ScriptError ? error.cause : error;
  const message = cause instanceof Error ? cause.message : String(cause);
  const file = step.file ?? step.migration.name;
  if (at.transactional) {
    return new StrataError("CONNECTION_LOST", `The connection to the server was lost while ${file} ran: ${message}`, {
      cause: error,
      hint: `The server rolls back a transaction whose connection is gone, so nothing of ${file} was kept ` +
        `unless the connection went during its COMMIT. Run 'version' to see where the database stands, then 'up' again`,
    });
  }
  const n = at.statement + 1;
  const statement = at.script.statements[at.statement];
  const openedAt = openTransactionAt(at.script, at.statement);
  const before = openedAt !== undefined
    ? `it was inside the transaction the file opened at statement ${openedAt + 1}, which the server rolls back (${
      statementRange(openedAt + 1, n)
    }); ${openedAt === 0 ? "nothing before it stays applied" : `${statementRange(1, openedAt)} completed`}`
    : at.statement === 0
    ? "no statement before it had run; it may or may not have completed"
    : `${statementRange(1, at.statement)} completed; statement ${n} may or may not have`;
  const version = at.outOfOrder
    ? "the version row was left as it was (an out-of-order file)"
    : `version ${step.to ?? -1} is marked dirty`;
  return new StrataError(
    "CONNECTION_LOST",
    `The connection to the server was lost while ${file} ran outside a transaction, at statement ${n} (line ${statement.line}): ${message}`,
    {
      cause: error,
      hint: `${before}; ${version}. ` +
        stepDirtyHint(step),
    },
  );
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
export function dirtyHint(version: bigint | null, other: bigint | null, direction: "up" | "down" = "up"): string {
  if (direction === "down") {
    return `Repair the database by hand, then run 'force ${
      version ?? -1
    }' if the failed down migration's changes are all in place (the revert is then done), ` +
      `or 'force ${other ?? -1}' if none of them are and run 'down 1' to revert it again`;
  }
  return `Repair the database by hand, then run 'force ${
    version ?? -1
  }' if the failed migration's changes are all in place, ` +
    `or 'force ${other ?? -1}' if none of them are, and run 'up' again`;
}

/** dirtyHint for the step that failed: its target version, or the one it started from. */
function stepDirtyHint(step: Step): string {
  return dirtyHint(step.to, step.direction === "up" ? step.from : step.migration.version, step.direction);
}

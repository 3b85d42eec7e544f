/**
 * strata's history table, beside golang-migrate's version table: one row per applied
 * version with its name, the SHA-256 of its up file, when, how long, and who applied it, and
 * for a failed non-transactional file, which statement failed. The version table stays the
 * source of truth; the history is reconciled against it.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { type Queryable, type ScriptItem, serverErrorFields } from "../db/database.ts";
import { maskUrl } from "../db/database_url.ts";
import { quoteIdent } from "../db/quote_ident.ts";
import { MAX_IDENTIFIER_BYTES, truncateIdentifier } from "../db/truncate_identifier.ts";
import { notPermittedToCreate, type ResolvedTable, storedTable } from "./version_table.ts";

/** One row of the history table. */
export interface HistoryRow {
  version: bigint;
  name: string;
  /** SHA-256 (hex) of the up file as applied; null when the version had no up file. */
  checksum: string | null;
  /** `applied`, or `failed` for a non-transactional file that failed part-way (the database is dirty). */
  status: "applied" | "failed";
  /** ISO time; null when strata recorded a version another tool applied. */
  appliedAt: string | null;
  durationMs: number | null;
  /** The database role that applied it. */
  appliedBy: string | null;
  /** What the caller said about itself (e.g. `strata 0.1.0 on host (pid 123)`). */
  client: string | null;
  transactional: boolean | null;
  /**
   * For `failed`: the direction that failed, the 1-based statement and the server's message
   * (a URL in it with its password masked, also in rows an older strata wrote unmasked).
   */
  direction: "up" | "down" | null;
  failedStatement: number | null;
  error: string | null;
  /** Why the row is as it is, e.g. recorded by reconciliation. */
  note: string | null;
}

/** Bytes of the version table's name a long name's history table keeps, before `_<hash>_history`. */
const HISTORY_BASE_BYTES = MAX_IDENTIFIER_BYTES - "_01234567_history".length;

/**
 * The history table for a version table, in the same schema: `<table>_history` whenever that
 * fits in PostgreSQL's 63 bytes (a table name of up to 55 bytes). A longer name would be cut
 * by the server, down to the version table's own name at 63 bytes, so its history table is
 * the first 46 bytes of the name, `_`, the first 8 hex digits of the SHA-256 of the whole name
 * (as the server stores it: a name over 63 bytes is the table its first 63 bytes name), and
 * `_history`: 63 bytes at most, one per version table, never the version table itself.
 *
 * @example
 * ```ts
 * import { historyTableFor } from "./history.ts";
 * const table = { schema: "public", table: "schema_migrations", sql: '"public"."schema_migrations"' };
 * console.log(historyTableFor(table).sql); // "public"."schema_migrations_history"
 * const long = "v".repeat(60);
 * console.log(historyTableFor({ schema: "public", table: long, sql: `"public"."${long}"` }).table);
 * // vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv_35e5e03e_history
 * ```
 */
export function historyTableFor(versionTable: ResolvedTable): ResolvedTable {
  const { schema, table: stored } = storedTable(versionTable.schema, versionTable.table);
  const plain = `${stored}_history`;
  const table = truncateIdentifier(plain) === plain
    ? plain
    : `${truncateIdentifier(stored, HISTORY_BASE_BYTES)}_${sha256HexSync(stored).slice(0, 8)}_history`;
  return { schema, table, sql: `${quoteIdent(schema)}.${quoteIdent(table)}` };
}

/** The history table's columns. */
const HISTORY_COLUMNS = `
  version bigint PRIMARY KEY,
  name text NOT NULL,
  checksum text,
  status text NOT NULL DEFAULT 'applied' CHECK (status IN ('applied', 'failed')),
  applied_at timestamptz,
  duration_ms double precision,
  applied_by text DEFAULT current_user,
  client text,
  transactional boolean,
  direction text CHECK (direction IN ('up', 'down')),
  failed_statement integer,
  error text,
  note text
`;

/** Creates the history table when it is missing. */
export async function ensureHistoryTable(db: Queryable, table: ResolvedTable): Promise<void> {
  // Checked first: IF NOT EXISTS alone sends "already exists, skipping" to every client's notice handler.
  const [found] = await db.query<{ found: string | null }>("SELECT to_regclass($1)::text AS found", [table.sql]);
  if (found?.found) return;
  try {
    await db.exec(`CREATE TABLE IF NOT EXISTS ${table.sql} (${HISTORY_COLUMNS})`);
  } catch (error) {
    throw notPermittedToCreate(error, "the history table", table, "a record of each migration (checksum, time, who)");
  }
}

/** True when the history table exists. */
export async function historyTableExists(db: Queryable, table: ResolvedTable): Promise<boolean> {
  const rows = await db.query(
    "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
    [truncateIdentifier(table.schema), truncateIdentifier(table.table)],
  );
  return rows.length > 0;
}

/**
 * Every history row in version order, or undefined when this role may not read the table
 * (42501): an app role granted only the version table, on a database its owner migrated,
 * still gets golang-migrate's behaviour, without strata's checks.
 */
export async function readHistoryRowsIfPermitted(
  db: Queryable,
  table: ResolvedTable,
): Promise<HistoryRow[] | undefined> {
  try {
    return await readHistoryRows(db, table);
  } catch (error) {
    if (serverErrorFields(error)?.code === "42501") return undefined;
    throw error;
  }
}

/** What to say when the history table exists but this role may not use it. */
export function historyNotPermitted(table: ResolvedTable): { message: string; hint: string } {
  return {
    message: `This role may not read the history table ${table.sql}`,
    hint: `strata records each migration (checksum, time, who) in ${table.sql}, beside the version table. ` +
      `Have its owner run GRANT SELECT, INSERT, UPDATE, DELETE ON ${table.sql} TO the role strata connects as, ` +
      "or run strata as the role that migrated this database",
  };
}

/** Every history row in version order; none when the table does not exist. */
export async function readHistory(db: Queryable, table: ResolvedTable): Promise<HistoryRow[]> {
  if (!(await historyTableExists(db, table))) return [];
  return await readHistoryRows(db, table);
}

/** Every history row in version order, from a table known to exist. */
export async function readHistoryRows(db: Queryable, table: ResolvedTable): Promise<HistoryRow[]> {
  const rows = await db.query<Record<string, unknown>>(
    `SELECT version::text AS version, name, checksum, status,
            to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS applied_at,
            duration_ms, applied_by, client, transactional, direction, failed_statement, error, note
     FROM ${table.sql} ORDER BY version`,
  );
  return rows.map((r) => ({
    version: BigInt(r.version as string),
    name: r.name as string,
    checksum: (r.checksum as string | null) ?? null,
    status: r.status as "applied" | "failed",
    appliedAt: (r.applied_at as string | null) ?? null,
    durationMs: r.duration_ms === null || r.duration_ms === undefined ? null : Number(r.duration_ms),
    appliedBy: (r.applied_by as string | null) ?? null,
    client: (r.client as string | null) ?? null,
    transactional: (r.transactional as boolean | null) ?? null,
    direction: (r.direction as "up" | "down" | null) ?? null,
    failedStatement: r.failed_statement === null || r.failed_statement === undefined
      ? null
      : Number(r.failed_statement),
    error: typeof r.error === "string" ? maskUrl(r.error) : null,
    note: (r.note as string | null) ?? null,
  }));
}

/** What to write for an applied version. */
export interface AppliedRecord {
  version: bigint;
  name: string;
  checksum: string | null;
  /** Null with `appliedNow`: measured by the server, from the transaction's start. */
  durationMs: number | null;
  client: string | null;
  transactional: boolean | null;
  note?: string | null;
  /** False for a version recorded by reconciliation (applied_at unknown). */
  appliedNow?: boolean;
}

/** Statements that record a version as applied (replacing any row it had). */
export function recordApplied(table: ResolvedTable, record: AppliedRecord): ScriptItem[] {
  return [
    { text: `DELETE FROM ${table.sql} WHERE version = $1`, params: [record.version.toString()] },
    {
      text:
        `INSERT INTO ${table.sql} (version, name, checksum, status, applied_at, duration_ms, client, transactional, note)
             VALUES ($1, $2, $3, 'applied', CASE WHEN $4::boolean THEN now() END,
                     CASE WHEN $4::boolean THEN COALESCE($5::float8, 1000 * extract(epoch FROM clock_timestamp() - now())) END,
                     $6, $7, $8)`,
      params: [
        record.version.toString(),
        record.name,
        record.checksum,
        record.appliedNow !== false,
        record.durationMs,
        record.client,
        record.transactional,
        record.note ?? null,
      ],
    },
  ];
}

/** Statements that remove a version (its down ran, or the version table went below it). */
export function recordReverted(table: ResolvedTable, version: bigint): ScriptItem[] {
  return [{ text: `DELETE FROM ${table.sql} WHERE version = $1`, params: [version.toString()] }];
}

/** What to write when a non-transactional file failed part-way. */
export interface FailureRecord {
  version: bigint;
  name: string;
  checksum: string | null;
  direction: "up" | "down";
  client: string | null;
  failedStatement: number;
  error: string;
}

/**
 * Statements that record a failed non-transactional file, so `status` can explain a dirty
 * database. The server's message is stored with any URL's password masked: it may quote the
 * statement's text (`invalid input syntax for type integer: "postgres://app:pw@db/app"`).
 */
export function recordFailure(table: ResolvedTable, record: FailureRecord): ScriptItem[] {
  return failedRow(table, record, record.failedStatement, maskUrl(record.error), null);
}

/** The note on the row a non-transactional file gets when it starts, until its end is recorded. */
export const STARTED_NOTE = "started; no end recorded";

/**
 * Statements that record a non-transactional file as started, with the dirty flag: if the
 * process dies or loses its connection before the end is recorded, `status` can still say
 * which file was running, since when, and in which direction.
 */
export function recordStarted(
  table: ResolvedTable,
  record: Omit<FailureRecord, "failedStatement" | "error">,
): ScriptItem[] {
  return failedRow(table, record, null, null, STARTED_NOTE);
}

/** A `failed` row for a non-transactional file, replacing the version's row. */
function failedRow(
  table: ResolvedTable,
  record: Omit<FailureRecord, "failedStatement" | "error">,
  failedStatement: number | null,
  error: string | null,
  note: string | null,
): ScriptItem[] {
  return [
    { text: `DELETE FROM ${table.sql} WHERE version = $1`, params: [record.version.toString()] },
    {
      text: `INSERT INTO ${table.sql}
               (version, name, checksum, status, applied_at, client, transactional, direction, failed_statement, error, note)
             VALUES ($1, $2, $3, 'failed', now(), $4, false, $5, $6, $7, $8)`,
      params: [
        record.version.toString(),
        record.name,
        record.checksum,
        record.client,
        record.direction,
        failedStatement,
        error,
        note,
      ],
    },
  ];
}

/**
 * SHA-256 of a file's text (UTF-8), as lowercase hex.
 *
 * @example
 * ```ts
 * import { sha256Hex } from "./history.ts";
 * console.log(await sha256Hex("")); // e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
 * ```
 */
export function sha256Hex(text: string): Promise<string> {
  return Promise.resolve(sha256HexSync(text));
}

/**
 * {@linkcode sha256Hex}, synchronously (noble's SHA-256, plain JavaScript on every runtime): a
 * migrator checks every applied file of a bundle on each run, and Web Crypto's digest costs a
 * thread-pool hop per file on Node.
 */
export function sha256HexSync(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

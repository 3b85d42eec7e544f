/**
 * strata's history table, beside golang-migrate's version table: one row per applied
 * version with its name, the SHA-256 of its up file, when, how long, and who applied it, and
 * for a failed non-transactional file, which statement failed. The version table stays the
 * source of truth; the history is reconciled against it.
 */
import type { Queryable, ScriptItem } from "../db/database.ts";
import { quoteIdent } from "../db/quote_ident.ts";
import type { ResolvedTable } from "./version_table.ts";

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
  /** For `failed`: the direction that failed, the 1-based statement and the server's message. */
  direction: "up" | "down" | null;
  failedStatement: number | null;
  error: string | null;
  /** Why the row is as it is, e.g. recorded by reconciliation. */
  note: string | null;
}

/** The history table for a version table: `<table>_history` in the same schema. */
export function historyTableFor(versionTable: ResolvedTable): ResolvedTable {
  const table = `${versionTable.table}_history`;
  return { schema: versionTable.schema, table, sql: `${quoteIdent(versionTable.schema)}.${quoteIdent(table)}` };
}

/** Creates the history table when it is missing. */
export async function ensureHistoryTable(db: Queryable, table: ResolvedTable): Promise<void> {
  // Checked first: IF NOT EXISTS alone sends "already exists, skipping" to every client's notice handler.
  const [found] = await db.query<{ found: string | null }>("SELECT to_regclass($1)::text AS found", [table.sql]);
  if (found?.found) return;
  await db.exec(`CREATE TABLE IF NOT EXISTS ${table.sql} (
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
)`);
}

/** True when the history table exists. */
export async function historyTableExists(db: Queryable, table: ResolvedTable): Promise<boolean> {
  const rows = await db.query(
    "SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
    [table.schema, table.table],
  );
  return rows.length > 0;
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
    error: (r.error as string | null) ?? null,
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

/** Statements that record a failed non-transactional file, so `status` can explain a dirty database. */
export function recordFailure(table: ResolvedTable, record: FailureRecord): ScriptItem[] {
  return [
    { text: `DELETE FROM ${table.sql} WHERE version = $1`, params: [record.version.toString()] },
    {
      text:
        `INSERT INTO ${table.sql} (version, name, checksum, status, applied_at, client, transactional, direction, failed_statement, error)
             VALUES ($1, $2, $3, 'failed', now(), $4, false, $5, $6, $7)`,
      params: [
        record.version.toString(),
        record.name,
        record.checksum,
        record.client,
        record.direction,
        record.failedStatement,
        record.error,
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

const K = new Int32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

/**
 * SHA-256 (FIPS 180-4) in plain JavaScript, synchronously: a migrator checks every applied
 * file on each run, and Web Crypto's digest is asynchronous (a thread-pool hop per file,
 * about 0.1 ms each, which is most of a no-op `up` over 1,000 files). Checked against
 * node:crypto on empty, one-block, block-boundary (55, 56, 63, 64, 65 bytes), multi-byte
 * UTF-8 and 100 kB inputs.
 */
export function sha256HexSync(text: string): string {
  const data = ENCODER.encode(text);
  const length = data.length;
  const blocks = Math.ceil((length + 9) / 64);
  const padded = new Uint8Array(blocks * 64);
  padded.set(data);
  padded[length] = 0x80;
  const bits = padded.length - 8;
  const high = Math.floor(length / 0x20000000);
  const low = (length * 8) >>> 0;
  padded[bits] = high >>> 24;
  padded[bits + 1] = high >>> 16;
  padded[bits + 2] = high >>> 8;
  padded[bits + 3] = high;
  padded[bits + 4] = low >>> 24;
  padded[bits + 5] = low >>> 16;
  padded[bits + 6] = low >>> 8;
  padded[bits + 7] = low;
  const w = W;
  let h0 = 0x6a09e667, h1 = 0xbb67ae85 | 0, h2 = 0x3c6ef372, h3 = 0xa54ff53a | 0;
  let h4 = 0x510e527f, h5 = 0x9b05688c | 0, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0, j = offset; i < 16; i++, j += 4) {
      w[i] = (padded[j] << 24) | (padded[j + 1] << 16) | (padded[j + 2] << 8) | padded[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  return hex8(h0) + hex8(h1) + hex8(h2) + hex8(h3) + hex8(h4) + hex8(h5) + hex8(h6) + hex8(h7);
}

const ENCODER = new TextEncoder();
const W = new Int32Array(64);

function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, "0");
}

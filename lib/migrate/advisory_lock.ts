/**
 * golang-migrate's advisory lock: the same key, so strata and a Go service that runs
 * golang-migrate exclude each other. strata polls pg_try_advisory_lock until a deadline
 * instead of blocking in pg_advisory_lock, so its timeout really holds and a waiter never
 * sits in the server's lock queue (where it can deadlock with CREATE INDEX CONCURRENTLY).
 * The pause between polls is a pg_sleep in the poll itself: the session is never idle while
 * it waits, so a connection lost during the wait fails the query in flight (an idle reserved
 * connection that closed crashes postgres.js on its next query, porsager/postgres#1208),
 * and idle_session_timeout cannot end a long wait.
 */
import type { Queryable } from "../db/database.ts";
import { StrataError } from "../db/strata_error.ts";

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE) of UTF-8 bytes. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** golang-migrate's advisory lock salt. */
const SALT = 1486364155n;

/**
 * golang-migrate's lock id for a set of names: CRC-32 of the names joined with NUL, times
 * its salt, modulo 2^32.
 *
 * @example
 * ```ts
 * import { lockIdFor, migrationLockId } from "./advisory_lock.ts";
 * console.log(lockIdFor(["database_name"])); // 1764327054n
 * console.log(migrationLockId("public", "schema_migrations", "/mydb")); // 616192132n
 * ```
 */
export function lockIdFor(names: readonly string[]): bigint {
  const sum = crc32(new TextEncoder().encode(names.join("\x00")));
  return (BigInt(sum) * SALT) % 4294967296n;
}

/** The lock id golang-migrate's PostgreSQL driver takes for a version table in a database. */
export function migrationLockId(schema: string, table: string, databaseName: string): bigint {
  return lockIdFor([schema, table, databaseName]);
}

/** Options for {@linkcode acquireLock}. */
export interface AcquireLockOptions {
  /** Give up at this time (ms since the epoch). */
  deadline: number;
  /** Stop waiting when this signal aborts. */
  signal?: AbortSignal;
  /** Called once, the first time the lock is found taken. */
  onWait?: () => void;
}

/**
 * Takes the advisory lock on this session, polling with back-off until the deadline.
 *
 * @throws {StrataError} LOCK_TIMEOUT when the deadline passes first.
 */
export async function acquireLock(session: Queryable, id: bigint, options: AcquireLockOptions): Promise<void> {
  let delay = 25;
  let pause = 0;
  /** The session's statement_timeout in ms (0: none), read once the lock is found taken. */
  let statementTimeout = 0;
  let waited = false;
  for (;;) {
    const [row] = pause === 0
      ? await session.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS locked", [id.toString()])
      : await session.query<{ locked: boolean }>(
        "SELECT pg_try_advisory_lock($1::bigint) AS locked FROM pg_sleep($2::float8 / 1000)",
        [id.toString(), pause],
      );
    if (row?.locked) return;
    if (!waited) {
      waited = true;
      options.onWait?.();
      const [setting] = await session.query<{ ms: string }>(
        "SELECT setting AS ms FROM pg_settings WHERE name = 'statement_timeout'",
      );
      statementTimeout = Number(setting?.ms ?? 0) || 0;
    }
    const left = options.deadline - Date.now();
    if (left <= 0 || options.signal?.aborted) {
      throw new StrataError(
        options.signal?.aborted ? "INTERRUPTED" : "LOCK_TIMEOUT",
        options.signal?.aborted
          ? "Interrupted while waiting for the migration lock"
          : `timeout: can't acquire database lock (advisory lock ${id} is held by another session)`,
        {
          hint: options.signal?.aborted
            ? "Nothing was changed: another migration held the lock, and strata stopped waiting for it"
            : "Another migration is running. Wait for it, or find the holder with: SELECT pid, state, query FROM pg_stat_activity " +
              `WHERE pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = ${
                id % 4294967296n
              }); raise -lock-timeout to wait longer`,
        },
      );
    }
    // Half the statement_timeout at most, so the sleeping poll itself is never cancelled.
    pause = Math.max(1, Math.min(delay, left, statementTimeout > 0 ? Math.floor(statementTimeout / 2) : Infinity));
    delay = Math.min(Math.round(delay * 1.5), 1000);
  }
}

/** Releases the advisory lock on this session. */
export async function releaseLock(session: Queryable, id: bigint): Promise<void> {
  await session.query("SELECT pg_advisory_unlock($1::bigint)", [id.toString()]);
}

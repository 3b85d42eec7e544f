/**
 * pg_dump's SQL (and pglite-tools' pg_dump, which runs on the caller's own PGlite session)
 * changes session settings, and pglite-tools leaves its snapshot transaction open. Around a
 * dump or a restore on a shared session: put every setting back, and end that transaction.
 */
import type { Database } from "../db/database.ts";

const SETTINGS = [
  "search_path",
  "extra_float_digits",
  "row_security",
  "check_function_bodies",
  "client_min_messages",
  "statement_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
  "xmloption",
  "standard_conforming_strings",
  "default_tablespace",
  "default_table_access_method",
  "client_encoding",
  "transaction_timeout",
  "synchronous_commit",
  "session_replication_role",
];

/** Runs `fn`, then ends any transaction it left open and restores the session's settings. */
export async function keepingSessionSettings<T>(db: Database, fn: () => Promise<T>): Promise<T> {
  const saved = await db.query<{ name: string; setting: string }>(
    "SELECT name, current_setting(name) AS setting FROM pg_catalog.pg_settings WHERE name = ANY ($1::text[])",
    [SETTINGS],
  );
  try {
    return await fn();
  } finally {
    const pg = db.raw as { isInTransaction?: () => boolean } | undefined;
    if (pg?.isInTransaction?.()) await db.exec("ROLLBACK").catch(() => {});
    for (const { name, setting } of saved) {
      await db.query("SELECT set_config($1, $2, false)", [name, setting]).catch(() => {});
    }
  }
}

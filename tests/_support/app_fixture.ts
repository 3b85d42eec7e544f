/**
 * The project's own migrations/ folder as a test fixture for backup, restore and deploy:
 * applied, filled with rows at fixed times, read back row by row, and copied with a failing
 * migration added.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Database } from "../../lib/db/database.ts";
import { quoteIdent } from "../../lib/db/quote_ident.ts";
import { directorySource } from "../../lib/io/directory_source.ts";
import { Migrator } from "../../lib/migrate/migrator.ts";

export const APP_MIGRATIONS = fileURLToPath(new URL("../../migrations", import.meta.url));

/** The app's tables and the version table. */
export const APP_TABLES = ["organisations", "users", "sources", "schema_migrations"];

/** A migrator over migrations/ (or another folder). */
export function appMigrator(db: Database, dir = APP_MIGRATIONS): Migrator {
  return new Migrator(db, { source: directorySource(dir), lockTimeoutMs: 5000 });
}

/** Applies migrations/, inserts rows with fixed timestamps and moves the sequences past them. */
export async function populateApp(db: Database): Promise<void> {
  const applied = await appMigrator(db).up();
  assert.equal(applied.error, undefined);
  await db.exec(`
    INSERT INTO organisations (slug, name, created_at, updated_at) VALUES
      ('acme', 'ACME', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z'),
      ('globex', 'Globex', '2020-01-02T00:00:00Z', '2020-01-02T00:00:00Z');
    INSERT INTO users (organisation_id, email, name, password_hash, role, created_at, updated_at) VALUES
      (1, 'ann@acme.test', 'Ann', 'hash-1', 'owner', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z'),
      (2, 'bob@globex.test', 'Bob', 'hash-2', 'member', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');
    INSERT INTO sources (organisation_id, name, kind, pipeline_key, settings, created_at, updated_at) VALUES
      (1, 'site', 'web', '11111111-1111-1111-1111-111111111111', '{"sample": 0.5}', '2020-01-01T00:00:00Z', '2020-01-01T00:00:00Z');
    SELECT setval(pg_get_serial_sequence('organisations', 'id'), 41);
    SELECT setval(pg_get_serial_sequence('users', 'id'), 7);
  `);
}

/** Every row of the app's tables and the version table, as JSON text. */
export async function appRows(db: Database): Promise<Record<string, string[]>> {
  const rows: Record<string, string[]> = {};
  for (const table of APP_TABLES) {
    const found = await db.query<{ row: string }>(
      `SELECT to_jsonb(t)::text AS row FROM ${quoteIdent(table)} t ORDER BY 1`,
    );
    rows[table] = found.map((r) => r.row);
  }
  return rows;
}

/** Writes a copy of migrations/ plus extra files into `dir` (created if missing). */
export async function copyMigrationsWith(dir: string, extra: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(APP_MIGRATIONS)) await copyFile(join(APP_MIGRATIONS, name), join(dir, name));
  for (const [name, text] of Object.entries(extra)) await writeFile(join(dir, name), text);
}

/** Migration 5 that fails in its transaction after changing rows (a CHECK breaks). */
export const FAILING_IN_TRANSACTION = `CREATE TABLE deploy_leftover (id int);
UPDATE organisations SET name = 'changed by 5';
INSERT INTO organisations (slug, name) VALUES ('Not A Slug!', 'breaks the CHECK');
`;

/** Migration 5 that runs outside a transaction and fails after two statements changed rows. */
export const FAILING_OUTSIDE_TRANSACTION = `-- strata:no-transaction
UPDATE organisations SET name = 'changed by 5';
DELETE FROM sources;
SELECT 1 / 0;
`;

/** Migration 5 that applies (with its down file), for a deploy that fails at 6. */
export const APPLIED_FIVE: Record<string, string> = {
  "000005_applied.up.sql": "CREATE TABLE deploy_applied (id int);\n",
  "000005_applied.down.sql": "DROP TABLE deploy_applied;\n",
};

/** Shared by the schema tests: the example migrations and the every-kind fixture. */
import { readdir, readFile } from "node:fs/promises";
import assert from "node:assert/strict";
import type { Database } from "../../lib/db/database.ts";
import { diffSnapshots, formatDiff } from "../../lib/schema/diff_snapshots.ts";
import { snapshotSchema } from "../../lib/schema/snapshot_schema.ts";
import type { SchemaSnapshot } from "../../lib/schema/snapshot_types.ts";
import { withDatabase } from "../_support/backends.ts";
import { loadParser } from "../../lib/migrate/sql_script.ts";

const ROOT = new URL("../../", import.meta.url);

/** Applies the example migrations' up files in order, each file as one exec (000004 builds an index CONCURRENTLY, so it must not share a transaction). */
export async function applyExampleMigrations(db: Database): Promise<void> {
  const dir = new URL("migrations/", ROOT);
  const files = (await readdir(dir)).filter((name) => name.endsWith(".up.sql")).sort();
  for (const file of files) await db.exec(await readFile(new URL(file, dir), "utf8"));
}

/** The SQL that makes one object of every kind a snapshot covers. */
export function everyKindSql(): Promise<string> {
  return readFile(new URL("tests/schema/fixtures/every_kind.sql", ROOT), "utf8");
}

/** Runs statements one by one, naming the one that fails. */
export async function applyStatements(db: Database, statements: readonly string[]): Promise<void> {
  for (const statement of statements) {
    try {
      await db.exec(statement);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n  in: ${statement}`, { cause: error });
    }
  }
}

/**
 * Runs a script as `psql -v ON_ERROR_STOP=1 -f` does: statement by statement (split by the
 * real parser) on one session, stopping at the first failure, which ends an open transaction.
 */
export async function runScript(db: Database, script: string): Promise<void> {
  const parse = await loadParser();
  const bytes = new TextEncoder().encode(script);
  const statements = (parse(script).stmts ?? []).map(({ stmt_location: start = 0, stmt_len: length }) =>
    new TextDecoder().decode(bytes.subarray(start, length ? start + length : bytes.length))
  );
  await db.withSession(async (session) => {
    for (const statement of statements) {
      try {
        await session.exec(statement);
      } catch (error) {
        await session.exec("ROLLBACK");
        throw new Error(`${(error as Error).message}\n  in: ${statement.trim()}`, { cause: error });
      }
    }
  });
}

/**
 * Two fresh databases on `backend`: A made by `sql.a` (its rows included), B by `sql.b`; `fn`
 * gets A and both snapshots.
 */
export async function withSchemas(
  t: { skip(message?: string): void },
  backend: "postgres" | "pglite",
  sql: { a: string; b: string },
  fn: (db: Database, a: SchemaSnapshot, b: SchemaSnapshot) => Promise<void>,
): Promise<void> {
  await withDatabase(t, backend, async ({ db: first }) => {
    await withDatabase(t, backend, async ({ db: second }) => {
      await first.exec(sql.a);
      await second.exec(sql.b);
      await fn(first, await snapshotSchema(first), await snapshotSchema(second));
    });
  });
}

/** The live schema of `db` is `expected`: diffing them finds nothing. */
export async function assertSchema(db: Database, expected: SchemaSnapshot): Promise<void> {
  const diff = diffSnapshots(expected, await snapshotSchema(db));
  assert.deepEqual(diff.changes, [], formatDiff(diff));
}

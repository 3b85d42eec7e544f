/**
 * The postgres.js driver over a client the caller made (strata/core's `postgresDatabase`, as
 * in the README's edge snippet): failures to connect, and what strata sends on the caller's
 * connection after a failure.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import { postgresDatabase } from "../../lib/db/postgres_database.ts";
import { StrataError } from "../../lib/db/strata_error.ts";
import { memorySource } from "../../lib/migrate/migration_source.ts";
import { Migrator } from "../../lib/migrate/migrator.ts";
import { postgresReachable, TEST_DATABASE_URL } from "../_support/backends.ts";

const FILES = { "1_a.up.sql": "CREATE TABLE a (id int);\n" };

/** What up() and version() throw on a client made from `url`. */
async function failures(url: string): Promise<StrataError[]> {
  const db = postgresDatabase(postgres(url, { connect_timeout: 5, onnotice: () => {} }));
  try {
    const migrator = new Migrator(db, { source: memorySource(FILES), lockTimeoutMs: 5_000 });
    const errors: unknown[] = [];
    const run = await migrator.up().catch((error) => ({ error }));
    errors.push(run.error);
    errors.push(await migrator.version().then(() => undefined, (error) => error));
    errors.push(await db.query("SELECT 1").then(() => undefined, (error) => error));
    for (const error of errors) assert.ok(error instanceof StrataError, `not a StrataError: ${error}`);
    return errors as StrataError[];
  } finally {
    await db.close();
  }
}

test("through the caller's postgres.js client, a database that does not exist is CONNECTION_FAILED with the createdb hint, not a lost connection", async (t) => {
  if (!(await postgresReachable())) return t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
  const name = `strata_missing_${Math.random().toString(36).slice(2, 8)}`;
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  for (const error of await failures(url.toString())) {
    assert.equal(error.code, "CONNECTION_FAILED", error.message);
    assert.match(
      error.message,
      new RegExp(`^Cannot connect to postgres://.*/${name}: database "${name}" does not exist$`),
    );
    assert.match(error.hint ?? "", new RegExp(`^Create the database first \\(createdb -h .* ${name}\\)`));
  }
});

test("through the caller's postgres.js client, a role that does not exist is AUTH_FAILED", async (t) => {
  if (!(await postgresReachable())) return t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
  const url = new URL(TEST_DATABASE_URL);
  url.username = `strata_norole_${Math.random().toString(36).slice(2, 8)}`;
  url.password = "";
  for (const error of await failures(url.toString())) {
    assert.equal(error.code, "AUTH_FAILED", error.message);
    assert.match(error.message, /^Cannot log in to .*: role "strata_norole_\w+" does not exist$/);
  }
});

test("through the caller's postgres.js client, nothing listening is CONNECTION_FAILED naming the server", async () => {
  for (const error of await failures("postgres://postgres@127.0.0.1:1/app")) {
    assert.equal(error.code, "CONNECTION_FAILED", error.message);
    assert.equal(error.message, "Cannot connect to postgres://postgres@127.0.0.1:1/app: connection refused");
    assert.match(error.hint ?? "", /Try: psql -h 127\.0\.0\.1 -p 1 -U postgres -d app -c 'SELECT 1'/);
  }
});

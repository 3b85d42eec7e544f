/**
 * withScratchDatabase: a temporary database on the server named in the URL, made from
 * template0 with the URL's database's encoding and collation, reached with the URL's
 * credentials, and gone afterwards (also when fn throws, also with sessions fn left open);
 * PGlite in memory when the role may not create databases or there is no server URL.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import postgres from "postgres";
import type { Database } from "../../lib/db/database.ts";
import { withScratchDatabase } from "../../lib/io/scratch_database.ts";
import { postgresReachable, TEST_DATABASE_URL } from "../_support/backends.ts";

async function admin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function databaseExists(name: string): Promise<boolean> {
  return await admin(async (sql) =>
    (await sql`SELECT 1 FROM pg_catalog.pg_database WHERE datname = ${name}`).length > 0
  );
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

test("[postgres] the scratch is a temporary database on the same server, like the URL's, dropped afterwards", async (t) => {
  if (!(await postgresReachable())) return t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
  // trust auth ignores the password; it must still never show in the description
  const url = withPassword(TEST_DATABASE_URL, "s3cret-pw");
  const seen = await withScratchDatabase(url, async ({ db, description, kind }) => {
    const [row] = await db.query<{ name: string; tables: string; collate: string; encoding: string }>(
      `SELECT current_database() AS name,
              (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast'))::text AS tables,
              d.datcollate AS collate, pg_encoding_to_char(d.encoding) AS encoding
       FROM pg_catalog.pg_database d WHERE d.datname = current_database()`,
    );
    assert.equal(kind, "postgres");
    assert.equal(db.dialect, "postgres");
    assert.match(row.name, /^strata_scratch_[0-9a-f]{8}$/);
    assert.equal(row.tables, "0");
    assert.equal(description, `temporary database ${row.name} on ${new URL(TEST_DATABASE_URL).host}`);
    assert.doesNotMatch(description, /s3cret/);
    assert.equal(await databaseExists(row.name), true);
    return row;
  });
  const live = await admin(async (sql) =>
    (await sql<Array<{ collate: string; encoding: string }>>`
      SELECT datcollate AS collate, pg_encoding_to_char(encoding) AS encoding FROM pg_catalog.pg_database
      WHERE datname = current_database()`)[0]
  );
  assert.deepEqual({ collate: seen.collate, encoding: seen.encoding }, live);
  assert.equal(await databaseExists(seen.name), false);
});

test("[postgres] the temporary database is dropped when fn throws, and fn's error comes through", async (t) => {
  if (!(await postgresReachable())) return t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
  let name = "";
  await assert.rejects(
    withScratchDatabase(TEST_DATABASE_URL, async ({ db }) => {
      [{ name }] = await db.query<{ name: string }>("SELECT current_database() AS name");
      await db.exec("CREATE TABLE t (id int)");
      throw new Error("fn failed");
    }),
    /^Error: fn failed$/,
  );
  assert.match(name, /^strata_scratch_/);
  assert.equal(await databaseExists(name), false);
});

test("[postgres] sessions fn leaves open on the temporary database do not keep it from being dropped", async (t) => {
  if (!(await postgresReachable())) return t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
  let leaked: postgres.Sql | undefined;
  const name = await withScratchDatabase(TEST_DATABASE_URL, async ({ db }) => {
    const [{ name }] = await db.query<{ name: string }>("SELECT current_database() AS name");
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${name}`;
    leaked = postgres(url.toString(), { max: 1, onnotice: () => {} });
    await leaked`SELECT 1`;
    return name;
  });
  try {
    assert.equal(await databaseExists(name), false);
  } finally {
    await leaked?.end({ timeout: 0 }).catch(() => {});
  }
});

test("[postgres] a role that may not create databases gets PGlite in memory, and says why", async (t) => {
  if (!(await postgresReachable())) return t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
  const role = `strata_nocreatedb_${Math.random().toString(36).slice(2, 8)}`;
  await admin((sql) => sql.unsafe(`CREATE ROLE "${role}" LOGIN NOCREATEDB`));
  try {
    const url = new URL(TEST_DATABASE_URL);
    url.username = role;
    url.password = "";
    const result = await withScratchDatabase(url.toString(), async ({ db, description, kind }) => {
      assert.equal(kind, "pglite");
      assert.equal(db.dialect, "pglite");
      await db.exec("CREATE TABLE t (id int)");
      return description;
    });
    assert.equal(result, `PGlite in memory (the role may not create databases on ${url.host})`);
  } finally {
    await admin((sql) => sql.unsafe(`DROP ROLE IF EXISTS "${role}"`));
  }
});

test("without a server URL the scratch is PGlite in memory, closed afterwards", async () => {
  let scratch: Database | undefined;
  const description = await withScratchDatabase(undefined, async ({ db, description, kind }) => {
    assert.equal(kind, "pglite");
    await db.exec("CREATE TABLE t (id int)");
    scratch = db;
    return description;
  });
  assert.equal(description, "PGlite in memory");
  await assert.rejects(scratch!.query("SELECT 1"));
});

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
import { runSeeds } from "../../lib/seed/seeder.ts";
import { postgresReachable, TEST_DATABASE_URL, withDatabase } from "../_support/backends.ts";

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

test("strata sends no ROLLBACK outside a transaction on the caller's postgres.js client: no 'there is no transaction in progress' notice after a failing file, seed or refused run, and no transaction left open", async (t) => {
  await withDatabase(t, "postgres", async ({ url }) => {
    const notices: Array<{ code?: string; message?: string }> = [];
    // One connection, so every step runs on the connection the one before left behind.
    const sql = postgres(url, { max: 1, onnotice: (notice) => notices.push(notice) });
    const db = postgresDatabase(sql);
    try {
      const step = async (name: string, run: () => Promise<unknown>, expect: RegExp) => {
        const outcome = await run().then((value) => value, (error) => ({ error }));
        const error = (outcome as { error?: Error } | undefined)?.error;
        assert.match(String(error?.message), expect, name);
        assert.deepEqual(notices, [], `${name}: ${JSON.stringify(notices)}`);
        const [{ open }] = await db.query<{ open: boolean }>("SELECT now() <> statement_timestamp() AS open");
        assert.equal(open, false, `${name} left a transaction open`);
      };
      const files = {
        "1_a.up.sql": "CREATE TABLE a (id int PRIMARY KEY);\n",
        "2_b.up.sql": "CREATE TABLE b (id int);\nSELECT 1 / 0;\n",
      };
      const migrator = (source: Record<string, string>) =>
        new Migrator(db, { source: memorySource(source), lockTimeoutMs: 5_000 });
      await step("a transactional file failing at a statement", () => migrator(files).up(), /division by zero/);
      await step(
        "a transactional file failing at COMMIT",
        () =>
          migrator({
            ...files,
            "2_b.up.sql": "CREATE TABLE b (id int REFERENCES a DEFERRABLE INITIALLY DEFERRED);\n" +
              "INSERT INTO b VALUES (7);\n",
          }).up(),
        /could not commit/,
      );
      await step(
        "a file with transactions of its own failing at its COMMIT",
        () =>
          migrator({
            ...files,
            "2_b.up.sql":
              "-- strata:no-transaction\nCREATE TABLE b (id int REFERENCES a DEFERRABLE INITIALLY DEFERRED);\n" +
              "BEGIN;\nINSERT INTO b VALUES (7);\nCOMMIT;\n",
          }).up(),
        /violates foreign key constraint/,
      );
      await db.query("UPDATE schema_migrations SET dirty = false");
      await step(
        "a failing SQL seed",
        () =>
          runSeeds(db, [{
            name: "1.sql",
            kind: "sql",
            text: "INSERT INTO a VALUES (1);\nINSERT INTO a VALUES (1);\n",
          }]),
        /duplicate key/,
      );
      await step(
        "a data seed whose rows function throws",
        () =>
          runSeeds(db, [{
            name: "2.ts",
            kind: "data",
            seed: {
              table: "a",
              key: ["id"],
              rows: () => {
                throw new Error("no rows today");
              },
            },
          }]),
        /no rows today/,
      );
      await db.exec("CREATE TABLE c (id int PRIMARY KEY, a_id int REFERENCES a DEFERRABLE INITIALLY DEFERRED)");
      await step(
        "a data seed failing at COMMIT",
        () =>
          runSeeds(db, [{
            name: "3.json",
            kind: "data",
            seed: { table: "c", key: ["id"], rows: [{ id: 1, a_id: 99 }] },
          }]),
        /violates foreign key constraint/,
      );
      await step(
        "a seed refused before it runs",
        () => runSeeds(db, [{ name: "4.json", kind: "data", seed: { table: "b", key: ["id"], rows: [{ id: 1 }] } }]),
        /no unique index/,
      );
      await step("a session its caller left in a transaction", () =>
        db.withSession(async (session) => {
          await session.exec("BEGIN");
          throw new Error("the caller's own bug");
        }), /the caller's own bug/);
      await step("a session its caller left in an aborted transaction", () =>
        db.withSession(async (session) => {
          await session.exec("BEGIN");
          await session.exec("SELECT 1 / 0");
        }), /division by zero/);
      await db.query("UPDATE schema_migrations SET dirty = true");
      await step("a run refused before it starts (DIRTY)", () => migrator(files).up(), /Dirty database version/);
    } finally {
      await db.close();
    }
  });
});

/**
 * verifyMigrations and replayMigrations on both backends: the example migrations (CREATE
 * INDEX CONCURRENTLY, a plpgsql trigger function) go up, down and up again; a down that
 * leaves an object over, drops an earlier one, or fails outright is reported with the
 * object or the error named; a migration without a down file is reported, not failed; a
 * database that holds migrations is refused.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { StrataError } from "../../lib/db/strata_error.ts";
import { directorySource } from "../../lib/io/directory_source.ts";
import { memorySource } from "../../lib/migrate/migration_source.ts";
import { Migrator } from "../../lib/migrate/migrator.ts";
import { readVersion, resolveTable } from "../../lib/migrate/version_table.ts";
import {
  formatVerifyReport,
  replayMigrations,
  verifyMigrations,
  type VerifyStep,
} from "../../lib/schema/verify_migrations.ts";
import { BACKENDS, withDatabase } from "../_support/backends.ts";

const EXAMPLES = fileURLToPath(new URL("../../migrations", import.meta.url));

const USERS: Record<string, string> = {
  "1_users.up.sql": "CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);\n" +
    "CREATE INDEX users_email_idx ON users (email);",
  "1_users.down.sql": "DROP TABLE users;",
};

const summary = (step: VerifyStep) => (step.changes ?? []).map((c) => `${c.change} ${c.kind} ${c.name}`);

for (const backend of BACKENDS) {
  test(`[${backend}] verify passes on the example migrations (CONCURRENTLY index, plpgsql trigger function)`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const seen: bigint[] = [];
      const report = await verifyMigrations(db, directorySource(EXAMPLES), { onStep: (s) => seen.push(s.version) });
      assert.equal(report.ok, true, formatVerifyReport(report));
      assert.deepEqual(report.steps.map((s) => [s.version, s.name, s.result]), [
        [1n, "000001_create_organisations.up.sql", "ok"],
        [2n, "000002_create_users.up.sql", "ok"],
        [3n, "000003_create_sources.up.sql", "ok"],
        [4n, "000004_index_sources_created_at.up.sql", "ok"],
      ]);
      assert.deepEqual(seen, [1n, 2n, 3n, 4n]);
      assert.deepEqual(report.notChecked, []);
      assert.match(formatVerifyReport(report), /All 4 migrations go up, down and up again with the same schema\n$/);
      // verify leaves the scratch migrated to the latest version, clean
      const table = await resolveTable(db, { table: "schema_migrations" });
      assert.deepEqual(await readVersion(db, table), { version: 4n, dirty: false });
    });
  });

  test(`[${backend}] a down that forgets a table is "down does not restore", naming public.audit_log left over`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const report = await verifyMigrations(
        db,
        memorySource({
          ...USERS,
          "2_audit.up.sql": "CREATE TABLE notes (id int);\nCREATE TABLE audit_log (id int, at timestamptz);",
          "2_audit.down.sql": "DROP TABLE notes;",
          "3_later.up.sql": "CREATE TABLE later (id int);",
          "3_later.down.sql": "DROP TABLE later;",
        }),
      );
      assert.equal(report.ok, false);
      const [first, second] = report.steps;
      assert.equal(first.result, "ok");
      assert.equal(second.result, "down does not restore");
      assert.deepEqual(summary(second), ["added table public.audit_log"]);
      // the table left over makes the second up fail: verify stops there and says so
      assert.match(second.error!, /^up again: 2_audit\.up\.sql, statement 2, line 2.*"audit_log" already exists/);
      assert.deepEqual(report.notChecked, [{ version: 3n, name: "3_later.up.sql" }]);
      const text = formatVerifyReport(report);
      assert.match(
        text,
        /^2_audit\.up\.sql: down does not restore the schema\n {4}left over: table public\.audit_log\n/m,
      );
      assert.match(text, /Not checked \(an earlier migration failed\): 3_later\.up\.sql/);
      assert.match(text, /Verify failed: 1 migration of 3 failed, 1 not checked\n$/);
    });
  });

  test(`[${backend}] a down that drops an earlier migration's index names it missing, and verify goes on`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const report = await verifyMigrations(
        db,
        memorySource({
          ...USERS,
          "2_posts.up.sql": "CREATE TABLE posts (id int, user_id int REFERENCES users (id));",
          "2_posts.down.sql": "DROP TABLE posts;\nDROP INDEX users_email_idx;",
          "3_tags.up.sql": "CREATE TABLE tags (id int);",
          "3_tags.down.sql": "DROP TABLE tags;",
        }),
      );
      assert.equal(report.ok, false);
      assert.deepEqual(report.steps.map((s) => s.result), ["ok", "down does not restore", "ok"]);
      assert.deepEqual(summary(report.steps[1]), ["removed index public.users_email_idx"]);
      assert.equal(report.steps[1].error, undefined);
      assert.match(formatVerifyReport(report), /\n {4}missing: index public\.users_email_idx\n/);
    });
  });

  test(`[${backend}] a down that changes an object names it changed, with its old and new definition`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const report = await verifyMigrations(
        db,
        memorySource({
          "1_f.up.sql": "CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42';",
          "1_f.down.sql": "DROP FUNCTION answer();",
          "2_t.up.sql": "CREATE TABLE t (id int);",
          "2_t.down.sql": "DROP TABLE t;\nCREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 41';",
        }),
      );
      const step = report.steps[1];
      assert.equal(step.result, "down does not restore");
      assert.deepEqual(summary(step), ["changed function public.answer()"]);
      const text = formatVerifyReport(report);
      assert.match(text, /changed: function public\.answer\(\)\n/);
      assert.match(text, /- .*SELECT 42/);
      assert.match(text, /\+ .*SELECT 41/);
    });
  });

  test(`[${backend}] an up that gives another schema after its down is "up again differs"`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      // The up depends on data its down does not remove: the second up builds an index the first did not.
      const report = await verifyMigrations(
        db,
        memorySource({
          "1_runs.up.sql": "CREATE TABLE runs (n int);",
          "1_runs.down.sql": "DROP TABLE runs;",
          "2_t.up.sql": `INSERT INTO runs VALUES (1);
DO $$ BEGIN IF (SELECT count(*) FROM runs) > 1 THEN CREATE INDEX runs_n_idx ON runs (n); END IF; END $$;
CREATE TABLE t (id int);`,
          "2_t.down.sql": "DROP TABLE t;",
        }),
      );
      assert.equal(report.ok, false);
      assert.equal(report.steps[1].result, "up again differs");
      assert.deepEqual(summary(report.steps[1]), ["added index public.runs_n_idx"]);
      assert.match(
        formatVerifyReport(report),
        /up after down gives a different schema than the first up\n {4}extra: index public\.runs_n_idx/,
      );
    });
  });

  test(`[${backend}] a down that fails outright is "down failed" with the file, line and server error`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const report = await verifyMigrations(
        db,
        memorySource({
          ...USERS,
          "2_b.up.sql": "CREATE TABLE b (id int);",
          "2_b.down.sql": "DROP TABLE b;\nDROP TABLE nope;",
          "3_c.up.sql": "CREATE TABLE c (id int);",
          "3_c.down.sql": "DROP TABLE c;",
        }),
      );
      assert.equal(report.ok, false);
      assert.deepEqual(report.steps.map((s) => s.result), ["ok", "down failed"]);
      assert.match(report.steps[1].error!, /^2_b\.down\.sql, statement 2, line 2.*table "nope" does not exist/);
      assert.deepEqual(report.notChecked?.map((m) => m.version), [3n]);
      assert.match(formatVerifyReport(report), /2_b\.up\.sql: down failed\n {4}error: 2_b\.down\.sql, statement 2/);
    });
  });

  test(`[${backend}] an up that fails is "up failed" and stops verify`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const report = await verifyMigrations(
        db,
        memorySource({ ...USERS, "2_b.up.sql": "CREATE TABLE b (id int REFERENCES nowhere (id));" }),
      );
      assert.equal(report.ok, false);
      assert.deepEqual(report.steps.map((s) => s.result), ["ok", "up failed"]);
      assert.match(report.steps[1].error!, /^2_b\.up\.sql, statement 1, line 1.*"nowhere" does not exist/);
    });
  });

  test(`[${backend}] a migration without a down file is reported "no down" and does not fail verify unless required`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = { ...USERS, "2_seed.up.sql": "CREATE TABLE irreversible (id int);" };
      const report = await verifyMigrations(
        db,
        memorySource({ ...files, "3_c.up.sql": "CREATE TABLE c (id int);", "3_c.down.sql": "DROP TABLE c;" }),
      );
      assert.equal(report.ok, true, formatVerifyReport(report));
      assert.deepEqual(report.steps.map((s) => s.result), ["ok", "no down", "ok"]);
      assert.match(formatVerifyReport(report), /2_seed\.up\.sql: no down file \(cannot be reverted; not checked\)/);
      assert.match(
        formatVerifyReport(report),
        /All 2 migrations go up, down and up again .* \(1 without a down file, not checked\)/,
      );
    });
    await withDatabase(t, backend, async ({ db }) => {
      const report = await verifyMigrations(db, memorySource({ ...USERS, "2_seed.up.sql": "SELECT 1;" }), {
        requireDown: true,
      });
      assert.equal(report.ok, false);
      assert.match(formatVerifyReport(report), /Verify failed: 1 migration without a down file/);
    });
    await withDatabase(t, backend, async ({ db }) => {
      // A down that leaves a table over and a file without a down: the summary counts both.
      const report = await verifyMigrations(
        db,
        memorySource({
          ...USERS,
          "2_seed.up.sql": "SELECT 1;",
          "3_c.up.sql": "CREATE TABLE c (id int); CREATE TABLE c2 (id int);",
          "3_c.down.sql": "DROP TABLE c;",
        }),
        { requireDown: true },
      );
      assert.equal(report.ok, false);
      assert.match(
        formatVerifyReport(report),
        /\nVerify failed: 1 migration of 3 failed, 1 migration without a down file\n$/,
      );
    });
  });

  test(`[${backend}] verify refuses a database that holds migrations (it runs every down file)`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const source = memorySource(USERS);
      await new Migrator(db, { source }).up();
      await assert.rejects(verifyMigrations(db, source), (error: StrataError) => {
        assert.equal(error.code, "USAGE");
        assert.match(error.message, /is at version 1: verify needs an empty scratch database/);
        return true;
      });
      assert.equal((await db.query("SELECT 1 FROM pg_catalog.pg_tables WHERE tablename = 'users'")).length, 1);
    });
  });

  test(`[${backend}] verify and replay work with a version table in its own schema`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const versionTable = { schema: "migrations", table: "app" };
      const report = await verifyMigrations(db, memorySource(USERS), { versionTable });
      assert.equal(report.ok, true, formatVerifyReport(report));
      const rows = await db.query<{ version: string }>("SELECT version::text AS version FROM migrations.app");
      assert.deepEqual(rows, [{ version: "1" }]);
    });
  });

  test(`[${backend}] replayMigrations stops at the version asked for and leaves the version tables out`, async (t) => {
    const source = memorySource({
      ...USERS,
      "2_posts.up.sql": "CREATE TABLE posts (id int);",
      "2_posts.down.sql": "DROP TABLE posts;",
    });
    await withDatabase(t, backend, async ({ db }) => {
      const snapshot = await replayMigrations(db, source, { to: 1n });
      assert.deepEqual(snapshot.objects.tables.map((table) => table.name), ["users"]);
    });
    await withDatabase(t, backend, async ({ db }) => {
      const snapshot = await replayMigrations(db, source);
      assert.deepEqual(snapshot.objects.tables.map((table) => table.name), ["posts", "users"]);
    });
    await withDatabase(t, backend, async ({ db }) => {
      assert.deepEqual((await replayMigrations(db, source, { to: null })).objects.tables, []);
      await assert.rejects(replayMigrations(db, source, { to: 7n }), /No migration with version 7 in memory/);
    });
  });

  test(`[${backend}] replayMigrations names the file, statement and line that fail`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const source = memorySource({
        ...USERS,
        "2_bad.up.sql": "CREATE TABLE ok (id int);\nCREATE TABLE users (id int);",
      });
      await assert.rejects(replayMigrations(db, source), (error: StrataError) => {
        assert.equal(error.code, "MIGRATION_FAILED");
        assert.match(
          error.message,
          /^Replaying memory on a scratch database failed: 2_bad\.up\.sql, statement 2, line 2.*"users" already exists/,
        );
        return true;
      });
    });
  });
}

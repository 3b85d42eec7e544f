import assert from "node:assert/strict";
import { test } from "node:test";
import postgres from "postgres";
import { StrataError } from "../../lib/db/strata_error.ts";
import { acquireLock, crc32, lockIdFor, migrationLockId, releaseLock } from "../../lib/migrate/advisory_lock.ts";
import { withDatabase } from "../_support/backends.ts";

test("lock ids match golang-migrate's test vectors", () => {
  assert.equal(lockIdFor(["database_name"]), 1764327054n);
  assert.equal(lockIdFor(["schema_name_1", "database_name"]), 2453313553n);
  assert.equal(migrationLockId("public", "schema_migrations", "/mydb"), 616192132n);
  assert.equal(migrationLockId("public", "schema_migrations", "mydb"), 2103762914n);
  assert.equal(migrationLockId("public", "schema_migrations", "/postgres"), 3280485947n);
  assert.equal(migrationLockId("public", "schema_migrations", "postgres"), 143310882n);
});

test("crc32 is CRC-32/IEEE over UTF-8 bytes", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array()), 0);
  assert.notEqual(
    lockIdFor(["public", "schema_migrations", "/café"]),
    lockIdFor(["public", "schema_migrations", "/cafe"]),
  );
});

test("a session with a short statement_timeout waits for a held lock until its deadline, and times out as LOCK_TIMEOUT", async (t) => {
  await withDatabase(t, "postgres", async (test) => {
    const holder = postgres(test.url, { max: 1, onnotice: () => {} });
    try {
      const id = 4242n;
      const [held] = await holder`SELECT pg_try_advisory_lock(${id.toString()}::bigint) AS locked`;
      assert.equal(held.locked, true);
      // The pauses between polls run on the server (pg_sleep); they stay under the timeout.
      const error = await test.db.withSession(async (session) => {
        await session.query("SELECT set_config('statement_timeout', '150', false)");
        let waits = 0;
        return await acquireLock(session, id, { deadline: Date.now() + 1500, onWait: () => waits++ }).then(
          () => assert.fail("the lock was taken while another session held it"),
          (error: unknown) => {
            assert.equal(waits, 1);
            return error;
          },
        );
      });
      assert.ok(error instanceof StrataError, String(error));
      assert.equal(error.code, "LOCK_TIMEOUT");

      await holder`SELECT pg_advisory_unlock(${id.toString()}::bigint)`;
      await test.db.withSession(async (session) => {
        await acquireLock(session, id, { deadline: Date.now() + 1500 });
        await releaseLock(session, id);
      });
    } finally {
      await holder.end({ timeout: 1 });
    }
  });
});

test("without a lockName a migration holds golang-migrate's lock under the URL path, /current_database() and current_database(): the CLI, a server migrating from code and a Go WithInstance exclude each other; a lockName takes only its own", async (t) => {
  const { Migrator } = await import("../../lib/migrate/migrator.ts");
  const { memorySource } = await import("../../lib/migrate/migration_source.ts");
  const { postgresDatabase } = await import("../../lib/db/postgres_database.ts");
  const { openDatabase } = await import("../../lib/io/open_database.ts");
  await withDatabase(t, "postgres", async (test) => {
    const dbName = decodeURIComponent(new URL(test.url).pathname.slice(1));
    const source = memorySource({ "1_a.up.sql": "CREATE TABLE a (id int);", "1_a.down.sql": "DROP TABLE a;" });
    // As the CLI opens it (lockName = the URL's path), and as the README's bundle snippet does (no URL known).
    const { db: cli } = await openDatabase(test.url);
    const fromCode = postgresDatabase(postgres(test.url, { max: 2, onnotice: () => {} }));
    const holder = postgres(test.url, { max: 1, onnotice: () => {} });
    try {
      for (const name of [`/${dbName}`, dbName]) {
        const id = migrationLockId("public", "schema_migrations", name).toString();
        const [held] = await holder`SELECT pg_try_advisory_lock(${id}::bigint) AS locked`;
        assert.equal(held.locked, true);
        for (const [who, db] of [["cli", cli], ["code", fromCode]] as const) {
          const migrator = new Migrator(db, { source, lockTimeoutMs: 600 });
          await assert.rejects(migrator.up(), (error: unknown) => {
            assert.ok(error instanceof StrataError, String(error));
            assert.equal(error.code, "LOCK_TIMEOUT", `${who} while ${name} is held`);
            return true;
          });
          const status = await migrator.status();
          assert.ok(status.running, `${who}: status names the holder of ${name}`);
        }
        // A lockName given by the caller is the only lock taken: -lock-name mydb excludes only that key.
        const other = name === dbName ? `/${dbName}` : dbName;
        const own = await new Migrator(cli, { source, lockTimeoutMs: 600, lockName: other }).plan({ command: "up" });
        assert.equal(own.steps.length, 1);
        const run = await new Migrator(cli, { source, lockTimeoutMs: 600, lockName: other }).up();
        assert.equal(run.error, undefined);
        assert.equal((await new Migrator(cli, { source, lockName: other }).down()).error, undefined);
        await holder`SELECT pg_advisory_unlock(${id}::bigint)`;
      }
      assert.equal((await new Migrator(fromCode, { source, lockTimeoutMs: 600 }).up()).error, undefined);
    } finally {
      await holder.end({ timeout: 1 });
      await fromCode.close();
      await cli.close();
    }
  });
});

test("a version table named past 63 bytes is locked under golang-migrate's key for the name as given, not the name the server cut it to", async (t) => {
  const { Migrator } = await import("../../lib/migrate/migrator.ts");
  const { memorySource } = await import("../../lib/migrate/migration_source.ts");
  await withDatabase(t, "postgres", async (test) => {
    const source = memorySource({ "1_a.up.sql": "CREATE TABLE a (id int);", "1_a.down.sql": "DROP TABLE a;" });
    const name = "v".repeat(70);
    const migrator = () =>
      new Migrator(test.db, { source, lockTimeoutMs: 600, lockName: "/app", table: { table: name } });
    const holder = postgres(test.url, { max: 1, onnotice: () => {} });
    try {
      // What golang-migrate's Lock() hashes: current_schema(), the x-migrations-table value, the database.
      const goKey = migrationLockId("public", name, "/app").toString();
      await holder`SELECT pg_advisory_lock(${goKey}::bigint)`;
      await assert.rejects(migrator().up(), (error: unknown) => {
        assert.ok(error instanceof StrataError, String(error));
        assert.equal(error.code, "LOCK_TIMEOUT");
        return true;
      });
      await holder`SELECT pg_advisory_unlock(${goKey}::bigint)`;
      assert.equal((await migrator().up()).error, undefined);
    } finally {
      await holder.end({ timeout: 1 });
    }
  });
});

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

import assert from "node:assert/strict";
import { test } from "node:test";
import { crc32, lockIdFor, migrationLockId } from "../../lib/migrate/advisory_lock.ts";

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

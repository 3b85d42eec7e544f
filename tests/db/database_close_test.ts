/**
 * A Database used after close(), on both drivers: every call fails at once with
 * DATABASE_CLOSED instead of waiting forever (postgres.js) or throwing a bare Error (PGlite).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import type { Database } from "../../lib/db/database.ts";
import { pgliteDatabase } from "../../lib/db/pglite_database.ts";
import { StrataError } from "../../lib/db/strata_error.ts";
import { emptyPgliteTarball } from "../../lib/io/_pglite_template.ts";
import { memorySource } from "../../lib/migrate/migration_source.ts";
import { Migrator } from "../../lib/migrate/migrator.ts";
import { BACKENDS, withDatabase } from "../_support/backends.ts";

/** Every way in, each of which must reject with DATABASE_CLOSED. */
async function assertClosed(db: Database, migrator: Migrator): Promise<void> {
  const calls: Array<[string, () => Promise<unknown>]> = [
    ["migrator.version()", () => migrator.version()],
    ["migrator.up()", () => migrator.up()],
    ["migrator.status()", () => migrator.status()],
    ["db.query()", () => db.query("SELECT 1")],
    ["db.exec()", () => db.exec("SELECT 1")],
    ["db.withSession()", () => db.withSession((session) => session.query("SELECT 1"))],
  ];
  for (const [name, call] of calls) {
    await assert.rejects(call(), (error: unknown) => {
      assert.ok(error instanceof StrataError, `${name}: ${error}`);
      assert.equal(error.code, "DATABASE_CLOSED", name);
      assert.match(error.message, /is closed: it was used after close\(\)$/, name);
      return true;
    });
  }
}

for (const backend of BACKENDS) {
  test(
    `[${backend}] a Database used after close() fails at once with DATABASE_CLOSED`,
    { timeout: 60_000 },
    async (t) => {
      // The postgres one comes from openDatabase, as in an application.
      await withDatabase(t, backend, async ({ db }) => {
        const migrator = new Migrator(db, { source: memorySource({ "1_a.up.sql": "CREATE TABLE a (id int);\n" }) });
        await db.close();
        await assertClosed(db, migrator);
        await db.close(); // still safe to call twice
      });
    },
  );
}

test("[pglite] a Database whose PGlite instance its owner closed fails with DATABASE_CLOSED", async () => {
  const pg = new PGlite({ loadDataDir: await emptyPgliteTarball() });
  const db = pgliteDatabase(pg, { ownsInstance: false });
  const migrator = new Migrator(db, { source: memorySource({ "1_a.up.sql": "CREATE TABLE a (id int);\n" }) });
  assert.deepEqual(await db.query("SELECT 1 AS one"), [{ one: 1 }]);
  await pg.close();
  await assertClosed(db, migrator);
  await db.close();
});

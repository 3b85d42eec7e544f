import assert from "node:assert/strict";
import { test } from "node:test";
import { parseTableName, setVersionStatements } from "../../lib/migrate/version_table.ts";

test("parseTableName reads golang-migrate's quoted and unquoted forms", () => {
  assert.deepEqual(parseTableName(undefined, false), { table: "schema_migrations" });
  assert.deepEqual(parseTableName("migrations.app", false), { table: "migrations.app" });
  assert.deepEqual(parseTableName('"migrations"."fluxbase"', true), { schema: "migrations", table: "fluxbase" });
  assert.deepEqual(parseTableName('"only_table"', true), { table: "only_table" });
  assert.deepEqual(parseTableName('"my ""odd"" schema"."t.x"', true), { schema: 'my "odd" schema', table: "t.x" });
});

test("parseTableName rejects quoted values golang-migrate rejects", () => {
  for (const bad of ["migrations.app", '"a"."b"."c"', '"a"b', '"unterminated']) {
    assert.throws(() => parseTableName(bad, true), { code: "INVALID_TABLE" }, bad);
  }
});

test("setVersionStatements deletes then inserts, and writes -1 only when dirty", () => {
  const table = { schema: "public", table: "schema_migrations", sql: '"public"."schema_migrations"' };
  const insert = 'INSERT INTO "public"."schema_migrations" (version, dirty) VALUES ($1, $2)';
  assert.deepEqual(setVersionStatements(table, 5n, false), [
    'DELETE FROM "public"."schema_migrations"',
    { text: insert, params: ["5", false] },
  ]);
  assert.deepEqual(setVersionStatements(table, null, false), ['DELETE FROM "public"."schema_migrations"']);
  assert.deepEqual(setVersionStatements(table, null, true)[1], { text: insert, params: ["-1", true] });
});

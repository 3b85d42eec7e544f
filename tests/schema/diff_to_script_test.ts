/**
 * diffToScript: the statements of diffToSql as a script that runs in one transaction (new
 * enum labels before it), with a comment above each statement that destroys or rewrites
 * data; it runs as psql runs it, and as a migration file.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { memorySource } from "../../lib/migrate/migration_source.ts";
import { Migrator } from "../../lib/migrate/migrator.ts";
import { diffToScript } from "../../lib/schema/diff_to_script.ts";
import { emptySnapshot } from "../../lib/schema/snapshot_types.ts";
import { BACKENDS } from "../_support/backends.ts";
import { assertSchema, runScript, withSchemas } from "./_helpers.ts";

for (const backend of BACKENDS) {
  test(`[${backend}] diffToScript runs in one transaction: a statement that fails leaves A as it was`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TABLE people (id int PRIMARY KEY, code varchar(20), note text);
        CREATE TABLE old_log (id int); INSERT INTO people VALUES (1, 'abcdefgh', 'keep me');
        INSERT INTO old_log VALUES (7)`,
      b: `CREATE TABLE people (id int PRIMARY KEY, code varchar(5)); CREATE TABLE audit (id int)`,
    }, async (db, a, b) => {
      const script = diffToScript(a, b);
      assert.match(script, /^BEGIN;\n/);
      assert.match(script, /\nCOMMIT;\n$/);
      await assert.rejects(runScript(db, script), /value too long for type character varying\(5\)/);
      await assertSchema(db, a);
      assert.deepEqual(await db.query("SELECT code, note FROM people"), [{ code: "abcdefgh", note: "keep me" }]);
      assert.deepEqual(await db.query("SELECT id FROM old_log"), [{ id: 7 }]);
    });
  });

  test(`[${backend}] diffToScript says above each statement that it destroys or rewrites data`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TABLE people (id int, code varchar(20), name varchar(10), note text, total int);
        CREATE TABLE old_log (id int)`,
      b: `CREATE TABLE people (id bigint, code varchar(5), name varchar(40),
        total int GENERATED ALWAYS AS (id * 2) STORED)`,
    }, async (db, a, b) => {
      const script = diffToScript(a, b);
      assert.equal(
        script,
        [
          "BEGIN;",
          "-- destroys data: drops column public.people.total and its values, made again below",
          "ALTER TABLE public.people DROP COLUMN total;",
          "-- destroys data: drops column public.people.note and its values",
          "ALTER TABLE public.people DROP COLUMN note;",
          "-- destroys data: drops table public.old_log and its rows",
          "DROP TABLE public.old_log;",
          "-- rewrites data: public.people.code from character varying(20) to character varying(5); a value that does not fit stops the script",
          "ALTER TABLE public.people ALTER COLUMN code TYPE character varying(5);",
          "-- rewrites data: public.people.id from integer to bigint; a value that does not fit stops the script",
          "ALTER TABLE public.people ALTER COLUMN id TYPE bigint;",
          "ALTER TABLE public.people ALTER COLUMN name TYPE character varying(40);",
          "ALTER TABLE public.people ADD COLUMN total integer GENERATED ALWAYS AS ((id * 2)) STORED;",
          "COMMIT;",
          "",
        ].join("\n"),
      );
      await runScript(db, script);
      await assertSchema(db, b);
    });
  });

  test(`[${backend}] diffToScript adds enum labels before its transaction, so the transaction can use them`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE TABLE people (m mood DEFAULT 'sad');
        INSERT INTO people VALUES ('happy')`,
      b: `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE TABLE people (m mood DEFAULT 'ok')`,
    }, async (db, a, b) => {
      const script = diffToScript(a, b);
      assert.deepEqual(script.split("\n").filter((line) => !line.startsWith("--")), [
        "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'ok' BEFORE 'happy';",
        "BEGIN;",
        "ALTER TABLE public.people ALTER COLUMN m DROP DEFAULT;",
        "ALTER TABLE public.people ALTER COLUMN m SET DEFAULT 'ok'::public.mood;",
        "COMMIT;",
        "",
      ]);
      await runScript(db, script);
      await assertSchema(db, b);
      assert.deepEqual(await db.query("INSERT INTO people DEFAULT VALUES RETURNING m"), [{ m: "ok" }]);
      // Run again (after a failure further on, say): the labels are there already, and that is fine.
      await runScript(db, script);
    });
  });

  test(`[${backend}] diffToScript runs as a migration file, with or without enum labels before its transaction`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE TABLE people (m mood DEFAULT 'sad', note text);
        INSERT INTO people VALUES ('happy', 'x')`,
      b: `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy'); CREATE TABLE people (m mood DEFAULT 'ok')`,
    }, async (db, a, b) => {
      const middle = structuredClone(a);
      middle.objects.tables[0].columns.pop(); // the same schema as A, without the column `note`
      const files = { "1_drop_note.up.sql": diffToScript(a, middle), "2_ok.up.sql": diffToScript(middle, b) };
      assert.match(files["1_drop_note.up.sql"], /^BEGIN;\n/);
      assert.match(files["2_ok.up.sql"], /^ALTER TYPE .* ADD VALUE IF NOT EXISTS 'ok' BEFORE 'happy';\nBEGIN;\n/m);
      const migrator = new Migrator(db, { source: memorySource(files), lockTimeoutMs: 5000 });
      const run = await migrator.up();
      assert.equal(run.error, undefined, run.error?.message);
      assert.deepEqual(run.results.map((r) => [r.status, r.transactional]), [["applied", true], ["applied", false]]);
      await assertSchema(db, b);
      assert.deepEqual(await db.query("SELECT m FROM people"), [{ m: "happy" }]);
    });
  });
}

test("diffToScript of two equal schemas is empty", () => {
  assert.equal(diffToScript(emptySnapshot(), emptySnapshot()), "");
});

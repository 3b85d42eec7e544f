import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import type { Database } from "../../lib/db/database.ts";
import { FileError, StrataError } from "../../lib/db/strata_error.ts";
import { directorySource } from "../../lib/io/directory_source.ts";
import { memorySource } from "../../lib/migrate/migration_source.ts";
import { Migrator, type MigratorEvent, type MigratorOptions } from "../../lib/migrate/migrator.ts";
import { migrateTracks } from "../../lib/migrate/tracks.ts";
import { parseTableName } from "../../lib/migrate/version_table.ts";
import { BACKENDS, tempDir, withDatabase } from "../_support/backends.ts";

const APP = {
  "1_orgs.up.sql": "CREATE TABLE orgs (id int PRIMARY KEY, name text NOT NULL);",
  "1_orgs.down.sql": "DROP TABLE orgs;",
  "2_users.up.sql":
    "CREATE TABLE users (id int PRIMARY KEY, org_id int REFERENCES orgs (id));\nCREATE INDEX users_org ON users (org_id);",
  "2_users.down.sql": "DROP TABLE users;",
  "3_audit.up.sql": `CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.name := lower(NEW.name); -- a semicolon; inside the body
  RETURN NEW;
END;
$$;
CREATE TRIGGER orgs_touch BEFORE INSERT ON orgs FOR EACH ROW EXECUTE FUNCTION touch();`,
  "3_audit.down.sql": "DROP TRIGGER orgs_touch ON orgs;\nDROP FUNCTION touch();",
};

function migrator(db: Database, files: Record<string, string>, options: Partial<MigratorOptions> = {}): Migrator {
  return new Migrator(db, { source: memorySource(files), lockTimeoutMs: 5000, ...options });
}

/** The schema's tables, leaving out strata's history tables (tests/migrate/history_test.ts covers them). */
async function tables(db: Database, schema = "public"): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 AND tablename NOT LIKE '%\\_history' ORDER BY 1",
    [schema],
  );
  return rows.map((r) => r.name);
}

async function versionRows(
  db: Database,
  table = '"public"."schema_migrations"',
): Promise<Array<{ version: string; dirty: boolean }>> {
  return await db.query(`SELECT version::text AS version, dirty FROM ${table}`);
}

for (const backend of BACKENDS) {
  test(`up applies every pending migration in order and records the last version [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const events: MigratorEvent[] = [];
      const run = await migrator(db, APP, { onEvent: (e) => events.push(e) }).up();
      assert.equal(run.error, undefined);
      assert.deepEqual(run.results.map((r) => [r.version, r.status]), [[1n, "applied"], [2n, "applied"], [
        3n,
        "applied",
      ]]);
      assert.deepEqual(run.to, { version: 3n, dirty: false });
      assert.deepEqual(await versionRows(db), [{ version: "3", dirty: false }]);
      assert.deepEqual(await tables(db), ["orgs", "schema_migrations", "users"]);
      assert.equal(events.filter((e) => e.type === "migration").length, 3);
      await db.exec("INSERT INTO orgs VALUES (1, 'ACME')");
      assert.deepEqual(await db.query("SELECT name FROM orgs"), [{ name: "acme" }]);
      const again = await migrator(db, APP).up();
      assert.equal(again.noChange, true);
      assert.equal(again.error, undefined);
    });
  });

  test(`up leaves nothing of a file whose statement fails, and names file, statement and line [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = {
        ...APP,
        "2_users.up.sql":
          "CREATE TABLE users (id int PRIMARY KEY);\nCREATE INDEX users_id ON users (id);\n\nINSERT INTO users VALUES (1), (1);",
      };
      const run = await migrator(db, files).up();
      assert.deepEqual(run.results.map((r) => r.status), ["applied", "failed", "not run"]);
      assert.ok(run.error instanceof FileError);
      assert.equal(run.error.code, "MIGRATION_FAILED");
      assert.equal(run.error.file, "2_users.up.sql");
      assert.equal(run.error.statement, 3);
      assert.equal(run.error.line, 4);
      assert.equal(run.error.server?.code, "23505");
      assert.match(
        run.error.message,
        /^2_users\.up\.sql, statement 3, line 4, column \d+: migration failed: duplicate key value/,
      );
      assert.match(run.error.hint ?? "", /still at version 1, clean/);
      assert.deepEqual(run.to, { version: 1n, dirty: false });
      assert.deepEqual(await versionRows(db), [{ version: "1", dirty: false }]);
      assert.deepEqual(await tables(db), ["orgs", "schema_migrations"]);
      assert.deepEqual(await db.query("SELECT 1 FROM pg_class WHERE relname = 'users_id'"), []);
    });
  });

  test(`a server error position becomes the file's line and column [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = { "1_a.up.sql": "-- first\nCREATE TABLE a (id int);\nSELECT id,\n       missing_column\nFROM a;" };
      const run = await migrator(db, files).up();
      assert.ok(run.error instanceof FileError);
      assert.equal(run.error.statement, 2);
      assert.equal(run.error.line, 4);
      assert.equal(run.error.column, 8);
      assert.equal(run.error.excerpt, "       missing_column");
    });
  });

  test(`an error inside a DO block's body is placed at its line in the file, also through a function it calls [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const cases: Array<[string, number, number, string]> = [
        // PL/pgSQL's "inline_code_block line 4": the body's line 1 is the rest of the DO $$ line.
        [
          "CREATE TABLE g0 (id int);\nDO $$\nBEGIN\n  PERFORM 1;\n  INSERT INTO g0 VALUES ('notint');\nEND\n$$;",
          5,
          3,
          "  INSERT INTO g0 VALUES ('notint');",
        ],
        // LANGUAGE before a tagged body; the error raised in a function the block calls: the call's line.
        [
          "CREATE FUNCTION boom() RETURNS void LANGUAGE plpgsql AS $f$\nBEGIN\n  RAISE EXCEPTION 'inner';\nEND\n$f$;\n" +
          "/* set-up */ DO LANGUAGE plpgsql $body$ BEGIN\n    PERFORM 1;\n    PERFORM boom();\nEND $body$;",
          8,
          5,
          "    PERFORM boom();",
        ],
      ];
      // A comment between DO and the body, with a quote and a dollar sign in it.
      cases.push(["SELECT 1;\nDO -- don't $$ here\n$$\nBEGIN\n  PERFORM 1/0;\nEND\n$$;", 5, 3, "  PERFORM 1/0;"]);
      for (const [text, line, column, excerpt] of cases) {
        const run = await migrator(db, { "1_a.up.sql": text }).up();
        assert.ok(run.error instanceof FileError, String(run.error));
        assert.deepEqual([run.error.statement, run.error.line, run.error.column, run.error.excerpt], [
          2,
          line,
          column,
          excerpt,
        ]);
      }
    });
  });

  test(`a syntax error in a later pending file stops the run before anything changes [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = { ...APP, "3_audit.up.sql": "CREATE TABLE ok (id int);\nCREAT TABLE nope (id int);" };
      await assert.rejects(migrator(db, files).up(), (error: unknown) => {
        assert.ok(error instanceof FileError);
        assert.equal(error.code, "PARSE_ERROR");
        assert.equal(error.file, "3_audit.up.sql");
        assert.equal(error.line, 2);
        return true;
      });
      assert.deepEqual(await tables(db), ["schema_migrations"]);
      assert.deepEqual(await versionRows(db), []);
    });
  });

  test(`a file that cannot run in a transaction follows the dirty protocol and force clears it [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = {
        ...APP,
        "4_index.up.sql":
          "CREATE INDEX CONCURRENTLY orgs_name ON orgs (name);\nCREATE INDEX CONCURRENTLY users_bad ON users (no_such_column);",
        "4_index.down.sql": "DROP INDEX CONCURRENTLY IF EXISTS orgs_name;",
      };
      const run = await migrator(db, files).up();
      assert.equal(run.results[3].transactional, false);
      assert.ok(run.error instanceof FileError);
      assert.equal(run.error.statement, 2);
      assert.match(run.error.hint ?? "", /dirty at version 4.*'force 4'.*'force 3'/s);
      assert.deepEqual(run.to, { version: 4n, dirty: true });
      assert.deepEqual(await versionRows(db), [{ version: "4", dirty: true }]);
      // The first statement stays: that is what "dirty" means.
      assert.equal((await db.query("SELECT 1 FROM pg_class WHERE relname = 'orgs_name'")).length, 1);

      const refused = migrator(db, files).up();
      await assert.rejects(refused, (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.code, "DIRTY");
        assert.equal(error.message, "Dirty database version 4. Fix and force version.");
        assert.match(error.hint ?? "", /'force 4'.*'force 3'/);
        return true;
      });
      await db.exec("DROP INDEX orgs_name");
      assert.deepEqual(await migrator(db, files).force(3n), { version: 3n, dirty: false });
      const fixed = { ...files, "4_index.up.sql": "CREATE INDEX CONCURRENTLY orgs_name ON orgs (name);" };
      const rerun = await migrator(db, fixed).up();
      assert.equal(rerun.error, undefined);
      assert.deepEqual(rerun.to, { version: 4n, dirty: false });
    });
  });

  test(`down, goto and limits move between versions like golang-migrate [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const m = migrator(db, APP);
      const first = await m.up({ limit: 1 });
      assert.deepEqual(first.to.version, 1n);
      const short = await m.up({ limit: 5 });
      assert.equal(short.error?.code, "LIMIT_SHORT");
      assert.equal(short.error?.message, "limit 3 short");
      assert.equal(short.error?.hint, "Only 2 migrations were pending: all applied");
      assert.equal(short.to.version, 3n);
      const down = await m.down({ limit: 1 });
      assert.deepEqual(down.results.map((r) => [r.version, r.direction, r.status]), [[3n, "down", "applied"]]);
      assert.equal(down.to.version, 2n);
      const gotoOne = await m.goto(1n);
      assert.deepEqual(gotoOne.results.map((r) => r.version), [2n]);
      assert.deepEqual(await tables(db), ["orgs", "schema_migrations"]);
      const gotoThree = await m.goto(3n);
      assert.deepEqual(gotoThree.results.map((r) => r.version), [2n, 3n]);
      assert.equal((await m.goto(3n)).noChange, true);
      await assert.rejects(m.goto(7n), /no migration found for version 7/);
      const all = await m.down();
      assert.deepEqual(all.results.map((r) => r.version), [3n, 2n, 1n]);
      assert.deepEqual(all.to, { version: null, dirty: false });
      assert.deepEqual(await versionRows(db), []);
      assert.deepEqual(await m.version(), { version: null, dirty: false });
      assert.equal((await m.down()).noChange, true);
      assert.equal((await m.down({ limit: 1 })).error?.hint, "No migration is applied: nothing to revert");
      await m.up({ limit: 1 });
      assert.equal((await m.down({ limit: 3 })).error?.hint, "Only 1 migration was applied: all reverted");
    });
  });

  test(`up refuses a database at a version the files lack [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await migrator(db, APP).force(99n);
      await assert.rejects(migrator(db, APP).up(), (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.code, "VERSION_MISSING");
        assert.match(error.message, /^no migration found for version 99/);
        return true;
      });
      assert.deepEqual(await versionRows(db), [{ version: "99", dirty: false }]);
    });
  });

  test(`empty files and missing down files move the version with a warning [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const warnings: string[] = [];
      const files = {
        "1_a.up.sql": "CREATE TABLE a (id int);",
        "2_placeholder.up.sql": "-- nothing yet\n",
        "2_placeholder.down.sql": "",
      };
      const m = migrator(db, files, { onEvent: (e) => e.type === "warning" && warnings.push(e.message) });
      const run = await m.up();
      assert.equal(run.error, undefined);
      assert.equal(run.to.version, 2n);
      assert.match(warnings.join("\n"), /2_placeholder\.up\.sql is empty/);
      const down = await m.down();
      assert.equal(down.error, undefined);
      assert.match(warnings.join("\n"), /No down file for version 1 \(1_a\)/);
      assert.deepEqual(await tables(db), ["a", "schema_migrations"]);
    });
  });

  test(`a file's own BEGIN/COMMIT commits together with its version update [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = { "1_a.up.sql": "BEGIN;\nCREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\nCOMMIT;\n" };
      const run = await migrator(db, files).up();
      assert.equal(run.error, undefined);
      assert.match(run.results[0].warning ?? "", /own BEGIN\/COMMIT were taken off/);
      assert.deepEqual(await versionRows(db), [{ version: "1", dirty: false }]);
      const failing = {
        "1_a.up.sql": files["1_a.up.sql"],
        "2_b.up.sql": "BEGIN;\nCREATE TABLE b (id int);\nSELECT 1/0;\nCOMMIT;",
      };
      const run2 = await migrator(db, failing).up();
      assert.equal(run2.error?.code, "MIGRATION_FAILED");
      assert.deepEqual(await tables(db), ["a", "schema_migrations"]);
      assert.deepEqual(await versionRows(db), [{ version: "1", dirty: false }]);
    });
  });

  test(`strata takes over a database golang-migrate managed (only its version table present) [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(APP["1_orgs.up.sql"] + APP["2_users.up.sql"]);
      await db.exec(
        "CREATE TABLE schema_migrations (version bigint not null primary key, dirty boolean not null); INSERT INTO schema_migrations VALUES (2, false);",
      );
      const run = await migrator(db, APP).up();
      assert.equal(run.error, undefined);
      assert.deepEqual(run.results.map((r) => r.version), [3n]);
      assert.deepEqual(await versionRows(db), [{ version: "3", dirty: false }]);
    });
  });

  test(`two tracks with quoted tables in another schema live side by side [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE SCHEMA migrations");
      const system = migrator(db, {
        "1_auth.up.sql": "CREATE TABLE auth_users (id int);",
        "2_hooks.up.sql": "CREATE TABLE hooks (id int);",
      }, {
        table: parseTableName('"migrations"."fluxbase"', true),
      });
      const user = migrator(db, { "1_products.up.sql": "CREATE TABLE products (id int);" }, {
        table: parseTableName('"migrations"."app"', true),
      });
      assert.equal((await system.up()).to.version, 2n);
      assert.equal((await user.up()).to.version, 1n);
      assert.deepEqual(await tables(db, "migrations"), ["app", "fluxbase"]);
      assert.deepEqual(await versionRows(db, '"migrations"."fluxbase"'), [{ version: "2", dirty: false }]);
      assert.deepEqual(await versionRows(db, '"migrations"."app"'), [{ version: "1", dirty: false }]);
      assert.equal((await user.down()).to.version, null);
      assert.deepEqual(await system.version(), { version: 2n, dirty: false });
    });
  });

  test(`migrateTracks stops at a dirty track with the track on the error and a failure log line [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE SCHEMA migrations");
      const system = memorySource({ "1_auth.up.sql": "CREATE TABLE auth_users (id int);" });
      const user = memorySource({ "1_products.up.sql": "CREATE TABLE products (id int);" });
      const tracks = [
        { name: "system", source: system, table: parseTableName('"migrations"."fluxbase"', true) },
        { name: "user", source: user, table: parseTableName('"migrations"."app"', true) },
      ];
      await db.exec(`CREATE TABLE migrations.app (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
        INSERT INTO migrations.app VALUES (1, true)`);
      const lines: string[] = [];
      await assert.rejects(
        migrateTracks(db, tracks, { lockTimeoutMs: 5000, log: (line) => lines.push(line) }),
        (error) => {
          assert.ok(error instanceof StrataError);
          assert.equal(error.code, "DIRTY");
          assert.equal(error.track, "user");
          assert.match(error.message, /^user migrations: Dirty database version 1/);
          return true;
        },
      );
      assert.deepEqual(lines.slice(-2), [
        "Running user migrations... path=memory",
        "Migrations failed source=user error=DIRTY",
      ]);
      assert.deepEqual(await versionRows(db, '"migrations"."fluxbase"'), [{ version: "1", dirty: false }]);
    });
  });

  test(`migrateTracks logs a failed file's error code and file name on its failure line, and stops there [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const lines: string[] = [];
      const runs = await migrateTracks(db, [
        {
          name: "user",
          source: memorySource({
            "1_products.up.sql": "CREATE TABLE products (id int);",
            "2_prices.up.sql": "ALTER TABLE product ADD COLUMN price int;",
          }),
        },
        {
          name: "later",
          source: memorySource({ "1_x.up.sql": "CREATE TABLE x (id int);" }),
          table: { table: "later" },
        },
      ], { lockTimeoutMs: 5000, log: (line) => lines.push(line) });
      assert.equal(runs.length, 1, "the track after the failed one does not run");
      assert.equal(runs[0].run?.error?.code, "MIGRATION_FAILED");
      assert.equal(lines.at(-1), "Migrations failed source=user error=MIGRATION_FAILED file=2_prices.up.sql version=1");
    });
  });

  test(`migrateTracks logs each track's warnings, so a misnamed file is in the server's log [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE SCHEMA migrations");
      const system = memorySource({ "1_auth.up.sql": "CREATE TABLE auth_users (id int);" });
      const user = memorySource({
        "1_products.up.sql": "BEGIN;\nCREATE TABLE products (id int);\nCOMMIT;",
        "2-orders.up.sql": "CREATE TABLE orders (id int);",
      });
      const lines: string[] = [];
      const events: MigratorEvent[] = [];
      const runs = await migrateTracks(db, [
        { name: "system", source: system, table: parseTableName('"migrations"."fluxbase"', true) },
        { name: "user", source: user, table: parseTableName('"migrations"."app"', true) },
      ], { lockTimeoutMs: 5000, log: (line) => lines.push(line), onEvent: (event) => events.push(event) });
      assert.equal(runs[1].run?.to.version, 1n);
      const warnings = lines.filter((line) => line.startsWith("warning: "));
      assert.equal(warnings.length, 2, lines.join("\n"));
      assert.match(warnings[0], /^warning: Ignored 2-orders\.up\.sql: .* source=user$/);
      assert.match(warnings[1], /^warning: 1_products\.up\.sql: its own BEGIN\/COMMIT were taken off.* source=user$/);
      // The caller's own onEvent still gets them.
      assert.equal(events.filter((e) => e.type === "warning").length, 2);
    });
  });

  test(`migrateTracks refuses two tracks that share a version table, before either runs [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const system = memorySource({ "1_auth.up.sql": "CREATE TABLE auth_users (id int);" });
      const user = memorySource({
        "1_products.up.sql": "CREATE TABLE products (id int);",
        "2_orders.up.sql": "CREATE TABLE orders (id int);",
      });
      // Neither names a table (both default to schema_migrations), or one names the default
      // explicitly: either way the user track would read the system track's version as its own.
      for (
        const userTable of [undefined, parseTableName('"public"."schema_migrations"', true)]
      ) {
        const lines: string[] = [];
        await assert.rejects(
          migrateTracks(db, [
            { name: "system", source: system },
            { name: "user", source: user, ...(userTable ? { table: userTable } : {}) },
          ], { lockTimeoutMs: 5000, log: (line) => lines.push(line) }),
          (error) => {
            assert.ok(error instanceof StrataError);
            assert.equal(error.code, "USAGE");
            assert.match(
              error.message,
              /^Tracks system and user both use the version table "public"\."schema_migrations"/,
            );
            assert.match(error.hint ?? "", /its own table/);
            return true;
          },
        );
        assert.deepEqual(lines, []);
        assert.deepEqual(await tables(db), []);
      }
      // A skipped track shares nothing.
      const runs = await migrateTracks(db, [
        { name: "system", source: system },
        { name: "user", source: undefined },
      ], { lockTimeoutMs: 5000 });
      assert.equal(runs[0].run?.to.version, 1n);
    });
  });

  test(`up from a folder that does not exist fails with SOURCE_NOT_FOUND and creates no version or history table [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const dir = await tempDir("strata-missing-folder-");
      try {
        // Fluxbase's DB_USER_MIGRATIONS_PATH naming a folder that is not mounted: golang-migrate
        // opens the source first and leaves the database untouched.
        const m = new Migrator(db, { source: directorySource(join(dir.path, "user")), lockTimeoutMs: 5000 });
        await assert.rejects(m.up(), (error: unknown) => {
          assert.ok(error instanceof StrataError);
          assert.equal(error.code, "SOURCE_NOT_FOUND");
          return true;
        });
        const rows = await db.query<{ name: string }>(
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()",
        );
        assert.deepEqual(rows, []);
      } finally {
        await dir.remove();
      }
    });
  });

  test(`a relative migrations folder that is not there is named with its absolute path and a fix for code and CLI [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      // Aether's "file does not exist": a server started from another working directory.
      const m = new Migrator(db, { source: directorySource("goway/migrations-nope"), lockTimeoutMs: 5000 });
      await assert.rejects(m.up(), (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.code, "SOURCE_NOT_FOUND");
        assert.equal(
          error.message,
          `Migrations folder not found: goway/migrations-nope (${join(process.cwd(), "goway/migrations-nope")})`,
        );
        assert.match(error.hint ?? "", /directorySource/);
        assert.match(error.hint ?? "", /working directory/);
        return true;
      });
    });
  });

  test(`an unquoted x-migrations-table is one identifier, dots and all [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await migrator(db, APP, { table: parseTableName("migrations.app", false) }).up({ limit: 1 });
      assert.deepEqual(await tables(db), ["migrations.app", "orgs"]);
    });
  });

  test(`a table in a schema that does not exist is a clear error that changes nothing [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const m = migrator(db, APP, { table: parseTableName('"nope"."app"', true) });
      await assert.rejects(m.up(), (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.code, "SCHEMA_MISSING");
        assert.match(error.message, /Schema "nope" does not exist/);
        assert.match(error.hint ?? "", /CREATE SCHEMA "nope"/);
        return true;
      });
      assert.deepEqual(await tables(db), []);
    });
  });

  test(`drop removes tables, views, routines and types of the current schema [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const m = migrator(db, {
        ...APP,
        "4_more.up.sql":
          "CREATE TYPE mood AS ENUM ('ok');\nCREATE DOMAIN posint AS int CHECK (VALUE > 0);\nCREATE VIEW org_names AS SELECT name FROM orgs;\nCREATE SEQUENCE counter;",
      });
      await m.up();
      const dropped = await m.drop();
      const kinds = new Set(dropped.map((o) => o.kind));
      for (const kind of ["table", "view", "routine", "type", "domain", "sequence"]) {
        assert.ok(kinds.has(kind as never), kind);
      }
      assert.deepEqual(await tables(db), []);
      assert.deepEqual(await db.query("SELECT 1 FROM pg_type WHERE typname IN ('mood', 'posint')"), []);
      const again = await m.up();
      assert.equal(again.error, undefined);
      assert.equal(again.to.version, 4n);
    });
  });

  test(`drop empties a version table that lives in another schema [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE SCHEMA migrations");
      const m = migrator(db, APP, { table: parseTableName('"migrations"."app"', true) });
      await m.up();
      await m.drop();
      assert.deepEqual(await m.version(), { version: null, dirty: false });
      assert.equal((await m.up()).to.version, 3n);
    });
  });

  test(`aborting the signal stops after the running migration [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const controller = new AbortController();
      const m = migrator(db, APP, {
        signal: controller.signal,
        onEvent: (e) => e.type === "migration" && controller.abort(),
      });
      const run = await m.up();
      assert.equal(run.error?.code, "INTERRUPTED");
      assert.deepEqual(run.results.map((r) => r.status), ["applied", "not run", "not run"]);
      assert.deepEqual(await versionRows(db), [{ version: "1", dirty: false }]);
    });
  });
}

test("x-statement-timeout cancels a statement that runs too long and leaves the version [postgres]", async (t) => {
  await withDatabase(t, "postgres", async ({ db }) => {
    const run = await migrator(db, { "1_slow.up.sql": "CREATE TABLE s (id int);\nSELECT pg_sleep(5);" }, {
      statementTimeoutMs: 200,
    }).up();
    assert.ok(run.error instanceof FileError);
    assert.equal(run.error.server?.code, "57014");
    assert.equal(run.error.statement, 2);
    assert.deepEqual(await tables(db), ["schema_migrations"]);
  });
});

test("a session holding golang-migrate's lock makes up fail with LOCK_TIMEOUT [postgres]", async (t) => {
  await withDatabase(t, "postgres", async ({ db, url }) => {
    const { migrationLockId } = await import("../../lib/migrate/advisory_lock.ts");
    const id = migrationLockId("public", "schema_migrations", new URL(url).pathname);
    await db.withSession(async (holder) => {
      await holder.query("SELECT pg_advisory_lock($1::bigint)", [id.toString()]);
      const waits: MigratorEvent[] = [];
      await assert.rejects(
        migrator(db, APP, { lockTimeoutMs: 300, onEvent: (e) => waits.push(e) }).up(),
        (error: unknown) =>
          error instanceof StrataError && error.code === "LOCK_TIMEOUT" &&
          /can't acquire database lock/.test(error.message),
      );
      assert.equal(waits[0]?.type, "lock-wait");
      await holder.query("SELECT pg_advisory_unlock($1::bigint)", [id.toString()]);
    });
    assert.deepEqual(await tables(db), []);
    assert.equal((await migrator(db, APP).up()).to.version, 3n);
  });
});

test("a Migrator on a database openDatabase opened uses the URL's x-migrations-table and (on a server) x-statement-timeout, as golang-migrate's migrate.New does; its own options win", async (t) => {
  const { openDatabase } = await import("../../lib/io/open_database.ts");
  const urls: string[] = ["pglite://memory?x-migrations-table=app_migrations&x-statement-timeout=1500"];
  await withDatabase(t, "postgres", async (test) => {
    urls.push(
      `${test.url}${test.url.includes("?") ? "&" : "?"}x-migrations-table=app_migrations&x-statement-timeout=1500`,
    );
    for (const url of urls) {
      const { db } = await openDatabase(url);
      try {
        const run = await migrator(db, {
          ...APP,
          "4_timeout.up.sql": "SELECT set_config('app.timeout', current_setting('statement_timeout'), false);",
        }).up();
        assert.equal(run.error, undefined, url);
        assert.deepEqual(await tables(db), ["app_migrations", "orgs", "users"], url);
        const [row] = await db.query<{ version: string }>("SELECT version::text AS version FROM app_migrations");
        assert.equal(row.version, "4", url);
        // The statement_timeout the migration ran under was the URL's (PGlite cannot keep one:
        // it runs a statement to its end, so the URL's is dropped with a warning).
        const [setting] = await db.query<{ value: string }>("SELECT current_setting('app.timeout', true) AS value");
        assert.equal(setting.value, url.startsWith("pglite:") ? "0" : "1500ms", url);
        // An explicit table still wins over the URL.
        const own = await migrator(db, { "1_other.up.sql": "CREATE TABLE other (id int);" }, {
          table: parseTableName("own_migrations", false),
        }).up();
        assert.equal(own.error, undefined, url);
        assert.ok((await tables(db)).includes("own_migrations"), url);
      } finally {
        await db.close();
      }
    }
  });
});

for (const backend of BACKENDS) {
  test(`a batched data migration (a DO block that commits between batches) runs, as golang-migrate runs it [${backend}]`, async (t) => {
    await withDatabase(t, backend, async (test) => {
      const run = await migrator(test.db, {
        "1_t.up.sql":
          "CREATE TABLE t (id int PRIMARY KEY, x int);\nINSERT INTO t SELECT g, NULL FROM generate_series(1, 2500) g;",
        "2_backfill.up.sql": `DO $$
DECLARE n int;
BEGIN
  LOOP
    UPDATE t SET x = 1 WHERE id IN (SELECT id FROM t WHERE x IS NULL LIMIT 1000);
    GET DIAGNOSTICS n = ROW_COUNT;
    EXIT WHEN n = 0;
    COMMIT; -- one batch at a time
  END LOOP;
END $$;`,
      }).up();
      assert.equal(run.error, undefined, String(run.error));
      assert.deepEqual(run.results.map((r) => [r.status, r.transactional]), [["applied", true], ["applied", false]]);
      const [left] = await test.db.query<{ n: string }>("SELECT count(*)::text AS n FROM t WHERE x IS NULL");
      assert.equal(left.n, "0");
      assert.deepEqual(await versionRows(test.db), [{ version: "2", dirty: false }]);
    });
  });
}

test("called from JavaScript, goto takes an exact number or digit string as the version, and a negative or fractional limit or a wrong version is USAGE with nothing run [pglite]", async (t) => {
  await withDatabase(t, "pglite", async ({ db }) => {
    const m = migrator(db, APP);
    const asJs = m as unknown as {
      goto(v: unknown): Promise<{ to: { version: bigint | null }; error?: StrataError }>;
      down(o: unknown): Promise<unknown>;
      up(o: unknown): Promise<unknown>;
    };
    assert.deepEqual((await asJs.goto(2)).to, { version: 2n, dirty: false });
    assert.deepEqual((await asJs.goto("3")).to, { version: 3n, dirty: false });
    for (
      const call of [
        () => asJs.down({ limit: -1 }),
        () => asJs.up({ limit: 1.5 }),
        () => asJs.goto(-2),
        () => asJs.goto("two"),
      ]
    ) {
      await assert.rejects(call(), (error: unknown) => error instanceof StrataError && error.code === "USAGE");
    }
    assert.deepEqual(await versionRows(db), [{ version: "3", dirty: false }]);
  });
});

test("a PGlite URL's search_path is the session's from the start: the migrations' tables and strata's own land in that schema, as on a server [pglite]", async () => {
  const { openDatabase } = await import("../../lib/io/open_database.ts");
  const { db } = await openDatabase("pglite://memory?search_path=foo");
  try {
    await db.exec("CREATE SCHEMA foo");
    const run = await migrator(db, { "1_x.up.sql": "CREATE TABLE x (id int);" }).up();
    assert.equal(run.error, undefined);
    const rows = await db.query<{ name: string }>(
      "SELECT schemaname || '.' || tablename AS name FROM pg_tables WHERE schemaname IN ('foo', 'public') ORDER BY 1",
    );
    assert.deepEqual(rows.map((r) => r.name), ["foo.schema_migrations", "foo.schema_migrations_history", "foo.x"]);
  } finally {
    await db.close();
  }
});

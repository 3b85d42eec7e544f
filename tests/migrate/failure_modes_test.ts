/**
 * What the migrator says and leaves when things go wrong in the ways operators meet them: the
 * server connection killed mid-file, a status or force while another migration runs, a down
 * file failing, a file with transactions of its own failing inside one, a failed
 * CREATE INDEX CONCURRENTLY, and a database at a version no file has.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Database } from "../../lib/db/database.ts";
import { StrataError } from "../../lib/db/strata_error.ts";
import { historyTableFor, readHistory } from "../../lib/migrate/history.ts";
import { memorySource } from "../../lib/migrate/migration_source.ts";
import { describeDirty, type MigrateRun, Migrator } from "../../lib/migrate/migrator.ts";
import type { ResolvedTable } from "../../lib/migrate/version_table.ts";
import { BACKENDS, withDatabase } from "../_support/backends.ts";

const HISTORY = historyTableFor(
  { schema: "public", table: "schema_migrations", sql: '"public"."schema_migrations"' } as ResolvedTable,
);

function migrator(db: Database, files: Record<string, string>): Migrator {
  return new Migrator(db, { source: memorySource(files), lockTimeoutMs: 20_000 });
}

async function versionRow(db: Database): Promise<{ version: string; dirty: boolean } | undefined> {
  const [row] = await db.query<{ version: string; dirty: boolean }>(
    "SELECT version::text AS version, dirty FROM public.schema_migrations",
  );
  return row;
}

async function exists(db: Database, name: string): Promise<boolean> {
  const [{ found }] = await db.query<{ found: string | null }>("SELECT to_regclass($1)::text AS found", [name]);
  return found !== null;
}

/** Waits until a statement containing `marker` runs on the server, and returns its backend's pid. */
async function runningPid(db: Database, marker: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const rows = await db.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND position($1 in query) > 0",
      [marker],
    );
    if (rows.length > 0) return Number(rows[0].pid);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no statement with ${marker} started`);
}

const FIRST = { "1_base.up.sql": "CREATE TABLE base (id int);\n", "1_base.down.sql": "DROP TABLE base;\n" };

test(
  "[postgres] a connection killed during a transactional file ends up() with CONNECTION_LOST, the version where it was",
  {
    timeout: 60_000,
  },
  async (t) => {
    await withDatabase(t, "postgres", async ({ db }) => {
      const files = { ...FIRST, "2_slow.up.sql": "CREATE TABLE slow (id int);\nSELECT pg_sleep(30) AS slow_marker;\n" };
      assert.equal((await migrator(db, files).up({ limit: 1 })).error, undefined);
      const running = migrator(db, files).up();
      const pid = await runningPid(db, "slow_marker");
      await db.query("SELECT pg_terminate_backend($1)", [pid]);
      const run: MigrateRun = await running;
      assert.equal(run.error?.code, "CONNECTION_LOST", run.error?.message);
      assert.match(run.error!.message, /lost while 2_slow\.up\.sql ran/);
      assert.match(
        run.error!.hint ?? "",
        /nothing of 2_slow\.up\.sql was kept unless the connection went during its COMMIT/,
      );
      assert.deepEqual(await versionRow(db), { version: "1", dirty: false });
      assert.equal(await exists(db, "slow"), false);
      // The migrator (and its pool) still works afterwards.
      const again = await migrator(db, { ...FIRST, "2_slow.up.sql": "CREATE TABLE slow (id int);\n" }).up();
      assert.equal(again.error, undefined);
    });
  },
);

test(
  "[postgres] a connection killed during a non-transactional file: CONNECTION_LOST naming the statement, dirty, and status says it never finished",
  {
    timeout: 60_000,
  },
  async (t) => {
    await withDatabase(t, "postgres", async ({ db }) => {
      const files = {
        ...FIRST,
        "2_slow.up.sql":
          "-- strata:no-transaction\nCREATE TABLE slow_a (id int);\nSELECT pg_sleep(30) AS slow_marker;\n" +
          "CREATE TABLE slow_b (id int);\n",
      };
      assert.equal((await migrator(db, files).up({ limit: 1 })).error, undefined);
      const running = migrator(db, files).up();
      await db.query("SELECT pg_terminate_backend($1)", [await runningPid(db, "slow_marker")]);
      const run = await running;
      assert.equal(run.error?.code, "CONNECTION_LOST", run.error?.message);
      assert.match(run.error!.message, /outside a transaction, at statement 2 \(line 3\)/);
      assert.match(
        run.error!.hint ?? "",
        /^statement 1 completed; statement 2 may or may not have; version 2 is marked dirty\. /,
      );
      assert.deepEqual(await versionRow(db), { version: "2", dirty: true });
      assert.equal(await exists(db, "slow_a"), true);
      assert.equal(await exists(db, "slow_b"), false);
      const status = await migrator(db, files).status();
      assert.equal(status.running, undefined);
      assert.equal(status.dirty?.unfinished, true);
      assert.equal(status.dirty?.file, "2_slow.up.sql");
      assert.match(describeDirty(status.dirty!), /was started by strata at .* and recorded no end/);
    });
  },
);

test(
  "[postgres] while a non-transactional file runs, status names the running migration and force refuses once the version moved",
  {
    timeout: 60_000,
  },
  async (t) => {
    await withDatabase(t, "postgres", async ({ db }) => {
      const files = {
        "1_ledger.up.sql": "CREATE TABLE ledger (amount int);\n",
        "2_backfill.up.sql":
          "-- strata:no-transaction\nINSERT INTO ledger SELECT 100 FROM generate_series(1, 3);\nSELECT pg_sleep(2) AS backfill_marker;\n",
      };
      assert.equal((await migrator(db, files).up({ limit: 1 })).error, undefined);
      const running = migrator(db, files).up();
      const pid = await runningPid(db, "backfill_marker");
      const status = await migrator(db, files).status();
      assert.equal(status.running?.pid, pid);
      assert.equal(status.dirty?.unfinished, true);
      assert.deepEqual(status.version, { version: 2n, dirty: true });
      // The force a reader of an older status would type: it waits for the lock, sees the
      // version moved (2 dirty -> 2 clean) and refuses instead of undoing the backfill's record.
      await assert.rejects(migrator(db, files).force(1n), (error) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.code, "INTERRUPTED");
        assert.match(error.message, /moved the version from 2 \(dirty\) to 2: nothing was forced/);
        return true;
      });
      assert.equal((await running).error, undefined);
      assert.deepEqual(await versionRow(db), { version: "2", dirty: false });
      assert.equal((await migrator(db, files).up()).noChange, true, "the backfill is not run twice");
      const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM ledger");
      assert.equal(n, 3);
    });
  },
);

for (const backend of BACKENDS) {
  test(`[${backend}] a failed down file's hint says down 1 to revert it again, not up`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = {
        ...FIRST,
        "2_c.up.sql": "CREATE TABLE c (id int);\n",
        "2_c.down.sql": "-- strata:no-transaction\nDROP TABLE c;\nDROP TABLE not_there;\n",
      };
      assert.equal((await migrator(db, files).up()).error, undefined);
      const run = await migrator(db, files).down({ limit: 1 });
      assert.equal(run.error?.code, "MIGRATION_FAILED");
      const hint = run.error!.hint ?? "";
      assert.match(hint, /statement 1 stays applied, and the database is dirty at version 1/);
      assert.match(
        hint,
        /'force 1' if the failed down migration's changes are all in place \(the revert is then done\)/,
      );
      assert.match(hint, /or 'force 2' if none of them are and run 'down 1' to revert it again$/);
      assert.doesNotMatch(hint, /'up'/);
      const status = await migrator(db, files).status();
      assert.match(describeDirty(status.dirty!), /run 'down 1' to revert it again/);
    });
  });

  test(`[${backend}] a file with transactions of its own failing inside one: those statements are rolled back, said so, and recorded`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = {
        "1_a.up.sql": "CREATE TABLE a (id int PRIMARY KEY);\nINSERT INTO a VALUES (1), (2);\n",
        "2_batch.up.sql": "BEGIN;\nUPDATE a SET id = id + 10;\nCREATE TABLE b (id int);\nCOMMIT;\n" +
          "BEGIN;\nINSERT INTO b VALUES (1);\nINSERT INTO b VALUES ('oops');\nCOMMIT;\n",
      };
      const run = await migrator(db, files).up();
      assert.equal(run.error?.code, "MIGRATION_FAILED");
      assert.match(
        run.error!.hint ?? "",
        /statement 7 failed inside the transaction the file opened at statement 5 \(line 5\), so statements 5 to 7 were rolled back with it and statements 1 to 4 stay applied, and the database is dirty at version 2/,
      );
      const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM b");
      assert.equal(n, 0);
      const rows = await readHistory(db, HISTORY);
      const failed = rows.find((r) => r.version === 2n);
      assert.equal(failed?.status, "failed", "the failure was recorded after the ROLLBACK");
      assert.equal(failed?.failedStatement, 7);
      const status = await migrator(db, files).status();
      assert.equal(status.dirty?.file, "2_batch.up.sql");
      assert.equal(status.dirty?.failedStatement, 7);
    });
  });

  test(`[${backend}] a failed CREATE INDEX CONCURRENTLY says its INVALID index stays and how to drop it`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = {
        "1_t.up.sql": "CREATE TABLE t (id int);\nINSERT INTO t VALUES (5), (5);\n",
        "2_u.up.sql": 'CREATE UNIQUE INDEX CONCURRENTLY "t_u" ON t (id);\n',
      };
      const run = await migrator(db, files).up();
      assert.equal(run.error?.code, "MIGRATION_FAILED");
      assert.match(
        run.error!.hint ?? "",
        /a failed CREATE INDEX CONCURRENTLY leaves its index behind, and public\.t_u is INVALID: run DROP INDEX CONCURRENTLY IF EXISTS public\.t_u before running it again/,
      );
      const [{ valid }] = await db.query<{ valid: boolean }>(
        "SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 't_u'::regclass",
      );
      assert.equal(valid, false, "the hint is about a real leftover");

      // Later, status and the DIRTY refusal say it again (the error may be long gone from the screen).
      const status = await migrator(db, files).status();
      assert.deepEqual(status.dirty?.invalidIndexes, ["public.t_u"]);
      await assert.rejects(migrator(db, files).up(), (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.code, "DIRTY");
        assert.match(
          error.hint ?? "",
          /It left an INVALID index behind: run DROP INDEX CONCURRENTLY IF EXISTS public\.t_u before running the file again\./,
        );
        return true;
      });
      // Dropped: nothing more to say about it.
      await db.exec("DROP INDEX t_u");
      assert.equal((await migrator(db, files).status()).dirty?.invalidIndexes, undefined);
    });
  });

  test(`[${backend}] a failed CREATE INDEX CONCURRENTLY that left no INVALID index (an unknown column, a name a valid index has) says nothing of one; one that did names it in its table's schema`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const base = {
        "1_t.up.sql": "CREATE SCHEMA app;\nCREATE TABLE app.products (id int, sku text);\n" +
          "INSERT INTO app.products VALUES (5, 'a'), (5, 'b');\nCREATE INDEX products_sku ON app.products (sku);\n",
      };
      const attempt = async (sql: string) => {
        const run = await migrator(db, { ...base, "2_i.up.sql": sql }).up();
        assert.equal(run.error?.code, "MIGRATION_FAILED", sql);
        await db.exec("UPDATE public.schema_migrations SET version = 1, dirty = false");
        return run.error!.hint ?? "";
      };
      for (
        const sql of [
          "CREATE INDEX CONCURRENTLY idx_bad ON app.products (nonexistent_col);\n",
          "CREATE INDEX CONCURRENTLY products_sku ON app.products (id);\n",
          "CREATE INDEX CONCURRENTLY ON app.products (nonexistent_col);\n",
        ]
      ) {
        const hint = await attempt(sql);
        assert.match(hint, /runs outside a transaction/, sql);
        assert.doesNotMatch(hint, /INVALID|DROP INDEX/, sql);
      }
      assert.match(
        await attempt('CREATE UNIQUE INDEX CONCURRENTLY "Products_Id" ON app.products (id);\n'),
        /and app\."Products_Id" is INVALID: run DROP INDEX CONCURRENTLY IF EXISTS app\."Products_Id" before running it again/,
      );
      // Tried again, the name is taken by that INVALID index: the hint stays.
      assert.match(
        await attempt('CREATE UNIQUE INDEX CONCURRENTLY "Products_Id" ON app.products (id);\n'),
        /DROP INDEX CONCURRENTLY IF EXISTS app\."Products_Id" before/,
      );
      assert.match(
        await attempt("CREATE UNIQUE INDEX CONCURRENTLY ON app.products (id);\n"),
        /and app\.products has 2 INVALID indexes: run DROP INDEX CONCURRENTLY IF EXISTS app\."Products_Id" and DROP INDEX CONCURRENTLY IF EXISTS app\.products_id_idx \(one at a time\)/,
      );
    });
  });

  test(`[${backend}] a database at a version no file has is not up to date: a missing-file entry for it`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = { ...FIRST, "2_b.up.sql": "CREATE TABLE b (id int);\n" };
      assert.equal((await migrator(db, files).up()).error, undefined);
      await db.exec("DELETE FROM public.schema_migrations_history WHERE version = 2");
      const status = await migrator(db, FIRST).status();
      assert.deepEqual(
        status.missingFiles.map((e) => [e.version, e.note]),
        [[2n, "the database is at this version; no file has it"]],
      );
      assert.equal(status.pending.length, 0);
    });
  });
}

for (const backend of BACKENDS) {
  test(`[${backend}] a CALL of a procedure that commits fails in strata's transaction with a hint to mark the file no-transaction, and runs once marked`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      // A DO block's own COMMIT is found by the parser (tests/migrate/sql_script_test.ts); a
      // procedure's is not, so the server's refusal comes back with what to do.
      const body = "CREATE TABLE batches (n int);\nCREATE PROCEDURE fill() LANGUAGE plpgsql AS $$\nBEGIN\n" +
        "  INSERT INTO batches VALUES (1);\n  COMMIT;\n  INSERT INTO batches VALUES (2);\nEND\n$$;\nCALL fill();\n";
      const run = await migrator(db, { "1_batches.up.sql": body }).up();
      assert.equal(run.error?.code, "MIGRATION_FAILED");
      assert.equal((run.error as { server?: { code?: string } }).server?.code, "2D000");
      assert.match(run.error!.hint ?? "", /make '-- strata:no-transaction' its first line/);
      assert.doesNotMatch(run.error!.hint ?? "", /Fix the file/);
      const marked = await migrator(db, { "1_batches.up.sql": `-- strata:no-transaction\n${body}` }).up();
      assert.equal(marked.error, undefined);
      const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM batches");
      assert.equal(n, 2);
    });
  });

  test(`[${backend}] an applied file that now differs only in line endings is refused with a hint about CRLF and LF`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const lf = { "1_a.up.sql": "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n" };
      assert.equal((await migrator(db, lf).up()).error, undefined);
      const crlf = {
        "1_a.up.sql": lf["1_a.up.sql"].replaceAll("\n", "\r\n"),
        "2_c.up.sql": "CREATE TABLE c (id int);\n",
      };
      await assert.rejects(migrator(db, crlf).up(), (error) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.code, "CHECKSUM_MISMATCH");
        assert.match(
          error.hint ?? "",
          /^1_a\.up\.sql differs from what was applied only in line endings \(CRLF against LF/,
        );
        return true;
      });
      const edited = { ...crlf, "1_a.up.sql": "CREATE TABLE a (id bigint);\n" };
      await assert.rejects(migrator(db, edited).up(), (error) => {
        assert.equal((error as StrataError).code, "CHECKSUM_MISMATCH");
        assert.doesNotMatch((error as StrataError).hint ?? "", /line endings/);
        return true;
      });
    });
  });

  test(`[${backend}] a file that starts with a byte order mark runs, its lines numbered as the editor shows them`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = {
        "1_bom.up.sql": "\uFEFFCREATE TABLE bom (id int);\nCREATE TABLE bom2 (id int);\n",
        "2_bad.up.sql": "\uFEFFCREATE TABLE ok (id int);\nSELECT * FROM missing_table;\n",
      };
      const run = await migrator(db, files).up();
      assert.equal(run.results[0].status, "applied");
      assert.equal(await exists(db, "bom2"), true);
      assert.equal(run.error?.code, "MIGRATION_FAILED");
      assert.equal((run.error as { line?: number }).line, 2);
    });
  });

  test(`[${backend}] the server's own hint travels with the error (a new enum value used in its transaction)`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = {
        "1_mood.up.sql": "CREATE TYPE mood AS ENUM ('ok');\n",
        "2_more.up.sql": "ALTER TYPE mood ADD VALUE 'great';\nSELECT 'great'::mood;\n",
      };
      const run = await migrator(db, files).up();
      assert.equal(run.error?.code, "MIGRATION_FAILED");
      assert.match((run.error as { server?: { hint?: string } }).server?.hint ?? "", /must be committed/);
    });
  });
}

for (const backend of BACKENDS) {
  test(`[${backend}] drop warns when another track's version table still records migrations whose objects it may have dropped`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE SCHEMA migrations");
      const warnings: string[] = [];
      const system = new Migrator(db, {
        source: memorySource({ "1_webhooks.up.sql": "CREATE TABLE public.webhooks (id int);\n" }),
        table: { schema: "migrations", table: "system" },
      });
      assert.equal((await system.up()).error, undefined);
      const app = new Migrator(db, {
        source: memorySource({ "1_products.up.sql": "CREATE TABLE products (id int);\n" }),
        onEvent: (e) => e.type === "warning" && warnings.push(e.message),
      });
      assert.equal((await app.up()).error, undefined);
      const dropped = await app.drop();
      assert.ok(dropped.some((o) => o.name === "public.webhooks"), "the other track's table went too");
      assert.equal(warnings.length, 1, warnings.join("\n"));
      assert.match(warnings[0], /^Other version tables still record applied migrations: migrations\.system at 1\. /);
      assert.match(warnings[0], /force -1 with its x-migrations-table/);

      warnings.length = 0;
      await app.drop();
      assert.deepEqual(warnings, [], "nothing dropped, nothing to warn about");
    });
  });
}

test("[pglite] a file whose own BEGIN/COMMIT strata took off numbers its failing statement as the file does", async (t) => {
  await withDatabase(t, "pglite", async ({ db }) => {
    const run = await migrator(db, {
      "1_wrapped.up.sql": "BEGIN;\nCREATE TABLE x (id int);\nSELECT * FROM nope;\nCOMMIT;\n",
    }).up();
    assert.equal(run.error?.code, "MIGRATION_FAILED");
    assert.equal((run.error as { statement?: number }).statement, 3);
    assert.equal((run.error as { line?: number }).line, 3);
    assert.match(
      run.error!.hint ?? "",
      /^Nothing of 1_wrapped\.up\.sql was kept: the database still has no migration applied, clean\./,
    );
  });
});

for (const backend of BACKENDS) {
  test(`[${backend}] an ERROR with a connection-class SQLSTATE is a failed statement, not a lost connection: the lock is released`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = {
        ...FIRST,
        "2_raise.up.sql":
          "CREATE TABLE r (id int);\nDO $$ BEGIN RAISE EXCEPTION 'remote gone' USING ERRCODE = '08006'; END $$;\n",
      };
      const run = await migrator(db, files).up();
      assert.equal(run.error?.code, "MIGRATION_FAILED", run.error?.message);
      assert.deepEqual(await versionRow(db), { version: "1", dirty: false });
      const fixed = await migrator(db, { ...FIRST, "2_raise.up.sql": "CREATE TABLE r (id int);\n" }).up();
      assert.equal(fixed.error, undefined, "the lock and the session were given back");
    });
  });

  test(`[${backend}] a failure after COMMIT AND CHAIN counts the chained transaction as rolled back`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = {
        "1_a.up.sql": "CREATE TABLE a (id int);\n",
        "2_chain.up.sql": "BEGIN;\nINSERT INTO a VALUES (1);\nCOMMIT AND CHAIN;\nINSERT INTO a VALUES (2);\n" +
          "INSERT INTO a VALUES ('x');\nCOMMIT;\n",
      };
      const run = await migrator(db, files).up();
      assert.equal(run.error?.code, "MIGRATION_FAILED");
      assert.match(
        run.error!.hint ?? "",
        /statement 5 failed inside the transaction the file opened at statement 3 \(line 3\), so statements 3 to 5 were rolled back with it and statements 1 to 2 stay applied/,
      );
      const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM a");
      assert.equal(n, 1);
      const status = await migrator(db, files).status();
      assert.equal(status.dirty?.failedStatement, 5, "the failure was recorded");
    });
  });
}

for (const backend of BACKENDS) {
  test(`[${backend}] an up file failing on a table already there (a database an ORM built) says to force its version, which then lets up go on`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      // What GORM's AutoMigrate left: the tables, no version table.
      await db.exec("CREATE TABLE users (id bigint PRIMARY KEY, email text)");
      const files = {
        "1_users.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
        "1_users.down.sql": "DROP TABLE users;\n",
        "2_orders.up.sql": "CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\n",
        "2_orders.down.sql": "DROP TABLE orders;\n",
      };
      const failed = await migrator(db, files).up();
      assert.ok(failed.error instanceof StrataError);
      assert.equal(failed.error.code, "MIGRATION_FAILED");
      assert.match(
        failed.error.hint ?? "",
        /Nothing of 1_users\.up\.sql was kept: the database still has no migration applied, clean\. Fix the file and run the command again\. If the database was built without these migrations \(an ORM's auto-migrate, a restored dump\) and everything 1_users\.up\.sql creates is there already, record it as applied without running it: 'force 1' \(or the last version whose changes are all in place\), then 'up'$/,
      );

      await migrator(db, files).force(1n);
      assert.equal((await migrator(db, files).up()).error, undefined);
      assert.deepEqual(await versionRow(db), { version: "2", dirty: false });
      assert.ok(await exists(db, "orders"));

      // A file failing for another reason gets no such advice, nor does a down file.
      const other = await migrator(db, { ...files, "3_bad.up.sql": "ALTER TABLE nothere ADD COLUMN x int;\n" }).up();
      assert.doesNotMatch(other.error?.hint ?? "", /force/);
    });
  });
}

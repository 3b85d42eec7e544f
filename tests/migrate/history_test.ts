/**
 * strata's history table beside golang-migrate's version table, on both backends: what a row
 * holds, how the history follows a version table that another tool (a Go service calling
 * golang-migrate) moved, the refusals (changed file, out of order), a dirty database
 * explained, and dry runs and `status` that change nothing at all.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatStatus } from "../../lib/cli/format_status.ts";
import type { Database } from "../../lib/db/database.ts";
import { StrataError } from "../../lib/db/strata_error.ts";
import { type HistoryRow, historyTableFor, readHistory, sha256Hex } from "../../lib/migrate/history.ts";
import { memorySource } from "../../lib/migrate/migration_source.ts";
import { describeDirty, Migrator, type MigratorEvent, type MigratorOptions } from "../../lib/migrate/migrator.ts";
import { parseTableName, type ResolvedTable } from "../../lib/migrate/version_table.ts";
import { BACKENDS, withDatabase } from "../_support/backends.ts";

const FILES: Record<string, string> = {
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
  "4_index.up.sql": "CREATE INDEX CONCURRENTLY orgs_name ON orgs (name);",
  "4_index.down.sql": "DROP INDEX CONCURRENTLY IF EXISTS orgs_name;",
};

/** The files of the given versions. */
function only(...versions: number[]): Record<string, string> {
  return Object.fromEntries(
    Object.entries(FILES).filter(([name]) => versions.includes(Number(name.slice(0, name.indexOf("_"))))),
  );
}

const VERSION_TABLE: ResolvedTable = {
  schema: "public",
  table: "schema_migrations",
  sql: '"public"."schema_migrations"',
};
const HISTORY = historyTableFor(VERSION_TABLE);

function migrator(db: Database, files: Record<string, string>, options: Partial<MigratorOptions> = {}): Migrator {
  return new Migrator(db, { source: memorySource(files), lockTimeoutMs: 5000, ...options });
}

function warningsOf(events: MigratorEvent[]): string[] {
  return events.flatMap((e) => (e.type === "warning" ? [e.message] : []));
}

async function versionRows(db: Database): Promise<Array<{ version: string; dirty: boolean }>> {
  return await db.query("SELECT version::text AS version, dirty FROM public.schema_migrations");
}

async function history(db: Database): Promise<HistoryRow[]> {
  return await readHistory(db, HISTORY);
}

/** What a Go service calling golang-migrate does to the version table: TRUNCATE, INSERT, one transaction. */
async function goSetsVersion(db: Database, version: number | null, dirty = false): Promise<void> {
  await db.withSession(async (session) => {
    await session.exec("BEGIN");
    await session.exec("TRUNCATE public.schema_migrations");
    if (version !== null) {
      await session.query("INSERT INTO public.schema_migrations (version, dirty) VALUES ($1, $2)", [
        String(version),
        dirty,
      ]);
    }
    await session.exec("COMMIT");
  });
}

/** golang-migrate's own DDL for its table (COMPAT.md), made without strata. */
const GO_VERSION_TABLE =
  'CREATE TABLE IF NOT EXISTS "public"."schema_migrations" (version bigint not null primary key, dirty boolean not null)';

/**
 * Everything a migration run could touch, as text: the objects of every non-system schema
 * (with oids and relfilenodes, so a drop-and-recreate or a TRUNCATE shows), and the rows of
 * the version and history tables with their xmin and ctid (so a rewrite of an equal row shows).
 */
async function fingerprint(db: Database): Promise<string> {
  const [catalog] = await db.query<{ text: string }>(`
    WITH ns AS (
      SELECT oid, nspname FROM pg_catalog.pg_namespace
      WHERE nspname NOT IN ('pg_catalog', 'information_schema')
        AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp\\_%'
    )
    SELECT concat_ws(E'\\n',
      (SELECT string_agg(format('ns %s %s', nspname, oid), ' ' ORDER BY nspname) FROM ns),
      (SELECT string_agg(format('rel %s.%s %s oid=%s node=%s', ns.nspname, c.relname, c.relkind, c.oid, c.relfilenode), ' '
         ORDER BY ns.nspname, c.relname) FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace),
      (SELECT string_agg(format('att %s.%s %s %s %s %s %s', a.attrelid, a.attnum, a.attname, a.atttypid, a.attnotnull,
                                a.atthasdef, a.attisdropped), ' ' ORDER BY a.attrelid, a.attnum)
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN ns ON ns.oid = c.relnamespace
         WHERE a.attnum > 0),
      (SELECT string_agg(format('idx %s on %s (%s) valid=%s', i.indexrelid, i.indrelid, i.indkey, i.indisvalid), ' '
         ORDER BY i.indexrelid)
         FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid JOIN ns ON ns.oid = c.relnamespace),
      (SELECT string_agg(format('proc %s.%s %s %s', ns.nspname, p.proname, p.oid, md5(p.prosrc)), ' ' ORDER BY p.oid)
         FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace),
      (SELECT string_agg(format('type %s.%s %s', ns.nspname, t.typname, t.oid), ' ' ORDER BY t.oid)
         FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace),
      (SELECT string_agg(format('trigger %s %s %s', tg.tgrelid, tg.tgname, tg.oid), ' ' ORDER BY tg.oid)
         FROM pg_catalog.pg_trigger tg JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid JOIN ns ON ns.oid = c.relnamespace),
      (SELECT string_agg(format('constraint %s %s', co.conname, co.oid), ' ' ORDER BY co.oid)
         FROM pg_catalog.pg_constraint co JOIN ns ON ns.oid = co.connamespace)
    ) AS text`);
  const parts = [catalog.text];
  for (const table of [VERSION_TABLE, HISTORY]) {
    const [found] = await db.query<{ name: string | null }>("SELECT to_regclass($1)::text AS name", [table.sql]);
    if (found?.name == null) {
      parts.push(`${table.sql}: absent`);
      continue;
    }
    const rows = await db.query<{ row: string }>(
      `SELECT format('%s %s %s', t.xmin, t.ctid, t) AS row FROM ${table.sql} t ORDER BY 1`,
    );
    parts.push(`${table.sql}: ${rows.map((r) => r.row).join(" | ")}`);
  }
  return parts.join("\n");
}

const utf8Bytes = (text: string) => new TextEncoder().encode(text).length;

test("historyTableFor keeps <table>_history while it fits in 63 bytes; past that, the first 46 bytes, a hash and _history, never the version table's name", () => {
  const historyOf = (table: string, schema = "public") => historyTableFor({ schema, table, sql: "" });
  assert.equal(historyOf("v".repeat(55)).table, `${"v".repeat(55)}_history`, "63 bytes: as before");
  const names = [56, 57, 60, 62, 63].map((n) => "v".repeat(n));
  for (const name of names) {
    const history = historyOf(name);
    assert.match(history.table, /^v{46}_[0-9a-f]{8}_history$/, name);
    assert.notEqual(history.table, name);
    assert.equal(history.sql, `"public"."${history.table}"`);
  }
  assert.equal(new Set(names.map((name) => historyOf(name).table)).size, names.length, "one history table per name");
  // Stable: the same name always finds the same table.
  assert.equal(historyOf("v".repeat(60)).table, `${"v".repeat(46)}_35e5e03e_history`);
  // Over 63 bytes the server's table is the first 63 bytes' table, and so is its history.
  assert.deepEqual(historyOf("v".repeat(70)), historyOf("v".repeat(63)));
  // Cut at a character boundary, and so is a schema over 63 bytes.
  const wide = historyOf("é".repeat(40), "s".repeat(70));
  assert.match(wide.table, /^é{23}_[0-9a-f]{8}_history$/);
  assert.ok(utf8Bytes(wide.table) <= 63);
  assert.equal(wide.schema, "s".repeat(63));
  assert.equal(wide.sql, `"${"s".repeat(63)}"."${wide.table}"`);
});

for (const backend of BACKENDS) {
  test(`up writes one history row per version: name, sha256 of the up file, when, how long, who [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const client = "history test 1.0 on ci, pid 42";
      const run = await migrator(db, FILES, { client }).up();
      assert.equal(run.error, undefined);
      const [{ role }] = await db.query<{ role: string }>("SELECT current_user AS role");

      // Beside the version table, in its schema, named after it.
      assert.deepEqual(HISTORY, {
        schema: "public",
        table: "schema_migrations_history",
        sql: '"public"."schema_migrations_history"',
      });
      const tables = await db.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE tablename LIKE 'schema\\_migrations%' ORDER BY 1",
      );
      assert.deepEqual(tables.map((r) => r.name), ["schema_migrations", "schema_migrations_history"]);

      const rows = await history(db);
      assert.deepEqual(rows.map((r) => [r.version, r.name, r.status]), [
        [1n, "orgs", "applied"],
        [2n, "users", "applied"],
        [3n, "audit", "applied"],
        [4n, "index", "applied"],
      ]);
      for (const row of rows) {
        const up = `${row.version}_${row.name}.up.sql`;
        assert.equal(row.checksum, await sha256Hex(FILES[up]), up);
        assert.match(row.appliedAt ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, up);
        assert.ok(Math.abs(Date.parse(row.appliedAt!) - Date.now()) < 10 * 60_000, `${up} applied just now`);
        assert.ok(row.durationMs !== null && row.durationMs >= 0, `${up} duration ${row.durationMs}`);
        assert.equal(row.client, client);
        assert.equal(row.appliedBy, role);
        assert.equal(row.transactional, row.version !== 4n, up);
        assert.equal(row.failedStatement, null);
        assert.equal(row.note, null);
      }

      const status = await migrator(db, FILES).status();
      assert.deepEqual(status.entries.map((e) => [e.version, e.state]), [
        [1n, "applied"],
        [2n, "applied"],
        [3n, "applied"],
        [4n, "applied"],
      ]);
      assert.deepEqual(status.entries.map((e) => e.appliedAt), rows.map((r) => r.appliedAt));
      assert.deepEqual(status.entries.map((e) => e.recordedChecksum), rows.map((r) => r.checksum));

      const down = await migrator(db, FILES).down({ limit: 2 });
      assert.equal(down.error, undefined);
      assert.deepEqual((await history(db)).map((r) => r.version), [1n, 2n]);
      assert.deepEqual(await versionRows(db), [{ version: "2", dirty: false }]);
    });
  });

  test(`a quoted version table in another schema gets its history table beside it [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE SCHEMA migrations");
      const table = parseTableName('"migrations"."app"', true);
      const run = await migrator(db, only(1), { table }).up();
      assert.equal(run.error, undefined);
      const rows = await db.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'migrations' ORDER BY 1",
      );
      assert.deepEqual(rows.map((r) => r.name), ["app", "app_history"]);
      const appHistory = historyTableFor({ schema: "migrations", table: "app", sql: '"migrations"."app"' });
      assert.deepEqual((await readHistory(db, appHistory)).map((r) => r.version), [1n]);
      assert.equal(await db.query("SELECT 1 FROM pg_tables WHERE tablename LIKE '%history'").then((r) => r.length), 1);
    });
  });

  for (const length of [60, 63, 70]) {
    test(`a ${length}-character x-migrations-table: up records its history, status shows it applied by strata, a changed file is refused, version reads it [${backend}]`, async (t) => {
      await withDatabase(t, backend, async ({ db }) => {
        const name = "v".repeat(length);
        const table = parseTableName(name, false);
        const events: MigratorEvent[] = [];
        const run = await migrator(db, only(1, 2), { table, onEvent: (e) => events.push(e) }).up();
        assert.equal(run.error, undefined);
        assert.deepEqual(run.results.map((r) => [r.version, r.status]), [[1n, "applied"], [2n, "applied"]]);
        assert.deepEqual(warningsOf(events), []);

        // The version table as the server cut it, and a history table of its own beside it.
        const stored = "v".repeat(Math.min(length, 63));
        const history = historyTableFor({ schema: "public", table: name, sql: "" });
        const tables = await db.query<{ name: string }>(
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'vvv%' ORDER BY 1",
        );
        assert.deepEqual(tables.map((r) => r.name), [history.table, stored].sort());
        assert.deepEqual(await db.query(`SELECT version::text AS version, dirty FROM public."${stored}"`), [
          { version: "2", dirty: false },
        ]);

        // The next run finds that history: nothing moved "outside strata".
        const quiet: MigratorEvent[] = [];
        assert.equal((await migrator(db, only(1, 2), { table, onEvent: (e) => quiet.push(e) }).up()).noChange, true);
        assert.deepEqual(warningsOf(quiet), []);
        const status = await migrator(db, only(1, 2), { table }).status();
        assert.deepEqual(status.entries.map((e) => [e.version, e.state, e.note]), [
          [1n, "applied", null],
          [2n, "applied", null],
        ]);
        for (const entry of status.entries) {
          assert.notEqual(entry.appliedAt, null, `${entry.version} applied by strata`);
        }
        assert.deepEqual(await migrator(db, only(1, 2), { table }).version(), { version: 2n, dirty: false });

        const edited = {
          ...only(1, 2, 3),
          "1_orgs.up.sql": FILES["1_orgs.up.sql"] + "\n-- edited after it was applied\n",
        };
        assert.equal((await migrator(db, edited, { table }).status()).changed.map((e) => e.up).join(), "1_orgs.up.sql");
        await assert.rejects(migrator(db, edited, { table }).up(), (error: unknown) => {
          assert.ok(error instanceof StrataError, String(error));
          assert.equal(error.code, "CHECKSUM_MISMATCH");
          assert.match(error.message, /changed since applied: 1_orgs\.up\.sql/);
          return true;
        });
        assert.deepEqual(await migrator(db, only(1, 2), { table }).version(), { version: 2n, dirty: false });
      });
    });
  }

  test(`a quoted "schema"."table" whose names are over 63 bytes (and not ASCII) is the table the server cut them to, with its history beside it [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const schema = `migrations_${"s".repeat(60)}`;
      const name = `app_${"é".repeat(40)}`;
      await db.exec(`CREATE SCHEMA "${schema}"`);
      const table = parseTableName(`"${schema}"."${name}"`, true);
      const events: MigratorEvent[] = [];
      assert.equal((await migrator(db, only(1), { table, onEvent: (e) => events.push(e) }).up()).error, undefined);
      assert.equal((await migrator(db, only(1, 2), { table, onEvent: (e) => events.push(e) }).up()).error, undefined);
      assert.deepEqual(warningsOf(events), []);

      const storedSchema = schema.slice(0, 63);
      const storedName = `app_${"é".repeat(29)}`; // 4 + 58 bytes: a 30th é would make 64
      const history = historyTableFor({ schema, table: name, sql: "" });
      assert.equal(history.schema, storedSchema);
      const tables = await db.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
        [storedSchema],
      );
      assert.deepEqual(tables.map((r) => r.name), [storedName, history.table].sort());
      assert.deepEqual((await readHistory(db, history)).map((r) => [r.version, r.note]), [[1n, null], [2n, null]]);
      const status = await migrator(db, only(1, 2), { table }).status();
      assert.deepEqual(status.entries.map((e) => [e.version, e.state, e.note]), [
        [1n, "applied", null],
        [2n, "applied", null],
      ]);
      assert.deepEqual(await migrator(db, only(1, 2), { table }).version(), { version: 2n, dirty: false });
    });
  });

  test(`up on a database golang-migrate managed records its versions as applied outside strata and warns [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(FILES["1_orgs.up.sql"] + FILES["2_users.up.sql"]);
      await db.exec(GO_VERSION_TABLE);
      await goSetsVersion(db, 2);
      const events: MigratorEvent[] = [];
      const run = await migrator(db, only(1, 2, 3), { client: "strata test", onEvent: (e) => events.push(e) }).up();
      assert.equal(run.error, undefined);
      assert.deepEqual(run.results.map((r) => [r.version, r.status]), [[3n, "applied"]]);
      assert.deepEqual(await versionRows(db), [{ version: "3", dirty: false }]);

      const warnings = warningsOf(events);
      assert.equal(warnings.length, 1, warnings.join("\n"));
      assert.match(warnings[0], /^The version table \(2\) moved without strata: /);
      assert.match(warnings[0], /versions 1, 2 applied outside strata/);

      const rows = await history(db);
      assert.deepEqual(rows.map((r) => r.version), [1n, 2n, 3n]);
      for (const row of rows.slice(0, 2)) {
        assert.equal(row.status, "applied");
        assert.equal(row.note, "applied outside strata");
        assert.equal(row.appliedAt, null, "strata does not know when golang-migrate applied it");
        assert.equal(row.durationMs, null);
        assert.equal(row.checksum, await sha256Hex(FILES[`${row.version}_${row.name}.up.sql`]));
      }
      assert.equal(rows[2].note, null);
      assert.notEqual(rows[2].appliedAt, null);

      const status = await migrator(db, only(1, 2, 3)).status();
      assert.deepEqual(status.entries.map((e) => [e.version, e.state, e.note]), [
        [1n, "applied", "applied outside strata"],
        [2n, "applied", "applied outside strata"],
        [3n, "applied", null],
      ]);
      // Reconciled once: the next run has nothing to say.
      const quiet: MigratorEvent[] = [];
      assert.equal((await migrator(db, only(1, 2, 3), { onEvent: (e) => quiet.push(e) }).up()).noChange, true);
      assert.deepEqual(warningsOf(quiet), []);
    });
  });

  test(`a Go service moving the version down and up between strata runs is reconciled, never a failure [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = { ...FILES, "5_tags.up.sql": "CREATE TABLE tags (id int);", "5_tags.down.sql": "DROP TABLE tags;" };
      assert.equal((await migrator(db, FILES).up()).to.version, 4n);

      // golang-migrate runs 4 and 3 down: the version table says 2, the history still has 3 and 4.
      await db.exec(FILES["4_index.down.sql"]);
      await db.exec(FILES["3_audit.down.sql"]);
      await goSetsVersion(db, 2);
      const seen = await migrator(db, FILES).status();
      assert.deepEqual(seen.entries.map((e) => [e.version, e.state]), [
        [1n, "applied"],
        [2n, "applied"],
        [3n, "pending"],
        [4n, "pending"],
      ]);
      assert.deepEqual(seen.reconcile.remove, [3n, 4n]);
      assert.deepEqual((await history(db)).map((r) => r.version), [1n, 2n, 3n, 4n], "status writes nothing");

      const events: MigratorEvent[] = [];
      const again = await migrator(db, FILES, { onEvent: (e) => events.push(e) }).up();
      assert.equal(again.error, undefined);
      assert.deepEqual(again.results.map((r) => [r.version, r.status]), [[3n, "applied"], [4n, "applied"]]);
      assert.match(warningsOf(events).join("\n"), /moved without strata: versions 3, 4 reverted outside strata/);
      assert.deepEqual((await history(db)).map((r) => [r.version, r.note]), [[1n, null], [2n, null], [3n, null], [
        4n,
        null,
      ]]);

      // golang-migrate applies a version strata's files also have: recorded, nothing to run.
      await db.exec(files["5_tags.up.sql"]);
      await goSetsVersion(db, 5);
      const upEvents: MigratorEvent[] = [];
      const noChange = await migrator(db, files, { onEvent: (e) => upEvents.push(e) }).up();
      assert.equal(noChange.error, undefined);
      assert.equal(noChange.noChange, true);
      assert.match(warningsOf(upEvents).join("\n"), /moved without strata: version 5 applied outside strata/);
      const five = (await history(db)).find((r) => r.version === 5n);
      assert.equal(five?.note, "applied outside strata");
      assert.equal(five?.checksum, await sha256Hex(files["5_tags.up.sql"]));

      // golang-migrate goes down to 3, then strata goes down one: the history follows both.
      await db.exec(files["5_tags.down.sql"]);
      await db.exec(FILES["4_index.down.sql"]);
      await goSetsVersion(db, 3);
      const downEvents: MigratorEvent[] = [];
      const down = await migrator(db, files, { onEvent: (e) => downEvents.push(e) }).down({ limit: 1 });
      assert.equal(down.error, undefined);
      assert.deepEqual(down.results.map((r) => [r.version, r.direction, r.status]), [[3n, "down", "applied"]]);
      assert.match(warningsOf(downEvents).join("\n"), /versions 4, 5 reverted outside strata/);
      assert.deepEqual((await history(db)).map((r) => r.version), [1n, 2n]);
      assert.deepEqual(await versionRows(db), [{ version: "2", dirty: false }]);
      const status = await migrator(db, files).status();
      assert.deepEqual(status.reconcile, { record: [], remove: [], settle: [] });
      assert.deepEqual(status.pending.map((e) => e.version), [3n, 4n, 5n]);
    });
  });

  test(`up refuses an applied file that changed, naming it, and allowChanged goes on [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await migrator(db, only(1, 2, 3)).up();
      const original = await sha256Hex(FILES["2_users.up.sql"]);
      const edited = { ...FILES, "2_users.up.sql": FILES["2_users.up.sql"] + "\n-- edited after it was applied\n" };
      const now = await sha256Hex(edited["2_users.up.sql"]);

      const status = await migrator(db, edited).status();
      const two = status.entries.find((e) => e.version === 2n)!;
      assert.equal(two.state, "changed");
      assert.equal(two.recordedChecksum, original);
      assert.equal(two.checksum, now);
      assert.deepEqual(status.changed.map((e) => e.up), ["2_users.up.sql"]);

      const before = await fingerprint(db);
      const refused = (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.code, "CHECKSUM_MISMATCH");
        assert.match(error.message, /changed since applied: 2_users\.up\.sql \(applied /);
        assert.match(error.message, new RegExp(`checksum was ${original.slice(0, 12)}, now ${now.slice(0, 12)}`));
        assert.match(error.hint ?? "", /-allow-changed/);
        return true;
      };
      await assert.rejects(migrator(db, edited).up(), refused);
      await assert.rejects(migrator(db, edited).plan({ command: "up" }), refused);
      assert.equal(await fingerprint(db), before, "a refused up changes nothing");

      const run = await migrator(db, edited, { allowChanged: true }).up();
      assert.equal(run.error, undefined);
      assert.deepEqual(run.results.map((r) => r.version), [4n]);
      assert.deepEqual(await versionRows(db), [{ version: "4", dirty: false }]);
      // The history keeps what was applied: the old checksum.
      assert.equal((await history(db)).find((r) => r.version === 2n)?.checksum, original);
    });
  });

  test(`a pending file below the current version is "out of order": up refuses it, allowOutOfOrder applies it [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      assert.equal((await migrator(db, only(1, 2, 4)).up()).to.version, 4n);

      const status = await migrator(db, FILES).status();
      assert.deepEqual(status.entries.map((e) => [e.version, e.state]), [
        [1n, "applied"],
        [2n, "applied"],
        [3n, "out of order"],
        [4n, "applied"],
      ]);
      assert.deepEqual(status.outOfOrder.map((e) => e.up), ["3_audit.up.sql"]);
      assert.deepEqual(status.pending.map((e) => e.version), [3n]);

      const before = await fingerprint(db);
      const refused = (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.code, "OUT_OF_ORDER");
        assert.match(error.message, /below the current version 4: 3_audit\.up\.sql/);
        assert.match(error.hint ?? "", /-allow-out-of-order/);
        return true;
      };
      await assert.rejects(migrator(db, FILES).up(), refused);
      await assert.rejects(migrator(db, FILES).plan({ command: "up" }), refused);
      assert.equal(await fingerprint(db), before, "a refused up changes nothing");

      const plan = await migrator(db, FILES, { allowOutOfOrder: true }).plan({ command: "up" });
      assert.deepEqual(plan.steps.map((s) => [s.version, s.direction, s.outOfOrder, s.from, s.to]), [
        [3n, "up", true, 4n, 4n],
      ]);
      assert.equal(await fingerprint(db), before, "the dry run changes nothing");

      const run = await migrator(db, FILES, { allowOutOfOrder: true }).up();
      assert.equal(run.error, undefined);
      assert.deepEqual(run.results.map((r) => [r.version, r.status, r.outOfOrder]), [[3n, "applied", true]]);
      assert.deepEqual(run.to, { version: 4n, dirty: false });
      assert.deepEqual(await versionRows(db), [{ version: "4", dirty: false }], "the version row stays");
      assert.equal(await db.query("SELECT 1 FROM pg_trigger WHERE tgname = 'orgs_touch'").then((r) => r.length), 1);
      const three = (await history(db)).find((r) => r.version === 3n);
      assert.equal(three?.checksum, await sha256Hex(FILES["3_audit.up.sql"]));
      assert.notEqual(three?.appliedAt, null);

      const after = await migrator(db, FILES).status();
      assert.deepEqual(after.entries.map((e) => e.state), ["applied", "applied", "applied", "applied"]);
      assert.equal((await migrator(db, FILES).up()).noChange, true);
    });
  });

  test(`status explains a dirty database (file, no transaction, statement, both force commands) and force settles the history [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const failing = {
        ...FILES,
        "4_index.up.sql":
          "CREATE INDEX CONCURRENTLY orgs_name ON orgs (name);\nCREATE INDEX CONCURRENTLY users_bad ON users (no_such_column);",
      };
      const run = await migrator(db, failing, { client: "ci" }).up();
      assert.equal(run.error?.code, "MIGRATION_FAILED");
      assert.deepEqual(run.to, { version: 4n, dirty: true });

      const status = await migrator(db, failing).status();
      assert.deepEqual(status.version, { version: 4n, dirty: true });
      const dirty = status.dirty!;
      assert.equal(dirty.file, "4_index.up.sql");
      assert.equal(dirty.direction, "up");
      assert.equal(dirty.transactional, false);
      assert.equal(dirty.failedStatement, 2);
      assert.match(dirty.error ?? "", /no_such_column/);
      assert.equal(dirty.forceIfComplete, 4n);
      assert.equal(dirty.forceIfUndone, 3n);
      assert.equal(status.entries.find((e) => e.version === 4n)?.state, "failed");
      const text = describeDirty(dirty);
      assert.match(text, /4_index\.up\.sql \(up\) failed at statement 2 outside a transaction/);
      assert.match(
        text,
        /'force 4' if the failed migration's changes are all in place, or 'force 3' if none of them are/,
      );
      const failedRow = (await history(db)).find((r) => r.version === 4n)!;
      assert.deepEqual([failedRow.status, failedRow.failedStatement, failedRow.direction, failedRow.client], [
        "failed",
        2,
        "up",
        "ci",
      ]);

      // Way out 1: undo statement 1 by hand, force 3, fix the file, up.
      await db.exec("DROP INDEX orgs_name");
      assert.deepEqual(await migrator(db, failing).force(3n), { version: 3n, dirty: false });
      assert.deepEqual((await history(db)).map((r) => r.version), [1n, 2n, 3n]);
      const forced = await migrator(db, failing).status();
      assert.equal(forced.dirty, undefined);
      assert.deepEqual(forced.pending.map((e) => e.version), [4n]);
      const fixed = await migrator(db, FILES).up();
      assert.equal(fixed.error, undefined);
      const four = (await history(db)).find((r) => r.version === 4n)!;
      assert.deepEqual([four.status, four.transactional, four.failedStatement, four.error], [
        "applied",
        false,
        null,
        null,
      ]);
      assert.equal(four.checksum, await sha256Hex(FILES["4_index.up.sql"]));
    });
  });

  test(`a failed statement's error is stored with a URL's password masked, and read masked from a row stored unmasked [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const quoted = "postgres://app:S3cretPw%40x@db.internal:5432/app";
      const files = { "1_url.up.sql": `-- strata:no-transaction\nSELECT '${quoted}'::int;` };
      const run = await migrator(db, files).up();
      assert.equal(run.error?.code, "MIGRATION_FAILED");
      const [stored] = await db.query<{ error: string }>(`SELECT error FROM ${HISTORY.sql}`);
      assert.equal(stored.error, 'invalid input syntax for type integer: "postgres://app:***@db.internal:5432/app"');

      await db.exec(`UPDATE ${HISTORY.sql} SET error = 'bad: "${quoted}"'`);
      assert.equal((await history(db))[0].error, 'bad: "postgres://app:***@db.internal:5432/app"');
      const status = await migrator(db, files).status();
      assert.equal(status.dirty?.error, 'bad: "postgres://app:***@db.internal:5432/app"');
      const again = await migrator(db, files).up().catch((error: unknown) => ({ error }));
      assert.ok(again.error instanceof StrataError && again.error.code === "DIRTY", String(again.error));
      assert.doesNotMatch(again.error.hint ?? "", /S3cretPw/);
      assert.match(again.error.hint ?? "", /postgres:\/\/app:\*\*\*@db\.internal/);
    });
  });

  test(`forcing to the failed version marks its history row applied [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const failing = {
        ...only(1, 2),
        "3_index.up.sql":
          "CREATE INDEX CONCURRENTLY orgs_name ON orgs (name);\nCREATE INDEX CONCURRENTLY users_bad ON users (no_such_column);",
      };
      assert.equal((await migrator(db, failing).up()).to.dirty, true);
      // Way out 2: finish the file's work by hand, force the failed version.
      await db.exec("CREATE INDEX users_bad ON users (org_id)");
      assert.deepEqual(await migrator(db, failing).force(3n), { version: 3n, dirty: false });
      const row = (await history(db)).find((r) => r.version === 3n)!;
      assert.equal(row.status, "applied");
      assert.equal(row.note, "forced after a failure");
      assert.equal(row.checksum, await sha256Hex(failing["3_index.up.sql"]));
      const status = await migrator(db, failing).status();
      assert.equal(status.dirty, undefined);
      assert.deepEqual(status.entries.map((e) => e.state), ["applied", "applied", "applied"]);
      assert.equal((await migrator(db, failing).up()).noChange, true);
    });
  });

  test(`status on a database golang-migrate left dirty gives both force commands [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = only(1, 2, 3);
      await migrator(db, files).up();
      await goSetsVersion(db, 3, true);
      const status = await migrator(db, files).status();
      assert.deepEqual(status.version, { version: 3n, dirty: true });
      assert.deepEqual(status.entries.map((e) => [e.state, e.note]), [
        ["applied", null],
        ["applied", null],
        ["dirty", "applied by strata, since left dirty outside it"],
      ]);
      assert.equal(status.dirty?.forceIfComplete, 3n);
      assert.equal(status.dirty?.forceIfUndone, 2n);
      assert.equal(status.dirty?.failedStatement, undefined, "strata did not run it: no statement to name");
      assert.equal(status.dirty?.transactional, undefined);
      assert.match(describeDirty(status.dirty!), /'force 3' .* or 'force 2' if none of them are/);
      await assert.rejects(migrator(db, files).up(), {
        code: "DIRTY",
        message: "Dirty database version 3. Fix and force version.",
      });
    });
  });

  test(`a database golang-migrate migrated and left dirty shows its dirty version as dirty, not applied, and the ones below as applied outside strata [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = only(1, 2, 3);
      await db.exec(files["1_orgs.up.sql"]);
      await db.exec(
        "CREATE TABLE public.schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)",
      );
      await goSetsVersion(db, 2, true);
      const status = await migrator(db, files).status();
      assert.deepEqual(status.entries.map((e) => [e.version, e.state, e.note]), [
        [1n, "applied", "applied outside strata"],
        [2n, "dirty", "left dirty outside strata"],
        [3n, "pending", null],
      ]);
      assert.deepEqual(
        status.reconcile.record.map((r) => r.version),
        [1n],
        "the dirty version is not recorded as applied",
      );
    });
  });

  test(`a failed row golang-migrate forced past does not explain a later dirty version: that one is dirty, no file blamed [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = {
        ...only(1),
        "2_index.up.sql": "CREATE INDEX CONCURRENTLY orgs_bad ON orgs (no_such_column);",
        "3_more.up.sql": "CREATE TABLE more (id int);",
      };
      assert.equal((await migrator(db, files).up()).error?.code, "MIGRATION_FAILED");
      // golang-migrate's force 2, then its up of 3 failing: (3, dirty); strata's history still has 2 failed.
      await goSetsVersion(db, 3, true);
      const status = await migrator(db, files).status();
      assert.deepEqual(status.entries.map((e) => [e.version, e.state]), [[1n, "applied"], [2n, "applied"], [
        3n,
        "dirty",
      ]]);
      assert.equal(status.dirty?.file, undefined, "002 is not blamed");
      assert.match(describeDirty(status.dirty!), /left dirty by a migration strata did not run/);
    });
  });

  test(`a non-transactional down strata ran and that failed leaves the version below applied and the file failed [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = {
        ...only(1, 2),
        "3_index.up.sql": "CREATE INDEX CONCURRENTLY orgs_name3 ON orgs (name);",
        "3_index.down.sql": "DROP INDEX CONCURRENTLY orgs_name3;\nDROP INDEX CONCURRENTLY no_such_index;",
      };
      assert.equal((await migrator(db, files).up()).error, undefined);
      const run = await migrator(db, files).down({ limit: 1 });
      assert.equal(run.error?.code, "MIGRATION_FAILED");
      const status = await migrator(db, files).status();
      assert.deepEqual(status.version, { version: 2n, dirty: true });
      assert.deepEqual(status.entries.map((e) => e.state), ["applied", "applied", "failed"]);
    });
  });

  test(`golang-migrate's failed down (the version below marked dirty while the history has the one above applied) offers 'force' of the upper version and 'down 1' [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = only(1, 2, 3);
      await migrator(db, files).up();
      // golang-migrate's down from 3 to 2 failing: (2, dirty); strata's history still has 3.
      await goSetsVersion(db, 2, true);
      const dirty = (await migrator(db, files).status()).dirty!;
      assert.equal(dirty.direction, "down");
      assert.equal(dirty.forceIfComplete, 2n);
      assert.equal(dirty.forceIfUndone, 3n);
      assert.equal(dirty.likelyDown?.version, 3n);
      const text = describeDirty(dirty);
      assert.match(
        text,
        /history still has version 3 applied, so it was most likely its down migration .* that failed/,
      );
      assert.match(
        text,
        /'force 2' if the failed down migration's changes are all in place .* 'force 3' if none of them are and run 'down 1'/,
      );
      assert.match(
        text,
        /to revert it again\. If it was version 2's up that failed instead: 'force 2' .* 'force 1' if none are, then 'up'/,
      );
    });
  });

  test(`status does not claim a file failed when strata has no record of the failure [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = only(1, 2, 3);
      await migrator(db, files).up();
      await goSetsVersion(db, 3, true);
      const dirty = (await migrator(db, files).status()).dirty!;
      assert.equal(dirty.file, undefined);
      assert.match(describeDirty(dirty), /left dirty by a migration strata did not run/);
    });
  });

  test(`golang-migrate's (-1, dirty) after the first version's down failed offers 'force 1' for undone changes [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const files = only(1, 2);
      await migrator(db, files).up({ limit: 1 });
      await goSetsVersion(db, -1, true);
      const status = await migrator(db, files).status();
      const dirty = status.dirty!;
      assert.equal(dirty.forceIfComplete, null);
      assert.equal(dirty.forceIfUndone, 1n);
      // Version -1 has no up file: no "if it was -1's up that failed" way out, in the hint or in status.
      const text = describeDirty(dirty);
      assert.match(
        text,
        /'force -1' if the failed down migration's changes are all in place .* 'force 1' if none of them are and run 'down 1' to revert it again\.$/,
      );
      assert.doesNotMatch(text, /up that failed instead/);
      const printed = formatStatus(status, (args) => `strata ${args}`);
      assert.match(printed, /strata force -1\n.*strata force 1\n.*strata down 1 to revert it again\n$/s);
      assert.doesNotMatch(printed, /up that failed instead/);
    });
  });

  test(`status, version and dry runs on a fresh database create nothing, not even the version table [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const before = await fingerprint(db);
      const m = migrator(db, FILES);
      const status = await m.status();
      assert.deepEqual(status.version, { version: null, dirty: false });
      assert.deepEqual(status.entries.map((e) => e.state), ["pending", "pending", "pending", "pending"]);
      assert.deepEqual(await m.version(), { version: null, dirty: false });
      assert.equal((await m.plan({ command: "up" })).steps.length, 4);
      assert.equal((await m.plan({ command: "up", limit: 2 })).steps.length, 2);
      assert.equal((await m.plan({ command: "down" })).noChange, true);
      assert.deepEqual((await m.plan({ command: "goto", version: 2n })).steps.map((s) => s.version), [1n, 2n]);
      assert.equal(await fingerprint(db), before);
      assert.deepEqual(
        await db.query(
          "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'",
        ),
        [],
      );
    });
  });

  test(`dry runs of up, down N, down and goto leave a migrated database byte-identical [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      assert.equal((await migrator(db, FILES).up({ limit: 2 })).to.version, 2n);
      const before = await fingerprint(db);
      const m = migrator(db, FILES);
      const requests = [
        { command: "up" },
        { command: "up", limit: 1 },
        { command: "down", limit: 1 },
        { command: "down" },
        { command: "goto", version: 1n },
        { command: "goto", version: 4n },
      ] as const;
      const plans = [];
      for (const request of requests) {
        plans.push(await m.plan(request));
        assert.equal(await fingerprint(db), before, `after plan ${JSON.stringify(request, (_, v) => String(v))}`);
      }
      assert.deepEqual(plans.map((p) => p.steps.map((s) => `${s.version}${s.direction === "up" ? "u" : "d"}`)), [
        ["3u", "4u"],
        ["3u"],
        ["2d"],
        ["2d", "1d"],
        ["2d"],
        ["3u", "4u"],
      ]);
      const down = plans[2].steps[0];
      assert.deepEqual([down.file, down.from, down.to, down.transactional], ["2_users.down.sql", 2n, 1n, true]);
      assert.deepEqual(down.statements.map((s) => s.sql), ["DROP TABLE users"]);
      assert.deepEqual(plans.map((p) => p.from), plans.map(() => ({ version: 2n, dirty: false })));
      assert.deepEqual(await versionRows(db), [{ version: "2", dirty: false }]);
    });
  });

  test(`a dry run on a database only golang-migrate touched reports the reconciliation but writes none of it [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(FILES["1_orgs.up.sql"] + FILES["2_users.up.sql"]);
      await db.exec(GO_VERSION_TABLE);
      await goSetsVersion(db, 2);
      const before = await fingerprint(db);
      assert.match(before, /"public"\."schema_migrations_history": absent/);
      const events: MigratorEvent[] = [];
      const plan = await migrator(db, FILES, { onEvent: (e) => events.push(e) }).plan({ command: "up" });
      assert.deepEqual(plan.steps.map((s) => s.version), [3n, 4n]);
      assert.match(warningsOf(events).join("\n"), /versions 1, 2 applied outside strata/);
      await migrator(db, FILES).status();
      assert.equal(await fingerprint(db), before);
    });
  });

  test(`plan lists each file with its direction, transaction (and why not) and statements with lines [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      const plan = await migrator(db, FILES).plan({ command: "up" });
      assert.deepEqual(plan.from, { version: null, dirty: false });
      assert.equal(plan.noChange, false);
      assert.equal(plan.short, 0);
      assert.deepEqual(plan.steps.map((s) => [s.version, s.name, s.direction, s.file, s.from, s.to, s.transactional]), [
        [1n, "orgs", "up", "1_orgs.up.sql", null, 1n, true],
        [2n, "users", "up", "2_users.up.sql", 1n, 2n, true],
        [3n, "audit", "up", "3_audit.up.sql", 2n, 3n, true],
        [4n, "index", "up", "4_index.up.sql", 3n, 4n, false],
      ]);
      for (const step of plan.steps) assert.equal(step.checksum, await sha256Hex(FILES[step.file!]));
      assert.equal(plan.steps[0].reason, undefined);
      assert.match(plan.steps[3].reason ?? "", /CREATE INDEX CONCURRENTLY cannot run inside a transaction block/);
      assert.deepEqual(plan.steps[1].statements.map((s) => [s.line, s.kind]), [[1, "CreateStmt"], [2, "IndexStmt"]]);
      const audit = plan.steps[2].statements;
      assert.deepEqual(audit.map((s) => [s.line, s.kind]), [[1, "CreateFunctionStmt"], [7, "CreateTrigStmt"]]);
      assert.match(audit[0].sql, /-- a semicolon; inside the body\n  RETURN NEW;\nEND;\n\$\$$/);
      assert.deepEqual(plan.steps[3].statements, [{
        sql: "CREATE INDEX CONCURRENTLY orgs_name ON orgs (name)",
        line: 1,
        kind: "IndexStmt",
      }]);
    });
  });
}

/**
 * checkDrift on both backends: a live database migrated by strata matches its migrations;
 * a column, an index, a policy or a function body changed outside the migrations is
 * detected and named; only the applied versions are replayed; a dirty database and applied
 * versions missing from the source are refused; PostgreSQL 15 checked against a PGlite
 * (PostgreSQL 18) scratch shows no false drift.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Database } from "../../lib/db/database.ts";
import type { StrataError } from "../../lib/db/strata_error.ts";
import { directorySource } from "../../lib/io/directory_source.ts";
import { memorySource } from "../../lib/migrate/migration_source.ts";
import { Migrator } from "../../lib/migrate/migrator.ts";
import { formatDiff } from "../../lib/schema/diff_snapshots.ts";
import { checkDrift, type DriftReport } from "../../lib/schema/verify_migrations.ts";
import { BACKENDS, makeDatabase, type TestDatabase, withDatabase } from "../_support/backends.ts";

const EXAMPLES = fileURLToPath(new URL("../../migrations", import.meta.url));

const NOTES: Record<string, string> = {
  "1_notes.up.sql": `CREATE TABLE notes (id int PRIMARY KEY, author text NOT NULL, body text);
CREATE INDEX notes_author_idx ON notes (author);`,
  "1_notes.down.sql": "DROP TABLE notes;",
  "2_security.up.sql": `ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_owner ON notes USING (author = current_user);
CREATE FUNCTION note_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM public.notes $$;`,
  "2_security.down.sql": "DROP FUNCTION note_count();\nDROP POLICY notes_owner ON notes;\n" +
    "ALTER TABLE notes DISABLE ROW LEVEL SECURITY;",
};

const changesOf = (report: DriftReport) => report.diff.changes.map((c) => `${c.change} ${c.kind} ${c.name}`);

/** A live database and a scratch one on `backend`; skips when the backend is missing. */
async function withLiveAndScratch(
  t: { skip(message?: string): void },
  backend: "postgres" | "pglite",
  fn: (live: Database, scratch: Database) => Promise<void>,
): Promise<void> {
  await withDatabase(t, backend, async ({ db: live }) => {
    const scratch: TestDatabase | undefined = await makeDatabase(backend);
    if (!scratch) return t.skip("no PostgreSQL server");
    try {
      await fn(live, scratch.db);
    } finally {
      await scratch.dispose();
    }
  });
}

const DRIFTS: Array<{ what: string; sql: string; expect: string[] }> = [
  {
    what: "a column added outside the migrations",
    sql: "ALTER TABLE notes ADD COLUMN archived boolean NOT NULL DEFAULT false",
    expect: ["added column public.notes.archived"],
  },
  {
    what: "an index dropped outside the migrations",
    sql: "DROP INDEX notes_author_idx",
    expect: ["removed index public.notes_author_idx"],
  },
  {
    what: "a policy changed outside the migrations",
    sql: "ALTER POLICY notes_owner ON notes USING (author = 'admin')",
    expect: ["changed policy public.notes.notes_owner"],
  },
  {
    what: "a function body replaced outside the migrations",
    sql:
      "CREATE OR REPLACE FUNCTION note_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) + 1 FROM public.notes $$",
    expect: ["changed function public.note_count()"],
  },
];

for (const backend of BACKENDS) {
  test(`[${backend}] a database migrated by its migrations has not drifted (example migrations)`, async (t) => {
    await withLiveAndScratch(t, backend, async (live, scratch) => {
      const source = directorySource(EXAMPLES);
      await new Migrator(live, { source }).up();
      const report = await checkDrift(live, scratch, source);
      assert.equal(report.drifted, false, formatDiff(report.diff));
      assert.equal(report.version, 4n);
      assert.equal(report.dirty, false);
      assert.deepEqual(report.diff.changes, []);
      assert.deepEqual(report.warnings, []);
    });
  });

  for (const drift of DRIFTS) {
    test(`[${backend}] check detects ${drift.what} and names it`, async (t) => {
      await withLiveAndScratch(t, backend, async (live, scratch) => {
        const source = memorySource(NOTES);
        await new Migrator(live, { source }).up();
        await live.exec(drift.sql);
        const report = await checkDrift(live, scratch, source);
        assert.equal(report.drifted, true);
        assert.deepEqual(changesOf(report), drift.expect);
      });
    });
  }

  test(`[${backend}] check replays only the applied versions`, async (t) => {
    await withLiveAndScratch(t, backend, async (live, scratch) => {
      const source = memorySource(NOTES);
      await new Migrator(live, { source }).up({ limit: 1 });
      const report = await checkDrift(live, scratch, source);
      assert.equal(report.version, 1n);
      assert.equal(report.drifted, false, formatDiff(report.diff));
    });
  });

  test(`[${backend}] check on a database with nothing applied compares with an empty schema`, async (t) => {
    await withLiveAndScratch(t, backend, async (live, scratch) => {
      await live.exec("CREATE TABLE stray (id int)");
      const report = await checkDrift(live, scratch, memorySource(NOTES));
      assert.equal(report.version, null);
      assert.deepEqual(changesOf(report), ["added table public.stray"]);
    });
  });

  test(`[${backend}] check refuses a dirty database and says to fix it first`, async (t) => {
    await withLiveAndScratch(t, backend, async (live, scratch) => {
      const source = memorySource(NOTES);
      await new Migrator(live, { source }).up();
      await new Migrator(live, { source }).force(2n);
      await live.exec("UPDATE public.schema_migrations SET dirty = true");
      await assert.rejects(checkDrift(live, scratch, source), (error: StrataError) => {
        assert.equal(error.code, "DIRTY");
        assert.match(error.message, /^Dirty database version 2 on .*: fix it first, then check for drift$/);
        assert.match(error.hint!, /force 2/);
        return true;
      });
    });
  });

  test(`[${backend}] check names the applied versions the source does not have`, async (t) => {
    await withLiveAndScratch(t, backend, async (live, scratch) => {
      await new Migrator(live, {
        source: memorySource({ ...NOTES, "3_more.up.sql": "CREATE TABLE more (id int);" }),
      }).up();
      await assert.rejects(checkDrift(live, scratch, memorySource(NOTES)), (error: StrataError) => {
        assert.equal(error.code, "VERSION_MISSING");
        assert.match(
          error.message,
          /^Applied migration missing from memory: version 3 \(the database is at version 3\)$/,
        );
        return true;
      });
    });
  });

  test(`[${backend}] check warns when an applied file changed since it was applied`, async (t) => {
    await withLiveAndScratch(t, backend, async (live, scratch) => {
      await new Migrator(live, { source: memorySource(NOTES) }).up();
      const edited = {
        ...NOTES,
        "1_notes.up.sql": NOTES["1_notes.up.sql"].replace("body text", "body text, tags text[]"),
      };
      const report = await checkDrift(live, scratch, memorySource(edited));
      assert.deepEqual(changesOf(report), ["removed column public.notes.tags"]);
      assert.deepEqual(report.warnings, [
        "1_notes.up.sql changed since it was applied: the expected schema comes from the file as it is now",
      ]);
    });
  });
}

test("[postgres] PostgreSQL 15 checked against a PGlite (PostgreSQL 18) scratch shows no false drift", async (t) => {
  await withDatabase(t, "postgres", async ({ db: live }) => {
    const source = directorySource(EXAMPLES);
    await new Migrator(live, { source }).up();
    const onPglite = async () => {
      const scratch = (await makeDatabase("pglite"))!;
      try {
        return await checkDrift(live, scratch.db, source);
      } finally {
        await scratch.dispose();
      }
    };
    const report = await onPglite();
    assert.equal(report.drifted, false, formatDiff(report.diff));
    // a real drift still shows across the two versions
    await live.exec(`CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := clock_timestamp();
  RETURN NEW;
END;
$$`);
    assert.deepEqual(changesOf(await onPglite()), ["changed function public.set_updated_at()"]);
  });
});

/**
 * diffToSql: the statements rebuild every object kind from nothing, migrate a live database
 * from one schema to another and back, and come in dependency order (drops in reverse,
 * foreign keys after every table, cycles broken).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import type { Database } from "../../lib/db/database.ts";
import { diffSnapshots, formatDiff } from "../../lib/schema/diff_snapshots.ts";
import { diffToSql } from "../../lib/schema/diff_to_sql.ts";
import { snapshotToJson } from "../../lib/schema/format_snapshot.ts";
import { snapshotSchema } from "../../lib/schema/snapshot_schema.ts";
import { emptySnapshot, type SchemaSnapshot, type SnapshotTable } from "../../lib/schema/snapshot_types.ts";
import { BACKENDS, withDatabase } from "../_support/backends.ts";
import { applyStatements, assertSchema, everyKindSql, withSchemas } from "./_helpers.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);

/** every_kind.sql, then the changes of every_kind_changes.sql (new enum labels committed first). */
async function applyChanges(db: Database): Promise<void> {
  const labels = await readFile(new URL("every_kind_enum.sql", FIXTURES), "utf8");
  for (const statement of labels.split(";").filter((s) => /ALTER TYPE/.test(s))) await db.exec(statement);
  await db.exec(await readFile(new URL("every_kind_changes.sql", FIXTURES), "utf8"));
}

for (const backend of BACKENDS) {
  test(`[${backend}] diffToSql(empty, A) rebuilds every object kind: the new snapshot equals A`, async (t) => {
    await withDatabase(t, backend, async ({ db: source }) => {
      await withDatabase(t, backend, async ({ db: target }) => {
        await source.exec(await everyKindSql());
        const a = await snapshotSchema(source);
        const empty = await snapshotSchema(target);
        await applyStatements(target, diffToSql(empty, a));
        assert.equal(snapshotToJson(await snapshotSchema(target)), snapshotToJson(a));
      });
    });
  });

  test(`[${backend}] diffToSql(A, B) migrates a live database from A to B, and diffToSql(B, A) back`, async (t) => {
    await withDatabase(t, backend, async ({ db: first }) => {
      await withDatabase(t, backend, async ({ db: second }) => {
        await first.exec(await everyKindSql());
        await second.exec(await everyKindSql());
        await applyChanges(second);
        const a = await snapshotSchema(first);
        const b = await snapshotSchema(second);
        assert.ok(diffSnapshots(a, b).changes.length > 20, "the fixtures differ in many ways");

        await applyStatements(first, diffToSql(a, b));
        const forward = diffSnapshots(b, await snapshotSchema(first));
        assert.deepEqual(forward.changes, [], formatDiff(forward));

        // Back: enum labels removed (the type is rebuilt and its columns converted), tables and
        // a schema come back, a foreign-key cycle is dropped, column types and defaults revert.
        await applyStatements(second, diffToSql(b, a));
        const back = diffSnapshots(a, await snapshotSchema(second));
        assert.deepEqual(back.changes, [], formatDiff(back));
      });
    });
  });
  test(`[${backend}] diffToSql shortens varchar, char and bit columns (and arrays) without a cast, keeping the rows that fit`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TABLE notes (code varchar(20), tag char(8), flags bit varying(8), codes varchar(20)[], body text);
        INSERT INTO notes VALUES ('abc', 'ab', B'101', '{abc,de}', '{"a": 1}')`,
      b: `CREATE TABLE notes (code varchar(5), tag char(4), flags bit varying(4), codes varchar(5)[], body jsonb)`,
    }, async (db, a, b) => {
      const statements = diffToSql(a, b);
      assert.deepEqual(statements.filter((s) => s.includes(" TYPE ")), [
        "ALTER TABLE public.notes ALTER COLUMN body TYPE jsonb USING body::jsonb",
        "ALTER TABLE public.notes ALTER COLUMN code TYPE character varying(5)",
        "ALTER TABLE public.notes ALTER COLUMN codes TYPE character varying(5)[]",
        "ALTER TABLE public.notes ALTER COLUMN flags TYPE bit varying(4)",
        "ALTER TABLE public.notes ALTER COLUMN tag TYPE character(4)",
      ]);
      await applyStatements(db, statements);
      await assertSchema(db, b);
      assert.deepEqual(await db.query("SELECT code, tag, flags::text, codes, body FROM notes"), [
        { code: "abc", tag: "ab  ", flags: "101", codes: ["abc", "de"], body: { a: 1 } },
      ]);
    });
  });

  test(`[${backend}] diffToSql changes integer to bigint, numeric to integer, timestamp to timestamptz and json to jsonb without USING, as README says`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TABLE m (id integer PRIMARY KEY, n smallint[], price numeric, at timestamp, doc json, body text);
        INSERT INTO m VALUES (1, '{1,2}', 2.5, '2024-01-02 03:04:05', '{"a": 1}', '{"b": 2}')`,
      b: `CREATE TABLE m (id bigint PRIMARY KEY, n bigint[], price integer, at timestamptz, doc jsonb, body jsonb)`,
    }, async (db, a, b) => {
      const statements = diffToSql(a, b);
      assert.deepEqual(statements, [
        "ALTER TABLE public.m ALTER COLUMN at TYPE timestamp with time zone",
        "ALTER TABLE public.m ALTER COLUMN body TYPE jsonb USING body::jsonb",
        "ALTER TABLE public.m ALTER COLUMN doc TYPE jsonb",
        "ALTER TABLE public.m ALTER COLUMN id TYPE bigint",
        "ALTER TABLE public.m ALTER COLUMN n TYPE bigint[]",
        "ALTER TABLE public.m ALTER COLUMN price TYPE integer",
      ]);
      await applyStatements(db, statements);
      await assertSchema(db, b);
      assert.deepEqual(await db.query("SELECT id::text, n::text, price, doc, body FROM m"), [
        { id: "1", n: "{1,2}", price: 3, doc: { a: 1 }, body: { b: 2 } },
      ]);
    });
  });

  test(`[${backend}] diffToSql changes a CHECK constraint without making the table's indexes, triggers, policies, views and incoming foreign keys again`, async (t) => {
    const schema = (check: string) => `
      CREATE TABLE orgs (id int PRIMARY KEY, name text NOT NULL, CONSTRAINT name_chk CHECK (${check}));
      CREATE INDEX orgs_name_idx ON orgs (name);
      CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER orgs_touch BEFORE UPDATE ON orgs FOR EACH ROW EXECUTE FUNCTION touch();
      ALTER TABLE orgs ENABLE ROW LEVEL SECURITY;
      CREATE POLICY orgs_all ON orgs USING (true);
      CREATE VIEW org_names AS SELECT name FROM orgs;
      CREATE TABLE users (id int PRIMARY KEY, org_id int REFERENCES orgs (id))`;
    await withSchemas(t, backend, { a: schema("name <> ''"), b: schema("length(name) > 1") }, async (db, a, b) => {
      const statements = diffToSql(a, b);
      assert.deepEqual(statements, [
        "ALTER TABLE public.orgs DROP CONSTRAINT name_chk",
        "ALTER TABLE public.orgs ADD CONSTRAINT name_chk CHECK ((length(name) > 1))",
      ]);
      await applyStatements(db, statements);
      await assertSchema(db, b);
    });
  });

  test(`[${backend}] diffToSql makes a primary key again with the foreign keys and the GROUP BY view that use it, and nothing else`, async (t) => {
    const schema = (key: string) => `
      CREATE TABLE p (id int, name text, CONSTRAINT p_pkey PRIMARY KEY ${key}, CONSTRAINT p_name_key UNIQUE (name));
      CREATE INDEX p_lower_idx ON p (lower(name));
      CREATE TABLE ch (id int PRIMARY KEY, p_id int REFERENCES p (id), p_name text REFERENCES p (name));
      CREATE VIEW pv AS SELECT id, name FROM p GROUP BY id`;
    await withSchemas(t, backend, { a: schema("(id)"), b: schema("(id) INCLUDE (name)") }, async (db, a, b) => {
      const statements = diffToSql(a, b);
      assert.deepEqual(statements.map((s) => s.split("\n")[0]), [
        "ALTER TABLE public.ch DROP CONSTRAINT ch_p_id_fkey",
        "DROP VIEW public.pv",
        "ALTER TABLE public.p DROP CONSTRAINT p_pkey",
        "ALTER TABLE public.p ADD CONSTRAINT p_pkey PRIMARY KEY (id) INCLUDE (name)",
        "CREATE VIEW public.pv AS",
        "ALTER TABLE public.ch ADD CONSTRAINT ch_p_id_fkey FOREIGN KEY (p_id) REFERENCES public.p(id)",
      ]);
      await applyStatements(db, statements);
      await assertSchema(db, b);
    });
  });

  test(`[${backend}] diffToSql makes a unique index again around the foreign key that uses it`, async (t) => {
    const schema = (index: string) => `
      CREATE TABLE orgs (id int NOT NULL, code text NOT NULL);
      CREATE UNIQUE INDEX orgs_id_uq ON orgs ${index};
      CREATE TABLE users (id int PRIMARY KEY, org_id int REFERENCES orgs (id));
      INSERT INTO orgs VALUES (1, 'a'); INSERT INTO users VALUES (1, 1)`;
    await withSchemas(t, backend, { a: schema("(id)"), b: schema("(id) INCLUDE (code)") }, async (db, a, b) => {
      const statements = diffToSql(a, b);
      assert.deepEqual(statements, [
        "ALTER TABLE public.users DROP CONSTRAINT users_org_id_fkey",
        "DROP INDEX public.orgs_id_uq",
        "CREATE UNIQUE INDEX orgs_id_uq ON public.orgs USING btree (id) INCLUDE (code)",
        "ALTER TABLE public.users ADD CONSTRAINT users_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.orgs(id)",
      ]);
      await applyStatements(db, statements);
      await assertSchema(db, b);
    });
  });

  test(`[${backend}] diffToSql shortening a varchar column refuses a value too long instead of cutting it`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TABLE notes (code varchar(20)); INSERT INTO notes VALUES ('abcdefgh')`,
      b: `CREATE TABLE notes (code varchar(5))`,
    }, async (db, a, b) => {
      await assert.rejects(applyStatements(db, diffToSql(a, b)), /value too long for type character varying\(5\)/);
      assert.deepEqual(await db.query("SELECT code FROM notes"), [{ code: "abcdefgh" }]);
      assert.deepEqual(diffSnapshots(a, await snapshotSchema(db)).changes, []);
    });
  });

  test(`[${backend}] diffToSql turns a generated column into a plain one in place, keeping its values`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TABLE orders (qty int, price numeric, total numeric GENERATED ALWAYS AS (qty * price) STORED);
        INSERT INTO orders (qty, price) VALUES (2, 5)`,
      b: `CREATE TABLE orders (qty int, price numeric, total numeric)`,
    }, async (db, a, b) => {
      const statements = diffToSql(a, b);
      assert.deepEqual(statements, ["ALTER TABLE public.orders ALTER COLUMN total DROP EXPRESSION"]);
      await applyStatements(db, statements);
      await assertSchema(db, b);
      await db.exec("UPDATE orders SET qty = 3");
      assert.deepEqual(await db.query("SELECT qty, total::text FROM orders"), [{ qty: 3, total: "10" }]);

      // Back: a plain column made generated is dropped and added again, its values computed anew.
      await applyStatements(db, diffToSql(b, a));
      await assertSchema(db, a);
      assert.deepEqual(await db.query("SELECT total::text FROM orders"), [{ total: "15" }]);
    });
  });

  test(`[${backend}] diffToSql changes a column's type before it adds back the generated column that reads it`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TABLE prices (net numeric(12, 2), gross numeric GENERATED ALWAYS AS (net * 1.2) STORED);
        INSERT INTO prices (net) VALUES (10)`,
      b: `CREATE TABLE prices (net numeric(14, 2), gross numeric GENERATED ALWAYS AS (net * 1.25) STORED)`,
    }, async (db, a, b) => {
      const statements = diffToSql(a, b);
      assert.deepEqual(statements, [
        "ALTER TABLE public.prices DROP COLUMN gross",
        "ALTER TABLE public.prices ALTER COLUMN net TYPE numeric(14,2)",
        "ALTER TABLE public.prices ADD COLUMN gross numeric GENERATED ALWAYS AS ((net * 1.25)) STORED",
      ]);
      await applyStatements(db, statements);
      await assertSchema(db, b);
      assert.deepEqual(await db.query("SELECT gross::text FROM prices"), [{ gross: "12.5000" }]);
    });
  });

  test(`[${backend}] diffToSql keeps an identity through a type change, so the next insert continues its sequence`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TABLE events (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text);
        INSERT INTO events (name) VALUES ('a'), ('b')`,
      b: `CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text)`,
    }, async (db, a, b) => {
      const statements = diffToSql(a, b);
      assert.deepEqual(statements, ["ALTER TABLE public.events ALTER COLUMN id TYPE bigint"]);
      await applyStatements(db, statements);
      await assertSchema(db, b);
      assert.deepEqual(await db.query("INSERT INTO events (name) VALUES ('c') RETURNING id::int"), [{ id: 3 }]);
    });
  });

  test(`[${backend}] diffToSql turns serial into identity and back, each new sequence starting past the values`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TABLE events (id serial PRIMARY KEY, name text); CREATE TABLE empty (id serial PRIMARY KEY);
        INSERT INTO events (name) VALUES ('a'), ('b')`,
      b: `CREATE TABLE events (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text);
        CREATE TABLE empty (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY)`,
    }, async (db, a, b) => {
      await applyStatements(db, diffToSql(a, b));
      await assertSchema(db, b);
      assert.deepEqual(await db.query("INSERT INTO events (name) VALUES ('c') RETURNING id"), [{ id: 3 }]);
      assert.deepEqual(await db.query("INSERT INTO empty DEFAULT VALUES RETURNING id"), [{ id: 1 }]);

      await applyStatements(db, diffToSql(b, a));
      await assertSchema(db, a);
      assert.deepEqual(await db.query("INSERT INTO events (name) VALUES ('d') RETURNING id"), [{ id: 4 }]);
      assert.deepEqual(await db.query("INSERT INTO empty DEFAULT VALUES RETURNING id"), [{ id: 2 }]);
    });
  });

  test(`[${backend}] diffToSql detaches, attaches and re-bounds partitions in place, keeping their rows`, async (t) => {
    const events = `CREATE TABLE events (id int, at date, kind text DEFAULT 'x', PRIMARY KEY (id, at),
        CONSTRAINT kind_set CHECK (kind <> '')) PARTITION BY RANGE (at);
      CREATE INDEX ON events (at);
      CREATE TABLE events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');`;
    await withSchemas(t, backend, {
      a: `${events}
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        INSERT INTO events (id, at) VALUES (1, '2023-05-01'), (2, '2024-05-01')`,
      b: `${events}
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2026-01-01');
        ALTER TABLE events DETACH PARTITION events_2023`,
    }, async (db, a, b) => {
      const statements = diffToSql(a, b);
      assert.deepEqual(statements, [
        "ALTER TABLE public.events DETACH PARTITION public.events_2023",
        "ALTER TABLE public.events DETACH PARTITION public.events_2024",
        "ALTER TABLE public.events ATTACH PARTITION public.events_2024 FOR VALUES FROM ('2024-01-01') TO ('2026-01-01')",
      ]);
      await applyStatements(db, statements);
      await assertSchema(db, b);
      const rows = "SELECT tableoid::regclass::text AS t, id FROM events UNION ALL SELECT 'alone', id FROM events_2023";
      assert.deepEqual(await db.query(rows), [{ t: "events_2024", id: 2 }, { t: "alone", id: 1 }]);

      await applyStatements(db, diffToSql(b, a));
      await assertSchema(db, a);
      assert.deepEqual(await db.query("SELECT tableoid::regclass::text AS t, id FROM events ORDER BY id"), [
        { t: "events_2023", id: 1 },
        { t: "events_2024", id: 2 },
      ]);
    });
  });

  test(`[${backend}] diffToSql keeps a partition's rows when its partitioned table is made again with a new key`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TABLE events (id int, at date, made date) PARTITION BY RANGE (at);
        CREATE TABLE events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
        INSERT INTO events VALUES (1, '2023-05-01', '2023-06-01')`,
      b: `CREATE TABLE events (id int, at date, made date) PARTITION BY RANGE (made);
        CREATE TABLE events_2023 PARTITION OF events FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')`,
    }, async (db, a, b) => {
      await applyStatements(db, diffToSql(a, b));
      await assertSchema(db, b);
      assert.deepEqual(await db.query("SELECT tableoid::regclass::text AS t, id FROM events"), [
        { t: "events_2023", id: 1 },
      ]);
    });
  });

  test(`[${backend}] diffToSql's ATTACH PARTITION refuses rows outside the new bound`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2026-01-01');
        INSERT INTO events VALUES (1, '2025-05-01')`,
      b: `CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`,
    }, async (db, a, b) => {
      await assert.rejects(applyStatements(db, diffToSql(a, b)), /partition constraint .* is violated by some row/);
      assert.deepEqual(await db.query("SELECT id FROM events_2024"), [{ id: 1 }]);
    });
  });

  test(`[${backend}] diffToSql converts enum and domain columns to their base type before dropping the types`, async (t) => {
    await withSchemas(t, backend, {
      a: `CREATE TYPE mood AS ENUM ('ok', 'happy'); CREATE DOMAIN email AS text CHECK (VALUE LIKE '%@%');
        CREATE DOMAIN good_mood AS mood CHECK (VALUE <> 'ok');
        CREATE TABLE people (m mood DEFAULT 'ok', ms mood[], e email, g good_mood);
        CREATE VIEW moods AS SELECT m FROM people;
        INSERT INTO people VALUES ('happy', '{ok}', 'a@b', 'happy')`,
      b: `CREATE TABLE people (m text DEFAULT 'ok', ms text[], e text, g text);
        CREATE VIEW moods AS SELECT m FROM people`,
    }, async (db, a, b) => {
      const statements = diffToSql(a, b);
      assert.deepEqual(statements.slice(-3), [
        "DROP DOMAIN public.good_mood",
        "DROP DOMAIN public.email",
        "DROP TYPE public.mood",
      ]);
      await applyStatements(db, statements);
      await assertSchema(db, b);
      assert.deepEqual(await db.query("SELECT m, ms, e, g FROM people"), [{
        m: "happy",
        ms: ["ok"],
        e: "a@b",
        g: "happy",
      }]);
    });
  });

  test(`[${backend}] diffToSql re-creates a view whose ORDER BY names a column an output column shadows, with the same meaning`, async (t) => {
    await withDatabase(t, backend, async ({ db: source }) => {
      await withDatabase(t, backend, async ({ db: target }) => {
        await source.exec(`CREATE TABLE events (user_id int, kind text, at date);
          INSERT INTO events VALUES (1, 'old', '2023-01-01'), (1, 'new', '2024-01-01');
          CREATE VIEW latest AS SELECT DISTINCT ON (events.user_id) events.user_id, events.kind AS at
            FROM events ORDER BY events.user_id, events.at DESC;
          CREATE VIEW first_kind AS SELECT DISTINCT ON (events.at) events.kind AS at FROM events
            ORDER BY events.at LIMIT 1`);
        const a = await snapshotSchema(source);
        assert.deepEqual(a.objects.views.map((view) => view.definition), [
          "SELECT DISTINCT ON (events.at) kind AS at\n   FROM public.events\n  ORDER BY events.at\n LIMIT 1",
          "SELECT DISTINCT ON (user_id) user_id,\n    kind AS at\n   FROM public.events\n  ORDER BY user_id, events.at DESC",
        ]);
        await applyStatements(target, diffToSql(await snapshotSchema(target), a));
        await target.exec("INSERT INTO events VALUES (1, 'old', '2023-01-01'), (1, 'new', '2024-01-01')");
        for (const view of ["latest", "first_kind"]) {
          assert.deepEqual(await target.query(`SELECT * FROM ${view}`), await source.query(`SELECT * FROM ${view}`));
        }
        assert.deepEqual(await target.query("SELECT at FROM latest"), [{ at: "new" }]);
      });
    });
  });
}

test("[postgres] diffToSql(empty, A) rebuilds a schema that uses an extension", async (t) => {
  await withDatabase(t, "postgres", async ({ db: source }) => {
    await withDatabase(t, "postgres", async ({ db: target }) => {
      const available = await source.query("SELECT 1 FROM pg_available_extensions WHERE name = 'citext'");
      if (available.length === 0) return t.skip("citext is not installed on the test server");
      await source.exec(`CREATE SCHEMA ext; CREATE EXTENSION citext WITH SCHEMA ext;
        CREATE TABLE people (email ext.citext PRIMARY KEY, name text)`);
      const a = await snapshotSchema(source);
      const empty = await snapshotSchema(target);
      const statements = diffToSql(empty, a);
      assert.deepEqual(statements.slice(0, 2), [
        "CREATE SCHEMA ext",
        "CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA ext",
      ]);
      await applyStatements(target, statements);
      assert.equal(snapshotToJson(await snapshotSchema(target)), snapshotToJson(a));
    });
  });
});

test("diffToSql accepts a diff as well as two snapshots", () => {
  const to = schemaWith([table("a", [])]);
  assert.deepEqual(diffToSql(diffSnapshots(emptySnapshot(), to)), diffToSql(emptySnapshot(), to));
});

test("diffToSql adds foreign keys after every table, so a cycle of foreign keys is created", () => {
  const to = schemaWith([
    table("a", [fk("a_b_fk", "b_id", "b")]),
    table("b", [fk("b_a_fk", "a_id", "a")]),
  ]);
  assert.deepEqual(diffToSql(emptySnapshot(), to), [
    "CREATE SCHEMA IF NOT EXISTS public",
    "CREATE TABLE public.a (\n    id integer NOT NULL,\n    b_id integer,\n    a_id integer,\n    CONSTRAINT a_pkey PRIMARY KEY (id)\n)",
    "CREATE TABLE public.b (\n    id integer NOT NULL,\n    b_id integer,\n    a_id integer,\n    CONSTRAINT b_pkey PRIMARY KEY (id)\n)",
    "ALTER TABLE public.a ADD CONSTRAINT a_b_fk FOREIGN KEY (b_id) REFERENCES public.b(id)",
    "ALTER TABLE public.b ADD CONSTRAINT b_a_fk FOREIGN KEY (a_id) REFERENCES public.a(id)",
  ]);
});

test("diffToSql drops in reverse dependency order: foreign keys, then views, then tables, then types", () => {
  const from = schemaWith([table("a", [fk("a_b_fk", "b_id", "b")]), table("b", [])]);
  from.objects.enums.push({ schema: "public", name: "mood", labels: ["ok"] });
  from.objects.tables[1].columns.push({ name: "mood", type: "public.mood", notNull: false });
  from.objects.views.push({ schema: "public", name: "v", definition: "SELECT id\n   FROM public.b" });
  from.objects.views.push({ schema: "public", name: "w", definition: "SELECT id\n   FROM public.v" });
  const to = schemaWith([]);
  assert.deepEqual(diffToSql(from, to), [
    "ALTER TABLE public.a DROP CONSTRAINT a_b_fk",
    "DROP VIEW public.w",
    "DROP VIEW public.v",
    "DROP TABLE public.b",
    "DROP TABLE public.a",
    "DROP TYPE public.mood",
  ]);
});

test("diffToSql creates a function before the table whose default calls it, and after the type it takes", () => {
  const to = schemaWith([table("t", [])]);
  to.objects.tables[0].columns.push({ name: "code", type: "text", notNull: false, default: "public.new_code(1)" });
  to.objects.enums.push({ schema: "public", name: "kind", labels: ["a"] });
  to.objects.functions.push({
    schema: "public",
    name: "new_code",
    kind: "function",
    identityArguments: "n public.kind",
    arguments: "n public.kind",
    result: "text",
    language: "plpgsql",
    definition:
      "CREATE OR REPLACE FUNCTION public.new_code(n public.kind)\n RETURNS text\n LANGUAGE plpgsql\nAS $$ BEGIN RETURN 'x'; END $$",
  });
  const order = diffToSql(emptySnapshot(), to).map((s) => s.split("\n")[0]);
  assert.deepEqual(order, [
    "CREATE SCHEMA IF NOT EXISTS public",
    "CREATE TYPE public.kind AS ENUM ('a')",
    "CREATE OR REPLACE FUNCTION public.new_code(n public.kind)",
    "CREATE TABLE public.t (",
  ]);
});

test("diffToSql adds enum labels in place, before or after their neighbours", () => {
  const from = schemaWith([]);
  from.objects.enums.push({ schema: "public", name: "mood", labels: ["sad", "happy"] });
  const to = schemaWith([]);
  to.objects.enums.push({ schema: "public", name: "mood", labels: ["awful", "sad", "ok", "happy", "elated"] });
  assert.deepEqual(diffToSql(from, to), [
    "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'awful' BEFORE 'sad'",
    "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'ok' BEFORE 'happy'",
    "ALTER TYPE public.mood ADD VALUE IF NOT EXISTS 'elated' AFTER 'happy'",
  ]);
});

test("diffToSql re-creates the views that read a column whose type changes", () => {
  const from = schemaWith([table("t", [])]);
  from.objects.views.push({ schema: "public", name: "v", definition: "SELECT b_id\n   FROM public.t" });
  from.objects.views.push({ schema: "public", name: "other", definition: "SELECT id\n   FROM public.t" });
  const to = structuredClone(from);
  to.objects.tables[0].columns[1].type = "bigint";
  assert.deepEqual(diffToSql(from, to), [
    "DROP VIEW public.v",
    "ALTER TABLE public.t ALTER COLUMN b_id TYPE bigint",
    "CREATE VIEW public.v AS\n SELECT b_id\n   FROM public.t",
  ]);
});

test("diffToSql of two equal snapshots is empty", async (t) => {
  await withDatabase(t, "pglite", async ({ db }) => {
    await db.exec(await everyKindSql());
    const snapshot = await snapshotSchema(db);
    assert.deepEqual(diffToSql(snapshot, structuredClone(snapshot)), []);
  });
});

function schemaWith(tables: SnapshotTable[]): SchemaSnapshot {
  const snapshot = emptySnapshot();
  snapshot.objects.schemas.push({ name: "public" });
  snapshot.objects.tables.push(...tables);
  return snapshot;
}

function table(name: string, constraints: SnapshotTable["constraints"]): SnapshotTable {
  return {
    schema: "public",
    name,
    rowSecurity: false,
    forceRowSecurity: false,
    columns: [
      { name: "id", type: "integer", notNull: true },
      { name: "b_id", type: "integer", notNull: false },
      { name: "a_id", type: "integer", notNull: false },
    ],
    constraints: [
      ...constraints,
      { name: `${name}_pkey`, type: "primary key", definition: "PRIMARY KEY (id)", columns: ["id"] },
    ],
  };
}

function fk(name: string, column: string, target: string): SnapshotTable["constraints"][number] {
  return {
    name,
    type: "foreign key",
    definition: `FOREIGN KEY (${column}) REFERENCES public.${target}(id)`,
    columns: [column],
    references: { schema: "public", table: target, columns: ["id"] },
  };
}

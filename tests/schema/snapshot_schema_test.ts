/**
 * snapshotSchema on both backends: deterministic output, every object kind read, version
 * tables and extension members left out, one read-only transaction that leaves the session
 * as it found it, and the same snapshot from PostgreSQL 15 and PGlite's PostgreSQL 18.
 */
import assert from "node:assert/strict";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { test } from "node:test";
import type { Database } from "../../lib/db/database.ts";
import { snapshotToJson } from "../../lib/schema/format_snapshot.ts";
import { snapshotSchema } from "../../lib/schema/snapshot_schema.ts";
import { historyTableFor } from "../../lib/migrate/history.ts";
import { storedTable } from "../../lib/migrate/version_table.ts";
import { openDatabase } from "../../lib/io/open_database.ts";
import { BACKENDS, makeDatabase, withDatabase } from "../_support/backends.ts";
import { applyExampleMigrations, everyKindSql } from "./_helpers.ts";

for (const backend of BACKENDS) {
  test(`[${backend}] two snapshots of an unchanged database are byte-identical`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(await everyKindSql());
      const first = snapshotToJson(await snapshotSchema(db));
      const second = snapshotToJson(await snapshotSchema(db));
      assert.equal(second, first);
      assert.doesNotMatch(first, /"oid"|relfilenode|"\d{5,}"\s*:/);
    });
  });

  test(`[${backend}] a snapshot reads every object kind`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(await everyKindSql());
      const { objects } = await snapshotSchema(db);
      for (const [kind, list] of Object.entries(objects)) {
        if (kind !== "extensions") assert.ok(list.length > 0, `no ${kind} in the snapshot`);
      }
      const accounts = objects.tables.find((table) => table.schema === "app" && table.name === "accounts")!;
      assert.deepEqual(accounts.columns.map((column) => column.name), [
        "id",
        "slug",
        "display_name",
        "email",
        "mood",
        "balance",
        "score",
        "tags",
        "slug_upper",
        "created_at",
        "updated_at",
        "invoice",
      ]);
      const column = (name: string) => accounts.columns.find((c) => c.name === name)!;
      assert.equal(column("id").identity?.generation, "always");
      assert.equal(column("id").identity?.start, "100");
      assert.equal(column("id").identity?.increment, "10");
      assert.deepEqual(column("slug_upper").generated, { expression: "upper(slug)", kind: "stored" });
      assert.equal(column("display_name").collation, '"C"');
      assert.equal(column("mood").default, "'ok'::app.mood");
      assert.equal(column("created_at").default, "'2024-01-01 00:00:00+00'::timestamp with time zone");
      assert.equal(column("slug").notNull, true);
      assert.equal(column("slug").comment, "Unique, URL-safe");
      // PostgreSQL 18 keeps NOT NULL as constraints too: a snapshot shows it on the column only.
      assert.ok(objects.tables.every((table) => table.constraints.every((c) => !/NOT NULL/.test(c.definition))));
      assert.deepEqual(accounts.constraints.map((c) => `${c.name} ${c.type}`), [
        "accounts_pkey primary key",
        "accounts_slug_format check",
        "accounts_slug_key unique",
      ]);
      assert.equal(accounts.rowSecurity, true);
      assert.equal(accounts.forceRowSecurity, true);
      assert.deepEqual(accounts.options, ["fillfactor=90"]);
      const members = objects.tables.find((table) => table.name === "members")!;
      assert.deepEqual(members.constraints.find((c) => c.type === "foreign key")?.references, {
        schema: "app",
        table: "accounts",
        columns: ["id"],
      });
      assert.deepEqual(objects.sequences.find((s) => s.name === "members_user_no_seq")?.ownedBy, {
        table: "members",
        column: "user_no",
      });
      const partition = objects.tables.find((table) => table.name === "events_2024")!;
      assert.equal(partition.partitionOf?.name, "events");
      assert.deepEqual(partition.columns, []);
      assert.equal(
        objects.indexes.find((i) => i.name === "events_at_idx")?.definition,
        "CREATE INDEX events_at_idx ON app.events USING btree (at)",
      );
      assert.deepEqual(objects.enums[0].labels, ["sad", "ok", "happy"]);
      assert.deepEqual(objects.domains[0].checks.map((c) => c.name), ["email_has_at", "email_short"]);
      assert.deepEqual(
        objects.functions.map((f) => `${f.kind} ${f.name}(${f.identityArguments})`),
        [
          "function account_count(wanted app.mood)",
          "function add(a integer, b integer)",
          "function add(a numeric, b numeric)",
          "procedure reset_counter(IN name text)",
          "function slugify(input text)",
          "function touch()",
        ],
        "a range type's constructor functions belong to the type",
      );
      assert.deepEqual(objects.triggers.map((tr) => `${tr.name} ${tr.enabled ?? "enabled"}`), [
        "accounts_touch enabled",
        "accounts_touch_slug disabled",
      ]);
      assert.deepEqual(objects.policies.map((p) => `${p.name} ${p.command} ${p.permissive}`), [
        "accounts_insert insert false",
        "accounts_own select true",
      ]);
      assert.deepEqual(objects.materializedViews.map((v) => v.name), ["account_counts"]);
      assert.equal(
        objects.views.find((v) => v.name === "happy_slugs")?.definition,
        "SELECT slug\n   FROM app.happy_accounts\n  ORDER BY slug",
      );
    });
  });

  test(`[${backend}] a snapshot leaves out version tables, their history and excluded tables`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(`
        CREATE SCHEMA tracking;
        CREATE TABLE public.schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
        CREATE TABLE public.schema_migrations_history (version bigint PRIMARY KEY, name text NOT NULL);
        CREATE TABLE tracking.system_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
        CREATE TABLE public.audit (id serial PRIMARY KEY, what text);
        CREATE INDEX audit_what_idx ON public.audit (what);
        CREATE TABLE public.kept (id int PRIMARY KEY, version bigint, dirty boolean, note text);`);
      const names = async (options?: Parameters<typeof snapshotSchema>[1]) =>
        (await snapshotSchema(db, options)).objects.tables.map((table) => `${table.schema}.${table.name}`);
      assert.deepEqual(await names(), ["public.audit", "public.kept"]);
      const excluded = await snapshotSchema(db, { exclude: [{ schema: "public", table: "audit" }] });
      assert.deepEqual(excluded.objects.tables.map((table) => table.name), ["kept"]);
      assert.deepEqual(excluded.objects.indexes, [], "an excluded table's index goes with it");
      assert.deepEqual(excluded.objects.sequences, [], "and so does its serial sequence");
      assert.deepEqual(await names({ includeVersionTables: true }), [
        "public.audit",
        "public.kept",
        "public.schema_migrations",
        "public.schema_migrations_history",
        "tracking.system_migrations",
      ]);
      const only = await snapshotSchema(db, { schemas: ["tracking"], includeVersionTables: true });
      assert.deepEqual(only.objects.schemas.map((s) => s.name), ["tracking"]);
      assert.deepEqual(only.objects.tables.map((table) => table.name), ["system_migrations"]);

      // Another track's version table whose history name is too long for `<name>_history`:
      // its hashed history table is left out too.
      const long = "v".repeat(60);
      const history = historyTableFor(storedTable("tracking", long));
      await db.exec(`
        CREATE TABLE tracking.${long} (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL);
        CREATE TABLE ${history.sql} (version bigint PRIMARY KEY, name text NOT NULL);`);
      assert.deepEqual(await names(), ["public.audit", "public.kept"]);
    });
  });

  test(`[${backend}] a snapshot runs in a read-only transaction and leaves the session as it was`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE TABLE notes (id int PRIMARY KEY)");
      const before = await sessionState(db);
      await snapshotSchema(db);
      assert.deepEqual(await sessionState(db), before);
      await db.exec("INSERT INTO notes VALUES (1)"); // not stuck in a read-only transaction
    });
  });

  test(`[${backend}] identity columns keep their own sequences when names contain dots`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      // Table x with column "y.z" and table "x.y" with column z: one joined text for both.
      await db.exec(`CREATE TABLE x ("y.z" int GENERATED ALWAYS AS IDENTITY (START WITH 100));
        CREATE TABLE "x.y" (z int GENERATED ALWAYS AS IDENTITY (START WITH 500))`);
      const { objects } = await snapshotSchema(db);
      const identity = (table: string) => objects.tables.find((t) => t.name === table)!.columns[0].identity!;
      assert.equal(identity("x").sequence, "x_y.z_seq");
      assert.equal(identity("x").start, "100");
      assert.equal(identity("x.y").sequence, "x.y_z_seq");
      assert.equal(identity("x.y").start, "500");
    });
  });
}

async function sessionState(db: Database) {
  return await db.withSession((session) =>
    session.query<{ path: string; zone: string; ro: string }>(
      "SELECT current_setting('search_path') AS path, current_setting('TimeZone') AS zone, current_setting('transaction_read_only') AS ro",
    )
  );
}

test("[postgres] extensions are listed, their member objects are not", async (t) => {
  await withDatabase(t, "postgres", async ({ db }) => {
    const available = await db.query("SELECT 1 FROM pg_available_extensions WHERE name = 'citext'");
    if (available.length === 0) return t.skip("citext is not installed on the test server");
    await db.exec("CREATE EXTENSION citext; CREATE TABLE people (email public.citext PRIMARY KEY)");
    const { objects } = await snapshotSchema(db);
    assert.deepEqual(objects.extensions.map((e) => `${e.name} ${e.schema}`), ["citext public"]);
    assert.deepEqual(objects.functions, []);
    assert.deepEqual(objects.tables[0].columns[0].type, "public.citext");
  });
});

test("[postgres] a snapshot read by two sessions while tables are being created sees each table whole or not at all", {
  timeout: 60_000,
}, async (t) => {
  await withDatabase(t, "postgres", async ({ db, url }) => {
    // A writer on its own connection commits a table at a time: its columns, primary key,
    // foreign key, index and owned sequence all in one transaction. A snapshot whose second
    // session read at another moment than the first would list an index, sequence or
    // constraint of a table it does not have, or a table without its own.
    await db.exec("CREATE TABLE t_0 (id int PRIMARY KEY)");
    const { db: writer } = await openDatabase(url, { max: 1 });
    let writing = true;
    let made = 0;
    const writes = (async () => {
      while (writing) {
        const i = ++made;
        await writer.exec(`CREATE TABLE t_${i} (id serial PRIMARY KEY, ref int REFERENCES t_${i - 1} (id), note text);
          CREATE INDEX t_${i}_ref ON t_${i} (ref)`);
      }
    })();
    try {
      for (let round = 0; round < 25; round++) {
        const { objects } = await snapshotSchema(db);
        const tables = new Set(objects.tables.map((table) => table.name));
        for (const table of objects.tables) {
          if (table.name === "t_0") continue;
          assert.deepEqual(table.columns.map((c) => c.name), ["id", "ref", "note"], `${table.name}'s columns`);
          assert.deepEqual(table.constraints.map((c) => c.type).sort(), ["foreign key", "primary key"], table.name);
        }
        for (const index of objects.indexes) {
          assert.ok(tables.has(index.table), `index ${index.name} without its table`);
        }
        for (const sequence of objects.sequences) {
          assert.ok(tables.has(sequence.ownedBy!.table), `sequence ${sequence.name} without its table`);
        }
        assert.equal(objects.indexes.length, tables.size - 1);
        assert.equal(objects.sequences.length, tables.size - 1);
      }
    } finally {
      writing = false;
      await writes;
      await writer.close();
    }
    assert.ok(made > 25, `the writer made only ${made} tables`);
  });
});

test(
  "[postgres] a snapshot completes on a pool of one connection and inside a session the caller holds, and reads the same",
  {
    timeout: 60_000,
  },
  async (t) => {
    await withDatabase(t, "postgres", async ({ db, url }) => {
      await db.exec(await everyKindSql());
      const expected = snapshotToJson(await snapshotSchema(db));
      for (const max of [1, 2]) {
        const { db: pool } = await openDatabase(url, { max });
        try {
          assert.equal(snapshotToJson(await snapshotSchema(pool)), expected, `a pool of ${max}, nothing held`);
          // The caller holds one of the pool's connections (all of a pool of one would wait for
          // it, as any query would; a pool of two is left with one).
          if (max === 2) {
            const held = await pool.withSession(async (session) => {
              await session.query("SELECT 1");
              return snapshotToJson(await snapshotSchema(pool));
            });
            assert.equal(held, expected, "a pool of two, one connection held by the caller");
          }
        } finally {
          await pool.close();
        }
      }
    });
  },
);

test(
  "[postgres] a snapshot whose second connection never comes (a pooler that drops it before the handshake) completes on the first session",
  {
    timeout: 60_000,
  },
  async (t) => {
    await withDatabase(t, "postgres", async ({ db, url }) => {
      await db.exec(await everyKindSql());
      const expected = snapshotToJson(await snapshotSchema(db));
      // A proxy in front of the server that lets the first connection through and drops every
      // later one as it arrives (postgres.js then tries that connection again and again).
      const target = new URL(url);
      let accepted = 0;
      const sockets: Socket[] = [];
      const proxy = createServer((client) => {
        sockets.push(client);
        if (++accepted > 1) return void client.destroy();
        const server = connect(Number(target.port || 5432), target.hostname);
        sockets.push(server);
        client.pipe(server).pipe(client);
        client.on("error", () => server.destroy());
        server.on("error", () => client.destroy());
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      const proxied = new URL(url);
      proxied.host = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const { db: pool } = await openDatabase(proxied.toString(), { max: 2 });
      try {
        assert.equal(snapshotToJson(await snapshotSchema(pool)), expected);
        assert.ok(accepted > 1, "the second session asked for its connection");
      } finally {
        for (const socket of sockets) socket.destroy();
        await pool.close();
        proxy.close();
      }
    });
  },
);

test("[postgres] a catalog query that fails is QUERY_FAILED naming its kind, and both sessions' transactions end", {
  timeout: 60_000,
}, async (t) => {
  await withDatabase(t, "postgres", async ({ db, url }) => {
    const tables = Array.from({ length: 300 }, (_, i) => `CREATE TABLE t_${i} (id int PRIMARY KEY, note text);`);
    await db.exec(tables.join("\n"));
    const name = new URL(url).pathname.slice(1);
    await db.exec(`ALTER DATABASE "${name}" SET statement_timeout = 1`);
    const { db: pool } = await openDatabase(url, { max: 2 });
    try {
      await assert.rejects(snapshotSchema(pool), (error: Error & { code?: string }) => {
        assert.equal(error.code, "QUERY_FAILED");
        assert.match(
          error.message,
          /^Reading the catalog failed: (constraints|columns|indexes|sequences|tables): .*statement timeout/,
        );
        return true;
      });
      // Both connections are back in the pool outside any transaction.
      const states = await Promise.all([0, 1].map(() =>
        pool.withSession(async (session) => {
          await session.exec("SET statement_timeout = 0");
          const [row] = await session.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
          );
          await new Promise((resolve) => setTimeout(resolve, 50));
          return row.n;
        })
      ));
      assert.deepEqual(states, [0, 0]);
    } finally {
      await pool.close();
    }
  });
});

for (
  const [label, setup] of [
    ["the example migrations", applyExampleMigrations],
    ["a schema with every object kind", async (db: Database) => db.exec(await everyKindSql())],
  ] as const
) {
  test(`PostgreSQL 15 and PGlite (PostgreSQL 18) give the same snapshot of ${label}`, async (t) => {
    const server = await makeDatabase("postgres");
    if (!server) return t.skip("no PostgreSQL server");
    const embedded = (await makeDatabase("pglite"))!;
    try {
      const versions = await Promise.all(
        [server, embedded].map(async ({ db }) =>
          (await db.query<{ v: string }>("SELECT current_setting('server_version_num') AS v"))[0].v
        ),
      );
      assert.notEqual(
        versions[0].slice(0, 2),
        versions[1].slice(0, 2),
        "the two backends run different major versions",
      );
      await setup(server.db);
      await setup(embedded.db);
      const [a, b] = await Promise.all([snapshotSchema(server.db), snapshotSchema(embedded.db)]);
      assert.equal(snapshotToJson(b), snapshotToJson(a));
    } finally {
      await server.dispose();
      await embedded.dispose();
    }
  });
}

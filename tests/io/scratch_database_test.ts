/**
 * withScratchDatabase: a temporary database on the server named in the URL, made from
 * template0 with the URL's database's encoding and collation, reached with the URL's
 * credentials, and gone afterwards (also when fn throws, also with sessions fn left open);
 * PGlite in memory when the role may not create databases or there is no server URL, started
 * from a cached empty cluster (XDG_CACHE_HOME/strata) that is made on first use and remade when
 * it is damaged. A new PGlite data folder (the CLI's first run) starts from the same cache.
 */
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import type { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import type { Database } from "../../lib/db/database.ts";
import { pgliteTemplateFile } from "../../lib/io/_pglite_template.ts";
import { openDatabase } from "../../lib/io/open_database.ts";
import { withScratchDatabase } from "../../lib/io/scratch_database.ts";
import { postgresReachable, tempDir, TEST_DATABASE_URL } from "../_support/backends.ts";

async function admin<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

async function databaseExists(name: string): Promise<boolean> {
  return await admin(async (sql) =>
    (await sql`SELECT 1 FROM pg_catalog.pg_database WHERE datname = ${name}`).length > 0
  );
}

function withPassword(url: string, password: string): string {
  const parsed = new URL(url);
  parsed.password = password;
  return parsed.toString();
}

test("[postgres] the scratch is a temporary database on the same server, like the URL's, dropped afterwards", async (t) => {
  if (!(await postgresReachable())) return t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
  // trust auth ignores the password; it must still never show in the description
  const url = withPassword(TEST_DATABASE_URL, "s3cret-pw");
  const seen = await withScratchDatabase(url, async ({ db, description, kind }) => {
    const [row] = await db.query<{ name: string; tables: string; collate: string; encoding: string }>(
      `SELECT current_database() AS name,
              (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast'))::text AS tables,
              d.datcollate AS collate, pg_encoding_to_char(d.encoding) AS encoding
       FROM pg_catalog.pg_database d WHERE d.datname = current_database()`,
    );
    assert.equal(kind, "postgres");
    assert.equal(db.dialect, "postgres");
    assert.match(row.name, /^strata_scratch_[0-9a-f]{8}$/);
    assert.equal(row.tables, "0");
    assert.equal(description, `temporary database ${row.name} on ${new URL(TEST_DATABASE_URL).host}`);
    assert.doesNotMatch(description, /s3cret/);
    assert.equal(await databaseExists(row.name), true);
    return row;
  });
  const live = await admin(async (sql) =>
    (await sql<Array<{ collate: string; encoding: string }>>`
      SELECT datcollate AS collate, pg_encoding_to_char(encoding) AS encoding FROM pg_catalog.pg_database
      WHERE datname = current_database()`)[0]
  );
  assert.deepEqual({ collate: seen.collate, encoding: seen.encoding }, live);
  assert.equal(await databaseExists(seen.name), false);
});

test("[postgres] the temporary database is dropped when fn throws, and fn's error comes through", async (t) => {
  if (!(await postgresReachable())) return t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
  let name = "";
  await assert.rejects(
    withScratchDatabase(TEST_DATABASE_URL, async ({ db }) => {
      [{ name }] = await db.query<{ name: string }>("SELECT current_database() AS name");
      await db.exec("CREATE TABLE t (id int)");
      throw new Error("fn failed");
    }),
    /^Error: fn failed$/,
  );
  assert.match(name, /^strata_scratch_/);
  assert.equal(await databaseExists(name), false);
});

test("[postgres] sessions fn leaves open on the temporary database do not keep it from being dropped", async (t) => {
  if (!(await postgresReachable())) return t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
  let leaked: postgres.Sql | undefined;
  const name = await withScratchDatabase(TEST_DATABASE_URL, async ({ db }) => {
    const [{ name }] = await db.query<{ name: string }>("SELECT current_database() AS name");
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = `/${name}`;
    leaked = postgres(url.toString(), { max: 1, onnotice: () => {} });
    await leaked`SELECT 1`;
    return name;
  });
  try {
    assert.equal(await databaseExists(name), false);
  } finally {
    await leaked?.end({ timeout: 0 }).catch(() => {});
  }
});

test("[postgres] a role that may not create databases gets PGlite in memory, and says why", async (t) => {
  if (!(await postgresReachable())) return t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
  const role = `strata_nocreatedb_${Math.random().toString(36).slice(2, 8)}`;
  await admin((sql) => sql.unsafe(`CREATE ROLE "${role}" LOGIN NOCREATEDB`));
  try {
    const url = new URL(TEST_DATABASE_URL);
    url.username = role;
    url.password = "";
    const result = await withScratchDatabase(url.toString(), async ({ db, description, kind }) => {
      assert.equal(kind, "pglite");
      assert.equal(db.dialect, "pglite");
      await db.exec("CREATE TABLE t (id int)");
      return description;
    });
    assert.equal(result, `PGlite in memory (the role may not create databases on ${url.host})`);
  } finally {
    await admin((sql) => sql.unsafe(`DROP ROLE IF EXISTS "${role}"`));
  }
});

test("without a server URL the scratch is PGlite in memory, closed afterwards", async () => {
  let scratch: Database | undefined;
  const description = await withScratchDatabase(undefined, async ({ db, description, kind }) => {
    assert.equal(kind, "pglite");
    await db.exec("CREATE TABLE t (id int)");
    scratch = db;
    return description;
  });
  assert.equal(description, "PGlite in memory");
  await assert.rejects(scratch!.query("SELECT 1"));
});

/** Runs `fn` with XDG_CACHE_HOME pointing at a new temp folder: a cache of its own. */
async function withCacheHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await tempDir("strata-cache-");
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = home.path;
  try {
    await fn(home.path);
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    await home.remove();
  }
}

// Every relation, type, function and namespace of a database, by name: two databases made
// the same way list the same, and any object a user added shows.
const CATALOG = `
SELECT (SELECT string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text, ',' ORDER BY 1)
          FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace) AS relations,
       (SELECT string_agg(n.nspname || '.' || t.typname, ',' ORDER BY 1)
          FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace) AS types,
       (SELECT count(*) FROM pg_catalog.pg_proc)::text AS functions,
       (SELECT string_agg(nspname, ',' ORDER BY 1) FROM pg_catalog.pg_namespace) AS namespaces,
       (SELECT string_agg(extname, ',' ORDER BY 1) FROM pg_catalog.pg_extension) AS extensions,
       (SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast'))::text AS user_relations,
       current_setting('server_encoding') AS encoding, (SELECT datcollate FROM pg_catalog.pg_database WHERE datname = current_database()) AS collate`;

test("the PGlite scratch is cached after the first: the second loads the cache, empty like initdb makes it", async () => {
  await withCacheHome(async (home) => {
    const file = pgliteTemplateFile();
    assert.ok(file, "the PGlite version is readable");
    assert.equal(dirname(file), join(home, "strata"));
    assert.match(basename(file), /^pglite-\d+\.\d+\.\d+\S*-empty\.tar\.gz$/);
    // the first scratch runs initdb (no cache yet), and leaves the cache behind, without its table
    const fresh = await withScratchDatabase(undefined, async ({ db }) => {
      const [catalog] = await db.query(CATALOG);
      await db.exec("CREATE TABLE left_behind (id int)");
      return catalog;
    });
    assert.equal(fresh.user_relations, "0");
    const made = await stat(file);
    assert.equal(made.mode & 0o777, 0o644);
    assert.deepEqual((await readdir(dirname(file))).sort(), [basename(file)]); // no temp file left
    const cached = await withScratchDatabase(undefined, async ({ db, kind, description }) => {
      assert.equal(kind, "pglite");
      assert.equal(description, "PGlite in memory");
      return (await db.query(CATALOG))[0];
    });
    assert.deepEqual(cached, fresh);
    const after = await stat(file);
    assert.equal(after.mtimeMs, made.mtimeMs);
    assert.equal(after.ino, made.ino);
  });
});

let good: Promise<Uint8Array> | undefined;

/** A cache file as strata makes it (once per process, in a home of its own). */
function goodCache(): Promise<Uint8Array> {
  good ??= (async () => {
    let bytes = new Uint8Array(0);
    await withCacheHome(async () => {
      await withScratchDatabase(undefined, async () => {});
      bytes = new Uint8Array(await readFile(pgliteTemplateFile()!));
    });
    return bytes;
  })();
  return good;
}

test("the PGlite scratch loads what the cache file holds", async () => {
  const bytes = await goodCache();
  await withCacheHome(async () => {
    const file = pgliteTemplateFile()!;
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, bytes);
    // a cache doctored by hand (strata never makes one so) shows through: the scratch comes from the file
    await withScratchDatabase(undefined, async ({ db }) => {
      await db.exec("CREATE TABLE from_the_cache (id int)");
      await db.exec("CHECKPOINT");
      const tar = await (db.raw as PGlite).dumpDataDir("none");
      await writeFile(file, gzipSync(new Uint8Array(await tar.arrayBuffer())));
    });
    const tables = await withScratchDatabase(undefined, async ({ db }) =>
      await db.query<{ relname: string }>(
        "SELECT relname FROM pg_catalog.pg_class WHERE relnamespace = 'public'::regnamespace",
      ));
    assert.deepEqual(tables, [{ relname: "from_the_cache" }]);
  });
});

for (
  const [damage, corrupt] of [
    ["not gzip", () => new TextEncoder().encode("not a tarball")],
    ["truncated", (whole: Uint8Array) => whole.subarray(0, Math.floor(whole.length / 2))],
    ["an empty tar archive", () => gzipSync(new Uint8Array(10240))],
  ] as const
) {
  test(`a corrupt PGlite cache file (${damage}) is replaced, and the scratch still works`, async () => {
    const bad = corrupt(await goodCache());
    await withCacheHome(async () => {
      const file = pgliteTemplateFile()!;
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, bad);
      const rows = await withScratchDatabase(undefined, async ({ db, kind }) => {
        assert.equal(kind, "pglite");
        await db.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
        return await db.query<{ id: number }>("SELECT id FROM t");
      });
      assert.deepEqual(rows, [{ id: 1 }]);
      const replaced = await readFile(file);
      assert.notDeepEqual(new Uint8Array(replaced), bad);
      assert.ok(gunzipSync(replaced).length > 1024 * 1024, "the new cache is a whole data folder");
      // and the next scratch loads it, empty: without the table the first one made
      const tables = await withScratchDatabase(
        undefined,
        async ({ db }) =>
          await db.query("SELECT 1 FROM pg_catalog.pg_class WHERE relnamespace = 'public'::regnamespace"),
      );
      assert.deepEqual(tables, []);
    });
  });
}

test("a new PGlite data folder (missing, or an empty directory) starts from the cached empty cluster; without a cache, the first folder's initdb makes it", async () => {
  await withCacheHome(async (home) => {
    const file = pgliteTemplateFile()!;
    const open = async (folder: string) => (await openDatabase(`pglite://${folder}`)).db;
    const identity = async (db: Database) =>
      (await db.query<{ id: string }>("SELECT system_identifier::text AS id FROM pg_catalog.pg_control_system()"))[0]
        .id;
    const userTables = (db: Database) =>
      db.query("SELECT relname FROM pg_catalog.pg_class WHERE relnamespace = 'public'::regnamespace");

    // No cache yet: initdb in the folder, and the cache is made from that empty cluster.
    const first = await open(join(home, "first"));
    const made = await identity(first);
    await first.exec("CREATE TABLE only_in_first (id int)");
    await first.close();
    assert.ok(gunzipSync(await readFile(file)).length > 1024 * 1024, "the cache holds a whole data folder");

    // A missing folder and an empty directory both start from the cache: the same cluster, empty.
    await mkdir(join(home, "empty"));
    for (const folder of [join(home, "missing", "db"), join(home, "empty")]) {
      const db = await open(folder);
      try {
        assert.equal(await identity(db), made, `${folder} came from the cache`);
        assert.deepEqual(await userTables(db), []);
        await db.exec("CREATE TABLE kept (id int)");
      } finally {
        await db.close();
      }
    }
    // A folder that has a cluster is opened as it is.
    const again = await open(join(home, "empty"));
    try {
      assert.deepEqual(await userTables(again), [{ relname: "kept" }]);
    } finally {
      await again.close();
    }

    // A damaged cache is passed over: initdb makes the folder (a cluster of its own) and the cache again.
    const whole = await readFile(file);
    await writeFile(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const fresh = await open(join(home, "after-damage"));
    try {
      assert.notEqual(await identity(fresh), made);
      assert.deepEqual(await userTables(fresh), []);
    } finally {
      await fresh.close();
    }
    assert.ok(gunzipSync(await readFile(file)).length > 1024 * 1024, "the cache was made again");
  });
});

/**
 * Test databases on both backends. Every test gets a database of its own: a fresh
 * PostgreSQL database on the test server (dropped afterwards) and a fresh PGlite instance
 * (loaded from the cached empty cluster lib/io/_pglite_template.ts keeps, so it takes half a
 * second instead of four).
 *
 * No real server reachable: the PostgreSQL half is skipped and counted, and the count is
 * printed loudly at exit; with STRATA_REQUIRE_POSTGRES=1 (CI) a skip is a failure.
 */
import { mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import type { Database } from "../../lib/db/database.ts";
import { pgliteDatabase } from "../../lib/db/pglite_database.ts";
import { emptyPgliteTarball } from "../../lib/io/_pglite_template.ts";
import { openDatabase } from "../../lib/io/open_database.ts";

/** The server tests use; CI's is the local one. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A database made for one test. */
export interface TestDatabase {
  backend: "postgres" | "pglite";
  db: Database;
  /** A URL another process can open: postgres://.../name, or pglite://DIR (only from `folder: true`). */
  url: string;
  /** Close and drop it. */
  dispose(): Promise<void>;
}

let reachable: Promise<boolean> | undefined;
let skipped = 0;
let counter = 0;

/** Whether the PostgreSQL test server answers. */
export function postgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const sql = postgres(TEST_DATABASE_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
    try {
      await sql`select 1`;
      return true;
    } catch {
      return false;
    } finally {
      await sql.end({ timeout: 1 }).catch(() => {});
    }
  })();
  return reachable;
}

process.on("exit", () => {
  if (skipped === 0) return;
  process.stderr.write(
    `\n!!! ${skipped} PostgreSQL test(s) SKIPPED: no server at ${TEST_DATABASE_URL.replace(/:[^:@/]*@/, ":***@")}\n` +
      `!!! Start one (pg_ctlcluster ... main start) or set TEST_DATABASE_URL.\n`,
  );
  if (process.env.STRATA_REQUIRE_POSTGRES === "1") process.exitCode = 1;
});

/** The two backends, for `for (const backend of BACKENDS)` loops. */
export const BACKENDS = ["pglite", "postgres"] as const;

/**
 * A fresh database on `backend`, or undefined (counted as skipped) when it is postgres and no
 * server answers. Call `t.skip()` with the reason when it is undefined.
 */
export async function makeDatabase(
  backend: "postgres" | "pglite",
  options: { folder?: boolean } = {},
): Promise<TestDatabase | undefined> {
  return backend === "postgres" ? await makePostgres() : await makePglite(options.folder === true);
}

/** Runs `fn` with a fresh database and disposes of it; skips when the backend is missing. */
export async function withDatabase(
  t: { skip(message?: string): void },
  backend: "postgres" | "pglite",
  fn: (test: TestDatabase) => Promise<void>,
  options: { folder?: boolean } = {},
): Promise<void> {
  const test = await makeDatabase(backend, options);
  if (!test) {
    t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
    return;
  }
  try {
    await fn(test);
  } finally {
    await test.dispose();
  }
}

async function makePostgres(): Promise<TestDatabase | undefined> {
  if (!(await postgresReachable())) {
    skipped++;
    return undefined;
  }
  const name = `strata_t_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const { db } = await openDatabase(url.toString(), { max: 4 });
  return {
    backend: "postgres",
    db,
    url: url.toString(),
    async dispose() {
      await db.close();
      const cleanup = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        await cleanup.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await cleanup.end({ timeout: 1 });
      }
    },
  };
}

let template: Promise<Blob> | undefined;

/**
 * A fresh PGlite data folder as a tarball: the cache the CLI's scratch databases use
 * (XDG_CACHE_HOME/strata, made by initdb once for every process), read once per process.
 */
function pgliteTemplate(): Promise<Blob> {
  template ??= emptyPgliteTarball();
  return template;
}

async function makePglite(folder: boolean): Promise<TestDatabase> {
  const tar = await pgliteTemplate();
  if (!folder) {
    const pg = new PGlite({ loadDataDir: tar });
    await pg.waitReady;
    const db = pgliteDatabase(pg);
    return { backend: "pglite", db, url: "pglite://memory", dispose: () => db.close() };
  }
  const dir = join(tmpdir(), `strata-pglite-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(dir, { recursive: true });
  const seed = new PGlite(join(dir, "db"), { loadDataDir: tar });
  await seed.waitReady;
  await seed.close();
  const url = `pglite://${join(dir, "db")}`;
  const { db } = await openDatabase(url);
  return {
    backend: "pglite",
    db,
    url,
    async dispose() {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A temporary folder, removed by the returned function. */
export async function tempDir(prefix = "strata-test-"): Promise<{ path: string; remove(): Promise<void> }> {
  const path = join(tmpdir(), `${prefix}${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`);
  await mkdir(path, { recursive: true });
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * A throwaway database for `check`, `verify` and `diff` of a migrations folder: a temporary
 * database on the same server as the one being checked (same version, same extensions
 * available, no false drift between server versions), else PGlite in memory. Always removed.
 */
import type { Database } from "../db/database.ts";
import { type DatabaseUrl, parseDatabaseUrl } from "../db/database_url.ts";
import { isStrataError, StrataError } from "../db/strata_error.ts";
import { openDatabase, serverAddress } from "./open_database.ts";

/** Options for {@linkcode withScratchDatabase}. */
export interface ScratchOptions {
  /** Extensions a PGlite scratch must load (names as in CREATE EXTENSION); a server has its own. */
  extensions?: readonly string[];
}

/** A scratch database and how to name it to people. */
export interface Scratch {
  db: Database;
  /**
   * Where it lives, for people: `temporary database strata_scratch_1a2b3c4d on
   * 127.0.0.1:5432`, or `PGlite in memory` (with the reason when a server was asked for).
   * Never holds a password.
   */
  description: string;
  /** `postgres` for a temporary database on the server, `pglite` for the in-memory fallback. */
  kind: "postgres" | "pglite";
}

/**
 * Runs `fn` on a throwaway database, and removes it afterwards, also when `fn` throws.
 *
 * With a postgres:// URL in `near`: a temporary database on the same server, made by the
 * URL's role (`CREATE DATABASE strata_scratch_<random> TEMPLATE template0`, with the
 * encoding, collation and locale provider of the URL's database) and reached with the
 * URL's credentials and TLS settings, the database name replaced; dropped afterwards (`WITH
 * (FORCE)` on PostgreSQL 13 and later). When the role may not create databases (42501), or
 * the server will not let it log in to the new one, and without a URL or with a pglite://
 * one: PGlite in memory, loaded from a cached empty cluster (`~/.cache/strata`, or
 * `$XDG_CACHE_HOME/strata`) instead of running initdb each time; the cache is made on first use.
 *
 * template0, not template1: template0 is the pristine empty database every server has,
 * while template1 holds whatever a DBA added to it (extensions, tables, functions). A
 * scratch copied from template1 would carry those objects into the expected schema, so
 * a migration's `CREATE EXTENSION` would fail there and `check` could miss an extension or
 * function added by hand. Migrations that need an extension must create it (`CREATE
 * EXTENSION IF NOT EXISTS`), as they must for any fresh database. template0 also never has
 * other sessions connected, which makes CREATE DATABASE fail on template1.
 *
 * @param near The database being checked (its URL), or undefined for PGlite.
 * @param fn What to run on the scratch database.
 * @returns What `fn` returns.
 * @throws {StrataError} CONNECTION_FAILED, AUTH_FAILED for `near`; COMMAND_FAILED when the
 *   temporary database cannot be made for another reason than permissions, or cannot be
 *   dropped (the message names it, so it can be dropped by hand).
 *
 * @example
 * ```ts ignore
 * import { parseDatabaseUrl } from "../db/database_url.ts";
 * import { withScratchDatabase } from "./scratch_database.ts";
 * const tables = await withScratchDatabase(parseDatabaseUrl(process.env.DATABASE_URL), async ({ db, description }) => {
 *   console.error(`Replaying on ${description}`);
 *   return await db.query("SELECT count(*) FROM pg_class");
 * });
 * ```
 */
export async function withScratchDatabase<T>(
  near: DatabaseUrl | string | undefined,
  fn: (scratch: Scratch) => Promise<T>,
  options: ScratchOptions = {},
): Promise<T> {
  const url = typeof near === "string" ? parseDatabaseUrl(near) : near;
  const extensions = options.extensions ?? [];
  if (url === undefined || url.kind !== "postgres") return await withPglite("PGlite in memory", fn, extensions);
  const made = await makeTemporaryDatabase(url);
  if (typeof made === "string") return await withPglite(made, fn, extensions);
  let failed = false;
  try {
    return await fn({ db: made.db, description: made.description, kind: "postgres" });
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    const dropError = await made.remove();
    // A drop that fails after fn failed must not hide fn's error; after a success it is the error.
    if (dropError !== undefined && !failed) throw dropError;
  }
}

interface TemporaryDatabase {
  db: Database;
  description: string;
  /** Closes the scratch and drops it; returns the error instead of throwing. */
  remove(): Promise<unknown>;
}

/** A temporary database on the server, or why PGlite stands in for it. */
async function makeTemporaryDatabase(url: DatabaseUrl): Promise<TemporaryDatabase | string> {
  const { db: admin } = await openDatabase(url.connectUrl, { max: 1 });
  let name: string | undefined;
  try {
    const where = await serverOf(url);
    const candidate = `strata_scratch_${randomSuffix()}`;
    const [{ statement }] = await admin.query<{ statement: string }>(CREATE_STATEMENT, [candidate]);
    try {
      await admin.exec(statement);
    } catch (error) {
      if (sqlState(error) === "42501") {
        await admin.close();
        return `PGlite in memory (the role may not create databases on ${where})`;
      }
      throw new StrataError(
        "COMMAND_FAILED",
        `Cannot create a temporary database on ${where}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    name = candidate;
    const description = `temporary database ${name} on ${where}`;
    let db: Database;
    try {
      db = (await openDatabase(scratchUrl(url.connectUrl, name), { max: 2 })).db;
    } catch (error) {
      if (!isStrataError(error, "AUTH_FAILED")) throw error;
      // pg_hba.conf often lists the databases a role may reach: the new one is not among them.
      await dropDatabase(admin, url, name);
      await admin.close();
      return `PGlite in memory (the server refused a connection to ${description})`;
    }
    const created = name;
    return {
      db,
      description,
      async remove() {
        await db.close().catch(() => {});
        const error = await dropDatabase(admin, url, created);
        await admin.close().catch(() => {});
        return error;
      },
    };
  } catch (error) {
    if (name !== undefined) await dropDatabase(admin, url, name);
    await admin.close().catch(() => {});
    throw error;
  }
}

// The server writes the statement (format %I / %L), so no name or locale is quoted here.
// template0 takes any encoding and locale: copy the current database's, so text sorts and
// compares the same on the scratch as on the database it stands in for.
const CREATE_STATEMENT = `
SELECT format('CREATE DATABASE %I TEMPLATE template0 ENCODING %L LC_COLLATE %L LC_CTYPE %L', $1::text,
         pg_encoding_to_char(d.encoding), d.datcollate, d.datctype)
       || CASE
            WHEN current_setting('server_version_num')::int < 150000 THEN ''
            WHEN j->>'datlocprovider' = 'i'
              THEN format(' LOCALE_PROVIDER icu ICU_LOCALE %L', coalesce(j->>'datlocale', j->>'daticulocale'))
            WHEN j->>'datlocprovider' = 'b' THEN format(' LOCALE_PROVIDER builtin BUILTIN_LOCALE %L', j->>'datlocale')
            ELSE ' LOCALE_PROVIDER libc'
          END AS statement
FROM pg_catalog.pg_database d, to_jsonb(d) j
WHERE d.datname = current_database()`;

async function withPglite<T>(
  description: string,
  fn: (scratch: Scratch) => Promise<T>,
  extensions: readonly string[],
): Promise<T> {
  const [{ openEmptyPglite }, { pgliteDatabase }] = await Promise.all([
    import("./_pglite_template.ts"),
    import("../db/pglite_database.ts"),
  ]);
  const db = pgliteDatabase(await openEmptyPglite(extensions));
  try {
    return await fn({ db, description, kind: "pglite" });
  } finally {
    await db.close();
  }
}

/** Drops the scratch database; returns the error instead of throwing. */
async function dropDatabase(admin: Database, url: DatabaseUrl, name: string): Promise<unknown> {
  const attempt = async (db: Database) => {
    const [{ version }] = await db.query<{ version: number }>(
      "SELECT current_setting('server_version_num')::int AS version",
    );
    const quoted = `"${name}"`; // name is strata_scratch_ and hex digits: nothing to escape
    if (version >= 130000) {
      await db.exec(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`);
      return;
    }
    await db.query("SELECT pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE datname = $1", [name]);
    await db.exec(`DROP DATABASE IF EXISTS ${quoted}`);
  };
  try {
    await attempt(admin);
    return undefined;
  } catch {
    // The admin session may have been closed by the server while fn ran (idle_session_timeout).
    try {
      const { db } = await openDatabase(url.connectUrl, { max: 1 });
      try {
        await attempt(db);
      } finally {
        await db.close();
      }
      return undefined;
    } catch (error) {
      return new StrataError(
        "COMMAND_FAILED",
        `Cannot drop the temporary database ${name} on ${url.label}: ${(error as Error).message}`,
        { cause: error, hint: `Drop it by hand: DROP DATABASE "${name}"` },
      );
    }
  }
}

/** The URL with another database name: same user, password, host, port and parameters (sslmode, options). */
function scratchUrl(connectUrl: string, name: string): string {
  const url = new URL(connectUrl);
  url.pathname = `/${name}`;
  url.searchParams.delete("dbname");
  return url.toString();
}

/** `host:port` of a URL, for people (never the user or password). */
async function serverOf(url: DatabaseUrl): Promise<string> {
  const { parse } = await import("pg-connection-string");
  const { host, port } = serverAddress(parse(url.connectUrl, { useLibpqCompat: true }) as Record<string, unknown>);
  return `${host}:${port}`;
}

function randomSuffix(): string {
  const bytes = new Uint8Array(4);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

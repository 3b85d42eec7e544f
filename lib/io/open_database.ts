/**
 * Opens a {@linkcode Database} from a URL: postgres:// through postgres.js (libpq URL
 * semantics by pg-connection-string, sslmode honoured), pglite:// and the embedded default
 * through PGlite, guarded by a folder lock. Errors name the URL with its password masked.
 */
import { readdirSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { connectionFailure } from "../db/connection_failure.ts";
import type { Database } from "../db/database.ts";
import { type DatabaseUrl, parseDatabaseUrl, serverSettings, urlDatabaseName } from "../db/database_url.ts";
import { StrataError } from "../db/strata_error.ts";

/** Options for {@linkcode openDatabase}. */
export interface OpenDatabaseOptions {
  /** Give up connecting (and waiting for a PGlite folder) at this time; default 15 s from now. */
  deadline?: number;
  /** Folder that relative pglite paths are resolved against (default: the working directory). */
  cwd?: string;
  /** Server notices (e.g. "table does not exist, skipping"); default: dropped. */
  onNotice?: (message: string) => void;
  /** Pool size for postgres:// (default 2: one session for the migration lock, one spare). */
  max?: number;
  /**
   * For PGlite only: the extensions to load (names as in CREATE EXTENSION), or a function
   * that finds them, called only when the URL is PGlite (see `extensionsUsedIn`).
   */
  extensions?: readonly string[] | (() => Promise<readonly string[]>);
}

/** An open database and what its URL said. */
export interface OpenedDatabase {
  db: Database;
  url: DatabaseUrl;
}

/**
 * Opens the database a URL names; no URL opens the embedded default in `.strata/pglite`.
 * The connection is checked before returning, so a wrong host, password or database name
 * fails here with a clear message.
 *
 * @throws {StrataError} INVALID_URL, CONNECTION_FAILED, AUTH_FAILED, DATABASE_BUSY
 * @example
 * ```ts ignore
 * import { openDatabase } from "./open_database.ts";
 * const { db } = await openDatabase("postgres://postgres@127.0.0.1:5432/test");
 * console.log(await db.query("select 1 as one"));
 * await db.close();
 * ```
 */
export async function openDatabase(
  rawUrl: string | undefined,
  options: OpenDatabaseOptions = {},
): Promise<OpenedDatabase> {
  const url = parseDatabaseUrl(rawUrl);
  const deadline = options.deadline ?? Date.now() + 15_000;
  const db = url.kind === "pglite"
    ? await openPglite(url, deadline, options)
    : await openPostgres(url, deadline, options);
  if (url.migrationsTable === undefined && url.statementTimeoutMs === undefined) return { db, url };
  const urlSettings = {
    migrationsTableQuoted: url.migrationsTableQuoted,
    ...(url.migrationsTable === undefined ? {} : { migrationsTable: url.migrationsTable }),
    ...(url.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: url.statementTimeoutMs }),
  };
  return { db: { ...db, urlSettings }, url };
}

async function openPostgres(url: DatabaseUrl, deadline: number, options: OpenDatabaseOptions): Promise<Database> {
  const [{ default: postgres }, { parse }, { postgresDatabase }, { builtinArrayTypes }] = await Promise.all([
    import("postgres"),
    import("pg-connection-string"),
    import("../db/postgres_database.ts"),
    import("./_postgres_array_types.ts"),
  ]);
  const sslmode = new URL(url.connectUrl).searchParams.get("sslmode");
  if (sslmode !== null && !SSL_MODES.has(sslmode)) {
    throw new StrataError("INVALID_URL", `Unknown sslmode ${JSON.stringify(sslmode)} in ${url.label}`, {
      hint: `sslmode is one of ${[...SSL_MODES].join(", ")} (libpq's values)`,
    });
  }
  let config: Record<string, unknown>;
  try {
    config = parse(url.connectUrl, { useLibpqCompat: true }) as Record<string, unknown>;
  } catch (cause) {
    // verify-ca without sslrootcert, an sslrootcert / sslcert / sslkey file that is not there
    throw new StrataError("INVALID_URL", `Cannot use ${url.label}: ${(cause as Error).message}`, {
      cause,
      hint: "Check the ssl parameters: sslrootcert, sslcert and sslkey must name readable files, and " +
        "verify-ca / verify-full need sslrootcert (the CA that signed the server's certificate)",
    });
  }
  config.database = urlDatabaseName(url.connectUrl) ?? config.database;
  const { host, port } = serverAddress(config);
  const connection: Record<string, string> = { application_name: "strata" };
  // As lib/pq (golang-migrate's driver) does, a query parameter that is not a connection
  // setting is a server setting for the session: ?lock_timeout=5s&TimeZone=UTC.
  for (const [key, value] of serverSettings(url.connectUrl)) connection[key] = value;
  const seconds = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
  const sql = postgres({
    ...(host.startsWith("/") ? { path: `${host}/.s.PGSQL.${port}` } : { host, port }),
    ...(typeof config.user === "string" && config.user !== "" ? { user: config.user } : {}),
    ...(typeof config.password === "string" ? { password: config.password } : {}),
    ...(typeof config.database === "string" && config.database !== "" ? { database: config.database } : {}),
    ssl: sslOption(config.ssl, sslmode),
    max: options.max ?? 2,
    connect_timeout: seconds,
    idle_timeout: 0,
    connection,
    // strata sends no ROLLBACK without a transaction, so a "there is no transaction in
    // progress" that arrives here came from the migration's own SQL.
    onnotice: (notice: { message?: string }) => options.onNotice?.(String(notice.message ?? "")),
    // A migration tool must not turn a bigint into a lossy number (int8 stays text). The
    // built-in array types are known ahead instead of fetched at every connection.
    types: builtinArrayTypes(),
    fetch_types: false,
  });
  const db = postgresDatabase(sql, {
    label: url.label,
    ...(url.lockName === undefined ? {} : { lockName: url.lockName }),
  });
  // connect_timeout covers the TCP connection; a port that accepts it but does not speak
  // PostgreSQL (an HTTP proxy, a load balancer with no backend) must not hang the command.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error("no answer"), { code: "NO_ANSWER" })), seconds * 1000);
  });
  try {
    await Promise.race([db.query("SELECT 1"), silent]);
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw connectError(error, url, config, seconds);
  } finally {
    clearTimeout(timer);
  }
  return db;
}

/** The host (or socket folder) and port a URL parsed by pg-connection-string names, with libpq's defaults. */
export function serverAddress(config: Record<string, unknown>): { host: string; port: number } {
  const host = typeof config.host === "string" && config.host !== "" ? config.host : "localhost";
  return { host, port: Number(config.port ?? 5432) || 5432 };
}

const SSL_MODES = new Set(["disable", "allow", "prefer", "require", "verify-ca", "verify-full", "no-verify"]);

function sslOption(
  ssl: unknown,
  mode: string | null,
): boolean | "prefer" | "require" | "verify-full" | Record<string, unknown> {
  // libpq's allow and prefer take TLS when the server offers it and go on without it when it
  // does not; pg-connection-string gives them TLS options that would make TLS required.
  if (mode === "allow" || mode === "prefer") return "prefer";
  if (ssl === undefined || ssl === null) return "prefer";
  if (ssl === false) return false;
  if (ssl === true) return "verify-full";
  if (typeof ssl === "object") return ssl as Record<string, unknown>;
  return "prefer";
}

function connectError(
  error: unknown,
  url: DatabaseUrl,
  config: Record<string, unknown>,
  seconds: number,
): StrataError {
  // The driver names what it can (strata/core's own wrapper); the URL says it better here.
  const original = error instanceof StrataError && error.cause !== undefined ? error.cause : error;
  const text = (key: string) => {
    const value = config[key];
    return typeof value === "string" && value !== "" ? value : undefined;
  };
  const port = config.port;
  const failure = connectionFailure(original, url.label, {
    host: text("host"),
    port: typeof port === "string" || typeof port === "number" ? port : undefined,
    user: text("user"),
    database: text("database"),
  });
  if (failure) return failure;
  if ((original as { code?: unknown } | null)?.code === "NO_ANSWER") {
    return new StrataError(
      "CONNECTION_FAILED",
      `Cannot connect to ${url.label}: the server accepted the connection but gave no PostgreSQL answer in ${seconds} s`,
      {
        cause: original,
        hint: "Is this port a PostgreSQL server (not a proxy or another service)? -lock-timeout sets how long to wait",
      },
    );
  }
  const message = String((original as { message?: unknown } | null)?.message ?? original);
  return new StrataError("CONNECTION_FAILED", `Cannot connect to ${url.label}: ${message}`, { cause: original });
}

let pgliteModule: Promise<typeof import("@electric-sql/pglite")> | undefined;

async function openPglite(url: DatabaseUrl, deadline: number, options: OpenDatabaseOptions): Promise<Database> {
  pgliteModule ??= import("@electric-sql/pglite");
  const [{ PGlite }, { pgliteDatabase }, names] = await Promise.all([
    pgliteModule,
    import("../db/pglite_database.ts"),
    typeof options.extensions === "function" ? options.extensions() : options.extensions ?? [],
  ]);
  if (url.pglitePath === "memory") {
    // Started from the cached empty cluster (initdb once per PGlite version, not per run).
    const { openEmptyPglite } = await import("./_pglite_template.ts");
    const pg = await openEmptyPglite(names);
    try {
      await applySettings(pg, url);
    } catch (error) {
      await pg.close();
      throw settingError(error, url);
    }
    return pgliteDatabase(pg, { label: url.label });
  }
  const pgliteOptions = names.length === 0
    ? {}
    : { extensions: await (await import("./pglite_extensions.ts")).pgliteExtensions(names) as Record<string, never> };
  const folder = resolve(options.cwd ?? ".", url.pglitePath ?? ".strata/pglite");
  await mkdir(resolve(folder, ".."), { recursive: true });
  const { lockFolder } = await import("./folder_lock.ts");
  const lock = await lockFolder(folder, { deadline, label: url.label });
  try {
    let pg: InstanceType<typeof PGlite>;
    if (isNewFolder(folder)) {
      // A first run: the cached empty cluster instead of initdb (seconds saved).
      const { openNewPgliteFolder } = await import("./_pglite_template.ts");
      pg = await openNewPgliteFolder(folder, pgliteOptions);
    } else {
      pg = new PGlite(folder, pgliteOptions);
      await pg.waitReady;
    }
    // Extensions the database already has (created by a run given other folders, or by hand)
    // need their PGlite builds loaded too, or their functions fail ("could not access file").
    const installed = await pg.query<{ name: string }>(
      "SELECT extname AS name FROM pg_catalog.pg_extension WHERE extname <> 'plpgsql'",
    );
    const missing = installed.rows.map((r) => r.name).filter((name) => !names.includes(name));
    if (missing.length > 0) {
      const extra = await (await import("./pglite_extensions.ts")).pgliteExtensions(missing);
      if (Object.keys(extra).length > 0) {
        await pg.close();
        pg = new PGlite(folder, { extensions: { ...pgliteOptions.extensions, ...extra } as Record<string, never> });
        await pg.waitReady;
      }
    }
    try {
      await applySettings(pg, url);
    } catch (error) {
      await pg.close();
      throw settingError(error, url);
    }
    return pgliteDatabase(pg, { label: url.label, onClose: () => lock.release() });
  } catch (error) {
    await lock.release();
    if (error instanceof StrataError) throw error;
    throw new StrataError(
      "CONNECTION_FAILED",
      `Cannot open the embedded database ${url.label}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** A data folder that does not exist yet, or an empty directory (nothing to lose). */
function isNewFolder(folder: string): boolean {
  try {
    return readdirSync(folder).length === 0;
  } catch (error) {
    return (error as { code?: string }).code === "ENOENT";
  }
}

/** The URL's server settings, for the PGlite session's life (set_config, not SET LOCAL). */
async function applySettings(
  pg: { query(sql: string, params?: unknown[]): Promise<unknown> },
  url: DatabaseUrl,
): Promise<void> {
  for (const [name, value] of url.pgliteSettings ?? []) {
    await pg.query("SELECT pg_catalog.set_config($1, $2, false)", [name, value]);
  }
}

function settingError(error: unknown, url: DatabaseUrl): StrataError {
  return new StrataError(
    "CONNECTION_FAILED",
    `Cannot open ${url.label}: ${(error as Error).message}`,
    {
      cause: error,
      hint: "A query parameter of the URL that is not x-... is a server setting for the session " +
        "(search_path, TimeZone, ...): check its name and value",
    },
  );
}

/**
 * The postgres.js driver. It wraps a client the caller made, so it runs wherever
 * postgres.js runs (Node, Deno, Bun, Cloudflare Workers) and never parses URLs itself.
 */
import type { ReservedSql, Sql } from "postgres";
import { databaseClosed } from "./_database_closed.ts";
import { connectionFailure, type ConnectionTarget } from "./connection_failure.ts";
import {
  connectionGone,
  type Database,
  type Row,
  ScriptError,
  type ScriptItem,
  serverErrorFields,
  type Session,
} from "./database.ts";

/** Options for {@linkcode postgresDatabase}. */
export interface PostgresDatabaseOptions {
  /** How to name the database to people; mask the password before passing a URL. */
  label?: string;
  /** golang-migrate's database name for the lock id (`/mydb`); default current_database(). */
  lockName?: string;
  /** Whether close() also ends the client (default true). */
  ownsClient?: boolean;
}

/**
 * Wraps a postgres.js client as a strata {@linkcode Database}. A connection that cannot be
 * made fails with a StrataError: AUTH_FAILED (login refused, unknown role), CONNECTION_FAILED
 * (no such database, nothing listening, unknown host, timeout, TLS). Used after close(), it
 * throws DATABASE_CLOSED at once.
 *
 * @example
 * ```ts ignore
 * import postgres from "postgres";
 * import { postgresDatabase } from "./postgres_database.ts";
 * const db = postgresDatabase(postgres("postgres://postgres@127.0.0.1/test"), { label: "test" });
 * console.log(await db.query("select 1 as one")); // [{ one: 1 }]
 * await db.close();
 * ```
 */
export function postgresDatabase(sql: Sql, options: PostgresDatabaseOptions = {}): Database {
  let closed = false;
  // postgres.js 3.4 with `fetch_types: false` never settles a reserve() that has to open a new
  // connection (porsager/postgres#751, #1219). Such a reserve is preceded by a plain query,
  // which opens the connection the ordinary way: needed when nothing ran yet, or another
  // session or query holds a connection. The common case (one session after the first
  // query) pays nothing.
  let connected = false;
  let busy = 0;
  // A reserved connection that was lost keeps end() waiting for its whole timeout.
  let lost = false;
  // postgres.js connects on the first query that needs a connection: whichever query it was
  // throws the failure to connect.
  const label = options.label ?? "postgres";
  const where = options.label ?? serverLabel(sql);
  const connecting = (error: unknown) => connectionFailure(error, where, connectionTarget(sql)) ?? error;
  // After end(), postgres.js settles a reserve() and never answers what is sent on it.
  const ensureOpen = () => {
    if (closed) throw databaseClosed(label);
  };
  const track = async <T>(run: () => Promise<T>): Promise<T> => {
    ensureOpen();
    busy++;
    try {
      const value = await run();
      connected = true;
      return value;
    } catch (error) {
      throw connecting(error);
    } finally {
      busy--;
    }
  };
  return {
    dialect: "postgres",
    raw: sql,
    label,
    ...(options.lockName === undefined ? {} : { lockName: options.lockName }),
    query: <T = Row>(text: string, params: readonly unknown[] = []) => track(() => runQuery<T>(sql, text, params)),
    exec: (text: string) => track(() => runExec(sql, text)),
    async withSession<T>(fn: (session: Session) => Promise<T>): Promise<T> {
      let reserved: ReservedSql;
      ensureOpen();
      busy++;
      try {
        if (!connected || busy > 1) await sql.unsafe("SELECT 1").simple();
        reserved = await sql.reserve();
        connected = true;
      } catch (error) {
        busy--;
        throw connecting(error);
      }
      let failed = false;
      const session = reservedSession(reserved, () => (lost = true), ensureOpen);
      try {
        return await fn(session);
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        // A session handed back mid-transaction would poison the pool for the next caller.
        if (failed && !closed && !session.lost()) await rollbackIfOpen(session);
        // postgres.js's release() puts the connection back among the open ones even when it
        // has closed, and the next query on it crashes the process (porsager/postgres#1208).
        // Not released, a lost connection stays among the closed ones and reconnects when needed.
        if (!session.lost()) reserved.release();
        busy--;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (options.ownsClient !== false) await sql.end({ timeout: lost ? 0 : 5 });
    },
  };
}

/**
 * Ends a transaction a failed caller left open, without sending ROLLBACK when there is none:
 * that draws a WARNING (25P01) which postgres.js's default `onnotice` prints on the caller's
 * stdout. SAVEPOINT tells the three states apart with no notice: it succeeds in an open
 * transaction, is refused with 25P02 in an aborted one and with 25P01 outside one.
 */
async function rollbackIfOpen(session: Session): Promise<void> {
  try {
    await session.exec("SAVEPOINT strata_release");
  } catch (error) {
    if ((error as { code?: unknown }).code !== "25P02") return;
  }
  await session.exec("ROLLBACK").catch(() => {});
}

/** The server a client connects to, from its parsed options (a Unix socket's folder and port from its path). */
function connectionTarget(sql: Sql): ConnectionTarget {
  const options = (sql.options ?? {}) as {
    host?: string[];
    port?: number[];
    path?: string;
    user?: string;
    database?: string;
  };
  const socket = typeof options.path === "string" ? /^(.*)\/\.s\.PGSQL\.(\d+)$/.exec(options.path) : null;
  return {
    host: socket ? socket[1] : options.host?.[0],
    port: socket ? socket[2] : options.port?.[0],
    user: options.user,
    database: options.database,
  };
}

/** `postgres://user@host:port/database` for a client given no label: never a password. */
function serverLabel(sql: Sql): string {
  const { host, port, user, database } = connectionTarget(sql);
  const at = host?.startsWith("/") ? `localhost:${port ?? 5432}` : `${host ?? "localhost"}:${port ?? 5432}`;
  return `postgres://${user ? `${encodeURIComponent(user)}@` : ""}${at}/${encodeURIComponent(database ?? "")}${
    host?.startsWith("/") ? `?host=${encodeURIComponent(host)}` : ""
  }`;
}

async function runQuery<T>(sql: Sql | ReservedSql, text: string, params: readonly unknown[]): Promise<T[]> {
  // deno-lint-ignore no-explicit-any
  const rows = await sql.unsafe(text, params as any[], { prepare: params.length > 0 });
  return Array.from(rows) as T[];
}

async function runExec(sql: Sql | ReservedSql, text: string): Promise<void> {
  await sql.unsafe(text).simple();
}

/** The error a session gives once its connection is gone, naming how it was lost. */
function lostConnection(cause: unknown): Error {
  const message = cause instanceof Error ? cause.message : String(cause);
  return Object.assign(new Error(`the connection to the server was lost (${message})`, { cause }), {
    code: "CONNECTION_CLOSED",
  });
}

function reservedSession(
  reserved: ReservedSql,
  onLost: () => void = () => {},
  ensureOpen: () => void = () => {},
): Session & { lost(): boolean } {
  // postgres.js 3.4.9 crashes the process (a TypeError thrown from a timer, porsager/postgres
  // #1208) or never settles when a reserved connection whose backend went away is sent
  // another query. After the first sign of a lost connection, nothing more is sent on it.
  let lostWith: unknown;
  const markLost = (error: unknown) => {
    lostWith ??= error;
    onLost();
  };
  const guard = async <T>(run: () => Promise<T>): Promise<T> => {
    ensureOpen();
    if (lostWith !== undefined) throw lostConnection(lostWith);
    try {
      return await run();
    } catch (error) {
      if (connectionGone(error)) markLost(error);
      throw error;
    }
  };
  return {
    lost: () => lostWith !== undefined,
    query: <T = Row>(text: string, params: readonly unknown[] = []) => guard(() => runQuery<T>(reserved, text, params)),
    exec: (text: string) => guard(() => runExec(reserved, text)),
    async execScript(items: readonly ScriptItem[]) {
      ensureOpen();
      if (lostWith !== undefined) throw lostConnection(lostWith);
      // Sent together (postgres.js pipelines queries on one connection); the server runs
      // them in order, so the first rejection is the item that failed. Items with parameters
      // are prepared statements: postgres.js describes an unprepared statement before binding
      // it and holds everything after it until the server answers, which made each version
      // and history update of a migration a round trip of its own (and the migration's own
      // statements waited for it). Prepared once per session, they travel in the pipeline.
      const pending = items.map((item) =>
        typeof item === "string"
          ? reserved.unsafe(item).simple()
          // deno-lint-ignore no-explicit-any
          : reserved.unsafe(item.text, item.params as any[], { prepare: true })
      );
      // When the connection goes, postgres.js rejects what it sent but can leave a prepared
      // statement queued behind them unsettled: the first such rejection ends the wait.
      let lost: ((error: unknown) => void) | undefined;
      const gone = new Promise<never>((_, reject) => (lost = reject));
      gone.catch(() => {});
      for (const p of pending) p.catch((error) => connectionGone(error) && lost!(error));
      let settled: PromiseSettledResult<unknown>[];
      try {
        settled = await Promise.race([Promise.allSettled(pending), gone]);
      } catch (error) {
        markLost(error);
        throw error;
      }
      const index = settled.findIndex((r) => r.status === "rejected");
      if (index < 0) {
        return settled.map((r) => Number((r as PromiseFulfilledResult<{ count?: number }>).value?.count ?? 0));
      }
      const reason = (settled[index] as PromiseRejectedResult).reason;
      if (settled.some((r) => r.status === "rejected" && connectionGone(r.reason))) markLost(reason);
      const server = serverErrorFields(reason);
      if (!server) throw reason;
      // Each item is a query of its own, so the server answers those after the failure too
      // (until the connection goes).
      const unanswered = settled.findIndex((r) => r.status === "rejected" && !serverErrorFields(r.reason));
      throw new ScriptError(index, server, reason, { answered: unanswered < 0 ? settled.length : unanswered });
    },
  };
}

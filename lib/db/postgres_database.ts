/**
 * The postgres.js driver. It wraps a client the caller made, so it runs wherever
 * postgres.js runs (Node, Deno, Bun, Cloudflare Workers) and never parses URLs itself.
 */
import type { ReservedSql, Sql } from "postgres";
import { type Database, type Row, ScriptError, type ScriptItem, serverErrorFields, type Session } from "./database.ts";

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
 * Wraps a postgres.js client as a strata {@linkcode Database}.
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
  return {
    dialect: "postgres",
    raw: sql,
    label: options.label ?? "postgres",
    ...(options.lockName === undefined ? {} : { lockName: options.lockName }),
    query: <T = Row>(text: string, params: readonly unknown[] = []) => runQuery<T>(sql, text, params),
    exec: (text: string) => runExec(sql, text),
    async withSession<T>(fn: (session: Session) => Promise<T>): Promise<T> {
      const reserved = await sql.reserve();
      let failed = false;
      try {
        return await fn(reservedSession(reserved));
      } catch (error) {
        failed = true;
        throw error;
      } finally {
        // A session handed back mid-transaction would poison the pool for the next caller.
        if (failed) await reserved.unsafe("ROLLBACK").catch(() => {});
        reserved.release();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (options.ownsClient !== false) await sql.end({ timeout: 5 });
    },
  };
}

async function runQuery<T>(sql: Sql | ReservedSql, text: string, params: readonly unknown[]): Promise<T[]> {
  // deno-lint-ignore no-explicit-any
  const rows = await sql.unsafe(text, params as any[], { prepare: params.length > 0 });
  return Array.from(rows) as T[];
}

async function runExec(sql: Sql | ReservedSql, text: string): Promise<void> {
  await sql.unsafe(text).simple();
}

function reservedSession(reserved: ReservedSql): Session {
  return {
    query: <T = Row>(text: string, params: readonly unknown[] = []) => runQuery<T>(reserved, text, params),
    exec: (text: string) => runExec(reserved, text),
    async execScript(items: readonly ScriptItem[]) {
      // Sent together (postgres.js pipelines queries on one connection); the server runs
      // them in order, so the first rejection is the item that failed.
      const settled = await Promise.allSettled(
        items.map((item) =>
          typeof item === "string"
            ? reserved.unsafe(item).simple()
            // deno-lint-ignore no-explicit-any
            : reserved.unsafe(item.text, item.params as any[], { prepare: false })
        ),
      );
      const index = settled.findIndex((r) => r.status === "rejected");
      if (index < 0) {
        return settled.map((r) => Number((r as PromiseFulfilledResult<{ count?: number }>).value?.count ?? 0));
      }
      const reason = (settled[index] as PromiseRejectedResult).reason;
      const server = serverErrorFields(reason);
      if (!server) throw reason;
      throw new ScriptError(index, server, reason);
    },
  };
}

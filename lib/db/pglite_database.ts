/**
 * The PGlite driver: real PostgreSQL compiled to WASM, in this process. It wraps an
 * instance the caller opened (lib/io opens folders and guards them against a second
 * process).
 */
import type { PGlite } from "@electric-sql/pglite";
import { databaseClosed } from "./_database_closed.ts";
import { type Database, type Row, ScriptError, type ScriptItem, serverErrorFields, type Session } from "./database.ts";

/** Options for {@linkcode pgliteDatabase}. */
export interface PgliteDatabaseOptions {
  /** How to name the database to people (default `pglite://memory`). */
  label?: string;
  /** Called after the instance is closed, e.g. to release a folder lock. */
  onClose?: () => Promise<void> | void;
  /** Whether close() also closes the instance (default true). */
  ownsInstance?: boolean;
}

/**
 * Wraps a PGlite instance as a strata {@linkcode Database}. Used after close() (or after the
 * instance was closed), it throws DATABASE_CLOSED.
 *
 * @example
 * ```ts ignore
 * import { PGlite } from "@electric-sql/pglite";
 * import { pgliteDatabase } from "./pglite_database.ts";
 * const db = pgliteDatabase(new PGlite());
 * console.log(await db.query("select 1 as one")); // [{ one: 1 }]
 * await db.close();
 * ```
 */
export function pgliteDatabase(pg: PGlite, options: PgliteDatabaseOptions = {}): Database {
  let closed = false;
  // PGlite is one backend: every caller shares its single session. A queue keeps one
  // withSession() caller's statements (and its transaction) from interleaving with another's.
  let tail: Promise<unknown> = Promise.resolve();
  // The event loop gets a turn at least every TURN_MS of queries (see Database.turn).
  let lastTurn = performance.now();
  const turn = async () => {
    if (performance.now() - lastTurn < TURN_MS) return;
    // Two timers: between the first firing and the second, the loop polls for I/O, which is
    // where Node dispatches a signal. One alone may fire before the poll.
    for (let i = 0; i < 2; i++) await new Promise((resolve) => setTimeout(resolve, 0));
    lastTurn = performance.now();
  };
  const label = options.label ?? "pglite://memory";
  const ensureOpen = () => {
    if (closed || pg.closed) throw databaseClosed(label);
  };
  // The instance may be closed under a query that was waiting for it ("PGlite is closed").
  const guard = async <T>(run: () => Promise<T>): Promise<T> => {
    ensureOpen();
    try {
      return await run();
    } catch (error) {
      ensureOpen();
      throw error;
    }
  };
  const session: Session = {
    query: <T = Row>(text: string, params: readonly unknown[] = []) => guard(() => runQuery<T>(pg, text, params)),
    exec: (text: string) => guard(() => runExec(pg, text)),
    async execScript(items: readonly ScriptItem[]) {
      ensureOpen();
      const counts: number[] = [];
      for (let index = 0; index < items.length; index++) {
        const item = items[index];
        try {
          const results = typeof item === "string"
            ? await pg.exec(item)
            : [await pg.query(item.text, item.params as unknown[])];
          const last = results[results.length - 1];
          counts.push(last?.affectedRows ?? last?.rows.length ?? 0);
        } catch (error) {
          ensureOpen();
          const server = serverErrorFields(error);
          if (!server) throw error;
          throw new ScriptError(index, server, error);
        }
      }
      return counts;
    },
  };
  return {
    dialect: "pglite",
    raw: pg,
    label,
    lockName: "/postgres",
    turn,
    query: session.query,
    exec: session.exec,
    withSession<T>(fn: (session: Session) => Promise<T>): Promise<T> {
      const run = tail.then(() => {
        ensureOpen();
        return fn(session);
      });
      tail = run.catch(() => {});
      return run;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (options.ownsInstance !== false) await pg.close();
      await options.onClose?.();
    },
  };
}

async function runQuery<T>(pg: PGlite, text: string, params: readonly unknown[]): Promise<T[]> {
  const result = await pg.query<T>(text, params as unknown[]);
  return result.rows;
}

async function runExec(pg: PGlite, text: string): Promise<void> {
  await pg.exec(text);
}

/** How long PGlite may keep the thread before the event loop gets a turn. */
const TURN_MS = 100;

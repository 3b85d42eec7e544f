/**
 * Runs the catalog queries behind snapshotSchema, all in one picture of the database: inside
 * one REPEATABLE READ READ ONLY transaction with the snapshot settings (an empty search_path,
 * so every name the server deparses is qualified).
 *
 * On a server a second session joins the first one's snapshot (`pg_export_snapshot()` and
 * `SET TRANSACTION SNAPSHOT`, as pg_dump's parallel workers do) and the two take the queries
 * from one queue, the costly ones first: the deparsing functions run on two backends at
 * once, and each session parses its results while the other's query runs. The first session
 * never waits for the second: when the second cannot be had (a pool of one, a pool the caller
 * holds, no connection slot, a server that cannot export a snapshot, a connection that takes
 * long to come), the first runs every query itself and the snapshot returns; a second session
 * that arrives after the queue ran dry does nothing.
 */
import type { Database, Queryable } from "../db/database.ts";
import { StrataError } from "../db/strata_error.ts";
import { CATALOG_QUERIES, type CatalogKind, SNAPSHOT_SETTINGS } from "./_catalog_queries.ts";

/** A catalog row as the server's JSON gave it. */
export type Raw = Record<string, unknown>;

/** Each kind's rows. */
export type RawCatalog = Record<CatalogKind, Raw[]>;

// The kinds whose queries take most of the time on a large schema (measured on 3,000 tables:
// constraints, columns and indexes 120-230 ms each, sequences and tables 40-70 ms, the rest a
// few ms), so that neither session is left with a long query when the other is done.
const COSTLY: readonly CatalogKind[] = ["constraints", "columns", "indexes", "sequences", "tables"];
const KINDS: readonly CatalogKind[] = [
  ...COSTLY,
  ...(Object.keys(CATALOG_QUERIES) as CatalogKind[]).filter((kind) => !COSTLY.includes(kind)),
];

const BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
const SETTINGS = SNAPSHOT_SETTINGS.join(";\n");

/** Reads every kind of catalog object (see the module's doc for how). */
export async function readCatalog(db: Database): Promise<RawCatalog> {
  const queue = [...KINDS];
  const result = {} as RawCatalog;
  let failed = false;
  const drain = async (session: Queryable) => {
    for (let kind = queue.shift(); kind !== undefined && !failed; kind = queue.shift()) {
      try {
        result[kind] = await readKind(session, kind);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };

  let exported!: (id: string | undefined) => void;
  const snapshotId = new Promise<string | undefined>((resolve) => (exported = resolve));
  const first = db.withSession(async (session) => {
    await session.exec(BEGIN);
    try {
      if (db.dialect === "postgres") exported(await exportSnapshot(session));
      await session.exec(SETTINGS);
      await drain(session);
      await session.exec("COMMIT");
    } catch (error) {
      failed = true;
      await session.exec("ROLLBACK").catch(() => {});
      throw error;
    }
  }).finally(() => exported(undefined));

  let joined = false;
  let firstDone = false;
  const second = (async () => {
    const id = await snapshotId;
    if (id === undefined || queue.length === 0 || failed) return;
    try {
      await db.withSession(async (session) => {
        if (queue.length === 0 || failed || firstDone) return;
        await session.exec(BEGIN);
        try {
          // Refused once the first session's transaction has ended: the queue ran dry.
          await session.exec(`SET TRANSACTION SNAPSHOT '${id.replaceAll("'", "''")}'`);
          await session.exec(SETTINGS);
          joined = true;
          await drain(session);
          await session.exec("COMMIT");
        } catch (error) {
          await session.exec("ROLLBACK").catch(() => {});
          throw error;
        }
      });
    } catch (error) {
      // Until it joined the snapshot, the second session only offered help: the first one
      // runs whatever is left. A catalog query that failed on it is the snapshot's failure.
      if (joined) throw error;
    }
  })();

  const [one] = await Promise.allSettled([first]);
  firstDone = true;
  // A second session that joined may be running a query: it stops after it, and is waited
  // for. One that has not joined (its connection still being made: a pooler's queue, a
  // server that does not answer) is not: it finds the queue empty when it comes, and hands
  // its connection back.
  const [two] = joined ? await Promise.allSettled([second]) : [{ status: "fulfilled" as const }];
  if (!joined) second.catch(() => {});
  if (one.status === "rejected") throw one.reason;
  if (two.status === "rejected") throw two.reason;
  return result;
}

/**
 * Exports the transaction's snapshot for the second session. A server that cannot (an old or
 * PostgreSQL-like server, a standby that refuses) aborted the transaction: it is begun again
 * and the first session reads alone.
 */
async function exportSnapshot(session: Queryable): Promise<string | undefined> {
  try {
    const [row] = await session.query<{ id: string }>("SELECT pg_catalog.pg_export_snapshot() AS id");
    return row.id;
  } catch {
    await session.exec("ROLLBACK");
    await session.exec(BEGIN);
    return undefined;
  }
}

async function readKind(session: Queryable, kind: CatalogKind): Promise<Raw[]> {
  let rows: Array<{ j: string }>;
  try {
    rows = await session.query<{ j: string }>(CATALOG_QUERIES[kind]);
  } catch (error) {
    throw new StrataError("QUERY_FAILED", `Reading the catalog failed: ${kind}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return JSON.parse(rows[0].j) as Raw[];
}

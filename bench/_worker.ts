/**
 * The library figures, one measurement per process so that peak memory belongs to one
 * figure: `node --import tsx bench/_worker.ts KIND ...` prints one JSON line
 * `{ "ms": …, "peakKb": … }`. Only the operation itself is timed (not start-up, imports,
 * connecting or generating the rows).
 *
 *   seed URL ROWS strata|floor first|rerun   runSeeds vs one hand-written unnest INSERT
 *   snapshot URL                             snapshotSchema(db)
 *   diff URL_A URL_B                         diffSnapshots(a, b) of two snapshots taken before
 */
import process from "node:process";
import postgres from "postgres";

const SEED_TABLE = "bench_seed";
const SEED_COLUMNS = `id int8 PRIMARY KEY, name text NOT NULL, email text NOT NULL, score int4 NOT NULL,
  created_at timestamptz NOT NULL`;

interface Row {
  id: number;
  name: string;
  email: string;
  score: number;
  created_at: string;
}

function seedRows(count: number): Row[] {
  const base = Date.UTC(2025, 0, 1);
  return Array.from({ length: count }, (_, index) => {
    const id = index + 1;
    return {
      id,
      name: `name ${id}`,
      email: `user${id}@example.com`,
      score: id % 1000,
      created_at: new Date(base + id * 1000).toISOString(),
    };
  });
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

async function seed(url: string, count: number, who: string, phase: string): Promise<number> {
  const rows = seedRows(count);
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE TABLE IF NOT EXISTS ${SEED_TABLE} (${SEED_COLUMNS})`);
  await admin.end();
  let insertOnce: () => Promise<number>;
  let close: () => Promise<void>;
  if (who === "strata") {
    const { openDatabase } = await import("../lib/io/open_database.ts");
    const { runSeeds } = await import("../lib/seed/seeder.ts");
    const { db } = await openDatabase(url);
    const files = [{ name: "bench_seed.json", kind: "data" as const, seed: { table: SEED_TABLE, key: ["id"], rows } }];
    insertOnce = async () => {
      const run = await runSeeds(db, files);
      if (run.error) throw run.error;
      return run.results[0].inserted;
    };
    close = () => db.close();
  } else {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    insertOnce = async () => {
      const [result] = await sql.begin((tx) =>
        tx.unsafe(
          `INSERT INTO ${SEED_TABLE} (id, name, email, score, created_at)
           SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::int4[], $5::timestamptz[])
           ON CONFLICT (id) DO NOTHING`,
          [
            rows.map((r) => r.id),
            rows.map((r) => r.name),
            rows.map((r) => r.email),
            rows.map((r) => r.score),
            rows.map((r) => r.created_at),
          ],
        ).then((r) => [r.count])
      );
      return Number(result);
    };
    close = () => sql.end();
  }
  try {
    if (phase === "rerun") {
      const first = await insertOnce();
      if (first !== count) throw new Error(`${who}: the first run inserted ${first} rows, expected ${count}`);
    }
    const { ms, value } = await timed(insertOnce);
    const expected = phase === "rerun" ? 0 : count;
    if (value !== expected) throw new Error(`${who} ${phase}: inserted ${value} rows, expected ${expected}`);
    return ms;
  } finally {
    await close();
  }
}

// Imported by name at run time: lib/schema is being written while the bench already exists.
const SNAPSHOT_MODULE = "../lib/schema/snapshot_schema.ts";
const DIFF_MODULE = "../lib/schema/diff_snapshots.ts";

async function snapshotFunction(): Promise<(db: unknown) => Promise<unknown>> {
  return ((await import(SNAPSHOT_MODULE)) as { snapshotSchema: (db: unknown) => Promise<unknown> }).snapshotSchema;
}

async function snapshot(url: string): Promise<number> {
  const snapshotSchema = await snapshotFunction();
  const { openDatabase } = await import("../lib/io/open_database.ts");
  const { db } = await openDatabase(url);
  try {
    return (await timed(async () => await snapshotSchema(db))).ms;
  } finally {
    await db.close();
  }
}

async function diff(urlA: string, urlB: string): Promise<number> {
  const snapshotSchema = await snapshotFunction();
  const { diffSnapshots } = (await import(DIFF_MODULE)) as { diffSnapshots: (a: unknown, b: unknown) => unknown };
  const { openDatabase } = await import("../lib/io/open_database.ts");
  const take = async (url: string) => {
    const { db } = await openDatabase(url);
    try {
      return await snapshotSchema(db);
    } finally {
      await db.close();
    }
  };
  const [a, b] = [await take(urlA), await take(urlB)];
  return (await timed(async () => await diffSnapshots(a, b))).ms;
}

async function main(argv: string[]): Promise<void> {
  const [kind, ...args] = argv;
  let ms: number;
  if (kind === "seed") ms = await seed(args[0], Number(args[1]), args[2], args[3]);
  else if (kind === "snapshot") ms = await snapshot(args[0]);
  else if (kind === "diff") ms = await diff(args[0], args[1]);
  else throw new Error(`unknown kind ${kind}`);
  process.stdout.write(`${JSON.stringify({ ms, peakKb: process.resourceUsage().maxRSS })}\n`);
}

await main(process.argv.slice(2));

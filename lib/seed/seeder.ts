/**
 * The seeder: runs SQL seeds and data seeds in order, each in its own transaction, after
 * checking every one of them (parse, tables, columns, keys, unique indexes) before the
 * first writes anything.
 */
import { type Database, ScriptError, type Session } from "../db/database.ts";
import { quoteIdent } from "../db/quote_ident.ts";
import { FileError, StrataError } from "../db/strata_error.ts";
import { parseSqlScript, scriptError, type SqlScript } from "../migrate/sql_script.ts";
import type { DataSeed, SeedRow } from "./define_seed.ts";

/** One seed file, loaded: SQL text, or a data seed. */
export type SeedFile =
  | { name: string; kind: "sql"; text: string }
  // deno-lint-ignore no-explicit-any
  | { name: string; kind: "data"; seed: DataSeed<any> };

/** What one seed did. */
export interface SeedResult {
  file: string;
  /** The table a data seed fills; null for SQL seeds. */
  table: string | null;
  status: "done" | "failed" | "not run";
  inserted: number;
  updated: number;
  /** Rows left as they were; null for SQL seeds (the server does not say). */
  unchanged: number | null;
  durationMs?: number;
}

/** The outcome of a seed run. */
export interface SeedRun {
  results: SeedResult[];
  error?: StrataError;
}

/** Options for {@linkcode runSeeds}. */
export interface RunSeedsOptions {
  /** Rows per statement for data seeds (default 10,000). */
  batchSize?: number;
  /** Called after each seed. */
  onResult?: (result: SeedResult) => void;
}

interface Column {
  name: string;
  type: string;
  isArray: boolean;
  isJson: boolean;
  generated: boolean;
}

interface PreparedData {
  kind: "data";
  file: string;
  table: string;
  sql: string;
  key: string[];
  update: boolean;
  columns: Map<string, Column>;
  /** Static rows, grouped by the set of columns they give (checked before anything runs). */
  groups?: RowGroup[];
  total?: number;
  /** Computed rows: evaluated just before this seed runs, after the seeds before it. */
  compute?: (context: { query: Session["query"] }) => readonly SeedRow[] | Promise<readonly SeedRow[]>;
}

interface PreparedSql {
  kind: "sql";
  file: string;
  script: SqlScript;
}

/**
 * Checks every seed, then runs them in order, each in its own transaction. A failure rolls
 * that seed back, names the file (and statement and line for SQL), and stops the run.
 *
 * @throws {FileError} PARSE_ERROR / SEED_INVALID before anything is written, naming the file.
 * @example
 * ```ts ignore
 * const run = await runSeeds(db, [{ name: "001_orgs.json", kind: "data", seed: { table: "organisations", key: ["slug"], rows } }]);
 * for (const r of run.results) console.log(r.file, r.inserted, r.updated, r.unchanged);
 * ```
 */
export async function runSeeds(
  db: Database,
  files: readonly SeedFile[],
  options: RunSeedsOptions = {},
): Promise<SeedRun> {
  const batchSize = options.batchSize ?? 10_000;
  return await db.withSession(async (session) => {
    const prepared: Array<PreparedData | PreparedSql> = [];
    for (const file of files) {
      prepared.push(file.kind === "sql" ? await prepareSql(file) : await prepareData(session, file.name, file.seed));
    }
    const results: SeedResult[] = prepared.map((p) => ({
      file: p.file,
      table: p.kind === "data" ? p.table : null,
      status: "not run",
      inserted: 0,
      updated: 0,
      unchanged: p.kind === "data" ? 0 : null,
    }));
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i];
      const result = results[i];
      const started = performance.now();
      try {
        if (p.kind === "sql") await runSql(session, p, result);
        else await runData(session, p, result, batchSize);
        result.status = "done";
      } catch (error) {
        await session.exec("ROLLBACK").catch(() => {});
        result.status = "failed";
        result.inserted = 0;
        result.updated = 0;
        result.unchanged = p.kind === "data" ? 0 : null;
        result.durationMs = performance.now() - started;
        options.onResult?.(result);
        return { results, error: seedError(error, p) };
      }
      result.durationMs = performance.now() - started;
      options.onResult?.(result);
    }
    return { results };
  });
}

async function prepareSql(file: { name: string; text: string }): Promise<PreparedSql> {
  const script = await parseSqlScript(file.text, file.name);
  if (!script.transactional && !script.unwrapped) {
    throw new FileError("SEED_INVALID", `a seed runs in one transaction, but ${script.reason}`, { file: file.name }, {
      hint: "Move that statement into a migration",
    });
  }
  return { kind: "sql", file: file.name, script };
}

async function runSql(session: Session, p: PreparedSql, result: SeedResult): Promise<void> {
  const statements = p.script.statements;
  let counts: number[];
  try {
    counts = await session.execScript(["BEGIN", ...statements.map((s) => s.sql), "COMMIT"]);
  } catch (error) {
    if (error instanceof ScriptError && error.index >= 1 && error.index <= statements.length) {
      throw scriptError("SEED_FAILED", p.file, p.script, error.index - 1, error.server, {
        cause: error,
        hint: `Nothing of ${p.file} was kept; later seeds did not run`,
      });
    }
    throw error;
  }
  statements.forEach((s, i) => {
    if (s.kind === "InsertStmt") result.inserted += counts[i + 1] ?? 0;
    else if (s.kind === "UpdateStmt" || s.kind === "MergeStmt") result.updated += counts[i + 1] ?? 0;
  });
}

async function prepareData(session: Session, file: string, seed: DataSeed): Promise<PreparedData> {
  const invalid = (message: string, hint?: string) =>
    new FileError("SEED_INVALID", message, { file }, hint ? { hint } : {});
  if (typeof seed !== "object" || seed === null) {
    throw invalid("a data seed must be an object with table, key and rows");
  }
  if (typeof seed.table !== "string" || seed.table === "") throw invalid('"table" must name a table');
  if (!Array.isArray(seed.key) || seed.key.length === 0 || seed.key.some((k) => typeof k !== "string")) {
    throw invalid('"key" must be a list of column names, e.g. ["email"]');
  }
  if (seed.update !== undefined && typeof seed.update !== "boolean") throw invalid('"update" must be true or false');
  if (typeof seed.rows !== "function" && !Array.isArray(seed.rows)) throw invalid('"rows" must be a list of objects');

  const [table] = await session.query<{ oid: number; schema: string; name: string }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')`,
    [seed.table],
  );
  if (!table) {
    throw invalid(`unknown table ${seed.table}`, "Run the migrations first (strata up), or fix the table name");
  }
  const columns = await session.query<{ name: string; type: string; category: string; generated: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typcategory AS category,
            (a.attgenerated <> '' OR a.attidentity = 'a') AS generated
     FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table.oid],
  );
  const byName = new Map(columns.map((c) => [c.name, {
    name: c.name,
    type: c.type,
    isArray: c.category === "A",
    isJson: c.type === "json" || c.type === "jsonb",
    generated: c.generated,
  }]));
  const qualified = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  for (const key of seed.key) {
    if (!byName.has(key)) {
      throw invalid(
        `key column ${key} is not a column of ${table.name}`,
        `Its columns: ${columns.map((c) => c.name).join(", ")}`,
      );
    }
  }
  const keySet = [...new Set(seed.key)].sort();
  const unique = await session.query<{ columns: string[] }>(
    `SELECT array_agg(a.attname::text ORDER BY a.attname) AS columns
     FROM pg_catalog.pg_index i
     JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
     WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indimmediate
     GROUP BY i.indexrelid`,
    [table.oid],
  );
  if (!unique.some((u) => u.columns.length === keySet.length && u.columns.every((c, i) => c === keySet[i]))) {
    throw invalid(
      `no unique index or constraint on ${table.name} (${seed.key.join(", ")}): the key must be unique for ON CONFLICT`,
      `Add one in a migration: ALTER TABLE ${qualified} ADD UNIQUE (${seed.key.map(quoteIdent).join(", ")})`,
    );
  }
  const prepared: PreparedData = {
    kind: "data",
    file,
    table: seed.table,
    sql: qualified,
    key: [...seed.key],
    update: seed.update === true,
    columns: byName,
  };
  if (typeof seed.rows === "function") prepared.compute = seed.rows as PreparedData["compute"];
  else Object.assign(prepared, groupRows(prepared, seed.rows));
  return prepared;
}

/**
 * Rows that give the same columns, as PostgreSQL text input: one array per column (the
 * parameters of the statement), converted once while the rows are checked.
 */
interface RowGroup {
  columns: Column[];
  values: Array<Array<string | null>>;
  count: number;
}

/** Checks rows against the table (columns, keys, duplicates, values) and groups them by the columns they give. */
function groupRows(p: PreparedData, rows: readonly SeedRow[]): { groups: RowGroup[]; total: number } {
  const invalid = (message: string, hint?: string) =>
    new FileError("SEED_INVALID", message, { file: p.file }, hint ? { hint } : {});
  if (!Array.isArray(rows)) throw invalid('"rows" must be a list of objects');
  const known = () => `Its columns: ${[...p.columns.keys()].join(", ")}`;
  const groups = new Map<string, RowGroup & { keyIndexes: number[] }>();
  const seen = new Map<string, number>();
  let previousKeys: string[] = [];
  let previousGroup: (RowGroup & { keyIndexes: number[] }) | undefined;
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index];
    const where = `row ${index + 1}`;
    if (typeof row !== "object" || row === null || Array.isArray(row)) throw invalid(`${where} is not an object`);
    // Rows of one seed mostly share their shape: the same keys as the row before mean the same group.
    const rowKeys = Object.keys(row);
    const same = previousGroup !== undefined && sameKeys(rowKeys, previousKeys, row);
    let group = same ? previousGroup : undefined;
    const names = same ? rowKeys : rowKeys.filter((k) => row[k] !== undefined);
    group ??= groups.get(names.slice().sort().join("\u0000"));
    if (!group) {
      for (const name of names) {
        const column = p.columns.get(name);
        if (!column) throw invalid(`${where}: unknown column ${name} in ${p.table}`, known());
        if (column.generated) throw invalid(`${where}: column ${name} is generated and cannot be given a value`);
      }
      const columns = names.slice().sort().map((n) => p.columns.get(n)!);
      const keyIndexes = p.key.map((k) => columns.findIndex((c) => c.name === k));
      group = { columns, values: columns.map(() => []), count: 0, keyIndexes };
      groups.set(names.slice().sort().join("\u0000"), group);
    }
    previousKeys = rowKeys;
    previousGroup = names.length === rowKeys.length ? group : undefined;
    const { columns, values, keyIndexes } = group;
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c];
      try {
        values[c].push(toText(row[column.name], column));
      } catch (error) {
        for (let d = 0; d < c; d++) values[d].pop();
        throw invalid(`${where}, column ${column.name}: ${(error as Error).message}`);
      }
    }
    group.count++;
    const last = group.count - 1;
    let keyText = "";
    for (let k = 0; k < p.key.length; k++) {
      const value = keyIndexes[k] < 0 ? null : values[keyIndexes[k]][last];
      if (value === null) throw invalid(`${where} has no value for key column ${p.key[k]}`);
      keyText = k === 0 ? value : `${keyText}\u0000${value}`;
    }
    const earlier = seen.get(keyText);
    if (earlier !== undefined) {
      throw invalid(`rows ${earlier + 1} and ${index + 1} have the same key (${p.key.join(", ")})`);
    }
    seen.set(keyText, index);
  }
  return {
    groups: [...groups.values()].map(({ columns, values, count }) => ({ columns, values, count })),
    total: rows.length,
  };
}

/** Whether a row has exactly the keys of the row before (and no undefined value). */
function sameKeys(keys: readonly string[], previous: readonly string[], row: SeedRow): boolean {
  if (keys.length !== previous.length) return false;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] !== previous[i] || row[keys[i]] === undefined) return false;
  }
  return true;
}

async function runData(session: Session, p: PreparedData, result: SeedResult, batchSize: number): Promise<void> {
  const { groups, total } = p.compute
    ? groupRows(p, await p.compute({ query: (text, params) => session.query(text, params) }))
    : { groups: p.groups!, total: p.total! };
  await session.exec("BEGIN");
  // Every batch is sent at once (postgres.js pipelines them on the session): the server
  // works on one batch while the next is serialized, instead of each waiting for the other.
  // They run in order in the one transaction; after a failure the rest fail too, and the
  // first failure is the one reported.
  const batches: Array<Promise<Array<{ inserted: number; updated: number }>>> = [];
  for (const group of groups) {
    const statement = upsertStatement(p, group.columns);
    for (let start = 0; start < group.count; start += batchSize) {
      const params = group.count <= batchSize
        ? group.values
        : group.values.map((column) => column.slice(start, start + batchSize));
      batches.push(session.query<{ inserted: number; updated: number }>(statement, params));
    }
  }
  const settled = await Promise.allSettled(batches);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  for (const r of settled) {
    const [counts] = (r as PromiseFulfilledResult<Array<{ inserted: number; updated: number }>>).value;
    result.inserted += Number(counts.inserted);
    result.updated += Number(counts.updated);
  }
  await session.exec("COMMIT");
  result.unchanged = total - result.inserted - result.updated;
}

/**
 * One statement per batch: the rows arrive as one text array per column (unnest), and only
 * rows whose key is missing are inserted, so identity and serial values are not spent on
 * rows that exist. Only the key columns are cast before that check: a re-run where every
 * row exists never converts the other values (a timestamptz parse per row adds up). With
 * `update`, rows whose other columns differ are updated in the same statement.
 */
function upsertStatement(p: PreparedData, columns: Column[]): string {
  const names = columns.map((c) => quoteIdent(c.name));
  const keys = p.key.map(quoteIdent);
  const isKey = (c: Column) => p.key.includes(c.name);
  const others = columns.filter((c) => !isKey(c));
  const raw = (i: number) => `"strata ${i}"`;
  const value = (c: Column, i: number) => (isKey(c) ? `i.${names[i]}` : `i.${raw(i)}::${c.type}`);
  // WITH ORDINALITY keeps the seed's row order, so generated ids follow it.
  const selected = columns.map((c, i) => (isKey(c) ? `u.${raw(i)}::${c.type} AS ${names[i]}` : `u.${raw(i)}`));
  const arrays = columns.map((_c, i) => `$${i + 1}::text[]`).join(", ");
  const aliases = columns.map((_c, i) => raw(i)).join(", ");
  const input = `SELECT u."strata ord", ${
    selected.join(", ")
  } FROM unnest(${arrays}) WITH ORDINALITY AS u(${aliases}, "strata ord")`;
  const matches = keys.map((k) => `t.${k} = i.${k}`).join(" AND ");
  const insert = `INSERT INTO ${p.sql} (${names.join(", ")})
    SELECT ${columns.map(value).join(", ")} FROM input i
    WHERE NOT EXISTS (SELECT 1 FROM ${p.sql} t WHERE ${matches})
    ORDER BY i."strata ord"
    ON CONFLICT (${keys.join(", ")}) DO NOTHING RETURNING 1`;
  const ctes = [`input AS (${input})`, `ins AS (${insert})`];
  if (p.update && others.length > 0) {
    const index = (c: Column) => columns.indexOf(c);
    const differs = `ROW(${others.map((c) => `t.${quoteIdent(c.name)}::text`).join(", ")}) IS DISTINCT FROM ` +
      `ROW(${others.map((c) => `${value(c, index(c))}::text`).join(", ")})`;
    ctes.push(
      `upd AS (UPDATE ${p.sql} t SET ${others.map((c) => `${quoteIdent(c.name)} = ${value(c, index(c))}`).join(", ")}
      FROM input i WHERE ${matches} AND ${differs} RETURNING 1)`,
    );
  }
  const updated = ctes.length > 2 ? "(SELECT count(*) FROM upd)::int" : "0";
  return `WITH ${ctes.join(",\n")}\nSELECT (SELECT count(*) FROM ins)::int AS inserted, ${updated} AS updated`;
}

/** A value as PostgreSQL's text input for the column's type. */
function toText(value: unknown, column: Column): string | null {
  if (value === null || value === undefined) return null;
  // A string for a json or jsonb column is a JSON string, alike in .json and .ts seeds.
  if (column.isJson) return JSON.stringify(value);
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") {
    if (typeof value === "number" && !Number.isFinite(value)) return String(value).replace("Infinity", "infinity");
    return String(value);
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new Error("an invalid Date");
    return value.toISOString();
  }
  if (value instanceof Uint8Array) return `\\x${[...value].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  if (Array.isArray(value)) {
    if (!column.isArray) throw new Error(`a list for a column of type ${column.type}`);
    return arrayLiteral(value);
  }
  throw new Error(`an object for a column of type ${column.type} (only json and jsonb columns take objects)`);
}

function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((v) => {
    if (v === null || v === undefined) return "NULL";
    if (Array.isArray(v)) return arrayLiteral(v);
    const text = typeof v === "object" ? JSON.stringify(v) : v instanceof Date ? v.toISOString() : String(v);
    return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  });
  return `{${items.join(",")}}`;
}

function seedError(error: unknown, p: PreparedData | PreparedSql): StrataError {
  if (error instanceof StrataError) return error;
  const server = (error as { severity?: unknown }).severity
    ? (error as { message: string; code?: string; detail?: string })
    : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const detail = server?.detail ? `, ${server.detail}` : "";
  return new FileError("SEED_FAILED", `${message}${detail}`, { file: p.file }, {
    cause: error,
    hint: `Nothing of ${p.file} was kept; later seeds did not run`,
  });
}

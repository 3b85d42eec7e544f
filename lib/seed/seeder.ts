/**
 * The seeder: runs SQL seeds and data seeds in order, each in its own transaction, after
 * checking every one of them (parse, tables, columns, keys, unique indexes) before the
 * first writes anything.
 */
import {
  connectionGone,
  type Database,
  ScriptError,
  scriptLeftTransactionOpen,
  serverErrorFields,
  type Session,
} from "../db/database.ts";
import { quoteIdent } from "../db/quote_ident.ts";
import { FileError, type ServerErrorFields, StrataError } from "../db/strata_error.ts";
import { parseSqlScript, scriptError, type SqlScript } from "../migrate/sql_script.ts";
import type { DataSeed, SeedContext, SeedRow } from "./define_seed.ts";

/**
 * One seed file, loaded: SQL text (with its statements when they were split ahead of time, as
 * a bundle's are, so the parser is not needed), or a data seed.
 */
export type SeedFile =
  | { name: string; kind: "sql"; text: string; script?: Omit<SqlScript, "text"> }
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
  /** The column's type as declared, e.g. `character varying(5)`. */
  type: string;
  /**
   * The type values are cast to. Strings and bit strings lose their length (by the type's own
   * name: `character` alone would mean char(1)): an explicit cast to varchar(5) cuts a longer
   * value silently, while the INSERT's own assignment refuses it.
   */
  castType: string;
  /** The type under a domain, without modifiers (`integer`, `uuid`, `jsonb`). */
  base: string;
  isArray: boolean;
  isJson: boolean;
  generated: boolean;
  /** The sequence behind an identity or serial column. */
  sequence: string | null;
  /** Whether strata can tell two key values equal without the server (keyCanonical knows the type). */
  keyInJs: boolean;
}

interface PreparedData {
  kind: "data";
  file: string;
  table: string;
  sql: string;
  key: string[];
  update: boolean;
  columns: Map<string, Column>;
  /** A foreign key from the table to itself: its rows may refer to earlier ones, so their order always holds. */
  selfReferencing: boolean;
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
      const before = () => results.slice(0, i).map((r) => r.file);
      try {
        if (p.kind === "sql") await runSql(session, p, result, before);
        else await runData(session, p, result, batchSize);
        result.status = "done";
      } catch (error) {
        // runSql and runData have ended the seed's transaction.
        result.status = "failed";
        result.inserted = 0;
        result.updated = 0;
        result.unchanged = p.kind === "data" ? 0 : null;
        result.durationMs = performance.now() - started;
        options.onResult?.(result);
        return { results, error: seedError(error, p, before()) };
      }
      result.durationMs = performance.now() - started;
      options.onResult?.(result);
    }
    return { results };
  });
}

async function prepareSql(
  file: { name: string; text: string; script?: Omit<SqlScript, "text"> },
): Promise<PreparedSql> {
  const script = file.script ? { ...file.script, text: file.text } : await parseSqlScript(file.text, file.name);
  if (!script.transactional && !script.unwrapped) {
    throw new FileError("SEED_INVALID", `a seed runs in one transaction, but ${script.reason}`, { file: file.name }, {
      hint: /controls transactions itself$/.test(script.reason ?? "")
        ? "Take out its transaction statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT): strata runs each seed in a " +
          "transaction of its own (a plain BEGIN at the top and COMMIT at the end of the file are taken off for you)"
        : /^annotated /.test(script.reason ?? "")
        ? "Take out the annotation: a seed always runs in a transaction; " +
          "a statement that cannot (VACUUM, CREATE INDEX CONCURRENTLY) belongs in a migration"
        : "Move that statement into a migration",
    });
  }
  return { kind: "sql", file: file.name, script };
}

async function runSql(
  session: Session,
  p: PreparedSql,
  result: SeedResult,
  before: () => readonly string[],
): Promise<void> {
  const statements = p.script.statements;
  let counts: number[];
  const script = ["BEGIN", ...statements.map((s) => s.sql), "COMMIT"];
  try {
    counts = await session.execScript(script);
  } catch (error) {
    if (scriptLeftTransactionOpen(error, script.length)) await session.exec("ROLLBACK").catch(() => {});
    if (error instanceof ScriptError && error.index >= 1 && error.index <= statements.length) {
      throw scriptError("SEED_FAILED", p.file, p.script, error.index - 1, error.server, {
        cause: error,
        hint: keptAfterFailure(p.file, before()),
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

  let table: { oid: number; schema: string; name: string; self_referencing: boolean } | undefined;
  try {
    [table] = await session.query<{ oid: number; schema: string; name: string; self_referencing: boolean }>(
      `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name,
              EXISTS (SELECT 1 FROM pg_catalog.pg_constraint f
                      WHERE f.conrelid = c.oid AND f.confrelid = c.oid AND f.contype = 'f') AS self_referencing
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')`,
      [seed.table],
    );
  } catch (error) {
    // invalid name syntax, too many dotted names, a cross-database reference
    if (!/^(42|0A)/.test((error as { code?: string }).code ?? "")) throw error;
    throw invalid(
      `"table" ${JSON.stringify(seed.table)} is not a table name PostgreSQL can read (${(error as Error).message})`,
      'Write table or schema.table; quote a name with capitals, spaces or dots as in SQL: "\\"My Table\\""',
    );
  }
  if (!table) {
    // A name with capitals is folded to lower case unless quoted, as in SQL: say so when that is the miss.
    const [alike] = await session.query<{ name: string }>(
      `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE lower(c.relname) = lower($1) AND c.relkind IN ('r', 'p') AND n.nspname NOT LIKE 'pg\\_%'
       ORDER BY n.nspname = ANY (current_schemas(false)) DESC, 1 LIMIT 1`,
      [seed.table.replace(/^.*\./, "").replaceAll('"', "")],
    );
    throw invalid(
      `unknown table ${seed.table}`,
      alike
        ? `Did you mean ${alike.name}? Names with capitals are read as lower case unless quoted: ` +
          `"table": ${JSON.stringify(alike.name)}`
        : "Run the migrations first (strata up), or fix the table name",
    );
  }
  const qualified = `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  const columns = await session.query<
    {
      name: string;
      type: string;
      cast_type: string;
      base: string;
      category: string;
      generated: boolean;
      sequence: string | null;
    }
  >(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN t.typtype <> 'd' AND t.typcategory IN ('S', 'V') AND a.atttypmod >= 0
                   THEN format('%I.%I', tn.nspname, t.typname)
                 WHEN t.typtype <> 'd' AND et.typcategory IN ('S', 'V') AND et.typtype <> 'd' AND a.atttypmod >= 0
                   THEN format('%I.%I[]', en.nspname, et.typname)
                 WHEN t.typtype = 'd' AND bt.typcategory IN ('S', 'V') AND bt.typtype <> 'd' AND t.typtypmod >= 0
                   THEN format('%I.%I', bn.nspname, bt.typname)
                 ELSE format_type(a.atttypid, a.atttypmod) END AS cast_type,
            format_type(CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE a.atttypid END, NULL) AS base,
            t.typcategory AS category,
            (a.attgenerated <> '' OR a.attidentity = 'a') AS generated,
            pg_get_serial_sequence($2, a.attname) AS sequence
     FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
     JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
     LEFT JOIN pg_catalog.pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
     LEFT JOIN pg_catalog.pg_namespace en ON en.oid = et.typnamespace
     LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype AND t.typtype = 'd'
     LEFT JOIN pg_catalog.pg_namespace bn ON bn.oid = bt.typnamespace
     WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table.oid, qualified],
  );
  const byName = new Map<string, Column>(columns.map((c) => [c.name, {
    name: c.name,
    type: c.type,
    castType: c.cast_type,
    base: c.base,
    isArray: c.category === "A",
    isJson: c.base === "json" || c.base === "jsonb",
    generated: c.generated,
    sequence: c.sequence,
    keyInJs: KEYS_IN_JS.has(c.base) || c.category === "E",
  }]));
  for (const key of seed.key) {
    if (!byName.has(key)) {
      throw invalid(
        `key column ${key} is not a column of ${table.name}`,
        `Its columns: ${columns.map((c) => c.name).join(", ")}`,
      );
    }
  }
  const keySet = [...new Set(seed.key)].sort();
  // The key columns of each unique index (not its INCLUDE columns).
  const unique = await session.query<{ columns: string[]; immediate: boolean }>(
    `SELECT array_agg(a.attname::text ORDER BY a.attname) AS columns, bool_and(i.indimmediate) AS immediate
     FROM pg_catalog.pg_index i
     JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid
       AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])
     WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
     GROUP BY i.indexrelid`,
    [table.oid],
  );
  const matching = unique.filter((u) =>
    u.columns.length === keySet.length && u.columns.every((c, i) => c === keySet[i])
  );
  if (matching.some((u) => !u.immediate)) {
    throw invalid(
      `the unique constraint on ${table.name} (${
        seed.key.join(", ")
      }) is DEFERRABLE, and ON CONFLICT cannot use a deferrable constraint`,
      "Make it NOT DEFERRABLE in a migration (ON CONFLICT uses every unique index on these columns, " +
        "and refuses if one of them is deferrable)",
    );
  }
  if (matching.length === 0) {
    const addUnique = `ALTER TABLE ${qualified} ADD UNIQUE (${seed.key.map(quoteIdent).join(", ")})`;
    const near = await nearUniqueIndex(session, table.oid, seed.key);
    if (near) {
      const target = `(${near.terms.join(", ")})${near.predicate ? ` WHERE ${near.predicate}` : ""}`;
      throw invalid(
        `no unique index or constraint on ${table.name} (${seed.key.join(", ")}) that ON CONFLICT can use: ` +
          `the unique index ${near.name} ${target} is ${near.predicate ? "partial" : "on an expression"}`,
        `A data seed needs a plain unique index on exactly its key. Seed this table with an SQL seed that names the ` +
          `index: INSERT INTO ${qualified} ... ON CONFLICT ${target} DO NOTHING` +
          (near.predicate
            ? `; or, if (${seed.key.join(", ")}) is unique in every row, add in a migration: ${addUnique}`
            : ""),
      );
    }
    throw invalid(
      `no unique index or constraint on ${table.name} (${seed.key.join(", ")}): the key must be unique for ON CONFLICT`,
      `Add one in a migration: ${addUnique}`,
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
    selfReferencing: table.self_referencing,
  };
  if (typeof seed.rows === "function") prepared.compute = seed.rows as PreparedData["compute"];
  else {
    const { keyValues, ...grouped } = groupRows(prepared, seed.rows);
    if (keyValues) await checkKeysOnServer(session, prepared, keyValues);
    Object.assign(prepared, grouped);
  }
  return prepared;
}

/**
 * A partial or expression unique index over the key's columns (a soft-delete
 * `UNIQUE (email) WHERE deleted_at IS NULL`, a `UNIQUE (lower(email))`): ON CONFLICT on the bare
 * columns cannot use it, and the message should name it rather than say there is none. Its
 * terms are as ON CONFLICT writes them (an expression in parentheses).
 */
async function nearUniqueIndex(
  session: Session,
  table: number,
  key: readonly string[],
): Promise<{ name: string; terms: string[]; predicate: string | null } | undefined> {
  const indexes = await session.query<{ name: string; terms: string[]; columns: string[]; predicate: string | null }>(
    `SELECT c.relname AS name,
            ARRAY(SELECT CASE WHEN i.indkey[k - 1] = 0 THEN '(' || pg_get_indexdef(i.indexrelid, k, true) || ')'
                              ELSE pg_get_indexdef(i.indexrelid, k, true) END
                  FROM generate_series(1, i.indnkeyatts) k ORDER BY k) AS terms,
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = i.indrelid AND a.attnum > 0 AND NOT a.attisdropped
                    AND (a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1])
                         OR strpos(pg_get_expr(i.indexprs, i.indrelid), quote_ident(a.attname)) > 0)) AS columns,
            pg_get_expr(i.indpred, i.indrelid) AS predicate
     FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = $1 AND i.indisunique AND (i.indpred IS NOT NULL OR i.indexprs IS NOT NULL)
     ORDER BY i.indexprs IS NOT NULL, c.relname`,
    [table],
  );
  const wanted = new Set(key);
  return indexes.find((i) => i.columns.length === wanted.size && i.columns.every((c) => wanted.has(c)));
}

/**
 * Rows that give the same columns, as PostgreSQL text input: one array per column (the
 * parameters of the statement), converted once while the rows are checked.
 */
interface RowGroup {
  columns: Column[];
  values: Array<Array<string | null>>;
  count: number;
  /** The seed's row number (1-based) of each row, when the group is not one run of consecutive rows. */
  rowNumbers?: number[];
}

/**
 * Checks rows against the table (columns, keys, duplicates, values) and groups consecutive
 * rows that give the same columns: groups run in order, so rows go in in the seed's order
 * (a row may refer to one before it, and generated ids follow the order).
 */
function groupRows(
  p: PreparedData,
  rows: readonly SeedRow[],
): { groups: RowGroup[]; total: number; keyValues?: string[][] } {
  const invalid = (message: string, hint?: string) =>
    new FileError("SEED_INVALID", message, { file: p.file }, hint ? { hint } : {});
  if (!Array.isArray(rows)) throw invalid('"rows" must be a list of objects');
  const known = () => `Its columns: ${[...p.columns.keys()].join(", ")}`;
  const groups: Array<RowGroup & { keyIndexes: number[]; shape: string }> = [];
  const seen = new Map<string, number>();
  const canonical = p.key.map((k) => keyCanonical(p.columns.get(k)!));
  // Keys of other types (a date, a timestamptz, a boolean) go to the server to compare.
  const keyValues = p.key.every((k) => p.columns.get(k)!.keyInJs) ? undefined : p.key.map((): string[] => []);
  let previousKeys: string[] = [];
  let previousGroup: (RowGroup & { keyIndexes: number[]; shape: string }) | undefined;
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index];
    const where = `row ${index + 1}`;
    if (typeof row !== "object" || row === null || Array.isArray(row)) throw invalid(`${where} is not an object`);
    // Rows of one seed mostly share their shape: the same keys as the row before mean the same group.
    const rowKeys = Object.keys(row);
    const same = previousGroup !== undefined && sameKeys(rowKeys, previousKeys, row);
    let group = same ? previousGroup : undefined;
    const names = same ? rowKeys : rowKeys.filter((k) => row[k] !== undefined);
    if (!group) {
      const shape = names.slice().sort().join("\u0000");
      const last = groups.at(-1);
      if (last?.shape === shape) group = last;
    }
    if (!group) {
      for (const name of names) {
        const column = p.columns.get(name);
        if (!column) throw invalid(`${where}: unknown column ${name} in ${p.table}`, known());
        if (column.generated) throw invalid(`${where}: column ${name} is generated and cannot be given a value`);
      }
      const columns = names.slice().sort().map((n) => p.columns.get(n)!);
      const keyIndexes = p.key.map((k) => columns.findIndex((c) => c.name === k));
      group = {
        columns,
        values: columns.map(() => []),
        count: 0,
        keyIndexes,
        shape: names.slice().sort().join("\u0000"),
      };
      groups.push(group);
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
        throw invalid(
          `${where}, column ${column.name}: ${(error as Error).message}`,
          (error as { hint?: string }).hint,
        );
      }
    }
    group.count++;
    const last = group.count - 1;
    let keyText = "";
    for (let k = 0; k < p.key.length; k++) {
      const value = keyIndexes[k] < 0 ? null : values[keyIndexes[k]][last];
      if (value === null) throw invalid(`${where} has no value for key column ${p.key[k]}`);
      const text = canonical[k](value);
      keyText = k === 0 ? text : `${keyText}\u0000${text}`;
      keyValues?.[k].push(value);
    }
    const earlier = seen.get(keyText);
    if (earlier !== undefined) {
      throw invalid(`rows ${earlier + 1} and ${index + 1} have the same key (${p.key.join(", ")})`);
    }
    seen.set(keyText, index);
  }
  // Many shapes interleaved (an optional column given in every other row) would make a
  // statement of each run of rows: past a few runs, rows of one shape go together, in order.
  // Not in a table with a foreign key to itself: a row may refer to an earlier one of
  // another shape (a tree whose levels give different columns).
  const merged = groups.length <= MAX_RUNS || p.selfReferencing ? groups : mergeByShape(groups);
  return {
    groups: merged.map(({ columns, values, count, rowNumbers }) => ({
      columns,
      values,
      count,
      ...(rowNumbers ? { rowNumbers } : {}),
    })),
    total: rows.length,
    ...(keyValues ? { keyValues } : {}),
  };
}

/**
 * The duplicate check for keys whose equality only the server knows: `2024-01-01` and
 * `2024-1-1` are one date, `true` and `t` one boolean. Both would be sent, and the second
 * one skipped (or, with update, the row set from either of them on every run). A value the
 * column refuses is left for the run, which names its row and column.
 *
 * @throws {FileError} SEED_INVALID naming the two rows
 */
async function checkKeysOnServer(session: Session, p: PreparedData, keyValues: string[][]): Promise<void> {
  if (keyValues[0].length < 2) return;
  const columns = p.key.map((k) => p.columns.get(k)!);
  const aliases = columns.map((_c, i) => `k${i}`);
  let duplicate: { first: number; second: number } | undefined;
  try {
    [duplicate] = await session.query<{ first: number; second: number }>(
      `SELECT o[1]::int AS first, o[2]::int AS second FROM (
         SELECT array_agg(u.o ORDER BY u.o) AS o
         FROM unnest(${columns.map((_c, i) => `$${i + 1}::text[]`).join(", ")}) WITH ORDINALITY AS u(${
        aliases.join(", ")
      }, o)
         GROUP BY ${columns.map((c, i) => `u.${aliases[i]}::${c.castType}`).join(", ")}
         HAVING count(*) > 1) d
       ORDER BY o[2] LIMIT 1`,
      keyValues,
    );
  } catch (error) {
    // A key the column refuses (or its domain's CHECK): the run names its row and column.
    if (/^(22|23514)/.test(serverErrorFields(error)?.code ?? "")) return;
    throw error;
  }
  const describeKey = (row: number) =>
    columns.map((c, i) => `${c.name} ${JSON.stringify(keyValues[i][row - 1])}`).join(", ");
  if (duplicate) {
    throw new FileError(
      "SEED_INVALID",
      `rows ${duplicate.first} and ${duplicate.second} have the same key (${p.key.join(", ")})`,
      { file: p.file },
      {
        hint: `${describeKey(duplicate.first)} and ${describeKey(duplicate.second)} are one key to PostgreSQL: ` +
          "keep one of the rows",
      },
    );
  }
}

/**
 * A key value as the column's equality sees it, for the duplicate check: `01` and `1` are one
 * integer, `A@x.io` and `a@x.io` one citext, upper- and lower-case uuids one uuid. Other
 * types compare as text.
 */
function keyCanonical(column: Column): (text: string) => string {
  switch (column.base) {
    case "smallint":
    case "integer":
    case "bigint":
      return (text) => (/^\s*[+-]?\d+\s*$/.test(text) ? BigInt(text.trim()).toString() : text);
    case "numeric":
      return (text) => {
        if (/^\s*nan\s*$/i.test(text)) return "NaN";
        const match = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(text);
        if (!match || (match[2] === "" && (match[3] ?? "") === "")) return text;
        const fraction = match[3] ?? "";
        let digits = (match[2] + fraction).replace(/^0+/, "");
        if (digits === "") return "0";
        let scale = Number(match[4] ?? 0) - fraction.length;
        while (digits.endsWith("0")) {
          digits = digits.slice(0, -1);
          scale++;
        }
        return `${match[1] === "-" ? "-" : ""}${digits}e${scale}`;
      };
    case "real":
    case "double precision":
      return (text) => {
        const value = Number(text.trim().replace(/^([+-]?)inf(inity)?$/i, "$1Infinity"));
        return Number.isNaN(value) && !/^\s*nan\s*$/i.test(text) ? text : String(value);
      };
    case "uuid":
      return (text) => text.trim().toLowerCase().replace(/[{}-]/g, "");
    case "citext":
      return (text) => text.toLowerCase();
    case "character":
      return (text) => text.replace(/ +$/, "");
    default:
      return (text) => text;
  }
}

/** The largest batch searched for its failing row (each probe sends it again from its first row). */
const MAX_SEARCHED_BATCH = 50_000;

/** Runs of same-shape rows kept apart (so the seed's order holds across shapes) before they are merged by shape. */
const MAX_RUNS = 32;

function mergeByShape<G extends RowGroup & { shape: string }>(groups: readonly G[]): G[] {
  const byShape = new Map<string, G & { rowNumbers: number[] }>();
  let first = 1;
  for (const group of groups) {
    let into = byShape.get(group.shape);
    if (!into) {
      into = { ...group, values: group.columns.map(() => []), count: 0, rowNumbers: [] };
      byShape.set(group.shape, into);
    }
    for (let c = 0; c < group.values.length; c++) {
      const target = into.values[c];
      for (const value of group.values[c]) target.push(value);
    }
    for (let r = 0; r < group.count; r++) into.rowNumbers.push(first + r);
    into.count += group.count;
    first += group.count;
  }
  return [...byShape.values()];
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
  let { groups, total } = { groups: p.groups!, total: p.total! };
  await session.exec("BEGIN");
  // With a rows function: a savepoint between what its queries wrote and the seed's rows.
  let afterRows = false;
  try {
    if (p.compute) {
      // In the seed's transaction: what the function's queries write goes with the seed's rows,
      // or not at all when the function or its rows fail.
      let keyValues: string[][] | undefined;
      ({ groups, total, keyValues } = groupRows(p, await p.compute({ query: seedQuery(session) })));
      if (keyValues) await checkKeysOnServer(session, p, keyValues);
      await session.exec("SAVEPOINT strata_seed_rows");
      afterRows = true;
    }
    await upsertRows(session, p, groups, result, batchSize);
  } catch (error) {
    // The seed's transaction is open (aborted) unless the connection went with it.
    if (connectionGone(error)) throw error;
    const failure = serverErrorFields(error);
    const batch = (error as { seedBatch?: number }).seedBatch;
    // A value the column refuses (bad input, too long, out of range), a NULL for NOT NULL, a
    // CHECK, a foreign key or unique value: the server does not say which row (at most which
    // value). Find it, so the message can: after what the rows function wrote, when there is
    // one (its rows may refer to it), else in a transaction of its own.
    const locate = batch !== undefined && failure?.code !== undefined &&
      /^(22|23502|23503|23505|23514)/.test(failure.code);
    let at: Awaited<ReturnType<typeof locateFailingRow>>;
    if (locate && afterRows) {
      at = await session.exec("ROLLBACK TO SAVEPOINT strata_seed_rows")
        .then(() => locateFailingRow(session, p, groups, batchSize, failure!, batch!, true))
        .catch(() => undefined);
    }
    await session.exec("ROLLBACK").catch(() => {});
    if (locate && !afterRows) {
      at = await locateFailingRow(session, p, groups, batchSize, failure!, batch!, false).catch(() => undefined);
    }
    if (at) Object.assign(error as object, { seedRow: at });
    throw error;
  }
  // A COMMIT that fails (a deferred constraint) ends the transaction itself: nothing to roll back.
  await session.exec("COMMIT");
  result.unchanged = total - result.inserted - result.updated;
}

/**
 * A rows function's `query`, in the seed's transaction: each query in a savepoint of its own,
 * one at a time, so a failed query the function catches leaves the transaction usable, as it
 * did when each query ran on its own.
 */
function seedQuery(session: Session): SeedContext["query"] {
  let queue: Promise<unknown> = Promise.resolve();
  return <T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]> => {
    const run = queue.then(async () => {
      await session.exec("SAVEPOINT strata_seed_query");
      try {
        const rows = await session.query<T>(text, params);
        await session.exec("RELEASE SAVEPOINT strata_seed_query");
        return rows;
      } catch (error) {
        if (!connectionGone(error)) await session.exec("ROLLBACK TO SAVEPOINT strata_seed_query").catch(() => {});
        throw error;
      }
    });
    queue = run.catch(() => {});
    return run;
  };
}

/** Writes a data seed's rows in the open transaction, and moves the sequences of ids it gave. */
async function upsertRows(
  session: Session,
  p: PreparedData,
  groups: readonly RowGroup[],
  result: SeedResult,
  batchSize: number,
): Promise<void> {
  // Rows given their own id (an identity BY DEFAULT or serial column): the column's sequence
  // moves past the highest value, or the application's next insert collides with them.
  const given = new Set(groups.flatMap((g) => g.columns.filter((c) => c.sequence !== null && INTEGERS.has(c.base))));
  // A later group of rows that leaves such a column out takes the sequence's next value: the
  // sequence moves before that group runs (a seed giving ids 1 and 2 to its first rows, then
  // leaving the rest to the sequence, would collide with its own rows otherwise).
  // Right after the group that gave them, when the next group leaves them out (a move takes
  // the column's max, so it covers every group before it too).
  const movedBetween = groups.map((group, g) =>
    group.columns.filter((c) => given.has(c) && groups[g + 1]?.columns.includes(c) === false)
  );
  const movable = movedBetween.some((columns) => columns.length > 0)
    ? await movableSequences(session, given)
    : undefined;
  // Every batch is sent at once (postgres.js pipelines them on the session): the server
  // works on one batch while the next is serialized, instead of each waiting for the other.
  // They run in order in the one transaction; after a failure the rest fail too, and the
  // first failure is the one reported.
  const batches: Array<Promise<Array<{ inserted: number; updated: number }>>> = [];
  const steps: Array<Promise<unknown>> = [];
  const statements = groups.map((group) => upsertStatement(p, group.columns));
  for (const { group, g, start, end } of seedBatches(groups, batchSize)) {
    const batch = session.query<{ inserted: number; updated: number }>(statements[g], batchValues(group, start, end));
    batches.push(batch);
    steps.push(batch);
    if (end < group.count) continue;
    for (const column of movedBetween[g]) if (movable?.has(column)) steps.push(moveSequence(session, p, column));
  }
  const settled = await Promise.allSettled(steps);
  const failed = settled.findIndex((r) => r.status === "rejected");
  if (failed >= 0) {
    const reason = (settled[failed] as PromiseRejectedResult).reason;
    // Which batch failed (its place in seedBatches), for locating its row.
    const batch = batches.indexOf(steps[failed] as (typeof batches)[number]);
    if (batch >= 0 && typeof reason === "object" && reason !== null) Object.assign(reason, { seedBatch: batch });
    throw reason;
  }
  for (const batch of batches) {
    const [counts] = await batch;
    result.inserted += Number(counts.inserted);
    result.updated += Number(counts.updated);
  }
  if (result.inserted > 0 && given.size > 0) {
    for (const column of movable ?? await movableSequences(session, given)) await moveSequence(session, p, column);
  }
}

/**
 * The columns whose sequence strata may move: only a role that may read and set the sequence
 * (else the app's own grants decide, as before).
 */
async function movableSequences(session: Session, columns: ReadonlySet<Column>): Promise<Set<Column>> {
  const movable = new Set<Column>();
  for (const column of columns) {
    const [allowed] = await session.query<{ ok: boolean }>(
      "SELECT has_sequence_privilege($1, 'SELECT') AND has_sequence_privilege($1, 'UPDATE') AS ok",
      [column.sequence],
    );
    if (allowed?.ok) movable.add(column);
  }
  return movable;
}

/** Moves a column's sequence past the column's highest value: never past its maximum, never backwards. */
function moveSequence(session: Session, p: PreparedData, column: Column): Promise<unknown> {
  return session.query(
    `SELECT setval(q.seqrelid, x.top::bigint)
     FROM pg_catalog.pg_sequence q,
          (SELECT max(${quoteIdent(column.name)})::numeric AS top FROM ${p.sql}) x,
          (SELECT last_value, is_called FROM ${column.sequence}) s
     WHERE q.seqrelid = $1::regclass AND q.seqincrement > 0 AND x.top IS NOT NULL AND x.top <= q.seqmax
       AND x.top >= CASE WHEN s.is_called THEN s.last_value::numeric + q.seqincrement ELSE s.last_value END`,
    [column.sequence],
  );
}

/**
 * The row (1-based, in the seed's order), key and column (for a refused value) of the row that
 * failed, in a transaction that is rolled back: the batches before the one that failed run
 * again as the seed sent them; then ever shorter parts of that batch, from its first row, each
 * rolled back, find the row with which it fails as the seed did. The row is named only when
 * the rows before it pass and the second run agrees with the first: where it may not (a batch
 * before fails, values a sequence gave differ), none is. Runs only after a failure.
 */
async function locateFailingRow(
  session: Session,
  p: PreparedData,
  groups: readonly RowGroup[],
  batchSize: number,
  failure: ServerErrorFields,
  failedBatch: number,
  /** In the seed's open transaction (after what its rows function wrote), in a savepoint. */
  nested = false,
): Promise<{ row: number; key: string; column?: string } | undefined> {
  const code = failure.code!;
  // A foreign key's or unique value's detail names the value; a CHECK's or NOT NULL's shows
  // the whole row, defaults and sequence values included, which differ from run to run. An
  // update seed's statement inserts a batch's new rows before it updates the others, not in
  // the seed's order: there the whole row must match too, or no row is named.
  const valueInDetail = code === "23503" || code === "23505";
  const compareDetail = valueInDetail || (p.update && (code === "23502" || code === "23514"));
  const asTheSeedFailed = (server: ServerErrorFields) =>
    server.code === code && server.message === failure.message && server.constraint === failure.constraint &&
    (!compareDetail || server.detail === failure.detail);
  let target: SeedBatch | undefined;
  await session.exec(nested ? "SAVEPOINT strata_locate" : "BEGIN");
  try {
    const earlier: Array<Promise<unknown>> = [];
    const statements = groups.map((group) => upsertStatement(p, group.columns));
    for (const batch of seedBatches(groups, batchSize)) {
      if (batch.index === failedBatch) {
        target = batch;
        break;
      }
      earlier.push(session.query(statements[batch.g], batchValues(batch.group, batch.start, batch.end)));
    }
    const settled = await Promise.allSettled(earlier);
    if (!target || settled.some((r) => r.status === "rejected")) return undefined;
    const { group, g, start, end } = target;
    // Each probe sends the batch again from its first row: a very large batch would cost
    // minutes to search (the default batch is 10,000 rows).
    if (end - start > MAX_SEARCHED_BATCH) return undefined;
    const statement = statements[g];
    /** True: rows [start, stop) fail as the seed did; false: they pass; undefined: they fail otherwise. */
    const probe = async (stop: number): Promise<boolean | undefined> => {
      await session.exec("SAVEPOINT strata_probe");
      try {
        await session.query(statement, batchValues(group, start, stop));
        return false;
      } catch (error) {
        const server = serverErrorFields(error);
        if (!server) throw error;
        return asTheSeedFailed(server) ? true : undefined;
      } finally {
        await session.exec("ROLLBACK TO SAVEPOINT strata_probe");
      }
    };
    // Rows [start, low) do not fail as the seed did; rows [start, high) do.
    let low = start;
    let high = end;
    if ((await probe(high)) !== true) return undefined;
    while (high - low > 1) {
      const middle = (low + high) >> 1;
      if ((await probe(middle)) === true) high = middle;
      else low = middle;
    }
    const index = high - 1;
    // The rows before it must pass: one that fails otherwise (a row referring to a later row
    // of its batch, checked at the end of the statement) may hide where the seed failed.
    if (index > start && (await probe(index)) !== false) return undefined;
    const key = p.key.map((k) => {
      const c = group.columns.findIndex((column) => column.name === k);
      return `${k} ${c < 0 ? "?" : JSON.stringify(group.values[c][index])}`;
    }).join(", ");
    // NOT NULL's message names its column already, a foreign key's or unique value's detail
    // its columns and values.
    if (code === "23502" || valueInDetail) return { row: rowNumber(target, index), key };
    const column = await failingColumn(session, group, index, code);
    // A refused value is the row's only with its column (a sequence past its type is no
    // row's); a table CHECK only when it reads nothing but the columns the rows give (a
    // second run takes other values from a sequence or a default, and may fail on another
    // row); another CHECK (a domain's) only with its column.
    const tableCheck = code === "23514" ? await tableCheckColumns(session, p, failure.constraint) : undefined;
    if (!column && (code.startsWith("22") || (code === "23514" && tableCheck === undefined))) return undefined;
    if (tableCheck && !tableCheck.every((name) => group.columns.some((c) => c.name === name))) return undefined;
    return { row: rowNumber(target, index), key, ...(column ? { column } : {}) };
  } finally {
    await session.exec(nested ? "ROLLBACK TO SAVEPOINT strata_locate" : "ROLLBACK");
  }
}

/** A batch of a group's rows, as the seeder sends them: `index` counts batches over the groups. */
interface SeedBatch {
  group: RowGroup;
  /** The group's place in the seed's groups. */
  g: number;
  index: number;
  /** Rows [start, end) of the group. */
  start: number;
  end: number;
  /** The rows of the groups before. */
  before: number;
}

/** The seed's batches in the order they are sent: the writer and the search for a failing row agree on them. */
function* seedBatches(groups: readonly RowGroup[], batchSize: number): Generator<SeedBatch> {
  let index = 0;
  let before = 0;
  for (const [g, group] of groups.entries()) {
    for (let start = 0; start < group.count; start += batchSize) {
      yield { group, g, index: index++, start, end: Math.min(start + batchSize, group.count), before };
    }
    before += group.count;
  }
}

/** The values of rows [start, end) of a group, column by column. */
function batchValues(group: RowGroup, start: number, end: number): Array<Array<string | null>> {
  return start === 0 && end >= group.count ? group.values : group.values.map((column) => column.slice(start, end));
}

function rowNumber(target: SeedBatch, index: number): number {
  return target.group.rowNumbers?.[index] ?? target.before + index + 1;
}

/** The columns a CHECK of the table reads, or undefined when the constraint is not the table's (a domain's). */
async function tableCheckColumns(
  session: Session,
  p: PreparedData,
  constraint: string | undefined,
): Promise<string[] | undefined> {
  if (constraint === undefined) return undefined;
  const rows = await session.query<{ name: string | null }>(
    `SELECT a.attname::text AS name
       FROM pg_catalog.pg_constraint c
       LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
      WHERE c.conrelid = $1::regclass AND c.conname = $2 AND c.contype = 'c'`,
    [p.sql, constraint],
  );
  return rows.length === 0 ? undefined : rows.flatMap((r) => (r.name === null ? [] : [r.name]));
}

/**
 * The column of a failing row whose value fails with `code` on its own (the server's message
 * names the type, not the column): each value goes into a temporary column of the table
 * column's type, assigned as the INSERT assigns it (so a varchar(n)'s length and a domain's
 * CHECK apply). Undefined when no single value fails that way (a table CHECK over columns).
 */
async function failingColumn(
  session: Session,
  group: RowGroup,
  index: number,
  code: string,
): Promise<string | undefined> {
  for (let c = 0; c < group.columns.length; c++) {
    const column = group.columns[c];
    await session.exec("SAVEPOINT strata_column");
    try {
      // The type comes from the catalog (format_type), never from the seed.
      await session.exec(`CREATE TEMPORARY TABLE "strata probe" (v ${column.type})`);
      await session.query(`INSERT INTO pg_temp."strata probe" VALUES (($1::text)::${column.castType})`, [
        group.values[c][index],
      ]);
    } catch (error) {
      if (!(error as { severity?: unknown }).severity) throw error;
      if ((error as { code?: string }).code === code) return column.name;
    } finally {
      await session.exec("ROLLBACK TO SAVEPOINT strata_column");
    }
  }
  return undefined;
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
  const value = (c: Column, i: number) => (isKey(c) ? `i.${names[i]}` : `i.${raw(i)}::${c.castType}`);
  // WITH ORDINALITY keeps the seed's row order, so generated ids follow it.
  const selected = columns.map((c, i) => (isKey(c) ? `u.${raw(i)}::${c.castType} AS ${names[i]}` : `u.${raw(i)}`));
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

const INTEGERS = new Set(["smallint", "integer", "bigint"]);

/** Key types whose equality keyCanonical reproduces (enums compare by their label too). */
const KEYS_IN_JS = new Set([
  "smallint",
  "integer",
  "bigint",
  "numeric",
  "real",
  "double precision",
  "uuid",
  "citext",
  "character",
  "character varying",
  "text",
]);

/** Types whose values a rounded JavaScript number would change. */
const EXACT = new Set(["smallint", "integer", "bigint", "numeric", "money"]);

/** A value as PostgreSQL's text input for the column's type. */
function toText(value: unknown, column: Column): string | null {
  if (value === null || value === undefined) return null;
  // A string for a json or jsonb column is a JSON string, alike in .json and .ts seeds.
  if (column.isJson) return JSON.stringify(value);
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") {
    if (typeof value === "number" && !Number.isFinite(value)) return String(value).replace("Infinity", "infinity");
    if (
      typeof value === "number" && !Number.isSafeInteger(value) && Number.isInteger(value) && EXACT.has(column.base)
    ) {
      throw Object.assign(
        new Error(
          `${value} is past 2^53, where a JavaScript number is no longer exact (it may not be the number written)`,
        ),
        { hint: 'Write it as a string ("9007199254740993"), or in a .ts seed as a BigInt (9007199254740993n)' },
      );
    }
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
    return arrayLiteral(value, elementOf(column));
  }
  throw new Error(`an object for a column of type ${column.type} (only json and jsonb columns take objects)`);
}

/** An array column's element, made once per column (values are converted row by row). */
const ELEMENTS = new WeakMap<Column, Column>();

function elementOf(column: Column): Column {
  let element = ELEMENTS.get(column);
  if (element === undefined) {
    const base = column.base.replace(/\[\]$/, "");
    element = {
      ...column,
      type: column.type.replace(/\[\]$/, ""),
      base,
      isArray: false,
      isJson: base === "json" || base === "jsonb",
    };
    ELEMENTS.set(column, element);
  }
  return element;
}

/**
 * An array literal; each element is converted as a single value of the element type is
 * (bytes as hex, a Date as UTC, a number past 2^53 refused, any value of a json[] or jsonb[]
 * as JSON, a list included), other objects as JSON.
 */
function arrayLiteral(values: readonly unknown[], element: Column): string {
  const items = values.map((v) => {
    if (v === null || v === undefined) return "NULL";
    if (Array.isArray(v) && !element.isJson) return arrayLiteral(v, element);
    const text = typeof v === "object" && !(v instanceof Date) && !(v instanceof Uint8Array)
      ? JSON.stringify(v)
      : toText(v, element)!;
    return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  });
  return `{${items.join(",")}}`;
}

/** What a failed seed leaves: nothing of its own (its transaction rolled back), the seeds before it, none after. */
function keptAfterFailure(file: string, before: readonly string[]): string {
  return `Nothing of ${file} was kept; ${
    before.length === 0 ? "no seed ran before it" : `the seeds before it stay (${before.join(", ")})`
  }, and the ones after it did not run. Fix ${file} and run the seeds again (a data seed that ran changes nothing the second time)`;
}

function seedError(error: unknown, p: PreparedData | PreparedSql, before: readonly string[]): StrataError {
  if (error instanceof FileError && error.code === "SEED_INVALID" && p.kind === "data" && p.compute) {
    // Rows from a function are checked when the seed runs, after the seeds before it committed.
    return new FileError("SEED_INVALID", error.reason, { file: error.file }, {
      cause: error.cause,
      hint: `${error.hint ? `${error.hint}. ` : ""}Its rows come from a function, so they were checked when it ran: ` +
        `nothing of ${p.file} was written, ${
          before.length === 0 ? "and no seed ran before it" : `but the seeds before it stay (${before.join(", ")})`
        }`,
    });
  }
  if (error instanceof StrataError) return error;
  const server = serverErrorFields(error);
  const message = error instanceof Error ? error.message : String(error);
  const detail = server?.detail ? `, ${server.detail}` : "";
  const at = (error as { seedRow?: { row: number; key: string; column?: string } }).seedRow;
  return new FileError(
    "SEED_FAILED",
    `${at ? `row ${at.row} (${at.key})${at.column ? `, column ${at.column}` : ""}: ` : ""}${message}${detail}`,
    { file: p.file },
    {
      cause: error,
      hint: keptAfterFailure(p.file, before),
      ...(server ? { server } : {}),
    },
  );
}

/**
 * Reads a database's schema into a {@linkcode SchemaSnapshot}: one flat catalog query per
 * object kind against pg_catalog, all in one REPEATABLE READ READ ONLY picture of the database
 * with an empty search_path (so every name the server deparses is qualified and the picture is
 * consistent); see _read_catalog.ts for how a server's two sessions share it.
 */
import type { Database } from "../db/database.ts";
import { historyTableFor } from "../migrate/history.ts";
import { storedTable } from "../migrate/version_table.ts";
import { compareText, sortBy } from "./_compare.ts";
import { type Raw, type RawCatalog, readCatalog } from "./_read_catalog.ts";
import {
  normalizeDefinition,
  normalizeExpression,
  normalizeFunctionDefinition,
  normalizeIndexDefinition,
  normalizeViewDefinition,
} from "./_normalize.ts";
import type {
  ConstraintType,
  SchemaSnapshot,
  SnapshotColumn,
  SnapshotConstraint,
  SnapshotIdentity,
  SnapshotObjects,
  SnapshotSequence,
  SnapshotTable,
} from "./snapshot_types.ts";

export type * from "./snapshot_types.ts";

/** A table to leave out of a snapshot. */
export interface TableRef {
  schema: string;
  table: string;
}

/** Options for {@linkcode snapshotSchema}. */
export interface SnapshotOptions {
  /**
   * Tables to leave out (with their columns, constraints, indexes, triggers, policies and
   * owned sequences), on top of the version tables found by shape; pass your
   * `x-migrations-table` and its `_history` sibling when they have custom names.
   */
  exclude?: TableRef[];
  /** Only these schemas (default: every schema but pg_catalog, information_schema, pg_toast*, pg_temp*). */
  schemas?: string[];
  /**
   * Keep golang-migrate version tables (exactly `version bigint, dirty boolean`) and their
   * `<name>_history` siblings in the snapshot (default false: they are data, not schema).
   */
  includeVersionTables?: boolean;
}

/**
 * Takes a snapshot of the database's schema.
 *
 * Covers schemas, extensions, enums, domains, composite and range types, sequences (with
 * their settings and OWNED BY), tables and columns (type, default, NOT NULL, identity,
 * generated, collation), constraints of every kind, indexes, views, materialized views,
 * functions and procedures, triggers, row-level security (flags and policies) and comments.
 * Objects that belong to an extension are skipped, and so are golang-migrate version tables
 * and strata's history tables. The result is deterministic: two snapshots of an unchanged
 * database are byte-identical once serialised with `snapshotToJson`, and PostgreSQL 15 and
 * PostgreSQL 18 (PGlite) give the same snapshot for the same migrations.
 *
 * @param db The database to read. On a server the snapshot uses two of its sessions when it
 *   can have them (both in one exported snapshot), one when it cannot.
 * @param options Tables to exclude and schemas to keep.
 * @returns The snapshot.
 * @throws {StrataError} `QUERY_FAILED` when a catalog query fails (the server's error is the cause).
 *
 * @example
 * ```ts
 * import { PGlite } from "@electric-sql/pglite";
 * import { pgliteDatabase } from "../db/pglite_database.ts";
 * import { snapshotSchema } from "./snapshot_schema.ts";
 * const db = pgliteDatabase(new PGlite());
 * await db.exec("CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL)");
 * const snapshot = await snapshotSchema(db);
 * console.log(snapshot.objects.tables.map((t) => t.name)); // [ "notes" ]
 * await db.close();
 * ```
 */
export async function snapshotSchema(db: Database, options: SnapshotOptions = {}): Promise<SchemaSnapshot> {
  return buildSnapshot(await readCatalog(db), options);
}

const str = (value: unknown): string => value as string;
const opt = (value: unknown): string | undefined => (value === null || value === undefined ? undefined : String(value));

/** Copies `fields` onto a new object in order, leaving out undefined ones (stable key order). */
function compact<T>(fields: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const key in fields) {
    const value = fields[key];
    if (value !== undefined) out[key] = value;
  }
  return out as T;
}

const CONSTRAINT_TYPES: Record<string, ConstraintType> = {
  p: "primary key",
  u: "unique",
  f: "foreign key",
  c: "check",
  x: "exclusion",
};

const POLICY_COMMANDS = { "*": "all", r: "select", a: "insert", w: "update", d: "delete" } as const;
const TRIGGER_ENABLED = { D: "disabled", R: "replica", A: "always" } as const;

function buildSnapshot(raw: RawCatalog, options: SnapshotOptions): SchemaSnapshot {
  const wanted = options.schemas ? new Set(options.schemas) : undefined;
  const inSchema = (row: Raw) => !wanted || wanted.has(str(row.schema));

  const excluded = new Set((options.exclude ?? []).map((ref) => tableKey(ref.schema, ref.table)));
  if (!options.includeVersionTables) { for (const key of versionTables(raw)) excluded.add(key); }
  const keep = (row: Raw) => inSchema(row) && !excluded.has(tableKey(str(row.schema), str(row.table ?? row.name)));

  // Identity sequences are reported on their column; the others are sequences of their own.
  const identities = new Map<string, Raw>();
  const sequences: SnapshotSequence[] = [];
  for (const row of raw.sequences.filter(inSchema)) {
    const owner = row.owned_by as Raw | null;
    if (owner && excluded.has(tableKey(str(owner.schema), str(owner.table)))) continue;
    if (owner?.kind === "i") {
      identities.set(`${tableKey(str(owner.schema), str(owner.table))}\u0000${str(owner.column)}`, row);
      continue;
    }
    sequences.push(compact<SnapshotSequence>({
      schema: str(row.schema),
      name: str(row.name),
      ...sequenceOptions(row),
      ownedBy: owner ? { table: str(owner.table), column: str(owner.column) } : undefined,
      comment: opt(row.comment),
    }));
  }

  const columnsByTable = new Map<string, Array<{ position: number; column: SnapshotColumn }>>();
  for (const row of raw.columns.filter(keep)) {
    const key = tableKey(str(row.schema), str(row.table));
    if (!row.local) continue; // inherited from a parent (partitions, INHERITS): the parent lists it
    const identityRow = identities.get(`${key}\u0000${str(row.name)}`);
    let identity: SnapshotIdentity | undefined;
    if (row.identity === "a" || row.identity === "d") {
      identity = {
        generation: row.identity === "a" ? "always" : "by default",
        sequence: identityRow ? str(identityRow.name) : "",
        ...(identityRow ? sequenceOptions(identityRow) : defaultIdentityOptions(str(row.type))),
      };
    }
    const generated = row.generated === "s" || row.generated === "v"
      ? { expression: normalizeExpression(str(row.default)), kind: row.generated === "s" ? "stored" : "virtual" }
      : undefined;
    const column = compact<SnapshotColumn>({
      name: str(row.name),
      type: str(row.type),
      notNull: row.not_null === true,
      default: generated || identity ? undefined : opt(row.default) && normalizeExpression(str(row.default)),
      identity,
      generated,
      collation: opt(row.collation),
      comment: opt(row.comment),
    });
    let list = columnsByTable.get(key);
    if (!list) columnsByTable.set(key, list = []);
    list.push({ position: Number(row.position), column });
  }

  const constraintsByTable = new Map<string, SnapshotConstraint[]>();
  for (const row of raw.constraints.filter(keep)) {
    const key = tableKey(str(row.schema), str(row.table));
    const type = CONSTRAINT_TYPES[str(row.type)];
    const references = row.references as Raw | null;
    const constraint = compact<SnapshotConstraint>({
      name: str(row.name),
      type,
      definition: normalizeDefinition(str(row.definition)),
      columns: type === "check" ? undefined : (row.columns as string[] | null) ?? undefined,
      references: references
        ? { schema: str(references.schema), table: str(references.table), columns: references.columns as string[] }
        : undefined,
      comment: opt(row.comment),
    });
    let list = constraintsByTable.get(key);
    if (!list) constraintsByTable.set(key, list = []);
    list.push(constraint);
  }

  const tables = raw.tables.filter(keep).map((row): SnapshotTable => {
    const key = tableKey(str(row.schema), str(row.name));
    const parents = (row.parents as Array<{ schema: string; name: string }> | null) ?? [];
    const bound = opt(row.partition_bound);
    return compact<SnapshotTable>({
      schema: str(row.schema),
      name: str(row.name),
      unlogged: row.persistence === "u" ? true : undefined,
      partitionBy: opt(row.partition_by),
      partitionOf: bound && parents[0] ? { schema: parents[0].schema, name: parents[0].name, bound } : undefined,
      inherits: !bound && parents.length > 0 ? parents : undefined,
      options: sortedOptions(row.options),
      rowSecurity: row.row_security === true,
      forceRowSecurity: row.force_row_security === true,
      columns: (columnsByTable.get(key) ?? []).sort((a, b) => a.position - b.position).map((entry) => entry.column),
      constraints: sortBy(constraintsByTable.get(key) ?? [], (c) => [c.name]),
      comment: opt(row.comment),
    });
  });

  const views = raw.views.filter(inSchema).map((row) => ({
    kind: str(row.kind),
    view: compact<SnapshotObjects["views"][number]>({
      schema: str(row.schema),
      name: str(row.name),
      definition: normalizeViewDefinition(str(row.definition)),
      options: sortedOptions(row.options),
      columnComments: (row.column_comments as Array<{ name: string; comment: string }> | null) ?? undefined,
      comment: opt(row.comment),
    }),
  }));

  const objects: SnapshotObjects = {
    schemas: sortBy(
      raw.schemas.filter((row) => !wanted || wanted.has(str(row.name))).map((row) =>
        compact({ name: str(row.name), comment: opt(row.comment) })
      ),
      (s: { name: string }) => [s.name],
    ),
    extensions: sortBy(
      raw.extensions.map((row) => ({ name: str(row.name), schema: str(row.schema), version: str(row.version) })),
      (e) => [e.name],
    ),
    enums: byName(
      raw.enums.filter(inSchema).map((row) =>
        compact({
          schema: str(row.schema),
          name: str(row.name),
          labels: (row.labels as string[] | null) ?? [],
          comment: opt(row.comment),
        })
      ),
    ),
    domains: byName(
      raw.domains.filter(inSchema).map((row) =>
        compact({
          schema: str(row.schema),
          name: str(row.name),
          type: str(row.type),
          collation: opt(row.collation),
          default: opt(row.default) && normalizeExpression(str(row.default)),
          notNull: row.not_null === true,
          checks: ((row.checks as Array<{ name: string; definition: string }> | null) ?? []).map((check) => ({
            name: check.name,
            definition: normalizeDefinition(check.definition),
          })),
          comment: opt(row.comment),
        })
      ),
    ),
    composites: byName(
      raw.composites.filter(inSchema).map((row) =>
        compact({
          schema: str(row.schema),
          name: str(row.name),
          attributes: ((row.attributes as Raw[] | null) ?? []).map((a) =>
            compact({ name: str(a.name), type: str(a.type), collation: opt(a.collation), comment: opt(a.comment) })
          ),
          comment: opt(row.comment),
        })
      ),
    ),
    ranges: byName(
      raw.ranges.filter(inSchema).map((row) =>
        compact({
          schema: str(row.schema),
          name: str(row.name),
          subtype: str(row.subtype),
          collation: opt(row.collation),
          subtypeDiff: opt(row.subtype_diff),
          canonical: opt(row.canonical),
          comment: opt(row.comment),
        })
      ),
    ),
    sequences: byName(sequences),
    tables: byName(tables),
    views: byName(views.filter((v) => v.kind === "v").map((v) => v.view)),
    materializedViews: byName(views.filter((v) => v.kind === "m").map((v) => v.view)),
    functions: sortBy(
      raw.functions.filter(inSchema).map((row) =>
        compact<SnapshotObjects["functions"][number]>({
          schema: str(row.schema),
          name: str(row.name),
          kind: row.kind === "p" ? "procedure" : "function",
          identityArguments: str(row.identity),
          arguments: str(row.arguments),
          result: opt(row.result),
          language: str(row.language),
          definition: normalizeFunctionDefinition(str(row.definition)),
          comment: opt(row.comment),
        })
      ),
      (f) => [f.schema, f.name, f.identityArguments],
    ),
    indexes: byTableAndName(
      raw.indexes.filter(keep).map((row) =>
        compact({
          schema: str(row.schema),
          table: str(row.table),
          name: str(row.name),
          definition: normalizeIndexDefinition(str(row.definition)),
          invalid: row.valid === false ? true : undefined,
          comment: opt(row.comment),
        })
      ),
    ),
    triggers: byTableAndName(
      raw.triggers.filter(keep).map((row) =>
        compact({
          schema: str(row.schema),
          table: str(row.table),
          name: str(row.name),
          definition: normalizeDefinition(str(row.definition)),
          enabled: TRIGGER_ENABLED[str(row.enabled) as keyof typeof TRIGGER_ENABLED],
          comment: opt(row.comment),
        })
      ),
    ),
    policies: byTableAndName(
      raw.policies.filter(keep).map((row) =>
        compact({
          schema: str(row.schema),
          table: str(row.table),
          name: str(row.name),
          command: POLICY_COMMANDS[str(row.command) as keyof typeof POLICY_COMMANDS],
          permissive: row.permissive === true,
          roles: [...((row.roles as string[] | null) ?? [])].sort(compareText),
          using: opt(row.using) && normalizeExpression(str(row.using)),
          withCheck: opt(row.with_check) && normalizeExpression(str(row.with_check)),
          comment: opt(row.comment),
        })
      ),
    ),
  };
  return { format: 1, objects };
}

/** `schema NUL table` (NUL appears in no name; a column is appended with another NUL). */
function tableKey(schema: string, table: string): string {
  return `${schema}\u0000${table}`;
}

function byName<T extends { schema: string; name: string }>(items: T[]): T[] {
  return sortBy(items, (item) => [item.schema, item.name]);
}

function byTableAndName<T extends { schema: string; table: string; name: string }>(items: T[]): T[] {
  return sortBy(items, (item) => [item.schema, item.table, item.name]);
}

function sortedOptions(value: unknown): string[] | undefined {
  const list = value as string[] | null;
  return list && list.length > 0 ? [...list].sort(compareText) : undefined;
}

function sequenceOptions(row: Raw) {
  return {
    type: str(row.type),
    start: str(row.start),
    increment: str(row.increment),
    min: str(row.min),
    max: str(row.max),
    cache: str(row.cache),
    cycle: row.cycle === true,
  };
}

const TYPE_MAX: Record<string, string> = {
  smallint: "32767",
  integer: "2147483647",
  bigint: "9223372036854775807",
};

function defaultIdentityOptions(type: string) {
  return {
    type,
    start: "1",
    increment: "1",
    min: "1",
    max: TYPE_MAX[type] ?? TYPE_MAX.bigint,
    cache: "1",
    cycle: false,
  };
}

/**
 * golang-migrate's version tables (exactly `version bigint, dirty boolean`) and strata's
 * `<name>_history` siblings, as table keys.
 */
function versionTables(raw: RawCatalog): string[] {
  // Per table: its number of columns, and whether it has `version bigint` and `dirty boolean`.
  const columns = new Map<string, number>();
  const version = new Set<string>();
  const dirty = new Set<string>();
  for (const row of raw.columns) {
    const key = tableKey(str(row.schema), str(row.table));
    columns.set(key, (columns.get(key) ?? 0) + 1);
    if (row.name === "version" && row.type === "bigint") version.add(key);
    else if (row.name === "dirty" && row.type === "boolean") dirty.add(key);
  }
  const found: string[] = [];
  for (const row of raw.tables) {
    const schema = str(row.schema);
    const name = str(row.name);
    const key = tableKey(schema, name);
    if (columns.get(key) !== 2 || !version.has(key) || !dirty.has(key)) continue;
    found.push(key);
    // The history table's name as strata derives it (hashed when `<name>_history` is too long).
    const named = historyTableFor(storedTable(schema, name));
    const history = tableKey(named.schema, named.table);
    if (version.has(history)) found.push(history);
  }
  return found;
}

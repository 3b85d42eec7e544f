/**
 * A snapshot seen as a flat set of objects, each with what it is (kind, name, properties),
 * the SQL that makes it, drops it and shows it to people, and the names it mentions. The
 * diff, the SQL generator and the schema file all work on this one view.
 */
import { canonicalJson, compareKeys } from "./_compare.ts";
import { commentOn, ident, literal, qualified } from "./_sql_text.ts";
import { qualifiedNames } from "./_sql_tokens.ts";
import type {
  SchemaSnapshot,
  SnapshotColumn,
  SnapshotConstraint,
  SnapshotSequenceOptions,
  SnapshotTable,
  SnapshotView,
} from "./snapshot_types.ts";

/** The kinds of object a diff talks about. */
export type ObjectKind =
  | "schema"
  | "extension"
  | "enum"
  | "domain"
  | "composite type"
  | "range type"
  | "sequence"
  | "table"
  | "column"
  | "constraint"
  | "index"
  | "view"
  | "materialized view"
  | "function"
  | "procedure"
  | "trigger"
  | "policy";

/** Creation rank: the order among objects that do not depend on each other. */
export const KIND_RANK: Record<ObjectKind, number> = {
  schema: 0,
  extension: 1,
  enum: 2,
  "range type": 2,
  domain: 3,
  "composite type": 3,
  sequence: 4,
  table: 5,
  column: 6,
  constraint: 7,
  function: 8,
  procedure: 8,
  view: 9,
  "materialized view": 10,
  index: 11,
  trigger: 12,
  policy: 13,
};

/** One object of a snapshot. */
export interface SchemaItem {
  key: string;
  kind: ObjectKind;
  /** Qualified, for people: `app.accounts.slug`, `app.add(a integer, b integer)`. */
  name: string;
  schema: string;
  /** The table (or view) key of a column, constraint, index, trigger or policy. */
  parent?: string;
  /** A column or a non-foreign-key constraint: written inside CREATE TABLE. */
  inline?: boolean;
  /** A foreign key: added after every table exists. */
  foreignKey?: boolean;
  /** The object's own properties, canonical: equal text means the same object. */
  compare: string;
  /** Its definition as SQL, for people. */
  display: string;
  /** Statements that create it (a table's include its columns and inline constraints). */
  create: string[];
  /** Statements that must wait until every object exists (foreign keys, OWNED BY). */
  later: string[];
  /** Statements that drop it. */
  drop: string[];
  /** The `schema.name` pairs its definition mentions. */
  refs: Array<[string, string]>;
  /** The snapshot object (for a column or constraint, with its table). */
  data: unknown;
}

/** All the objects of a snapshot, with name lookups. */
export interface ItemSet {
  items: Map<string, SchemaItem>;
  /** `schema.name` → keys of the objects with that name (tables, views, types, sequences, functions). */
  byName: Map<string, string[]>;
  /** Table key → keys of its inline children (columns, non-FK constraints). */
  inlineChildren: Map<string, string[]>;
  /** Table or view key → keys of all its children. */
  children: Map<string, string[]>;
}

/** The identity key of an object. */
export function itemKey(kind: ObjectKind, ...parts: string[]): string {
  return `${kind}:${JSON.stringify(parts)}`;
}

function nameKey(schema: string, name: string): string {
  return `${schema}\u0000${name}`;
}

/** Flattens a snapshot into its objects. */
export function snapshotItems(snapshot: SchemaSnapshot): ItemSet {
  const set: ItemSet = { items: new Map(), byName: new Map(), inlineChildren: new Map(), children: new Map() };
  const o = snapshot.objects;
  const add = (item: SchemaItem, lookup?: boolean) => {
    set.items.set(item.key, item);
    if (lookup) {
      const key = nameKey(item.schema, (item.data as { name: string }).name);
      const list = set.byName.get(key) ?? [];
      list.push(item.key);
      set.byName.set(key, list);
    }
    if (item.parent) {
      const all = set.children.get(item.parent) ?? [];
      all.push(item.key);
      set.children.set(item.parent, all);
      if (item.inline) {
        const inline = set.inlineChildren.get(item.parent) ?? [];
        inline.push(item.key);
        set.inlineChildren.set(item.parent, inline);
      }
    }
  };

  for (const schema of o.schemas) {
    const q = ident(schema.name);
    const create = [schema.name === "public" ? `CREATE SCHEMA IF NOT EXISTS ${q}` : `CREATE SCHEMA ${q}`];
    if (schema.comment !== undefined) create.push(commentOn(`SCHEMA ${q}`, schema.comment));
    add(base("schema", [schema.name], q, schema.name, schema, create, [`DROP SCHEMA ${q}`]));
  }
  for (const ext of o.extensions) {
    const q = ident(ext.name);
    add(base(
      "extension",
      [ext.name],
      ext.name,
      ext.schema,
      ext,
      [`CREATE EXTENSION IF NOT EXISTS ${q} WITH SCHEMA ${ident(ext.schema)}`],
      [`DROP EXTENSION ${q}`],
      `CREATE EXTENSION ${q} WITH SCHEMA ${ident(ext.schema)} VERSION ${literal(ext.version)}`,
    ));
  }
  for (const type of o.enums) {
    const q = qualified(type.schema, type.name);
    const create = [`CREATE TYPE ${q} AS ENUM (${type.labels.map(literal).join(", ")})`];
    if (type.comment !== undefined) create.push(commentOn(`TYPE ${q}`, type.comment));
    add(base("enum", [type.schema, type.name], q, type.schema, type, create, [`DROP TYPE ${q}`]), true);
  }
  for (const type of o.ranges) {
    const q = qualified(type.schema, type.name);
    const options = [`subtype = ${type.subtype}`];
    if (type.collation) options.push(`collation = ${type.collation}`);
    if (type.canonical) options.push(`canonical = ${type.canonical}`);
    if (type.subtypeDiff) options.push(`subtype_diff = ${type.subtypeDiff}`);
    const create = [`CREATE TYPE ${q} AS RANGE (${options.join(", ")})`];
    if (type.comment !== undefined) create.push(commentOn(`TYPE ${q}`, type.comment));
    const item = base("range type", [type.schema, type.name], q, type.schema, type, create, [`DROP TYPE ${q}`]);
    item.refs.push(...qualifiedNames(`${type.subtype} ${type.subtypeDiff ?? ""} ${type.canonical ?? ""}`));
    add(item, true);
  }
  for (const domain of o.domains) {
    const q = qualified(domain.schema, domain.name);
    let text = `CREATE DOMAIN ${q} AS ${domain.type}`;
    if (domain.collation) text += ` COLLATE ${domain.collation}`;
    if (domain.default !== undefined) text += ` DEFAULT ${domain.default}`;
    if (domain.notNull) text += " NOT NULL";
    for (const check of domain.checks) text += `\n    CONSTRAINT ${ident(check.name)} ${check.definition}`;
    const create = [text];
    if (domain.comment !== undefined) create.push(commentOn(`DOMAIN ${q}`, domain.comment));
    const item = base("domain", [domain.schema, domain.name], q, domain.schema, domain, create, [`DROP DOMAIN ${q}`]);
    item.refs.push(...qualifiedNames(text));
    add(item, true);
  }
  for (const type of o.composites) {
    const q = qualified(type.schema, type.name);
    const attributes = type.attributes.map((a) =>
      `    ${ident(a.name)} ${a.type}${a.collation ? ` COLLATE ${a.collation}` : ""}`
    );
    const create = [`CREATE TYPE ${q} AS (\n${attributes.join(",\n")}\n)`];
    if (type.comment !== undefined) create.push(commentOn(`TYPE ${q}`, type.comment));
    for (const a of type.attributes) {
      if (a.comment !== undefined) create.push(commentOn(`COLUMN ${q}.${ident(a.name)}`, a.comment));
    }
    const item = base("composite type", [type.schema, type.name], q, type.schema, type, create, [`DROP TYPE ${q}`]);
    item.refs.push(...qualifiedNames(attributes.join("\n")));
    add(item, true);
  }
  for (const seq of o.sequences) {
    const q = qualified(seq.schema, seq.name);
    const options = sequenceClauses(seq, "bigint");
    const create = [`CREATE SEQUENCE ${q}${options.length ? ` ${options.join(" ")}` : ""}`];
    if (seq.comment !== undefined) create.push(commentOn(`SEQUENCE ${q}`, seq.comment));
    const item = base("sequence", [seq.schema, seq.name], q, seq.schema, seq, create, [
      // An owned sequence goes with its column when the table is dropped first.
      seq.ownedBy ? `DROP SEQUENCE IF EXISTS ${q}` : `DROP SEQUENCE ${q}`,
    ]);
    if (seq.ownedBy) {
      item.later.push(
        `ALTER SEQUENCE ${q} OWNED BY ${qualified(seq.schema, seq.ownedBy.table)}.${ident(seq.ownedBy.column)}`,
      );
      item.display += `;\n${item.later[0]}`;
    }
    add(item, true);
  }

  for (const table of o.tables) addTable(set, table, add);

  for (const view of o.views) addView(view, "view", add);
  for (const view of o.materializedViews) addView(view, "materialized view", add);

  for (const fn of o.functions) {
    const q = qualified(fn.schema, fn.name);
    const signature = `${q}(${fn.identityArguments})`;
    const keyword = fn.kind === "procedure" ? "PROCEDURE" : "FUNCTION";
    const create = [fn.definition];
    if (fn.comment !== undefined) create.push(commentOn(`${keyword} ${signature}`, fn.comment));
    const item = base(fn.kind, [fn.schema, fn.name, fn.identityArguments], signature, fn.schema, fn, create, [
      `DROP ${keyword} ${signature}`,
    ]);
    // Only a SQL body is checked when the function is made; other languages' bodies run later.
    item.refs.push(...qualifiedNames(fn.language === "sql" ? fn.definition : `${fn.arguments} ${fn.result ?? ""}`));
    add(item, true);
  }

  const relationKey = (schema: string, name: string) => {
    for (const kind of ["table", "view", "materialized view"] as const) {
      const key = itemKey(kind, schema, name);
      if (set.items.has(key)) return key;
    }
    return itemKey("table", schema, name);
  };

  for (const index of o.indexes) {
    const q = qualified(index.schema, index.name);
    const create = [index.definition];
    if (index.comment !== undefined) create.push(commentOn(`INDEX ${q}`, index.comment));
    const item = base("index", [index.schema, index.name], q, index.schema, index, create, [`DROP INDEX ${q}`]);
    item.parent = relationKey(index.schema, index.table);
    item.refs.push(...qualifiedNames(index.definition));
    add(item);
  }
  for (const trigger of o.triggers) {
    const table = qualified(trigger.schema, trigger.table);
    const create = [trigger.definition];
    if (trigger.enabled) {
      create.push(`ALTER TABLE ${table} ${TRIGGER_ENABLE[trigger.enabled]} TRIGGER ${ident(trigger.name)}`);
    }
    if (trigger.comment !== undefined) {
      create.push(commentOn(`TRIGGER ${ident(trigger.name)} ON ${table}`, trigger.comment));
    }
    const item = base(
      "trigger",
      [trigger.schema, trigger.table, trigger.name],
      `${table}.${ident(trigger.name)}`,
      trigger.schema,
      trigger,
      create,
      [`DROP TRIGGER ${ident(trigger.name)} ON ${table}`],
    );
    item.parent = relationKey(trigger.schema, trigger.table);
    item.refs.push(...qualifiedNames(trigger.definition));
    add(item);
  }
  for (const policy of o.policies) {
    const table = qualified(policy.schema, policy.table);
    let text = `CREATE POLICY ${ident(policy.name)} ON ${table}`;
    if (!policy.permissive) text += " AS RESTRICTIVE";
    if (policy.command !== "all") text += ` FOR ${policy.command.toUpperCase()}`;
    if (policy.roles.length > 0 && policy.roles.join() !== "public") text += ` TO ${policy.roles.join(", ")}`;
    if (policy.using !== undefined) text += ` USING (${policy.using})`;
    if (policy.withCheck !== undefined) text += ` WITH CHECK (${policy.withCheck})`;
    const create = [text];
    if (policy.comment !== undefined) {
      create.push(commentOn(`POLICY ${ident(policy.name)} ON ${table}`, policy.comment));
    }
    const item = base(
      "policy",
      [policy.schema, policy.table, policy.name],
      `${table}.${ident(policy.name)}`,
      policy.schema,
      policy,
      create,
      [`DROP POLICY ${ident(policy.name)} ON ${table}`],
    );
    item.parent = relationKey(policy.schema, policy.table);
    item.refs.push(...qualifiedNames(`${policy.using ?? ""} ${policy.withCheck ?? ""}`));
    add(item);
  }
  return set;
}

const TRIGGER_ENABLE = { disabled: "DISABLE", replica: "ENABLE REPLICA", always: "ENABLE ALWAYS" } as const;

function base(
  kind: ObjectKind,
  identity: string[],
  name: string,
  schema: string,
  data: unknown,
  create: string[],
  drop: string[],
  display?: string,
): SchemaItem {
  return {
    key: itemKey(kind, ...identity),
    kind,
    name,
    schema,
    compare: canonicalJson(data),
    display: display ?? create.join(";\n"),
    create,
    later: [],
    drop,
    refs: [],
    data,
  };
}

const TYPE_LIMITS: Record<string, [string, string]> = {
  smallint: ["-32768", "32767"],
  integer: ["-2147483648", "2147483647"],
  bigint: ["-9223372036854775808", "9223372036854775807"],
};

/** The clauses of CREATE SEQUENCE (or an identity) that differ from the defaults. */
export function sequenceClauses(seq: SnapshotSequenceOptions, defaultType: string): string[] {
  const clauses: string[] = [];
  const [typeMin, typeMax] = TYPE_LIMITS[seq.type] ?? TYPE_LIMITS.bigint;
  const ascending = !seq.increment.startsWith("-");
  const defaultMin = ascending ? "1" : typeMin;
  const defaultMax = ascending ? typeMax : "-1";
  if (seq.type !== defaultType) clauses.push(`AS ${seq.type}`);
  if (seq.start !== (ascending ? seq.min : seq.max)) clauses.push(`START WITH ${seq.start}`);
  if (seq.increment !== "1") clauses.push(`INCREMENT BY ${seq.increment}`);
  if (seq.min !== defaultMin) clauses.push(`MINVALUE ${seq.min}`);
  if (seq.max !== defaultMax) clauses.push(`MAXVALUE ${seq.max}`);
  if (seq.cache !== "1") clauses.push(`CACHE ${seq.cache}`);
  if (seq.cycle) clauses.push("CYCLE");
  return clauses;
}

/** A column as written in CREATE TABLE or ADD COLUMN. */
export function columnClause(table: SnapshotTable, column: SnapshotColumn): string {
  let text = `${ident(column.name)} ${column.type}`;
  if (column.collation) text += ` COLLATE ${column.collation}`;
  if (column.generated) {
    text += ` GENERATED ALWAYS AS (${column.generated.expression}) ${column.generated.kind.toUpperCase()}`;
  }
  if (column.identity) {
    const identity = column.identity;
    const options = sequenceClauses(identity, identity.type).filter((clause) => !clause.startsWith("AS "));
    if (identity.sequence && identity.sequence !== `${table.name}_${column.name}_seq`) {
      options.unshift(`SEQUENCE NAME ${qualified(table.schema, identity.sequence)}`);
    }
    text += ` GENERATED ${identity.generation.toUpperCase()} AS IDENTITY${
      options.length ? ` (${options.join(" ")})` : ""
    }`;
  }
  if (column.default !== undefined) text += ` DEFAULT ${column.default}`;
  if (column.notNull) text += " NOT NULL";
  return text;
}

function addTable(set: ItemSet, table: SnapshotTable, add: (item: SchemaItem, lookup?: boolean) => void): void {
  const q = qualified(table.schema, table.name);
  const tableKey = itemKey("table", table.schema, table.name);
  const inline = table.constraints.filter((c) => c.type !== "foreign key");
  const foreign = table.constraints.filter((c) => c.type === "foreign key");

  const lines = [
    ...table.columns.map((column) => `    ${columnClause(table, column)}`),
    ...inline.map((c) => `    CONSTRAINT ${ident(c.name)} ${c.definition}`),
  ];
  let text = `CREATE ${table.unlogged ? "UNLOGGED " : ""}TABLE ${q}`;
  if (table.partitionOf) {
    text += ` PARTITION OF ${qualified(table.partitionOf.schema, table.partitionOf.name)}`;
    if (lines.length) text += ` (\n${lines.join(",\n")}\n)`;
    text += ` ${table.partitionOf.bound}`;
  } else {
    text += ` (\n${lines.join(",\n")}\n)`;
    if (table.inherits) text += ` INHERITS (${table.inherits.map((p) => qualified(p.schema, p.name)).join(", ")})`;
  }
  if (table.partitionBy) text += ` PARTITION BY ${table.partitionBy}`;
  if (table.options) text += ` WITH (${table.options.join(", ")})`;
  const create = [text];
  if (table.rowSecurity) create.push(`ALTER TABLE ${q} ENABLE ROW LEVEL SECURITY`);
  if (table.forceRowSecurity) create.push(`ALTER TABLE ${q} FORCE ROW LEVEL SECURITY`);
  if (table.comment !== undefined) create.push(commentOn(`TABLE ${q}`, table.comment));
  for (const column of table.columns) {
    if (column.comment !== undefined) create.push(commentOn(`COLUMN ${q}.${ident(column.name)}`, column.comment));
  }
  for (const c of inline) {
    if (c.comment !== undefined) create.push(commentOn(`CONSTRAINT ${ident(c.name)} ON ${q}`, c.comment));
  }

  const { columns: _columns, constraints: _constraints, ...own } = table;
  const display = [...create];
  for (const c of foreign) display.push(...constraintStatements(q, c));
  const item: SchemaItem = {
    key: tableKey,
    kind: "table",
    name: q,
    schema: table.schema,
    compare: canonicalJson(own),
    display: display.join(";\n"),
    create,
    later: [],
    drop: [`DROP TABLE ${q}`],
    // Its columns' and constraints' references are added by the dependency graph.
    refs: [
      ...(table.partitionOf ? [[table.partitionOf.schema, table.partitionOf.name] as [string, string]] : []),
      ...(table.inherits ?? []).map((parent) => [parent.schema, parent.name] as [string, string]),
    ],
    data: table,
  };
  add(item, true);

  for (const column of table.columns) {
    const clause = columnClause(table, column);
    const create = [`ALTER TABLE ${q} ADD COLUMN ${clause}`];
    if (column.comment !== undefined) create.push(commentOn(`COLUMN ${q}.${ident(column.name)}`, column.comment));
    add({
      key: itemKey("column", table.schema, table.name, column.name),
      kind: "column",
      name: `${q}.${ident(column.name)}`,
      schema: table.schema,
      parent: tableKey,
      inline: true,
      compare: canonicalJson(column),
      display: [clause, ...create.slice(1)].join(";\n"),
      create,
      later: [],
      drop: [`ALTER TABLE ${q} DROP COLUMN ${ident(column.name)}`],
      refs: qualifiedNames(clause),
      data: { table, column },
    });
  }
  for (const constraint of table.constraints) {
    const isForeign = constraint.type === "foreign key";
    const statements = constraintStatements(q, constraint);
    add({
      key: itemKey("constraint", table.schema, table.name, constraint.name),
      kind: "constraint",
      name: `${q}.${ident(constraint.name)}`,
      schema: table.schema,
      parent: tableKey,
      inline: !isForeign,
      foreignKey: isForeign,
      compare: canonicalJson(constraint),
      display: [`CONSTRAINT ${ident(constraint.name)} ${constraint.definition}`, ...statements.slice(1)].join(";\n"),
      create: isForeign ? [] : statements,
      later: isForeign ? statements : [],
      drop: [`ALTER TABLE ${q} DROP CONSTRAINT ${ident(constraint.name)}`],
      refs: qualifiedNames(constraint.definition),
      data: { table, constraint },
    });
  }
}

function constraintStatements(table: string, c: SnapshotConstraint): string[] {
  const statements = [`ALTER TABLE ${table} ADD CONSTRAINT ${ident(c.name)} ${c.definition}`];
  if (c.comment !== undefined) statements.push(commentOn(`CONSTRAINT ${ident(c.name)} ON ${table}`, c.comment));
  return statements;
}

function addView(
  view: SnapshotView,
  kind: "view" | "materialized view",
  add: (item: SchemaItem, lookup?: boolean) => void,
): void {
  const q = qualified(view.schema, view.name);
  const keyword = kind === "view" ? "VIEW" : "MATERIALIZED VIEW";
  const options = view.options ? ` WITH (${view.options.join(", ")})` : "";
  const create = [`CREATE ${keyword} ${q}${options} AS\n ${view.definition}`];
  if (view.comment !== undefined) create.push(commentOn(`${keyword} ${q}`, view.comment));
  for (const column of view.columnComments ?? []) {
    create.push(commentOn(`COLUMN ${q}.${ident(column.name)}`, column.comment));
  }
  const item = base(kind, [view.schema, view.name], q, view.schema, view, create, [`DROP ${keyword} ${q}`]);
  item.refs.push(...qualifiedNames(view.definition));
  add(item, true);
}

/**
 * Items in the order people read them: by the name of the object they belong to (a column
 * right after its table), then kind, then name.
 */
export function readingOrder(items: Iterable<SchemaItem>, owner: (item: SchemaItem) => string): SchemaItem[] {
  return [...items]
    .map((item) => ({ item, sort: [owner(item), String(KIND_RANK[item.kind]).padStart(2, "0"), item.kind, item.name] }))
    .sort((a, b) => compareKeys(a.sort, b.sort))
    .map((entry) => entry.item);
}

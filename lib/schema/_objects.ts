/**
 * A snapshot seen as a flat set of objects, each with what it is (kind, name, properties),
 * the SQL that makes it, drops it and shows it to people, and the names it mentions. The
 * diff, the SQL generator and the schema file all work on this one view.
 */
import { compareKeys, sameData } from "./_compare.ts";
import { commentOn, ident, literal, qualified } from "./_sql_text.ts";
import { qualifiedNames } from "./_sql_tokens.ts";
import type {
  SchemaSnapshot,
  SnapshotColumn,
  SnapshotConstraint,
  SnapshotObjects,
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

/** One object of a snapshot. Its SQL (name, statements, references) is worked out on first use. */
export interface SchemaItem {
  readonly key: string;
  readonly kind: ObjectKind;
  /** Qualified, for people: `app.accounts.slug`, `app.add(a integer, b integer)`. */
  readonly name: string;
  readonly schema: string;
  /** The table (or view) key of a column, constraint, index, trigger or policy. */
  readonly parent?: string;
  /** A column or a non-foreign-key constraint: written inside CREATE TABLE. */
  readonly inline?: boolean;
  /** A foreign key: added after every table exists. */
  readonly foreignKey?: boolean;
  /** Its definition as SQL, for people. */
  readonly display: string;
  /** Statements that create it (a table's include its columns and inline constraints). */
  readonly create: string[];
  /** Statements that must wait until every object exists (foreign keys, OWNED BY). */
  readonly later: string[];
  /** Statements that drop it. */
  readonly drop: string[];
  /** The `schema.name` pairs its definition mentions. */
  readonly refs: Array<[string, string]>;
  /** The snapshot object (for a column or constraint, with its table). */
  readonly data: unknown;
}

/** True when two items with the same key have the same properties (the same definition). */
export function sameItem(a: SchemaItem, b: SchemaItem): boolean {
  const x = a as Item;
  const y = b as Item;
  return sameData(x.own, y.own, x.skip);
}

/** An item's SQL, made when first asked for. */
interface ItemSql {
  name: string;
  create: string[];
  drop: string[];
  later?: string[];
  /** Default: the create statements. */
  display?: string;
  refs?: Array<[string, string]>;
}

interface ItemHead {
  kind: ObjectKind;
  identity: string[];
  schema: string;
  data: unknown;
  /** What is compared (default: data). */
  own?: unknown;
  /** Fields of `own` that are not compared (a table's columns and constraints are items of their own). */
  skip?: readonly string[];
  parent?: string;
  inline?: boolean;
  foreignKey?: boolean;
}

class Item implements SchemaItem {
  readonly key: string;
  readonly kind: ObjectKind;
  readonly schema: string;
  readonly data: unknown;
  readonly own: unknown;
  readonly skip?: readonly string[];
  readonly parent?: string;
  readonly inline?: boolean;
  readonly foreignKey?: boolean;
  #sql?: ItemSql;
  readonly #make: () => ItemSql;

  constructor(head: ItemHead, make: () => ItemSql) {
    this.key = itemKey(head.kind, ...head.identity);
    this.kind = head.kind;
    this.schema = head.schema;
    this.data = head.data;
    this.own = head.own ?? head.data;
    if (head.skip) this.skip = head.skip;
    if (head.parent !== undefined) this.parent = head.parent;
    if (head.inline) this.inline = true;
    if (head.foreignKey) this.foreignKey = true;
    this.#make = make;
  }

  #built(): ItemSql {
    return this.#sql ??= this.#make();
  }
  get name(): string {
    return this.#built().name;
  }
  get create(): string[] {
    return this.#built().create;
  }
  get drop(): string[] {
    return this.#built().drop;
  }
  get later(): string[] {
    return this.#built().later ?? [];
  }
  get display(): string {
    const sql = this.#built();
    return sql.display ??= sql.create.join(";\n");
  }
  get refs(): Array<[string, string]> {
    return this.#built().refs ?? [];
  }
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

/**
 * Flattens a snapshot into its objects. A diff passes `unchanged`, the snapshot objects that
 * are equal on both sides, so that it never looks at them one by one: they are left out,
 * except tables and views (the parents of other items); of a table, its columns and
 * constraints are.
 */
export function snapshotItems(snapshot: SchemaSnapshot, unchanged?: ReadonlySet<object>): ItemSet {
  const set: ItemSet = { items: new Map(), byName: new Map(), inlineChildren: new Map(), children: new Map() };
  const all = snapshot.objects;
  const o = unchanged ? leaveOut(all, unchanged) : all;
  const add = (item: SchemaItem, lookup?: boolean) => {
    set.items.set(item.key, item);
    if (lookup) {
      const key = nameKey(item.schema, (item.data as { name: string }).name);
      const list = set.byName.get(key);
      if (list) list.push(item.key);
      else set.byName.set(key, [item.key]);
    }
    if (item.parent) {
      const all = set.children.get(item.parent);
      if (all) all.push(item.key);
      else set.children.set(item.parent, [item.key]);
      if (item.inline) {
        const inline = set.inlineChildren.get(item.parent);
        if (inline) inline.push(item.key);
        else set.inlineChildren.set(item.parent, [item.key]);
      }
    }
  };

  for (const schema of o.schemas) {
    add(
      new Item({ kind: "schema", identity: [schema.name], schema: schema.name, data: schema }, () => {
        const q = ident(schema.name);
        const create = [schema.name === "public" ? `CREATE SCHEMA IF NOT EXISTS ${q}` : `CREATE SCHEMA ${q}`];
        if (schema.comment !== undefined) create.push(commentOn(`SCHEMA ${q}`, schema.comment));
        return { name: q, create, drop: [`DROP SCHEMA ${q}`] };
      }),
    );
  }
  for (const ext of o.extensions) {
    add(
      new Item({ kind: "extension", identity: [ext.name], schema: ext.schema, data: ext }, () => {
        const q = ident(ext.name);
        return {
          name: ext.name,
          create: [`CREATE EXTENSION IF NOT EXISTS ${q} WITH SCHEMA ${ident(ext.schema)}`],
          drop: [`DROP EXTENSION ${q}`],
          display: `CREATE EXTENSION ${q} WITH SCHEMA ${ident(ext.schema)} VERSION ${literal(ext.version)}`,
        };
      }),
    );
  }
  for (const type of o.enums) {
    add(
      new Item({ kind: "enum", identity: [type.schema, type.name], schema: type.schema, data: type }, () => {
        const q = qualified(type.schema, type.name);
        const create = [`CREATE TYPE ${q} AS ENUM (${type.labels.map(literal).join(", ")})`];
        if (type.comment !== undefined) create.push(commentOn(`TYPE ${q}`, type.comment));
        return { name: q, create, drop: [`DROP TYPE ${q}`] };
      }),
      true,
    );
  }
  for (const type of o.ranges) {
    add(
      new Item({ kind: "range type", identity: [type.schema, type.name], schema: type.schema, data: type }, () => {
        const q = qualified(type.schema, type.name);
        const options = [`subtype = ${type.subtype}`];
        if (type.collation) options.push(`collation = ${type.collation}`);
        if (type.canonical) options.push(`canonical = ${type.canonical}`);
        if (type.subtypeDiff) options.push(`subtype_diff = ${type.subtypeDiff}`);
        const create = [`CREATE TYPE ${q} AS RANGE (${options.join(", ")})`];
        if (type.comment !== undefined) create.push(commentOn(`TYPE ${q}`, type.comment));
        return {
          name: q,
          create,
          drop: [`DROP TYPE ${q}`],
          refs: qualifiedNames(`${type.subtype} ${type.subtypeDiff ?? ""} ${type.canonical ?? ""}`),
        };
      }),
      true,
    );
  }
  for (const domain of o.domains) {
    add(
      new Item({ kind: "domain", identity: [domain.schema, domain.name], schema: domain.schema, data: domain }, () => {
        const q = qualified(domain.schema, domain.name);
        let text = `CREATE DOMAIN ${q} AS ${domain.type}`;
        if (domain.collation) text += ` COLLATE ${domain.collation}`;
        if (domain.default !== undefined) text += ` DEFAULT ${domain.default}`;
        if (domain.notNull) text += " NOT NULL";
        for (const check of domain.checks) text += `\n    CONSTRAINT ${ident(check.name)} ${check.definition}`;
        const create = [text];
        if (domain.comment !== undefined) create.push(commentOn(`DOMAIN ${q}`, domain.comment));
        return { name: q, create, drop: [`DROP DOMAIN ${q}`], refs: qualifiedNames(text) };
      }),
      true,
    );
  }
  for (const type of o.composites) {
    add(
      new Item({ kind: "composite type", identity: [type.schema, type.name], schema: type.schema, data: type }, () => {
        const q = qualified(type.schema, type.name);
        const attributes = type.attributes.map((a) =>
          `    ${ident(a.name)} ${a.type}${a.collation ? ` COLLATE ${a.collation}` : ""}`
        );
        const create = [`CREATE TYPE ${q} AS (\n${attributes.join(",\n")}\n)`];
        if (type.comment !== undefined) create.push(commentOn(`TYPE ${q}`, type.comment));
        for (const a of type.attributes) {
          if (a.comment !== undefined) create.push(commentOn(`COLUMN ${q}.${ident(a.name)}`, a.comment));
        }
        return { name: q, create, drop: [`DROP TYPE ${q}`], refs: qualifiedNames(attributes.join("\n")) };
      }),
      true,
    );
  }
  for (const seq of o.sequences) {
    add(
      new Item({ kind: "sequence", identity: [seq.schema, seq.name], schema: seq.schema, data: seq }, () => {
        const q = qualified(seq.schema, seq.name);
        const options = sequenceClauses(seq, "bigint");
        const create = [`CREATE SEQUENCE ${q}${options.length ? ` ${options.join(" ")}` : ""}`];
        if (seq.comment !== undefined) create.push(commentOn(`SEQUENCE ${q}`, seq.comment));
        // An owned sequence goes with its column when the table is dropped first.
        const drop = [seq.ownedBy ? `DROP SEQUENCE IF EXISTS ${q}` : `DROP SEQUENCE ${q}`];
        if (!seq.ownedBy) return { name: q, create, drop };
        const owned = `ALTER SEQUENCE ${q} OWNED BY ${qualified(seq.schema, seq.ownedBy.table)}.${
          ident(seq.ownedBy.column)
        }`;
        return { name: q, create, drop, later: [owned], display: `${create.join(";\n")};\n${owned}` };
      }),
      true,
    );
  }

  for (const table of all.tables) addTable(table, add, unchanged?.has(table) ?? false);

  for (const view of o.views) addView(view, "view", add);
  for (const view of o.materializedViews) addView(view, "materialized view", add);

  for (const fn of o.functions) {
    add(
      new Item(
        { kind: fn.kind, identity: [fn.schema, fn.name, fn.identityArguments], schema: fn.schema, data: fn },
        () => {
          const signature = `${qualified(fn.schema, fn.name)}(${fn.identityArguments})`;
          const keyword = fn.kind === "procedure" ? "PROCEDURE" : "FUNCTION";
          const create = [fn.definition];
          if (fn.comment !== undefined) create.push(commentOn(`${keyword} ${signature}`, fn.comment));
          return {
            name: signature,
            create,
            drop: [`DROP ${keyword} ${signature}`],
            // Only a SQL body is checked when the function is made; other languages' bodies run later.
            refs: qualifiedNames(fn.language === "sql" ? fn.definition : `${fn.arguments} ${fn.result ?? ""}`),
          };
        },
      ),
      true,
    );
  }

  const relationKey = (schema: string, name: string) => {
    for (const kind of ["table", "view", "materialized view"] as const) {
      const key = itemKey(kind, schema, name);
      if (set.items.has(key)) return key;
    }
    return itemKey("table", schema, name);
  };
  // An index, trigger or policy: a child of the table, view or materialized view it is on.
  const onRelation = (
    kind: "index" | "trigger" | "policy",
    object: { schema: string; table: string },
    identity: string[],
  ): ItemHead => ({
    kind,
    identity,
    schema: object.schema,
    data: object,
    parent: relationKey(object.schema, object.table),
  });

  for (const index of o.indexes) {
    add(
      new Item(onRelation("index", index, [index.schema, index.name]), () => {
        const q = qualified(index.schema, index.name);
        const create = [index.definition];
        if (index.comment !== undefined) create.push(commentOn(`INDEX ${q}`, index.comment));
        return { name: q, create, drop: [`DROP INDEX ${q}`], refs: qualifiedNames(index.definition) };
      }),
    );
  }
  for (const trigger of o.triggers) {
    add(
      new Item(onRelation("trigger", trigger, [trigger.schema, trigger.table, trigger.name]), () => {
        const table = qualified(trigger.schema, trigger.table);
        const create = [trigger.definition];
        if (trigger.enabled) {
          create.push(`ALTER TABLE ${table} ${TRIGGER_ENABLE[trigger.enabled]} TRIGGER ${ident(trigger.name)}`);
        }
        if (trigger.comment !== undefined) {
          create.push(commentOn(`TRIGGER ${ident(trigger.name)} ON ${table}`, trigger.comment));
        }
        return {
          name: `${table}.${ident(trigger.name)}`,
          create,
          drop: [`DROP TRIGGER ${ident(trigger.name)} ON ${table}`],
          refs: qualifiedNames(trigger.definition),
        };
      }),
    );
  }
  for (const policy of o.policies) {
    add(
      new Item(onRelation("policy", policy, [policy.schema, policy.table, policy.name]), () => {
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
        return {
          name: `${table}.${ident(policy.name)}`,
          create,
          drop: [`DROP POLICY ${ident(policy.name)} ON ${table}`],
          refs: qualifiedNames(`${policy.using ?? ""} ${policy.withCheck ?? ""}`),
        };
      }),
    );
  }
  return set;
}

/** What indexes, triggers and policies sit on: kept whole, so a changed child finds its parent. */
const PARENT_KINDS: ReadonlySet<keyof SnapshotObjects> = new Set(["tables", "views", "materializedViews"]);

/** The snapshot's lists without the objects in `unchanged` (the tables and views are all kept). */
function leaveOut(objects: SnapshotObjects, unchanged: ReadonlySet<object>): SnapshotObjects {
  const out = { ...objects };
  for (const kind of Object.keys(out) as Array<keyof SnapshotObjects>) {
    if (!PARENT_KINDS.has(kind)) (out[kind] as object[]) = objects[kind].filter((object) => !unchanged.has(object));
  }
  return out;
}

const TRIGGER_ENABLE = { disabled: "DISABLE", replica: "ENABLE REPLICA", always: "ENABLE ALWAYS" } as const;

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

function addTable(table: SnapshotTable, add: (item: SchemaItem, lookup?: boolean) => void, whole: boolean): void {
  const tableKey = itemKey("table", table.schema, table.name);
  const q = () => qualified(table.schema, table.name);
  const head = { kind: "table" as const, identity: [table.schema, table.name], schema: table.schema, data: table };
  add(new Item({ ...head, skip: TABLE_CHILDREN }, () => tableSql(table, q())), true);
  if (whole) return;

  for (const column of table.columns) {
    const head = {
      kind: "column" as const,
      identity: [table.schema, table.name, column.name],
      schema: table.schema,
      data: { table, column },
      own: column,
      parent: tableKey,
      inline: true,
    };
    add(
      new Item(head, () => {
        const table_ = q();
        const clause = columnClause(table, column);
        const create = [`ALTER TABLE ${table_} ADD COLUMN ${clause}`];
        if (column.comment !== undefined) {
          create.push(commentOn(`COLUMN ${table_}.${ident(column.name)}`, column.comment));
        }
        return {
          name: `${table_}.${ident(column.name)}`,
          create,
          drop: [`ALTER TABLE ${table_} DROP COLUMN ${ident(column.name)}`],
          display: [clause, ...create.slice(1)].join(";\n"),
          refs: qualifiedNames(clause),
        };
      }),
    );
  }
  for (const constraint of table.constraints) {
    const isForeign = constraint.type === "foreign key";
    const head = {
      kind: "constraint" as const,
      identity: [table.schema, table.name, constraint.name],
      schema: table.schema,
      data: { table, constraint },
      own: constraint,
      parent: tableKey,
      inline: !isForeign,
      foreignKey: isForeign,
    };
    add(
      new Item(head, () => {
        const table_ = q();
        const statements = constraintStatements(table_, constraint);
        return {
          name: `${table_}.${ident(constraint.name)}`,
          create: isForeign ? [] : statements,
          later: isForeign ? statements : [],
          drop: [`ALTER TABLE ${table_} DROP CONSTRAINT ${ident(constraint.name)}`],
          display: [`CONSTRAINT ${ident(constraint.name)} ${constraint.definition}`, ...statements.slice(1)].join(
            ";\n",
          ),
          refs: qualifiedNames(constraint.definition),
        };
      }),
    );
  }
}

/** A table's own properties; its columns and constraints are compared as items of their own. */
const TABLE_CHILDREN = ["columns", "constraints"] as const;

/** CREATE TABLE with its columns and inline constraints, and what follows it. */
function tableSql(table: SnapshotTable, q: string): ItemSql {
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
  const display = [...create];
  for (const c of foreign) display.push(...constraintStatements(q, c));
  return {
    name: q,
    create,
    drop: [`DROP TABLE ${q}`],
    display: display.join(";\n"),
    // Its columns' and constraints' references are added by the dependency graph.
    refs: [
      ...(table.partitionOf ? [[table.partitionOf.schema, table.partitionOf.name] as [string, string]] : []),
      ...(table.inherits ?? []).map((parent) => [parent.schema, parent.name] as [string, string]),
    ],
  };
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
  add(
    new Item({ kind, identity: [view.schema, view.name], schema: view.schema, data: view }, () => {
      const q = qualified(view.schema, view.name);
      const keyword = kind === "view" ? "VIEW" : "MATERIALIZED VIEW";
      const options = view.options ? ` WITH (${view.options.join(", ")})` : "";
      const create = [`CREATE ${keyword} ${q}${options} AS\n ${view.definition}`];
      if (view.comment !== undefined) create.push(commentOn(`${keyword} ${q}`, view.comment));
      for (const column of view.columnComments ?? []) {
        create.push(commentOn(`COLUMN ${q}.${ident(column.name)}`, column.comment));
      }
      return { name: q, create, drop: [`DROP ${keyword} ${q}`], refs: qualifiedNames(view.definition) };
    }),
    true,
  );
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

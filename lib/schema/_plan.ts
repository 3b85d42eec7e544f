/**
 * The statements that turn one snapshot into another, grouped per object: drops first (in
 * reverse dependency order, foreign keys before everything), then creates and alters in
 * dependency order, then foreign keys and OWNED BY links once every table exists (which is
 * what breaks foreign-key cycles).
 */
import { canonicalJson } from "./_compare.ts";
import {
  columnClause,
  itemKey,
  type ItemSet,
  sameItem,
  type SchemaItem,
  sequenceClauses,
  snapshotItems,
} from "./_objects.ts";
import { creationOrder, type DependencyGraph, dependencyGraph, dependents } from "./_order.ts";
import { commentOn, ident, literal, qualified } from "./_sql_text.ts";
import { isName, nameOf, qualifiedNames, tokenize } from "./_sql_tokens.ts";
import type {
  SchemaSnapshot,
  SnapshotColumn,
  SnapshotComposite,
  SnapshotConstraint,
  SnapshotDomain,
  SnapshotEnum,
  SnapshotExtension,
  SnapshotFunction,
  SnapshotIndex,
  SnapshotSchemaInfo,
  SnapshotSequence,
  SnapshotSequenceOptions,
  SnapshotTable,
  SnapshotTrigger,
  SnapshotView,
} from "./snapshot_types.ts";

/**
 * The statements for one object, in the phase they run in. `outside` statements (ALTER TYPE
 * ... ADD VALUE) come first and must not share a transaction with the rest, which may use the
 * new labels; the other phases can run in one transaction.
 */
export interface PlanStep {
  phase: "outside" | "drop" | "create" | "later";
  item: SchemaItem;
  /** added, removed, changed (altered in place) or replaced (dropped and made again). */
  action: "add" | "drop" | "alter" | "replace";
  statements: string[];
  /** For people, by statement: what it does to the data (`destroys data: drops table ...`). */
  notes?: ReadonlyMap<string, string>;
}

interface Alter {
  /** Statements that must commit before the others run (new enum labels). */
  outside?: string[];
  /** For people, by statement: what it does to the data. */
  notes?: Map<string, string>;
  /** Statements that must run before anything is dropped (detaching a default). */
  before?: string[];
  statements: string[];
  later?: string[];
  /** The object is dropped and created again instead. */
  replace?: boolean;
  /** Objects that use this one must be made again around the change (a column's new type). */
  disturbs?: boolean;
  /** Columns whose type this change converts (an enum rebuilt): their users are made again too. */
  converts?: string[];
}

const REPLACEABLE = new Set([
  "view",
  "materialized view",
  "function",
  "procedure",
  "trigger",
  "policy",
  "index",
  "constraint",
]);

/** Plans the change from `from` to `to`. */
export function planChanges(from: SchemaSnapshot, to: SchemaSnapshot): PlanStep[] {
  const a = snapshotItems(from);
  const b = snapshotItems(to);
  const graphA = dependencyGraph(a);
  const graphB = dependencyGraph(b);

  const removed = new Set<string>();
  const added = new Set<string>();
  const alters = new Map<string, Alter>();
  const replaced = new Set<string>();
  for (const key of a.items.keys()) if (!b.items.has(key)) removed.add(key);
  for (const key of b.items.keys()) if (!a.items.has(key)) added.add(key);
  for (const [key, itemB] of b.items) {
    const itemA = a.items.get(key);
    if (!itemA || sameItem(itemA, itemB)) continue;
    const alter = alterFor(itemA, itemB, a, b);
    if (alter.replace) replaced.add(key);
    else alters.set(key, alter);
  }

  movePartitions(a, b, { added, removed, replaced, alters });
  cascade(a, b, graphA, removed, replaced, alters);

  const droppedTable = (item: SchemaItem) =>
    item.parent !== undefined && (removed.has(item.parent) || replaced.has(item.parent));
  const createdTable = (item: SchemaItem) =>
    item.parent !== undefined && (added.has(item.parent) || replaced.has(item.parent));

  const outside: PlanStep[] = [];
  const steps: PlanStep[] = [];
  for (const [key, alter] of alters) {
    const item = b.items.get(key)!;
    if (alter.outside?.length) outside.push({ phase: "outside", item, action: "alter", statements: alter.outside });
    if (alter.before?.length) {
      steps.push({ phase: "drop", item, action: "alter", statements: alter.before, ...notes(alter) });
    }
  }
  const orderA = creationOrder(a, graphA).reverse();
  const gone = (key: string) => removed.has(key) || replaced.has(key);
  // A foreign key between two tables that are both dropped must go first, or neither drop runs.
  const linksDroppedTables = (item: SchemaItem) => {
    const references = (item.data as { constraint: SnapshotConstraint }).constraint.references!;
    const target = itemKey("table", references.schema, references.table);
    return target !== item.parent && gone(target);
  };
  const dropping = (item: SchemaItem) =>
    gone(item.key) && (!droppedTable(item) || (item.foreignKey === true && linksDroppedTables(item)));
  const lastDrops = typesInUse(a, graphA, removed, alters);
  for (const foreignFirst of [true, false]) {
    for (const item of orderA) {
      if (Boolean(item.foreignKey) !== foreignFirst || !dropping(item) || lastDrops.has(item.key)) continue;
      const action = removed.has(item.key) ? "drop" : "replace";
      steps.push({ phase: "drop", item, action, statements: item.drop, ...dropNotes(item, action) });
    }
  }

  const later: PlanStep[] = [];
  for (const item of creationOrder(b, graphB)) {
    const isNew = added.has(item.key) || replaced.has(item.key);
    const action = added.has(item.key) ? "add" : "replace";
    if (isNew) {
      if (!(item.inline && createdTable(item)) && item.create.length) {
        steps.push({ phase: "create", item, action, statements: item.create });
      }
      if (item.later.length) later.push({ phase: "later", item, action, statements: item.later });
      continue;
    }
    const alter = alters.get(item.key);
    if (!alter) continue;
    if (alter.statements.length) {
      steps.push({ phase: "create", item, action: "alter", statements: alter.statements, ...notes(alter) });
    }
    if (alter.later?.length) later.push({ phase: "later", item, action: "alter", statements: alter.later });
  }
  const foreignKeys = later.filter((step) => step.item.foreignKey);
  const last: PlanStep[] = orderA.filter((item) => lastDrops.has(item.key))
    .map((item) => ({ phase: "drop", item, action: "drop", statements: item.drop }));
  return [...outside, ...steps, ...later.filter((step) => !step.item.foreignKey), ...foreignKeys, ...last];
}

function notes(alter: Alter): { notes?: ReadonlyMap<string, string> } {
  return alter.notes?.size ? { notes: alter.notes } : {};
}

/** A table's rows or a column's values go with it: say so above the statement. */
function dropNotes(item: SchemaItem, action: "drop" | "replace"): { notes?: ReadonlyMap<string, string> } {
  const again = action === "replace" ? ", made again below" : "";
  let note: string;
  if (item.kind === "table") {
    const partitioned = (item.data as SnapshotTable).partitionBy !== undefined;
    note = `destroys data: drops table ${item.name} and its rows${partitioned ? " (in every partition)" : ""}${again}`;
  } else if (item.kind === "column") {
    const generated = (item.data as { column: SnapshotColumn }).column.generated !== undefined;
    note = generated
      ? `drops generated column ${item.name}${again} (its values are computed again)`
      : `destroys data: drops column ${item.name} and its values${again}`;
  } else {
    return {};
  }
  return { notes: new Map(item.drop.map((statement) => [statement, note])) };
}

const TYPE_KINDS: ReadonlySet<string> = new Set(["enum", "domain", "composite type", "range type"]);

/**
 * The types on their way out that a column still uses until its type changes (an enum column
 * made text): the column is converted with the other changes, so these are dropped last. So
 * is a type such a type uses (a domain over an enum).
 */
function typesInUse(
  a: ItemSet,
  graphA: DependencyGraph,
  removed: Set<string>,
  alters: Map<string, Alter>,
): Set<string> {
  const found = new Set<string>();
  const queue: string[] = [];
  const visit = (key: string) => {
    for (const dep of graphA.get(key) ?? []) {
      if (!removed.has(dep) || found.has(dep) || !TYPE_KINDS.has(a.items.get(dep)!.kind)) continue;
      found.add(dep);
      queue.push(dep);
    }
  };
  for (const [key, alter] of alters) if (alter.disturbs && a.items.get(key)?.kind === "column") visit(key);
  while (queue.length > 0) visit(queue.pop()!);
  return found;
}

/**
 * A table detached from a partitioned table, or attached to one, or whose partitioned table
 * is made again (a new partition key), keeps its rows: ALTER TABLE ... DETACH PARTITION runs
 * before anything else (its old parent may be dropped), ATTACH PARTITION once the new parent
 * and the table's columns are as B has them (a row outside the new bound stops it).
 *
 * A partition's columns, constraints and indexes come from its parent, and a snapshot lists
 * them on the parent only. So what B lists on a detached table already exists once DETACH
 * has run (A's parent had it), and what A lists on a table to attach must stay for ATTACH to
 * merge it (B's parent has it): neither is added nor dropped. A column that differs from the
 * parent's is altered instead: after DETACH, or before ATTACH, which needs the same types.
 */
function movePartitions(
  a: ItemSet,
  b: ItemSet,
  plan: { added: Set<string>; removed: Set<string>; replaced: Set<string>; alters: Map<string, Alter> },
): void {
  const { added, removed, replaced, alters } = plan;
  const tableKey = (of: { schema: string; name: string }) => itemKey("table", of.schema, of.name);
  for (const [key, item] of b.items) {
    if (item.kind !== "table" || !a.items.has(key) || replaced.has(key)) continue;
    const x = a.items.get(key)!.data as SnapshotTable;
    const y = item.data as SnapshotTable;
    const moved = canonicalJson(x.partitionOf) !== canonicalJson(y.partitionOf) ||
      (x.partitionOf !== undefined && replaced.has(tableKey(x.partitionOf)));
    if (!moved) continue;
    let alter = alters.get(key);
    if (!alter) alters.set(key, alter = { statements: [] });
    const q = qualified(y.schema, y.name);
    if (x.partitionOf) {
      const parent = qualified(x.partitionOf.schema, x.partitionOf.name);
      alter.before = [`ALTER TABLE ${parent} DETACH PARTITION ${q}`, ...alter.before ?? []];
      const parentA = a.items.get(tableKey(x.partitionOf));
      for (const part of parentA ? b.children.get(key) ?? [] : []) {
        const inherited = added.has(part) ? fromParent(b.items.get(part)!, parentA!, a) : undefined;
        if (inherited === undefined) continue;
        added.delete(part);
        if (inherited) {
          const column = alterColumn(y, columnOf(inherited), columnOf(b.items.get(part)!));
          if (column.statements.length || column.before?.length) alters.set(part, column);
        }
      }
    }
    if (y.partitionOf) {
      const parent = qualified(y.partitionOf.schema, y.partitionOf.name);
      alter.later = [...alter.later ?? [], `ALTER TABLE ${parent} ATTACH PARTITION ${q} ${y.partitionOf.bound}`];
      const parentB = b.items.get(tableKey(y.partitionOf));
      for (const part of parentB ? a.children.get(key) ?? [] : []) {
        const inherited = removed.has(part) ? fromParent(a.items.get(part)!, parentB!, b) : undefined;
        if (inherited === undefined) continue;
        removed.delete(part);
        if (inherited) {
          const column = alterColumn(y, columnOf(a.items.get(part)!), columnOf(inherited));
          alter.before = [...alter.before ?? [], ...column.before ?? []];
          alter.statements.push(...column.statements);
        }
      }
    }
  }
}

function columnOf(item: SchemaItem): SnapshotColumn {
  return (item.data as { column: SnapshotColumn }).column;
}

/**
 * What a partition's `part` (a column, constraint or index) comes from on `parent`: the
 * parent's column of the same name, or null for a constraint or index the parent has too
 * (the same definition; a CHECK also the same name, which is how PostgreSQL matches it).
 * Undefined when the parent has nothing like it.
 */
function fromParent(part: SchemaItem, parent: SchemaItem, set: ItemSet): SchemaItem | null | undefined {
  const table = parent.data as SnapshotTable;
  if (part.kind === "column") {
    return set.items.get(itemKey("column", table.schema, table.name, columnOf(part).name));
  }
  const siblings = (set.children.get(parent.key) ?? []).map((key) => set.items.get(key)!);
  if (part.kind === "constraint") {
    const own = (part.data as { constraint: SnapshotConstraint }).constraint;
    const found = siblings.some((item) => {
      if (item.kind !== "constraint") return false;
      const other = (item.data as { constraint: SnapshotConstraint }).constraint;
      return other.type === own.type && other.definition === own.definition &&
        (own.type !== "check" || other.name === own.name);
    });
    return found ? null : undefined;
  }
  if (part.kind === "index") {
    const own = indexShape(part.data as SnapshotIndex);
    return siblings.some((item) => item.kind === "index" && indexShape(item.data as SnapshotIndex) === own)
      ? null
      : undefined;
  }
  return undefined;
}

/** An index definition without its name and table. */
function indexShape(index: SnapshotIndex): string {
  return index.definition.replace(` ${ident(index.name)} ON ${qualified(index.schema, index.table)} `, " ON ");
}

/**
 * Marks for re-creation every object that uses something dropped, replaced, or changed in a
 * way PostgreSQL refuses while it is in use (a column's type): views, functions, triggers,
 * policies, indexes and constraints. Tables, columns and types are never dropped this way.
 */
function cascade(
  a: ItemSet,
  b: ItemSet,
  graphA: DependencyGraph,
  removed: Set<string>,
  replaced: Set<string>,
  alters: Map<string, Alter>,
): void {
  const users = dependents(graphA);
  // A sequence OWNED BY a column is dropped with the column (or its table).
  const owned = new Map<string, string[]>();
  for (const item of a.items.values()) {
    const seq = item.data as SnapshotSequence;
    if (item.kind !== "sequence" || !seq.ownedBy) continue;
    for (
      const owner of [
        itemKey("table", seq.schema, seq.ownedBy.table),
        itemKey("column", seq.schema, seq.ownedBy.table, seq.ownedBy.column),
      ]
    ) {
      owned.set(owner, [...(owned.get(owner) ?? []), item.key]);
    }
  }
  const queue: string[] = [...removed, ...replaced];
  const converted = new Set<string>();
  for (const [key, alter] of alters) {
    if (alter.disturbs) queue.push(key);
    for (const column of alter.converts ?? []) {
      converted.add(column);
      queue.push(column);
    }
  }
  const seen = new Set<string>();
  while (queue.length > 0) {
    const key = queue.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    const source = a.items.get(key);
    if (!source) continue;
    let candidates: string[];
    let mentions: string | undefined;
    if (source.kind === "column") {
      // A column change reaches what mentions the column's name among its table's users.
      candidates = [...(users.get(source.parent!) ?? [])];
      mentions = (source.data as { column: SnapshotColumn }).column.name;
    } else if (source.kind === "constraint") {
      // The graph makes a table's indexes, triggers, policies and foreign keys, and the views
      // on it, wait for its constraints only so they are created in order; few really use one.
      candidates = [...(users.get(key) ?? [])].filter((candidate) => usesConstraint(a.items.get(candidate)!, source));
    } else if (source.kind === "index") {
      candidates = foreignKeysOnIndex(a, source);
    } else {
      candidates = [...(users.get(key) ?? [])];
    }
    const replacedTable = source.kind === "table" && replaced.has(key);
    if ((source.kind === "table" || source.kind === "column") && (removed.has(key) || replaced.has(key))) {
      for (const seq of owned.get(key) ?? []) {
        if (b.items.has(seq) && !replaced.has(seq)) {
          replaced.add(seq);
          alters.delete(seq);
          queue.push(seq);
        }
      }
    }
    for (const candidate of candidates) {
      const item = a.items.get(candidate)!;
      if (candidate === key || !b.items.has(candidate) || removed.has(candidate) || replaced.has(candidate)) continue;
      if (item.parent === key && replacedTable) {
        // Goes with its table and comes back with the new one.
        replaced.add(candidate);
        alters.delete(candidate);
        continue;
      }
      if (!REPLACEABLE.has(item.kind)) continue;
      if (mentions !== undefined && !mentionsName(item, mentions)) continue;
      if (
        source.kind === "column" && !removed.has(key) && !replaced.has(key) &&
        (item.kind === "index" || item.kind === "constraint")
      ) {
        continue; // PostgreSQL rebuilds indexes and constraints through a column type change.
      }
      replaced.add(candidate);
      alters.delete(candidate);
      queue.push(candidate);
    }
  }
}

/**
 * Whether PostgreSQL refuses to drop `constraint` while `item` exists: a foreign key on its
 * unique key, or a view or function that may rely on a key (GROUP BY a primary key, ON
 * CONFLICT ON CONSTRAINT). A CHECK, or another object on the same table, never does.
 */
function usesConstraint(item: SchemaItem, constraint: SchemaItem): boolean {
  const { table, constraint: own } = constraint.data as { table: SnapshotTable; constraint: SnapshotConstraint };
  if (own.type === "check" || own.type === "foreign key") return false;
  if (item.foreignKey) {
    const references = (item.data as { constraint: SnapshotConstraint }).constraint.references;
    const sorted = (columns: readonly string[] = []) => [...columns].sort().join("\u0000");
    return references !== undefined && references.schema === table.schema && references.table === table.name &&
      own.type !== "exclusion" && sorted(references.columns) === sorted(own.columns);
  }
  return ["view", "materialized view", "function", "procedure"].includes(item.kind);
}

/**
 * The foreign keys that may use `index` as their unique key (PostgreSQL refuses to drop it
 * while they exist): those pointing at its table, when it is unique and not partial.
 */
function foreignKeysOnIndex(a: ItemSet, index: SchemaItem): string[] {
  const { schema, table, definition } = index.data as SnapshotIndex;
  if (!definition.startsWith("CREATE UNIQUE INDEX ") || / WHERE /.test(definition)) return [];
  const keys: string[] = [];
  for (const item of a.items.values()) {
    const references = item.foreignKey
      ? (item.data as { constraint: SnapshotConstraint }).constraint.references
      : undefined;
    if (references?.schema === schema && references.table === table) keys.push(item.key);
  }
  return keys;
}

function mentionsName(item: SchemaItem, name: string): boolean {
  return tokenize(item.create.join("\n")).some((token) => isName(token) && nameOf(token) === name);
}

function without(value: unknown, ...fields: string[]): string {
  const copy = { ...(value as Record<string, unknown>) };
  for (const field of fields) delete copy[field];
  return canonicalJson(copy);
}

function commentChange(target: string, before: { comment?: string }, after: { comment?: string }): string[] {
  return before.comment === after.comment ? [] : [commentOn(target, after.comment)];
}

/** How to turn object `a` into `b` in place, or `replace`. */
function alterFor(a: SchemaItem, b: SchemaItem, setA: ItemSet, setB: ItemSet): Alter {
  switch (b.kind) {
    case "schema": {
      const [x, y] = [a.data as SnapshotSchemaInfo, b.data as SnapshotSchemaInfo];
      return { statements: commentChange(`SCHEMA ${ident(y.name)}`, x, y) };
    }
    case "extension": {
      const [x, y] = [a.data as SnapshotExtension, b.data as SnapshotExtension];
      const statements: string[] = [];
      if (x.schema !== y.schema) statements.push(`ALTER EXTENSION ${ident(y.name)} SET SCHEMA ${ident(y.schema)}`);
      if (x.version !== y.version) statements.push(`ALTER EXTENSION ${ident(y.name)} UPDATE TO ${literal(y.version)}`);
      return { statements };
    }
    case "enum":
      return alterEnum(a.data as SnapshotEnum, b.data as SnapshotEnum, setA, setB);
    case "domain":
      return alterDomain(a.data as SnapshotDomain, b.data as SnapshotDomain);
    case "composite type":
      return alterComposite(a.data as SnapshotComposite, b.data as SnapshotComposite);
    case "sequence":
      return alterSequence(a.data as SnapshotSequence, b.data as SnapshotSequence);
    case "table":
      return alterTable(a.data as SnapshotTable, b.data as SnapshotTable);
    case "column": {
      const x = a.data as { table: SnapshotTable; column: SnapshotColumn };
      const y = b.data as { table: SnapshotTable; column: SnapshotColumn };
      return alterColumn(y.table, x.column, y.column, newSequence(y.column, setA, setB));
    }
    case "constraint": {
      const x = (a.data as { constraint: { comment?: string } }).constraint;
      const y = b.data as { table: SnapshotTable; constraint: { name: string; comment?: string } };
      if (without(x, "comment") !== without(y.constraint, "comment")) return { statements: [], replace: true };
      const target = `CONSTRAINT ${ident(y.constraint.name)} ON ${qualified(y.table.schema, y.table.name)}`;
      return { statements: commentChange(target, x, y.constraint) };
    }
    case "index": {
      const [x, y] = [a.data as { comment?: string }, b.data as { schema: string; name: string; comment?: string }];
      if (without(x, "comment") !== without(y, "comment")) return { statements: [], replace: true };
      return { statements: commentChange(`INDEX ${qualified(y.schema, y.name)}`, x, y) };
    }
    case "view":
    case "materialized view":
      return alterView(b.kind, a.data as SnapshotView, b.data as SnapshotView);
    case "function":
    case "procedure": {
      const [x, y] = [a.data as SnapshotFunction, b.data as SnapshotFunction];
      const keyword = y.kind === "procedure" ? "PROCEDURE" : "FUNCTION";
      const comments = commentChange(`${keyword} ${b.name}`, x, y);
      if (x.definition === y.definition) return { statements: comments };
      if (x.arguments !== y.arguments || x.result !== y.result || x.kind !== y.kind) {
        return { statements: [], replace: true };
      }
      return { statements: [y.definition, ...comments] };
    }
    case "trigger": {
      const [x, y] = [a.data as SnapshotTrigger, b.data as SnapshotTrigger];
      if (x.definition !== y.definition) return { statements: [], replace: true };
      const table = qualified(y.schema, y.table);
      const statements: string[] = [];
      if (x.enabled !== y.enabled) {
        const how = y.enabled === undefined
          ? "ENABLE"
          : { disabled: "DISABLE", replica: "ENABLE REPLICA", always: "ENABLE ALWAYS" }[y.enabled];
        statements.push(`ALTER TABLE ${table} ${how} TRIGGER ${ident(y.name)}`);
      }
      statements.push(...commentChange(`TRIGGER ${ident(y.name)} ON ${table}`, x, y));
      return { statements };
    }
    case "policy": {
      const [x, y] = [
        a.data as { comment?: string },
        b.data as { schema: string; table: string; name: string; comment?: string },
      ];
      if (without(x, "comment") !== without(y, "comment")) return { statements: [], replace: true };
      return { statements: commentChange(`POLICY ${ident(y.name)} ON ${qualified(y.schema, y.table)}`, x, y) };
    }
    default:
      return { statements: [], replace: true };
  }
}

function alterEnum(x: SnapshotEnum, y: SnapshotEnum, setA: ItemSet, setB: ItemSet): Alter {
  const q = qualified(y.schema, y.name);
  const comments = commentChange(`TYPE ${q}`, x, y);
  // New labels only, old ones in the same order: ADD VALUE keeps every stored value.
  const current = [...x.labels];
  let j = 0;
  for (const label of y.labels) if (j < current.length && label === current[j]) j++;
  if (j === current.length && y.labels.length >= x.labels.length) {
    const statements: string[] = [];
    for (let i = 0; i < y.labels.length; i++) {
      const label = y.labels[i];
      if (current.includes(label)) continue;
      const next = y.labels.slice(i + 1).find((l) => current.includes(l));
      const position = next !== undefined
        ? ` BEFORE ${literal(next)}`
        : i > 0
        ? ` AFTER ${literal(y.labels[i - 1])}`
        : "";
      // IF NOT EXISTS: these commit on their own, so a script that failed later can run again.
      statements.push(`ALTER TYPE ${q} ADD VALUE IF NOT EXISTS ${literal(label)}${position}`);
      current.splice(next !== undefined ? current.indexOf(next) : current.length, 0, label);
    }
    return { outside: statements, statements: comments };
  }
  // Labels removed or reordered: build the new type beside the old one and convert each column.
  const old = qualified(y.schema, `${y.name}__strata_old`);
  const statements = [
    `ALTER TYPE ${q} RENAME TO ${ident(`${y.name}__strata_old`)}`,
    `CREATE TYPE ${q} AS ENUM (${y.labels.map(literal).join(", ")})`,
  ];
  const converts: string[] = [];
  const notes = new Map<string, string>();
  for (const item of setB.items.values()) {
    if (item.kind !== "column" || !setA.items.has(item.key)) continue;
    const { table, column } = item.data as { table: SnapshotTable; column: SnapshotColumn };
    const before = (setA.items.get(item.key)!.data as { column: SnapshotColumn }).column;
    if (before.type !== q && before.type !== `${q}[]`) continue;
    const t = qualified(table.schema, table.name);
    const c = ident(column.name);
    const array = before.type.endsWith("[]");
    converts.push(item.key);
    if (before.default !== undefined) statements.push(`ALTER TABLE ${t} ALTER COLUMN ${c} DROP DEFAULT`);
    const convert = `ALTER TABLE ${t} ALTER COLUMN ${c} TYPE ${column.type} USING ${c}::text${
      array ? "[]" : ""
    }::${column.type}`;
    statements.push(convert);
    notes.set(convert, `rewrites data: ${item.name} to the new ${q}; a value with a removed label stops the script`);
    if (column.default !== undefined && before.default !== undefined) {
      statements.push(`ALTER TABLE ${t} ALTER COLUMN ${c} SET DEFAULT ${column.default}`);
    }
  }
  statements.push(`DROP TYPE ${old}`);
  if (y.comment !== undefined) statements.push(commentOn(`TYPE ${q}`, y.comment));
  return { statements, disturbs: true, converts, notes };
}

function alterDomain(x: SnapshotDomain, y: SnapshotDomain): Alter {
  if (x.type !== y.type || x.collation !== y.collation) return { statements: [], replace: true };
  const q = qualified(y.schema, y.name);
  const statements: string[] = [];
  if (x.default !== y.default) {
    statements.push(
      y.default === undefined ? `ALTER DOMAIN ${q} DROP DEFAULT` : `ALTER DOMAIN ${q} SET DEFAULT ${y.default}`,
    );
  }
  if (x.notNull !== y.notNull) statements.push(`ALTER DOMAIN ${q} ${y.notNull ? "SET" : "DROP"} NOT NULL`);
  const before = new Map(x.checks.map((c) => [c.name, c.definition]));
  const after = new Map(y.checks.map((c) => [c.name, c.definition]));
  for (const [name, definition] of before) {
    if (after.get(name) !== definition) statements.push(`ALTER DOMAIN ${q} DROP CONSTRAINT ${ident(name)}`);
  }
  for (const [name, definition] of after) {
    if (before.get(name) !== definition) {
      statements.push(`ALTER DOMAIN ${q} ADD CONSTRAINT ${ident(name)} ${definition}`);
    }
  }
  statements.push(...commentChange(`DOMAIN ${q}`, x, y));
  return { statements };
}

function alterComposite(x: SnapshotComposite, y: SnapshotComposite): Alter {
  const q = qualified(y.schema, y.name);
  const before = new Map(x.attributes.map((attribute) => [attribute.name, attribute]));
  const after = new Map(y.attributes.map((attribute) => [attribute.name, attribute]));
  const names = (list: typeof x.attributes) =>
    list.map((attribute) => attribute.name).filter((n) => after.has(n) && before.has(n));
  if (names(x.attributes).join("\u0000") !== names(y.attributes).join("\u0000")) {
    return { statements: [], replace: true };
  }
  const statements: string[] = [];
  for (const name of before.keys()) {
    if (!after.has(name)) statements.push(`ALTER TYPE ${q} DROP ATTRIBUTE ${ident(name)}`);
  }
  for (const [name, attribute] of after) {
    const old = before.get(name);
    const collate = attribute.collation ? ` COLLATE ${attribute.collation}` : "";
    if (!old) statements.push(`ALTER TYPE ${q} ADD ATTRIBUTE ${ident(name)} ${attribute.type}${collate}`);
    else if (old.type !== attribute.type || old.collation !== attribute.collation) {
      statements.push(`ALTER TYPE ${q} ALTER ATTRIBUTE ${ident(name)} SET DATA TYPE ${attribute.type}${collate}`);
    }
    if ((old?.comment) !== attribute.comment) {
      statements.push(commentOn(`COLUMN ${q}.${ident(name)}`, attribute.comment));
    }
  }
  statements.push(...commentChange(`TYPE ${q}`, x, y));
  return { statements };
}

function alterSequence(x: SnapshotSequence, y: SnapshotSequence): Alter {
  const q = qualified(y.schema, y.name);
  const clauses: string[] = [];
  if (x.type !== y.type) clauses.push(`AS ${y.type}`);
  if (x.increment !== y.increment) clauses.push(`INCREMENT BY ${y.increment}`);
  if (x.min !== y.min) clauses.push(`MINVALUE ${y.min}`);
  if (x.max !== y.max) clauses.push(`MAXVALUE ${y.max}`);
  if (x.start !== y.start) clauses.push(`START WITH ${y.start}`);
  if (x.cache !== y.cache) clauses.push(`CACHE ${y.cache}`);
  if (x.cycle !== y.cycle) clauses.push(y.cycle ? "CYCLE" : "NO CYCLE");
  const statements = clauses.length ? [`ALTER SEQUENCE ${q} ${clauses.join(" ")}`] : [];
  statements.push(...commentChange(`SEQUENCE ${q}`, x, y));
  const later: string[] = [];
  if (canonicalJson(x.ownedBy) !== canonicalJson(y.ownedBy)) {
    later.push(
      `ALTER SEQUENCE ${q} OWNED BY ${
        y.ownedBy ? `${qualified(y.schema, y.ownedBy.table)}.${ident(y.ownedBy.column)}` : "NONE"
      }`,
    );
  }
  return { statements, later };
}

function alterTable(x: SnapshotTable, y: SnapshotTable): Alter {
  // A partition detached or attached is moved by movePartitions.
  const structural = (t: SnapshotTable) => canonicalJson([t.partitionBy, t.inherits]);
  if (structural(x) !== structural(y)) return { statements: [], replace: true };
  const q = qualified(y.schema, y.name);
  const statements: string[] = [];
  if (Boolean(x.unlogged) !== Boolean(y.unlogged)) {
    statements.push(`ALTER TABLE ${q} SET ${y.unlogged ? "UNLOGGED" : "LOGGED"}`);
  }
  const options = (list?: string[]) => new Map((list ?? []).map((o) => [o.slice(0, o.indexOf("=")), o]));
  const [before, after] = [options(x.options), options(y.options)];
  const reset = [...before.keys()].filter((name) => !after.has(name));
  const set = [...after].filter(([name, option]) => before.get(name) !== option).map(([, option]) => option);
  if (reset.length) statements.push(`ALTER TABLE ${q} RESET (${reset.join(", ")})`);
  if (set.length) statements.push(`ALTER TABLE ${q} SET (${set.join(", ")})`);
  if (x.rowSecurity !== y.rowSecurity) {
    statements.push(`ALTER TABLE ${q} ${y.rowSecurity ? "ENABLE" : "DISABLE"} ROW LEVEL SECURITY`);
  }
  if (x.forceRowSecurity !== y.forceRowSecurity) {
    statements.push(`ALTER TABLE ${q} ${y.forceRowSecurity ? "" : "NO "}FORCE ROW LEVEL SECURITY`);
  }
  statements.push(...commentChange(`TABLE ${q}`, x, y));
  return { statements };
}

/** The sequence a column's new default draws from (`nextval('s'::regclass)`), when it is new. */
function newSequence(column: SnapshotColumn, setA: ItemSet, setB: ItemSet): SnapshotSequence | undefined {
  if (!column.default?.startsWith("nextval(")) return undefined;
  for (const [schema, name] of qualifiedNames(column.default)) {
    const key = itemKey("sequence", schema, name);
    const item = setB.items.get(key);
    if (item && !setA.items.has(key)) return item.data as SnapshotSequence;
  }
  return undefined;
}

/**
 * Moves a sequence past the values a column already holds (nothing when the table is empty or
 * every value is below where the sequence starts), so the next insert does not collide.
 * `sequence` is SQL for the sequence's regclass.
 */
function restartPast(table: string, column: string, sequence: string, options: SnapshotSequenceOptions): string {
  const descending = options.increment.startsWith("-");
  const edge = descending ? `min(${column})` : `max(${column})`;
  return `SELECT pg_catalog.setval(${sequence}, ${edge}) FROM ${table} HAVING ${edge} ${
    descending ? "<=" : ">="
  } ${options.start}`;
}

function alterColumn(
  table: SnapshotTable,
  x: SnapshotColumn,
  y: SnapshotColumn,
  sequence?: SnapshotSequence,
): Alter {
  // A stored generated column becomes a plain one in place, keeping its values; any other
  // change of expression (or a plain column made generated) needs the column made again.
  const dropsExpression = x.generated?.kind === "stored" && y.generated === undefined;
  if (canonicalJson(x.generated) !== canonicalJson(y.generated) && !dropsExpression) {
    return { statements: [], replace: true };
  }
  const t = qualified(table.schema, table.name);
  const c = ident(y.name);
  const alter = (action: string) => `ALTER TABLE ${t} ALTER COLUMN ${c} ${action}`;
  const before: string[] = [];
  const statements: string[] = [];
  const notes = new Map<string, string>();
  if (dropsExpression) statements.push(alter("DROP EXPRESSION"));
  const typeChanged = x.type !== y.type || x.collation !== y.collation;
  // Detach the old default before anything is dropped: it may use a sequence or function on its way out.
  if (x.default !== undefined && (x.default !== y.default || typeChanged)) before.push(alter("DROP DEFAULT"));
  // Before anything is created: a serial's new sequence may take the identity sequence's name.
  if (x.identity && !y.identity) before.push(alter("DROP IDENTITY"));
  if (typeChanged) {
    const collate = y.collation ? ` COLLATE ${y.collation}` : "";
    const cast = needsCast(x.type, y.type);
    const change = alter(`TYPE ${y.type}${collate}${cast ? ` USING ${c}::${y.type}` : ""}`);
    statements.push(change);
    const note = typeNote(x.type, y.type, cast);
    if (note) notes.set(change, `rewrites data: ${t}.${c} from ${x.type} to ${y.type}${note}`);
  }
  if (y.default !== undefined && (x.default !== y.default || typeChanged)) {
    statements.push(alter(`SET DEFAULT ${y.default}`));
    // A new sequence (serial) for a column that has values: start it past them.
    if (sequence && x.default !== y.default) {
      statements.push(restartPast(t, c, literal(qualified(sequence.schema, sequence.name)), sequence));
    }
  }
  if (x.notNull !== y.notNull) statements.push(alter(`${y.notNull ? "SET" : "DROP"} NOT NULL`));
  // ALTER COLUMN ... TYPE keeps an identity (and moves its sequence to the new type).
  if (y.identity && !x.identity) {
    const clause = columnClause(table, { ...y, default: undefined, notNull: false, collation: undefined });
    statements.push(alter(`ADD ${clause.slice(clause.indexOf(" GENERATED ") + 1)}`));
    const identity = `pg_catalog.pg_get_serial_sequence(${literal(t)}, ${literal(y.name)})`;
    statements.push(restartPast(t, c, identity, y.identity));
  } else if (x.identity && y.identity) {
    if (x.identity.generation !== y.identity.generation) {
      statements.push(alter(`SET GENERATED ${y.identity.generation.toUpperCase()}`));
    }
    const options = sequenceClauses(y.identity, y.identity.type)
      .filter((clause) => !clause.startsWith("AS "))
      .filter((clause) => !sequenceClauses(x.identity!, x.identity!.type).includes(clause));
    const dropped = sequenceClauses(x.identity, x.identity.type).filter((clause) =>
      !sequenceClauses(y.identity!, y.identity!.type).some((other) => other.split(" ")[0] === clause.split(" ")[0])
    );
    for (const clause of dropped) {
      const word = clause.split(" ")[0];
      if (word === "MINVALUE") options.push("NO MINVALUE");
      else if (word === "MAXVALUE") options.push("NO MAXVALUE");
      else if (word === "CYCLE") options.push("NO CYCLE");
      else if (word === "INCREMENT") options.push("INCREMENT BY 1");
      else if (word === "CACHE") options.push("CACHE 1");
      else if (word === "START") {
        options.push(`START WITH ${y.identity.increment.startsWith("-") ? y.identity.max : y.identity.min}`);
      }
    }
    if (options.length) statements.push(alter(options.map((option) => `SET ${option}`).join(" ")));
    if (x.identity.sequence !== y.identity.sequence && x.identity.sequence && y.identity.sequence) {
      statements.push(
        `ALTER SEQUENCE ${qualified(table.schema, x.identity.sequence)} RENAME TO ${ident(y.identity.sequence)}`,
      );
    }
  }
  statements.push(...commentChange(`COLUMN ${t}.${c}`, x, y));
  return { before, statements, disturbs: typeChanged, notes };
}

/** A type without its modifiers and array brackets: `character varying(5)[]` → `character varying`. */
function baseType(type: string): { base: string; array: boolean } {
  const array = type.endsWith("[]");
  const base = type.replace(/(\[\])+$/, "").replace(/\(\s*\d+(\s*,\s*-?\d+)?\s*\)/g, "");
  return { base, array };
}

const STRING_TYPES = new Set(["character varying", "character", "text", "bpchar"]);
const BIT_TYPES = new Set(["bit", "bit varying"]);
const NUMBER_TYPES = new Set(["smallint", "integer", "bigint", "numeric", "real", "double precision"]);

/**
 * The other built-in pairs with an assignment or implicit cast (pg_cast, castcontext 'a' or
 * 'i'), by source type. Any two NUMBER_TYPES have one too.
 */
const ASSIGNMENT_CASTS: Record<string, readonly string[]> = {
  date: ["timestamp without time zone", "timestamp with time zone"],
  "timestamp without time zone": ["date", "time without time zone", "timestamp with time zone"],
  "timestamp with time zone": [
    "date",
    "time without time zone",
    "time with time zone",
    "timestamp without time zone",
  ],
  "time without time zone": ["interval", "time with time zone"],
  "time with time zone": ["time without time zone"],
  interval: ["time without time zone"],
  json: ["jsonb"],
  jsonb: ["json"],
  inet: ["cidr"],
  cidr: ["inet"],
};

/**
 * Whether ALTER COLUMN ... TYPE needs `USING col::type`. Without USING the server converts
 * with the assignment cast, as an INSERT does: a value too long for varchar(n), char(n) or
 * bit(n) fails the statement, where an explicit cast would cut it silently. So USING is left
 * out whenever an assignment cast exists for certain: the same type with other modifiers, any
 * type to a character type (through its text form), bit to bit, between the number types
 * (integer to bigint, ...), between the date and time types, json and jsonb. Other changes
 * (text to jsonb, text to integer, ...) keep the explicit cast, which they need.
 */
function needsCast(from: string, to: string): boolean {
  const [x, y] = [baseType(from), baseType(to)];
  if (x.array !== y.array) return true;
  if (x.base === y.base) return false;
  if (STRING_TYPES.has(y.base)) return false;
  if (BIT_TYPES.has(x.base) && BIT_TYPES.has(y.base)) return false;
  if (x.base === "money") return y.base !== "numeric";
  if (y.base === "money") return !["integer", "bigint", "numeric"].includes(x.base);
  if (NUMBER_TYPES.has(x.base) && NUMBER_TYPES.has(y.base)) return false;
  return !(ASSIGNMENT_CASTS[x.base] ?? []).includes(y.base);
}

/**
 * What a column's type change does to its values, for people (the end of a `rewrites data`
 * note): nothing to say when the type only gets longer (varchar(5) to varchar(20) or text);
 * otherwise the table is rewritten, and an explicit cast (USING) may round or cut values
 * where an assignment cast stops at them.
 */
function typeNote(from: string, to: string, cast: boolean): string | undefined {
  if (from === to) return undefined; // a new collation
  const [x, y] = [baseType(from), baseType(to)];
  const length = (type: string) => Number(/\((\d+)\)/.exec(type)?.[1] ?? Infinity);
  const texts = new Set(["character varying", "text"]);
  if (x.array === y.array && texts.has(x.base) && texts.has(y.base) && length(to) >= length(from)) return undefined;
  return cast
    ? ", with an explicit cast (USING): check that it keeps every value"
    : "; a value that does not fit stops the script";
}

function alterView(kind: "view" | "materialized view", x: SnapshotView, y: SnapshotView): Alter {
  if (x.definition !== y.definition) return { statements: [], replace: true };
  const keyword = kind === "view" ? "VIEW" : "MATERIALIZED VIEW";
  const q = qualified(y.schema, y.name);
  const statements: string[] = [];
  const options = (list?: string[]) => new Map((list ?? []).map((o) => [o.slice(0, o.indexOf("=")), o]));
  const [before, after] = [options(x.options), options(y.options)];
  const reset = [...before.keys()].filter((name) => !after.has(name));
  const set = [...after].filter(([name, option]) => before.get(name) !== option).map(([, option]) => option);
  if (reset.length) statements.push(`ALTER ${keyword} ${q} RESET (${reset.join(", ")})`);
  if (set.length) statements.push(`ALTER ${keyword} ${q} SET (${set.join(", ")})`);
  statements.push(...commentChange(`${keyword} ${q}`, x, y));
  const comments = (v: SnapshotView) => new Map((v.columnComments ?? []).map((c) => [c.name, c.comment]));
  const [was, now] = [comments(x), comments(y)];
  for (const name of new Set([...was.keys(), ...now.keys()])) {
    if (was.get(name) !== now.get(name)) statements.push(commentOn(`COLUMN ${q}.${ident(name)}`, now.get(name)));
  }
  return { statements };
}

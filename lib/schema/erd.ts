/**
 * A Mermaid entity-relationship diagram of a snapshot's tables and foreign keys.
 */
import { compareKeys } from "./_compare.ts";
import { isName, nameOf, tokenize } from "./_sql_tokens.ts";
import type { SchemaSnapshot, SnapshotTable } from "./snapshot_types.ts";

/** Options for {@linkcode snapshotToMermaid}. */
export interface MermaidOptions {
  /** Leave out the columns and draw only tables and relationships (default false). */
  compact?: boolean;
}

/**
 * Draws the snapshot's tables as a Mermaid `erDiagram`: one entity per table (partitions
 * are drawn as their parent), each column with its type and PK / FK / UK markers and its
 * comment, and one relationship per foreign key, labelled with its columns. The referenced
 * side is "exactly one" when every foreign-key column is NOT NULL, else "zero or one"; the
 * referencing side is "zero or one" when its columns are unique, else "zero or more"; the line
 * is solid when the foreign key is part of the primary key (identifying), dashed otherwise.
 * Tables in `public` are named bare, others `schema.table`.
 *
 * @param snapshot The snapshot to draw.
 * @param options Whether to leave the columns out.
 * @returns Mermaid source, ending with a newline.
 *
 * @example
 * ```ts
 * import { snapshotToMermaid } from "./erd.ts";
 * import { emptySnapshot } from "./snapshot_types.ts";
 * const snapshot = emptySnapshot();
 * snapshot.objects.tables.push({
 *   schema: "public", name: "notes", rowSecurity: false, forceRowSecurity: false,
 *   columns: [{ name: "id", type: "bigint", notNull: true }],
 *   constraints: [{ name: "notes_pkey", type: "primary key", definition: "PRIMARY KEY (id)", columns: ["id"] }],
 * });
 * console.log(snapshotToMermaid(snapshot));
 * // erDiagram
 * //     notes {
 * //         bigint id PK
 * //     }
 * ```
 */
export function snapshotToMermaid(snapshot: SchemaSnapshot, options: MermaidOptions = {}): string {
  const tables = snapshot.objects.tables.filter((table) => !table.partitionOf);
  const lines = ["erDiagram"];
  const unique = uniqueColumns(snapshot);
  for (const table of tables) {
    const name = entityName(table.schema, table.name);
    if (options.compact || table.columns.length === 0) {
      lines.push(`    ${name} {`, "    }");
      continue;
    }
    const primary = new Set(table.constraints.find((c) => c.type === "primary key")?.columns ?? []);
    const foreign = new Set(table.constraints.filter((c) => c.type === "foreign key").flatMap((c) => c.columns ?? []));
    const uniqueHere = unique.get(key(table.schema, table.name)) ?? new Set<string>();
    lines.push(`    ${name} {`);
    for (const column of table.columns) {
      const keys = [
        primary.has(column.name) ? "PK" : "",
        foreign.has(column.name) ? "FK" : "",
        uniqueHere.has(column.name) && !primary.has(column.name) ? "UK" : "",
      ].filter(Boolean);
      let line = `        ${attributeType(column.type)} ${attributeName(column.name)}`;
      if (keys.length) line += ` ${keys.join(", ")}`;
      if (column.comment) line += ` "${column.comment.replaceAll('"', "'").replaceAll("\n", " ")}"`;
      lines.push(line);
    }
    lines.push("    }");
  }

  const relations: Array<{ sort: string[]; line: string }> = [];
  const byKey = new Map(snapshot.objects.tables.map((table) => [key(table.schema, table.name), table]));
  for (const table of snapshot.objects.tables) {
    if (table.partitionOf) continue;
    for (const fk of table.constraints) {
      if (fk.type !== "foreign key" || !fk.references) continue;
      const target = byKey.get(key(fk.references.schema, fk.references.table));
      const parentName = target?.partitionOf
        ? entityName(target.partitionOf.schema, target.partitionOf.name)
        : entityName(fk.references.schema, fk.references.table);
      const columns = fk.columns ?? [];
      const required = columns.every((c) => table.columns.find((col) => col.name === c)?.notNull);
      const onlyOne = columns.length === 1 && (unique.get(key(table.schema, table.name))?.has(columns[0]) ?? false);
      const primary = table.constraints.find((c) => c.type === "primary key")?.columns ?? [];
      const identifying = columns.length > 0 && columns.every((c) => primary.includes(c));
      const left = required ? "||" : "|o";
      const right = onlyOne ? "o|" : "o{";
      const label = columns.join(", ").replaceAll('"', "'");
      relations.push({
        sort: [table.schema, table.name, fk.name],
        line: `    ${parentName} ${left}${identifying ? "--" : ".."}${right} ${
          entityName(table.schema, table.name)
        } : "${label}"`,
      });
    }
  }
  relations.sort((a, b) => compareKeys(a.sort, b.sort));
  for (const relation of relations) lines.push(relation.line);
  return `${lines.join("\n")}\n`;
}

function key(schema: string, table: string): string {
  return `${schema}\u0000${table}`;
}

function entityName(schema: string, table: string): string {
  const name = schema === "public" ? table : `${schema}.${table}`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `"${name.replaceAll('"', "")}"`;
}

const SHORT_TYPES: Array<[RegExp, string]> = [
  [/^timestamp\((\d+)\) with time zone/, "timestamptz($1)"],
  [/^timestamp with time zone/, "timestamptz"],
  [/^timestamp\((\d+)\) without time zone/, "timestamp($1)"],
  [/^timestamp without time zone/, "timestamp"],
  [/^time with time zone/, "timetz"],
  [/^time without time zone/, "time"],
  [/^character varying/, "varchar"],
  [/^character/, "char"],
  [/^double precision/, "float8"],
  [/^bit varying/, "varbit"],
];

/** A type as a Mermaid attribute type: one word, letters, digits, `_`, `-`, `()` and `[]` only. */
function attributeType(type: string): string {
  let short = type;
  for (const [pattern, replacement] of SHORT_TYPES) short = short.replace(pattern, replacement);
  short = short.replace(/^[^.(]*\./, ""); // drop the schema of a user type
  short = short.replace(/\(([^)]*)\)/g, (_, inner: string) => `(${inner.replaceAll(",", "-").replaceAll(" ", "")})`);
  short = short.replace(/[^A-Za-z0-9_\-()[\]]/g, "_");
  return /^[A-Za-z_]/.test(short) ? short : `t_${short}`;
}

function attributeName(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[A-Za-z_]/.test(clean) ? clean : `_${clean}`;
}

/** Columns that are unique on their own (a one-column unique constraint or plain unique index). */
function uniqueColumns(snapshot: SchemaSnapshot): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const add = (schema: string, table: string, column: string) => {
    const k = key(schema, table);
    if (!found.has(k)) found.set(k, new Set());
    found.get(k)!.add(column);
  };
  for (const table of snapshot.objects.tables as SnapshotTable[]) {
    for (const c of table.constraints) {
      if ((c.type === "unique" || c.type === "primary key") && c.columns?.length === 1) {
        add(table.schema, table.name, c.columns[0]);
      }
    }
  }
  for (const index of snapshot.objects.indexes) {
    const match = /^CREATE UNIQUE INDEX .+? USING \w+ \(([^()]+)\)(?: INCLUDE \([^()]*\))?$/s.exec(index.definition);
    if (!match) continue;
    const tokens = tokenize(match[1]).filter((token) => token.kind !== "space");
    if (tokens.length === 1 && isName(tokens[0])) add(index.schema, index.table, nameOf(tokens[0]));
  }
  return found;
}

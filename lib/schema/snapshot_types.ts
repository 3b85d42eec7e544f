/**
 * The shape of a schema snapshot: plain, JSON-able data with stable keys. Every list is
 * sorted by the objects' identity (schema, table, name), except the lists whose order means
 * something (a table's columns, an enum's labels, a composite's attributes). No OID, no
 * timestamp, no bigint: numbers that can pass 2^53 (sequence bounds) are strings.
 *
 * @example
 * ```ts
 * import type { SchemaSnapshot } from "./snapshot_types.ts";
 * import { emptySnapshot } from "./snapshot_types.ts";
 * const snapshot: SchemaSnapshot = emptySnapshot();
 * console.log(snapshot.format, snapshot.objects.tables.length); // 1 0
 * ```
 * @module
 */

/** A schema (namespace). */
export interface SnapshotSchemaInfo {
  name: string;
  comment?: string;
}

/** An installed extension (its member objects are never listed). */
export interface SnapshotExtension {
  name: string;
  schema: string;
  version: string;
}

/** An enum type; labels in their sort order. */
export interface SnapshotEnum {
  schema: string;
  name: string;
  labels: string[];
  comment?: string;
}

/** A named CHECK constraint of a domain. */
export interface SnapshotDomainCheck {
  name: string;
  definition: string;
}

/** A domain. */
export interface SnapshotDomain {
  schema: string;
  name: string;
  /** The base type, as format_type prints it. */
  type: string;
  collation?: string;
  default?: string;
  notNull: boolean;
  checks: SnapshotDomainCheck[];
  comment?: string;
}

/** An attribute of a composite type. */
export interface SnapshotAttribute {
  name: string;
  type: string;
  collation?: string;
  comment?: string;
}

/** A composite type (CREATE TYPE ... AS (...)). */
export interface SnapshotComposite {
  schema: string;
  name: string;
  attributes: SnapshotAttribute[];
  comment?: string;
}

/** A range type. */
export interface SnapshotRange {
  schema: string;
  name: string;
  subtype: string;
  collation?: string;
  subtypeDiff?: string;
  canonical?: string;
  comment?: string;
}

/** Sequence settings; the numbers are decimal strings (they can pass 2^53). */
export interface SnapshotSequenceOptions {
  /** The sequence's data type: smallint, integer or bigint. */
  type: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
}

/** A sequence that is not an identity column's. */
export interface SnapshotSequence extends SnapshotSequenceOptions {
  schema: string;
  name: string;
  /** The column the sequence belongs to (ALTER SEQUENCE ... OWNED BY); same schema. */
  ownedBy?: { table: string; column: string };
  comment?: string;
}

/** An identity column's generation and the settings of its sequence. */
export interface SnapshotIdentity extends SnapshotSequenceOptions {
  generation: "always" | "by default";
  /** The identity sequence's name (same schema as the table). */
  sequence: string;
}

/** A table column. */
export interface SnapshotColumn {
  name: string;
  /** As format_type prints it: `bigint`, `character varying(80)`, `public.user_role[]`. */
  type: string;
  notNull: boolean;
  default?: string;
  identity?: SnapshotIdentity;
  generated?: { expression: string; kind: "stored" | "virtual" };
  /** Only when it differs from the type's default collation. */
  collation?: string;
  comment?: string;
}

/** The kinds of table constraint (NOT NULL is the column's `notNull`). */
export type ConstraintType = "primary key" | "unique" | "foreign key" | "check" | "exclusion";

/** A table constraint. */
export interface SnapshotConstraint {
  name: string;
  type: ConstraintType;
  /** pg_get_constraintdef: `FOREIGN KEY (org_id) REFERENCES public.orgs(id) ON DELETE CASCADE`. */
  definition: string;
  /** Key columns of a primary key, unique, foreign key or exclusion constraint. */
  columns?: string[];
  /** What a foreign key points at. */
  references?: { schema: string; table: string; columns: string[] };
  comment?: string;
}

/** A table (ordinary or partitioned). */
export interface SnapshotTable {
  schema: string;
  name: string;
  unlogged?: true;
  /** pg_get_partkeydef of a partitioned table: `RANGE (created_at)`. */
  partitionBy?: string;
  /** The parent and bound of a partition. */
  partitionOf?: { schema: string; name: string; bound: string };
  /** Parents of a table that uses INHERITS. */
  inherits?: Array<{ schema: string; name: string }>;
  /** Storage parameters, `name=value`, sorted. */
  options?: string[];
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  /** In column order; a partition or an INHERITS child lists only its own columns. */
  columns: SnapshotColumn[];
  constraints: SnapshotConstraint[];
  comment?: string;
}

/** An index that does not back a constraint. */
export interface SnapshotIndex {
  schema: string;
  table: string;
  name: string;
  /** pg_get_indexdef: `CREATE INDEX users_org_idx ON public.users USING btree (org_id)`. */
  definition: string;
  /** Present when a CREATE INDEX CONCURRENTLY failed and left the index invalid. */
  invalid?: true;
  comment?: string;
}

/** A view or a materialized view. */
export interface SnapshotView {
  schema: string;
  name: string;
  /** pg_get_viewdef, pretty-printed, without the trailing semicolon. */
  definition: string;
  /** reloptions, `name=value`, sorted (security_barrier, check_option, security_invoker). */
  options?: string[];
  columnComments?: Array<{ name: string; comment: string }>;
  comment?: string;
}

/** A function or procedure. */
export interface SnapshotFunction {
  schema: string;
  name: string;
  kind: "function" | "procedure";
  /** pg_get_function_identity_arguments: what tells overloads apart. */
  identityArguments: string;
  /** pg_get_function_arguments (with defaults). */
  arguments: string;
  /** pg_get_function_result; absent for a procedure. */
  result?: string;
  language: string;
  /** pg_get_functiondef: a complete CREATE OR REPLACE statement. */
  definition: string;
  comment?: string;
}

/** A trigger (internal ones, such as foreign keys', are never listed). */
export interface SnapshotTrigger {
  schema: string;
  table: string;
  name: string;
  /** pg_get_triggerdef. */
  definition: string;
  /** Absent when enabled as usual (`O`). */
  enabled?: "disabled" | "replica" | "always";
  comment?: string;
}

/** A row-level security policy. */
export interface SnapshotPolicy {
  schema: string;
  table: string;
  name: string;
  command: "all" | "select" | "insert" | "update" | "delete";
  permissive: boolean;
  /** Role names, quoted as SQL identifiers where needed, sorted; `public` for everyone. */
  roles: string[];
  using?: string;
  withCheck?: string;
  comment?: string;
}

/** Every object of a snapshot, by kind. */
export interface SnapshotObjects {
  schemas: SnapshotSchemaInfo[];
  extensions: SnapshotExtension[];
  enums: SnapshotEnum[];
  domains: SnapshotDomain[];
  composites: SnapshotComposite[];
  ranges: SnapshotRange[];
  sequences: SnapshotSequence[];
  tables: SnapshotTable[];
  views: SnapshotView[];
  materializedViews: SnapshotView[];
  functions: SnapshotFunction[];
  indexes: SnapshotIndex[];
  triggers: SnapshotTrigger[];
  policies: SnapshotPolicy[];
}

/** A schema snapshot: versioned, JSON-able, deterministic. */
export interface SchemaSnapshot {
  /** The snapshot format; bumps when the shape changes incompatibly. */
  format: 1;
  objects: SnapshotObjects;
}

/**
 * A snapshot with no objects at all, not even the `public` schema: the starting point for
 * "the SQL that builds this schema from nothing".
 *
 * @example
 * ```ts
 * import { emptySnapshot } from "./snapshot_types.ts";
 * console.log(Object.keys(emptySnapshot().objects).length); // 14
 * ```
 */
export function emptySnapshot(): SchemaSnapshot {
  return {
    format: 1,
    objects: {
      schemas: [],
      extensions: [],
      enums: [],
      domains: [],
      composites: [],
      ranges: [],
      sequences: [],
      tables: [],
      views: [],
      materializedViews: [],
      functions: [],
      indexes: [],
      triggers: [],
      policies: [],
    },
  };
}

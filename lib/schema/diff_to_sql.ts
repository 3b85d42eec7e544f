/**
 * The SQL that turns one schema into another, ordered by dependencies.
 */
import { planChanges } from "./_plan.ts";
import type { SchemaDiff } from "./diff_snapshots.ts";
import type { SchemaSnapshot } from "./snapshot_types.ts";

/**
 * The statements that turn schema `from` into schema `to`, in an order that runs:
 *
 * 0. new enum labels (`ALTER TYPE ... ADD VALUE IF NOT EXISTS`), which must commit before
 *    anything uses them ({@linkcode diffToScript} puts them before its transaction);
 * 1. anything dropped or re-created, foreign keys first, then the rest in reverse dependency
 *    order (a view before its table, a table before its types);
 * 2. everything created or altered in dependency order (schemas, extensions, types,
 *    sequences, tables with their columns and inline constraints, functions, views,
 *    indexes, triggers, policies; a table whose default calls a function comes after it);
 * 3. foreign keys and OWNED BY links last, once every table exists, which breaks cycles;
 * 4. types on their way out that columns used until their type changed (enum to text).
 *
 * Changes are made in place where PostgreSQL allows it (ADD/DROP COLUMN, ALTER COLUMN TYPE,
 * SET DEFAULT, ALTER TYPE ... ADD VALUE, CREATE OR REPLACE FUNCTION, COMMENT ON, ...);
 * otherwise the object is dropped and created again, together with every view, function,
 * trigger, policy, index or constraint that uses it. A statement never ends with a semicolon.
 *
 * For a script to run (one transaction, comments above what destroys data), see
 * {@linkcode diffToScript}. Review the statements before running them: dropping a column or
 * table drops its data. A column whose type changes is converted as an INSERT would convert
 * it (no USING), so a value too long for a shorter varchar(n), char(n) or bit(n) stops the
 * statement instead of being cut; only a change with no assignment cast (text to jsonb, ...)
 * gets `USING col::new_type`.
 *
 * @param from The schema as it is (or a diff from {@linkcode diffSnapshots}).
 * @param to The schema as it should be (omit when `from` is a diff).
 * @returns The statements, each without a trailing semicolon.
 *
 * @example
 * ```ts
 * import { diffToSql } from "./diff_to_sql.ts";
 * import { emptySnapshot } from "./snapshot_types.ts";
 * const to = emptySnapshot();
 * to.objects.schemas.push({ name: "app" });
 * console.log(diffToSql(emptySnapshot(), to)); // [ "CREATE SCHEMA app" ]
 * ```
 */
export function diffToSql(from: SchemaSnapshot | SchemaDiff, to?: SchemaSnapshot): string[] {
  const [a, b] = "changes" in from ? [from.from, from.to] : [from, to];
  if (!b) throw new TypeError("diffToSql needs two snapshots, or a diff");
  return planChanges(a, b).flatMap((step) => step.statements);
}

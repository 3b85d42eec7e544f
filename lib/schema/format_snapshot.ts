/**
 * A snapshot as text: deterministic JSON (the file `snapshot` writes and `check` compares),
 * or a readable SQL schema file like dbmate's schema.sql.
 */
import { planChanges } from "./_plan.ts";
import { emptySnapshot, type SchemaSnapshot } from "./snapshot_types.ts";

/**
 * The snapshot as JSON: 2-space indent, keys in a fixed order, lists sorted, a trailing
 * newline. The same schema always gives the same bytes, so the file diffs cleanly in git.
 *
 * @param snapshot What {@linkcode snapshotSchema} returned (or a parsed snapshot file).
 * @returns The JSON text.
 *
 * @example
 * ```ts
 * import { snapshotToJson } from "./format_snapshot.ts";
 * import { emptySnapshot } from "./snapshot_types.ts";
 * console.log(snapshotToJson(emptySnapshot()).split("\n").slice(0, 3).join("\n"));
 * // {
 * //   "format": 1,
 * //   "objects": {
 * ```
 */
export function snapshotToJson(snapshot: SchemaSnapshot): string {
  return `${JSON.stringify(snapshot, null, 2)}\n`;
}

/**
 * The snapshot as a SQL file that builds the schema from nothing: CREATE statements in
 * dependency order (schemas, extensions, types, sequences, tables with their columns and
 * constraints, functions, views, indexes, triggers, policies, then foreign keys and OWNED BY
 * links), each object under a `-- kind name` heading, with comments and row-level security.
 * Like pg_dump, it turns check_function_bodies off so SQL functions can come before the
 * tables their bodies read.
 *
 * @param snapshot The snapshot to write out.
 * @returns The SQL text, ending with a newline.
 *
 * @example
 * ```ts
 * import { snapshotToSql } from "./format_snapshot.ts";
 * import { emptySnapshot } from "./snapshot_types.ts";
 * const snapshot = emptySnapshot();
 * snapshot.objects.enums.push({ schema: "public", name: "mood", labels: ["ok", "happy"] });
 * console.log(snapshotToSql(snapshot).includes("CREATE TYPE public.mood AS ENUM ('ok', 'happy');")); // true
 * ```
 */
export function snapshotToSql(snapshot: SchemaSnapshot): string {
  const parts = [
    "-- Schema snapshot written by strata. Apply to an empty database: psql -v ON_ERROR_STOP=1 -f schema.sql",
    "",
    "SET check_function_bodies = false;",
  ];
  for (const step of planChanges(emptySnapshot(), snapshot)) {
    if (step.item.kind === "schema" && step.item.name === "public" && step.phase === "create") {
      // Every database has it; say only what differs (its comment).
      const rest = step.statements.slice(1).filter((s) => !s.endsWith("IS 'standard public schema'"));
      if (rest.length === 0) continue;
      parts.push("", `-- schema public`, ...rest.map((s) => `${s};`));
      continue;
    }
    const heading = step.phase !== "later"
      ? `-- ${step.item.kind} ${step.item.name}`
      : step.item.foreignKey
      ? `-- foreign key ${step.item.name}`
      : `-- ${step.item.kind} ${step.item.name} owned by`;
    parts.push("", heading, ...step.statements.map((statement) => `${statement};`));
  }
  return `${parts.join("\n")}\n`;
}

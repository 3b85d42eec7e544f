/**
 * The SQL that turns one schema into another as a script to review and run: one transaction,
 * with a comment above each statement that destroys or rewrites data.
 */
import { planChanges } from "./_plan.ts";
import type { SchemaDiff } from "./diff_snapshots.ts";
import type { SchemaSnapshot } from "./snapshot_types.ts";

/**
 * The statements of {@linkcode diffToSql} as a script for `psql -v ON_ERROR_STOP=1 -f`: each
 * ends with `;`, and all of them run between `BEGIN;` and `COMMIT;`, so a statement that fails
 * leaves the database as it was. The exception is `ALTER TYPE ... ADD VALUE` (a new enum label
 * cannot be used in the transaction that adds it): those come first, before `BEGIN;`, each
 * committing on its own, and with `IF NOT EXISTS`, so the script can run again after a failure.
 *
 * A comment line stands above each statement that destroys data
 * (`-- destroys data: drops table public.events_2023 and its rows`) or rewrites it (a column's
 * type change), so a reviewer sees it.
 *
 * As a migration file the script works too: strata takes off a file's own `BEGIN;`/`COMMIT;`
 * and runs the file in its transaction; with ADD VALUE lines before `BEGIN;` the file runs
 * statement by statement (the labels first, then its transaction).
 *
 * @param from The schema as it is (or a diff from {@linkcode diffSnapshots}).
 * @param to The schema as it should be (omit when `from` is a diff).
 * @returns The script, ending with a newline; empty when the schemas are the same.
 *
 * @example
 * ```ts
 * import { diffToScript } from "./diff_to_script.ts";
 * import { emptySnapshot } from "./snapshot_types.ts";
 * const to = emptySnapshot();
 * to.objects.schemas.push({ name: "app" });
 * console.log(JSON.stringify(diffToScript(emptySnapshot(), to))); // "BEGIN;\nCREATE SCHEMA app;\nCOMMIT;\n"
 * ```
 */
export function diffToScript(from: SchemaSnapshot | SchemaDiff, to?: SchemaSnapshot): string {
  const [a, b] = "changes" in from ? [from.from, from.to] : [from, to];
  if (!b) throw new TypeError("diffToScript needs two snapshots, or a diff");
  const steps = planChanges(a, b);
  if (steps.length === 0) return "";
  const lines: string[] = [];
  const outside = steps.filter((step) => step.phase === "outside");
  if (outside.length) {
    lines.push(
      "-- New enum labels first, each committed on its own: a label cannot be used in the transaction that adds it",
    );
    for (const step of outside) lines.push(...step.statements.map((statement) => `${statement};`));
  }
  lines.push("BEGIN;");
  for (const step of steps) {
    if (step.phase === "outside") continue;
    for (const statement of step.statements) {
      const note = step.notes?.get(statement);
      if (note) lines.push(`-- ${note}`);
      lines.push(`${statement};`);
    }
  }
  lines.push("COMMIT;");
  return `${lines.join("\n")}\n`;
}

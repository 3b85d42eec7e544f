/**
 * What differs between two schema snapshots, object by object, and a readable report of it.
 */
import { type ObjectKind, readingOrder, sameItem, type SchemaItem, snapshotItems } from "./_objects.ts";
import { sameData } from "./_compare.ts";
import type { SchemaSnapshot, SnapshotObjects } from "./snapshot_types.ts";

export type { ObjectKind } from "./_objects.ts";

/** One object that was added, removed or changed. */
export interface SchemaChange {
  kind: ObjectKind;
  /** Qualified name: `public.users`, `public.users.email`, `public.add(a integer, b integer)`. */
  name: string;
  change: "added" | "removed" | "changed";
  /** The definition in the first snapshot (SQL), when it has the object. */
  before?: string;
  /** The definition in the second snapshot (SQL), when it has the object. */
  after?: string;
}

/** The differences between two snapshots. */
export interface SchemaDiff {
  /**
   * Every difference, grouped by the object it belongs to (a column right after its table).
   * The columns and constraints of an added or removed table are part of its definition,
   * not listed on their own.
   */
  changes: SchemaChange[];
  /** The snapshots compared, so {@linkcode diffToSql} can order statements by dependencies. */
  from: SchemaSnapshot;
  to: SchemaSnapshot;
}

/**
 * Compares two snapshots object by object. An object is identified by its kind and
 * qualified name (a function also by its argument types); it has changed when any property
 * differs: a column's type, default, NOT NULL, identity or comment, a constraint's or
 * index's definition, a view's query, a function's body, a policy's expression, ...
 *
 * @param from The schema as it was (for `check`: the expected snapshot).
 * @param to The schema as it is.
 * @returns The changes, in reading order (empty when the schemas are the same).
 *
 * @example
 * ```ts
 * import { diffSnapshots } from "./diff_snapshots.ts";
 * import { emptySnapshot } from "./snapshot_types.ts";
 * const to = emptySnapshot();
 * to.objects.enums.push({ schema: "public", name: "mood", labels: ["ok", "happy"] });
 * const diff = diffSnapshots(emptySnapshot(), to);
 * console.log(diff.changes.map((c) => `${c.change} ${c.kind} ${c.name}`)); // [ "added enum public.mood" ]
 * ```
 */
export function diffSnapshots(from: SchemaSnapshot, to: SchemaSnapshot): SchemaDiff {
  const same = unchangedObjects(from, to);
  const a = snapshotItems(from, same);
  const b = snapshotItems(to, same);
  const changed: SchemaItem[] = [];
  const entries = new Map<string, SchemaChange>();
  const partOfTable = (item: SchemaItem, other: typeof a) =>
    (item.kind === "column" || item.kind === "constraint") && item.parent !== undefined &&
    !other.items.has(item.parent);
  for (const [key, item] of a.items) {
    const next = b.items.get(key);
    if (next === undefined) {
      if (partOfTable(item, b)) continue;
      changed.push(item);
      entries.set(key, { kind: item.kind, name: item.name, change: "removed", before: item.display });
    } else if (!sameItem(item, next)) {
      changed.push(next);
      entries.set(key, {
        kind: item.kind,
        name: item.name,
        change: "changed",
        before: item.display,
        after: next.display,
      });
    }
  }
  for (const [key, item] of b.items) {
    if (a.items.has(key) || partOfTable(item, a)) continue;
    changed.push(item);
    entries.set(key, { kind: item.kind, name: item.name, change: "added", after: item.display });
  }
  const owner = (item: SchemaItem) => {
    const parent = item.parent ? (b.items.get(item.parent) ?? a.items.get(item.parent)) : undefined;
    return parent?.name ?? item.name;
  };
  return { changes: readingOrder(changed, owner).map((item) => entries.get(item.key)!), from, to };
}

/** The objects that are the same in both snapshots (both copies; a table with its columns and constraints). */
function unchangedObjects(from: SchemaSnapshot, to: SchemaSnapshot): Set<object> {
  const same = new Set<object>();
  for (const kind of Object.keys(to.objects) as Array<keyof SnapshotObjects>) {
    const identity = (o: Record<string, unknown>) =>
      `${o.schema ?? ""}\u0000${o.table ?? ""}\u0000${o.name}\u0000${o.identityArguments ?? ""}`;
    const byIdentity = new Map<string, object>();
    for (const object of to.objects[kind]) byIdentity.set(identity(object as never), object);
    for (const object of from.objects[kind] ?? []) {
      const other = byIdentity.get(identity(object as never));
      if (other !== undefined && sameData(object, other)) same.add(object).add(other);
    }
  }
  return same;
}

const MARK = { added: "+", removed: "-", changed: "~" } as const;

/**
 * A readable report of a diff: a summary line, then each object with `+` (added), `-`
 * (removed) or `~` (changed) and its definition; a changed object shows its old and new
 * definitions line by line (`-` old, `+` new).
 *
 * @param diff What {@linkcode diffSnapshots} returned.
 * @returns The report, ending with a newline.
 *
 * @example
 * ```ts
 * import { diffSnapshots, formatDiff } from "./diff_snapshots.ts";
 * import { emptySnapshot } from "./snapshot_types.ts";
 * const to = emptySnapshot();
 * to.objects.schemas.push({ name: "app" });
 * console.log(formatDiff(diffSnapshots(emptySnapshot(), to)));
 * // 1 change: 1 added, 0 removed, 0 changed
 * //
 * // + schema app
 * //     CREATE SCHEMA app;
 * ```
 */
export function formatDiff(diff: SchemaDiff): string {
  if (diff.changes.length === 0) return "No changes: the schemas are the same\n";
  const count = (change: SchemaChange["change"]) => diff.changes.filter((c) => c.change === change).length;
  const total = diff.changes.length;
  const lines = [
    `${total} change${total === 1 ? "" : "s"}: ${count("added")} added, ${count("removed")} removed, ${
      count("changed")
    } changed`,
  ];
  for (const change of diff.changes) {
    lines.push("", `${MARK[change.change]} ${change.kind} ${change.name}`);
    if (change.change === "changed") {
      for (const line of lineDiff(statementLines(change.before!), statementLines(change.after!))) {
        lines.push(`  ${line}`);
      }
    } else {
      for (const line of statementLines((change.after ?? change.before)!)) lines.push(`    ${line}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function statementLines(display: string): string[] {
  return `${display};`.split("\n");
}

/** A line diff (longest common subsequence): `  same`, `- old`, `+ new`. */
function lineDiff(before: string[], after: string[]): string[] {
  const n = before.length;
  const m = after.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = before[i] === after[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && before[i] === after[j]) {
      out.push(`  ${before[i]}`);
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push(`- ${before[i++]}`);
    } else {
      out.push(`+ ${after[j++]}`);
    }
  }
  return out;
}

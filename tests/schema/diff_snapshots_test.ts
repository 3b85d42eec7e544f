/**
 * diffSnapshots: it skips the objects that are equal on both sides without looking at them
 * one by one, and still finds every change, however small, among many unchanged objects.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { sameItem, snapshotItems } from "../../lib/schema/_objects.ts";
import { diffSnapshots } from "../../lib/schema/diff_snapshots.ts";
import { snapshotSchema } from "../../lib/schema/snapshot_schema.ts";
import { emptySnapshot, type SchemaSnapshot } from "../../lib/schema/snapshot_types.ts";
import { withDatabase } from "../_support/backends.ts";
import { everyKindSql } from "./_helpers.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);

/** The every-kind fixture's snapshot, and one after every_kind_changes.sql. */
async function fixtureSnapshots(t: import("node:test").TestContext): Promise<[SchemaSnapshot, SchemaSnapshot]> {
  let pair: [SchemaSnapshot, SchemaSnapshot] | undefined;
  await withDatabase(t, "pglite", async ({ db }) => {
    await db.exec(await everyKindSql());
    const a = await snapshotSchema(db);
    const labels = await readFile(new URL("every_kind_enum.sql", FIXTURES), "utf8");
    for (const statement of labels.split(";").filter((s) => /ALTER TYPE/.test(s))) await db.exec(statement);
    await db.exec(await readFile(new URL("every_kind_changes.sql", FIXTURES), "utf8"));
    pair = [a, await snapshotSchema(db)];
  });
  return pair!;
}

/** The changes found by comparing every object of both snapshots (no shortcut), as `change kind name`. */
function everyObjectCompared(from: SchemaSnapshot, to: SchemaSnapshot): string[] {
  const a = snapshotItems(from);
  const b = snapshotItems(to);
  const inTable = (key: string, other: typeof a) => {
    const item = (a.items.get(key) ?? b.items.get(key))!;
    return (item.kind === "column" || item.kind === "constraint") && !other.items.has(item.parent!);
  };
  const out: string[] = [];
  for (const [key, item] of a.items) {
    const next = b.items.get(key);
    if (!next) {
      if (!inTable(key, b)) out.push(`removed ${item.kind} ${item.name}`);
    } else if (!sameItem(item, next)) out.push(`changed ${item.kind} ${item.name}`);
  }
  for (const [key, item] of b.items) {
    if (!a.items.has(key) && !inTable(key, a)) out.push(`added ${item.kind} ${item.name}`);
  }
  return out.sort();
}

const listed = (from: SchemaSnapshot, to: SchemaSnapshot) =>
  diffSnapshots(from, to).changes.map((c) => `${c.change} ${c.kind} ${c.name}`).sort();

test("diffSnapshots finds the same changes as comparing every object of the every-kind fixture", async (t) => {
  const [a, b] = await fixtureSnapshots(t);
  const expected = everyObjectCompared(a, b);
  assert.ok(expected.length > 20, `the fixtures differ in many ways: ${expected.join(", ")}`);
  assert.deepEqual(listed(a, b), expected);
  assert.deepEqual(listed(b, a), everyObjectCompared(b, a));
  assert.deepEqual(listed(a, structuredClone(a)), []);
});

test("diffSnapshots finds one small change in each kind of object among unchanged ones", async (t) => {
  const [a] = await fixtureSnapshots(t);
  const b = structuredClone(a);
  const o = b.objects;
  const table = o.tables.find((x) => x.columns.some((c) => c.default === undefined))!;
  const column = table.columns.find((c) => c.default === undefined)!;
  column.default = "42";
  const constraint = o.tables.flatMap((x) => x.constraints.map((c) => ({ x, c })))[0];
  constraint.c.comment = "now with a comment";
  o.indexes[0].definition = o.indexes[0].definition.replace("USING btree", "USING hash");
  o.policies[0].using = "(false)";
  o.functions[0].definition = `${o.functions[0].definition}\n-- edited`;
  o.sequences[0].cache = "20";
  o.views[0].comment = "changed";
  o.enums[0].labels = [...o.enums[0].labels, "new label"];

  const q = (...parts: string[]) => parts.map((p) => /^[a-z_][a-z0-9_]*$/.test(p) ? p : `"${p}"`).join(".");
  const fn = o.functions[0];
  assert.deepEqual(
    listed(a, b),
    [
      `changed column ${q(table.schema, table.name, column.name)}`,
      `changed constraint ${q(constraint.x.schema, constraint.x.name, constraint.c.name)}`,
      `changed enum ${q(o.enums[0].schema, o.enums[0].name)}`,
      `changed function ${q(fn.schema, fn.name)}(${fn.identityArguments})`,
      `changed index ${q(o.indexes[0].schema, o.indexes[0].name)}`,
      `changed policy ${q(o.policies[0].schema, o.policies[0].table, o.policies[0].name)}`,
      `changed sequence ${q(o.sequences[0].schema, o.sequences[0].name)}`,
      `changed view ${q(o.views[0].schema, o.views[0].name)}`,
    ].sort(),
  );
});

test("a change on an unchanged view or materialized view is listed under that view, like any other", () => {
  const schema = (withChildren: boolean) => {
    const s = emptySnapshot();
    s.objects.schemas.push({ name: "public" });
    s.objects.materializedViews.push({ schema: "public", name: "zz_totals", definition: "SELECT 1 AS x" });
    s.objects.views.push({ schema: "public", name: "zz_v", definition: "SELECT 1 AS x" });
    s.objects.tables.push({
      schema: "public",
      name: "m_table",
      rowSecurity: false,
      forceRowSecurity: false,
      columns: withChildren ? [{ name: "a", type: "integer", notNull: false }] : [],
      constraints: [],
    });
    if (withChildren) {
      s.objects.indexes.push({
        schema: "public",
        table: "zz_totals",
        name: "a_totals_idx",
        definition: "CREATE INDEX a_totals_idx ON public.zz_totals USING btree (x)",
      });
      s.objects.triggers.push({
        schema: "public",
        table: "zz_v",
        name: "a_trg",
        definition: "CREATE TRIGGER a_trg INSTEAD OF INSERT ON public.zz_v FOR EACH ROW EXECUTE FUNCTION public.f()",
      });
    }
    return s;
  };
  const order = (from: SchemaSnapshot, to: SchemaSnapshot) =>
    diffSnapshots(from, to).changes.map((c) => `${c.change} ${c.kind} ${c.name}`);
  // Reading order is by the object each change belongs to: m_table, then zz_totals, then zz_v.
  const expected = [
    "added column public.m_table.a",
    "added index public.a_totals_idx",
    "added trigger public.zz_v.a_trg",
  ];
  assert.deepEqual(order(schema(false), schema(true)), expected);
  // The same when the views changed too (then they are compared like everything else).
  const changed = schema(true);
  changed.objects.materializedViews[0].comment = "c";
  changed.objects.views[0].comment = "c";
  assert.deepEqual(order(schema(false), changed), [
    "added column public.m_table.a",
    "changed materialized view public.zz_totals",
    "added index public.a_totals_idx",
    "changed view public.zz_v",
    "added trigger public.zz_v.a_trg",
  ]);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { StrataError } from "../../lib/db/strata_error.ts";
import { parseMigrationFileName } from "../../lib/migrate/file_name.ts";
import { memorySource } from "../../lib/migrate/migration_source.ts";
import { loadMigrationSet } from "../../lib/migrate/migration_set.ts";
import { planDown, planGoto, planUp } from "../../lib/migrate/planner.ts";

test("parseMigrationFileName follows golang-migrate's pattern", () => {
  assert.deepEqual(parseMigrationFileName("000001_create_users.up.sql"), {
    version: 1n,
    name: "create_users",
    direction: "up",
    ext: "sql",
  });
  assert.deepEqual(parseMigrationFileName("20240101120000_a.b.down.sql"), {
    version: 20240101120000n,
    name: "a.b",
    direction: "down",
    ext: "sql",
  });
  assert.deepEqual(parseMigrationFileName("1_.up.txt"), { version: 1n, name: "", direction: "up", ext: "txt" });
  assert.equal(parseMigrationFileName("1700000000000000000_nano.up.sql")?.version, 1700000000000000000n);
  for (
    const bad of [
      "create.up.sql",
      "1-create.up.sql",
      "1_create.sql",
      "x1_a.up.sql",
      "1_a.up",
      "99999999999999999999_big.up.sql",
    ]
  ) {
    assert.equal(parseMigrationFileName(bad), null, bad);
  }
});

test("loadMigrationSet orders numerically, pairs halves and lists what it ignored", async () => {
  const set = await loadMigrationSet(memorySource({
    "10_c.up.sql": "",
    "2_b.up.sql": "",
    "2_b.down.sql": "",
    "1_a.down.sql": "",
    "README.md": "",
    "3-typo.up.sql": "",
    "4_nodirection.sql": "",
  }));
  assert.deepEqual(set.migrations.map((m) => [m.version, m.up ?? null, m.down ?? null]), [
    [1n, null, "1_a.down.sql"],
    [2n, "2_b.up.sql", "2_b.down.sql"],
    [10n, "10_c.up.sql", null],
  ]);
  assert.deepEqual(set.ignored.map((i) => i.file), ["3-typo.up.sql", "4_nodirection.sql"]);
});

test("two up files for one version are a DUPLICATE_MIGRATION error naming both", async () => {
  await assert.rejects(loadMigrationSet(memorySource({ "1_a.up.sql": "", "001_b.up.sql": "" })), (error: unknown) => {
    assert.ok(error instanceof StrataError);
    assert.equal(error.code, "DUPLICATE_MIGRATION");
    assert.match(error.message, /duplicate migration file: 1_a\.up\.sql \(version 1 already has 001_b\.up\.sql/);
    return true;
  });
});

test("planners give golang-migrate's steps for up N, down N, down all and goto", async () => {
  const set = await loadMigrationSet(
    memorySource({ "1_a.up.sql": "", "1_a.down.sql": "", "3_b.up.sql": "", "7_c.up.sql": "", "7_c.down.sql": "" }),
  );
  assert.deepEqual(planUp(set, null).steps.map((s) => [s.from, s.to]), [[null, 1n], [1n, 3n], [3n, 7n]]);
  assert.deepEqual(planUp(set, 3n, 2), {
    steps: [{ migration: set.migrations[2], direction: "up", file: "7_c.up.sql", from: 3n, to: 7n }],
    short: 1,
  });
  assert.deepEqual(planDown(set, 7n).steps.map((s) => [s.file ?? null, s.to]), [["7_c.down.sql", 3n], [null, 1n], [
    "1_a.down.sql",
    null,
  ]]);
  assert.equal(planDown(set, null, 1).short, 1);
  assert.deepEqual(planGoto(set, 7n, 1n).steps.map((s) => s.to), [3n, 1n]);
  assert.deepEqual(planGoto(set, null, 3n).steps.map((s) => s.to), [1n, 3n]);
  assert.throws(() => planGoto(set, 1n, 2n), /no migration found for version 2/);
  assert.throws(() => planUp(set, 5n), /no migration found for version 5/);
});

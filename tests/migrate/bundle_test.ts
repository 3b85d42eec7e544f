/**
 * Bundles: `writeBundle` embeds the example migrations folder in an ES module, and
 * `bundledSource` over it plans, checksums and migrates exactly as the folder does, with
 * statements split ahead of time, so a process that has neither the folder nor the parser
 * migrates from the bundle alone.
 */
import assert from "node:assert/strict";
import { copyFile, cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Database } from "../../lib/db/database.ts";
import { openDatabase } from "../../lib/io/open_database.ts";
import { directorySource } from "../../lib/io/directory_source.ts";
import { loadSeeds } from "../../lib/io/seed_loader.ts";
import { writeBundle } from "../../lib/io/write_bundle.ts";
import { type Bundle, bundledSource } from "../../lib/migrate/bundled_source.ts";
import { historyTableFor, readHistory, sha256Hex } from "../../lib/migrate/history.ts";
import type { MigrationSource } from "../../lib/migrate/migration_source.ts";
import { Migrator, type PlanRequest } from "../../lib/migrate/migrator.ts";
import { parseSqlScript } from "../../lib/migrate/sql_script.ts";
import { bundledSeeds } from "../../lib/seed/bundled_seeds.ts";
import { BACKENDS, makeDatabase, tempDir, withDatabase } from "../_support/backends.ts";
import { MOD, runBesideBundle, runProcess, TSX, typecheckFile } from "../_support/run_strata.ts";

const MIGRATIONS = fileURLToPath(new URL("../../migrations", import.meta.url));

/** Writes the bundle of the example folder into a temp folder and imports it. */
async function loadBundle(): Promise<{ bundle: Bundle; file: string; remove(): Promise<void> }> {
  const dir = await tempDir("strata-bundle-");
  const file = join(dir.path, "migrations.bundle.mjs");
  const written = await writeBundle({ migrations: MIGRATIONS, out: file, version: "0.0.0-test" });
  assert.equal(written.out, file);
  assert.equal(written.migrations, 8);
  const bundle = (await import(pathToFileURL(file).href)).default as Bundle;
  return { bundle, file, remove: dir.remove };
}

const REQUESTS: PlanRequest[] = [
  { command: "up" },
  { command: "up", limit: 1 },
  { command: "down" },
  { command: "down", limit: 1 },
  { command: "goto", version: 1n },
  { command: "goto", version: 4n },
];

async function plans(db: Database, source: MigrationSource) {
  const migrator = new Migrator(db, { source, lockTimeoutMs: 5000 });
  const out = [];
  for (const request of REQUESTS) out.push(await migrator.plan(request));
  return out;
}

test("a bundle holds every migration of the folder and serves each migration's statements split ahead of time", async () => {
  const { bundle, remove } = await loadBundle();
  try {
    assert.equal(bundle.format, 1);
    assert.equal(bundle.strata, "0.0.0-test");
    const folder = directorySource(MIGRATIONS);
    const names = (await folder.list()).sort();
    assert.deepEqual(Object.keys(bundle.migrations.files).sort(), names);
    assert.deepEqual(Object.keys(bundle.migrations.scripts ?? {}).sort(), names);

    const source = bundledSource(bundle);
    assert.deepEqual((await source.list()).sort(), names);
    assert.ok(source.parse, "a bundle source brings its own parse");
    for (const name of names) {
      const text = await folder.read(name);
      assert.equal(await source.read(name), text, name);
      assert.deepEqual(await source.parse(text, name), await parseSqlScript(text, name), name);
    }
    // Served from the bundle, not parsed: text the parser would reject still gets the bundled statements.
    const name = "000004_index_sources_created_at.up.sql";
    const served = await source.parse("THIS IS NOT SQL", name);
    assert.deepEqual(served.statements, bundle.migrations.scripts![name].statements);
    assert.equal(served.transactional, false);
    await assert.rejects(parseSqlScript("THIS IS NOT SQL", name), { code: "PARSE_ERROR" });
  } finally {
    await remove();
  }
});

for (const backend of BACKENDS) {
  test(`the bundle and the folder give identical plans and checksums [${backend}]`, async (t) => {
    const { bundle, remove } = await loadBundle();
    try {
      await withDatabase(t, backend, async ({ db }) => {
        const folder = directorySource(MIGRATIONS);
        const bundled = bundledSource(bundle);
        const status = async (source: MigrationSource) =>
          (await new Migrator(db, { source, lockTimeoutMs: 5000 }).status()).entries;

        // Fresh, then half-way (migrated by the bundle), then at the top (migrated by the folder).
        const fresh = await plans(db, folder);
        assert.deepEqual(await plans(db, bundled), fresh);
        assert.equal(fresh[0].steps.length, 4);
        assert.equal(fresh[0].steps[3].transactional, false);
        assert.deepEqual(await status(bundled), await status(folder));

        assert.equal((await new Migrator(db, { source: bundled }).up({ limit: 2 })).to.version, 2n);
        const half = await plans(db, folder);
        assert.deepEqual(await plans(db, bundled), half);
        assert.deepEqual(half.map((p) => p.steps.length), [2, 1, 2, 1, 1, 2]);

        assert.equal((await new Migrator(db, { source: folder }).up()).to.version, 4n);
        const entries = await status(folder);
        assert.deepEqual(await status(bundled), entries);
        assert.deepEqual(entries.map((e) => e.state), ["applied", "applied", "applied", "applied"]);
        for (const entry of entries) {
          const expected = await sha256Hex(await readFile(join(MIGRATIONS, entry.up!), "utf8"));
          assert.equal(entry.checksum, expected, entry.up);
          assert.equal(entry.recordedChecksum, expected, `${entry.up} as recorded by the run that applied it`);
        }
        assert.deepEqual(await plans(db, bundled), await plans(db, folder));
      });
    } finally {
      await remove();
    }
  });
}

/**
 * What a compiled service does on start-up: import strata and its bundle, migrate. It blocks
 * the parser's module first, so the run proves the bundle never needs it.
 */
const RUN_SCRIPT = `const [strataUrl, databaseUrl] = process.argv.slice(2);
const { bundledSource, Migrator, openDatabase } = await import(strataUrl);
const { default: bundle } = await import("./migrations.bundle.mjs");
const parserBlocked = await import("libpg-query").then(() => false, () => true);
const { db } = await openDatabase(databaseUrl);
try {
  const run = await new Migrator(db, { source: bundledSource(bundle) }).up();
  if (run.error) throw run.error;
  console.log(JSON.stringify({ parserBlocked, version: String(run.to.version), files: run.results.map((r) => r.file) }));
} finally {
  await db.close();
}
`;

for (const backend of BACKENDS) {
  test(`a process with only the bundle file (no migrations folder, no parser) migrates a fresh database [${backend}]`, async (t) => {
    const test = await makeDatabase(backend, { folder: true });
    if (!test) return t.skip("no PostgreSQL server");
    const { file, remove } = await loadBundle();
    try {
      if (backend === "pglite") await test.db.close();
      const result = await runBesideBundle(file, "migrations.bundle.mjs", RUN_SCRIPT, test.url, "migrations");
      assert.deepEqual(result, {
        parserBlocked: true,
        version: "4",
        files: [
          "000001_create_organisations.up.sql",
          "000002_create_users.up.sql",
          "000003_create_sources.up.sql",
          "000004_index_sources_created_at.up.sql",
        ],
      });

      const { db } = backend === "pglite" ? await openDatabase(test.url) : { db: test.db };
      try {
        assert.deepEqual(await db.query("SELECT version::text AS version, dirty FROM schema_migrations"), [
          { version: "4", dirty: false },
        ]);
        const tables = await db.query<{ name: string }>(
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        );
        assert.deepEqual(tables.map((r) => r.name), [
          "organisations",
          "schema_migrations",
          "schema_migrations_history",
          "sources",
          "users",
        ]);
        assert.equal((await db.query("SELECT 1 FROM pg_indexes WHERE indexname = 'sources_created_at_idx'")).length, 1);
        const history = await readHistory(
          db,
          historyTableFor({ schema: "public", table: "schema_migrations", sql: '"public"."schema_migrations"' }),
        );
        for (const row of history) {
          const up: string = result.files[Number(row.version) - 1];
          assert.equal(row.checksum, await sha256Hex(await readFile(join(MIGRATIONS, up), "utf8")), up);
        }
        assert.equal(history.length, 4);
      } finally {
        if (backend === "pglite") await db.close();
      }
    } finally {
      await remove();
      await test.dispose();
    }
  });
}

test("a .js bundle gets a declaration file and both forms type-check as a Bundle under strict TypeScript, even with allowJs", async () => {
  const dir = await tempDir("strata-bundle-types-");
  try {
    const core = fileURLToPath(new URL("../../core.ts", import.meta.url));
    const js = join(dir.path, "src", "migrations.bundle.js");
    const written = await writeBundle({ migrations: MIGRATIONS, out: js, version: "0.0.0-test", types: core });
    assert.equal(written.declaration, join(dir.path, "src", "migrations.bundle.d.ts"));
    const text = await readFile(js, "utf8");
    assert.match(text, /^\/\/ @ts-self-types="\.\/migrations\.bundle\.d\.ts"\n/, "Deno reads the types from the .d.ts");
    assert.match(text, /^\/\/ Written by `strata bundle` from (\.\.\/)+(.+\/)?migrations\. Do not edit:$/m);
    assert.doesNotMatch(text, new RegExp(dir.path), "no machine's absolute path in the module");
    assert.match(await readFile(written.declaration!, "utf8"), /^import type \{ Bundle \} from ".+core\.ts";$/m);
    const defaults = await writeBundle({ migrations: MIGRATIONS, out: join(dir.path, "b.mjs"), version: "0" });
    assert.match(await readFile(defaults.declaration!, "utf8"), /from "strata\/core";/);
    assert.equal(defaults.declaration, join(dir.path, "b.d.mts"));
    await writeBundle({ migrations: MIGRATIONS, out: join(dir.path, "src", "typed.bundle.ts"), version: "0" });

    await writeFile(
      join(dir.path, "src", "use.ts"),
      `import { type Bundle, bundledSource } from ${JSON.stringify(core)};
import fromJs from "./migrations.bundle.js";
import fromTs from "./typed.bundle.ts";
const sources = [bundledSource(fromJs), bundledSource(fromTs)];
const format: Bundle["format"] = fromTs.format;
export { format, sources };
`,
    );
    const out = await typecheckFile(join(dir.path, "src", "use.ts"), dir.path);
    assert.equal(out.code, 0, out.stdout + out.stderr);
  } finally {
    await dir.remove();
  }
});

test("a bundle holds only the files the loaders read: no dotfiles, notes or misnamed migrations from either folder", async () => {
  const dir = await tempDir("strata-bundle-only-");
  const password = "s3cret-do-not-ship";
  try {
    const migrations = join(dir.path, "migrations");
    const seeds = join(dir.path, "seeds");
    await cp(MIGRATIONS, migrations, { recursive: true });
    await writeFile(join(migrations, ".env.secret"), `DATABASE_URL=postgres://app:${password}@db/app\n`);
    await writeFile(join(migrations, "README.md"), `Ask ops for the password (${password})\n`);
    await writeFile(join(migrations, "5-add-plans.up.sql"), `-- ${password}\n`);
    await mkdir(join(seeds, "dev"), { recursive: true });
    await mkdir(join(seeds, ".private"));
    await writeFile(join(seeds, ".env"), `DATABASE_URL=postgres://app:${password}@db/app\n`);
    await writeFile(join(seeds, "README.md"), `${password}\n`);
    await writeFile(join(seeds, "types.d.ts"), `// ${password}\nexport {};\n`);
    await writeFile(join(seeds, "001_orgs.json"), '{ "table": "orgs", "key": ["slug"], "rows": [] }\n');
    await writeFile(join(seeds, "002_things.sql"), "INSERT INTO things (code) VALUES ('a') ON CONFLICT DO NOTHING;\n");
    await writeFile(join(seeds, "dev", ".pgpass"), `db:5432:app:app:${password}\n`);
    await writeFile(join(seeds, "dev", "notes.txt"), `${password}\n`);
    await writeFile(join(seeds, "dev", "010_demo.sql"), "SELECT 1;\n");
    await writeFile(join(seeds, ".private", "001_keys.sql"), `SELECT '${password}';\n`);

    const out = join(dir.path, "out", "migrations.bundle.mjs");
    const written = await writeBundle({ migrations, seeds, out, version: "0.0.0-test" });
    const text = await readFile(out, "utf8");
    assert.equal(text.includes(password), false, "a secret from a file no loader reads is in the bundle");

    const bundle = (await import(pathToFileURL(out).href)).default as Bundle;
    const migrationFiles = (await directorySource(MIGRATIONS).list()).sort();
    assert.deepEqual(Object.keys(bundle.migrations.files), migrationFiles);
    assert.deepEqual(Object.keys(bundle.migrations.scripts ?? {}), migrationFiles);
    assert.equal(written.migrations, 8);
    assert.deepEqual(written.ignored, [
      { file: "5-add-plans.up.sql", reason: "the name does not start with VERSION_ (digits then an underscore)" },
    ]);
    assert.deepEqual(Object.keys(bundle.seeds?.files ?? {}), ["001_orgs.json", "002_things.sql", "dev/010_demo.sql"]);
    assert.deepEqual(bundle.seeds?.environments, ["dev"]);
    assert.equal(written.seeds, 3);
    for (const env of [undefined, "dev"]) {
      const options = env ? { env } : {};
      assert.deepEqual(
        (await bundledSeeds(bundle, options)).map((f) => f.name),
        (await loadSeeds(seeds, options)).map((f) => f.name),
        `the bundle's seeds are the folder's for env ${env}`,
      );
    }
  } finally {
    await dir.remove();
  }
});

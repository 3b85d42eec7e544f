/**
 * Seeds in a bundle: `writeBundle` with a seeds folder splits SQL seeds, checks JSON seeds and
 * compiles code seeds into the module; `bundledSeeds` gives them back as `runSeeds` input,
 * the same files in the same order as `loadSeeds` reads from the folder, so a process with
 * only the bundle file (no folder, no parser) seeds a database, again and again.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { FileError, StrataError } from "../../lib/db/strata_error.ts";
import { openDatabase } from "../../lib/io/open_database.ts";
import { loadSeeds } from "../../lib/io/seed_loader.ts";
import { writeBundle } from "../../lib/io/write_bundle.ts";
import type { Bundle } from "../../lib/migrate/bundled_source.ts";
import { parseSqlScript } from "../../lib/migrate/sql_script.ts";
import { bundledSeeds } from "../../lib/seed/bundled_seeds.ts";
import type { SeedFile } from "../../lib/seed/seeder.ts";
import { BACKENDS, makeDatabase, tempDir } from "../_support/backends.ts";
import { MOD, runBesideBundle, runProcess, TSX, typecheckFile } from "../_support/run_strata.ts";

const MIGRATIONS = fileURLToPath(new URL("../../migrations", import.meta.url));
const SEEDS = fileURLToPath(new URL("../../seeds", import.meta.url));
const CORE = fileURLToPath(new URL("../../core.ts", import.meta.url));

/** Writes a bundle and imports it (a fresh file name each time: imports are cached by URL). */
async function bundleOf(
  dir: string,
  seeds: string,
  name = "app.bundle.mjs",
): Promise<{ bundle: Bundle; file: string; text: string }> {
  const file = join(dir, name);
  await writeBundle({ migrations: MIGRATIONS, seeds, out: file, version: "0.0.0-test" });
  const bundle = (await import(pathToFileURL(file).href)).default as Bundle;
  return { bundle, file, text: await readFile(file, "utf8") };
}

/**
 * A service's start-up with only the bundle file beside it: migrate, then seed for -env dev
 * twice. The parser's module is blocked first, so the run proves nothing needs it.
 */
const RUN_SCRIPT = `const [strataUrl, databaseUrl] = process.argv.slice(2);
const { bundledSeeds, bundledSource, Migrator, openDatabase, runSeeds } = await import(strataUrl);
const { default: bundle } = await import("./app.bundle.mjs");
const parserBlocked = await import("libpg-query").then(() => false, () => true);
const { db } = await openDatabase(databaseUrl);
try {
  const migrated = await new Migrator(db, { source: bundledSource(bundle) }).up();
  if (migrated.error) throw migrated.error;
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const run = await runSeeds(db, await bundledSeeds(bundle, { env: "dev" }));
    if (run.error) throw run.error;
    runs.push(run.results.map((r) => [r.file, r.table, r.status, r.inserted, r.updated, r.unchanged]));
  }
  console.log(JSON.stringify({ parserBlocked, runs }));
} finally {
  await db.close();
}
`;

for (const backend of BACKENDS) {
  test(`a process with only the bundle file (no folders, no parser) seeds -env dev with the right counts, then again changing nothing [${backend}]`, async (t) => {
    const database = await makeDatabase(backend, { folder: true });
    if (!database) return t.skip("no PostgreSQL server");
    const work = await tempDir("strata-bundled-seeds-");
    try {
      if (backend === "pglite") await database.db.close();
      const { file } = await bundleOf(work.path, SEEDS);
      const result = await runBesideBundle(file, "app.bundle.mjs", RUN_SCRIPT, database.url, "seeds") as {
        parserBlocked: boolean;
        runs: unknown;
      };
      assert.equal(result.parserBlocked, true);
      assert.deepEqual(result.runs, [
        [
          ["001_organisations.json", "organisations", "done", 1, 0, 0],
          ["002_admin_user.ts", "users", "done", 1, 0, 0],
          ["003_sample_source.sql", null, "done", 1, 0, null],
          ["dev/010_demo_organisations.json", "organisations", "done", 3, 0, 0],
          ["dev/011_demo_sources.sql", null, "done", 3, 0, null],
        ],
        [
          ["001_organisations.json", "organisations", "done", 0, 0, 1],
          ["002_admin_user.ts", "users", "done", 0, 0, 1],
          ["003_sample_source.sql", null, "done", 0, 0, null],
          ["dev/010_demo_organisations.json", "organisations", "done", 0, 0, 3],
          ["dev/011_demo_sources.sql", null, "done", 0, 0, null],
        ],
      ]);

      const { db } = backend === "pglite" ? await openDatabase(database.url) : { db: database.db };
      try {
        const orgs = await db.query<{ slug: string; sources: number }>(
          `SELECT o.slug, count(s.id)::int AS sources FROM organisations o
           LEFT JOIN sources s ON s.organisation_id = o.id GROUP BY o.slug ORDER BY o.slug`,
        );
        assert.deepEqual(orgs, [
          { slug: "acme", sources: 1 },
          { slug: "default", sources: 1 },
          { slug: "globex", sources: 1 },
          { slug: "initech", sources: 1 },
        ]);
        const users = await db.query<{ email: string; hash: string }>(
          "SELECT email, password_hash AS hash FROM users",
        );
        assert.equal(users.length, 1);
        assert.equal(users[0].email, "admin@datafly.local");
        assert.match(users[0].hash, /^pbkdf2_sha256\$210000\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
      } finally {
        if (backend === "pglite") await db.close();
      }
    } finally {
      await work.remove();
      await database.dispose();
    }
  });
}

/** What a seed file is, comparable between the folder and the bundle (a rows function by its kind). */
function describe(file: SeedFile): unknown {
  if (file.kind === "sql") return { name: file.name, kind: "sql", text: file.text };
  const { rows, ...rest } = file.seed;
  return { name: file.name, kind: "data", ...rest, rows: typeof rows === "function" ? "function" : rows };
}

test("bundledSeeds gives the files loadSeeds reads, in its order, per environment, with SQL seeds split ahead of time", async () => {
  const dir = await tempDir("strata-bundled-seeds-same-");
  try {
    const seeds = join(dir.path, "seeds");
    await mkdir(join(seeds, "dev"), { recursive: true });
    await mkdir(join(seeds, "prod"));
    await mkdir(join(seeds, "staging"));
    await mkdir(join(dir.path, "shared"));
    await writeFile(
      join(dir.path, "shared", "slug.ts"),
      "export const slug = (name: string): string => name.toLowerCase();\n",
    );
    await writeFile(
      join(seeds, "01_orgs.json"),
      JSON.stringify({ table: "orgs", key: ["slug"], rows: [{ slug: "acme", name: "Acme" }] }),
    );
    await writeFile(
      join(seeds, "02_members.ts"),
      `import { defineSeed } from ${JSON.stringify(CORE)};
import { slug } from "../shared/slug.ts";
export default defineSeed({
  table: "members",
  key: ["org_id", "email"],
  rows: async ({ query }) => {
    const [org] = await query<{ id: string }>("SELECT id::text AS id FROM orgs WHERE slug = $1", [slug("ACME")]);
    return [{ org_id: org.id, email: "a@acme.test" }];
  },
});
`,
    );
    await writeFile(
      join(seeds, "03_legacy.cjs"),
      'module.exports = { table: "things", key: ["code"], rows: [{ code: "legacy" }] };\n',
    );
    await writeFile(
      join(seeds, "10_things.sql"),
      "-- two statements\nINSERT INTO things (code) VALUES ('a');\nUPDATE things SET level = 1 WHERE code = 'a';\n",
    );
    await writeFile(
      join(seeds, "dev", "01_demo.json"),
      JSON.stringify({ table: "orgs", key: ["slug"], update: true, rows: [{ slug: "demo", name: "Demo" }] }),
    );
    await writeFile(join(seeds, "dev", "02_demo.sql"), "INSERT INTO things (code) VALUES ('dev');\n");
    await writeFile(
      join(seeds, "dev", "03_demo.mjs"),
      'export default { table: "things", key: ["code"], rows: [] };\n',
    );
    await writeFile(join(seeds, "prod", "01_prod.sql"), "INSERT INTO things (code) VALUES ('prod');\n");

    const { bundle, text } = await bundleOf(dir.path, seeds);
    assert.equal(text.includes(dir.path), false, "no machine's absolute path in the module");
    assert.deepEqual(bundle.seeds?.environments, ["dev", "prod", "staging"]);
    assert.deepEqual(Object.keys(bundle.seeds?.modules ?? {}), ["02_members.ts", "03_legacy.cjs", "dev/03_demo.mjs"]);
    for (const env of [undefined, "dev", "prod", "staging"]) {
      const options = env ? { env } : {};
      const fromBundle = await bundledSeeds(bundle, options);
      const fromFolder = await loadSeeds(seeds, options);
      assert.deepEqual(fromBundle.map(describe), fromFolder.map(describe), `env ${env}`);
      for (const file of fromBundle) {
        if (file.kind !== "sql") continue;
        const { text: _text, ...script } = await parseSqlScript(file.text, file.name);
        assert.deepEqual(file.script, script, `${file.name} comes split`);
      }
    }
    assert.deepEqual(
      (await bundledSeeds(bundle, { env: "dev" })).map((f) => f.name),
      [
        "01_orgs.json",
        "02_members.ts",
        "03_legacy.cjs",
        "10_things.sql",
        "dev/01_demo.json",
        "dev/02_demo.sql",
        "dev/03_demo.mjs",
      ],
    );
    const members = (await bundledSeeds(bundle)).find((f) => f.name === "02_members.ts");
    assert.ok(members?.kind === "data" && typeof members.seed.rows === "function");
    const asked: unknown[][] = [];
    const rows = await members.seed.rows({
      query: <T>(_text: string, params?: readonly unknown[]) => {
        asked.push([...(params ?? [])]);
        return Promise.resolve([{ id: "7" }] as T[]);
      },
    });
    assert.deepEqual(
      [rows, asked],
      [[{ org_id: "7", email: "a@acme.test" }], [["acme"]]],
      "its helper was compiled in",
    );

    await assert.rejects(bundledSeeds(bundle, { env: "qa" }), (error: unknown) => {
      assert.ok(error instanceof StrataError);
      assert.equal(error.code, "SOURCE_NOT_FOUND");
      assert.equal(error.message, "Seeds folder for -env qa is not in the bundle");
      assert.match(error.hint ?? "", /^The bundle has dev, prod, staging\./);
      return true;
    });
    await assert.rejects(bundledSeeds(bundle, { env: "../dev" }), { code: "USAGE" });
    const { bundle: without } = await bundleOf(dir.path, join(dir.path, "missing"), "no-seeds.bundle.mjs");
    await assert.rejects(bundledSeeds(without), { code: "SOURCE_NOT_FOUND", message: "The bundle holds no seeds" });
    await assert.rejects(bundledSeeds({} as Bundle), { code: "USAGE" });
  } finally {
    await dir.remove();
  }
});

test("a code seed takes defineSeed from strata by package name; Node built-ins, other strata values, bad JSON and bad SQL are refused when bundling, and nothing is written", async () => {
  const dir = await tempDir("strata-bundled-seeds-refused-");
  try {
    const seeds = join(dir.path, "seeds");
    await mkdir(seeds);
    await writeFile(
      join(seeds, "001_a.ts"),
      `import { defineSeed, type SeedRow } from "strata";
const rows: SeedRow[] = [{ k: "x" }];
export default defineSeed({ table: "t", key: ["k"], rows });
`,
    );
    const { bundle, text } = await bundleOf(dir.path, seeds);
    assert.doesNotMatch(text, /\bfrom\s*["']strata|import\(\s*["']strata/, "strata is not imported by the bundle");
    const [a] = await bundledSeeds(bundle);
    assert.deepEqual(a, { name: "001_a.ts", kind: "data", seed: { table: "t", key: ["k"], rows: [{ k: "x" }] } });

    const refused = async (name: string, content: string, expected: Record<string, unknown>, hint?: RegExp) => {
      const folder = join(dir.path, name.replace(/\W/g, "_"));
      await mkdir(join(folder, "dev"), { recursive: true });
      await writeFile(join(folder, "001_ok.sql"), "SELECT 1;\n");
      await writeFile(join(folder, name), content);
      const out = join(dir.path, "refused", "app.bundle.mjs");
      await assert.rejects(
        writeBundle({ migrations: MIGRATIONS, seeds: folder, out, version: "0" }),
        (error: unknown) => {
          assert.ok(error instanceof FileError, String(error));
          for (const [key, value] of Object.entries(expected)) {
            if (value instanceof RegExp) assert.match(String(error[key as keyof FileError]), value, key);
            else assert.equal(error[key as keyof FileError], value, key);
          }
          if (hint) assert.match(error.hint ?? "", hint);
          return true;
        },
        name,
      );
      assert.equal(existsSync(out), false, `${name}: nothing written`);
    };
    await refused(
      "002_b.ts",
      `import { defineSeed } from "strata";\nimport { randomUUID } from "node:crypto";\nexport default defineSeed({ table: "t", key: ["k"], rows: [{ k: randomUUID() }] });\n`,
      {
        code: "SEED_INVALID",
        file: "002_b.ts",
        line: 2,
        reason: /^cannot compile it into the bundle: Could not resolve "node:crypto"/,
      },
      /node:crypto is missing: use web-standard APIs/,
    );
    await refused(
      "002_c.js",
      `import { quoteIdent } from "strata/core";\nexport default { table: quoteIdent("t"), key: ["k"], rows: [] };\n`,
      { code: "SEED_INVALID", file: "002_c.js", line: 1, reason: /No matching export .* for import "quoteIdent"/ },
    );
    await refused(
      "dev/002_d.json",
      '{\n  "table": "t",\n  "key": ["k"]\n  "rows": []\n}\n',
      { code: "SEED_INVALID", file: "dev/002_d.json", line: 4, reason: /^invalid JSON/ },
    );
    await refused(
      "002_e.sql",
      "INSERT INTO t (k) VALUES ('a');\nINSERT INTO t (k) VALUS ('b');\n",
      { code: "PARSE_ERROR", file: "002_e.sql", line: 2 },
    );
  } finally {
    await dir.remove();
  }
});

test("a bundle written by an older strata (every file as text, SQL not split) still gives its SQL and JSON seeds, and says to rebundle for a code seed", async () => {
  const old = {
    format: 1,
    strata: "0.1.0",
    migrations: { files: {} },
    seeds: {
      files: {
        ".env": "DATABASE_URL=postgres://app:secret@db/app\n",
        "001_orgs.json": '{ "table": "orgs", "key": ["slug"], "rows": [] }',
        "002_things.sql": "INSERT INTO things (code) VALUES ('a');\n",
        "README.md": "notes\n",
        "dev/003_admin.ts": 'export default { table: "users", key: ["email"], rows: [] };\n',
      },
    },
  } as const;
  const files = await bundledSeeds(old);
  assert.deepEqual(files, [
    { name: "001_orgs.json", kind: "data", seed: { table: "orgs", key: ["slug"], rows: [] } },
    { name: "002_things.sql", kind: "sql", text: "INSERT INTO things (code) VALUES ('a');\n" },
  ]);
  await assert.rejects(bundledSeeds(old, { env: "dev" }), (error: unknown) => {
    assert.ok(error instanceof FileError);
    assert.equal(error.code, "SEED_INVALID");
    assert.equal(error.message, "dev/003_admin.ts: the bundle holds this seed's source text, not its compiled module");
    assert.match(error.hint ?? "", /strata bundle -out FILE -seeds DIR compiles \.ts and \.js seeds/);
    return true;
  });
});

test("a .ts bundle with code seeds and a .js one with its declaration both type-check for bundledSeeds and bundledSource under strict TypeScript", async () => {
  const dir = await tempDir("strata-bundled-seeds-types-");
  try {
    const src = join(dir.path, "src");
    await mkdir(src);
    await writeBundle({ migrations: MIGRATIONS, seeds: SEEDS, out: join(src, "typed.bundle.ts"), version: "0" });
    await writeBundle({
      migrations: MIGRATIONS,
      seeds: SEEDS,
      out: join(src, "app.bundle.js"),
      version: "0",
      types: CORE,
    });
    await writeFile(
      join(src, "use.ts"),
      `import { bundledSeeds, bundledSource, type Bundle } from ${JSON.stringify(CORE)};
import fromJs from "./app.bundle.js";
import fromTs from "./typed.bundle.ts";
const bundles: Bundle[] = [fromJs, fromTs];
export const seeds = Promise.all(bundles.map((bundle) => bundledSeeds(bundle, { env: "dev" })));
export const sources = [bundledSource(fromJs), bundledSource(fromTs)];
`,
    );
    const out = await typecheckFile(join(src, "use.ts"), dir.path);
    assert.equal(out.code, 0, out.stdout + out.stderr);
  } finally {
    await dir.remove();
  }
});

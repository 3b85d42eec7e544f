/**
 * `strata bundle -seeds DIR` as a real process in a project (copies of the example folders,
 * this checkout's node_modules linked in, as a project that installed strata and esbuild has
 * them): it compiles the .ts seed with the project's esbuild, leaves out what no loader reads
 * and says so for a file that looks like a migration, and the module it writes seeds a
 * database.
 */
import assert from "node:assert/strict";
import { cp, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Bundle, bundledSource } from "../../lib/migrate/bundled_source.ts";
import { Migrator } from "../../lib/migrate/migrator.ts";
import { bundledSeeds } from "../../lib/seed/bundled_seeds.ts";
import { runSeeds } from "../../lib/seed/seeder.ts";
import { tempDir, withDatabase } from "../_support/backends.ts";
import { assertExit, runStrata } from "../_support/run_strata.ts";

const EXAMPLE_MIGRATIONS = fileURLToPath(new URL("../../migrations", import.meta.url));
const EXAMPLE_SEEDS = fileURLToPath(new URL("../../seeds", import.meta.url));
const NODE_MODULES = fileURLToPath(new URL("../../node_modules", import.meta.url));

test("bundle -seeds compiles the .ts seed, leaves out dotfiles and notes, warns about a misnamed migration, and the module seeds a database [pglite]", async (t) => {
  const dir = await tempDir("strata-bundle-cli-");
  try {
    await symlink(NODE_MODULES, join(dir.path, "node_modules"), "dir");
    await cp(EXAMPLE_MIGRATIONS, join(dir.path, "migrations"), { recursive: true });
    await cp(EXAMPLE_SEEDS, join(dir.path, "seeds"), { recursive: true });
    const admin = join(dir.path, "seeds", "002_admin_user.ts");
    // The example imports strata's own mod.ts by a relative path; a project imports it by name.
    await writeFile(admin, (await readFile(admin, "utf8")).replace('from "../mod.ts"', 'from "strata"'));
    await writeFile(join(dir.path, "seeds", ".env"), "DATABASE_URL=postgres://app:hunter2@db/app\n");
    await writeFile(join(dir.path, "migrations", "5_add_plans.sql"), "-- hunter2\n");

    const out = await runStrata(
      ["-path", "migrations", "bundle", "-out", "src/app.bundle.mjs", "-seeds", "seeds"],
      dir.path,
    );
    assertExit(out, 0);
    assert.deepEqual(out.stderr.trim().split("\n").map((line) => line.replace(/\(\d+ bytes\)/, "(N bytes)")), [
      "warning: not bundled: 5_add_plans.sql: the name does not end in .up.EXT or .down.EXT",
      "Wrote src/app.bundle.mjs: 8 migration files, 5 seed files (N bytes)",
    ]);
    const file = join(dir.path, "src", "app.bundle.mjs");
    assert.equal((await readFile(file, "utf8")).includes("hunter2"), false);
    const bundle = (await import(pathToFileURL(file).href)).default as Bundle;

    await withDatabase(t, "pglite", async ({ db }) => {
      assert.equal((await new Migrator(db, { source: bundledSource(bundle) }).up()).error, undefined);
      const run = await runSeeds(db, await bundledSeeds(bundle));
      assert.equal(run.error, undefined);
      assert.deepEqual(run.results.map((r) => [r.file, r.inserted]), [
        ["001_organisations.json", 1],
        ["002_admin_user.ts", 1],
        ["003_sample_source.sql", 1],
      ]);
    });
  } finally {
    await dir.remove();
  }
});

test("bundle -seeds -json reports what it wrote and what it left out", async () => {
  const dir = await tempDir("strata-bundle-cli-json-");
  try {
    await cp(EXAMPLE_MIGRATIONS, join(dir.path, "migrations"), { recursive: true });
    await cp(join(EXAMPLE_SEEDS, "dev"), join(dir.path, "seeds"), { recursive: true });
    await writeFile(join(dir.path, "migrations", "x_plans.up.sql"), "SELECT 1;\n");
    const out = await runStrata(
      ["-path", "migrations", "-json", "bundle", "-out", "app.bundle.js", "-seeds", "seeds"],
      dir.path,
    );
    assertExit(out, 0);
    const report = JSON.parse(out.stdout);
    assert.deepEqual({ ...report, bytes: typeof report.bytes }, {
      command: "bundle",
      out: join(dir.path, "app.bundle.js"),
      declaration: join(dir.path, "app.bundle.d.ts"),
      migrations: 8,
      seeds: 2,
      bytes: "number",
      ignored: [{
        file: "x_plans.up.sql",
        reason: "the name does not start with VERSION_ (digits then an underscore)",
      }],
    });
  } finally {
    await dir.remove();
  }
});

test("bundle -seeds naming a folder that is not there fails, names it, and writes nothing", async () => {
  const dir = await tempDir("strata-bundle-cli-noseeds-");
  try {
    await cp(EXAMPLE_MIGRATIONS, join(dir.path, "migrations"), { recursive: true });
    await writeFile(join(dir.path, "seed.sql"), "SELECT 1;\n");
    for (
      const [seeds, message] of [["seed", "Seeds folder not found: seed"], [
        "seed.sql",
        "-seeds seed.sql is not a folder",
      ]]
    ) {
      const out = await runStrata(
        ["-path", "migrations", "bundle", "-out", "app.bundle.js", "-seeds", seeds],
        dir.path,
      );
      assertExit(out, 1);
      assert.equal(out.stderr.split("\n")[0], `error: ${message}`);
      assert.match(out.stderr, /hint: Pass -seeds DIR naming the seeds folder, or leave -seeds out/);
      await assert.rejects(readFile(join(dir.path, "app.bundle.js")), { code: "ENOENT" });
    }
  } finally {
    await dir.remove();
  }
});

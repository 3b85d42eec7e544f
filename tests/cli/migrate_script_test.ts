/**
 * scripts/migrate.ts, the make targets of a golang-migrate project as one script, run as a
 * team runs it (`npx tsx scripts/migrate.ts down --all`), on a PGlite folder and on the
 * PostgreSQL test server.
 */
import assert from "node:assert/strict";
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BACKENDS, tempDir, withDatabase } from "../_support/backends.ts";
import { assertExit, type Finished, runScript } from "../_support/run_strata.ts";

const EXAMPLE_MIGRATIONS = fileURLToPath(new URL("../../migrations", import.meta.url));
const MIGRATE_SCRIPT = fileURLToPath(new URL("../../scripts/migrate.ts", import.meta.url));

/**
 * Runs `fn` in a folder with a copy of migrations/ and a database URL only the script opens:
 * a fresh database on the server, or a PGlite folder inside the project.
 */
async function withScript(
  t: { skip(message?: string): void },
  backend: (typeof BACKENDS)[number],
  fn: (script: (...args: string[]) => Promise<Finished>) => Promise<void>,
): Promise<void> {
  const dir = await tempDir("strata-migrate-script-");
  try {
    await cp(EXAMPLE_MIGRATIONS, join(dir.path, "migrations"), { recursive: true });
    const run = (url: string) => (...args: string[]) =>
      runScript(MIGRATE_SCRIPT, args, dir.path, { env: { DATABASE_URL: url } });
    if (backend === "pglite") await fn(run(`pglite://${join(dir.path, "db")}`));
    else await withDatabase(t, "postgres", ({ url }) => fn(run(url)));
  } finally {
    await dir.remove();
  }
}

for (const backend of BACKENDS) {
  test(`[${backend}] scripts/migrate.ts down --all (and -all=true) reverts every migration, as down -all does`, async (t) => {
    await withScript(t, backend, async (script) => {
      for (const all of ["--all", "-all=true", "-all"]) {
        assertExit(await script("up"), 0);
        const out = await script("down", all);
        assertExit(out, 0);
        assert.match(out.stderr, /^1\/d create_organisations /m, `${all}:\n${out.stderr}`);
        const version = await script("version");
        assertExit(version, 1);
        assert.match(version.stderr, /^error: no migration$/m);
      }
    });
  });
}

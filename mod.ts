/**
 * strata: PostgreSQL migrations for TypeScript, a golang-migrate drop-in. This entry is the
 * whole API (the core plus the runtime-bound parts: URLs, folders, the CLI); run directly
 * (`deno run -A mod.ts up`, `tsx mod.ts up`) it is the CLI.
 *
 * @example
 * ```ts ignore
 * import { directorySource, Migrator, openDatabase } from "strata";
 * const { db } = await openDatabase(process.env.DATABASE_URL);
 * try {
 *   const run = await new Migrator(db, { source: directorySource("migrations") }).up();
 *   if (run.error) throw run.error;
 * } finally {
 *   await db.close();
 * }
 * ```
 * @module
 */
import { realpathSync } from "node:fs";
import process from "node:process";
import { pathToFileURL } from "node:url";

export * from "./core.ts";
export { type CreatedMigration, createMigration, type CreateMigrationOptions } from "./lib/io/create_migration.ts";
export { directorySource } from "./lib/io/directory_source.ts";
export { loadSeeds, type LoadSeedsOptions } from "./lib/io/seed_loader.ts";
export { writeBundle, type WriteBundleOptions, type WrittenBundle } from "./lib/io/write_bundle.ts";
export { openDatabase, type OpenDatabaseOptions, type OpenedDatabase } from "./lib/io/open_database.ts";
export { extensionsUsedIn } from "./lib/io/pglite_extensions.ts";
export { type CliIo, runCli, USAGE, VERSION } from "./lib/cli/run_cli.ts";
export { main } from "./lib/cli/main.ts";

function isMainModule(): boolean {
  const meta = import.meta as ImportMeta & { main?: boolean };
  if (typeof meta.main === "boolean") return meta.main;
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

// Once per process: a seed loaded as CommonJS gets a second copy of this module, which
// must not run the CLI again. No top-level await, so CommonJS can import this entry.
const RAN = Symbol.for("strata.cli.ran");
if (isMainModule() && !(globalThis as Record<symbol, unknown>)[RAN]) {
  (globalThis as Record<symbol, unknown>)[RAN] = true;
  void import("./lib/cli/main.ts").then(({ main }) => main());
}

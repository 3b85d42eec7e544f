/**
 * strata: PostgreSQL migrations for TypeScript, a golang-migrate drop-in. This entry is the
 * whole API (the core plus the runtime-bound parts: URLs, folders, the CLI); run directly
 * (`deno run -A mod.ts up`, `tsx mod.ts up`) it is the CLI. Imported, also inlined into an
 * application's bundle, it never runs the CLI.
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

/**
 * Whether this file, mod.ts itself, is the program: `deno run -A mod.ts`, `tsx mod.ts`,
 * `deno run jsr:@strata/strata`. Being the entry is not enough: a bundler that inlines strata
 * into an application's single file (esbuild, `deno bundle`) makes this code part of the
 * entry, where `import.meta.main` is true and argv[1] is the bundle. What a bundle cannot keep
 * is this module's own name, so the CLI runs only when the running module is named mod.ts
 * (never the library's compiled dist/mod.js, which is what `import "strata"` loads; the npm bin
 * is bin/strata.ts).
 */
function isMainModule(): boolean {
  const meta = import.meta as ImportMeta & { main?: boolean; url?: string };
  if (typeof meta.url !== "string") return false;
  let self: URL;
  try {
    self = new URL(meta.url);
  } catch {
    return false;
  }
  if (!self.pathname.endsWith("/mod.ts")) return false;
  if (typeof meta.main === "boolean") return meta.main;
  const script = process.argv[1];
  if (!script || self.protocol !== "file:") return false;
  try {
    return pathToFileURL(realpathSync(script)).href === self.href;
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

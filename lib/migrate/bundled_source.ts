/**
 * Migrations embedded in a module (written by `strata bundle`), for edge functions and
 * compiled servers with no file system. Statements are split ahead of time, so the
 * PostgreSQL parser's WASM never has to load where the bundle runs.
 */
import { StrataError } from "../db/strata_error.ts";
import { memorySource, type MigrationSource } from "./migration_source.ts";
import type { SqlScript } from "./sql_script.ts";

/** A folder's files with their statements split ahead of time. */
export interface BundledFiles {
  /** File name to text: the files strata reads (migrations; `.sql` and `.json` seeds). */
  files: Readonly<Record<string, string>>;
  /** SQL file name to its parsed form (without the text, which is in `files`). */
  scripts?: Readonly<Record<string, Omit<SqlScript, "text">>>;
}

/**
 * A seeds folder in a bundle. Names are the folder's (`001_orgs.json`) and its environment
 * subfolders' (`dev/010_demo.sql`), as `loadSeeds` names them.
 */
export interface BundledSeeds extends BundledFiles {
  /**
   * Code seed name (`002_admin_user.ts`) to a function importing its module, compiled into
   * the bundle: the module runs only when its seeds are asked for.
   */
  modules?: Readonly<Record<string, () => Promise<unknown>>>;
  /** The environment subfolders the folder had (`dev`), even empty ones. */
  environments?: readonly string[];
}

/** What `strata bundle` writes as the module's default export. */
export interface Bundle {
  /** Bundle format version. */
  format: 1;
  /** The strata version that wrote it. */
  strata: string;
  migrations: BundledFiles;
  /** With `-seeds DIR`: turn them into `runSeeds` input with `bundledSeeds(bundle, { env })`. */
  seeds?: BundledSeeds;
}

/** A bundle as given, or the one inside: an ES module loaded through CommonJS interop arrives as { default: bundle }. */
export function unwrapBundle<T>(bundle: T): T {
  const inner = (bundle as { default?: unknown } | null | undefined)?.default;
  if (
    bundle && typeof bundle === "object" && !("format" in bundle) && inner && typeof inner === "object" &&
    "format" in inner
  ) {
    return inner as T;
  }
  return bundle;
}

/**
 * A {@linkcode MigrationSource} over a bundle's migrations. Plans and checksums are the
 * same as the folder's it was made from: the same names, the same text, the same
 * statements.
 *
 * @throws {StrataError} USAGE when the value is not a strata bundle.
 * @example
 * ```ts ignore
 * import bundle from "./migrations.bundle.js";
 * import { bundledSource, Migrator } from "strata/core";
 * await new Migrator(db, { source: bundledSource(bundle) }).up();
 * ```
 */
export function bundledSource(bundle: Bundle | BundledFiles, label = "bundle"): MigrationSource {
  bundle = unwrapBundle(bundle);
  const files = "format" in bundle ? bundle.migrations : bundle;
  if (!files || typeof files.files !== "object") {
    throw new StrataError("USAGE", "Not a strata bundle: expected { format: 1, migrations: { files, scripts } }", {
      hint: 'Write one with: strata bundle -out FILE. In a CommonJS package (no "type": "module") name it ' +
        "FILE.mjs so it loads as the ES module it is",
    });
  }
  const source = memorySource(files.files, label);
  const scripts = files.scripts ?? {};
  return {
    ...source,
    async parse(text: string, fileName: string): Promise<SqlScript> {
      const script = scripts[fileName];
      if (script) return { ...script, text };
      // Not split ahead of time (an older bundle, a hand-made one): parse it here.
      const { parseSqlScript } = await import("./sql_script.ts");
      return await parseSqlScript(text, fileName);
    },
  };
}

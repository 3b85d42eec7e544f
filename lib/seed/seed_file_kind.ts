/**
 * Which files of a seeds folder are seeds, and which subfolder names are environments: the
 * one rule the folder loader (lib/io) and `strata bundle` share, so a bundle holds exactly
 * the files a folder run would read.
 */
import { StrataError } from "../db/strata_error.ts";

/** How a seed file is read: SQL text, a JSON data seed, or a module exporting one by default. */
export type SeedFileKind = "sql" | "json" | "module";

const SEED_FILE = /\.(sql|json|ts|mts|cts|js|mjs|cjs)$/;

/**
 * The kind of seed a file name is, or undefined for a file seeding skips (`README.md`,
 * `.env`, a declaration file `types.d.ts`).
 *
 * @example
 * ```ts
 * import { seedFileKind } from "./seed_file_kind.ts";
 * console.log(seedFileKind("001_orgs.json"), seedFileKind("002_admin.ts"), seedFileKind(".env")); // "json" "module" undefined
 * ```
 */
export function seedFileKind(fileName: string): SeedFileKind | undefined {
  const match = SEED_FILE.exec(fileName);
  if (!match || /\.d\.[mc]?ts$/.test(fileName)) return undefined;
  return match[1] === "sql" ? "sql" : match[1] === "json" ? "json" : "module";
}

/**
 * Whether a subfolder name can be an environment (`-env NAME`): letters, digits, `_`, `.`
 * and `-`, not starting with a dot (so never `..`, `.git` or `.cache`).
 *
 * @example
 * ```ts
 * import { isSeedEnvironment } from "./seed_file_kind.ts";
 * console.log(isSeedEnvironment("dev"), isSeedEnvironment(".private"), isSeedEnvironment("../dev")); // true false false
 * ```
 */
export function isSeedEnvironment(name: string): boolean {
  return /^[A-Za-z0-9_.-]+$/.test(name) && !name.startsWith(".");
}

/**
 * Throws unless `env` can name an environment subfolder.
 *
 * @throws {StrataError} USAGE
 */
export function checkSeedEnvironment(env: string): void {
  if (!isSeedEnvironment(env)) {
    throw new StrataError("USAGE", `-env must be a folder name, got ${JSON.stringify(env)}`);
  }
}

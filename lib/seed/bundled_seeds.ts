/**
 * Seeds embedded in a bundle (`strata bundle -seeds DIR`), as `runSeeds` input: the same
 * files, order and environments as `loadSeeds` reads from the folder, with no file system
 * and no parser (SQL seeds were split when the bundle was written; `.ts` / `.js` seeds were
 * compiled into it).
 */
import { FileError, StrataError } from "../db/strata_error.ts";
import { type Bundle, unwrapBundle } from "../migrate/bundled_source.ts";
import type { DataSeed } from "./define_seed.ts";
import { parseJsonSeed } from "./parse_json_seed.ts";
import { checkSeedEnvironment, seedFileKind } from "./seed_file_kind.ts";
import type { SeedFile } from "./seeder.ts";

/** Options for {@linkcode bundledSeeds}. */
export interface BundledSeedsOptions {
  /** Also give the seeds of this environment subfolder (`seeds/dev/`), after the common ones. */
  env?: string;
}

/**
 * A bundle's seeds for an environment, ready for `runSeeds`: the seeds folder's own files in
 * file-name order, then, with `env`, that subfolder's, exactly as `loadSeeds` reads the
 * folder. JSON seeds are parsed here (errors name the file, line and column); a code seed's
 * module is imported from the bundle only when its seeds are asked for.
 *
 * @throws {StrataError} USAGE when the value is not a bundle or `env` is not a folder name;
 * SOURCE_NOT_FOUND when the bundle holds no seeds, or not that environment's.
 * @throws {FileError} SEED_INVALID for a JSON seed that does not parse, or a code seed whose
 * module fails to load or has no default export.
 * @example
 * ```ts ignore
 * import { bundledSeeds, runSeeds } from "strata/core";
 * import bundle from "./migrations.bundle.js";
 * const run = await runSeeds(db, await bundledSeeds(bundle, { env: "dev" }));
 * if (run.error) throw run.error;
 * ```
 */
export async function bundledSeeds(bundle: Bundle, options: BundledSeedsOptions = {}): Promise<SeedFile[]> {
  bundle = unwrapBundle(bundle);
  if (!bundle || typeof bundle !== "object" || !("format" in bundle)) {
    throw new StrataError("USAGE", "Not a strata bundle: expected { format: 1, migrations, seeds }", {
      hint: "Write one with: strata bundle -out FILE -seeds DIR",
    });
  }
  const seeds = bundle.seeds;
  if (!seeds || typeof seeds.files !== "object") {
    throw new StrataError("SOURCE_NOT_FOUND", "The bundle holds no seeds", {
      hint: "Bundle them with the migrations: strata bundle -out FILE -seeds DIR",
    });
  }
  const modules = seeds.modules ?? {};
  const names = [...new Set([...Object.keys(seeds.files), ...Object.keys(modules)])];
  const selected = names.filter((name) => !name.includes("/")).sort();
  if (options.env) {
    checkSeedEnvironment(options.env);
    const prefix = `${options.env}/`;
    const inEnv = names.filter((name) => name.startsWith(prefix) && !name.slice(prefix.length).includes("/")).sort();
    // Bundles record their environment folders, so an empty one is still known.
    const known = seeds.environments?.includes(options.env) ?? inEnv.length > 0;
    if (!known) {
      const environments = seeds.environments ??
        [...new Set(names.filter((name) => name.includes("/")).map((name) => name.slice(0, name.indexOf("/"))))];
      throw new StrataError("SOURCE_NOT_FOUND", `Seeds folder for -env ${options.env} is not in the bundle`, {
        hint: `${
          environments.length > 0 ? `The bundle has ${environments.join(", ")}. ` : "The bundle has no environments. "
        }Add the folder to the seeds folder, then run strata bundle again`,
      });
    }
    selected.push(...inEnv);
  }
  const files: SeedFile[] = [];
  for (const name of selected) {
    const kind = seedFileKind(name);
    const text = seeds.files[name];
    if (kind === "module") files.push({ name, kind: "data", seed: await importBundled(modules[name], name) });
    else if (text === undefined) continue;
    else if (kind === "sql") {
      const script = seeds.scripts?.[name];
      files.push({ name, kind: "sql", text, ...(script ? { script } : {}) });
    } else if (kind === "json") files.push({ name, kind: "data", seed: parseJsonSeed(text, name) });
    // Anything else is a file loadSeeds would skip (older bundles embedded every file of the folder).
  }
  return files;
}

async function importBundled(load: (() => Promise<unknown>) | undefined, file: string): Promise<DataSeed> {
  if (typeof load !== "function") {
    throw new FileError("SEED_INVALID", "the bundle holds this seed's source text, not its compiled module", { file }, {
      hint:
        "Write the bundle again with this strata: strata bundle -out FILE -seeds DIR compiles .ts and .js seeds into it",
    });
  }
  let module: { default?: unknown };
  try {
    module = (await load()) as { default?: unknown };
  } catch (error) {
    throw new FileError(
      "SEED_INVALID",
      `cannot load the module: ${error instanceof Error ? error.message : String(error)}`,
      { file },
      { cause: error, hint: "Fix the module; it must `export default defineSeed({ table, key, rows })`" },
    );
  }
  let seed = module?.default;
  // A CommonJS seed arrives as { default: module.exports }; one compiled from `export default` holds the seed there.
  if (seed && typeof seed === "object" && "default" in seed && !("table" in seed)) {
    seed = (seed as { default?: unknown }).default;
  }
  if (seed === undefined) {
    throw new FileError("SEED_INVALID", "the module has no default export", { file }, {
      hint: "export default defineSeed({ table, key, rows })",
    });
  }
  return seed as DataSeed;
}

/**
 * Loads a seeds folder: `*.sql`, `*.json` and `*.ts` / `*.js` modules in file-name order,
 * then, with an environment name, the subfolder of that name (dev-only data stays out of
 * production).
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { FileError, StrataError } from "../db/strata_error.ts";
import type { DataSeed } from "../seed/define_seed.ts";
import { parseJsonSeed } from "../seed/parse_json_seed.ts";
import { checkSeedEnvironment, seedFileKind } from "../seed/seed_file_kind.ts";
import type { SeedFile } from "../seed/seeder.ts";

/** Options for {@linkcode loadSeeds}. */
export interface LoadSeedsOptions {
  /** Also load the subfolder of this name, after the common files. */
  env?: string;
}

/**
 * Reads every seed in `dir` (and `dir/<env>/`), in order. JSON syntax errors name the line
 * and column; modules must export a data seed by default.
 *
 * @throws {StrataError} SOURCE_NOT_FOUND for a missing folder; {@linkcode FileError} SEED_INVALID for a bad file.
 * @example
 * ```ts ignore
 * const files = await loadSeeds("seeds", { env: "dev" });
 * const run = await runSeeds(db, files);
 * ```
 */
export async function loadSeeds(dir: string, options: LoadSeedsOptions = {}): Promise<SeedFile[]> {
  const files = await loadFolder(dir, "", "Seeds folder");
  if (options.env) {
    checkSeedEnvironment(options.env);
    files.push(
      ...(await loadFolder(join(dir, options.env), `${options.env}/`, `Seeds folder for -env ${options.env}`)),
    );
  }
  return files;
}

async function loadFolder(dir: string, prefix: string, what: string): Promise<SeedFile[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    if ((cause as { code?: string }).code === "ENOENT") {
      throw new StrataError("SOURCE_NOT_FOUND", `${what} not found: ${dir}`, {
        cause,
        hint: "Pass -seeds DIR, or create the folder",
      });
    }
    throw cause;
  }
  const names = entries.filter((e) => e.isFile() && seedFileKind(e.name) !== undefined).map((e) => e.name).sort();
  const files: SeedFile[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const label = `${prefix}${name}`;
    const kind = seedFileKind(name);
    if (kind === "sql") files.push({ name: label, kind: "sql", text: await readFile(path, "utf8") });
    else if (kind === "json") {
      files.push({ name: label, kind: "data", seed: parseJsonSeed(await readFile(path, "utf8"), label) });
    } else files.push({ name: label, kind: "data", seed: await importSeed(path, label) });
  }
  return files;
}

/**
 * Plain node cannot import a .ts seed; tsx can, when the project has it installed (resolved
 * from the seed's own folder, as the project's code would). Undefined when it is not there.
 */
async function importWithTsx(path: string): Promise<{ default?: unknown } | undefined> {
  let api: { tsImport(specifier: string, parent: string): Promise<{ default?: unknown }> };
  try {
    const [{ createRequire }, { dirname, join: joinPath, resolve }] = await Promise.all([
      import("node:module"),
      import("node:path"),
    ]);
    // The ES module build of tsx's API, located through the package's own exports map, from
    // the seed's folder (createRequire needs an absolute path: loadSeeds("seeds") is relative).
    const manifestPath = createRequire(resolve(path)).resolve("tsx/package.json");
    const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
    const entry = manifest.exports["./esm/api"].import.default as string;
    api = await import(pathToFileURL(joinPath(dirname(manifestPath), entry)).href);
  } catch {
    return undefined;
  }
  const module = await api.tsImport(pathToFileURL(path).href, import.meta.url);
  // tsx hands a CommonJS-compiled module's exports over as { default: exports }.
  const inner = module.default as { default?: unknown } | undefined;
  return inner && typeof inner === "object" && "default" in inner && !("table" in inner) ? inner : module;
}

async function importSeed(path: string, file: string): Promise<DataSeed> {
  let module: { default?: unknown };
  try {
    try {
      module = await import(pathToFileURL(path).href);
    } catch (error) {
      const viaTsx = (error as { code?: string }).code === "ERR_UNKNOWN_FILE_EXTENSION" && /\.[mc]?ts$/.test(path)
        ? await importWithTsx(path)
        : undefined;
      if (!viaTsx) throw error;
      module = viaTsx;
    }
  } catch (error) {
    const typescript = /\.[mc]?ts$/.test(path);
    const unknownExtension = (error as { code?: string }).code === "ERR_UNKNOWN_FILE_EXTENSION";
    throw new FileError(
      "SEED_INVALID",
      typescript && unknownExtension
        ? "cannot load a TypeScript seed under plain node"
        : `cannot load the module: ${(error as Error).message}`,
      { file },
      {
        cause: error,
        hint: typescript && unknownExtension
          ? "Install tsx in the project (npm i -D tsx) and strata loads .ts seeds with it, or run under Deno " +
            "(deno run -A mod.ts seed), or write the seed as .js"
          : "Fix the module; it must `export default defineSeed({ table, key, rows })`",
      },
    );
  }
  if (module.default === undefined) {
    throw new FileError("SEED_INVALID", "the module has no default export", { file }, {
      hint: "export default defineSeed({ table, key, rows })",
    });
  }
  return module.default as DataSeed;
}

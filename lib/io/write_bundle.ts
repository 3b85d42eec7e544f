/**
 * `strata bundle`: writes an ES module that embeds a migrations folder (and a seeds folder)
 * with every migration's and SQL seed's statements split by the parser, and code seeds
 * compiled in, so an edge function or a compiled server migrates and seeds on start-up with
 * no file system and no parser.
 */
import type { Dirent } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { builtinModules, createRequire } from "node:module";
import { basename, dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { FileError, StrataError } from "../db/strata_error.ts";
import type { Bundle, BundledFiles, BundledSeeds } from "../migrate/bundled_source.ts";
import { parseMigrationFileName, whyIgnored } from "../migrate/file_name.ts";
import type { IgnoredFile } from "../migrate/migration_set.ts";
import { parseSqlScript, type SqlScript } from "../migrate/sql_script.ts";
import { parseJsonSeed } from "../seed/parse_json_seed.ts";
import { isSeedEnvironment, seedFileKind } from "../seed/seed_file_kind.ts";
import { directorySource } from "./directory_source.ts";
import { writeAtomically } from "./write_atomically.ts";

/** Options for {@linkcode writeBundle}. */
export interface WriteBundleOptions {
  /** The migrations folder. */
  migrations: string;
  /**
   * A seeds folder to embed too, when it exists: its seeds and its environment subfolders'
   * (`dev/`), the files `loadSeeds` reads and nothing else.
   */
  seeds?: string;
  /** The module to write (`.js`, `.mjs` or `.ts`). */
  out: string;
  /** strata's version, recorded in the bundle. */
  version: string;
  /**
   * For a `.js` / `.mjs` module, the module its declaration file (`.d.ts` / `.d.mts`, written
   * beside it) takes the `Bundle` type from; default `strata/core`; false writes none.
   */
  types?: string | false;
}

/** What was written. */
export interface WrittenBundle {
  out: string;
  /** The declaration file written beside a JavaScript module. */
  declaration?: string;
  /** Migration files embedded. */
  migrations: number;
  /** Seed files embedded (SQL, JSON and compiled code seeds). */
  seeds: number;
  bytes: number;
  /** Files in the migrations folder that look like migrations but are not, left out (as the migrator ignores them). */
  ignored: IgnoredFile[];
}

/**
 * Reads the folders, splits every migration and SQL seed with the parser, compiles code
 * seeds (`.ts`, `.js`, ... with esbuild) into the module, and writes it atomically (a partial
 * file renamed into place). Only what the loaders read goes in: migration files by their
 * name pattern, seed files by their extension. A README, an editor's backup, a `.env` or a
 * `.pgpass` beside them stays out.
 *
 * @throws {FileError} PARSE_ERROR for a migration or SQL seed that does not parse;
 * SEED_INVALID for a JSON seed that does not parse or a code seed that does not compile for
 * a neutral platform (nothing is written).
 * @throws {StrataError} COMMAND_FAILED when there are code seeds and esbuild is not installed.
 * @example
 * ```ts ignore
 * await writeBundle({ migrations: "migrations", seeds: "seeds", out: "src/migrations.bundle.js", version: "0.1.0" });
 * ```
 */
export async function writeBundle(options: WriteBundleOptions): Promise<WrittenBundle> {
  const source = directorySource(options.migrations);
  const names = (await source.list()).sort();
  const files: Record<string, string> = {};
  const scripts: Record<string, Omit<SqlScript, "text">> = {};
  const ignored: IgnoredFile[] = [];
  for (const name of names) {
    // Only what the migrator reads.
    if (!parseMigrationFileName(name)) {
      const reason = whyIgnored(name);
      if (reason) ignored.push({ file: name, reason });
      continue;
    }
    const text = await source.read(name);
    files[name] = text;
    const { text: _text, ...script } = await parseSqlScript(text, name);
    scripts[name] = script;
  }
  const migrations: BundledFiles = { files, scripts };
  const bundle: Bundle = { format: 1, strata: options.version, migrations };
  const seeds = options.seeds ? await readSeeds(options.seeds) : undefined;
  if (seeds) bundle.seeds = seeds.bundled;
  const code = seeds?.code ?? [];
  // Named relative to the module, so the committed file is the same on every machine.
  const from = (dir: string) => relative(dirname(options.out), dir).replaceAll("\\", "/") || ".";
  const typescript = /\.[cm]?ts$/.test(options.out);
  const declaration = !typescript && options.types !== false
    ? options.out.replace(/\.(m?)js$/, ".d.$1ts").replace(/^(?!.*\.d\.m?ts$)(.*)$/, "$1.d.ts")
    : undefined;
  const header = `// Written by \`strata bundle\` from ${from(options.migrations)}${
    options.seeds ? ` and ${from(options.seeds)}` : ""
  }. Do not edit:\n// run \`strata bundle\` again after changing a migration${options.seeds ? " or a seed" : ""}.\n`;
  const selfTypes = declaration ? `// @ts-self-types="./${basename(declaration)}"\n` : "";
  let body: string;
  if (code.length > 0) {
    // esbuild's output is JavaScript: a .ts module holding it is not type-checked, and its
    // default export keeps the literal `format: 1` through Object.freeze's typing.
    const banner = typescript ? `// @ts-nocheck\n${header}` : `${selfTypes}${header}`;
    body = await compileBundle(bundle, code, { out: options.out, seeds: options.seeds!, banner });
  } else {
    const json = JSON.stringify(bundle, null, 1);
    body = typescript
      // Inferred, `format` would be a number; the Bundle type wants the literal.
      ? `${header}const bundle = ${json};\nexport default bundle as typeof bundle & { format: 1 };\n`
      : `${selfTypes}${header}const bundle = ${json};\nexport default bundle;\n`;
  }
  // -out src/generated/migrations.bundle.mjs in a fresh checkout: writeAtomically makes the folder, as `mkdir -p` would.
  if (declaration) {
    await writeAtomically(
      declaration,
      `// Types for ${basename(options.out)}, written by \`strata bundle\` with it.\n` +
        `import type { Bundle } from ${JSON.stringify(options.types ?? "strata/core")};\n\n` +
        "declare const bundle: Bundle;\nexport default bundle;\n",
    );
  }
  await writeAtomically(options.out, body);
  return {
    out: options.out,
    ...(declaration ? { declaration } : {}),
    migrations: Object.keys(files).length,
    seeds: Object.keys(bundle.seeds?.files ?? {}).length + code.length,
    bytes: new TextEncoder().encode(body).length,
    ignored,
  };
}

/** A `.ts` / `.js` seed, compiled into the bundle. */
interface CodeSeed {
  /** Its name in the bundle, as loadSeeds names it (`dev/020_demo_users.ts`). */
  name: string;
  path: string;
}

/**
 * The seeds folder as loadSeeds reads it: files with a seed extension (loadSeeds skips
 * everything else), in the folder and in each subfolder that can name an environment. SQL
 * seeds are split and JSON seeds checked now, so a bad one fails here, not where the bundle runs.
 */
async function readSeeds(dir: string): Promise<{ bundled: BundledSeeds; code: CodeSeed[] } | undefined> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return undefined;
    throw new StrataError("COMMAND_FAILED", `Cannot read seeds folder ${dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const files: Record<string, string> = {};
  const scripts: Record<string, Omit<SqlScript, "text">> = {};
  const code: CodeSeed[] = [];
  const environments: string[] = [];
  // Code-unit order, as loadSeeds runs them (localeCompare would differ between machines).
  const byName = (a: Dirent, b: Dirent) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const add = async (folder: string, prefix: string, found: Dirent[]) => {
    for (const entry of found.filter((e) => e.isFile()).sort(byName)) {
      const kind = seedFileKind(entry.name);
      if (kind === undefined) continue;
      const name = `${prefix}${entry.name}`;
      const path = join(folder, entry.name);
      if (kind === "module") {
        code.push({ name, path });
        continue;
      }
      const text = await readFile(path, "utf8");
      files[name] = text;
      if (kind === "sql") {
        const { text: _text, ...script } = await parseSqlScript(text, name);
        scripts[name] = script;
      } else parseJsonSeed(text, name);
    }
  };
  await add(dir, "", entries);
  for (const entry of entries.sort(byName)) {
    if (!isSeedEnvironment(entry.name)) continue;
    const path = join(dir, entry.name);
    // loadSeeds follows a link to a folder (`-env dev` reads seeds/dev/ whatever it is).
    const folder = entry.isDirectory() ||
      (entry.isSymbolicLink() && (await stat(path).then((info) => info.isDirectory(), () => false)));
    if (!folder) continue;
    environments.push(entry.name);
    await add(path, `${entry.name}/`, await readdir(path, { withFileTypes: true }));
  }
  return { bundled: { files, scripts, environments }, code };
}

const NODE_BUILTINS = new Set(builtinModules);

/** The only value a bundled seed may take from strata: the rest of it is not needed to describe rows. */
const STRATA_STUB = "export function defineSeed(seed) {\n  return seed;\n}\n";
/** `strata`, `strata/core`, and their npm: and jsr: (`@strata/strata`) forms. */
const STRATA_SPECIFIER = /^(?:npm:|jsr:)?(?:@strata\/)?strata(?:@[^/]*)?(?:\/core)?$/;

/**
 * The module: the bundle's data with a lazy `import()` per code seed, compiled by esbuild for
 * a neutral platform (what edge runtimes and servers share). Each seed and what it imports
 * (its own files, packages) is inlined, and runs only when bundledSeeds asks for it; strata
 * itself is replaced by its defineSeed, so the bundle never pulls in strata's Node entry.
 */
async function compileBundle(
  bundle: Bundle,
  code: CodeSeed[],
  options: { out: string; seeds: string; banner: string },
): Promise<string> {
  const esbuild = await loadEsbuild(options.seeds);
  if (!esbuild) {
    throw new StrataError(
      "COMMAND_FAILED",
      `Cannot bundle the code seeds ${code.map((c) => c.name).join(", ")}: strata compiles .ts and .js seeds ` +
        "into the bundle with esbuild, which is not installed",
      {
        hint: "Install it in the project (npm install -D esbuild), " +
          "or write these seeds as .json or .sql",
      },
    );
  }
  const outDir = dirname(resolve(options.out));
  const placeholder = `strata modules ${crypto.randomUUID()}`;
  const data = { ...bundle, seeds: { ...bundle.seeds, modules: placeholder } };
  const modules = `{\n${
    code.map((c) => `  ${JSON.stringify(c.name)}: () => import(${JSON.stringify(resolve(c.path))})`).join(",\n")
  }\n}`;
  const entry = `const bundle = Object.freeze(${
    JSON.stringify(data, null, 1).replace(JSON.stringify(placeholder), () => modules)
  });\nexport default bundle;\n`;
  try {
    const result = await esbuild.build({
      stdin: { contents: entry, resolveDir: outDir, sourcefile: basename(options.out), loader: "js" },
      // Paths in esbuild's comments are relative to this: the same on every machine.
      absWorkingDir: outDir,
      bundle: true,
      write: false,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      mainFields: ["module", "main"],
      charset: "utf8",
      banner: { js: options.banner.replace(/\n$/, "") },
      logLevel: "silent",
      plugins: [seedPaths(code), strataStub()],
    });
    return result.outputFiles[0].text;
  } catch (error) {
    const first = (error as { errors?: EsbuildMessage[] }).errors?.[0];
    if (!first) throw error;
    throw compileError(first, code, outDir, error);
  }
}

interface EsbuildMessage {
  text: string;
  location: { file: string; line: number; column: number; lineText: string } | null;
}

interface EsbuildPluginBuild {
  onResolve(
    options: { filter: RegExp; namespace?: string },
    callback: (args: { path: string }) => { path: string; namespace?: string } | undefined,
  ): void;
  onLoad(
    options: { filter: RegExp; namespace?: string },
    callback: (args: { path: string }) => Promise<{ contents: string; loader: "js" } | undefined>,
  ): void;
}

interface Esbuild {
  build(options: Record<string, unknown>): Promise<{ outputFiles: Array<{ text: string }> }>;
}

/** The seeds' own paths, as they are: esbuild will not resolve anything from a folder that does not exist yet (the module's). */
function seedPaths(code: CodeSeed[]) {
  const paths = new Set(code.map((c) => resolve(c.path)));
  return {
    name: "strata-seed-paths",
    setup(build: EsbuildPluginBuild) {
      build.onResolve({ filter: /.*/ }, ({ path }) => (paths.has(path) ? { path } : undefined));
    },
  };
}

/** Replaces strata (by package name, or a path to its entry files, as in this repository's example seeds) with defineSeed. */
function strataStub() {
  const entries = new Map<string, Promise<boolean>>();
  return {
    name: "strata-define-seed",
    setup(build: EsbuildPluginBuild) {
      build.onResolve({ filter: STRATA_SPECIFIER }, () => ({ path: "strata", namespace: "strata" }));
      build.onLoad(
        { filter: /.*/, namespace: "strata" },
        () => Promise.resolve({ contents: STRATA_STUB, loader: "js" }),
      );
      build.onLoad({ filter: /[\\/](mod|core)\.[cm]?[jt]s$/ }, async ({ path }) => {
        let known = entries.get(path);
        if (!known) {
          known = isStrataEntry(path);
          entries.set(path, known);
        }
        return (await known) ? { contents: STRATA_STUB, loader: "js" } : undefined;
      });
    },
  };
}

/** Whether `path` is mod or core of the package named strata (its sources, or dist/ beside them). */
async function isStrataEntry(path: string): Promise<boolean> {
  let root = dirname(path);
  if (basename(root) === "dist") root = dirname(root);
  try {
    const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { name?: unknown };
    return manifest.name === "strata";
  } catch {
    return false;
  }
}

/** esbuild from the project (resolved from the seeds folder, as the project's code would), else strata's own. */
async function loadEsbuild(seeds: string): Promise<Esbuild | undefined> {
  try {
    const path = createRequire(join(resolve(seeds), "_")).resolve("esbuild");
    return (await import(pathToFileURL(path).href)) as Esbuild;
  } catch {
    // not installed in the project
  }
  try {
    return (await import("esbuild")) as unknown as Esbuild;
  } catch {
    return undefined;
  }
}

function compileError(message: EsbuildMessage, code: CodeSeed[], outDir: string, cause: unknown): FileError {
  const location = message.location;
  const path = location ? resolve(outDir, location.file) : undefined;
  const seed = code.find((c) => resolve(c.path) === path);
  const file = seed?.name ?? location?.file.replaceAll("\\", "/") ?? code[0].name;
  const builtin = /^Could not resolve "((?:node:)?[^"]+)"/.exec(message.text)?.[1];
  const isBuiltin = builtin !== undefined && (builtin.startsWith("node:") || NODE_BUILTINS.has(builtin));
  return new FileError(
    "SEED_INVALID",
    `cannot compile it into the bundle: ${message.text}`,
    {
      file,
      ...(location ? { line: location.line, column: location.column + 1, excerpt: location.lineText } : {}),
    },
    {
      cause,
      hint: isBuiltin
        ? `A bundled seed runs wherever the bundle does, edge runtimes included, where ${builtin} is missing: ` +
          "use web-standard APIs (crypto.subtle, TextEncoder, fetch), or write the seed as .json or .sql"
        : "A bundled seed may import defineSeed from strata, its own files and packages that run on any " +
          "platform; or write it as .json or .sql",
    },
  );
}

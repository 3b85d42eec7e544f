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
import type { SeedFile } from "../seed/seeder.ts";

const SEED_FILE = /\.(sql|json|ts|mts|cts|js|mjs|cjs)$/;

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
    if (!/^[A-Za-z0-9_.-]+$/.test(options.env) || options.env.startsWith(".")) {
      throw new StrataError("USAGE", `-env must be a folder name, got ${JSON.stringify(options.env)}`);
    }
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
  const names = entries.filter((e) => e.isFile() && SEED_FILE.test(e.name) && !/\.d\.[mc]?ts$/.test(e.name)).map((e) =>
    e.name
  ).sort();
  const files: SeedFile[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const label = `${prefix}${name}`;
    if (name.endsWith(".sql")) files.push({ name: label, kind: "sql", text: await readFile(path, "utf8") });
    else if (name.endsWith(".json")) {
      files.push({ name: label, kind: "data", seed: parseJsonSeed(await readFile(path, "utf8"), label) });
    } else files.push({ name: label, kind: "data", seed: await importSeed(path, label) });
  }
  return files;
}

/**
 * Parses a JSON seed; a syntax error names the line and column.
 *
 * @throws {FileError} SEED_INVALID
 */
export function parseJsonSeed(text: string, file: string): DataSeed {
  // A byte-order mark (some Windows editors write one) is not JSON; it is not data either.
  if (text.charCodeAt(0) === 0xfeff) text = ` ${text.slice(1)}`;
  let seed: DataSeed;
  try {
    seed = JSON.parse(text) as DataSeed;
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message)?.[1] ?? errorOffset(text)?.toString();
    const lineCol = /line (\d+) column (\d+)/.exec(message);
    let line: number | undefined;
    let column: number | undefined;
    if (lineCol) {
      line = Number(lineCol[1]);
      column = Number(lineCol[2]);
    } else if (position !== undefined) {
      const before = text.slice(0, Number(position));
      line = before.split("\n").length;
      column = Number(position) - before.lastIndexOf("\n");
    }
    const reason = message.replace(/^JSON\.parse: /, "").replace(/ in JSON at position \d+.*$/s, "").replace(
      /\s*\(line \d+ column \d+\)$/,
      "",
    ).replace(/^(Unexpected token '.+?'), .* is not valid JSON$/s, "$1");
    throw new FileError("SEED_INVALID", `invalid JSON: ${reason}`, {
      file,
      ...(line === undefined ? {} : { line }),
      ...(column === undefined ? {} : { column }),
      ...(line === undefined ? {} : { excerpt: text.split("\n")[line - 1] ?? "" }),
    }, { cause: error });
  }
  const inexact = inexactNumber(text);
  if (inexact) {
    const before = text.slice(0, inexact.offset);
    const line = before.split("\n").length;
    throw new FileError(
      "SEED_INVALID",
      `the number ${inexact.literal} has more digits than JSON.parse keeps: it would be stored as ${
        String(Number(inexact.literal))
      }`,
      {
        file,
        line,
        column: inexact.offset - before.lastIndexOf("\n"),
        excerpt: text.split("\n")[line - 1] ?? "",
      },
      { hint: `Write it as a string: "${inexact.literal}" (PostgreSQL reads the text exactly)` },
    );
  }
  return seed;
}

/**
 * The first number literal in a JSON text that a double cannot hold: JSON.parse would round it
 * (9007199254740993 becomes ...992; a numeric(40,20) value loses its last digits). Strings are
 * skipped; a literal of 15 significant digits or fewer is always exact.
 */
function inexactNumber(text: string): { literal: string; offset: number } | undefined {
  // Most seeds have no long number and no large exponent: skip the scan (it costs more than the parse).
  if (!/\d[\d.]{15}|[eE][+-]?\d{3}/.test(text)) return undefined;
  const token = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
  for (let match = token.exec(text); match !== null; match = token.exec(text)) {
    const literal = match[0];
    if (literal.startsWith('"')) continue;
    const [mantissa, exponent = "0"] = literal.replace("-", "").split(/[eE]/);
    const digits = mantissa.replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
    const value = Number(literal);
    // Past a double's range: Infinity, or 0 for a number that is not zero.
    if (!Number.isFinite(value) || (value === 0 && digits !== "")) return { literal, offset: match.index };
    if (digits.length <= 15) continue;
    if (!sameDecimal(mantissa, Number(exponent), value)) {
      return { literal, offset: match.index };
    }
  }
  return undefined;
}

/** Whether `mantissa`e`exponent` is exactly the decimal that the double `value` prints as. */
function sameDecimal(mantissa: string, exponent: number, value: number): boolean {
  const normal = (m: string, e: number) => {
    const [whole, fraction = ""] = m.split(".");
    let digits = (whole + fraction).replace(/^0+/, "");
    let scale = e - fraction.length;
    if (digits === "") return "0";
    while (digits.endsWith("0")) {
      digits = digits.slice(0, -1);
      scale++;
    }
    return `${digits}e${scale}`;
  };
  const [printed, printedExponent = "0"] = Math.abs(value).toString().split(/e/);
  return normal(mantissa, exponent) === normal(printed, Number(printedExponent));
}

/**
 * Where JSON.parse stops in a text it rejects, for the messages that do not say (V8's
 * "Unexpected token ']', ... is not valid JSON", a trailing comma). Parsing stops at the first
 * bad character whatever follows it, so the shortest prefix that fails for a reason other than
 * running out of text ends at that character: found by bisection, a few parses of the text
 * (not for texts over 1 MB).
 */
function errorOffset(text: string): number | undefined {
  // Each parse reads up to the whole text: past 1 MB the search would take seconds.
  if (text.length > 1_000_000) return undefined;
  const failsBefore = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return false;
    } catch (error) {
      const message = (error as Error).message;
      if (/Unexpected end of JSON input/.test(message)) return false;
      const at = /position (\d+)/.exec(message)?.[1];
      return at === undefined || Number(at) < length;
    }
  };
  if (!failsBefore(text.length)) return undefined;
  let low = 1;
  let high = text.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (failsBefore(middle)) high = middle;
    else low = middle + 1;
  }
  return low - 1;
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

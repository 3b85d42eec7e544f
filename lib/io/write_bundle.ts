/**
 * `strata bundle`: writes an ES module that embeds a migrations folder (and a seeds folder)
 * with every migration's statements split by the parser, so an edge function or a compiled
 * server migrates on start-up with no file system and no parser.
 */
import { readdir, readFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { StrataError } from "../db/strata_error.ts";
import type { Bundle, BundledFiles } from "../migrate/bundled_source.ts";
import { parseMigrationFileName } from "../migrate/file_name.ts";
import { parseSqlScript } from "../migrate/sql_script.ts";
import { directorySource } from "./directory_source.ts";
import { writeAtomically } from "./write_atomically.ts";

/** Options for {@linkcode writeBundle}. */
export interface WriteBundleOptions {
  /** The migrations folder. */
  migrations: string;
  /** A seeds folder to embed too (read recursively, one level: `dev/`), when it exists. */
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
  migrations: number;
  seeds: number;
  bytes: number;
}

/**
 * Reads the folders, splits every migration with the parser, and writes the module
 * atomically (a partial file renamed into place).
 *
 * @throws {FileError} PARSE_ERROR for a migration that does not parse (nothing is written).
 * @example
 * ```ts ignore
 * await writeBundle({ migrations: "migrations", seeds: "seeds", out: "src/migrations.bundle.js", version: "0.1.0" });
 * ```
 */
export async function writeBundle(options: WriteBundleOptions): Promise<WrittenBundle> {
  const source = directorySource(options.migrations);
  const names = (await source.list()).sort();
  const migrations: BundledFiles = { files: {}, scripts: {} };
  for (const name of names) {
    const text = await source.read(name);
    (migrations.files as Record<string, string>)[name] = text;
    if (parseMigrationFileName(name)) {
      const { text: _text, ...script } = await parseSqlScript(text, name);
      (migrations.scripts as Record<string, unknown>)[name] = script;
    }
  }
  const bundle: Bundle = { format: 1, strata: options.version, migrations };
  if (options.seeds) {
    const seeds = await readSeeds(options.seeds);
    if (seeds) bundle.seeds = seeds;
  }
  // Named relative to the module, so the committed file is the same on every machine.
  const from = (dir: string) => relative(dirname(options.out), dir).replaceAll("\\", "/") || ".";
  const typescript = /\.[cm]?ts$/.test(options.out);
  const declaration = !typescript && options.types !== false
    ? options.out.replace(/\.(m?)js$/, ".d.$1ts").replace(/^(?!.*\.d\.m?ts$)(.*)$/, "$1.d.ts")
    : undefined;
  const header = `// Written by \`strata bundle\` from ${from(options.migrations)}${
    options.seeds ? ` and ${from(options.seeds)}` : ""
  }. Do not edit:\n// run \`strata bundle\` again after changing a migration.\n`;
  const json = JSON.stringify(bundle, null, 1);
  const body = typescript
    // Inferred, `format` would be a number; the Bundle type wants the literal.
    ? `${header}const bundle = ${json};\nexport default bundle as typeof bundle & { format: 1 };\n`
    : `${declaration ? `// @ts-self-types="./${basename(declaration)}"\n` : ""}${header}const bundle = ${json};\n` +
      "export default bundle;\n";
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
    migrations: Object.keys(migrations.scripts ?? {}).length,
    seeds: Object.keys(bundle.seeds?.files ?? {}).length,
    bytes: new TextEncoder().encode(body).length,
  };
}

async function readSeeds(dir: string): Promise<BundledFiles | undefined> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return undefined;
    throw new StrataError("COMMAND_FAILED", `Cannot read seeds folder ${dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const files: Record<string, string> = {};
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.isFile()) files[entry.name] = await readFile(join(dir, entry.name), "utf8");
    else if (entry.isDirectory()) {
      for (
        const inner of (await readdir(join(dir, entry.name), { withFileTypes: true })).sort((a, b) =>
          a.name.localeCompare(b.name)
        )
      ) {
        if (inner.isFile()) {
          files[`${entry.name}/${inner.name}`] = await readFile(join(dir, entry.name, inner.name), "utf8");
        }
      }
    }
  }
  return { files };
}

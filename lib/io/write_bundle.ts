/**
 * `strata bundle`: writes an ES module that embeds a migrations folder (and a seeds folder)
 * with every migration's statements split by the parser, so an edge function or a compiled
 * server migrates on start-up with no file system and no parser.
 */
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { StrataError } from "../db/strata_error.ts";
import type { Bundle, BundledFiles } from "../migrate/bundled_source.ts";
import { parseMigrationFileName } from "../migrate/file_name.ts";
import { parseSqlScript } from "../migrate/sql_script.ts";
import { directorySource } from "./directory_source.ts";

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
}

/** What was written. */
export interface WrittenBundle {
  out: string;
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
  const body =
    `// Written by \`strata bundle\` from ${options.migrations}${
      options.seeds ? ` and ${options.seeds}` : ""
    }. Do not edit:\n` +
    `// run \`strata bundle\` again after changing a migration.\n` +
    `const bundle = ${JSON.stringify(bundle, null, 1)};\nexport default bundle;\n`;
  const partial = `${options.out}.partial`;
  // -out src/generated/migrations.bundle.mjs in a fresh checkout: make the folder, as `mkdir -p` would.
  await mkdir(dirname(options.out), { recursive: true });
  await writeFile(partial, body);
  await rename(partial, options.out);
  return {
    out: options.out,
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

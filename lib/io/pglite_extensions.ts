/**
 * PGlite runs an extension only when it was handed over when the instance started. strata
 * finds the extensions a project uses (`CREATE EXTENSION` in its migrations and seeds) and
 * loads PGlite's builds of those, so `CREATE EXTENSION pgcrypto` works on the embedded
 * database as on a server, and a database that has one keeps working when reopened. A project
 * with none pays nothing.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

const CREATE_EXTENSION = /\bcreate\s+extension\s+(?:if\s+not\s+exists\s+)?("(?:[^"]|"")+"|[a-z_][a-z0-9_$-]*)/gi;

/**
 * Extension names in `CREATE EXTENSION` statements of the .sql files in these folders (and
 * their subfolders, one level), and of any path given that is a file, whatever its name (a
 * plain backup to restore: pg_dump writes the extensions it holds as CREATE EXTENSION).
 */
export async function extensionsUsedIn(folders: readonly string[]): Promise<string[]> {
  const names = new Set<string>();
  const read = async (path: string): Promise<void> => {
    for (const match of (await readFile(path, "utf8")).matchAll(CREATE_EXTENSION)) {
      const raw = match[1];
      names.add(raw.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : raw.toLowerCase());
    }
  };
  const scan = async (folder: string, depth: number, given: boolean): Promise<void> => {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (given && (error as { code?: unknown }).code === "ENOTDIR") await read(folder).catch(() => {});
      return; // a folder that does not exist uses no extension; the command itself will say it is missing
    }
    await Promise.all(entries.map(async (entry) => {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (depth > 0) await scan(path, depth - 1, false);
      } else if (entry.name.endsWith(".sql")) {
        await read(path);
      }
    }));
  };
  await Promise.all(folders.map((folder) => scan(folder, 1, true)));
  return [...names].sort();
}

/**
 * PGlite's builds of these extensions, as its `extensions` option wants them. Names PGlite
 * does not ship (plpgsql is built in; vector and PostGIS are separate packages) are left out:
 * their CREATE EXTENSION then fails with PostgreSQL's own "is not available" error.
 */
export async function pgliteExtensions(names: readonly string[]): Promise<Record<string, unknown>> {
  const loaded: Record<string, unknown> = {};
  await Promise.all(names.map(async (name) => {
    const module = name.replaceAll("-", "_");
    if (!/^[a-z0-9_]+$/.test(module) || module === "plpgsql") return;
    try {
      const exports = await import(`@electric-sql/pglite/contrib/${module}`) as Record<string, unknown>;
      const extension = exports[module] ?? Object.values(exports)[0];
      if (extension) loaded[module] = extension;
    } catch {
      // not one of PGlite's contrib builds
    }
  }));
  return loaded;
}

/**
 * Migration files from a folder on disk (golang-migrate's `-path` / `file://`).
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { StrataError } from "../db/strata_error.ts";
import type { MigrationSource } from "../migrate/migration_source.ts";

/**
 * A {@linkcode MigrationSource} over one folder (not recursive). Accepts a path or a
 * `file://` URL, as golang-migrate's `-source` does.
 *
 * @throws {StrataError} SOURCE_NOT_FOUND (on first use) when the folder does not exist.
 * @example
 * ```ts ignore
 * import { directorySource } from "./directory_source.ts";
 * const source = directorySource("migrations");
 * console.log(await source.list());
 * ```
 */
export function directorySource(dir: string): MigrationSource {
  const path = dir.startsWith("file://") ? decodeURIComponent(dir.slice("file://".length)) : dir;
  const label = path.endsWith("/") ? path : `${path}/`;
  return {
    label,
    async list() {
      let entries;
      try {
        entries = await readdir(path, { withFileTypes: true });
      } catch (cause) {
        const code = (cause as { code?: string }).code;
        if (code === "ENOENT" || code === "ENOTDIR") {
          throw new StrataError("SOURCE_NOT_FOUND", `Migrations folder not found: ${path}`, {
            cause,
            hint: "Pass -path DIR (or -source file://DIR), or create the folder with 'create NAME'",
          });
        }
        throw cause;
      }
      const names: string[] = [];
      for (const entry of entries) {
        if (entry.isFile()) names.push(entry.name);
        else if (entry.isSymbolicLink()) {
          const info = await stat(join(path, entry.name)).catch(() => undefined);
          if (info?.isFile()) names.push(entry.name);
        }
      }
      return names;
    },
    read: (fileName: string) => readFile(join(path, fileName), "utf8"),
  };
}

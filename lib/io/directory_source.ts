/**
 * Migration files from a folder on disk (golang-migrate's `-path` / `file://`).
 */
import { Buffer, isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
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
export function directorySource(dir: string): MigrationSource & { checksum(fileName: string): Promise<string> } {
  const path = dir.startsWith("file://") ? decodeURIComponent(dir.slice("file://".length)) : dir;
  const label = path.endsWith("/") ? path : `${path}/`;
  // Synchronous file access on purpose: migration files are small, and a no-op `up` reads
  // every applied file for its checksum; fs/promises costs four thread-pool hops per file
  // (open, fstat, read, close): 1,000 files took 200+ ms that way, under 20 ms like this.
  return {
    label,
    list() {
      let entries;
      try {
        entries = readdirSync(path, { withFileTypes: true });
      } catch (cause) {
        const code = (cause as { code?: string }).code;
        if (code === "ENOENT" || code === "ENOTDIR") {
          return Promise.reject(
            new StrataError(
              "SOURCE_NOT_FOUND",
              `Migrations folder not found: ${path}${isAbsolute(path) ? "" : ` (${resolve(path)})`}`,
              {
                cause,
                hint: "Fix the folder: -path DIR (or -source file://DIR) on the CLI, MIGRATIONS_PATH for " +
                  "scripts/migrate.ts, the path given to directorySource from code (a relative one is read from " +
                  "the working directory); or create it with 'create NAME'",
              },
            ),
          );
        }
        return Promise.reject(cause);
      }
      const names: string[] = [];
      for (const entry of entries) {
        if (entry.isFile()) names.push(entry.name);
        else if (entry.isSymbolicLink()) {
          let info;
          try {
            info = statSync(join(path, entry.name));
          } catch {
            info = undefined;
          }
          if (info?.isFile()) names.push(entry.name);
        }
      }
      return Promise.resolve(names);
    },
    read(fileName: string) {
      try {
        return Promise.resolve(readFileSync(join(path, fileName), "utf8"));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    /**
     * The SHA-256 of the file's text as `read` returns it (its UTF-8 bytes), the value
     * sha256Hex gives, with node's native hash.
     */
    checksum(fileName: string) {
      try {
        const bytes = readFileSync(join(path, fileName));
        // Invalid UTF-8 reads as U+FFFD: hash the text read() would return, not the raw bytes.
        const data = isUtf8(bytes) ? bytes : Buffer.from(bytes.toString("utf8"), "utf8");
        return Promise.resolve(createHash("sha256").update(data).digest("hex"));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}

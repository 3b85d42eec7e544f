/**
 * Where migration files come from. The core only ever sees this interface: a directory
 * (lib/io), a bundle (a generated module) or a plain object in memory.
 */

import type { SqlScript } from "./sql_script.ts";

/** A set of files: names and their text. */
export interface MigrationSource {
  /** How to name this source to people, e.g. `migrations/` or `bundle`. */
  readonly label: string;
  /** The file names in the source (no folders), in any order. */
  list(): Promise<string[]>;
  /** The text of one file. */
  read(fileName: string): Promise<string>;
  /**
   * Splits a file into statements. Optional: the default is the PostgreSQL parser
   * (libpg-query, WASM). Bundles carry statements split ahead of time, so an edge runtime
   * never loads the parser.
   */
  parse?(text: string, fileName: string): Promise<SqlScript>;
}

/**
 * A source held in memory: file name to file text. Bundles use it too, so a bundle and the
 * folder it came from give identical plans.
 *
 * @example
 * ```ts
 * import { memorySource } from "./migration_source.ts";
 * const source = memorySource({
 *   "1_create_users.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY);",
 *   "1_create_users.down.sql": "DROP TABLE users;",
 * });
 * console.log(await source.list()); // ["1_create_users.up.sql", "1_create_users.down.sql"]
 * ```
 */
export function memorySource(files: Readonly<Record<string, string>>, label = "memory"): MigrationSource {
  const copy = new Map(Object.entries(files));
  return {
    label,
    list: () => Promise.resolve([...copy.keys()]),
    read(fileName: string) {
      const text = copy.get(fileName);
      return text === undefined
        ? Promise.reject(new Error(`No file named ${fileName} in ${label}`))
        : Promise.resolve(text);
    },
  };
}

/**
 * Data seeds: a table, its natural key and rows. strata inserts the rows that are missing
 * (by key), leaves existing ones alone (or, with `update`, brings their other columns back
 * to the seed's values), in bulk, and counts what it did.
 */

/** A row of a data seed: column name to value (strings, numbers, booleans, null, Dates, objects for json). */
export type SeedRow = Record<string, unknown>;

/** What a `.ts` / `.js` seed's `rows` function may use to compute its rows. */
export interface SeedContext {
  /** Runs a read query (e.g. to look up a foreign key by its natural key). */
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
}

/** A data seed, as a `.json` file holds it or a `.ts` / `.js` module exports it by default. */
export interface DataSeed<R extends SeedRow = SeedRow> {
  /** The table, optionally schema-qualified (`users`, `auth.users`). */
  table: string;
  /** The natural key: columns with a unique index or constraint on exactly them. */
  key: readonly (keyof R & string)[];
  /** The rows, or a function computing them (hashing a dev password, looking up an id). */
  rows: readonly R[] | ((context: SeedContext) => readonly R[] | Promise<readonly R[]>);
  /** Also update existing rows whose non-key columns differ (default: leave them alone). */
  update?: boolean;
}

/**
 * The typed helper for `.ts` seeds: returns its argument, checking its shape.
 *
 * @example
 * ```ts
 * import { defineSeed } from "./define_seed.ts";
 * export default defineSeed({
 *   table: "organisations",
 *   key: ["slug"],
 *   rows: [{ slug: "default", name: "Default Organisation" }],
 * });
 * ```
 */
export function defineSeed<R extends SeedRow>(seed: DataSeed<R>): DataSeed<R> {
  return seed;
}

/**
 * Quotes an SQL identifier (a schema, table or column name) with double quotes.
 *
 * @example
 * ```ts
 * import { quoteIdent } from "./quote_ident.ts";
 * console.log(quoteIdent('my "table"')); // "my ""table"""
 * ```
 */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

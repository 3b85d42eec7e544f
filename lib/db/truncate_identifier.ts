/** The longest identifier PostgreSQL keeps, in bytes (NAMEDATALEN - 1). */
export const MAX_IDENTIFIER_BYTES = 63;

/**
 * An identifier as the server stores it: PostgreSQL cuts a longer name to 63 bytes (with a
 * NOTICE, not an error) at a character boundary, so `"<70 characters>"` names the table whose
 * name is the first 63 of them, and the catalog (pg_class, pg_namespace) holds only those.
 * Compare names with the catalog in this form. Counts UTF-8 bytes, as a UTF8 database (and
 * PGlite) does; a database in a single-byte encoding (LATIN1) cuts a non-ASCII name later.
 *
 * @example
 * ```ts
 * import { truncateIdentifier } from "./truncate_identifier.ts";
 * console.log(truncateIdentifier("v".repeat(70)).length); // 63
 * console.log(truncateIdentifier("é".repeat(40)).length); // 31 (62 bytes: the 32nd would need 64)
 * console.log(truncateIdentifier("schema_migrations")); // schema_migrations
 * ```
 */
export function truncateIdentifier(name: string, maxBytes: number = MAX_IDENTIFIER_BYTES): string {
  // Most names are ASCII and short: no need to count.
  if (name.length <= maxBytes / 3) return name;
  let bytes = 0;
  let end = 0;
  for (const char of name) {
    const code = char.codePointAt(0)!;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes + size > maxBytes) return name.slice(0, end);
    bytes += size;
    end += char.length;
  }
  return name;
}

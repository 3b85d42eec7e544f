/** Quoting for the SQL strata writes itself (the server's deparsers quote their own output). */

// PostgreSQL's keywords that cannot be bare column or table names (pg_get_keywords() where
// catcode <> 'U'): quote_ident quotes them, and so does strata.
const KEYWORDS = new Set(
  ("all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean both case " +
    "cast char character check coalesce collate collation column concurrently constraint create cross " +
    "current_catalog current_date current_role current_schema current_time current_timestamp current_user dec " +
    "decimal default deferrable desc distinct do else end except exists extract false fetch float for foreign " +
    "freeze from full grant greatest group grouping having ilike in initially inner inout int integer intersect " +
    "interval into is isnull join json json_array json_arrayagg json_exists json_object json_objectagg json_query " +
    "json_scalar json_serialize json_table json_value lateral leading least left like limit localtime " +
    "localtimestamp merge_action national natural nchar none normalize not notnull null nullif numeric offset on " +
    "only or order out outer overlaps overlay placing position precision primary real references returning right " +
    "row select session_user setof similar smallint some substring symmetric system_user table tablesample then " +
    "time timestamp to trailing treat trim true union unique user using values varchar variadic verbose when where " +
    "window with xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot " +
    "xmlserialize xmltable").split(" "),
);

/** An identifier as quote_ident prints it: bare when it can be, double-quoted otherwise. */
export function ident(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) && !KEYWORDS.has(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/** `schema.name`, each part quoted as needed. */
export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}

/** A string literal (standard_conforming_strings is on in every supported server). */
export function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** `COMMENT ON <target> IS '...'` (or `IS NULL` to remove one). */
export function commentOn(target: string, comment: string | undefined): string {
  return `COMMENT ON ${target} IS ${comment === undefined ? "NULL" : literal(comment)}`;
}

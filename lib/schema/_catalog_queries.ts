/**
 * The catalog queries behind snapshotSchema: one flat query per object kind, each returning
 * a single text value (a JSON array) so no driver's type parsing (bigint, oid, arrays, "char")
 * ever sees the rows. Names are read raw; definitions come from the server's own deparsers,
 * which qualify every name because the snapshot runs with an empty search_path.
 */

/** Schemas that are never part of a snapshot. */
const SYSTEM_SCHEMA =
  `(%.nspname IN ('pg_catalog', 'information_schema') OR %.nspname LIKE 'pg\\_toast%' OR %.nspname LIKE 'pg\\_temp\\_%')`;

function userSchema(alias: string): string {
  return `NOT ${SYSTEM_SCHEMA.replaceAll("%.", `${alias}.`)}`;
}

/** True when the object (catalog, oid) belongs to an extension. */
function notExtensionMember(catalog: string, oid: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend xd WHERE xd.classid = 'pg_catalog.${catalog}'::pg_catalog.regclass AND xd.objid = ${oid} AND xd.deptype = 'e')`;
}

function comment(catalog: string, oid: string, sub = "0"): string {
  return `(SELECT ds.description FROM pg_catalog.pg_description ds WHERE ds.classoid = 'pg_catalog.${catalog}'::pg_catalog.regclass AND ds.objoid = ${oid} AND ds.objsubid = ${sub})`;
}

/** A collation's name as SQL (qualified unless in pg_catalog), or null. */
function collationName(oid: string): string {
  return `(SELECT CASE WHEN cn.nspname = 'pg_catalog' THEN pg_catalog.quote_ident(co.collname) ELSE pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) END FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = ${oid})`;
}

function wrap(select: string): string {
  return `SELECT coalesce(pg_catalog.json_agg(q), '[]')::text AS j FROM (${select}) q`;
}

/** Session settings that make every deparsed constant print the same way on every client. */
export const SNAPSHOT_SETTINGS = [
  "SET LOCAL search_path = ''",
  "SET LOCAL TimeZone = 'UTC'",
  "SET LOCAL DateStyle = 'ISO, YMD'",
  "SET LOCAL IntervalStyle = 'postgres'",
  "SET LOCAL extra_float_digits = 1",
  "SET LOCAL bytea_output = 'hex'",
];

/** The queries, by object kind. */
export const CATALOG_QUERIES = {
  schemas: wrap(`
    SELECT n.nspname AS name, ${comment("pg_namespace", "n.oid")} AS comment
    FROM pg_catalog.pg_namespace n
    WHERE ${userSchema("n")} AND ${notExtensionMember("pg_namespace", "n.oid")}`),

  extensions: wrap(`
    SELECT e.extname AS name, n.nspname AS schema, e.extversion AS version
    FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname <> 'plpgsql'`),

  enums: wrap(`
    SELECT n.nspname AS schema, t.typname AS name,
      (SELECT pg_catalog.json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) AS labels,
      ${comment("pg_type", "t.oid")} AS comment
    FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
    WHERE t.typtype = 'e' AND ${userSchema("n")} AND ${notExtensionMember("pg_type", "t.oid")}`),

  domains: wrap(`
    SELECT n.nspname AS schema, t.typname AS name,
      pg_catalog.format_type(t.typbasetype, t.typtypmod) AS type,
      CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation THEN ${
    collationName("t.typcollation")
  } END AS collation,
      pg_catalog.pg_get_expr(t.typdefaultbin, 0) AS default,
      t.typnotnull AS not_null,
      (SELECT pg_catalog.json_agg(pg_catalog.json_build_object('name', c.conname, 'definition', pg_catalog.pg_get_constraintdef(c.oid)) ORDER BY c.conname)
         FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c') AS checks,
      ${comment("pg_type", "t.oid")} AS comment
    FROM pg_catalog.pg_type t
      JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
      JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
    WHERE t.typtype = 'd' AND ${userSchema("n")} AND ${notExtensionMember("pg_type", "t.oid")}`),

  composites: wrap(`
    SELECT n.nspname AS schema, t.typname AS name,
      (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
          'name', a.attname,
          'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
          'collation', CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation THEN ${
    collationName("a.attcollation")
  } END,
          'comment', ${comment("pg_class", "a.attrelid", "a.attnum")}) ORDER BY a.attnum)
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
         WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS attributes,
      ${comment("pg_type", "t.oid")} AS comment
    FROM pg_catalog.pg_type t
      JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
      JOIN pg_catalog.pg_class c ON c.oid = t.typrelid
    WHERE t.typtype = 'c' AND c.relkind = 'c' AND ${userSchema("n")} AND ${notExtensionMember("pg_type", "t.oid")}`),

  ranges: wrap(`
    SELECT n.nspname AS schema, t.typname AS name,
      pg_catalog.format_type(r.rngsubtype, NULL) AS subtype,
      CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation THEN ${
    collationName("r.rngcollation")
  } END AS collation,
      CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::pg_catalog.regproc::text END AS subtype_diff,
      CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::pg_catalog.regproc::text END AS canonical,
      ${comment("pg_type", "t.oid")} AS comment
    FROM pg_catalog.pg_type t
      JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
      JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
      JOIN pg_catalog.pg_type st ON st.oid = r.rngsubtype
    WHERE t.typtype = 'r' AND ${userSchema("n")} AND ${notExtensionMember("pg_type", "t.oid")}`),

  sequences: wrap(`
    SELECT n.nspname AS schema, c.relname AS name,
      pg_catalog.format_type(s.seqtypid, NULL) AS type,
      s.seqstart::text AS start, s.seqincrement::text AS increment, s.seqmin::text AS min,
      s.seqmax::text AS max, s.seqcache::text AS cache, s.seqcycle AS cycle,
      (SELECT pg_catalog.json_build_object('kind', d.deptype, 'schema', tn.nspname, 'table', tc.relname, 'column', a.attname)
         FROM pg_catalog.pg_depend d
           JOIN pg_catalog.pg_class tc ON tc.oid = d.refobjid
           JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
           JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')
         LIMIT 1) AS owned_by,
      ${comment("pg_class", "c.oid")} AS comment
    FROM pg_catalog.pg_sequence s
      JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE ${userSchema("n")} AND ${notExtensionMember("pg_class", "c.oid")}`),

  tables: wrap(`
    SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
      c.relpersistence::text AS persistence,
      c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security,
      c.reloptions AS options,
      CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END AS partition_by,
      CASE WHEN c.relispartition THEN pg_catalog.pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
      (SELECT pg_catalog.json_agg(pg_catalog.json_build_object('schema', pn.nspname, 'name', pc.relname) ORDER BY i.inhseqno)
         FROM pg_catalog.pg_inherits i
           JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent
           JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
         WHERE i.inhrelid = c.oid) AS parents,
      ${comment("pg_class", "c.oid")} AS comment
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND ${userSchema("n")} AND ${notExtensionMember("pg_class", "c.oid")}`),

  columns: wrap(`
    SELECT n.nspname AS schema, c.relname AS table, a.attnum AS position, a.attname AS name,
      pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
      a.attnotnull AS not_null,
      -- A default cannot name a column, so it is deparsed without its table (0): with the table,
      -- pg_get_expr opens the relation, which costs more than the rest of this query.
      CASE WHEN a.atthasdef THEN pg_catalog.pg_get_expr(ad.adbin, CASE WHEN a.attgenerated <> '' THEN ad.adrelid ELSE 0 END) END AS default,
      a.attidentity::text AS identity, a.attgenerated::text AS generated,
      CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN ${
    collationName("a.attcollation")
  } END AS collation,
      a.attislocal AS local,
      ${comment("pg_class", "c.oid", "a.attnum")} AS comment
    FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
      AND ${userSchema("n")} AND ${notExtensionMember("pg_class", "c.oid")}`),

  constraints: wrap(`
    SELECT n.nspname AS schema, c.relname AS table, co.conname AS name, co.contype::text AS type,
      pg_catalog.pg_get_constraintdef(co.oid) AS definition,
      (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord)
         FROM pg_catalog.unnest(co.conkey) WITH ORDINALITY k(num, ord)
           JOIN pg_catalog.pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.num) AS columns,
      CASE WHEN co.contype = 'f' THEN pg_catalog.json_build_object(
        'schema', fn.nspname, 'table', fc.relname,
        'columns', (SELECT pg_catalog.json_agg(a.attname ORDER BY k.ord)
           FROM pg_catalog.unnest(co.confkey) WITH ORDINALITY k(num, ord)
             JOIN pg_catalog.pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.num)) END AS "references",
      ${comment("pg_constraint", "co.oid")} AS comment
    FROM pg_catalog.pg_constraint co
      JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_catalog.pg_class fc ON fc.oid = co.confrelid
      LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
    WHERE co.contype IN ('p', 'u', 'f', 'c', 'x') AND co.conislocal AND co.conparentid = 0
      AND c.relkind IN ('r', 'p') AND ${userSchema("n")} AND ${notExtensionMember("pg_class", "c.oid")}`),

  indexes: wrap(`
    SELECT n.nspname AS schema, t.relname AS table, i.relname AS name,
      pg_catalog.pg_get_indexdef(i.oid) AS definition,
      x.indisvalid AS valid,
      ${comment("pg_class", "i.oid")} AS comment
    FROM pg_catalog.pg_index x
      JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
      JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
    WHERE t.relkind IN ('r', 'p', 'm') AND ${userSchema("n")} AND ${notExtensionMember("pg_class", "t.oid")}
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co
        WHERE co.conindid = x.indexrelid AND co.conrelid = x.indrelid AND co.contype IN ('p', 'u', 'x'))
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = x.indexrelid)`),

  views: wrap(`
    SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
      pg_catalog.pg_get_viewdef(c.oid, true) AS definition,
      c.reloptions AS options,
      (SELECT pg_catalog.json_agg(pg_catalog.json_build_object('name', a.attname, 'comment', ds.description) ORDER BY a.attnum)
         FROM pg_catalog.pg_attribute a
           JOIN pg_catalog.pg_description ds ON ds.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ds.objoid = a.attrelid AND ds.objsubid = a.attnum
         WHERE a.attrelid = c.oid AND a.attnum > 0) AS column_comments,
      ${comment("pg_class", "c.oid")} AS comment
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('v', 'm') AND ${userSchema("n")} AND ${notExtensionMember("pg_class", "c.oid")}`),

  functions: wrap(`
    SELECT n.nspname AS schema, p.proname AS name, p.prokind::text AS kind,
      pg_catalog.pg_get_function_identity_arguments(p.oid) AS identity,
      pg_catalog.pg_get_function_arguments(p.oid) AS arguments,
      pg_catalog.pg_get_function_result(p.oid) AS result,
      l.lanname AS language,
      pg_catalog.pg_get_functiondef(p.oid) AS definition,
      ${comment("pg_proc", "p.oid")} AS comment
    FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_catalog.pg_language l ON l.oid = p.prolang
    WHERE p.prokind IN ('f', 'p', 'w') AND ${userSchema("n")} AND ${notExtensionMember("pg_proc", "p.oid")}
      -- a range type's constructors belong to the type (CREATE TYPE makes them)
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend id WHERE id.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND id.objid = p.oid AND id.deptype = 'i')`),

  triggers: wrap(`
    SELECT n.nspname AS schema, c.relname AS table, t.tgname AS name,
      pg_catalog.pg_get_triggerdef(t.oid) AS definition,
      t.tgenabled::text AS enabled,
      ${comment("pg_trigger", "t.oid")} AS comment
    FROM pg_catalog.pg_trigger t
      JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT t.tgisinternal AND t.tgparentid = 0
      AND ${userSchema("n")} AND ${notExtensionMember("pg_class", "c.oid")}`),

  policies: wrap(`
    SELECT n.nspname AS schema, c.relname AS table, p.polname AS name,
      p.polcmd::text AS command, p.polpermissive AS permissive,
      (SELECT pg_catalog.json_agg(CASE WHEN r.oid = 0 THEN 'public' ELSE pg_catalog.quote_ident(ro.rolname) END)
         FROM pg_catalog.unnest(p.polroles) r(oid) LEFT JOIN pg_catalog.pg_roles ro ON ro.oid = r.oid) AS roles,
      pg_catalog.pg_get_expr(p.polqual, p.polrelid) AS using,
      pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) AS with_check,
      ${comment("pg_policy", "p.oid")} AS comment
    FROM pg_catalog.pg_policy p
      JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE ${userSchema("n")} AND ${notExtensionMember("pg_class", "c.oid")}`),
} as const;

/** The kinds {@linkcode CATALOG_QUERIES} reads, in the order they run. */
export type CatalogKind = keyof typeof CATALOG_QUERIES;

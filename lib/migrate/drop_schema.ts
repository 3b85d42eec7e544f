/**
 * `drop`: golang-migrate drops every base table of the current schema. strata drops
 * everything migrations usually create there (tables, views, sequences, routines, types),
 * so that `drop -f` followed by `up` rebuilds a clean schema; objects that belong to an
 * extension are left to the extension.
 */
import type { Queryable, Session } from "../db/database.ts";
import { inTransaction } from "./version_table.ts";

/** One dropped object. */
export interface DroppedObject {
  kind: "table" | "view" | "materialized view" | "sequence" | "foreign table" | "routine" | "type" | "domain";
  name: string;
}

// One row per object, with its DROP built server-side by format() (so names are quoted by
// PostgreSQL itself). Tables first: CASCADE takes their views, sequences and constraints along.
const LIST_OBJECTS = `
WITH ns AS (SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE nspname = current_schema()),
ext AS (SELECT classid, objid FROM pg_catalog.pg_depend WHERE deptype = 'e')
SELECT kind, name, ddl FROM (
  SELECT CASE c.relkind WHEN 'r' THEN 1 WHEN 'p' THEN 1 WHEN 'f' THEN 2 WHEN 'm' THEN 3 WHEN 'v' THEN 4 ELSE 5 END AS rank,
         CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'f' THEN 'foreign table'
                        WHEN 'm' THEN 'materialized view' WHEN 'v' THEN 'view' ELSE 'sequence' END AS kind,
         format('%I.%I', ns.nspname, c.relname) AS name,
         format('DROP %s IF EXISTS %I.%I CASCADE',
                CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'TABLE' WHEN 'f' THEN 'FOREIGN TABLE'
                               WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'v' THEN 'VIEW' ELSE 'SEQUENCE' END,
                ns.nspname, c.relname) AS ddl
  FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'f', 'm', 'v', 'S') AND NOT c.relispartition
    AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_class'::regclass AND ext.objid = c.oid)
  UNION ALL
  SELECT 6, 'routine', p.oid::regprocedure::text, format('DROP ROUTINE IF EXISTS %s CASCADE', p.oid::regprocedure)
  FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
  WHERE NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_proc'::regclass AND ext.objid = p.oid)
  UNION ALL
  SELECT 7, CASE t.typtype WHEN 'd' THEN 'domain' ELSE 'type' END, format('%I.%I', ns.nspname, t.typname),
         format('DROP %s IF EXISTS %I.%I CASCADE', CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, ns.nspname, t.typname)
  FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace
  WHERE t.typtype IN ('e', 'd', 'r', 'm', 'c')
    AND (t.typtype <> 'c' OR (SELECT relkind FROM pg_catalog.pg_class WHERE oid = t.typrelid) = 'c')
    AND NOT EXISTS (SELECT 1 FROM ext WHERE ext.classid = 'pg_catalog.pg_type'::regclass AND ext.objid = t.oid)
    AND t.typname NOT LIKE '\\_%'
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid)
) objects
ORDER BY rank, name`;

/** One object of the current schema with the statement that drops it. */
export interface DropStatement extends DroppedObject {
  ddl: string;
}

/**
 * The DROP statements that empty the current schema, tables first, without running them
 * (a restore runs them in its own transaction).
 */
export async function currentSchemaDrops(db: Queryable): Promise<DropStatement[]> {
  return await db.query<DropStatement>(LIST_OBJECTS);
}

/**
 * Drops the objects of the current schema in one transaction and says what it dropped.
 *
 * @example
 * ```ts ignore
 * const dropped = await dropCurrentSchema(session);
 * console.log(dropped.map((o) => `${o.kind} ${o.name}`));
 * ```
 */
export async function dropCurrentSchema(session: Session): Promise<DroppedObject[]> {
  const rows = await currentSchemaDrops(session);
  if (rows.length === 0) return [];
  await inTransaction(session, rows.map((r) => r.ddl));
  return rows.map(({ kind, name }) => ({ kind, name }));
}

#!/usr/bin/env -S npx tsx
/**
 * `make schema-snapshot` and dbmate's schema.sql, plus the schema checks, as one script:
 *
 *   tsx scripts/snapshot.ts                  write schema.sql (SCHEMA_FILE): the schema of DATABASE_URL, readable SQL
 *   tsx scripts/snapshot.ts -out s.json      the JSON snapshot instead (the format follows the extension; -format json|sql)
 *   tsx scripts/snapshot.ts check            exit 1 with the diff when the database drifted from its migrations
 *   tsx scripts/snapshot.ts verify           up, down, up of every migration on a scratch database
 *   tsx scripts/snapshot.ts diff A B [-sql]  A and B: database URLs, snapshot files or migrations folders
 *   tsx scripts/snapshot.ts erd [-out F.md]  a Mermaid erDiagram of the database
 *
 * DATABASE_URL picks the database (none: the embedded PGlite in .strata/pglite) and
 * MIGRATIONS_PATH the folder (default migrations/); any strata flag may follow.
 */
import process from "node:process";
import { main } from "../mod.ts";

const args = process.argv.slice(2);
const path = process.env.MIGRATIONS_PATH || "migrations";
const commands = new Set(["snapshot", "check", "verify", "diff", "erd"]);

if (args[0] !== undefined && commands.has(args[0])) {
  await main(["-path", path, ...args]);
} else {
  const out = args.some((arg) => /^--?out(=|$)/.test(arg)) ? [] : ["-out", process.env.SCHEMA_FILE || "schema.sql"];
  await main(["-path", path, "snapshot", ...out, ...args]);
}

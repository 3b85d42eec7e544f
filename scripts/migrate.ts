#!/usr/bin/env -S npx tsx
/**
 * The make targets of a golang-migrate project, as one script:
 *
 *   tsx scripts/migrate.ts up            make migrate-up      (all pending)
 *   tsx scripts/migrate.ts down          make migrate-down    (the last one only)
 *   tsx scripts/migrate.ts down 3        revert three
 *   tsx scripts/migrate.ts down --all    revert them all (also -all)
 *   tsx scripts/migrate.ts create NAME   make migrate-create name=NAME (sequential, 6 digits)
 *   tsx scripts/migrate.ts status        make migrate-status
 *   tsx scripts/migrate.ts version | goto V | force V | drop
 *
 * DATABASE_URL picks the database (none: the embedded PGlite in .strata/pglite) and
 * MIGRATIONS_PATH the folder (default migrations/); any strata flag may follow, e.g. `status -exit-code`.
 */
import process from "node:process";
import { main } from "../mod.ts";

const [target = "up", ...rest] = process.argv.slice(2);
const path = process.env.MIGRATIONS_PATH || "migrations";
const hasNumber = rest.some((arg) => /^[0-9]+$/.test(arg));
// -all as strata reads it: one dash or two, alone or with a value (`--all` is what npx wants).
const hasAll = rest.some((arg) => /^--?all(=|$)/.test(arg));

const commands: Record<string, string[]> = {
  up: ["up", ...rest],
  // make migrate-down reverts one migration; strata's bare down (like golang-migrate's) means all.
  down: hasNumber || hasAll ? ["down", ...rest] : ["down", "1", ...rest],
  create: ["create", "-seq", "-digits", "6", ...rest],
};

await main(["-path", path, ...(commands[target] ?? [target, ...rest])]);

#!/usr/bin/env -S npx tsx
/**
 * The production migration: under the migration lock, stop if nothing is pending, else back
 * up (backups/ or BACKUP_DIR), verify the backup, and migrate up (migrations/ or
 * MIGRATIONS_PATH). On failure it prints the exact restore command;
 * -restore-on-failure restores by itself when the failure left the database dirty.
 *
 *   DATABASE_URL=postgres://... tsx scripts/deploy.ts
 */
import process from "node:process";
import { main } from "../mod.ts";

await main([
  "-path",
  process.env.MIGRATIONS_PATH || "migrations",
  "deploy",
  "-out",
  process.env.BACKUP_DIR || "backups",
  ...process.argv.slice(2),
]);

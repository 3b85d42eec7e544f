#!/usr/bin/env -S npx tsx
/**
 * Restores a backup into DATABASE_URL: the checksum is verified first, a database that
 * already has tables needs -yes (asked on a terminal), and it runs in one transaction.
 *
 *   tsx scripts/restore.ts backups/backup_20260101_120000_app.dump -yes -clean
 */
import process from "node:process";
import { main } from "../mod.ts";

await main(["restore", ...process.argv.slice(2)]);

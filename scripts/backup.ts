#!/usr/bin/env -S npx tsx
/**
 * Clipper's `./scripts/backup.sh` and go_api's `pg_dump > backup_$(date +%Y%m%d_%H%M%S).sql`,
 * as one reliable step: pg_dump of DATABASE_URL into backups/ (BACKUP_DIR), written under a
 * partial name and renamed when complete, mode 0600, with a .sha256 and a .json manifest.
 *
 *   tsx scripts/backup.ts                       custom format (compressed, selective restore)
 *   tsx scripts/backup.ts -format plain -keep 7 plain SQL; keep the newest 7
 */
import process from "node:process";
import { main } from "../mod.ts";

await main(["backup", "-out", process.env.BACKUP_DIR || "backups", ...process.argv.slice(2)]);

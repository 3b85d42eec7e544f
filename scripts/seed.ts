#!/usr/bin/env -S npx tsx
/**
 * `make seed`: runs seeds/ (then seeds/$SEED_ENV/ when set, or `-env NAME`) against
 * DATABASE_URL (none: the embedded PGlite in .strata/pglite). Idempotent: run it as often as
 * you like; it reports inserted / updated / unchanged per seed.
 *
 *   tsx scripts/seed.ts              common seeds
 *   tsx scripts/seed.ts -env dev     plus seeds/dev/
 */
import process from "node:process";
import { main } from "../mod.ts";

const env = process.env.SEED_ENV ? ["-env", process.env.SEED_ENV] : [];
await main(["seed", "-seeds", process.env.SEEDS_PATH || "seeds", ...env, ...process.argv.slice(2)]);

// The PGlite floor, run by plain node: open a fresh PGlite folder and execute the
// concatenated up files in one call (one implicit transaction), as `psql -1 -f` does on a server.
// Usage: node bench/_pglite_floor.mjs DIR FILE
import { readFile } from "node:fs/promises";
import process from "node:process";
import { PGlite } from "@electric-sql/pglite";

const [dir, file] = process.argv.slice(2);
const pg = new PGlite(dir);
await pg.waitReady;
await pg.exec(await readFile(file, "utf8"));
await pg.close();

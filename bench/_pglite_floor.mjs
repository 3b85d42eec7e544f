// The PGlite floor, run by plain node: open a fresh PGlite folder and execute the
// concatenated up files in one call (one implicit transaction), as `psql -1 -f` does on a server.
// The folder starts from the same cached empty cluster strata's new folders start from
// (TEMPLATE, a .tar.gz), so both sides skip initdb alike.
// Usage: node bench/_pglite_floor.mjs DIR FILE TEMPLATE
import { readFile } from "node:fs/promises";
import process from "node:process";
import { gunzipSync } from "node:zlib";
import { PGlite } from "@electric-sql/pglite";

const [dir, file, template] = process.argv.slice(2);
const pg = new PGlite(dir, { loadDataDir: new Blob([gunzipSync(await readFile(template))]) });
await pg.waitReady;
await pg.exec(await readFile(file, "utf8"));
await pg.close();

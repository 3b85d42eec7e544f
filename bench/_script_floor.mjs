// A plain Node client's floor for a run of files: import postgres.js, connect, then send each
// line of a script (a file's statements, joined by psql's `\;`) as one message and wait for
// it, as a tool running a transaction per file must; no parsing, no checks, no output.
// Usage: node bench/_script_floor.mjs URL FILE
import { readFileSync } from "node:fs";
import process from "node:process";
import postgres from "postgres";

const lines = readFileSync(process.argv[3], "utf8").split("\n").filter((line) => line.trim() !== "");
const sql = postgres(process.argv[2], { max: 1, fetch_types: false, onnotice: () => {} });
try {
  for (const line of lines) await sql.unsafe(line.replaceAll("\\;", ";")).simple();
} finally {
  await sql.end();
}

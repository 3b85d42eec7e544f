// The start-up floor of any Node tool that uses postgres.js, run by plain node: import it,
// connect, run one query, disconnect. What a no-op `up` costs before strata does anything.
// Usage: node bench/_connect_floor.mjs URL
import process from "node:process";
import postgres from "postgres";

const sql = postgres(process.argv[2], { max: 1, fetch_types: false, onnotice: () => {} });
await sql`SELECT 1`;
await sql.end();

/**
 * The edge claim, in a real edge runtime: examples/edge-worker (the `./core` entry, a bundle
 * of the migrations and seeds, and postgres.js's Cloudflare build) is bundled by its build
 * script and served by workerd, Cloudflare's Workers runtime, with the example's own
 * config.capnp. Its /migrate endpoint migrates a fresh PostgreSQL database through
 * cloudflare:sockets, and /seed seeds it from the bundle; workerd has no libpg-query, so both
 * prove the parser is never loaded, and a Worker that does need it gets a StrataError.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { copyFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import process from "node:process";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { buildEdgeWorker } from "../../examples/edge-worker/build.ts";
import { makeDatabase, tempDir, TEST_DATABASE_URL } from "../_support/backends.ts";

const EXAMPLE = fileURLToPath(new URL("../../examples/edge-worker/", import.meta.url));
const UNSPLIT_SEED_WORKER = fileURLToPath(new URL("./fixtures/unsplit_seed_worker.ts", import.meta.url));

/** The workerd binary of the `workerd` package's platform dependency (no install script needed). */
function workerdBinary(): string {
  return (createRequire(import.meta.url)("workerd") as { default: string }).default;
}

interface MigrateResponse {
  ok: boolean;
  from: { version: string | null; dirty: boolean };
  to: { version: string | null; dirty: boolean };
  noChange: boolean;
  applied: number;
  results: { version: string; name: string; status: string }[];
  error?: { code: string; message: string };
}

/** A running `workerd serve`, listening on a port the OS chose. */
interface Served {
  origin: string;
  stop(): Promise<void>;
  /** What workerd wrote on stderr, for failure messages. */
  log(): string;
}

async function serve(config: string, env: Record<string, string>): Promise<Served> {
  const child = spawn(workerdBinary(), ["serve", config, "--socket-addr", "http=127.0.0.1:0", "--control-fd", "3"], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  };
  try {
    const port = await listenPort(child, child.stdio[3] as Readable);
    return { origin: `http://127.0.0.1:${port}`, stop, log: () => stderr };
  } catch (error) {
    await stop();
    throw new Error(`workerd did not start: ${(error as Error).message}\n${stderr}`);
  }
}

/** The port from workerd's control messages (`{"event":"listen","socket":"http","port":N}`). */
function listenPort(child: ChildProcess, control: Readable): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error("no listen message within 20 s")), 20_000);
    control.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      for (const line of buffered.split("\n").slice(0, -1)) {
        const message = JSON.parse(line) as { event?: string; socket?: string; port?: number };
        if (message.event === "listen" && message.socket === "http" && message.port) {
          clearTimeout(timer);
          resolve(message.port);
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`workerd exited (${signal ?? code})`));
    });
  });
}

async function migrate(served: Served): Promise<MigrateResponse> {
  const response = await fetch(`${served.origin}/migrate`, { method: "POST" });
  const text = await response.text();
  assert.equal(response.status, 200, `POST /migrate answered ${response.status}: ${text}\n${served.log()}`);
  return JSON.parse(text) as MigrateResponse;
}

interface SeedResponse {
  ok: boolean;
  results: {
    file: string;
    table: string | null;
    status: string;
    inserted: number;
    updated: number;
    unchanged: number | null;
  }[];
  error?: { code: string; message: string; hint?: string };
}

async function seed(served: Served, query: string, status = 200): Promise<SeedResponse> {
  const response = await fetch(`${served.origin}/seed${query}`, { method: "POST" });
  const text = await response.text();
  assert.equal(response.status, status, `POST /seed${query} answered ${response.status}: ${text}\n${served.log()}`);
  return JSON.parse(text) as SeedResponse;
}

/** Builds `worker` (default: the example's) with a bundle of the example folders into a temp folder and serves it. */
async function buildAndServe(dir: string, databaseUrl: string, worker?: string): Promise<Served> {
  await buildEdgeWorker({
    bundle: join(dir, "migrations.bundle.js"),
    outfile: join(dir, "dist/worker.js"),
    ...(worker ? { worker } : {}),
  });
  // The example's own config, next to the build it embeds (dist/worker.js).
  await copyFile(join(EXAMPLE, "config.capnp"), join(dir, "config.capnp"));
  return await serve(join(dir, "config.capnp"), { DATABASE_URL: databaseUrl });
}

test("the edge-worker example migrates PostgreSQL from workerd through cloudflare:sockets", async (t) => {
  const database = await makeDatabase("postgres");
  if (!database) {
    t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
    return;
  }
  const dir = await tempDir("strata-edge-");
  let served: Served | undefined;
  try {
    served = await buildAndServe(dir.path, database.url);

    const first = await migrate(served);
    assert.equal(first.error, undefined);
    assert.equal(first.ok, true);
    assert.equal(first.noChange, false);
    assert.equal(first.applied, 4);
    assert.deepEqual(first.results.map((result) => [result.version, result.status]), [
      ["1", "applied"],
      ["2", "applied"],
      ["3", "applied"],
      ["4", "applied"],
    ]);
    assert.deepEqual(first.from, { version: null, dirty: false });
    assert.deepEqual(first.to, { version: "4", dirty: false });

    const rows = await database.db.query<{ version: string; dirty: boolean }>(
      "SELECT version::text AS version, dirty FROM schema_migrations",
    );
    assert.deepEqual(rows, [{ version: "4", dirty: false }]);
    const tables = await database.db.query<{ name: string }>(
      "SELECT c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace" +
        " WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname = ANY($1) ORDER BY 1",
      [["organisations", "users", "sources"]],
    );
    assert.deepEqual(tables.map((row) => row.name), ["organisations", "sources", "users"]);

    const second = await migrate(served);
    assert.equal(second.ok, true);
    assert.equal(second.noChange, true);
    assert.equal(second.applied, 0);
    assert.deepEqual(second.to, { version: "4", dirty: false });
  } finally {
    await served?.stop();
    await database.dispose();
    await dir.remove();
  }
});

test("the edge-worker example seeds PostgreSQL from workerd with the bundle's seeds for -env dev, then again changing nothing", async (t) => {
  const database = await makeDatabase("postgres");
  if (!database) {
    t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
    return;
  }
  const dir = await tempDir("strata-edge-seed-");
  let served: Served | undefined;
  try {
    served = await buildAndServe(dir.path, database.url);
    assert.equal((await migrate(served)).ok, true);

    const counts = (response: SeedResponse) =>
      response.results.map((r) => [r.file, r.table, r.status, r.inserted, r.updated, r.unchanged]);
    const first = await seed(served, "?env=dev");
    assert.equal(first.error, undefined);
    assert.deepEqual(counts(first), [
      ["001_organisations.json", "organisations", "done", 1, 0, 0],
      ["002_admin_user.ts", "users", "done", 1, 0, 0],
      ["003_sample_source.sql", null, "done", 1, 0, null],
      ["dev/010_demo_organisations.json", "organisations", "done", 3, 0, 0],
      ["dev/011_demo_sources.sql", null, "done", 3, 0, null],
    ]);
    const second = await seed(served, "?env=dev");
    assert.deepEqual(counts(second), [
      ["001_organisations.json", "organisations", "done", 0, 0, 1],
      ["002_admin_user.ts", "users", "done", 0, 0, 1],
      ["003_sample_source.sql", null, "done", 0, 0, null],
      ["dev/010_demo_organisations.json", "organisations", "done", 0, 0, 3],
      ["dev/011_demo_sources.sql", null, "done", 0, 0, null],
    ]);
    const [users] = await database.db.query<{ n: number; hash: string }>(
      "SELECT count(*)::int AS n, min(password_hash) AS hash FROM users",
    );
    assert.equal(users.n, 1);
    assert.match(users.hash, /^pbkdf2_sha256\$210000\$/, "the .ts seed's Web Crypto hash, computed in workerd");
    const [rows] = await database.db.query<{ organisations: number; sources: number }>(
      "SELECT (SELECT count(*)::int FROM organisations) AS organisations, (SELECT count(*)::int FROM sources) AS sources",
    );
    assert.deepEqual(rows, { organisations: 4, sources: 4 });

    const unknown = await seed(served, "?env=qa", 500);
    assert.equal(unknown.error?.code, "SOURCE_NOT_FOUND");
    assert.equal(unknown.error?.message, "Seeds folder for -env qa is not in the bundle");
  } finally {
    await served?.stop();
    await database.dispose();
    await dir.remove();
  }
});

test("on workerd, a SQL seed nobody split fails with PARSER_UNAVAILABLE, a StrataError saying what to do, not a missing-module Error", async (t) => {
  const database = await makeDatabase("postgres");
  if (!database) {
    t.skip(`no PostgreSQL server at ${TEST_DATABASE_URL}`);
    return;
  }
  const dir = await tempDir("strata-edge-unsplit-");
  let served: Served | undefined;
  try {
    served = await buildAndServe(dir.path, database.url, UNSPLIT_SEED_WORKER);
    const response = await fetch(`${served.origin}/`, { method: "POST" });
    const text = await response.text();
    assert.equal(response.status, 200, `${text}\n${served.log()}`);
    const answer = JSON.parse(text);
    assert.deepEqual({ ...answer, hint: undefined }, {
      thrown: true,
      strataError: true,
      name: "FileError",
      code: "PARSER_UNAVAILABLE",
      message: "001_sample.sql: cannot split the file into statements: the PostgreSQL parser (libpg-query) " +
        'cannot load here: No such module "libpg-query"',
      hint: undefined,
    });
    assert.match(answer.hint, /^Split the SQL ahead of time: `strata bundle -out FILE -seeds DIR`/);
  } finally {
    await served?.stop();
    await database.dispose();
    await dir.remove();
  }
});

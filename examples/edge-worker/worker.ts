/**
 * A Cloudflare Worker that migrates and seeds PostgreSQL on request, with strata's edge core
 * and a bundle of the migrations and seeds: no file system, no PostgreSQL parser, no Node
 * built-in of strata's own.
 *
 * `POST /migrate` (or GET) runs every pending migration and answers JSON:
 * `{ ok, from, to, noChange, applied, results: [{ version, name, status, ... }], error? }`,
 * versions as strings (JSON has no bigint). 200 when it succeeded, 500 with `error.code`
 * (a strata error code such as DIRTY or MIGRATION_FAILED, or the driver's) when not.
 *
 * `POST /seed?env=dev` runs the bundle's seeds (the folder's, then `dev/`'s) and answers
 * `{ ok, results: [{ file, table, status, inserted, updated, unchanged }], error? }`.
 *
 * Outside this repository, import from the package instead: `from "strata/core"`.
 */
import postgres from "postgres";
import {
  bundledSeeds,
  bundledSource,
  isStrataError,
  type MigrateRun,
  Migrator,
  postgresDatabase,
  runSeeds,
  type SeedRun,
} from "../../core.ts";
import bundle from "./migrations.bundle.js";

/** The bindings this Worker reads (see config.capnp or wrangler.toml). */
export interface Env {
  /** postgres://user:password@host:port/database */
  DATABASE_URL: string;
}

/** The part of Cloudflare's ExecutionContext this Worker uses. */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const { pathname, searchParams } = new URL(request.url);
    if (pathname !== "/migrate" && pathname !== "/seed") {
      return Response.json({ error: { code: "NOT_FOUND" } }, { status: 404 });
    }
    if (!env.DATABASE_URL) {
      return Response.json({ ok: false, error: { code: "USAGE", message: "DATABASE_URL is not set" } }, {
        status: 500,
      });
    }
    // One client per request: a Worker may not share sockets between requests. Its
    // Cloudflare build (export condition "workerd") connects through cloudflare:sockets.
    const sql = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
    const db = postgresDatabase(sql, { label: "DATABASE_URL" });
    try {
      if (pathname === "/seed") {
        const env = searchParams.get("env");
        const run = await runSeeds(db, await bundledSeeds(bundle, env ? { env } : {}));
        return Response.json(describeSeedRun(run), { status: run.error ? 500 : 200 });
      }
      const run = await new Migrator(db, { source: bundledSource(bundle) }).up();
      return Response.json(describeRun(run), { status: run.error ? 500 : 200 });
    } catch (error) {
      return Response.json({ ok: false, error: describeError(error) }, { status: 500 });
    } finally {
      // Ends the connection after the response is sent.
      ctx.waitUntil(db.close());
    }
  },
};

function describeRun(run: MigrateRun) {
  return {
    ok: run.error === undefined,
    from: describeVersion(run.from),
    to: describeVersion(run.to),
    noChange: run.noChange,
    applied: run.results.filter((result) => result.status === "applied").length,
    results: run.results.map((result) => ({
      version: String(result.version),
      name: result.name,
      status: result.status,
      transactional: result.transactional,
      ...(result.durationMs === undefined ? {} : { durationMs: result.durationMs }),
      ...(result.warning === undefined ? {} : { warning: result.warning }),
    })),
    ...(run.error ? { error: describeError(run.error) } : {}),
  };
}

function describeSeedRun(run: SeedRun) {
  return {
    ok: run.error === undefined,
    results: run.results.map(({ file, table, status, inserted, updated, unchanged }) => ({
      file,
      table,
      status,
      inserted,
      updated,
      unchanged,
    })),
    ...(run.error ? { error: describeError(run.error) } : {}),
  };
}

function describeVersion(state: MigrateRun["from"]) {
  return { version: state.version === null ? null : String(state.version), dirty: state.dirty };
}

function describeError(error: unknown) {
  if (isStrataError(error)) {
    return { code: error.code, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
  }
  const { code, message } = error as { code?: unknown; message?: unknown };
  return { code: typeof code === "string" ? code : "INTERNAL", message: String(message ?? error) };
}

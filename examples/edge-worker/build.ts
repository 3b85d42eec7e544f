#!/usr/bin/env -S npx tsx
/**
 * Builds the edge Worker: bundles the migrations and seeds folders (what `strata bundle -out
 * examples/edge-worker/migrations.bundle.js -seeds seeds` does) and esbuild-bundles worker.ts
 * with strata's core into one ES module, dist/worker.js, that workerd or wrangler can run.
 *
 *   npx tsx examples/edge-worker/build.ts [MIGRATIONS_DIR [SEEDS_DIR]]
 */
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build, type Plugin } from "esbuild";
import { writeBundle } from "../../lib/io/write_bundle.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../..");

/** Where {@linkcode buildEdgeWorker} reads and writes. */
export interface BuildEdgeWorkerOptions {
  /** The migrations folder (default: the repository's migrations/). */
  migrations?: string;
  /** The seeds folder (default: the repository's seeds/). */
  seeds?: string;
  /** The bundle module to write (default: migrations.bundle.js beside worker.ts). */
  bundle?: string;
  /** The Worker module to write (default: dist/worker.js beside worker.ts). */
  outfile?: string;
  /** The Worker's source (default: worker.ts beside this file). */
  worker?: string;
}

/** What was built. */
export interface BuiltEdgeWorker {
  bundle: string;
  outfile: string;
  migrations: number;
  seeds: number;
  bytes: number;
}

/**
 * Writes the bundle of migrations and seeds, then the Worker module that embeds it.
 *
 * @example
 * ```ts ignore
 * const built = await buildEdgeWorker({ outfile: "/tmp/worker/worker.js", bundle: "/tmp/worker/bundle.js" });
 * ```
 */
export async function buildEdgeWorker(options: BuildEdgeWorkerOptions = {}): Promise<BuiltEdgeWorker> {
  const migrations = resolve(options.migrations ?? join(ROOT, "migrations"));
  const seeds = resolve(options.seeds ?? join(ROOT, "seeds"));
  const bundlePath = resolve(options.bundle ?? join(HERE, "migrations.bundle.js"));
  const outfile = resolve(options.outfile ?? join(HERE, "dist/worker.js"));
  const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
  // Its declaration file is kept in git (migrations.bundle.d.ts), typed from this checkout.
  const written = await writeBundle({ migrations, seeds, out: bundlePath, version, types: false });
  const result = await build({
    entryPoints: [resolve(options.worker ?? join(HERE, "worker.ts"))],
    outfile,
    bundle: true,
    format: "esm",
    // No Node platform: what Cloudflare's own bundler (wrangler) assumes for a Worker.
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    // "workerd" selects postgres.js's Cloudflare build (sockets from cloudflare:sockets);
    // "worker" and "browser" pick web builds of other packages; "import" the ESM ones.
    conditions: ["workerd", "worker", "browser", "import"],
    external: [
      // A workerd built-in module, imported by postgres.js's Cloudflare build.
      "cloudflare:sockets",
      // node:buffer, node:events and node:stream, imported by postgres.js's Cloudflare build
      // (never by strata's core): workerd provides them with the nodejs_compat flag.
      "node:*",
      // The PostgreSQL parser (WASM). The core imports it lazily, only to split a file that
      // was not split ahead of time; a bundle carries every migration's and SQL seed's
      // statements, so the Worker never loads it (and a Worker could not compile WASM
      // fetched at run time; were it asked to, the error is PARSER_UNAVAILABLE).
      "libpg-query",
    ],
    plugins: [bundleAt(bundlePath)],
    metafile: true,
    logLevel: "warning",
  });
  const output = Object.values(result.metafile.outputs)[0];
  return {
    bundle: bundlePath,
    outfile,
    migrations: written.migrations,
    seeds: written.seeds,
    bytes: output?.bytes ?? 0,
  };
}

/** Points worker.ts's `./migrations.bundle.js` at the bundle just written, wherever it is. */
function bundleAt(path: string): Plugin {
  return {
    name: "strata-bundle",
    setup(build) {
      build.onResolve({ filter: /^\.\/migrations\.bundle\.js$/ }, () => ({ path }));
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const built = await buildEdgeWorker({ migrations: process.argv[2], seeds: process.argv[3] });
  console.log(
    `Bundled ${built.migrations} migrations and ${built.seeds} seeds into ${built.bundle}\n` +
      `Wrote ${built.outfile} (${built.bytes} bytes)`,
  );
}

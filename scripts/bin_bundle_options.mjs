// esbuild's options for the npm bin as one ES module, shared by `npm run build`
// (scripts/bundle_bin.mjs, from tsc's output) and the CLI tests (tests/_support/run_strata.ts,
// straight from the TypeScript sources). What is loaded only when needed stays outside: the
// parser (its WASM sits beside its module), PGlite and its tools, tsx (for .ts seeds, found
// from the seed's own folder) and esbuild (for `bundle` with code seeds, found the same way).

/**
 * @param {string} entry the bin's entry module
 * @param {string} outfile where the bundle goes
 */
export function binBundleOptions(entry, outfile) {
  return {
    entryPoints: [entry],
    outfile,
    allowOverwrite: true,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["libpg-query", "@electric-sql/*", "tsx", "tsx/*", "esbuild"],
    // CommonJS dependencies inlined into an ES module call require() for node's built-ins.
    banner: {
      js:
        "import { createRequire as strataCreateRequire } from 'node:module';\nconst require = strataCreateRequire(import.meta.url);",
    },
    logLevel: "warning",
  };
}

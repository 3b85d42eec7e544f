// The last step of `npm run build`: the npm bin as one ES module. tsc's dist/bin/strata.js
// imports about forty modules (strata's own, postgres.js, the small dependencies), and Node
// 20 resolves, reads and compiles each one on every run; inlined, a no-op `strata up` starts
// about 10% sooner. The library (dist/mod.js, dist/core.js) stays tsc's output. What is
// loaded only when needed stays outside: the parser (its WASM sits beside its module),
// PGlite and its tools, and tsx (for .ts seeds, found from the seed's own folder).
import { build } from "esbuild";

await build({
  entryPoints: ["dist/bin/strata.js"],
  outfile: "dist/bin/strata.js",
  allowOverwrite: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["libpg-query", "@electric-sql/*", "tsx", "tsx/*"],
  // CommonJS dependencies inlined into an ES module call require() for node's built-ins.
  banner: {
    js:
      "import { createRequire as strataCreateRequire } from 'node:module';\nconst require = strataCreateRequire(import.meta.url);",
  },
  logLevel: "warning",
});

// The last step of `npm run build`: the npm bin as one ES module. tsc's dist/bin/strata.js
// imports about forty modules (strata's own, postgres.js, the small dependencies), and Node
// 20 resolves, reads and compiles each one on every run; inlined, a no-op `strata up` starts
// about 10% sooner. The library (dist/mod.js, dist/core.js) stays tsc's output.
import { build } from "esbuild";
import { binBundleOptions } from "./bin_bundle_options.mjs";

await build(binBundleOptions("dist/bin/strata.js", "dist/bin/strata.js"));

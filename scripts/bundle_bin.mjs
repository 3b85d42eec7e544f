// The last step of `npm run build`: the npm bin. tsc's dist/bin/strata.js imports about forty
// modules (strata's own, postgres.js, the small dependencies), and Node resolves, reads and
// compiles each one on every run; inlined into one ES module (dist/bin/cli.js), a no-op
// `strata up` starts about 10% sooner. dist/bin/strata.js, the file npm links as `strata`,
// becomes a launcher of a few lines: on Node 22.1 and later it turns on Node's compile cache
// (module.enableCompileCache: V8's compiled code of cli.js and of what it loads is kept in
// the OS temp folder and reused by the next run; NODE_DISABLE_COMPILE_CACHE=1 turns it off,
// NODE_COMPILE_CACHE=DIR moves it), which must happen before cli.js is compiled, hence two
// files. Node 20 has no such cache and runs cli.js as before. The library (dist/mod.js,
// dist/core.js) stays tsc's output.
import { chmodSync, writeFileSync } from "node:fs";
import { build } from "esbuild";
import { binBundleOptions } from "./bin_bundle_options.mjs";

await build(binBundleOptions("dist/bin/strata.js", "dist/bin/cli.js"));

writeFileSync(
  "dist/bin/strata.js",
  `#!/usr/bin/env node
// strata's npm bin. The CLI is ./cli.js (one bundled module); see scripts/bundle_bin.mjs.
import module from "node:module";

// Node 22.1+: reuse V8's compiled code between runs (silent when it cannot; Node 20 lacks it).
module.enableCompileCache?.();
await import("./cli.js");
`,
);
// tsc wrote the file without the execute bit: npm sets it on an installed package's bin, but
// `npx strata` in a clone of this repository runs the file as it is.
chmodSync("dist/bin/strata.js", 0o755);

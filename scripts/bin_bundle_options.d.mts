import type { BuildOptions } from "esbuild";

/** esbuild's options for the npm bin as one ES module (see bin_bundle_options.mjs). */
export function binBundleOptions(entry: string, outfile: string): BuildOptions;

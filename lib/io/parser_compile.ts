/**
 * How the CLI compiles the SQL parser's WASM on Node: with V8's baseline compiler (Liftoff)
 * only. By default V8 also recompiles the parser's hot functions (its grammar's one huge
 * function above all) with TurboFan in the background; a migration run ends long before that
 * pays back, and on two cores the recompiling competes with the run. Measured on the bench's
 * migrations (2-core VM, Node 20, median of alternating runs): import, compile and parse of
 * 100 files 148 ms by default, 99 ms baseline-only; 1,000 files 273 ms and 164 ms.
 */
import process from "node:process";
import type { ParserCompileScope } from "../migrate/sql_script.ts";

const FLAG = "liftoff-only";

/**
 * A {@linkcode ParserCompileScope} that compiles the parser with Liftoff only, on Node.
 * V8 reads the flag when a module is compiled, so it is set for the parser's load and put
 * back after it: WASM compiled later (PGlite, the application's own) is compiled as usual.
 * Undefined where it does not apply: on Deno (no gain measured there), or where the flag is
 * already given (`node --liftoff-only`), which is then left as it is.
 */
export function baselineParserCompile(): ParserCompileScope | undefined {
  if (!process.versions?.node || "deno" in process.versions) return undefined;
  // NODE_OPTIONS cannot carry V8 flags; `node --liftoff-only` (or `--liftoff_only`) can.
  if (process.execArgv.some((arg) => arg.replace(/_/g, "-").includes(FLAG))) return undefined;
  return async (load) => {
    const { setFlagsFromString } = await import("node:v8");
    setFlagsFromString(`--${FLAG}`);
    try {
      return await load();
    } finally {
      setFlagsFromString(`--no-${FLAG}`);
    }
  };
}

/**
 * How a CLI command compiles WebAssembly on Node: with V8's baseline compiler (Liftoff) only.
 * By default V8 also recompiles hot WASM functions with TurboFan in the background. For the
 * SQL parser (its grammar is one huge function) and PGlite's start-up, a command ends long
 * before that pays back, and on two cores the recompiling competes with the command.
 * Measured on a 2-core VM, Node 20, medians of alternating runs: import, compile and parse
 * of the bench's 100 migrations 148 -> 99 ms (1,000: 273 -> 164 ms), the client CPU of
 * `up` of 100 on a server 880 -> 490 ms; `status` on a PGlite folder 982 -> 770 ms, `up` of
 * 100 into a new PGlite folder 5.8 -> 5.2 s, of 1,000 unchanged (about 17 s).
 */
import process from "node:process";
import v8 from "node:v8";

const FLAG = "liftoff-only";

/**
 * Makes WASM compiled from now on baseline-only, on Node, and returns what puts the default
 * back. V8 reads the flag when a module is compiled, so what the command compiled stays
 * baseline-only and what is compiled after (a program that called the CLI's main, its own
 * WASM) is compiled as usual. Does nothing on Deno (where only `--v8-flags=--liftoff-only`
 * at launch takes effect), nor where node was given `--liftoff-only` or `--no-liftoff-only`
 * (the way to opt out), which is then left as it is.
 */
export function baselineWasmCompile(): () => void {
  if (!process.versions?.node || "deno" in process.versions) return () => {};
  // NODE_OPTIONS cannot carry V8 flags; `node --liftoff-only` (or `--liftoff_only`) can.
  if (process.execArgv.some((arg) => arg.replace(/_/g, "-").includes(FLAG))) return () => {};
  v8.setFlagsFromString(`--${FLAG}`);
  return () => v8.setFlagsFromString(`--no-${FLAG}`);
}

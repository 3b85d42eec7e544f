/**
 * How a CLI command compiles WebAssembly on Node: with V8's baseline compiler (Liftoff) only.
 * By default V8 also recompiles hot WASM functions with its optimizing compiler (TurboFan) in
 * the background. For the SQL parser (its grammar is one huge function) and PGlite's
 * start-up, a command ends before that recompiling pays back, and on two cores it competes
 * with the command. Measured on a 2-core VM, Node 20, medians of alternating runs: import,
 * compile and parse of the bench's 100 migrations 148 -> 99 ms (1,000: 273 -> 164 ms), the
 * client CPU of `up` of 100 on a server 880 -> 490 ms; `status` on a PGlite folder
 * 916 -> 630 ms, `up` of 100 into a new PGlite folder 5.8 -> 5.2 s, of 1,000 unchanged
 * (about 17 s). A long CPU-bound PGlite job runs 5-15% slower on Liftoff code.
 *
 * `--liftoff-only` is one of V8's testing flags, and Node calls flags set after start-up
 * unsupported; tests/io/wasm_compile_test.ts checks, with V8's own tier queries, that WASM
 * compiled under it stays baseline-only and that WASM compiled after it reaches TurboFan.
 */
import process from "node:process";
import v8 from "node:v8";

/** Flags given to node that mean the user chose how WASM compiles: left as they are. */
const CHOSEN = /^--(no-?)?(liftoff[-_]only|liftoff|wasm[-_]tier[-_]up|wasm[-_]dynamic[-_]tiering)(=|$)/;
/** `--liftoff-only` also turns tier-up off (V8's flag implications); putting it back turns both on. */
const DEFAULTS = "--no-liftoff-only --wasm-tier-up --wasm-dynamic-tiering";

let active = 0;

/**
 * Makes WASM compiled from now on baseline-only, on Node, and returns what puts V8's defaults
 * back (once, when the last of overlapping callers is done). A module compiled meanwhile stays
 * baseline-only; one compiled after tiers up as usual (both checked with V8's own tier
 * queries in tests/io/wasm_compile_test.ts), so a program that called the CLI's `main` keeps
 * V8's defaults for the WASM it compiles afterwards. Does nothing on Deno (only
 * `--v8-flags=--liftoff-only` at launch takes effect there), nor where node was given a flag
 * about it (`--liftoff-only`, `--no-liftoff-only`, `--no-wasm-tier-up`...).
 */
export function baselineWasmCompile(): () => void {
  if (!process.versions?.node || "deno" in process.versions) return () => {};
  if (process.execArgv.some((arg) => CHOSEN.test(arg))) return () => {};
  if (active++ === 0) setFlags("--liftoff-only");
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    if (--active === 0) setFlags(DEFAULTS);
  };
}

function setFlags(flags: string): void {
  try {
    v8.setFlagsFromString(flags);
  } catch {
    // A runtime whose node:v8 cannot set flags: its defaults stay, which is only slower.
  }
}

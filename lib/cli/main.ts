/**
 * The CLI process entry: runs one command with the real process's IO and sets the exit code.
 */
import process from "node:process";
import { baselineWasmCompile } from "../io/wasm_compile.ts";
import { nodeIo } from "./node_io.ts";
import { runCli } from "./run_cli.ts";

/**
 * Runs strata's CLI with `process.argv` and sets `process.exitCode` (never calls exit, so
 * output is flushed and connections close). On Node, WebAssembly compiled while the command
 * runs (the SQL parser, PGlite; a program's own, if it compiles some meanwhile) is compiled
 * baseline-only; V8's defaults are back when it returns (see lib/io/wasm_compile.ts).
 *
 * @example
 * ```ts ignore
 * import { main } from "./main.ts";
 * await main(["version"]);
 * ```
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const io = nodeIo();
  const restoreWasmCompile = baselineWasmCompile();
  try {
    process.exitCode = await runCli(argv, io);
  } finally {
    restoreWasmCompile();
    io.dispose();
  }
}

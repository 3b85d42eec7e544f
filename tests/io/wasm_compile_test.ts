import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { main } from "../../lib/cli/main.ts";
import { baselineWasmCompile } from "../../lib/io/wasm_compile.ts";
import { TSX } from "../_support/run_strata.ts";

/** Runs fn with v8.setFlagsFromString recorded (and still applied). */
async function recordingFlags(fn: () => Promise<void> | void): Promise<string[]> {
  const flags: string[] = [];
  const original = v8.setFlagsFromString;
  v8.setFlagsFromString = (flag: string) => {
    flags.push(flag);
    original(flag);
  };
  try {
    await fn();
  } finally {
    v8.setFlagsFromString = original;
  }
  return flags;
}

test("baselineWasmCompile makes WASM baseline-only until the function it returns puts the default back", async () => {
  let restore!: () => void;
  const flags = await recordingFlags(() => {
    restore = baselineWasmCompile();
  });
  assert.deepEqual(flags, ["--liftoff-only"]);
  assert.deepEqual(await recordingFlags(() => restore()), ["--no-liftoff-only"]);
});

test("a CLI command compiles WASM baseline-only and puts the default back when it ends, failed or not", async (t) => {
  const exitCode = process.exitCode;
  t.after(() => {
    process.exitCode = exitCode;
  });
  const write = process.stdout.write;
  const writeErr = process.stderr.write;
  process.stdout.write = process.stderr.write = (() => true) as typeof process.stdout.write;
  try {
    assert.deepEqual(await recordingFlags(() => main(["-version"])), ["--liftoff-only", "--no-liftoff-only"]);
    assert.deepEqual(await recordingFlags(() => main(["no-such-command"])), ["--liftoff-only", "--no-liftoff-only"]);
    assert.equal(process.exitCode, 2, "the failed command did fail (usage)");
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
});

test("a --liftoff-only or --no-liftoff-only given to node is left as it is (the way to opt out)", () => {
  const module = fileURLToPath(new URL("../../lib/io/wasm_compile.ts", import.meta.url));
  const probe = `import v8 from "node:v8";
import { baselineWasmCompile } from ${JSON.stringify(module)};
const flags = [];
const original = v8.setFlagsFromString;
v8.setFlagsFromString = (flag) => { flags.push(flag); original(flag); };
baselineWasmCompile()();
console.log(JSON.stringify(flags));`;
  const run = (args: string[]) => {
    const result = spawnSync(process.execPath, [...args, "--import", TSX, "--input-type=module", "-e", probe], {
      encoding: "utf8",
    });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout.trim());
  };
  assert.deepEqual(run([]), ["--liftoff-only", "--no-liftoff-only"]);
  assert.deepEqual(run(["--liftoff-only"]), []);
  assert.deepEqual(run(["--liftoff_only"]), []);
  assert.deepEqual(run(["--no-liftoff-only"]), []);
});

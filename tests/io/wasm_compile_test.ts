import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { baselineWasmCompile } from "../../lib/io/wasm_compile.ts";
import { TSX } from "../_support/run_strata.ts";

const WASM_COMPILE = fileURLToPath(new URL("../../lib/io/wasm_compile.ts", import.meta.url));
const MAIN = fileURLToPath(new URL("../../lib/cli/main.ts", import.meta.url));

/** Runs a module-type script in a new node with the given flags; returns its stdout's last line. */
function runNode(flags: string[], script: string): string {
  const result = spawnSync(process.execPath, [...flags, "--import", TSX, "--input-type=module", "-e", script], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim().split("\n").pop() ?? "";
}

/**
 * A script that reports which V8 tier a hot function of a tiny WASM module (add two i32s)
 * runs on: `liftoff` (baseline) or `turbofan` (optimized). Needs --allow-natives-syntax.
 */
const TIER_PROBE = `
const ADD = new Uint8Array([0,97,115,109,1,0,0,0,1,7,1,96,2,127,127,1,127,3,2,1,0,7,7,1,3,97,100,100,0,0,10,9,1,7,0,32,0,32,1,106,11]);
const tierOf = new Function("f", "return %IsTurboFanFunction(f) ? 'turbofan' : %IsLiftoffFunction(f) ? 'liftoff' : 'other'");
// V8 shares one compiled module between identical bytes: each compile names its export apart.
let compiled = 0;
const compile = async () => {
  const bytes = ADD.slice();
  bytes[bytes.length - 14] = 97 + compiled++;
  return Object.values((await WebAssembly.instantiate(bytes)).instance.exports)[0];
};
async function tierWhenHot(add) {
  let sum = 0;
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < 5e6; i++) sum = add(sum, 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (tierOf(add) === "turbofan") break;
  }
  return tierOf(add);
}
`;

test("WebAssembly compiled while a CLI command runs stays on V8's baseline tier; compiled after main() returns, it reaches the optimizing tier", () => {
  const script = `${TIER_PROBE}
import { baselineWasmCompile } from ${JSON.stringify(WASM_COMPILE)};
import { main } from ${JSON.stringify(MAIN)};
const untouched = await tierWhenHot(await compile());
const restore = baselineWasmCompile();
const during = await compile();
const whileOn = await tierWhenHot(during);
restore();
const sameModuleAfter = await tierWhenHot(during);
await main(["-version"]);
await main(["no-such-command"]);
process.exitCode = 0;
const after = await tierWhenHot(await compile());
console.log(JSON.stringify({ untouched, whileOn, sameModuleAfter, after }));`;
  assert.deepEqual(JSON.parse(runNode(["--allow-natives-syntax"], script)), {
    untouched: "turbofan",
    whileOn: "liftoff",
    sameModuleAfter: "liftoff",
    after: "turbofan",
  });
});

test("baselineWasmCompile sets the flag once for overlapping callers and puts V8's defaults back after the last", () => {
  const flags: string[] = [];
  const original = v8.setFlagsFromString;
  v8.setFlagsFromString = (flag: string) => {
    flags.push(flag);
    original(flag);
  };
  const restores: Array<() => void> = [];
  try {
    restores.push(baselineWasmCompile());
    restores.push(baselineWasmCompile());
    assert.deepEqual(flags, ["--liftoff-only"]);
    restores[0]();
    restores[0]();
    assert.deepEqual(flags, ["--liftoff-only"], "the other caller is still running");
    restores[1]();
    assert.deepEqual(flags, ["--liftoff-only", "--no-liftoff-only --wasm-tier-up --wasm-dynamic-tiering"]);
  } finally {
    for (const restore of restores) restore();
    v8.setFlagsFromString = original;
  }
});

test("flags about WebAssembly tiers given to node are left as they are (--no-liftoff-only opts out); others are not", () => {
  const script = `import v8 from "node:v8";
import { baselineWasmCompile } from ${JSON.stringify(WASM_COMPILE)};
const flags = [];
const original = v8.setFlagsFromString;
v8.setFlagsFromString = (flag) => { flags.push(flag); original(flag); };
baselineWasmCompile()();
console.log(JSON.stringify(flags));`;
  const set = ["--liftoff-only", "--no-liftoff-only --wasm-tier-up --wasm-dynamic-tiering"];
  assert.deepEqual(JSON.parse(runNode([], script)), set);
  for (const flag of ["--liftoff-only", "--liftoff_only", "--no-liftoff-only", "--no-wasm-tier-up", "--no-liftoff"]) {
    assert.deepEqual(JSON.parse(runNode([flag], script)), [], flag);
  }
  assert.deepEqual(JSON.parse(runNode(["--stack-size=2000"], script)), set, "an unrelated V8 flag");
});

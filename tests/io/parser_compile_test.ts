import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { syncBuiltinESMExports } from "node:module";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { isStrataError } from "../../lib/db/strata_error.ts";
import { baselineParserCompile } from "../../lib/io/parser_compile.ts";
import { parseSqlScript, setParserCompileScope } from "../../lib/migrate/sql_script.ts";
import { TSX } from "../_support/run_strata.ts";

// The parser loads once per process; these tests run in order and share that one load.

test("a parser load that fails inside the compile scope is PARSER_UNAVAILABLE, and the next parse loads again", async () => {
  setParserCompileScope(() => Promise.reject(new Error("compile refused")));
  await assert.rejects(parseSqlScript("SELECT 1;", "1_a.up.sql"), (error: unknown) => {
    assert.ok(isStrataError(error, "PARSER_UNAVAILABLE"));
    assert.match(error.message, /1_a\.up\.sql.*compile refused/);
    return true;
  });

  const flags: string[] = [];
  const original = v8.setFlagsFromString;
  v8.setFlagsFromString = (flag: string) => {
    flags.push(flag);
    original(flag);
  };
  syncBuiltinESMExports();
  try {
    const scope = baselineParserCompile();
    assert.ok(scope, "on Node, with no --liftoff-only given, the CLI compiles the parser baseline-only");
    let loads = 0;
    setParserCompileScope((load) => {
      loads++;
      return scope(
        (async () => {
          // The flag is on while the parser module is imported and compiled.
          assert.deepEqual(flags, ["--liftoff-only"]);
          return await load();
        }) as typeof load,
      );
    });
    const script = await parseSqlScript("CREATE TABLE a (id int);\nSELECT 1;", "2_b.up.sql");
    assert.deepEqual(script.statements.map((s) => s.sql), ["CREATE TABLE a (id int)", "SELECT 1"]);
    await parseSqlScript("SELECT 2;", "3_c.up.sql");
    assert.equal(loads, 1, "the parser loads once per process");
    assert.deepEqual(
      flags,
      ["--liftoff-only", "--no-liftoff-only"],
      "put back after the load: later WASM compiles as usual",
    );
  } finally {
    v8.setFlagsFromString = original;
    syncBuiltinESMExports();
    setParserCompileScope(undefined);
  }
});

test("the baseline-only compile scope puts the flag back when the load fails", async () => {
  const flags: string[] = [];
  const original = v8.setFlagsFromString;
  v8.setFlagsFromString = (flag: string) => {
    flags.push(flag);
    original(flag);
  };
  syncBuiltinESMExports();
  try {
    const scope = baselineParserCompile()!;
    await assert.rejects(scope(() => Promise.reject(new Error("no WASM here"))), /no WASM here/);
    assert.deepEqual(flags, ["--liftoff-only", "--no-liftoff-only"]);
  } finally {
    v8.setFlagsFromString = original;
    syncBuiltinESMExports();
  }
});

test("a --liftoff-only given to node is left as it is", () => {
  const module = fileURLToPath(new URL("../../lib/io/parser_compile.ts", import.meta.url));
  const probe = `import { baselineParserCompile } from ${JSON.stringify(module)};
console.log(baselineParserCompile() === undefined ? "left alone" : "scoped");`;
  const run = (args: string[]) => {
    const result = spawnSync(process.execPath, [...args, "--import", TSX, "--input-type=module", "-e", probe], {
      encoding: "utf8",
    });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim();
  };
  assert.equal(run([]), "scoped");
  assert.equal(run(["--liftoff-only"]), "left alone");
  assert.equal(run(["--liftoff_only"]), "left alone");
});

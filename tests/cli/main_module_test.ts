/**
 * When mod.ts is the CLI: only when it is the program itself (`tsx mod.ts`, `deno run -A
 * mod.ts`), never when an application imports strata, even once a bundler has inlined
 * strata's code into the application's one file, where that file is the entry.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { VERSION } from "../../lib/cli/run_cli.ts";
import { tempDir } from "../_support/backends.ts";
import { assertExit, MOD, runProcess, TSX } from "../_support/run_strata.ts";

/** README's Library example, as an application's start-up file. */
function startFile(strata: string): string {
  return `import { directorySource, Migrator, openDatabase } from ${JSON.stringify(strata)};

const { db } = await openDatabase(process.env.DATABASE_URL);
try {
  const migrator = new Migrator(db, {
    source: directorySource("migrations"),
    onEvent: (e) => e.type === "migration" && console.log(\`\${e.result.version}/\${e.result.direction} \${e.result.name}\`),
  });
  const run = await migrator.up();
  if (run.error) throw run.error;
  console.log(run.noChange ? "No new migrations to apply" : \`Migrated to version \${run.to.version}\`);
} finally {
  await db.close();
}
`;
}

test("an application that imports strata, bundled into one file, never runs strata's CLI on its own arguments; mod.ts run as the program still is the CLI", async () => {
  const work = await tempDir("strata-main-module-");
  // Under the checkout's node_modules, so that what the bundle leaves outside (the parser,
  // PGlite) resolves from there.
  const out = fileURLToPath(new URL("../../node_modules/.cache/strata-test-app/", import.meta.url));
  const bundle = join(out, `server-${process.pid}.mjs`);
  mkdirSync(out, { recursive: true });
  try {
    await mkdir(join(work.path, "migrations"));
    await writeFile(join(work.path, "migrations", "1_t.up.sql"), "CREATE TABLE t (id int);\n");
    await writeFile(join(work.path, "start.ts"), startFile(MOD));
    // The options of `esbuild start.ts --bundle --platform=node --format=esm` with strata's
    // lazily loaded packages left outside.
    await build({
      entryPoints: [join(work.path, "start.ts")],
      outfile: bundle,
      bundle: true,
      platform: "node",
      format: "esm",
      external: ["libpg-query", "@electric-sql/pglite", "@electric-sql/pglite-tools", "tsx"],
      logLevel: "error",
    });
    for (const args of [[], ["version"]]) {
      const run = await runProcess(process.execPath, [bundle, ...args], work.path, {
        env: { DATABASE_URL: "pglite://memory" },
      });
      assertExit(run, 0);
      assert.equal(run.stdout, "1/up t\nMigrated to version 1\n", `node server.mjs ${args.join(" ")}`);
      assert.doesNotMatch(run.stderr, /Usage|strata|no migration/, `node server.mjs ${args.join(" ")}`);
    }

    const cli = await runProcess(process.execPath, ["--import", TSX, MOD, "-version"], work.path);
    assertExit(cli, 0);
    assert.equal(cli.stdout, `${VERSION}\n`);
  } finally {
    rmSync(bundle, { force: true });
    await work.remove();
  }
});

/**
 * The CLI, run as a real process, given bad input: broken migration folders, failing SQL,
 * wrong commands and flags, unreachable or missing databases. Every case checks the exit
 * code, that stderr says what is wrong (naming the file where there is one), and that the
 * database was left as it was.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import type { Database } from "../../lib/db/database.ts";
import { openDatabase } from "../../lib/io/open_database.ts";
import { assertExit, type Finished, MOD, runProcess, runStrata } from "../_support/run_strata.ts";
import { BACKENDS, tempDir, type TestDatabase, withDatabase } from "../_support/backends.ts";

const UNREACHABLE = "postgres://postgres@127.0.0.1:1/x";

/**
 * What a test checks: the version row and the tables the migrations made (golang-migrate's
 * version table and strata's history table beside it are bookkeeping, not the schema).
 */
interface State {
  version: string | null;
  dirty: boolean | null;
  tables: string[];
}

interface Harness {
  backend: "postgres" | "pglite";
  url: string;
  /** The working directory; migrations go in `migrations/`. */
  dir: string;
  files(files: Record<string, string>): Promise<void>;
  strata(...args: string[]): Promise<Finished>;
  /** The CLI with `input` on its stdin. */
  strataWith(input: string, ...args: string[]): Promise<Finished>;
  state(): Promise<State>;
}

async function readState(db: Database): Promise<State> {
  const tables = await db.query<{ name: string }>(
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('schema_migrations', 'schema_migrations_history') ORDER BY 1",
  );
  const [exists] = await db.query<{ found: string | null }>(
    "SELECT to_regclass('public.schema_migrations')::text AS found",
  );
  const rows = exists?.found == null ? [] : await db.query<{ version: string; dirty: boolean }>(
    "SELECT version::text AS version, dirty FROM schema_migrations",
  );
  return { version: rows[0]?.version ?? null, dirty: rows[0]?.dirty ?? null, tables: tables.map((r) => r.name) };
}

const NOTHING: State = { version: null, dirty: null, tables: [] };

/**
 * A fresh database (a PGlite folder for pglite, so the CLI process can open it) and a
 * working folder. The PGlite handle is closed first: the folder serves one process at a time.
 */
async function withHarness(
  t: { skip(message?: string): void },
  backend: "postgres" | "pglite",
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  await withDatabase(t, backend, async (test: TestDatabase) => {
    if (backend === "pglite") await test.db.close();
    const dir = await tempDir("strata-cli-bad-input-");
    try {
      await mkdir(join(dir.path, "migrations"));
      await fn({
        backend,
        url: test.url,
        dir: dir.path,
        async files(files) {
          for (const [name, text] of Object.entries(files)) await writeFile(join(dir.path, "migrations", name), text);
        },
        strata: (...args) => runStrata(["-database", test.url, ...args], dir.path),
        strataWith: (input, ...args) => runStrata(["-database", test.url, ...args], dir.path, { input }),
        async state() {
          if (backend === "postgres") return await readState(test.db);
          const { db } = await openDatabase(test.url);
          try {
            return await readState(db);
          } finally {
            await db.close();
          }
        },
      });
    } finally {
      await dir.remove();
    }
  }, { folder: backend === "pglite" });
}

/**
 * Cases that go through backend-specific code (the drivers' error positions, the version
 * writes, the catalog queries) run on both backends; the ones decided from the file names or
 * the parser alone run on PostgreSQL only, since a PGlite folder costs seconds per process.
 */
function backendsFor(kind: "both" | "files"): readonly ("postgres" | "pglite")[] {
  return kind === "both" ? BACKENDS : ["postgres"];
}

for (const backend of backendsFor("files")) {
  test(`[${backend}] up warns about a file whose name is not VERSION_NAME and applies the rest without it`, async (t) => {
    await withHarness(t, backend, async (h) => {
      await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n", "1-create.up.sql": "THIS IS NOT SQL;\n" });
      const out = await h.strata("up");
      assertExit(out, 0);
      assert.match(out.stderr, /warning: .*1-create\.up\.sql/);
      assert.deepEqual(await h.state(), { version: "1", dirty: false, tables: ["a"] });
    });
  });

  test(`[${backend}] up refuses two up files with one version and names the duplicate`, async (t) => {
    await withHarness(t, backend, async (h) => {
      await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n", "1_b.up.sql": "CREATE TABLE b (id int);\n" });
      const out = await h.strata("up");
      assertExit(out, 1);
      assert.match(out.stderr, /duplicate migration file: 1_b\.up\.sql/);
      assert.deepEqual(await h.state(), NOTHING);
    });
  });

  test(`[${backend}] down 1 over a version with no down file warns and moves the version without running anything`, async (t) => {
    await withHarness(t, backend, async (h) => {
      await h.files({
        "1_a.up.sql": "CREATE TABLE a (id int);\n",
        "1_a.down.sql": "DROP TABLE a;\n",
        "2_b.up.sql": "CREATE TABLE b (id int);\n",
      });
      assertExit(await h.strata("up"), 0);
      const out = await h.strata("down", "1");
      assertExit(out, 0);
      assert.match(out.stderr, /No down file for version 2/);
      assert.deepEqual(await h.state(), { version: "1", dirty: false, tables: ["a", "b"] });
    });
  });

  test(`[${backend}] a syntax error in the second of three pending files stops up before anything runs`, async (t) => {
    await withHarness(t, backend, async (h) => {
      await h.files({
        "1_a.up.sql": "CREATE TABLE a (id int);\n",
        "2_b.up.sql": "CREATE TABLE b (id int);\n\nCREATE TABLE c (id int) WITH OOPS (;\n",
        "3_d.up.sql": "CREATE TABLE d (id int);\n",
      });
      const out = await h.strata("up");
      assertExit(out, 1);
      assert.match(out.stderr, /2_b\.up\.sql.*line 3/);
      assert.doesNotMatch(out.stderr, /^1\/u /m);
      assert.deepEqual(await h.state(), NOTHING);
    });
  });
}

for (const backend of backendsFor("both")) {
  test(`[${backend}] up over an empty up file warns that it is empty (so does its dry run) and moves the version`, async (t) => {
    await withHarness(t, backend, async (h) => {
      await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n", "2_nothing.up.sql": "" });
      const plan = await h.strata("up", "-dry-run");
      assertExit(plan, 0);
      assert.match(plan.stdout, /^2_nothing\.up\.sql {2}up, in one transaction\n {7}empty: no statements/m);
      const out = await h.strata("up");
      assertExit(out, 0);
      assert.match(out.stderr, /2_nothing\.up\.sql is empty/);
      assert.deepEqual(await h.state(), { version: "2", dirty: false, tables: ["a"] });
    });
  });

  test(`[${backend}] force to a version no file has warns (golang-migrate sets it silently), and up then fails with no migration found`, async (t) => {
    await withHarness(t, backend, async (h) => {
      await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n" });
      const forced = await h.strata("force", "99");
      assertExit(forced, 0);
      assert.match(
        forced.stderr,
        /^warning: no migration in .* has version 99: .*up will refuse that \(VERSION_MISSING\)/m,
      );
      const known = await h.strata("force", "1");
      assertExit(known, 0);
      assert.doesNotMatch(known.stderr, /warning/);
      assertExit(await h.strata("force", "99"), 0);
      const out = await h.strata("up");
      assertExit(out, 1);
      assert.match(out.stderr, /no migration found for version 99/);
      assert.deepEqual(await h.state(), { version: "99", dirty: false, tables: [] });
    });
  });

  test(`[${backend}] a statement failing mid-file names the file, statement and line and keeps nothing of that file`, async (t) => {
    await withHarness(t, backend, async (h) => {
      await h.files({
        "1_a.up.sql": "CREATE TABLE a (id int);\n",
        "2_b.up.sql": "CREATE TABLE b (id int);\nINSERT INTO b VALUES (1);\n\nINSERT INTO b VALUES (1 / 0);\n",
        "3_c.up.sql": "CREATE TABLE c (id int);\n",
      });
      assertExit(await h.strata("up", "1"), 0);
      const out = await h.strata("-verbose", "up");
      assertExit(out, 1);
      assert.match(out.stderr, /2_b\.up\.sql, statement 3, line 4/);
      assert.match(out.stderr, /division by zero/);
      assert.match(out.stderr, /^1 more migration\(s\) of this command not run; the database is at version 1$/m);
      // strata sends no ROLLBACK after the server ended the failed transaction (-verbose prints notices).
      assert.doesNotMatch(out.stderr, /no transaction in progress/);
      assert.deepEqual(await h.state(), { version: "1", dirty: false, tables: ["a"] });
    });
  });

  test(`[${backend}] a first file failing says the files after it did not run and the database has no migration applied`, async (t) => {
    await withHarness(t, backend, async (h) => {
      await h.files({ "1_a.up.sql": "SELECT 1 / 0;\n", "2_b.up.sql": "CREATE TABLE b (id int);\n" });
      const out = await h.strata("up");
      assertExit(out, 1);
      assert.match(
        out.stderr,
        /^1 more migration\(s\) of this command not run; the database has no migration applied$/m,
      );
    });
  });

  test(`[${backend}] up with the version table in a schema that does not exist says so and creates nothing`, async (t) => {
    await withHarness(t, backend, async (h) => {
      await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n" });
      const url = `${h.url}?x-migrations-table="nope"."t"&x-migrations-table-quoted=1`;
      const out = await runStrata(["-database", url, "up"], h.dir);
      assertExit(out, 1);
      assert.match(out.stderr, /Schema "nope" does not exist/);
      assert.deepEqual(await h.state(), NOTHING);
    });
  });
}

test("an unknown command and an unknown flag are usage errors (exit 2) that change nothing", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n" });
    const command = await h.strata("bogus");
    assertExit(command, 2);
    assert.match(command.stderr, /Unknown command: bogus/);
    const flag = await h.strata("-bogus", "up");
    assertExit(flag, 2);
    assert.match(flag.stderr, /Unknown flag: -bogus/);
    assert.doesNotMatch(flag.stderr, /Did you mean/);
    const typo = await h.strata("up", "-dryrun");
    assertExit(typo, 2);
    assert.match(typo.stderr, /Unknown flag: -dryrun\nhint: Did you mean -dry-run\?/);
    const typoCommand = await h.strata("statsu");
    assertExit(typoCommand, 2);
    assert.match(typoCommand.stderr, /Unknown command: statsu\nhint: Did you mean status\?/);
    const misplaced = await h.strata("up", "-f");
    assertExit(misplaced, 2);
    assert.match(misplaced.stderr, /-f does not apply to up/);
    assert.deepEqual(await h.state(), NOTHING);
  });
});

test("up in a folder without migrations/ fails before the embedded database is made", async () => {
  const dir = await tempDir("strata-cli-bad-input-");
  try {
    for (const command of ["up", "status", "down", "force"]) {
      const out = await runStrata([command, ...(command === "down" || command === "force" ? ["1"] : [])], dir.path);
      assertExit(out, 1);
      assert.match(out.stderr, /Migrations folder not found: .*migrations\nhint: Fix the folder: -path DIR/);
    }
    assert.equal(existsSync(join(dir.path, ".strata")), false, "no embedded database was made");
  } finally {
    await dir.remove();
  }
});

for (const backend of BACKENDS) {
  test(`[${backend}] an extension the database does not have fails with a hint that says where to get it`, async (t) => {
    await withHarness(t, backend, async (h) => {
      const extension = backend === "pglite" ? "vector" : "strata_no_such_extension";
      await h.files({
        "1_a.up.sql": "CREATE TABLE a (id int);\n",
        "2_v.up.sql": `CREATE EXTENSION ${extension};\nCREATE TABLE e (id int);\n`,
      });
      const out = await h.strata("up");
      assertExit(out, 1);
      assert.match(
        out.stderr,
        /2_v\.up\.sql, statement 1, line 1, column 1: migration failed: extension ".+" is not available/,
      );
      assert.match(
        out.stderr,
        backend === "pglite"
          ? /^hint: Nothing of 2_v\.up\.sql was kept.*\. The embedded PGlite runs only the extensions it ships .* vector is not loaded: if PGlite does not ship it .*run these migrations on a PostgreSQL server/m
          : /^hint: Nothing of 2_v\.up\.sql was kept.*\. The server does not have the strata_no_such_extension extension installed: install its package/m,
      );
      assert.deepEqual(await h.state(), { version: "1", dirty: false, tables: ["a"] });
    });
  });
}

test("a syntax error on a very long line prints 120 characters around it, with the caret under it", async (t) => {
  await withHarness(t, "pglite", async (h) => {
    const values = Array.from({ length: 200 }, (_, i) => `(${i})`).join(", ");
    await h.files({ "1_long.up.sql": `CREATE TABLE a (id int); INSERT INTO a VALUES ${values},;\n` });
    const out = await h.strata("up");
    assertExit(out, 1);
    const lines = out.stderr.split("\n");
    const at = lines.findIndex((line) => line.startsWith("  1 | …"));
    assert.ok(at >= 0, out.stderr);
    assert.ok(lines[at].length <= 130, lines[at]);
    assert.equal(lines[at][lines[at + 1].indexOf("^")], ";", "the caret points at the offending token");
  });
});

test("a failed statement's line is printed with a URL's password masked, the caret still under what failed", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({
      "1_url.up.sql": "SELECT 'postgres://app:S3cretPw@db.internal:5432/app' AS url, 'x'::int;\n",
    });
    const out = await h.strata("up");
    assertExit(out, 1);
    assert.doesNotMatch(out.stderr + out.stdout, /S3cretPw/);
    const lines = out.stderr.split("\n");
    const at = lines.findIndex((line) => line.startsWith("  1 | "));
    assert.equal(lines[at], "  1 | SELECT 'postgres://app:***@db.internal:5432/app' AS url, 'x'::int;", out.stderr);
    assert.equal(lines[at].slice(lines[at + 1].indexOf("^")), "'x'::int;", "the caret points at the offending value");
  });
});

for (const backend of BACKENDS) {
  test(`[${backend}] a missing table named by REFERENCES (an error the server gives no position for) is pointed at by line, column and caret, not the statement's first line`, async (t) => {
    await withHarness(t, backend, async (h) => {
      await h.files({
        "1_orgs.up.sql": "CREATE TABLE organisations (id bigint PRIMARY KEY);\n",
        "2_users.up.sql":
          '-- organisation is misspelt below, not in this comment: organisation\nCREATE TABLE users (\n  id bigint PRIMARY KEY,\n  organisation_id bigint REFERENCES "organisation" (id)\n);\n',
      });
      const out = await h.strata("up");
      assertExit(out, 1);
      assert.match(
        out.stderr,
        /2_users\.up\.sql, statement 1, line 4, column 37: migration failed: relation "organisation" does not exist/,
      );
      const lines = out.stderr.split("\n");
      const at = lines.findIndex((line) => line.startsWith("  4 | "));
      assert.equal(lines[at].slice(lines[at + 1].indexOf("^")), '"organisation" (id)', out.stderr);
    });
  });
}

test("down without N refuses to revert anything when stdin is not a terminal", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({
      "1_a.up.sql": "CREATE TABLE a (id int);\n",
      "1_a.down.sql": "DROP TABLE a;\n",
      "2_b.up.sql": "CREATE TABLE b (id int);\n",
      "2_b.down.sql": "DROP TABLE b;\n",
    });
    assertExit(await h.strata("up"), 0);
    const out = await h.strata("down");
    assertExit(out, 1);
    assert.match(out.stderr, /No terminal/);
    assert.match(out.stderr, /hint: Pass -all to revert them all without asking, or a number: down 1/);
    assert.deepEqual(await h.state(), { version: "2", dirty: false, tables: ["a", "b"] });
  });
});

test("drop without -f refuses to drop anything when stdin is not a terminal", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n" });
    assertExit(await h.strata("up"), 0);
    const out = await h.strata("drop");
    assertExit(out, 1);
    assert.match(out.stderr, /No terminal/);
    assert.match(out.stderr, /hint: Pass -f to drop without asking: drop -f/);
    assert.deepEqual(await h.state(), { version: "1", dirty: false, tables: ["a"] });
  });
});

test("an answer piped to stdin answers the [y/N] question as golang-migrate reads it: y goes ahead, anything else aborts", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({
      "1_a.up.sql": "CREATE TABLE a (id int);\n",
      "1_a.down.sql": "DROP TABLE a;\n",
      "2_b.up.sql": "CREATE TABLE b (id int);\n",
      "2_b.down.sql": "DROP TABLE b;\n",
    });
    assertExit(await h.strata("up"), 0);
    const no = await h.strataWith("n\n", "down");
    assertExit(no, 1);
    assert.match(
      no.stderr,
      /Are you sure you want to apply all down migrations\? \[y\/N\] n\nAborted: nothing was done/,
    );
    assert.deepEqual(await h.state(), { version: "2", dirty: false, tables: ["a", "b"] });
    const yes = await h.strataWith("y\n", "down");
    assertExit(yes, 0);
    assert.match(yes.stderr, /^2\/d b /m);
    assert.deepEqual((await h.state()).tables, []);
    assertExit(await h.strata("up"), 0);
    const dropped = await h.strataWith("y\n", "drop");
    assertExit(dropped, 0);
    assert.deepEqual((await h.state()).tables, []);
  });
});

test("an empty -database or DATABASE_URL is a usage error, never a quiet run on the embedded database", async () => {
  const dir = await tempDir("strata-cli-bad-input-");
  try {
    const flag = await runStrata(["-database", "", "up"], dir.path);
    assertExit(flag, 2);
    assert.match(flag.stderr, /-database is empty/);
    assert.match(flag.stderr, /DATABASE_URL unset/);
    const variable = await runStrata(["version"], dir.path, { env: { DATABASE_URL: "" } });
    assertExit(variable, 2);
    assert.match(variable.stderr, /DATABASE_URL is set but empty/);
    assert.equal(existsSync(join(dir.path, ".strata")), false, "no embedded database was made");
  } finally {
    await dir.remove();
  }
});

test(".env in the working directory fills DATABASE_URL when it is unset and never replaces one already set, on Node and on Deno", async () => {
  const dir = await tempDir("strata-cli-dotenv-");
  try {
    // Closed ports: which URL was used shows in the connection error, with nothing to connect to.
    await writeFile(join(dir.path, ".env"), "DATABASE_URL=postgres://from_dotenv@127.0.0.1:1/x\n");
    const deno = new URL("../../node_modules/.bin/deno", import.meta.url).pathname;
    const runs: Array<[string, (env: Record<string, string | undefined>) => Promise<Finished>]> = [
      ["node", (env) => runStrata(["version"], dir.path, { env })],
      ["deno", (env) => runProcess(deno, ["run", "-A", MOD, "version"], dir.path, { env })],
    ];
    for (const [runtime, run] of runs) {
      const set = await run({ DATABASE_URL: "postgres://from_environment@127.0.0.1:1/x" });
      assertExit(set, 1);
      assert.match(set.stderr, /Cannot connect to postgres:\/\/from_environment@/, `${runtime}: the variable set wins`);
      const unset = await run({});
      assertExit(unset, 1);
      assert.match(unset.stderr, /Cannot connect to postgres:\/\/from_dotenv@/, `${runtime}: .env fills it in`);
    }
  } finally {
    await dir.remove();
  }
});

test("Deno without -A: a refused permission is PERMISSION_DENIED naming Deno's flag and the ones strata uses, not a stack trace nor a missing pg_dump", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ "1_t.up.sql": "CREATE TABLE t (id int);\n", "1_t.down.sql": "DROP TABLE t;\n" });
    const deno = new URL("../../node_modules/.bin/deno", import.meta.url).pathname;
    const denoRun = (permissions: string[], ...args: string[]) =>
      runProcess(deno, ["run", ...permissions, MOD, "-database", h.url, ...args], h.dir, { env: {} });
    const noStack = (out: Finished) => assert.doesNotMatch(out.stderr, /^\s+at /m, "no stack trace");
    const hint = /hint: Run it with -A .*--allow-run for backup, restore and deploy/;

    // Nothing granted: the first thing read is .env; text and -json both say so.
    const bare = await denoRun([], "up");
    assertExit(bare, 1);
    assert.match(bare.stderr, /^error: Deno refused a permission: Requires read access to "\.env".*--allow-read/m);
    assert.match(bare.stderr, hint);
    noStack(bare);
    const json = await denoRun([], "-json", "up");
    assertExit(json, 1);
    assert.equal(JSON.parse(json.stdout).error.code, "PERMISSION_DENIED");

    // No --allow-net: the connection's own message, with the same hint.
    const net = await denoRun(["--allow-read", "--allow-env", "--allow-sys"], "up");
    assertExit(net, 1);
    assert.match(net.stderr, /^error: Cannot connect to .*Requires net access.*--allow-net/m);
    assert.match(net.stderr, hint);
    noStack(net);

    // No --allow-run: pg_dump is installed, Deno may not start it (was "pg_dump not found").
    const backup = await denoRun(
      ["--allow-read", "--allow-env", "--allow-sys", "--allow-net", "--allow-write"],
      "backup",
    );
    assertExit(backup, 1);
    assert.match(backup.stderr, /^error: Deno refused a permission: Requires run access to ".*pg_dump".*--allow-run/m);
    assert.doesNotMatch(backup.stderr, /not found/);
    noStack(backup);

    assert.deepEqual((await h.state()).tables, [], "nothing ran");
    // With what the hint lists for a server, the migration runs.
    const granted = await denoRun(["--allow-read", "--allow-env", "--allow-sys", "--allow-net"], "up");
    assertExit(granted, 0);
  });
});

test("a port that accepts but does not speak PostgreSQL fails within -lock-timeout instead of hanging", async () => {
  const server = createServer((socket) => {
    // strata gives up and closes its end, often with a reset: not this test's failure.
    socket.on("error", () => {});
    socket.on("data", () => socket.write("HTTP/1.1 400 Bad Request\r\n\r\n"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const dir = await tempDir("strata-cli-bad-input-");
  try {
    const out = await runStrata(
      ["-database", `postgres://postgres@127.0.0.1:${port}/x`, "-lock-timeout", "2", "up"],
      dir.path,
    );
    assertExit(out, 1);
    assert.match(out.stderr, /gave no PostgreSQL answer in 2 s/);
  } finally {
    server.close();
    await dir.remove();
  }
});

test("an unknown sslmode is an error naming libpq's values", async () => {
  const dir = await tempDir("strata-cli-bad-input-");
  try {
    const out = await runStrata(
      ["-database", "postgres://postgres@127.0.0.1:5432/test?sslmode=requir", "version"],
      dir.path,
    );
    assertExit(out, 1);
    assert.match(out.stderr, /Unknown sslmode "requir"/);
    assert.match(out.stderr, /verify-full/);
  } finally {
    await dir.remove();
  }
});

test("an unreachable server fails with connection refused", async () => {
  const dir = await tempDir("strata-cli-bad-input-");
  try {
    const out = await runStrata(["-database", UNREACHABLE, "up"], dir.path);
    assertExit(out, 1);
    assert.match(out.stderr, /connection refused/);
    assert.match(out.stderr, /127\.0\.0\.1:1/);
    assert.match(out.stderr, /Try: psql -h 127\.0\.0\.1 -p 1 -U postgres -d x -c 'SELECT 1'/);
  } finally {
    await dir.remove();
  }
});

test("a database that does not exist fails with its name and is not created", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n" });
    const name = `strata_missing_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    const url = new URL(h.url);
    url.pathname = `/${name}`;
    const out = await runStrata(["-database", url.toString(), "up"], h.dir);
    assertExit(out, 1);
    assert.match(out.stderr, new RegExp(`database "${name}" does not exist`));
    assert.match(out.stderr, new RegExp(`Create the database first \\(createdb -h .* -U postgres ${name}\\)`));
    const { db } = await openDatabase(h.url);
    try {
      assert.deepEqual(await db.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]), []);
    } finally {
      await db.close();
    }
  });
});

test("the password in the database URL is never printed", async () => {
  const dir = await tempDir("strata-cli-bad-input-");
  try {
    const cases: [string[], RegExp][] = [
      [["-database", "postgres://app:s3cretpw@127.0.0.1:1/x", "up"], /s3cretpw/],
      [["-verbose", "-database", "postgres://app:s3cretpw@127.0.0.1:1/x?sslmode=disable", "version"], /s3cretpw/],
      [["-json", "-database", "postgres://app:s3cretpw@127.0.0.1:1/x", "up"], /s3cretpw/],
      [["-database", "postgres://app:s3cretpw@127.0.0.1:notaport/x", "up"], /s3cretpw/],
      [["-database", "postgres://127.0.0.1:1/x?password=s3cretpw", "up"], /s3cretpw/],
      [["-database", "postgres://app@127.0.0.1:1/x?sslpassword=s3cretpw&sslmode=disable", "up"], /s3cretpw/],
      // URL parsers take the last "@" as the end of the user info, so this password is "s3cr@tpw".
      [["-database", "postgres://app:s3cr@tpw@127.0.0.1:1/x", "up"], /s3cr|tpw/],
      // A password parameter runs to the next "&", an unencoded space or "#" included.
      [["-verbose", "-database", "postgres://app@127.0.0.1:1/x?password=s3cret pw2", "version"], /s3cret|pw2/],
      [["-verbose", "-database", "postgres://app@127.0.0.1:1/x?password=s3cret#pw2", "version"], /s3cret|pw2/],
    ];
    for (const [args, secret] of cases) {
      const out = await runStrata(args, dir.path);
      assertExit(out, 1);
      assert.doesNotMatch(out.stderr + out.stdout, secret, args.join(" "));
      assert.match(out.stderr + out.stdout, /127\.0\.0\.1/, args.join(" "));
    }
  } finally {
    await dir.remove();
  }
});

test("a database URL given where a file or folder goes (restore's FILE, a diff or erd operand, -out, -path) is a usage error that does not print its password", async () => {
  const dir = await tempDir("strata-cli-bad-input-");
  try {
    await mkdir(join(dir.path, "migrations"));
    const url = "postgres://postgres:S3cretPw@127.0.0.1:5432/db";
    const collapsed = "postgres:/postgres:S3cretPw@127.0.0.1:5432/db";
    const cases: string[][] = [
      ["restore", url],
      ["restore", collapsed],
      ["-json", "restore", url],
      ["diff", "migrations", collapsed],
      ["erd", collapsed],
      ["-out", url, "snapshot"],
      ["-out", url, "backup"],
      ["-path", url, "up"],
      ["-json", "-source", `pgx5://postgres:S3cretPw@127.0.0.1:5432/db`, "status"],
    ];
    for (const args of cases) {
      const out = await runStrata(["-database", UNREACHABLE, ...args], dir.path);
      assertExit(out, 2);
      assert.doesNotMatch(out.stderr + out.stdout, /S3cretPw/, args.join(" "));
      assert.match(out.stderr + out.stdout, /looks like a database URL/, args.join(" "));
      assert.match(out.stderr + out.stdout, /:\/\/?postgres:\*\*\*@127\.0\.0\.1:5432\/db/, args.join(" "));
    }
    assert.ok(!existsSync(join(dir.path, "postgres:")), "nothing was written to a path made of the URL");
  } finally {
    await dir.remove();
  }
});

test("with -json every failure is one JSON document on stdout with error.code", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({
      "1_a.up.sql": "CREATE TABLE a (id int);\n",
      "2_b.up.sql": "CREATE TABLE b (id int);\n\nINSERT INTO b VALUES (1 / 0);\n",
    });
    const cases: [string[], number, string][] = [
      [["-json", "bogus"], 2, "USAGE"],
      [["-json", "-database", UNREACHABLE, "up"], 1, "CONNECTION_FAILED"],
      [["-json", "-database", h.url, "up"], 1, "MIGRATION_FAILED"],
    ];
    const documents: Record<string, Record<string, unknown>> = {};
    for (const [args, code, errorCode] of cases) {
      const out = await runStrata(args, h.dir);
      assertExit(out, code);
      assert.equal(out.stdout.trim().split("\n").length, 1, `one line of JSON expected:\n${out.stdout}`);
      const document = JSON.parse(out.stdout) as { error: Record<string, unknown> };
      assert.equal(document.error.code, errorCode, out.stdout);
      assert.equal(typeof document.error.message, "string");
      documents[errorCode] = document.error;
    }
    assert.equal(documents.MIGRATION_FAILED.file, "2_b.up.sql");
    assert.equal(documents.MIGRATION_FAILED.statement, 2);
    assert.equal(documents.MIGRATION_FAILED.line, 3);
    assert.deepEqual(await h.state(), { version: "1", dirty: false, tables: ["a"] });
  });
});

test("the server's hint is printed on a line of its own before strata's", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({
      "1_mood.up.sql": "CREATE TYPE mood AS ENUM ('ok');\n",
      "2_more.up.sql": "ALTER TYPE mood ADD VALUE 'great';\nSELECT 'great'::mood;\n",
    });
    const out = await h.strata("up");
    assertExit(out, 1);
    assert.match(
      out.stderr,
      /\nserver hint: New enum values must be committed before they can be used\.\nhint: Nothing of 2_more/,
    );
    const json = await h.strata("-json", "up");
    assert.match(JSON.parse(json.stdout).error.serverHint, /must be committed/);
  });
});

test("server settings in the URL's query (lock_timeout, TimeZone) apply to the migration's session and to pg_dump; an unknown one fails to connect saying why", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({
      "1_settings.up.sql":
        "CREATE TABLE seen AS SELECT current_setting('lock_timeout') AS lock_timeout, current_setting('TimeZone') AS zone;\n",
    });
    const url = new URL(h.url);
    url.searchParams.set("lock_timeout", "1234");
    url.searchParams.set("TimeZone", "Asia/Tokyo");
    const up = await runStrata(["-database", url.toString(), "up"], h.dir);
    assertExit(up, 0);
    const { db } = await openDatabase(h.url);
    try {
      assert.deepEqual(await db.query("SELECT lock_timeout, zone FROM seen"), [{
        lock_timeout: "1234ms",
        zone: "Asia/Tokyo",
      }]);
    } finally {
      await db.close();
    }
    const backup = await runStrata(
      ["-database", url.toString(), "backup", "-out", "backups", "-format", "plain"],
      h.dir,
    );
    assertExit(backup, 0);

    url.searchParams.set("no_such_setting", "1");
    const bad = await runStrata(["-database", url.toString(), "version"], h.dir);
    assertExit(bad, 1);
    assert.match(bad.stderr, /unrecognized configuration parameter "no_such_setting"/);
    assert.match(
      bad.stderr,
      /hint: A query parameter of the URL that is not a connection setting is sent to the server/,
    );
  });
});

test("up on a folder with no migration files fails as golang-migrate's does (a -path naming the parent folder must not pass as no change)", async (t) => {
  await withHarness(t, "pglite", async (h) => {
    await mkdir(join(h.dir, "migrations", "sql"), { recursive: true });
    await writeFile(join(h.dir, "migrations", "sql", "1_a.up.sql"), "CREATE TABLE a (id int);\n");
    const out = await h.strata("up");
    assertExit(out, 1);
    assert.match(out.stderr, /^error: No migration files in .*migrations\/$/m);
    assert.match(
      out.stderr,
      /hint: -path must name the folder holding the VERSION_NAME\.up\.sql files \(not its parent\)/,
    );
    assertExit(await h.strata("-path", "migrations/sql", "up"), 0);
    assert.deepEqual((await h.state()).tables, ["a"]);
  });
});

test("sslmode=prefer and allow connect whether or not the server offers TLS; a missing sslrootcert is INVALID_URL with a hint, not a stack trace", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n" });
    for (const mode of ["prefer", "allow"]) {
      const url = new URL(h.url);
      url.searchParams.set("sslmode", mode);
      assertExit(await runStrata(["-database", url.toString(), "up"], h.dir), 0);
    }
    const url = new URL(h.url);
    url.searchParams.set("sslmode", "verify-full");
    url.searchParams.set("sslrootcert", join(h.dir, "no-such-ca.crt"));
    const out = await runStrata(["-database", url.toString(), "-json", "version"], h.dir);
    assertExit(out, 1);
    assert.doesNotMatch(out.stderr, /\n\s+at /, "no stack trace");
    assert.equal(JSON.parse(out.stdout).error.code, "INVALID_URL");
    assert.match(out.stdout, /no-such-ca\.crt/);
  });
});

test("up 0 and down 0 say no change and exit 0, as golang-migrate's Steps(0) does, running nothing", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n", "1_a.down.sql": "DROP TABLE a;\n" });
    const up0 = await h.strata("up", "0");
    assertExit(up0, 0);
    assert.match(up0.stderr, /^no change$/m);
    assert.deepEqual(await h.state(), NOTHING);
    assertExit(await h.strata("up"), 0);
    const down0 = await h.strata("down", "0");
    assertExit(down0, 0);
    assert.match(down0.stderr, /^no change$/m);
    assert.deepEqual(await h.state(), { version: "1", dirty: false, tables: ["a"] });
    const negative = await h.strata("up", "-1");
    assertExit(negative, 2);
    assert.match(negative.stderr, /N must be 0 or more, got -1/);
  });
});

test("a role that may write the version table but not create tables does what golang-migrate lets it (no change, a data migration applied, force out of a dirty state) without strata's history, warning which table and what to grant: never a stack trace [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    const role = `strata_app_${process.pid}`;
    const admin = await openDatabase(h.url);
    try {
      // A database golang-migrate's owner migrated to version 1; the app role runs strata.
      await admin.db.exec(
        `CREATE ROLE ${role} LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC; CREATE TABLE a (id int);` +
          `CREATE TABLE schema_migrations (version bigint not null primary key, dirty boolean not null);` +
          `INSERT INTO schema_migrations VALUES (1, false);` +
          `GRANT SELECT, INSERT, UPDATE, DELETE ON schema_migrations TO ${role}; GRANT SELECT, INSERT ON a TO ${role}`,
      );
      await h.files({
        "1_a.up.sql": "CREATE TABLE a (id int);\n",
        "1_a.down.sql": "DROP TABLE a;\n",
        "2_b.up.sql": "INSERT INTO a VALUES (2);\n",
        "3_c.up.sql": "-- strata:no-transaction\nINSERT INTO a VALUES (3);\nINSERT INTO a VALUES ('x');\n",
      });
      const url = new URL(h.url);
      url.username = role;
      const asApp = (...args: string[]) => runStrata(["-database", url.toString(), ...args], h.dir);
      const warning =
        /^warning: Could not create the history table "public"\."schema_migrations_history": permission denied for schema public: strata's history is not kept .*GRANT CREATE ON SCHEMA "public"/m;

      const upToDate = await asApp("goto", "1");
      assertExit(upToDate, 0);
      assert.match(upToDate.stderr, /^no change$/m);
      assert.match(upToDate.stderr, warning);

      const pending = await asApp("up", "1");
      assertExit(pending, 0);
      assert.match(pending.stderr, warning);
      assert.match(pending.stderr, /^2\/u b /m);
      assert.doesNotMatch(pending.stderr, /\n\s+at /, "no stack trace");
      assert.deepEqual(await h.state(), { version: "2", dirty: false, tables: ["a"] });

      const failing = await asApp("up");
      assertExit(failing, 1);
      assert.match(failing.stderr, /invalid input syntax for type integer/);
      assert.deepEqual(await h.state(), { version: "3", dirty: true, tables: ["a"] });

      const dirty = await asApp("up");
      assertExit(dirty, 1);
      assert.match(dirty.stderr, /^error: Dirty database version 3\. Fix and force version\.$/m);

      const forced = await asApp("force", "2");
      assertExit(forced, 0);
      assert.match(forced.stderr, warning);
      assert.deepEqual(await h.state(), { version: "2", dirty: false, tables: ["a"] });
    } finally {
      await admin.db.exec(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => {});
      await admin.db.close();
    }
  });
});

test("an app role that may not read the history its owner's strata wrote gets no change and status with a warning, a pending file refused before anything runs, and force out of a dirty state; one that may not create the version table is told which table and what to grant [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    const role = `strata_app_${process.pid}`;
    const admin = await openDatabase(h.url);
    try {
      await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n", "1_a.down.sql": "DROP TABLE a;\n" });
      await admin.db.exec(`CREATE ROLE ${role} LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
      const url = new URL(h.url);
      url.username = role;
      const asApp = (...args: string[]) => runStrata(["-database", url.toString(), ...args], h.dir);

      const noTable = await asApp("up");
      assertExit(noTable, 1);
      assert.match(
        noTable.stderr,
        /^error: Could not create the version table "public"\."schema_migrations": permission denied for schema public$/m,
      );
      assert.match(noTable.stderr, /^hint: .*GRANT CREATE ON SCHEMA "public"/m);
      assert.deepEqual(await h.state(), NOTHING);

      // The owner migrates with strata (the history table is written); the app role is granted the version table only.
      assertExit(await h.strata("up"), 0);
      await admin.db.exec(`GRANT SELECT, INSERT, UPDATE, DELETE ON schema_migrations TO ${role}`);
      const warning = /^warning: This role may not read the history table "public"\."schema_migrations_history"/m;

      const upToDate = await asApp("up");
      assertExit(upToDate, 0);
      assert.match(upToDate.stderr, /^no change$/m);
      assert.match(upToDate.stderr, warning);

      const status = await asApp("status");
      assertExit(status, 0);
      assert.match(status.stderr + status.stdout, warning);
      assert.match(status.stdout, /\b1\b.*a/);

      await h.files({ "2_b.up.sql": "CREATE TABLE b (id int);\n" });
      const pending = await asApp("up");
      assertExit(pending, 1);
      assert.match(pending.stderr, /^error: This role may not read the history table .*; nothing was run$/m);
      assert.match(
        pending.stderr,
        /^hint: .*GRANT SELECT, INSERT, UPDATE, DELETE ON "public"\."schema_migrations_history"/m,
      );
      assert.doesNotMatch(pending.stderr, /\n\s+at /, "no stack trace");
      assert.deepEqual(await h.state(), { version: "1", dirty: false, tables: ["a"] });

      // Dirty: force is this role's way out, as with golang-migrate (the version row alone).
      await admin.db.exec("UPDATE schema_migrations SET dirty = true");
      const forced = await asApp("force", "1");
      assertExit(forced, 0);
      assert.match(forced.stderr, /may not read the history table .*: the version is forced without it/);
      assert.deepEqual(await h.state(), { version: "1", dirty: false, tables: ["a"] });
    } finally {
      await admin.db.exec(`DROP OWNED BY ${role}; DROP ROLE ${role}`).catch(() => {});
      await admin.db.close();
    }
  });
});

test("-json keeps its promise: a usage error in the flags is JSON, version with nothing applied carries NO_MIGRATION, create gives the version as a number [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    const usage = await h.strata("-json", "up", "-bogus");
    assertExit(usage, 2);
    assert.equal(JSON.parse(usage.stdout).error.code, "USAGE", usage.stdout);
    assert.equal(usage.stderr, "");

    const none = await h.strata("-json", "version");
    assertExit(none, 1);
    const json = JSON.parse(none.stdout);
    assert.deepEqual([json.version, json.error?.code], [{ version: null, dirty: false }, "NO_MIGRATION"]);

    const created = await h.strata("-json", "create", "-seq", "-digits", "6", "add_things");
    assertExit(created, 0);
    const made = JSON.parse(created.stdout);
    assert.equal(made.version, 1);
    assert.match(made.up, /000001_add_things\.up\.sql$/);
  });
});

test("force and goto past the bigint range are usage errors (exit 2), and nothing reaches the server; force and version with a missing folder fail [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n" });
    for (const command of ["force", "goto"]) {
      const out = await h.strata(command, "9223372036854775808");
      assertExit(out, 2);
      assert.match(out.stderr, /Version must be at most 9223372036854775807 \(the version column is a bigint\)/);
    }
    assert.deepEqual(await h.state(), NOTHING);
    // A mistyped -path fails as golang-migrate's force does, before the version is touched.
    const typo = await h.strata("-path", "migration", "force", "1");
    assertExit(typo, 1);
    assert.match(typo.stderr, /^error: Migrations folder not found: .*migration$/m);
    assert.deepEqual(await h.state(), NOTHING);
    // version too: golang-migrate's CLI opens the source before it answers.
    assertExit(await h.strata("force", "1"), 0);
    const version = await h.strata("-path", "migration", "version");
    assertExit(version, 1);
    assert.match(version.stderr, /^error: Migrations folder not found: .*migration$/m);
    const json = await h.strata("-path", "migration", "-json", "version");
    assertExit(json, 1);
    // An error document names its command, as the command's own document does.
    assert.deepEqual(Object.keys(JSON.parse(json.stdout)), ["command", "error"]);
    assert.equal(JSON.parse(json.stdout).command, "version");
    assert.equal(JSON.parse(json.stdout).error.code, "SOURCE_NOT_FOUND");
    assert.equal((await h.strata("version")).stdout, "1\n");
  });
});

test("bare down and drop go ahead only on y, as golang-migrate: yes aborts with exit 1 and changes nothing [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n", "1_a.down.sql": "DROP TABLE a;\n" });
    assertExit(await h.strata("up"), 0);
    for (const command of ["down", "drop"]) {
      const out = await h.strataWith("yes\n", command);
      assertExit(out, 1);
      assert.match(out.stderr, /Aborted: nothing was done/);
      assert.deepEqual(await h.state(), { version: "1", dirty: false, tables: ["a"] });
    }
    assertExit(await h.strataWith("Y\n", "down"), 0);
    assert.deepEqual(await h.state(), { version: null, dirty: null, tables: [] });
  });
});

test("-source wins over -path, as in golang-migrate, with a warning when they name different folders [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ "1_a.up.sql": "CREATE TABLE a (id int);\n" });
    const out = await h.strata("-path", "elsewhere", "-source", "file://migrations", "up");
    assertExit(out, 0);
    assert.match(out.stderr, /^strata: -path elsewhere is ignored: -source file:\/\/migrations names the folder/m);
    assert.deepEqual(await h.state(), { version: "1", dirty: false, tables: ["a"] });
    const same = await h.strata("-path", "./migrations/", "-source", "file://migrations", "version");
    assertExit(same, 0);
    assert.doesNotMatch(same.stderr, /ignored/);
  });
});

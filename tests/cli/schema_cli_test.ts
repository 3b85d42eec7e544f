/**
 * `snapshot`, `diff`, `check`, `verify` and `erd` as real processes, on PGlite (a folder the
 * CLI opens) and on the PostgreSQL test server, over a copy of the example migrations: byte-
 * identical snapshots, diff operands of every form with diff(1)'s exit codes, statements
 * that make two schemas equal, drift found and named, broken downs caught, diagrams, usage
 * errors with exit 2, and a password that never shows.
 */
import assert from "node:assert/strict";
import { chmod, cp, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import process from "node:process";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { openDatabase } from "../../lib/io/open_database.ts";
import { BACKENDS, makeDatabase, tempDir, withDatabase } from "../_support/backends.ts";
import { assertExit, type Finished, runScript, runStrata } from "../_support/run_strata.ts";

const EXAMPLE_MIGRATIONS = fileURLToPath(new URL("../../migrations", import.meta.url));
const SNAPSHOT_SCRIPT = fileURLToPath(new URL("../../scripts/snapshot.ts", import.meta.url));
const PASSWORD = "S3cret-schema-pw-91";

type Backend = (typeof BACKENDS)[number];

/** A working folder with a copy of migrations/ and a database URL another process can open. */
interface Project {
  dir: string;
  url: string;
  strata(...args: string[]): Promise<Finished>;
}

/**
 * Runs `fn` with a project on `backend`: a fresh database on the server, or a PGlite folder
 * that only the CLI processes open (the test opens it between them, never during).
 */
async function withProject(
  t: { skip(message?: string): void },
  backend: Backend,
  fn: (project: Project) => Promise<void>,
): Promise<void> {
  const dir = await tempDir("strata-schema-cli-");
  try {
    await cp(EXAMPLE_MIGRATIONS, join(dir.path, "migrations"), { recursive: true });
    const run = async (url: string) =>
      await fn({ dir: dir.path, url, strata: (...args) => runStrata(["-database", url, ...args], dir.path) });
    if (backend === "postgres") await withDatabase(t, "postgres", ({ url }) => run(url));
    else {
      // A folder cloned from the template (no initdb per test), closed so the CLI can open it.
      const pglite = (await makeDatabase("pglite", { folder: true }))!;
      try {
        await pglite.db.close();
        await run(pglite.url);
      } finally {
        await pglite.dispose();
      }
    }
  } finally {
    await dir.remove();
  }
}

/**
 * Runs SQL on a database by URL, on one session (the SQL may hold its own BEGIN and COMMIT),
 * closing it again (a PGlite folder admits one process at a time).
 */
/** Writes `files` (name to SQL) into `dir/folder`, making the folder. */
async function writeFolder(dir: string, folder: string, files: Record<string, string>): Promise<void> {
  await mkdir(join(dir, folder), { recursive: true });
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, folder, name), sql);
}

async function exec(url: string, text: string): Promise<void> {
  const { db } = await openDatabase(url);
  try {
    await db.withSession((session) => session.exec(text));
  } finally {
    await db.close();
  }
}

/** A query on a database by URL, closing it again. */
async function query<T = Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const { db } = await openDatabase(url);
  try {
    return await db.query<T>(text);
  } finally {
    await db.close();
  }
}

// snapshot and diff read the same catalog on both backends (tests/schema covers PGlite's snapshots,
// determinism and folder replays); as processes they run on the server, and check and verify,
// whose scratch database differs by backend, run on both.
for (const backend of ["postgres"] as const) {
  test(`[${backend}] snapshot twice is byte-identical, leaves out a custom version table, -out writes atomically, -format sql`, async (t) => {
    await withProject(t, backend, async ({ dir, url, strata }) => {
      const custom = `${url}${url.includes("?") ? "&" : "?"}x-migrations-table=app_versions`;
      const withTable = (...args: string[]) => runStrata(["-database", custom, ...args], dir);
      assertExit(await withTable("-path", "migrations", "up"), 0);

      const first = await withTable("snapshot");
      assertExit(first, 0);
      const second = await withTable("snapshot");
      assertExit(second, 0);
      assert.equal(second.stdout, first.stdout, "two snapshots of an unchanged database are byte-identical");
      const parsed = JSON.parse(first.stdout) as { format: number; objects: { tables: Array<{ name: string }> } };
      assert.equal(parsed.format, 1);
      assert.deepEqual(parsed.objects.tables.map((table) => table.name), ["organisations", "sources", "users"]);

      const written = await withTable("snapshot", "-out", "db/schema.json");
      assertExit(written, 0);
      assert.equal(written.stdout, "");
      assert.match(written.stderr, /^Wrote db\/schema\.json: schema of .* \(1 enum, 3 tables, 1 function, /m);
      assert.equal(await readFile(join(dir, "db", "schema.json"), "utf8"), first.stdout);
      assert.deepEqual(await readdir(join(dir, "db")), ["schema.json"], "no partial file is left behind");

      const asSql = await withTable("snapshot", "-format", "sql");
      assertExit(asSql, 0);
      assert.match(asSql.stdout, /^CREATE TABLE public\.users \($/m);
      assert.match(asSql.stdout, /^CREATE TYPE public\.user_role AS ENUM \('owner', 'admin', 'member'\);$/m);
      assert.doesNotMatch(asSql.stdout, /app_versions/);
      assertExit(await withTable("snapshot", "-out", "schema.sql"), 0);
      assert.equal(await readFile(join(dir, "schema.sql"), "utf8"), asSql.stdout, "a .sql -out writes SQL");

      const json = await withTable("snapshot", "-json", "-out", "db/again.json");
      assertExit(json, 0);
      const report = JSON.parse(json.stdout) as Record<string, unknown>;
      assert.equal(report.command, "snapshot");
      assert.equal(report.format, "json");
      assert.equal((report.objects as Record<string, number>).tables, 3);
      assert.equal(await readFile(join(dir, "db", "again.json"), "utf8"), first.stdout);

      // Replacing a file keeps the mode its owner gave it; a new file gets the usual one.
      assert.equal((await stat(join(dir, "db", "again.json"))).mode & 0o777, 0o666 & ~process.umask());
      await chmod(join(dir, "db", "again.json"), 0o600);
      assertExit(await withTable("snapshot", "-out", "db/again.json"), 0);
      assert.equal((await stat(join(dir, "db", "again.json"))).mode & 0o777, 0o600);
    });
  });

  test(`[${backend}] diff of the migrations folder and the migrated database exits 0; a column added by hand exits 1, and -sql makes them equal again`, async (t) => {
    await withProject(t, backend, async ({ dir, url, strata }) => {
      assertExit(await strata("-path", "migrations", "up"), 0);
      let out = await runStrata(["diff", "migrations", url], dir);
      assertExit(out, 0);
      assert.match(out.stderr, /^no differences: migrations\/ and .* have the same schema$/m);
      assert.equal(out.stdout, "");

      await exec(url, "ALTER TABLE users ADD COLUMN nickname text NOT NULL DEFAULT ''");
      out = await runStrata(["diff", "migrations", url], dir);
      assertExit(out, 1);
      assert.match(out.stdout, /^--- migrations\/$/m);
      assert.match(out.stdout, /^1 change: 1 added, 0 removed, 0 changed$/m);
      assert.match(out.stdout, /^\+ column public\.users\.nickname$/m);

      if (backend === "postgres") {
        const json = await runStrata(["diff", "migrations", url, "-sql", "-json"], dir);
        assertExit(json, 1);
        const report = JSON.parse(json.stdout) as {
          command: string;
          differences: boolean;
          changes: Array<{ kind: string; name: string; change: string }>;
          sql: string[];
          script: string;
        };
        assert.equal(report.differences, true);
        assert.deepEqual(
          report.changes.map(({ kind, name, change }) => ({ kind, name, change })),
          [{ kind: "column", name: "public.users.nickname", change: "added" }],
        );
        assert.equal(report.sql.length, 1);
        assert.match(report.sql[0], /^ALTER TABLE public\.users ADD COLUMN nickname text DEFAULT ''::text NOT NULL$/);
        assert.equal(report.script, `BEGIN;\n${report.sql[0]};\nCOMMIT;\n`);
      }

      // the statements that turn the live database back into what the migrations make
      out = await runStrata(["diff", url, "migrations", "-sql"], dir);
      assertExit(out, 1);
      assert.deepEqual(out.stdout.split("\n").slice(1), [
        "BEGIN;",
        "-- destroys data: drops column public.users.nickname and its values",
        "ALTER TABLE public.users DROP COLUMN nickname;",
        "COMMIT;",
        "",
      ]);
      assert.match(out.stderr, /1 change from .* to migrations\/; review before running/);
      await exec(url, out.stdout);
      out = await runStrata(["diff", url, "migrations"], dir);
      assertExit(out, 0);

      // a snapshot file is an operand too
      assertExit(await runStrata(["-database", url, "snapshot", "-out", "before.json"], dir), 0);
      await exec(url, "CREATE INDEX users_name_idx ON users (name)");
      out = await runStrata(["diff", "before.json", url], dir);
      assertExit(out, 1);
      assert.match(out.stdout, /^\+ index public\.users_name_idx$/m);
    });
  });
}

for (const backend of BACKENDS) {
  test(`[${backend}] check exits 0 on the migrated database and 1 naming a column added by hand, with what to do`, async (t) => {
    await withProject(t, backend, async ({ url, strata }) => {
      assertExit(await strata("-path", "migrations", "up"), 0);
      let out = await strata("-path", "migrations", "check");
      assertExit(out, 0);
      assert.match(out.stdout, /^no drift: .* matches its 4 applied migrations \(version 4\)$/m);

      assertExit(await strata("-path", "migrations", "down", "2"), 0);
      out = await strata("-path", "migrations", "check");
      assertExit(out, 0);
      assert.match(out.stdout, /matches its 2 applied migrations \(version 2\)$/m);

      await exec(url, "ALTER TABLE users ADD COLUMN nickname text");
      out = await strata("-path", "migrations", "check");
      assertExit(out, 1);
      assert.match(out.stdout, /^drift: .* differs from the schema its 2 applied migrations \(version 2\) produce$/m);
      assert.match(out.stdout, /^--- expected \(.*migrations\/, replayed\)$/m);
      assert.match(out.stdout, /^\+ column public\.users\.nickname$/m);
      // The commands name this database and folder: with DATABASE_URL unset, a bare `strata force N` would go elsewhere.
      assert.match(
        out.stderr,
        /^hint: keep the change: write a migration that makes it \(strata -path migrations -database \S+ create NAME\)/m,
      );
      assert.match(
        out.stderr,
        /^ {2}then record it as applied here, where the change already is: strata -path migrations -database \S+ force N/m,
      );
      const drop = /^hint: drop the change: revert it by hand; the statements that do:\n {2}strata (.+)$/m.exec(
        out.stderr,
      );
      assert.ok(drop, out.stderr);
      assert.match(drop[1], / migrations -sql$/);
      assert.match(out.stderr, /^hint: those diffs replay all 4 migrations in .*migrations\/; 2 are not applied here/m);

      if (backend === "pglite") return;
      const json = await strata("-path", "migrations", "check", "-json");
      assertExit(json, 1);
      const report = JSON.parse(json.stdout) as Record<string, unknown>;
      assert.equal(report.command, "check");
      assert.equal(report.drifted, true);
      assert.equal(report.version, 2);
      assert.equal(report.applied, 2);
      assert.deepEqual(
        (report.changes as Array<{ name: string; change: string }>).map((c) => `${c.change} ${c.name}`),
        ["added public.users.nickname"],
      );
    });
  });

  test(`[${backend}] check -track replays each track's applied files in order (the user track uses the system track's tables): no drift, then a hand-made column named, a skipped track and a shared table refused`, async (t) => {
    await withProject(t, backend, async ({ dir, url, strata }) => {
      await writeFolder(dir, "system", {
        "1_tenants.up.sql": "CREATE TABLE tenants (id int PRIMARY KEY, name text NOT NULL);",
        "1_tenants.down.sql": "DROP TABLE tenants;",
      });
      await writeFolder(dir, "user", {
        "1_invoices.up.sql": "CREATE TABLE invoices (id int PRIMARY KEY, tenant_id int REFERENCES tenants (id));",
        "1_invoices.down.sql": "DROP TABLE invoices;",
        "2_invoice_total.up.sql": "ALTER TABLE invoices ADD COLUMN total numeric;",
        "2_invoice_total.down.sql": "ALTER TABLE invoices DROP COLUMN total;",
      });
      await exec(url, "CREATE SCHEMA migrations");
      const tracks = ["-track", 'system:system:"migrations"."fluxbase"', "-track", 'user:user:"migrations"."app"'];
      assertExit(await strata("up", ...tracks), 0);
      assertExit(
        await strata(
          "-path",
          "user",
          "-database",
          `${url}${
            url.includes("?") ? "&" : "?"
          }x-migrations-table=%22migrations%22.%22app%22&x-migrations-table-quoted=1`,
          "down",
          "1",
        ),
        0,
      );

      let out = await strata("check", ...tracks);
      assertExit(out, 0);
      assert.match(
        out.stdout,
        /^no drift: .* matches its tracks' applied migrations \(system: 1 applied \(version 1\); user: 1 applied \(version 1\)\)$/m,
      );

      await exec(url, "ALTER TABLE tenants ADD COLUMN plan text");
      out = await strata("check", ...tracks);
      assertExit(out, 1);
      assert.match(out.stdout, /^drift: .* differs from the schema its tracks' applied migrations produce/m);
      assert.match(out.stdout, /^--- expected \(system: .*system\/, user: .*user\/, replayed\)$/m);
      assert.match(out.stdout, /^\+ column public\.tenants\.plan$/m);
      assert.doesNotMatch(
        out.stdout,
        /invoices|fluxbase|"app"/,
        "the user track's table and both version tables are expected",
      );
      assert.match(out.stderr, /^ {2}strata -path system -database \S+ force N {3}\(track system; N: its version\)$/m);
      const json = await strata("check", "-json", ...tracks);
      assertExit(json, 1);
      const report = JSON.parse(json.stdout) as { tracks: Array<{ name: string; version: number; applied: number }> };
      assert.deepEqual(report.tracks.map((t) => [t.name, t.version, t.applied]), [["system", 1, 1], ["user", 1, 1]]);

      // The user track's variable unset: that track is skipped (said), the system one checked alone.
      out = await strata(
        "check",
        "-track",
        'system:system:"migrations"."fluxbase"',
        "-track",
        'user:$NO_SUCH_STRATA_VAR:"migrations"."app"',
      );
      assertExit(out, 1);
      assert.match(out.stderr, /^warning: track user skipped: \$NO_SUCH_STRATA_VAR is empty or not set$/m);
      assert.match(out.stdout, /^\+ table public\.invoices$/m);
      assert.match(
        out.stderr,
        /^hint: track user was skipped \(\$NO_SUCH_STRATA_VAR is empty or not set\): what its migrations made shows above as added/m,
      );
      const skipped = await strata(
        "check",
        "-json",
        "-track",
        'system:system:"migrations"."fluxbase"',
        "-track",
        'user:$NO_SUCH_STRATA_VAR:"migrations"."app"',
      );
      assertExit(skipped, 1);
      assert.deepEqual(
        (JSON.parse(skipped.stdout) as { tracks: Array<{ name: string; skipped?: string }> }).tracks.map((
          t,
        ) => [t.name, t.skipped]),
        [
          ["system", undefined],
          ["user", "$NO_SUCH_STRATA_VAR is empty or not set"],
        ],
      );

      // In the wrong order the user track's files do not find the system track's table: said, with the order.
      out = await strata(
        "check",
        "-track",
        'user:user:"migrations"."app"',
        "-track",
        'system:system:"migrations"."fluxbase"',
      );
      assertExit(out, 1);
      assert.match(out.stderr, /relation "tenants" does not exist \(track user\)$/m);
      assert.match(out.stderr, /^hint: The tracks replay in the order given \(user, system\)/m);

      out = await strata("check", "-track", "system:system", "-track", "user:user");
      assertExit(out, 2);
      assert.match(out.stderr, /Tracks system and user both use the version table/);
      assertExit(await strata("-path", "user", "check", ...tracks), 2);
    });
  });

  test(`[${backend}] verify -track verifies each track in order on one scratch database (the user track on the system track's tables); a track that fails outright leaves the next one not checked`, async (t) => {
    await withProject(t, backend, async ({ dir, strata }) => {
      await writeFolder(dir, "system", {
        "1_tenants.up.sql": "CREATE TABLE tenants (id int PRIMARY KEY);",
        "1_tenants.down.sql": "DROP TABLE tenants;",
      });
      await writeFolder(dir, "user", {
        "1_invoices.up.sql": "CREATE TABLE invoices (id int PRIMARY KEY, tenant_id int REFERENCES tenants (id));",
        "1_invoices.down.sql": "DROP TABLE invoices;",
        "2_audit.up.sql": "CREATE TABLE audit (id int); ALTER TABLE invoices ADD COLUMN total numeric;",
        "2_audit.down.sql": "ALTER TABLE invoices DROP COLUMN total;",
      });
      const tracks = ["-track", 'system:system:"migrations"."fluxbase"', "-track", 'user:user:"migrations"."app"'];
      let out = await strata("verify", ...tracks);
      assertExit(out, 1);
      assert.match(
        out.stdout,
        /^track system \(.*system\/\)\n {2}1_tenants\.up\.sql: ok\n {2}1 migration goes up, down and up again with the same schema\ntrack user \(.*user\/\)\n {2}1_invoices\.up\.sql: ok\n {2}2_audit\.up\.sql: down does not restore the schema\n {6}left over: table public\.audit\n/m,
      );
      assert.match(out.stdout, /^ {2}Verify failed: 1 migration of 2 failed$/m);

      await writeFolder(dir, "user", {
        "2_audit.down.sql": "ALTER TABLE invoices DROP COLUMN total; DROP TABLE audit;",
      });
      out = await strata("verify", ...tracks);
      assertExit(out, 0);
      assert.match(out.stdout, /^ {2}All 2 migrations go up, down and up again with the same schema$/m);

      await writeFolder(dir, "system", { "1_tenants.down.sql": "SELECT 1/0;" });
      out = await strata("verify", "-json", ...tracks);
      assertExit(out, 1);
      const report = JSON.parse(out.stdout) as {
        ok: boolean;
        tracks: Array<{ name: string; ok: boolean; checked?: boolean; steps?: Array<{ result: string }> }>;
      };
      assert.equal(report.ok, false);
      assert.deepEqual(report.tracks.map((t) => [t.name, t.ok, t.checked, t.steps?.map((s) => s.result)]), [
        ["system", false, undefined, ["down failed"]],
        ["user", false, false, undefined],
      ]);
    });
  });

  test(`[${backend}] verify passes the example migrations and names the table a broken down leaves over, never touching -database`, async (t) => {
    await withProject(t, backend, async ({ dir, url }) => {
      // On the server the scratch database sits beside -database; on PGlite it is in memory.
      const target = backend === "postgres" ? ["-database", url] : [];
      let out = await runStrata([...target, "-path", "migrations", "verify"], dir);
      assertExit(out, 0);
      assert.match(
        out.stderr,
        /^verify: up, down, up again for each migration in .*migrations\/, on .*\(never on the live database\)$/m,
      );
      assert.deepEqual(out.stdout.trimEnd().split("\n"), [
        "000001_create_organisations.up.sql: ok",
        "000002_create_users.up.sql: ok",
        "000003_create_sources.up.sql: ok",
        "000004_index_sources_created_at.up.sql: ok",
        "All 4 migrations go up, down and up again with the same schema",
      ]);

      await cp(join(dir, "migrations"), join(dir, "broken"), { recursive: true });
      await writeFile(
        join(dir, "broken", "000005_audit.up.sql"),
        "CREATE TABLE audit_log (id bigint PRIMARY KEY, at timestamptz NOT NULL);\nCREATE INDEX audit_log_at_idx ON audit_log (at);\n",
      );
      await writeFile(join(dir, "broken", "000005_audit.down.sql"), "DROP INDEX audit_log_at_idx;\n");
      out = await runStrata([...target, "-path", "broken", "verify"], dir);
      assertExit(out, 1);
      assert.match(out.stdout, /^000005_audit\.up\.sql: down does not restore the schema$/m);
      assert.match(out.stdout, /^ {4}left over: table public\.audit_log$/m);
      assert.match(out.stdout, /^Verify failed: 1 migration of 5 failed$/m);

      if (backend === "pglite") return;
      const json = await runStrata([...target, "-path", "broken", "verify", "-json"], dir);
      assertExit(json, 1);
      const report = JSON.parse(json.stdout) as {
        ok: boolean;
        steps: Array<{ version: number; result: string; changes?: Array<{ name: string; change: string }> }>;
      };
      assert.equal(report.ok, false);
      const bad = report.steps.find((s) => s.result !== "ok");
      assert.equal(bad?.version, 5);
      assert.deepEqual(bad?.changes?.map((c) => `${c.change} ${c.name}`), ["added public.audit_log"]);

      if (backend === "postgres") {
        const tables = await query<{ n: number }>(
          url,
          "SELECT count(*)::int AS n FROM pg_catalog.pg_tables WHERE schemaname = 'public'",
        );
        assert.equal(tables[0].n, 0, "verify never migrates the -database itself");
      }
    });
  });
}

test("[postgres] erd draws a Mermaid erDiagram with users → organisations, of -database or of a folder; -out x.md fences it", async (t) => {
  await withProject(t, "postgres", async ({ dir, strata }) => {
    assertExit(await strata("-path", "migrations", "up"), 0);
    const out = await strata("erd");
    assertExit(out, 0);
    assert.match(out.stdout, /^erDiagram$/m);
    assert.match(out.stdout, /^ {4}organisations \|\|\.\.o\{ users : "organisation_id"$/m);
    assert.match(out.stdout, /^ {8}bigint organisation_id FK$/m);
    assert.doesNotMatch(out.stdout, /schema_migrations/);

    // a folder operand is replayed on a scratch database beside -database
    const fromFolder = await strata("erd", "migrations", "-out", "docs/schema.md");
    assertExit(fromFolder, 0);
    assert.match(fromFolder.stderr, /^Wrote docs\/schema\.md: diagram of migrations\/ \(3 tables\)$/m);
    const markdown = await readFile(join(dir, "docs", "schema.md"), "utf8");
    assert.equal(markdown, "```mermaid\n" + out.stdout + "```\n", "the same diagram, fenced for a README");
  });
});

test("bad operands and flags exit 2 with a message that names them and the accepted forms", async () => {
  const dir = await tempDir("strata-schema-usage-");
  try {
    await cp(EXAMPLE_MIGRATIONS, join(dir.path, "migrations"), { recursive: true });
    await writeFile(join(dir.path, "notes.txt"), "not json\n");
    await writeFile(join(dir.path, "schema.sql"), "-- Schema snapshot written by strata\nCREATE TABLE t (id int);\n");
    await writeFile(join(dir.path, "other.json"), '{"tables": []}\n');
    const cases: Array<[string[], RegExp]> = [
      [
        ["diff", "migrations", "nothere"],
        /^error: nothere is not a database URL, a snapshot file or a migrations folder: no such file or folder$/m,
      ],
      [["diff", "migrations"], /^error: diff needs two operands, A and B: strata diff A B \[-sql\]/m],
      [
        ["diff", "mysql://root@db/app", "migrations"],
        /^error: Cannot compare mysql:\/\/root@db\/app: unsupported scheme mysql:\/\/$/m,
      ],
      [["diff", "notes.txt", "migrations"], /^error: notes\.txt is not a strata snapshot: /m],
      [["diff", "schema.sql", "migrations"], /^error: schema\.sql is not a strata snapshot: it is SQL, not JSON$/m],
      [["diff", "other.json", "migrations"], /^error: other\.json is not a strata snapshot: it has no "objects"$/m],
      [["snapshot", "-format", "xml"], /^error: -format for snapshot must be json or sql, got "xml"$/m],
      [["check", "extra"], /^error: Too many arguments for check: extra$/m],
      [["erd", "-sql"], /^error: Flag -sql does not apply to erd$/m],
    ];
    for (const [args, message] of cases) {
      const out = await runStrata(args, dir.path);
      assertExit(out, 2);
      assert.match(out.stderr, message, args.join(" "));
    }
    const out = await runStrata(["diff", "migrations", "nothere"], dir.path);
    assert.match(
      out.stderr,
      /^hint: Each operand is a database URL \(postgres:\/\/\.\.\., postgresql:\/\/\.\.\., pglite:\/\/DIR, pglite:\/\/memory\), a snapshot file written by 'strata snapshot', or a migrations folder$/m,
    );
    const json = await runStrata(["diff", "migrations", "nothere", "-json"], dir.path);
    assertExit(json, 2);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, "USAGE");
  } finally {
    await dir.remove();
  }
});

test("[postgres] a password in the database URL never shows in snapshot, diff, check or verify output; hints name $DATABASE_URL", async (t) => {
  await withProject(t, "postgres", async ({ dir, url }) => {
    const withPassword = new URL(url);
    withPassword.password = PASSWORD; // the test server trusts local connections, so any password logs in
    const secret = withPassword.toString();
    const outputs: Finished[] = [];
    const run = async (args: string[], code: number) => {
      const out = await runStrata(args, dir);
      assertExit(out, code);
      outputs.push(out);
      return out;
    };
    await run(["-database", secret, "-path", "migrations", "up"], 0);
    await exec(url, "ALTER TABLE users ADD COLUMN nickname text");
    await run(["-database", secret, "snapshot", "-out", "schema.json", "-verbose"], 0);
    const diff = await run(["diff", "migrations", secret, "-verbose"], 1);
    assert.match(diff.stdout, /^\+\+\+ postgres:\/\/postgres:\*\*\*@/m);
    await run(["diff", "migrations", secret, "-json", "-sql"], 1);
    const check = await run(["-database", secret, "-path", "migrations", "check", "-verbose"], 1);
    assert.match(check.stderr, /^ {2}strata diff migrations "\$DATABASE_URL" -sql$/m);
    assert.match(check.stderr, /^hint: set DATABASE_URL to the URL you passed with -database/m);
    await run(["-database", secret, "-path", "migrations", "verify"], 0);
    const missing = new URL(secret);
    missing.pathname = "/strata_no_such_database";
    const failed = await run(["-database", missing.toString(), "snapshot"], 1);
    assert.match(failed.stderr, /^error: Cannot connect to postgres:\/\/postgres:\*\*\*@/m);
    for (const out of outputs) {
      assert.ok(!out.stdout.includes(PASSWORD), `password in stdout:\n${out.stdout}`);
      assert.ok(!out.stderr.includes(PASSWORD), `password in stderr:\n${out.stderr}`);
    }
  });
});

test("[postgres] scripts/snapshot.ts writes schema.sql by default and passes check through", async (t) => {
  await withProject(t, "postgres", async ({ dir, url, strata }) => {
    assertExit(await strata("-path", "migrations", "up"), 0);
    const script = (...args: string[]) => runScript(SNAPSHOT_SCRIPT, args, dir, { env: { DATABASE_URL: url } });
    let out = await script();
    assertExit(out, 0);
    assert.match(out.stderr, /^Wrote schema\.sql: /m);
    assert.match(await readFile(join(dir, "schema.sql"), "utf8"), /^CREATE TABLE public\.organisations \($/m);
    out = await script("check");
    assertExit(out, 0);
    assert.match(out.stdout, /^no drift: /m);
  });
});

test("[postgres] diff of a server's snapshot file and its folder replayed on PGlite does not count PGlite's own extension versions as a difference, and says so", async (t) => {
  await withProject(t, "postgres", async ({ dir, url, strata }) => {
    await writeFile(
      join(dir, "migrations", "000099_citext.up.sql"),
      "CREATE EXTENSION IF NOT EXISTS citext;\nCREATE TABLE emails (address citext PRIMARY KEY);\n",
    );
    assertExit(await strata("-path", "migrations", "up"), 0);
    assertExit(await strata("snapshot", "-out", "schema.json"), 0);
    const snapshot = JSON.parse(await readFile(join(dir, "schema.json"), "utf8"));
    const citext = snapshot.objects.extensions.find((e: { name: string }) => e.name === "citext");
    // No -database: the folder replays on the embedded PGlite (PostgreSQL 17, its own citext).
    const diff = await runStrata(["diff", "schema.json", "migrations"], dir);
    assertExit(diff, 0);
    assert.match(diff.stderr, /no differences/);
    const { db } = await openDatabase("pglite://memory", { extensions: ["citext"] });
    const [pglite] = await db.query<{ v: string }>(
      "SELECT default_version AS v FROM pg_available_extensions WHERE name = 'citext'",
    );
    await db.close();
    if (pglite.v !== citext.version) {
      assert.match(
        diff.stderr,
        new RegExp(
          `note: extension versions not compared \\(citext ${pglite.v} replayed, ${citext.version} in the snapshot\\)`,
        ),
      );
    }
    // A real difference still counts.
    await exec(url, "ALTER TABLE emails ADD COLUMN note text");
    assertExit(await strata("snapshot", "-out", "schema.json"), 0);
    const changed = await runStrata(["-json", "diff", "schema.json", "migrations"], dir);
    assertExit(changed, 1);
    const json = JSON.parse(changed.stdout);
    assert.deepEqual(json.changes.map((c: { name: string }) => c.name), ["public.emails.note"]);
  });
});

test("[postgres] with the version table in its own schema, diff of the database and the folder shows only the hand-made change, and its SQL runs", async (t) => {
  await withProject(t, "postgres", async ({ dir, url }) => {
    const custom = `${url}${
      url.includes("?") ? "&" : "?"
    }x-migrations-table=%22migrations%22.%22app%22&x-migrations-table-quoted=1`;
    const strata = (...args: string[]) => runStrata(["-database", custom, ...args], dir);
    await exec(url, "CREATE SCHEMA migrations");
    assertExit(await strata("-path", "migrations", "up"), 0);
    await exec(url, "ALTER TABLE users ADD COLUMN nickname text");

    const check = await strata("-path", "migrations", "check");
    assertExit(check, 1);
    assert.match(check.stdout, /^\+ column public\.users\.nickname$/m);
    const diff = await strata("diff", custom, "migrations", "-sql");
    assertExit(diff, 1);
    const statements = diff.stdout.split("\n").filter((line) => line !== "" && !line.startsWith("--"));
    assert.deepEqual(statements, ["BEGIN;", "ALTER TABLE public.users DROP COLUMN nickname;", "COMMIT;"], diff.stdout);

    await exec(url, statements.join("\n"));
    assertExit(await strata("-path", "migrations", "check"), 0);
  });
});

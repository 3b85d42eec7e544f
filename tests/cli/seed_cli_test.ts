/**
 * `strata seed` as a real process, over the example migrations and seeds (copied to a temp
 * folder): per-seed counts on stderr, idempotent re-runs, `-env dev`, `-json`, the admin user's
 * password hash, and bad seeds that exit 1 naming the file with nothing written.
 */
import assert from "node:assert/strict";
import { pbkdf2Sync } from "node:crypto";
import { cp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { openDatabase } from "../../lib/io/open_database.ts";
import { tempDir, withDatabase } from "../_support/backends.ts";
import { assertExit, MOD, runStrata } from "../_support/run_strata.ts";

const EXAMPLE_MIGRATIONS = fileURLToPath(new URL("../../migrations", import.meta.url));
const EXAMPLE_SEEDS = fileURLToPath(new URL("../../seeds", import.meta.url));
const NODE_MODULES = fileURLToPath(new URL("../../node_modules", import.meta.url));

/** The seed report lines on stderr, without their timings. */
function seedLines(stderr: string): string[] {
  return stderr.split("\n").filter((line) => / inserted, /.test(line)).map((line) =>
    line.replace(/ \([^)]*\)$/, "").replace(/ {2,}/g, "  ")
  );
}

/**
 * A working folder holding copies of the example migrations/ and seeds/, with this
 * checkout's node_modules linked in, as a project that installed strata and tsx has it: the
 * CLI loads the .ts seed through the project's tsx. The seed imports "../mod.ts" relative to
 * its folder; the copy points that at strata's mod.ts.
 */
async function exampleProject(dir: string): Promise<void> {
  await symlink(NODE_MODULES, join(dir, "node_modules"), "dir");
  await cp(EXAMPLE_MIGRATIONS, join(dir, "migrations"), { recursive: true });
  await cp(EXAMPLE_SEEDS, join(dir, "seeds"), { recursive: true });
  const admin = join(dir, "seeds", "002_admin_user.ts");
  const text = await readFile(admin, "utf8");
  assert.match(text, /from "\.\.\/mod\.ts"/);
  await writeFile(admin, text.replace('from "../mod.ts"', `from ${JSON.stringify(MOD)}`));
}

/** A query on a PGlite folder no process holds. */
async function query<T = Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const opened = await openDatabase(url);
  try {
    return await opened.db.query<T>(text);
  } finally {
    await opened.db.close();
  }
}

const FIRST_RUN = [
  "001_organisations.json  organisations  1 inserted, 0 updated, 0 unchanged",
  "002_admin_user.ts  users  1 inserted, 0 updated, 0 unchanged",
  "003_sample_source.sql  sql  1 inserted, 0 updated",
];

const SECOND_RUN = [
  "001_organisations.json  organisations  0 inserted, 0 updated, 1 unchanged",
  "002_admin_user.ts  users  0 inserted, 0 updated, 1 unchanged",
  "003_sample_source.sql  sql  0 inserted, 0 updated",
];

test("seed over the example migrations: counts per seed, idempotent, -env dev, -json, admin hash, bad seeds [postgres]", async (t) => {
  await withDatabase(t, "postgres", async ({ db, url }) => {
    const dir = await tempDir("strata-seed-cli-");
    try {
      await exampleProject(dir.path);
      const strata = (...args: string[]) => runStrata(["-database", url, ...args], dir.path);
      assertExit(await strata("up"), 0);

      // bad seeds first, on the empty app: each exits 1 naming the file, and writes nothing
      const organisations = async () =>
        (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM organisations"))[0].n;
      await cp(join(dir.path, "seeds"), join(dir.path, "bad"), { recursive: true });
      await writeFile(
        join(dir.path, "bad", "004_bad.json"),
        JSON.stringify({ table: "users", key: ["email"], rows: [{ email: "x@y.z", nickname: "x" }] }),
      );
      let out = await strata("seed", "-seeds", "bad");
      assertExit(out, 1);
      assert.match(out.stderr, /^error: 004_bad\.json: row 1: unknown column nickname in users/m);
      assert.deepEqual(seedLines(out.stderr), []);
      assert.equal(await organisations(), 0);

      await writeFile(
        join(dir.path, "bad", "004_bad.json"),
        '{\n  "table": "users",\n  "key": ["email"]\n  "rows": []\n}\n',
      );
      out = await strata("seed", "-seeds", "bad");
      assertExit(out, 1);
      assert.match(out.stderr, /^error: 004_bad\.json, line 4, column \d+: invalid JSON/m);
      assert.match(out.stderr, /^ {2}4 \| {3}"rows": \[\]$/m);
      assert.equal(await organisations(), 0);

      await writeFile(
        join(dir.path, "bad", "004_bad.json"),
        JSON.stringify({ table: "users", key: ["name"], rows: [{ name: "x" }] }),
      );
      out = await strata("seed", "-seeds", "bad");
      assertExit(out, 1);
      assert.match(out.stderr, /^error: 004_bad\.json: no unique index or constraint on users \(name\)/m);
      assert.equal(await organisations(), 0);

      // the good seeds: one line per seed, then a re-run that inserts nothing
      out = await strata("seed");
      assertExit(out, 0);
      assert.deepEqual(seedLines(out.stderr), FIRST_RUN);
      out = await strata("seed");
      assertExit(out, 0);
      assert.deepEqual(seedLines(out.stderr), SECOND_RUN);

      const [admin] = await db.query<{ email: string; role: string; org: string; hash: string }>(
        `SELECT u.email, u.role::text AS role, o.slug AS org, u.password_hash AS hash
         FROM users u JOIN organisations o ON o.id = u.organisation_id`,
      );
      assert.equal(admin.email, "admin@datafly.local");
      assert.equal(admin.role, "owner");
      assert.equal(admin.org, "default");
      const parts = /^pbkdf2_sha256\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(admin.hash);
      assert.ok(parts, admin.hash);
      const derived = pbkdf2Sync("datafly", Buffer.from(parts[2], "base64"), Number(parts[1]), 32, "sha256");
      assert.equal(derived.toString("base64"), parts[3], "the hash is of the password datafly");

      // -env dev adds the demo organisations and their sources after the common seeds
      out = await strata("seed", "-env", "dev");
      assertExit(out, 0);
      assert.deepEqual(seedLines(out.stderr), [
        ...SECOND_RUN,
        "dev/010_demo_organisations.json  organisations  3 inserted, 0 updated, 0 unchanged",
        "dev/011_demo_sources.sql  sql  3 inserted, 0 updated",
      ]);
      assert.deepEqual(
        await db.query<{ slug: string; sources: number }>(
          `SELECT o.slug, count(s.id)::int AS sources FROM organisations o LEFT JOIN sources s ON s.organisation_id = o.id
           GROUP BY o.slug ORDER BY o.slug`,
        ),
        [
          { slug: "acme", sources: 1 },
          { slug: "default", sources: 1 },
          { slug: "globex", sources: 1 },
          { slug: "initech", sources: 1 },
        ],
      );

      // -json: the same counts as data on stdout, nothing but JSON there
      await db.exec("UPDATE organisations SET name = 'Renamed' WHERE slug = 'acme'");
      out = await strata("seed", "-env", "dev", "-json");
      assertExit(out, 0);
      const report = JSON.parse(out.stdout) as {
        command: string;
        error: unknown;
        seeds: Array<Record<string, unknown>>;
      };
      assert.equal(report.command, "seed");
      assert.equal(report.error, null);
      assert.ok(report.seeds.every((s) => typeof s.durationMs === "number"));
      assert.deepEqual(report.seeds.map(({ durationMs: _d, ...rest }) => rest), [
        {
          file: "001_organisations.json",
          table: "organisations",
          status: "done",
          inserted: 0,
          updated: 0,
          unchanged: 1,
        },
        { file: "002_admin_user.ts", table: "users", status: "done", inserted: 0, updated: 0, unchanged: 1 },
        { file: "003_sample_source.sql", table: null, status: "done", inserted: 0, updated: 0, unchanged: null },
        {
          file: "dev/010_demo_organisations.json",
          table: "organisations",
          status: "done",
          inserted: 0,
          updated: 1,
          unchanged: 2,
        },
        { file: "dev/011_demo_sources.sql", table: null, status: "done", inserted: 0, updated: 0, unchanged: null },
      ]);
      assert.deepEqual(seedLines(out.stderr), []);
      assert.deepEqual(
        await db.query("SELECT name FROM organisations WHERE slug = 'acme'"),
        [{ name: "Acme Corporation" }],
      );
      const [users] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM users");
      assert.equal(users.n, 1);

      // a failing SQL seed: exit 1, file, statement and line named, nothing of it kept, -json says so
      await writeFile(
        join(dir.path, "seeds", "dev", "012_broken.sql"),
        "INSERT INTO organisations (slug, name) VALUES ('broken', 'Broken');\n\nINSERT INTO sources (organisation_id, name, kind)\nVALUES (1, 'x', 'fax');\n",
      );
      out = await strata("seed", "-env", "dev");
      assertExit(out, 1);
      assert.match(out.stderr, /^error: dev\/012_broken\.sql, statement 2, line 3\b.*check constraint/m);
      assert.equal(seedLines(out.stderr).length, 5);
      assert.deepEqual(await db.query("SELECT slug FROM organisations WHERE slug = 'broken'"), []);
      out = await strata("seed", "-env", "dev", "-json");
      assertExit(out, 1);
      const failed = JSON.parse(out.stdout) as { seeds: Array<{ file: string; status: string }>; error: unknown };
      assert.deepEqual(failed.seeds.at(-1), { ...failed.seeds.at(-1), file: "dev/012_broken.sql", status: "failed" });
      assert.match(JSON.stringify(failed.error), /012_broken\.sql/);

      // a missing -env folder and a missing seeds folder are errors, not empty runs
      out = await strata("seed", "-env", "staging");
      assertExit(out, 1);
      assert.match(out.stderr, /Seeds folder for -env staging not found/);
      out = await strata("seed", "-seeds", "nowhere");
      assertExit(out, 1);
      assert.match(out.stderr, /Seeds folder not found: .*nowhere/);
    } finally {
      await dir.remove();
    }
  });
});

test("seed over the example migrations on a PGlite folder: counts, then a re-run that inserts nothing [pglite]", async (t) => {
  await withDatabase(t, "pglite", async ({ db, url }) => {
    await db.close(); // the folder serves one process at a time
    const dir = await tempDir("strata-seed-cli-pglite-");
    try {
      await exampleProject(dir.path);
      const strata = (...args: string[]) => runStrata(["-database", url, ...args], dir.path);
      assertExit(await strata("up"), 0);
      let out = await strata("seed", "-env", "dev");
      assertExit(out, 0);
      assert.deepEqual(seedLines(out.stderr), [
        ...FIRST_RUN,
        "dev/010_demo_organisations.json  organisations  3 inserted, 0 updated, 0 unchanged",
        "dev/011_demo_sources.sql  sql  3 inserted, 0 updated",
      ]);
      out = await strata("seed");
      assertExit(out, 0);
      assert.deepEqual(seedLines(out.stderr), SECOND_RUN);
      const rows = await query<{ slug: string; users: number; sources: number }>(
        url,
        `SELECT o.slug, (SELECT count(*)::int FROM users u WHERE u.organisation_id = o.id) AS users,
                (SELECT count(*)::int FROM sources s WHERE s.organisation_id = o.id) AS sources
         FROM organisations o ORDER BY o.slug`,
      );
      assert.deepEqual(rows, [
        { slug: "acme", users: 0, sources: 1 },
        { slug: "default", users: 1, sources: 1 },
        { slug: "globex", users: 0, sources: 1 },
        { slug: "initech", users: 0, sources: 1 },
      ]);
    } finally {
      await dir.remove();
    }
  }, { folder: true });
});

test("SEED_ENV picks the environment subfolder when -env is not given, and -env wins over it [pglite]", async () => {
  const dir = await tempDir("strata-seed-env-");
  try {
    await mkdir(join(dir.path, "migrations"));
    await mkdir(join(dir.path, "seeds", "dev"), { recursive: true });
    await mkdir(join(dir.path, "seeds", "prod"));
    await writeFile(join(dir.path, "migrations", "1_t.up.sql"), "CREATE TABLE t (name text PRIMARY KEY);\n");
    await writeFile(join(dir.path, "seeds", "001_t.json"), '{"table":"t","key":["name"],"rows":[{"name":"common"}]}');
    await writeFile(
      join(dir.path, "seeds", "dev", "001_t.json"),
      '{"table":"t","key":["name"],"rows":[{"name":"dev"}]}',
    );
    await writeFile(
      join(dir.path, "seeds", "prod", "001_t.json"),
      '{"table":"t","key":["name"],"rows":[{"name":"prod"}]}',
    );
    const url = `pglite://${join(dir.path, "db")}`;
    assertExit(await runStrata(["-database", url, "up"], dir.path), 0);
    const viaEnv = await runStrata(["-database", url, "seed"], dir.path, { env: { SEED_ENV: "dev" } });
    assertExit(viaEnv, 0);
    assert.deepEqual(seedLines(viaEnv.stderr), [
      "001_t.json  t  1 inserted, 0 updated, 0 unchanged",
      "dev/001_t.json  t  1 inserted, 0 updated, 0 unchanged",
    ]);
    const flagWins = await runStrata(["-database", url, "seed", "-env", "prod"], dir.path, {
      env: { SEED_ENV: "dev" },
    });
    assertExit(flagWins, 0);
    assert.match(flagWins.stderr, /^prod\/001_t\.json/m);
    assert.doesNotMatch(flagWins.stderr, /^dev\//m);
    const rows = await query<{ name: string }>(url, "SELECT name FROM t ORDER BY name");
    assert.deepEqual(rows.map((r) => r.name), ["common", "dev", "prod"]);
  } finally {
    await dir.remove();
  }
});

test("a PGlite folder whose citext came from another migrations folder seeds a citext key without -path (installed extensions are loaded) [pglite]", async () => {
  const dir = await tempDir("strata-seed-ext-");
  try {
    await mkdir(join(dir.path, "db", "migrations"), { recursive: true });
    await mkdir(join(dir.path, "seeds"));
    await writeFile(
      join(dir.path, "db", "migrations", "1_users.up.sql"),
      "CREATE EXTENSION IF NOT EXISTS citext;\nCREATE TABLE users (email citext PRIMARY KEY, name text);\n",
    );
    await writeFile(
      join(dir.path, "seeds", "001_users.json"),
      '{"table":"users","key":["email"],"rows":[{"email":"Admin@Example.com","name":"Admin"}]}',
    );
    const url = `pglite://${join(dir.path, "data")}`;
    assertExit(await runStrata(["-database", url, "-path", "db/migrations", "up"], dir.path), 0);
    for (const run of [1, 2]) {
      const seeded = await runStrata(["-database", url, "seed"], dir.path);
      assertExit(seeded, 0);
      assert.deepEqual(seedLines(seeded.stderr), [
        run === 1
          ? "001_users.json  users  1 inserted, 0 updated, 0 unchanged"
          : "001_users.json  users  0 inserted, 0 updated, 1 unchanged",
      ]);
    }
  } finally {
    await dir.remove();
  }
});

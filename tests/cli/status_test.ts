/**
 * `status`, `validate`, dry runs, the -allow-* flags and `-track`, run as real CLI processes:
 * what they print, their exit codes, and that the read-only ones leave the database as it
 * was. Most cases use the PostgreSQL server (a process costs ~0.5 s there, ~2 s on a PGlite
 * folder); one walks the same path on a PGlite folder.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import postgres from "postgres";
import type { Database } from "../../lib/db/database.ts";
import { openDatabase } from "../../lib/io/open_database.ts";
import {
  assertExit,
  type Finished,
  runStrata,
  startStrata,
  type StrataProcessOptions,
  waitFor,
} from "../_support/run_strata.ts";
import { tempDir, type TestDatabase, withDatabase } from "../_support/backends.ts";

interface Harness {
  url: string;
  /** The working directory; migrations go in `migrations/` unless a folder is named. */
  dir: string;
  files(files: Record<string, string>, folder?: string): Promise<void>;
  remove(...names: string[]): Promise<void>;
  strata(args: string[], options?: StrataProcessOptions): Promise<Finished>;
  /** Runs `fn` on the database (opening the PGlite folder while no CLI process holds it). */
  query<T>(fn: (db: Database) => Promise<T>): Promise<T>;
}

async function withHarness(
  t: { skip(message?: string): void },
  backend: "postgres" | "pglite",
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  await withDatabase(t, backend, async (test: TestDatabase) => {
    // A PGlite folder serves one process at a time: the CLI opens it, the test reopens it between runs.
    if (backend === "pglite") await test.db.close();
    const dir = await tempDir("strata-cli-status-");
    try {
      await mkdir(join(dir.path, "migrations"));
      await fn({
        url: test.url,
        dir: dir.path,
        async files(files, folder = "migrations") {
          await mkdir(join(dir.path, folder), { recursive: true });
          for (const [name, text] of Object.entries(files)) await writeFile(join(dir.path, folder, name), text);
        },
        async remove(...names) {
          for (const name of names) await rm(join(dir.path, "migrations", name));
        },
        strata: (args, options) => runStrata(["-database", test.url, ...args], dir.path, options),
        async query(fn) {
          if (backend === "postgres") return await fn(test.db);
          const { db } = await openDatabase(test.url);
          try {
            return await fn(db);
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

/** The version row and every relation outside the system schemas: what a read-only command must not change. */
async function snapshot(db: Database): Promise<string> {
  const [row] = await db.query<{ text: string | null }>(`
    SELECT string_agg(format('%s.%s %s %s', n.nspname, c.relname, c.relkind, c.relfilenode), ' ' ORDER BY 1) AS text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_to%'`);
  const [exists] = await db.query<{ name: string | null }>(
    "SELECT to_regclass('public.schema_migrations')::text AS name",
  );
  const version = exists?.name == null
    ? "no version table"
    : JSON.stringify(await db.query("SELECT xmin::text, version::text, dirty FROM public.schema_migrations"));
  return `${row?.text ?? ""}\n${version}`;
}

const A = { "1_a.up.sql": "CREATE TABLE a (id int);\n", "1_a.down.sql": "DROP TABLE a;\n" };
const B = { "2_b.up.sql": "CREATE TABLE b (id int);\n", "2_b.down.sql": "DROP TABLE b;\n" };
const C = { "3_c.up.sql": "CREATE TABLE c (id int);\n", "3_c.down.sql": "DROP TABLE c;\n" };
const D = { "4_d.up.sql": "CREATE TABLE d (id int);\n", "4_d.down.sql": "DROP TABLE d;\n" };
const E = { "5_e.up.sql": "CREATE INDEX CONCURRENTLY a_id ON a (id);\n", "5_e.down.sql": "DROP INDEX a_id;\n" };
const F = { "6_f.up.sql": "CREATE TABLE f (id int);\n", "6_f.down.sql": "DROP TABLE f;\n" };

test("status shows applied, pending, missing file, changed and out of order; up refuses until each flag is given [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ ...A, ...B, ...D, ...E });
    assertExit(await h.strata(["up"]), 0);
    // Since then: 2 edited, 3 added below the current version, 4's files deleted, 6 added.
    await h.files({ "2_b.up.sql": "CREATE TABLE b (id int, note text);\n", ...C, ...F });
    await h.remove("4_d.up.sql", "4_d.down.sql");

    const before = await h.query(snapshot);
    const out = await h.strata(["status"]);
    assertExit(out, 0);
    const text = out.stdout;
    assert.match(text, /^version: 5$/m);
    assert.match(text, /^VERSION +NAME +STATE +APPLIED AT +DURATION +NOTE$/m);
    const when = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?Z +[0-9.]+(µs|ms|s)`;
    assert.match(text, new RegExp(`^1 +a +applied +${when}$`, "m"));
    assert.match(text, new RegExp(`^2 +b +changed +${when}$`, "m"));
    assert.match(text, /^3 +c +out of order$/m);
    assert.match(text, new RegExp(`^4 +d +missing file +${when}$`, "m"));
    assert.match(text, new RegExp(`^5 +e +applied +${when}$`, "m"));
    assert.match(text, /^6 +f +pending$/m);
    assert.match(text, /^3 applied, 2 pending, 1 changed since applied, 1 out of order, 1 applied without a file$/m);
    assert.match(
      text,
      /^changed: 2_b\.up\.sql was applied with checksum [0-9a-f]{12}, the file now has [0-9a-f]{12}$/m,
    );
    assert.match(text, /^out of order: 3_c\.up\.sql is pending below version 5 .*-allow-out-of-order/m);

    const json = await h.strata(["status", "-json"]);
    assertExit(json, 0);
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.command, "status");
    assert.deepEqual(doc.version, { version: 5, dirty: false });
    assert.equal(doc.upToDate, false);
    assert.deepEqual([doc.pending, doc.changed, doc.outOfOrder, doc.missingFiles], [2, 1, 1, 1]);
    assert.deepEqual(doc.migrations.map((m: { version: number; state: string }) => [m.version, m.state]), [
      [1, "applied"],
      [2, "changed"],
      [3, "out of order"],
      [4, "missing file"],
      [5, "applied"],
      [6, "pending"],
    ]);
    const five = doc.migrations[4];
    assert.match(five.appliedAt, /^\d{4}-\d\d-\d\dT/);
    assert.ok(five.durationMs >= 0);
    assert.equal(five.checksum, five.recordedChecksum);
    assert.notEqual(doc.migrations[1].checksum, doc.migrations[1].recordedChecksum);
    assert.equal(doc.dirty, null);

    assertExit(await h.strata(["status", "-exit-code"]), 1);
    const validate = await h.strata(["validate"]);
    assertExit(validate, 1);
    assert.match(validate.stderr, /^problem: 2_b\.up\.sql changed since it was applied$/m);
    assert.match(validate.stderr, /^problem: 3_c\.up\.sql is pending below the current version 5$/m);
    assert.match(validate.stderr, /^problem: version 4 \(d\) is applied but its file is missing$/m);
    assert.match(validate.stderr, /^3 problem\(s\): 5 migrations, 10 files parsed, 2 pending$/m);
    assert.equal(await h.query(snapshot), before, "status and validate change nothing");

    const changed = await h.strata(["up"]);
    assertExit(changed, 1);
    assert.match(changed.stderr, /^error: Applied migration changed since applied: 2_b\.up\.sql \(applied /m);
    assert.match(changed.stderr, /^hint: .*-allow-changed/m);
    const outOfOrder = await h.strata(["up", "-allow-changed"]);
    assertExit(outOfOrder, 1);
    assert.match(outOfOrder.stderr, /^error: Pending migration below the current version 5: 3_c\.up\.sql /m);
    assert.equal(await h.query(snapshot), before, "refused runs change nothing");

    const run = await h.strata(["up", "-allow-changed", "-allow-out-of-order"]);
    assertExit(run, 0);
    assert.match(run.stderr, /^3\/u c \(.*\) out of order$/m);
    assert.match(run.stderr, /^6\/u f \(/m);
    const after = JSON.parse((await h.strata(["status", "-json"])).stdout);
    assert.deepEqual(after.version, { version: 6, dirty: false });
    assert.deepEqual(after.migrations.map((m: { state: string }) => m.state), [
      "applied",
      "changed",
      "applied",
      "missing file",
      "applied",
      "applied",
    ]);
  });
});

test("status -exit-code is 1 while anything is pending and 0 when up to date; validate passes a clean folder [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ ...A, ...B });
    const pending = await h.strata(["status", "-exit-code"]);
    assertExit(pending, 1);
    assert.match(pending.stdout, /^version: none$/m);
    assert.match(pending.stdout, /^0 applied, 2 pending$/m);
    const validate = await h.strata(["validate"]);
    assertExit(validate, 0);
    assert.match(validate.stderr, /^ok: 2 migrations, 4 files parsed, 2 pending$/m);
    assert.equal(await h.query(snapshot), "\nno version table", "status and validate create nothing");

    assertExit(await h.strata(["up"]), 0);
    const clean = await h.strata(["status", "-exit-code", "-json"]);
    assertExit(clean, 0);
    assert.equal(JSON.parse(clean.stdout).upToDate, true);
    assert.deepEqual(JSON.parse(clean.stdout).ignored, []);
    assertExit(await h.strata(["validate"]), 0);

    // A file that looks like a migration but is not read as one is listed, and does not make status fail.
    await h.files({ "3-typo.up.sql": "CREATE TABLE typo (id int);\n" });
    const listed = await h.strata(["status", "-exit-code"]);
    assertExit(listed, 0);
    assert.match(listed.stdout, /^ignored: 3-typo\.up\.sql: the name does not start with VERSION_/m);
    assert.equal(JSON.parse((await h.strata(["status", "-json"])).stdout).ignored[0].file, "3-typo.up.sql");
    await h.remove("3-typo.up.sql");

    await h.files({ "3_bad.up.sql": "CREATE TABLE ok (id int);\nCREAT TABLE nope (id int);\n" });
    const broken = await h.strata(["validate"]);
    assertExit(broken, 1);
    assert.match(broken.stderr, /^problem: 3_bad\.up\.sql, line 2, column 1: syntax error at or near "CREAT"$/m);
    assert.equal(
      await h.query(async (db) => (await db.query("SELECT to_regclass('public.ok') AS t"))[0].t),
      null,
      "validate migrates nothing",
    );
  });
});

test("up/down/goto -dry-run print the plan and change nothing, not even create the version table [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ ...A, ...B, ...E });
    const fresh = await h.strata(["up", "-dry-run"]);
    assertExit(fresh, 0);
    assert.match(fresh.stdout, /^Plan: up from version none to 5, 3 migration\(s\)\. Dry run: nothing was changed\.$/m);
    assert.match(fresh.stdout, /^1_a\.up\.sql {2}up, in one transaction$/m);
    assert.match(fresh.stdout, /^ {4}1 {2}line 1 {5}CREATE TABLE a \(id int\)$/m);
    assert.match(
      fresh.stdout,
      /^5_e\.up\.sql {2}up, outside a transaction \(.*CREATE INDEX CONCURRENTLY cannot run inside a transaction block\)$/m,
    );
    assert.equal(await h.query(snapshot), "\nno version table");

    assertExit(await h.strata(["up", "2"]), 0);
    const before = await h.query(snapshot);
    const down = await h.strata(["down", "1", "-dry-run"]);
    assertExit(down, 0);
    assert.match(down.stdout, /^Plan: down from version 2 to 1, 1 migration\(s\)\. Dry run: nothing was changed\.$/m);
    assert.match(down.stdout, /^2_b\.down\.sql {2}down, in one transaction$/m);
    const goto = await h.strata(["goto", "1", "-dry-run", "-json"]);
    assertExit(goto, 0);
    const plan = JSON.parse(goto.stdout);
    assert.equal(plan.dryRun, true);
    assert.deepEqual(plan.steps.map((s: { file: string; direction: string }) => [s.file, s.direction]), [
      ["2_b.down.sql", "down"],
    ]);
    const up = await h.strata(["up", "-dry-run"]);
    assertExit(up, 0);
    assert.match(up.stdout, /^Plan: up from version 2 to 5, 1 migration\(s\)/m);
    assert.equal(await h.query(snapshot), before);
  });
});

test("status piped into a reader that has gone (strata status | head) ends as it would have, without a stack trace [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files(A);
    assertExit(await h.strata(["up"]), 0);
    const running = startStrata(["-database", h.url, "status"], h.dir);
    // The reading end closes before strata writes a line: every write it makes meets EPIPE.
    running.child.stdout!.destroy();
    const out = await running.done;
    assert.equal(out.stderr, "");
    assertExit(out, 0);
  });
});

test("status on a database left dirty by a failed CREATE INDEX CONCURRENTLY names the INVALID index and its DROP [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({
      ...A,
      "2_u.up.sql": "INSERT INTO a VALUES (1), (1);\nCREATE UNIQUE INDEX CONCURRENTLY a_u ON a (id);\n",
    });
    assertExit(await h.strata(["up"]), 1);
    const out = await h.strata(["status"]);
    assert.match(
      out.stdout,
      /^ {2}INVALID index left behind: public\.a_u; run DROP INDEX CONCURRENTLY IF EXISTS public\.a_u before running the file again$/m,
    );
    assert.deepEqual(JSON.parse((await h.strata(["status", "-json"])).stdout).dirty.invalidIndexes, ["public.a_u"]);
  });
});

test("status and up after a CREATE INDEX CONCURRENTLY whose process was killed name the INVALID index it left and its DROP [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({
      ...A,
      "2_idx.up.sql": "CREATE TABLE b (id int);\nCREATE INDEX CONCURRENTLY a_id ON a (id);\n",
      "2_idx.down.sql": "DROP INDEX a_id;\nDROP TABLE b;\n",
    });
    assertExit(await h.strata(["up", "1"]), 0);
    const invalid =
      "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'a_id' AND NOT i.indisvalid";
    const sql = postgres(h.url, { max: 1, onnotice: () => {} });
    try {
      // An open transaction that wrote to the table: the index build waits for it, INVALID meanwhile.
      const writer = await sql.reserve();
      await writer.unsafe("BEGIN");
      await writer.unsafe("INSERT INTO a VALUES (1)");
      const up = startStrata(["-database", h.url, "up"], h.dir);
      await waitFor(
        "the index build to wait for the writer",
        async () => (await h.query((db) => db.query(invalid))).length > 0,
      );
      // Meanwhile status sees it running and blames no index on it: the build is not over.
      const during = await h.strata(["status"]);
      assert.match(during.stdout, /running now/i);
      assert.doesNotMatch(during.stdout, /INVALID/);
      up.child.kill("SIGKILL");
      await up.done;
      // The server ends the killed run's session (client_connection_check_interval), and its lock.
      await waitFor(
        "the killed run's session to end",
        async () =>
          (await h.query((db) => db.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"))).length === 0,
      );
      await writer.unsafe("ROLLBACK");
      writer.release();
    } finally {
      await sql.end({ timeout: 1 });
    }
    assert.equal((await h.query((db) => db.query(invalid))).length, 1, "the killed build left an INVALID index");
    const drop = /run DROP INDEX CONCURRENTLY IF EXISTS public\.a_id before running the file again/;
    const out = await h.strata(["status"]);
    assert.match(out.stdout, /recorded no end/);
    assert.match(out.stdout, drop);
    assert.deepEqual(JSON.parse((await h.strata(["status", "-json"])).stdout).dirty.invalidIndexes, ["public.a_id"]);
    const refused = await h.strata(["up"]);
    assertExit(refused, 1);
    assert.match(refused.stderr, drop);
  });
});

test("status on a dirty database names the file and statement and prints force commands that work [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({
      ...A,
      "2_idx.up.sql": "CREATE INDEX CONCURRENTLY a_id ON a (id);\nCREATE INDEX CONCURRENTLY a_bad ON a (nope);\n",
      "2_idx.down.sql": "DROP INDEX a_id;\n",
    });
    assertExit(await h.strata(["up"]), 1);
    const out = await h.strata(["status"]);
    assertExit(out, 0);
    assert.match(out.stdout, /^version: 2 \(dirty\)$/m);
    assert.match(out.stdout, /^2 +idx +failed/m);
    assert.match(out.stdout, /^DIRTY at version 2\.$/m);
    assert.match(
      out.stdout,
      /^ {2}2_idx\.up\.sql \(up\) failed at statement 2, outside a transaction: the statements before it stay applied$/m,
    );
    assert.match(out.stdout, /^ {2}error: .*"nope"/m);
    assert.doesNotMatch(out.stdout, /INVALID/, "an unknown column leaves no index behind");
    const complete = new RegExp(
      `changes are all in place: +(strata -database ${h.url.replace(/[.?]/g, "\\$&")} force 2)$`,
      "m",
    );
    const undone = /if none of them are: +(strata .* force 1)$/m;
    assert.match(out.stdout, complete);
    assert.match(out.stdout, undone);
    assertExit(await h.strata(["status", "-exit-code"]), 1);
    const json = JSON.parse((await h.strata(["status", "-json"])).stdout);
    assert.deepEqual(
      [json.dirty.file, json.dirty.transactional, json.dirty.failedStatement, json.dirty.forceIfUndone],
      ["2_idx.up.sql", false, 2, 1],
    );

    // The way out it printed: undo statement 1, run its 'force 1' as printed, fix the file, up.
    await h.query((db) => db.exec("DROP INDEX a_id"));
    const command = undone.exec(out.stdout)![1].split(" ");
    assert.deepEqual(command.slice(0, 3), ["strata", "-database", h.url]);
    assertExit(await runStrata(command.slice(1), h.dir), 0);
    await h.files({ "2_idx.up.sql": "CREATE INDEX CONCURRENTLY a_id ON a (id);\n" });
    assertExit(await h.strata(["up"]), 0);
    assertExit(await h.strata(["status", "-exit-code"]), 0);
  });
});

test('status on a dirty database prints its force commands with a -database whose query holds an @ as given, not as "$DATABASE_URL" [postgres]', async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ "1_a.up.sql": "-- strata:no-transaction\nSELECT 1 / 0;\n" });
    assertExit(await h.strata(["up"]), 1);
    const url = `${h.url}?application_name=ci@runner`;
    const out = await runStrata(["-database", url, "status"], h.dir);
    assertExit(out, 0);
    assert.match(out.stdout, /^DIRTY at version 1\.$/m);
    assert.ok(out.stdout.includes(`strata -database '${url}' force 1`), out.stdout);
    assert.doesNotMatch(out.stdout, /DATABASE_URL/);
    const json = JSON.parse((await runStrata(["-database", url, "-json", "status"], h.dir)).stdout);
    assert.equal(json.database, url);
    assert.equal(json.dirty.commands.ifComplete, `strata -database '${url}' force 1`);
  });
});

test("a failed statement's error that quotes a password URL is stored masked, and status, status -json, validate and the next up show it masked, also from a row stored unmasked [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    const quoted = "postgres://postgres:S3cretPw%40x@127.0.0.1:5432/db";
    await h.files({ "1_a.up.sql": `-- strata:no-transaction\nSELECT '${quoted}'::int;\n` });
    assertExit(await h.strata(["up"]), 1);
    const stored = () =>
      h.query(async (db) =>
        (await db.query<{ error: string }>("SELECT error FROM schema_migrations_history"))[0].error
      );
    assert.equal(
      await stored(),
      'invalid input syntax for type integer: "postgres://postgres:***@127.0.0.1:5432/db"',
    );
    const shownMasked = async () => {
      const status = await h.strata(["status"]);
      assertExit(status, 0);
      assert.match(status.stdout, /^ {2}error: .*"postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/db"$/m);
      const json = JSON.parse((await h.strata(["status", "-json"])).stdout);
      assert.match(json.dirty.error, /"postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/db"/);
      const up = await h.strata(["up"]);
      assertExit(up, 1);
      assert.match(up.stderr, /^hint: 1_a\.up\.sql \(up\) failed at statement 1: .*postgres:\*\*\*@/m);
      const upJson = JSON.parse((await h.strata(["-json", "up"])).stdout);
      assert.equal(upJson.error.code, "DIRTY");
      assert.match(upJson.error.hint, /postgres:\*\*\*@/);
      const outputs = [status, up, await h.strata(["validate"]), await h.strata(["-json", "validate"])];
      const json2 = [JSON.stringify(json), JSON.stringify(upJson)];
      for (const text of [...outputs.map((o) => o.stdout + o.stderr), ...json2]) {
        assert.doesNotMatch(text, /S3cretPw/);
      }
    };
    await shownMasked();
    // A row an older strata wrote keeps the server's text as it was: it is masked when read.
    await h.query((db) => db.exec(`UPDATE schema_migrations_history SET error = 'bad: "${quoted}"'`));
    assert.match(await stored(), /S3cretPw/);
    await shownMasked();
  });
});

test("-track runs Fluxbase's system then user migrations with one log line per track [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.query((db) => db.exec("CREATE SCHEMA migrations"));
    await h.files({
      "1_auth.up.sql": "CREATE TABLE auth_users (id int);\n",
      "2_hooks.up.sql": "CREATE TABLE hooks (id int);\n",
    }, "system");
    await h.files({ "1_products.up.sql": "CREATE TABLE products (id int);\n" }, "user");
    const tracks = [
      "-track",
      'system:system:"migrations"."fluxbase"',
      "-track",
      'user:$DB_USER_MIGRATIONS_PATH:"migrations"."app"',
    ];
    const env = { DB_USER_MIGRATIONS_PATH: join(h.dir, "user") };

    const first = await h.strata(["up", ...tracks], { env });
    assertExit(first, 0);
    const logs = first.stderr.split("\n").filter((line) => /migrations/i.test(line));
    assert.deepEqual(logs, [
      "Running database migrations...",
      `Running system migrations... path=${join(h.dir, "system")}/`,
      "Migrations applied successfully source=system version=2",
      `Running user migrations... path=${join(h.dir, "user")}/`,
      "Migrations applied successfully source=user version=1",
      "Database migrations completed successfully",
    ]);
    assert.match(first.stderr, /^1\/u auth \(/m);
    assert.match(first.stderr, /^1\/u products \(/m);
    const tables = await h.query((db) =>
      db.query<{ t: string }>(
        "SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname IN ('public', 'migrations') ORDER BY 1",
      )
    );
    assert.deepEqual(tables.map((r) => r.t), [
      "migrations.app",
      "migrations.app_history",
      "migrations.fluxbase",
      "migrations.fluxbase_history",
      "public.auth_users",
      "public.hooks",
      "public.products",
    ]);
    const versions = await h.query((db) =>
      db.query(
        "SELECT (SELECT version::text FROM migrations.fluxbase) AS system, (SELECT version::text FROM migrations.app) AS app",
      )
    );
    assert.deepEqual(versions, [{ system: "2", app: "1" }]);

    const second = await h.strata(["up", ...tracks], { env });
    assertExit(second, 0);
    assert.match(second.stderr, /^No new migrations to apply source=system$/m);
    assert.match(second.stderr, /^No new migrations to apply source=user$/m);
    assertExit(await h.strata(["status", "-exit-code", ...tracks], { env }), 0);

    // No DB_USER_MIGRATIONS_PATH: the user track is skipped, as Fluxbase does, and that is not an error.
    await h.files({ "2_orders.up.sql": "CREATE TABLE orders (id int);\n" }, "user");
    const unset = await h.strata(["up", ...tracks], { env: { DB_USER_MIGRATIONS_PATH: undefined } });
    assertExit(unset, 0);
    assert.match(unset.stderr, /^No new migrations to apply source=system$/m);
    assert.match(
      unset.stderr,
      /^Skipping user migrations: \$DB_USER_MIGRATIONS_PATH is empty or not set source=user$/m,
    );
    assert.match(unset.stderr, /^Database migrations completed successfully$/m);
    assert.deepEqual(await h.query((db) => db.query("SELECT to_regclass('public.orders') AS t")), [{ t: null }]);

    // A variable naming a folder that does not exist: the track says so, with a hint for tracks, not -path.
    const wrong = await h.strata(["up", "-json", ...tracks], { env: { DB_USER_MIGRATIONS_PATH: join(h.dir, "nope") } });
    assertExit(wrong, 1);
    const { error } = JSON.parse(wrong.stdout) as {
      error: { code: string; track: string; message: string; hint: string };
    };
    assert.equal(error.code, "SOURCE_NOT_FOUND");
    assert.equal(error.track, "user");
    assert.match(error.message, /^user migrations: Migrations folder not found: /);
    assert.match(error.hint, /names the user track's migrations, or leave the variable empty to skip the track/);

    // A misnamed file is named once, with its track.
    await h.files({ "3-refunds.up.sql": "CREATE TABLE refunds (id int);\n" }, "user");
    const misnamed = await h.strata(["up", ...tracks], { env });
    assertExit(misnamed, 0);
    assert.deepEqual(misnamed.stderr.split("\n").filter((line) => line.includes("3-refunds")), [
      "warning: Ignored 3-refunds.up.sql: the name does not start with VERSION_ (digits then an underscore) source=user",
    ]);
  });
});

test("a dirty track's status and up -track print force commands that act on that track alone, and they run [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.query((db) => db.exec("CREATE SCHEMA migrations"));
    await h.files({ "1_auth.up.sql": "CREATE TABLE auth_users (id int);\n" }, "system");
    await h.files({
      "1_products.up.sql": "CREATE TABLE products (id int);\n",
      "2_category.up.sql":
        "ALTER TABLE products ADD COLUMN category text;\nCREATE INDEX CONCURRENTLY products_category ON products (categroy);\n",
    }, "user");
    const tracks = ["-track", 'system:system:"migrations"."fluxbase"', "-track", 'user:user:"migrations"."app"'];
    const failed = await h.strata(["up", ...tracks]);
    assertExit(failed, 1);
    const url = `${h.url}${h.url.includes("?") ? "&" : "?"}` +
      "x-migrations-table=%22migrations%22.%22app%22&x-migrations-table-quoted=1";
    const force = (version: number) => `strata -path user -database '${url}' force ${version}`;
    // -track takes no force: the commands name the track's folder and table the golang-migrate way.
    assert.match(failed.stderr, /^hint: On the user track alone: /m);
    assert.ok(failed.stderr.includes(`${force(2)} if the changes are all in place, ${force(1)} if none are`));
    const again = await h.strata(["up", ...tracks]);
    assertExit(again, 1);
    assert.match(again.stderr, /^error: user migrations: Dirty database version 2/m);
    assert.ok(again.stderr.includes(force(1)), again.stderr);
    const status = await h.strata(["status", ...tracks]);
    assert.ok(status.stdout.includes(`if none of them are:                                ${force(1)}`), status.stdout);
    assert.doesNotMatch(status.stdout, /-track \.\.\./);
    const json = await h.strata(["status", "-json", ...tracks]);
    const user =
      (JSON.parse(json.stdout) as { tracks: Array<{ name: string; dirty: { commands: { ifUndone: string } } }> })
        .tracks.find((track) => track.name === "user")!;
    assert.equal(user.dirty.commands.ifUndone, force(1));

    // The printed command, run as it reads, clears the user track and leaves the system track alone.
    await h.query((db) => db.exec("ALTER TABLE products DROP COLUMN category"));
    assertExit(await runStrata(["-path", "user", "-database", url, "force", "1"], h.dir), 0);
    const versions = await h.query((db) =>
      db.query(
        "SELECT (SELECT version::text || dirty::text FROM migrations.fluxbase) AS system, " +
          "(SELECT version::text || dirty::text FROM migrations.app) AS app",
      )
    );
    assert.deepEqual(versions, [{ system: "1false", app: "1false" }]);
  });
});

test("-track refuses two tracks with one version table (no TABLE given) before anything runs [postgres]", async (t) => {
  await withHarness(t, "postgres", async (h) => {
    await h.files({ "1_auth.up.sql": "CREATE TABLE auth_users (id int);\n" }, "system");
    await h.files({
      "1_products.up.sql": "CREATE TABLE products (id int);\n",
      "2_orders.up.sql": "CREATE TABLE orders (id int);\n",
    }, "user");
    const tracks = ["-track", "system:system", "-track", "user:user"];
    for (const command of ["up", "status", "validate"]) {
      const run = await h.strata([command, ...tracks]);
      assertExit(run, 2);
      assert.match(
        run.stderr,
        /^error: Tracks system and user both use the version table "public"\."schema_migrations"/m,
      );
      assert.match(run.stderr, /^hint: Give each track its own table .*-track 'user:DIR:"migrations"\."user"'/m);
    }
    const tables = await h.query((db) =>
      db.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'")
    );
    assert.deepEqual(tables, []);
  });
});

/**
 * The audit's reproduction, as golang-migrate's users write it: `x-migrations-table` in the URL
 * with a name the server cuts (63: the history's name was cut to the version table's own; 60:
 * the history was never found; 70: the checks used the name the server does not store).
 */
async function longTableNameRuns(h: Harness, length: number): Promise<void> {
  const url = `${h.url}${h.url.includes("?") ? "&" : "?"}x-migrations-table=${"v".repeat(length)}`;
  const strata = (...args: string[]) => runStrata(["-database", url, ...args], h.dir);
  await h.files({ ...A, ...B });
  const one = await strata("up", "1");
  assertExit(one, 0);
  assert.match(one.stderr, /^1\/u a /m);
  const rest = await strata("up");
  assertExit(rest, 0);
  assert.match(rest.stderr, /^2\/u b /m);
  assert.doesNotMatch(rest.stderr, /without strata/);

  const status = await strata("status");
  assertExit(status, 0);
  assert.doesNotMatch(status.stdout + status.stderr, /outside strata|without strata/);
  const when = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?Z +[0-9.]+(µs|ms|s)`;
  assert.match(status.stdout, new RegExp(`^1 +a +applied +${when}$`, "m"));
  assert.match(status.stdout, new RegExp(`^2 +b +applied +${when}$`, "m"));

  const version = await strata("version");
  assertExit(version, 0);
  assert.equal(version.stdout + version.stderr, "2\n");

  await h.files({ "1_a.up.sql": "CREATE TABLE a (id int, note text);\n", ...C });
  const refused = await strata("up");
  assertExit(refused, 1);
  assert.match(refused.stderr, /changed since applied: 1_a\.up\.sql/);
  const after = await strata("version");
  assert.equal(after.stdout + after.stderr, "2\n", "the refused up changed nothing");
}

for (const length of [60, 63, 70]) {
  test(`a ${length}-character x-migrations-table in the URL: up, status shows strata applied each file, version prints it, a changed file is refused [postgres]`, async (t) => {
    await withHarness(t, "postgres", (h) => longTableNameRuns(h, length));
  });
}

// PGlite's side of long names runs in-process in tests/migrate/history_test.ts (a PGlite
// folder costs seconds per CLI process).

test("status, dry run, up and status -exit-code on a PGlite folder [pglite]", async (t) => {
  await withHarness(t, "pglite", async (h) => {
    await h.files({ ...A, ...E });
    const dry = await h.strata(["up", "-dry-run"]);
    assertExit(dry, 0);
    assert.match(dry.stdout, /Dry run: nothing was changed/);
    assert.equal(await h.query(snapshot), "\nno version table");
    const pending = await h.strata(["status", "-exit-code"]);
    assertExit(pending, 1);
    assert.match(pending.stdout, /^1 +a +pending$/m);
    assert.match(pending.stdout, /^5 +e +pending$/m);
    assertExit(await h.strata(["up"]), 0);
    const done = await h.strata(["status", "-exit-code", "-json"]);
    assertExit(done, 0);
    const doc = JSON.parse(done.stdout);
    assert.deepEqual(doc.migrations.map((m: { state: string }) => m.state), ["applied", "applied"]);
    assert.equal(doc.upToDate, true);
  });
});

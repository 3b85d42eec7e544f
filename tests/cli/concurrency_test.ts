/**
 * The CLI as real processes racing each other, killed, interrupted and locked out: the
 * advisory lock (postgres) and the folder lock (PGlite) make concurrent runs take turns, a
 * killed run leaves the last committed version, and an interrupted one stops cleanly.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import postgres from "postgres";
import type { Database } from "../../lib/db/database.ts";
import { openDatabase } from "../../lib/io/open_database.ts";
import { migrationLockId } from "../../lib/migrate/advisory_lock.ts";
import { tempDir, type TestDatabase, withDatabase } from "../_support/backends.ts";
import { type Finished, runStrata, startStrata, waitFor } from "../_support/run_strata.ts";

/** Polls `check` until it returns true; fails with `what` when `limitMs` pass first (a hang guard, not a speed claim). */
/** Starts `strata up` and returns once it printed the first file's line (killing it if it never does). */
async function upPastTheFirstFile(url: string, dir: string): Promise<ReturnType<typeof startStrata>> {
  const run = startStrata(["-database", url, "up"], dir);
  try {
    await waitFor("the first migration to finish", () => /^1\/u /m.test(run.stderr()));
  } catch (error) {
    run.child.kill("SIGKILL");
    const out = await run.done;
    throw new Error(`${(error as Error).message}; the run ended with ${out.code}:\n${out.stderr}`);
  }
  return run;
}

async function writeMigrations(dir: string, files: Record<string, string>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
}

/** Migration 1 makes `applied_log`; every migration logs its own version there once. */
function loggingMigrations(count: number): Record<string, string> {
  const files: Record<string, string> = {
    "1_applied_log.up.sql":
      "CREATE TABLE applied_log (version int NOT NULL);\nCREATE TABLE t1 (id int);\nINSERT INTO applied_log VALUES (1);\n",
    "1_applied_log.down.sql": "DROP TABLE t1;\nDROP TABLE applied_log;\n",
  };
  for (let n = 2; n <= count; n++) {
    files[`${n}_step${n}.up.sql`] = `CREATE TABLE t${n} (id int);\nINSERT INTO applied_log VALUES (${n});\n`;
    files[`${n}_step${n}.down.sql`] = `DROP TABLE t${n};\n`;
  }
  return files;
}

async function versionRow(db: Database): Promise<{ version: string; dirty: boolean } | undefined> {
  const [exists] = await db.query<{ found: string | null }>(
    "SELECT to_regclass('public.schema_migrations')::text AS found",
  );
  if (exists?.found == null) return undefined;
  const [row] = await db.query<{ version: string; dirty: boolean }>(
    "SELECT version::text AS version, dirty FROM schema_migrations",
  );
  return row;
}

async function tableExists(db: Database, name: string): Promise<boolean> {
  const [row] = await db.query<{ found: string | null }>("SELECT to_regclass($1)::text AS found", [`public.${name}`]);
  return row?.found != null;
}

async function assertAppliedOnce(db: Database, count: number): Promise<void> {
  const rows = await db.query<{ version: number; times: string }>(
    "SELECT version, count(*)::text AS times FROM applied_log GROUP BY version ORDER BY version",
  );
  assert.deepEqual(
    rows.map((r) => [Number(r.version), Number(r.times)]),
    Array.from({ length: count }, (_, i) => [i + 1, 1]),
  );
  assert.deepEqual(await versionRow(db), { version: String(count), dirty: false });
}

/** How many processes printed `N/u` for each version N. */
function upLinesPerVersion(outputs: readonly Finished[], count: number): number[] {
  return Array.from(
    { length: count },
    (_, i) =>
      outputs.reduce(
        (sum, out) => sum + out.stderr.split("\n").filter((line) => line.startsWith(`${i + 1}/u `)).length,
        0,
      ),
  );
}

function describeRuns(outputs: readonly Finished[]): string {
  return outputs.map((o, i) => `process ${i}: exit ${o.code} signal ${o.signal}\n${o.stderr}`).join("\n");
}

async function withFolder(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await tempDir("strata-cli-concurrency-");
  try {
    await fn(dir.path);
  } finally {
    await dir.remove();
  }
}

test("eight CLI processes racing up on one PostgreSQL database apply every migration exactly once", async (t) => {
  await withDatabase(t, "postgres", async (test) => {
    await withFolder(async (dir) => {
      await writeMigrations(join(dir, "migrations"), loggingMigrations(5));
      const outputs = await Promise.all(
        Array.from({ length: 8 }, () => runStrata(["-database", test.url, "-lock-timeout", "60", "up"], dir)),
      );
      assert.deepEqual(outputs.map((o) => o.code), Array(8).fill(0), describeRuns(outputs));
      assert.deepEqual(upLinesPerVersion(outputs, 5), [1, 1, 1, 1, 1], describeRuns(outputs));
      await assertAppliedOnce(test.db, 5);
    });
  });
});

test("three CLI processes racing up on one PGlite folder take turns and apply every migration exactly once", async (t) => {
  await withDatabase(t, "pglite", async (test) => {
    // The test's own handle holds the folder lock: let go of it while the CLI runs.
    await test.db.close();
    await withFolder(async (dir) => {
      await writeMigrations(join(dir, "migrations"), loggingMigrations(5));
      const outputs = await Promise.all(
        Array.from({ length: 3 }, () => runStrata(["-database", test.url, "-lock-timeout", "120", "up"], dir)),
      );
      assert.deepEqual(outputs.map((o) => o.code), [0, 0, 0], describeRuns(outputs));
      assert.deepEqual(upLinesPerVersion(outputs, 5), [1, 1, 1, 1, 1], describeRuns(outputs));
      const { db } = await openDatabase(test.url);
      try {
        await assertAppliedOnce(db, 5);
      } finally {
        await db.close();
      }
    });
  }, { folder: true });
});

test("a run killed with SIGKILL in the middle of a migration leaves the previous version, clean, and the next run finishes", async (t) => {
  await withDatabase(t, "postgres", async (test) => {
    const dbName = new URL(test.url).pathname.slice(1);
    const [server] = await test.db.query<{ num: string }>("SELECT current_setting('server_version_num') AS num");
    if (Number(server.num) < 140000) return t.skip("needs PostgreSQL 14+ for client_connection_check_interval");
    // A backend busy in pg_sleep() notices its client is gone only when it next talks to it;
    // this makes the server check the socket, so the orphan's transaction and advisory lock end
    // soon after the kill instead of after 30 s (without it the next run waits for the lock).
    await test.db.exec(`ALTER DATABASE "${dbName}" SET client_connection_check_interval = '200ms'`);
    await withFolder(async (dir) => {
      const migrations = join(dir, "migrations");
      await writeMigrations(migrations, {
        "1_t1.up.sql": "CREATE TABLE t1 (id int);\n",
        "2_t2.up.sql": "CREATE TABLE t2 (id int);\nSELECT pg_sleep(30);\n",
      });
      const run = startStrata(["-database", test.url, "up"], dir);
      const sleeping = async () => {
        const rows = await test.db.query(
          "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%pg_sleep(30)%'",
          [dbName],
        );
        return rows.length > 0;
      };
      try {
        await waitFor("migration 2's pg_sleep to show in pg_stat_activity", sleeping);
      } catch (error) {
        run.child.kill("SIGKILL");
        const out = await run.done;
        throw new Error(`${(error as Error).message}; the run ended with ${out.code}:\n${out.stderr}`);
      }
      run.child.kill("SIGKILL");
      const killed = await run.done;
      assert.equal(killed.signal, "SIGKILL");
      await waitFor("the killed run's backend to end", async () => !(await sleeping()));

      assert.deepEqual(await versionRow(test.db), { version: "1", dirty: false });
      assert.equal(await tableExists(test.db, "t1"), true);
      assert.equal(await tableExists(test.db, "t2"), false);

      await writeFile(join(migrations, "2_t2.up.sql"), "CREATE TABLE t2 (id int);\n");
      const next = await runStrata(["-database", test.url, "up"], dir);
      assert.equal(next.code, 0, next.stderr);
      assert.match(next.stderr, /^2\/u t2 /m);
      assert.deepEqual(await versionRow(test.db), { version: "2", dirty: false });
      assert.equal(await tableExists(test.db, "t2"), true);
    });
  });
});

test("up fails with a lock timeout that says so while another session holds golang-migrate's advisory lock, also through a pgx5:// URL", async (t) => {
  await withDatabase(t, "postgres", async (test) => {
    await withFolder(async (dir) => {
      await writeMigrations(join(dir, "migrations"), { "1_t1.up.sql": "CREATE TABLE t1 (id int);\n" });
      const dbName = new URL(test.url).pathname.slice(1);
      const id = migrationLockId("public", "schema_migrations", `/${dbName}`);
      const holder = postgres(test.url, { max: 1, onnotice: () => {} });
      try {
        const [held] = await holder`SELECT pg_try_advisory_lock(${id.toString()}::bigint) AS locked`;
        assert.equal(held.locked, true);

        // golang-migrate's pgx driver URL names the same database, table and lock.
        // Its x-no-lock is ignored, and says so: strata still waits for the lock.
        const pgx5 = test.url.replace(/^postgres(ql)?:/, "pgx5:");
        for (const url of [test.url, `${pgx5}${pgx5.includes("?") ? "&" : "?"}x-no-lock=true`]) {
          const blocked = await runStrata(["-database", url, "-lock-timeout", "2", "up"], dir);
          assert.equal(blocked.code, 1, blocked.stderr);
          assert.match(blocked.stderr, /^error: timeout: can't acquire database lock/m);
          assert.equal(/^warning: ignored x-no-lock: /m.test(blocked.stderr), url !== test.url, blocked.stderr);
        }
        assert.equal(await versionRow(test.db), undefined);
        assert.equal(await tableExists(test.db, "t1"), false);

        const [released] = await holder`SELECT pg_advisory_unlock(${id.toString()}::bigint) AS unlocked`;
        assert.equal(released.unlocked, true);
      } finally {
        await holder.end({ timeout: 1 });
      }
      const after = await runStrata([
        "-database",
        test.url.replace(/^postgres(ql)?:/, "pgx:"),
        "-lock-timeout",
        "2",
        "up",
      ], dir);
      assert.equal(after.code, 0, after.stderr);
      assert.deepEqual(await versionRow(test.db), { version: "1", dirty: false });
    });
  });
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(`${signal} during a run of slow migrations finishes the running one and stops at a clean version`, async (t) => {
    await withDatabase(t, "postgres", async (test: TestDatabase) => {
      await withFolder(async (dir) => {
        const files: Record<string, string> = {};
        for (let n = 1; n <= 5; n++) {
          files[`${n}_slow${n}.up.sql`] = `CREATE TABLE m${n} (id int);\nSELECT pg_sleep(1);\n`;
        }
        await writeMigrations(join(dir, "migrations"), files);
        const run = await upPastTheFirstFile(test.url, dir);
        run.child.kill(signal);
        const out = await run.done;
        assert.notEqual(out.code, 0, out.stderr);
        assert.match(out.stderr, signal === "SIGINT" ? /Interrupted \(Ctrl-C\)/ : /Interrupted \(SIGTERM\)/);

        const row = await versionRow(test.db);
        assert.ok(row, `no version after the interrupted run:\n${out.stderr}`);
        assert.equal(row.dirty, false);
        const version = Number(row.version);
        assert.ok(
          version >= 1 && version < 5,
          `expected the run to stop before version 5, got ${version}:\n${out.stderr}`,
        );
        for (let n = 1; n <= 5; n++) {
          assert.equal(await tableExists(test.db, `m${n}`), n <= version, `table m${n} at version ${version}`);
        }
        const printed = out.stderr.split("\n").filter((line) => /^\d+\/u /.test(line)).length;
        assert.equal(printed, version, out.stderr);
      });
    });
  });
}

test("SIGTERM during a slow file on a PGlite folder (the database runs in the process) finishes it and stops before the next [pglite]", async (t) => {
  await withDatabase(t, "pglite", async (test: TestDatabase) => {
    await test.db.close();
    await withFolder(async (dir) => {
      await writeMigrations(join(dir, "migrations"), {
        "1_a.up.sql": "CREATE TABLE a (id int);\n",
        "2_slow.up.sql": "CREATE TABLE m2 (id int);\nSELECT pg_sleep(3);\n",
        "3_after.up.sql": "CREATE TABLE m3 (id int);\n",
      });
      const run = await upPastTheFirstFile(test.url, dir);
      await new Promise((resolve) => setTimeout(resolve, 500));
      run.child.kill("SIGTERM");
      const out = await run.done;
      assert.equal(out.code, 1, out.stderr);
      assert.match(out.stderr, /Interrupted \(SIGTERM\)/);
      assert.match(out.stderr, /^2\/u slow /m);
      assert.match(out.stderr, /^error: Interrupted: stopped at version 2, 1 migration\(s\) not run$/m);
      const { db } = await openDatabase(test.url);
      try {
        assert.deepEqual(await versionRow(db), { version: "2", dirty: false });
        assert.equal(await tableExists(db, "m3"), false);
      } finally {
        await db.close();
      }
    });
  }, { folder: true });
});

test("a second SIGTERM during a file outside a transaction exits 143 saying what that leaves, and status names the file", async (t) => {
  await withDatabase(t, "postgres", async (test: TestDatabase) => {
    await withFolder(async (dir) => {
      await writeMigrations(join(dir, "migrations"), {
        "1_a.up.sql": "CREATE TABLE a (id int);\n",
        "2_b.up.sql": "-- strata:no-transaction\nCREATE TABLE b (id int);\nSELECT pg_sleep(20) AS twice_marker;\n",
      });
      const run = startStrata(["-database", test.url, "up"], dir);
      const dbName = new URL(test.url).pathname.slice(1);
      try {
        await waitFor("migration 2's pg_sleep", async () =>
          (await test.db.query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND query LIKE '%twice_marker%'",
            [dbName],
          )).length > 0);
      } catch (error) {
        run.child.kill("SIGKILL");
        throw error;
      }
      run.child.kill("SIGTERM");
      await waitFor("the first signal's message", () => /Interrupted \(SIGTERM\)/.test(run.stderr()));
      run.child.kill("SIGTERM");
      const out = await run.done;
      assert.equal(out.code, 143, out.stderr);
      assert.match(
        out.stderr,
        /^Aborted \(SIGTERM again\) during 2_b\.up\.sql, which runs outside a transaction: the statements it ran stay applied and version 2 stays dirty/m,
      );
      const status = await runStrata(["-database", test.url, "status"], dir);
      assert.match(status.stdout, /2_b\.up\.sql \(up\) was started by strata at .* and has recorded no end/);
    });
  });
});

test("a second SIGINT during a file in a transaction exits 130 naming it, rolled back, the database at the version before", async (t) => {
  await withDatabase(t, "postgres", async (test: TestDatabase) => {
    await withFolder(async (dir) => {
      await writeMigrations(join(dir, "migrations"), {
        "1_a.up.sql": "CREATE TABLE a (id int);\n",
        "2_b.up.sql": "CREATE TABLE b (id int);\nSELECT pg_sleep(20) AS rollback_marker;\n",
      });
      const run = startStrata(["-database", test.url, "up"], dir);
      const dbName = new URL(test.url).pathname.slice(1);
      const sleeping = async () =>
        (await test.db.query(
          "SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND query LIKE '%rollback_marker%'",
          [dbName],
        )).length > 0;
      try {
        await waitFor("migration 2's pg_sleep", sleeping);
      } catch (error) {
        run.child.kill("SIGKILL");
        throw error;
      }
      run.child.kill("SIGINT");
      await waitFor("the first signal's message", () => /Interrupted \(Ctrl-C\)/.test(run.stderr()));
      run.child.kill("SIGINT");
      const out = await run.done;
      assert.equal(out.code, 130, out.stderr);
      assert.match(
        out.stderr,
        /^Aborted \(Ctrl-C again\) during 2_b\.up\.sql, which runs in a transaction: the server rolls it back, so the database stays at version 1$/m,
      );
      // The server ends the session when its sleep is over and finds the client gone.
      await test.db.exec(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%rollback_marker%' AND pid <> pg_backend_pid()",
      );
      await waitFor("the aborted session to end", async () => !(await sleeping()));
      assert.deepEqual(await versionRow(test.db), { version: "1", dirty: false });
      assert.equal(await tableExists(test.db, "b"), false);
    });
  });
});

test("a run whose server connection is terminated mid-file exits 1 with CONNECTION_LOST and where the database stands, not silently", async (t) => {
  await withDatabase(t, "postgres", async (test) => {
    const dbName = new URL(test.url).pathname.slice(1);
    await withFolder(async (dir) => {
      const migrations = join(dir, "migrations");
      await writeMigrations(migrations, {
        "1_t1.up.sql": "CREATE TABLE t1 (id int);\n",
        "2_t2.up.sql": "-- strata:no-transaction\nCREATE TABLE t2 (id int);\nSELECT pg_sleep(30) AS lost_marker;\n",
      });
      const run = startStrata(["-database", test.url, "up"], dir);
      const backend = async () =>
        (await test.db.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND query LIKE '%lost_marker%'",
          [dbName],
        ))[0]?.pid;
      try {
        await waitFor(
          "migration 2's pg_sleep to show in pg_stat_activity",
          async () => (await backend()) !== undefined,
        );
      } catch (error) {
        run.child.kill("SIGKILL");
        throw error;
      }
      await test.db.query("SELECT pg_terminate_backend($1)", [await backend()]);
      const out = await run.done;
      assert.equal(out.code, 1, out.stderr);
      assert.match(
        out.stderr,
        /error: The connection to the server was lost while 2_t2\.up\.sql ran outside a transaction, at statement 2 \(line 3\)/,
      );
      assert.match(out.stderr, /statement 1 completed; statement 2 may or may not have; version 2 is marked dirty/);
      assert.deepEqual(await versionRow(test.db), { version: "2", dirty: true });

      const status = await runStrata(["-database", test.url, "status"], dir);
      assert.match(
        status.stderr + status.stdout,
        /2_t2\.up\.sql \(up\) was started by strata at .* and has recorded no end: its process was killed or lost its connection/,
      );
    });
  });
});

test("a run whose connection is terminated while it waits for the migration lock exits 1 with CONNECTION_LOST, nothing changed", async (t) => {
  await withDatabase(t, "postgres", async (test) => {
    await withFolder(async (dir) => {
      await writeMigrations(join(dir, "migrations"), { "1_t1.up.sql": "CREATE TABLE t1 (id int);\n" });
      const dbName = new URL(test.url).pathname.slice(1);
      const id = migrationLockId("public", "schema_migrations", `/${dbName}`);
      const holder = postgres(test.url, { max: 1, onnotice: () => {} });
      try {
        const [held] = await holder`SELECT pg_try_advisory_lock(${id.toString()}::bigint) AS locked`;
        assert.equal(held.locked, true);
        const run = startStrata(["-database", test.url, "-lock-timeout", "60", "up"], dir);
        const waiter = async () =>
          (await test.db.query<{ pid: number }>(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_try_advisory_lock%' AND pid <> pg_backend_pid() AND pid <> $2",
            [dbName, (await holder`SELECT pg_backend_pid() AS pid`)[0].pid],
          ))[0]?.pid;
        try {
          // A few polls in: the waiter has reached its longest pause between them.
          await waitFor("strata to wait for the lock", async () => (await waiter()) !== undefined);
          await new Promise((resolve) => setTimeout(resolve, 2500));
        } catch (error) {
          run.child.kill("SIGKILL");
          throw error;
        }
        await test.db.query("SELECT pg_terminate_backend($1)", [await waiter()]);
        const out = await run.done;
        assert.equal(out.code, 1, out.stderr);
        assert.doesNotMatch(out.stderr, /TypeError/);
        assert.match(out.stderr, /error: The connection to the server was lost before the migration lock was taken/);
        assert.match(out.stderr, /hint: Nothing was changed/);
        assert.equal(await versionRow(test.db), undefined);
        assert.equal(await tableExists(test.db, "t1"), false);
      } finally {
        await holder.end({ timeout: 1 });
      }
    });
  });
});

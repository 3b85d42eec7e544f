/**
 * backup, restore and deploy as real processes: the CLI, its pg_dump / pg_restore / psql
 * children (their argv read from /proc while they run), the files on disk, exit codes and
 * output. The password cases run on a private SCRAM cluster, so the password is real; the
 * rest on the test server.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { appendFile, chmod, copyFile, mkdir, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import process from "node:process";
import postgres from "postgres";
import type { Database } from "../../lib/db/database.ts";
import { parseDatabaseUrl } from "../../lib/db/database_url.ts";
import { backupDatabase } from "../../lib/io/backup.ts";
import { openDatabase } from "../../lib/io/open_database.ts";
import {
  APP_MIGRATIONS,
  APPLIED_FIVE,
  appRows,
  copyMigrationsWith,
  FAILING_IN_TRANSACTION,
  FAILING_OUTSIDE_TRANSACTION,
  populateApp,
} from "../_support/app_fixture.ts";
import { tempDir, withDatabase } from "../_support/backends.ts";
import {
  alive,
  assertExit,
  type Finished,
  MOD,
  runProcess,
  runStrata,
  startStrata,
  TSX,
  waitFor,
} from "../_support/run_strata.ts";
import { type ScramCluster, scramClusterUnavailable, startScramCluster } from "../_support/scram_cluster.ts";

const PASSWORD = "Backup-Pa55-q9z";
const CLIENT_PROGRAM = /^(pg_dump|pg_restore|psql)$/;

let cluster: ScramCluster | undefined;
let unavailable: string | undefined;

before(async () => {
  unavailable = await scramClusterUnavailable();
  if (unavailable !== undefined) return;
  cluster = await startScramCluster({ password: PASSWORD, prefix: "strata-backup-cli-" });
});

after(async () => {
  await cluster?.stop();
});

async function publicTables(db: Database): Promise<string[]> {
  const found = await db.query<{ name: string }>(
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
  );
  return found.map((r) => r.name);
}

/** The backup files in a folder (not their .json / .sha256), newest last. */
async function backupsIn(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => /^backup_\d{8}_\d{6}_.+\.(sql|dump|dir)$/.test(name)).sort();
}

function parseJson(out: Finished): { error?: { code: string; message: string } } & Record<string, unknown> {
  return JSON.parse(out.stdout) as { error?: { code: string; message: string } };
}

// --- children of a running CLI, from /proc --------------------------------------------------

/** The argv of every process below `root`, as /proc lists them now. */
function descendants(root: number): Array<{ pid: number; argv: string[] }> {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, "utf8");
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
      parents.set(Number(name), Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone already
    }
  }
  const found: Array<{ pid: number; argv: string[] }> = [];
  for (const pid of parents.keys()) {
    let parent = parents.get(pid);
    while (parent !== undefined && parent !== root && parent > 1) parent = parents.get(parent);
    if (parent !== root) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((s) => s !== "");
      if (argv.length > 0) found.push({ pid, argv });
    } catch {
      // gone already
    }
  }
  return found;
}

/**
 * Runs the CLI while a second session holds an ACCESS EXCLUSIVE lock on `organisations`, so
 * the pg_dump / pg_restore / psql it starts waits on the lock; polls /proc for every process
 * below the CLI and lets the lock go once a client program (past Debian's perl wrapper) has
 * been seen. Returns the CLI's output and every argv seen.
 */
async function runWhileBlocked(
  lockUrl: string,
  args: readonly string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<{ out: Finished; argvs: string[][] }> {
  const sql = postgres(lockUrl, { max: 1, onnotice: () => {} });
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = sql.begin(async (tx) => {
    await tx`LOCK TABLE organisations IN ACCESS EXCLUSIVE MODE`;
    locked();
    await released;
  });
  const argvs: string[][] = [];
  let timer: ReturnType<typeof setInterval> | undefined;
  const safety = setTimeout(() => release(), 20_000);
  try {
    await isLocked;
    const running = startStrata(args, cwd, { env });
    const root = running.child.pid!;
    timer = setInterval(() => {
      for (const { argv } of descendants(root)) {
        if (!argvs.some((seen) => seen.join("\0") === argv.join("\0"))) argvs.push(argv);
        if (CLIENT_PROGRAM.test(basename(argv[0]))) release();
      }
    }, 5);
    const out = await running.done;
    return { out, argvs };
  } finally {
    clearInterval(timer);
    clearTimeout(safety);
    release();
    await holder.catch(() => {});
    await sql.end({ timeout: 1 });
  }
}

/** The client programs that connected, among what was seen (not the perl wrapper, not `--version` or `--list`). */
function programsIn(argvs: string[][]): string[] {
  return argvs.filter((argv) => !argv.includes("--version") && !argv.includes("--list")).map((argv) =>
    basename(argv[0])
  ).filter((name) => CLIENT_PROGRAM.test(name));
}

// --- the password ---------------------------------------------------------------------------

test("[scram] backup and restore with a password URL: pg_dump, pg_restore and psql never get it in argv; no output or file shows it", async (t) => {
  if (!cluster) return t.skip(unavailable ?? "no private cluster");
  const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
  await admin.unsafe("CREATE DATABASE backup_cli");
  const url = cluster.url(PASSWORD, "backup_cli");
  const work = await tempDir("strata-backup-cli-");
  try {
    const { db } = await openDatabase(url);
    try {
      await populateApp(db);
    } finally {
      await db.close();
    }
    const out = join(work.path, "backups");
    const seen: string[][] = [];
    const outputs: string[] = [];
    const paths: string[] = [];
    // The URL goes in DATABASE_URL: a child seen between fork and exec still shows the CLI's own argv.
    const env = { DATABASE_URL: url };
    for (const format of ["plain", "custom"]) {
      const backup = await runWhileBlocked(url, ["backup", "-format", format, "-out", out], work.path, env);
      assertExit(backup.out, 0);
      assert.deepEqual(programsIn(backup.argvs), ["pg_dump"], JSON.stringify(backup.argvs));
      seen.push(...backup.argvs);
      outputs.push(backup.out.stdout, backup.out.stderr);
      paths.push(backup.out.stdout.trim());
    }
    for (const [path, program] of [[paths[0], "psql"], [paths[1], "pg_restore"]]) {
      const restore = await runWhileBlocked(url, ["restore", path, "-yes", "-clean"], work.path, env);
      assertExit(restore.out, 0);
      assert.deepEqual(programsIn(restore.argvs), [program], JSON.stringify(restore.argvs));
      seen.push(...restore.argvs);
      outputs.push(restore.out.stdout, restore.out.stderr);
    }
    assert.deepEqual(programsIn(seen).sort(), ["pg_dump", "pg_dump", "pg_restore", "psql"]);
    for (const argv of seen) assert.ok(!argv.join(" ").includes(PASSWORD), `password in argv: ${argv.join(" ")}`);
    for (const text of outputs) assert.ok(!text.includes(PASSWORD), `password printed:\n${text}`);
    for (const name of await readdir(out)) {
      const info = await stat(join(out, name));
      if (info.isFile()) assert.ok(!(await readFile(join(out, name), "utf8")).includes(PASSWORD), `${name} holds it`);
    }
    const manifest = JSON.parse(await readFile(`${paths[1]}.json`, "utf8")) as { database: string };
    assert.equal(manifest.database, cluster.url("***", "backup_cli"));
    const { db: check } = await openDatabase(url);
    try {
      const [{ n }] = await check.query<{ n: number }>("SELECT count(*)::int AS n FROM organisations");
      assert.equal(n, 2);
    } finally {
      await check.close();
    }
  } finally {
    await work.remove();
    await admin.unsafe("DROP DATABASE IF EXISTS backup_cli WITH (FORCE)");
    await admin.end({ timeout: 1 });
  }
});

/** A `strata` on PATH that runs this checkout, so a printed command can be run as printed. */
async function strataShim(dir: string): Promise<string> {
  const bin = join(dir, "bin");
  await mkdir(bin, { recursive: true });
  await writeFile(
    join(bin, "strata"),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} --import ${JSON.stringify(TSX)} ${JSON.stringify(MOD)} "$@"\n`,
  );
  await chmod(join(bin, "strata"), 0o755);
  return bin;
}

/** Runs a printed shell command with the shim first on PATH. */
function runShell(command: string, cwd: string, bin: string, env: Record<string, string> = {}): Promise<Finished> {
  return runProcess("sh", ["-c", command], cwd, { env: { ...env, PATH: `${bin}:${process.env.PATH}` } });
}

/** A copy of migrations/ plus extra files, in dir/migrations. */
async function migrationsWith(dir: string, extra: Record<string, string>): Promise<string> {
  const path = join(dir, "migrations");
  await copyMigrationsWith(path, extra);
  return path;
}

/** The command deploy printed to put the database back. */
function printedRestore(stderr: string): string {
  const match =
    /to put the database back as it was(?: instead)? \(empties the current schema and restores the backup, in one transaction\):\n {2}(.+)\n/
      .exec(stderr);
  assert.ok(match, `no restore command in:\n${stderr}`);
  return match[1];
}

test("[scram] a failed deploy with a password URL prints a restore command that names $DATABASE_URL, not the password, says to set it, and it works", async (t) => {
  if (!cluster) return t.skip(unavailable ?? "no private cluster");
  const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
  await admin.unsafe("CREATE DATABASE deploy_cli");
  const url = cluster.url(PASSWORD, "deploy_cli");
  const work = await tempDir("strata-backup-cli-");
  try {
    const { db } = await openDatabase(url);
    try {
      await populateApp(db);
      const before = await appRows(db);
      const path = await migrationsWith(work.path, { ...APPLIED_FIVE, "000006_break.up.sql": FAILING_IN_TRANSACTION });
      const out = await runStrata(
        ["-path", path, "-database", url, "deploy", "-out", join(work.path, "backups")],
        work.path,
      );
      assertExit(out, 1);
      assert.ok(!(out.stdout + out.stderr).includes(PASSWORD), out.stderr);
      const command = printedRestore(out.stderr);
      const [backup] = await backupsIn(join(work.path, "backups"));
      const strata = `strata -path ${path} -database "$DATABASE_URL"`;
      assert.equal(command, `${strata} restore ${join(work.path, "backups", backup)} -yes -replace`);
      assert.match(out.stderr, /set DATABASE_URL to the URL you passed with -database/);

      await db.exec("DELETE FROM users");
      const restored = await runShell(command, work.path, await strataShim(work.path), { DATABASE_URL: url });
      assertExit(restored, 0);
      assert.ok(!(restored.stdout + restored.stderr).includes(PASSWORD), restored.stderr);
      assert.deepEqual(await appRows(db), before);
      assert.ok(!(await publicTables(db)).includes("deploy_applied"), "migration 5's table went with the restore");
    } finally {
      await db.close();
    }
  } finally {
    await work.remove();
    await admin.unsafe("DROP DATABASE IF EXISTS deploy_cli WITH (FORCE)");
    await admin.end({ timeout: 1 });
  }
});

// --- the test server ------------------------------------------------------------------------

test("[postgres] a directory backup with -jobs 2: named by UTC time and database, 0700 folder of 0600 files, manifest, no partial", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const out = await runStrata(
        ["-database", source.url, "backup", "-format", "directory", "-jobs", "2", "-out", "backups"],
        work.path,
      );
      assertExit(out, 0);
      const dbName = new URL(source.url).pathname.slice(1);
      const path = out.stdout.trim();
      const name = basename(path);
      assert.equal(path, join(work.path, "backups", name));
      assert.match(name, new RegExp(`^backup_\\d{8}_\\d{6}_${dbName}\\.dir$`));
      assert.deepEqual((await readdir(join(work.path, "backups"))).sort(), [name, `${name}.json`, `${name}.sha256`]);
      assert.equal((await stat(path)).mode & 0o777, 0o700);
      for (const inner of await readdir(path)) assert.equal((await stat(join(path, inner))).mode & 0o777, 0o600, inner);
      for (const suffix of [".json", ".sha256"]) assert.equal((await stat(path + suffix)).mode & 0o777, 0o600);
      const manifest = JSON.parse(await readFile(`${path}.json`, "utf8")) as Record<string, unknown>;
      assert.equal(manifest.format, "directory");
      assert.equal(manifest.databaseName, dbName);
      assert.deepEqual(manifest.migrationVersion, { version: "4", dirty: false });
      assert.match(String(manifest.dumpedWith), /^pg_dump \d+/);
      // createdAt (what -keep orders by) is the time in the name, to the second.
      const stamped = name.slice("backup_".length, "backup_".length + 15);
      assert.equal(String(manifest.createdAt).slice(0, 19).replace(/[-:]/g, "").replace("T", "_"), stamped);
      assert.match(out.stderr, /at migration version 4/);
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] backup records the version from the URL's x-migrations-table, and -json gives it as a number", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    const custom = `${source.url}${source.url.includes("?") ? "&" : "?"}x-migrations-table=app_versions`;
    const work = await tempDir("strata-backup-cli-");
    try {
      assertExit(await runStrata(["-path", APP_MIGRATIONS, "-database", custom, "up", "3"], work.path), 0);
      const out = await runStrata(["-database", custom, "backup", "-out", "backups", "-json"], work.path);
      assertExit(out, 0);
      const printed = JSON.parse(out.stdout) as { path: string; migrationVersion: unknown };
      assert.deepEqual(printed.migrationVersion, { version: 3, dirty: false });
      const manifest = JSON.parse(await readFile(`${printed.path}.json`, "utf8")) as Record<string, unknown>;
      assert.deepEqual(manifest.migrationVersion, { version: "3", dirty: false }, "the manifest keeps it bigint-safe");
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] restore refuses a database that has tables without -yes (no terminal): exit 1, unchanged; -yes -clean restores over it, -yes -replace empties the schema first", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const before = await appRows(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const backup = await runStrata(["-database", source.url, "backup", "-out", "backups"], work.path);
      assertExit(backup, 0);
      const path = backup.stdout.trim();
      assert.match(basename(path), /^backup_\d{8}_\d{6}_.+\.dump$/);
      await source.db.exec("INSERT INTO organisations (slug, name) VALUES ('extra', 'Extra'); DELETE FROM sources");
      const changed = await appRows(source.db);

      const refused = await runStrata(["-database", source.url, "restore", path], work.path);
      assertExit(refused, 1);
      assert.match(refused.stderr, /already has \d+ table\(s\)/);
      assert.match(refused.stderr, /-yes/);
      assert.deepEqual(await appRows(source.db), changed);

      await source.db.exec("CREATE TABLE made_later (id int)");
      const cleaned = await runStrata(["-database", source.url, "restore", path, "-yes", "-clean"], work.path);
      assertExit(cleaned, 0);
      assert.match(cleaned.stderr, /^Restored /m);
      assert.deepEqual(await appRows(source.db), before);
      assert.ok((await publicTables(source.db)).includes("made_later"), "-clean drops only what the backup recreates");

      const replaced = await runStrata(["-database", source.url, "restore", path, "-yes", "-replace"], work.path);
      assertExit(replaced, 0);
      assert.match(
        replaced.stderr,
        /^Restored .+, after dropping the \d+ object\(s\) of the current schema in the same transaction in /m,
      );
      assert.deepEqual(await appRows(source.db), before);
      assert.ok(!(await publicTables(source.db)).includes("made_later"));
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] restore waits for the migration lock: started while up runs a file outside a transaction, it runs after that up, so the version table and the tables agree", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const backup = await backupDatabase(source.db, parseDatabaseUrl(source.url), { out: work.path });
      const migrations = join(work.path, "migrations");
      await copyMigrationsWith(migrations, {
        "5_slow.up.sql": "-- strata:no-transaction\nCREATE TABLE slow_made (id int);\nSELECT pg_sleep(3);\n",
        "5_slow.down.sql": "DROP TABLE slow_made;\n",
      });
      const up = startStrata(["-database", source.url, "-path", migrations, "up"], work.path);
      await waitFor("up to be in its sleep", async () =>
        (await source.db.query(
          "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()",
        )).length > 0);
      const restore = startStrata(
        ["-database", source.url, "-path", migrations, "restore", backup.path, "-yes", "-replace"],
        work.path,
      );
      const [upDone, restoreDone] = await Promise.all([up.done, restore.done]);
      assertExit(upDone, 0);
      assertExit(restoreDone, 0);
      assert.match(restoreDone.stderr, /^Restored /m);
      // The restore came last: the backup's version 4 with the backup's tables; before, it
      // ran during the sleep and up then recorded version 5 over a database without slow_made.
      const [version] = await source.db.query<{ version: string; dirty: boolean }>(
        "SELECT version::text AS version, dirty FROM schema_migrations",
      );
      assert.deepEqual(version, { version: "4", dirty: false });
      assert.ok(!(await publicTables(source.db)).includes("slow_made"));

      // Held past -lock-timeout (up runs 5 again): LOCK_TIMEOUT, and nothing restored.
      const again = startStrata(["-database", source.url, "-path", migrations, "up"], work.path);
      await waitFor("the second up to be in its sleep", async () =>
        (await source.db.query(
          "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(3)%' AND pid <> pg_backend_pid()",
        )).length > 0);
      const timedOut = await runStrata(
        ["-json", "-database", source.url, "-lock-timeout", "1", "restore", backup.path, "-yes", "-replace"],
        work.path,
      );
      assertExit(timedOut, 1);
      assert.equal(parseJson(timedOut).error?.code, "LOCK_TIMEOUT");
      assertExit(await again.done, 0);
      assert.ok((await publicTables(source.db)).includes("slow_made"), "nothing was restored");
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] restore of a backup with one byte appended exits 1 with BACKUP_CORRUPT and leaves the target alone", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const backup = await backupDatabase(source.db, parseDatabaseUrl(source.url), { out: work.path });
      await appendFile(backup.path, "x");
      await source.db.exec("INSERT INTO organisations (slug, name) VALUES ('extra', 'Extra')");
      const changed = await appRows(source.db);
      const out = await runStrata(
        ["-json", "-database", source.url, "restore", backup.path, "-yes", "-clean"],
        work.path,
      );
      assertExit(out, 1);
      assert.equal(parseJson(out).error?.code, "BACKUP_CORRUPT");
      assert.deepEqual(await appRows(source.db), changed);
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] restore of a plain dump with no checksum that is cut off or empty exits 1 with BACKUP_CORRUPT, even with -replace, and changes nothing; the whole file restores", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const backup = await backupDatabase(source.db, parseDatabaseUrl(source.url), { out: work.path, format: "plain" });
      const whole = await readFile(backup.path);
      // Copies without strata's .sha256 and manifest, as a hand-copied or hand-made dump is.
      const cut = join(work.path, "cut.sql");
      await writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
      const empty = join(work.path, "empty.sql");
      await writeFile(empty, "");
      await source.db.exec("INSERT INTO organisations (slug, name) VALUES ('extra', 'Extra')");
      const changed = await appRows(source.db);
      for (const file of [cut, empty]) {
        const out = await runStrata(["-database", source.url, "restore", file, "-yes", "-replace"], work.path);
        assertExit(out, 1);
        assert.match(
          out.stderr,
          /does not end as pg_dump ends a plain dump .* may be cut off or empty\. Nothing was restored/,
        );
        assert.match(out.stderr, /hint: .*psql -1 -f FILE/);
        assert.deepEqual(await appRows(source.db), changed, `${basename(file)} changed nothing`);
      }
      const bare = join(work.path, "bare.sql");
      await writeFile(bare, whole);
      const restored = await runStrata(["-database", source.url, "restore", bare, "-yes", "-replace"], work.path);
      assertExit(restored, 0);
      assert.match(restored.stderr, /warning: .*has no recorded checksum/);
      assert.notDeepEqual(await appRows(source.db), changed);
    } finally {
      await work.remove();
    }
  });
});

test("[pglite] restore of a SQL file that is not a dump names a migration, not psql, as the way to run it on the embedded database", async () => {
  const work = await tempDir("strata-backup-cli-");
  try {
    await writeFile(join(work.path, "changes.sql"), "CREATE TABLE notes (id int);\n");
    const out = await runStrata(["-database", "pglite://./db", "restore", "changes.sql", "-yes"], work.path);
    assertExit(out, 1);
    assert.match(out.stderr, /does not end as pg_dump ends a plain dump/);
    assert.match(out.stderr, /hint: .*make it a migration \(create NAME, paste it into the \.up\.sql, then up\)/);
    assert.doesNotMatch(out.stderr, /psql/);
  } finally {
    await work.remove();
  }
});

test("[postgres] restore says the migration version the database is at afterwards, and notes a backup of another database", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const made = await runStrata(["-database", source.url, "backup", "-out", "backups"], work.path);
      assertExit(made, 0);
      const path = made.stdout.trim();
      const same = await runStrata(["-database", source.url, "restore", path, "-yes", "-replace"], work.path);
      assertExit(same, 0);
      assert.match(same.stderr, /^Restored .* in .*; it is at migration version 4$/m);
      assert.doesNotMatch(same.stderr, /another database/);
      await withDatabase(t, "postgres", async (target) => {
        const other = await runStrata(["-database", target.url, "restore", path], work.path);
        assertExit(other, 0);
        assert.match(
          other.stderr,
          new RegExp(
            `^note: .* is a backup of .*/${
              basename(new URL(source.url).pathname)
            } \\(taken .*\\), another database than `,
            "m",
          ),
        );
        assert.match(other.stderr, /; it is at migration version 4$/m);
        const json = JSON.parse(
          (await runStrata(["-json", "-database", target.url, "restore", path, "-yes", "-replace"], work.path)).stdout,
        );
        assert.equal(json.sameDatabase, false, JSON.stringify(json));
        assert.deepEqual(json.migrationVersion, { version: 4, dirty: false });
        assert.equal(json.backupOf.migrationVersion.version, "4");
      });
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] restore -clean stopped by a table the backup does not have (a foreign key to a restored table) says -replace, not -clean again, and changes nothing", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const backup = await backupDatabase(source.db, parseDatabaseUrl(source.url), { out: work.path });
      await source.db.exec("CREATE TABLE made_later (organisation_id bigint REFERENCES organisations (id))");
      const before = await appRows(source.db);
      const out = await runStrata(["-database", source.url, "restore", backup.path, "-yes", "-clean"], work.path);
      assertExit(out, 1);
      assert.match(out.stderr, /^error: pg_restore failed, so nothing was restored/m);
      assert.match(out.stderr, /^hint: .*-replace empties the current schema first/m);
      assert.doesNotMatch(out.stderr, /Add -clean/);
      assert.deepEqual(await appRows(source.db), before);
      assert.ok((await publicTables(source.db)).includes("made_later"));
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] a custom restore without -clean over a conflicting table exits 1 with RESTORE_FAILED and changes nothing", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const backup = await backupDatabase(source.db, parseDatabaseUrl(source.url), {
        out: work.path,
        format: "custom",
      });
      await withDatabase(t, "postgres", async (target) => {
        await target.db.exec(
          "CREATE TABLE organisations (id int PRIMARY KEY, label text); INSERT INTO organisations VALUES (1, 'mine')",
        );
        const out = await runStrata(["-json", "-database", target.url, "restore", backup.path, "-yes"], work.path);
        assertExit(out, 1);
        assert.equal(parseJson(out).error?.code, "RESTORE_FAILED");
        assert.doesNotMatch(out.stdout, /not verified/, "a verified backup's failure is not blamed on the file");
        assert.deepEqual(await target.db.query("SELECT id, label FROM organisations"), [{ id: 1, label: "mine" }]);
        assert.deepEqual(await publicTables(target.db), ["organisations"]);
        // The same dump without strata's .sha256 and manifest: the failure says it was not verified.
        const bare = join(work.path, "bare.dump");
        await copyFile(backup.path, bare);
        const unverified = await runStrata(["-database", target.url, "restore", bare, "-yes"], work.path);
        assertExit(unverified, 1);
        assert.match(
          unverified.stderr,
          /hint: bare\.dump has no recorded checksum \(not written by strata backup\), so it was not verified: a damaged or cut-off file fails like this too\. /,
        );
        assert.deepEqual(await publicTables(target.db), ["organisations"]);
      });
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] deploy with nothing pending exits 0 and writes no backup", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const out = await runStrata(
        ["-path", APP_MIGRATIONS, "-database", source.url, "deploy", "-out", "backups"],
        work.path,
      );
      assertExit(out, 0);
      assert.match(out.stderr, /nothing to deploy, no backup taken/);
      assert.deepEqual(await readdir(work.path), []);
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] deploy -keep 1 deletes the older backups of the database only after the new one is verified, and names each one it deleted", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      for (let i = 0; i < 2; i++) {
        assertExit(await runStrata(["-database", source.url, "backup", "-out", "backups"], work.path), 0);
        await new Promise((resolve) => setTimeout(resolve, 1100)); // names are stamped to the second
      }
      const older = (await readdir(join(work.path, "backups"))).filter((f) => f.endsWith(".dump")).sort();
      assert.equal(older.length, 2);
      const path = await migrationsWith(work.path, { "000005_more.up.sql": "CREATE TABLE deploy_more (id int);\n" });
      const out = await runStrata(
        ["-path", path, "-database", source.url, "deploy", "-out", "backups", "-keep", "1"],
        work.path,
      );
      assertExit(out, 0);
      const left = (await readdir(join(work.path, "backups"))).filter((f) => f.endsWith(".dump"));
      assert.equal(left.length, 1);
      assert.ok(!older.includes(left[0]), "the one kept is the new one");
      const lines = out.stderr.split("\n");
      const verified = lines.findIndex((l) => / verified$/.test(l));
      for (const name of older) {
        const deleted = lines.findIndex((l) => l === `deploy: Deleted older backup ${name} (keep 1)`);
        assert.ok(
          deleted > verified && verified >= 0,
          `${name} named after the new backup was verified:\n${out.stderr}`,
        );
      }
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] backup and deploy into a folder that cannot be written exit 1 with COMMAND_FAILED naming it, no stack trace, and deploy migrates nothing", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      // A file where the folder should be (root ignores permissions; this fails for everyone).
      await writeFile(join(work.path, "backups"), "not a folder");
      const backup = await runStrata(["-database", source.url, "-json", "backup", "-out", "backups"], work.path);
      assertExit(backup, 1);
      const json = parseJson(backup);
      assert.equal(json.error?.code, "COMMAND_FAILED", backup.stdout);
      assert.match(json.error?.message ?? "", /^Cannot write the backup in \/.*\/backups: EEXIST/);

      const path = await migrationsWith(work.path, { "000005_more.up.sql": "CREATE TABLE deploy_more (id int);\n" });
      const deploy = await runStrata(
        ["-path", path, "-database", source.url, "deploy", "-out", "backups/x"],
        work.path,
      );
      assertExit(deploy, 1);
      assert.match(deploy.stderr, /Cannot write the backup in \/.*\/backups\/x: /);
      assert.doesNotMatch(deploy.stderr, /\n\s+at /, "no stack trace");
      assert.ok(!(await publicTables(source.db)).includes("deploy_more"), "nothing was migrated");
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] deploy whose only pending migration fails in its transaction exits 1 and says nothing changed, with no restore", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const before = await appRows(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const path = await migrationsWith(work.path, { "000005_break.up.sql": FAILING_IN_TRANSACTION });
      const out = await runStrata(["-path", path, "-database", source.url, "deploy", "-out", "backups"], work.path);
      assertExit(out, 1);
      assert.match(out.stderr, /deploy: Nothing changed: 000005_break\.up\.sql was rolled back .*version 4/);
      assert.doesNotMatch(out.stderr, /to put the database back/);
      assert.deepEqual(await appRows(source.db), before);
      assert.ok(!(await publicTables(source.db)).includes("deploy_leftover"), "the failed migration was rolled back");
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] deploy that applies 5 and fails at 6 prints goto 4 and a restore that leaves nothing of 5; both work", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const before = await appRows(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const path = await migrationsWith(work.path, { ...APPLIED_FIVE, "000006_break.up.sql": FAILING_IN_TRANSACTION });
      const out = await runStrata(["-path", path, "-database", source.url, "deploy", "-out", "backups"], work.path);
      assertExit(out, 1);
      const [backup] = await backupsIn(join(work.path, "backups"));
      assert.ok(backup, "a backup was taken before migrating");
      const strata = `strata -path ${path} -database ${source.url}`;
      const revert = /to go back to version 4 with the down files of what it applied:\n {2}(.+)\n/.exec(out.stderr);
      assert.equal(revert?.[1], `${strata} goto 4`, out.stderr);
      const command = printedRestore(out.stderr);
      assert.equal(command, `${strata} restore ${join(work.path, "backups", backup)} -yes -replace`);
      assert.ok((await publicTables(source.db)).includes("deploy_applied"));
      assert.ok(!(await publicTables(source.db)).includes("deploy_leftover"), "the failed migration was rolled back");

      const bin = await strataShim(work.path);
      assertExit(await runShell(revert![1], work.path, bin), 0);
      assert.deepEqual(await appRows(source.db), before);
      assert.ok(!(await publicTables(source.db)).includes("deploy_applied"));

      assertExit(await runShell(`${strata} up 1`, work.path, bin), 0);
      await source.db.exec("DELETE FROM users; UPDATE organisations SET name = 'later'");
      assertExit(await runShell(command, work.path, bin), 0);
      assert.deepEqual(await appRows(source.db), before);
      assert.ok(
        !(await publicTables(source.db)).includes("deploy_applied"),
        "migration 5's table went with the restore",
      );
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] deploy -restore-on-failure puts back 5 applied and 6 failed outside a transaction: version 4, not dirty, rows back, no table of 5", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const before = await appRows(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const path = await migrationsWith(work.path, {
        ...APPLIED_FIVE,
        "000006_break.up.sql": FAILING_OUTSIDE_TRANSACTION,
      });
      const out = await runStrata(
        ["-path", path, "-database", source.url, "deploy", "-out", "backups", "-restore-on-failure"],
        work.path,
      );
      assertExit(out, 1);
      assert.match(out.stderr, /restoring /);
      assert.doesNotMatch(out.stderr, /to put the database back as it was/);
      assert.deepEqual(await source.db.query("SELECT version::text AS version, dirty FROM schema_migrations"), [
        { version: "4", dirty: false },
      ]);
      assert.deepEqual(await appRows(source.db), before);
      assert.ok(!(await publicTables(source.db)).includes("deploy_applied"));
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] deploy run again on a database a failed deploy left dirty names the backup that deploy took and the restore that puts it back, which works", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const before = await appRows(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const path = await migrationsWith(work.path, { "000005_break.up.sql": FAILING_OUTSIDE_TRANSACTION });
      const deploy = ["-path", path, "-database", source.url, "deploy", "-out", "backups"];
      const first = await runStrata(deploy, work.path);
      assertExit(first, 1);
      const [taken] = await backupsIn(join(work.path, "backups"));
      assert.ok(taken, "the first deploy took a backup");

      const again = await runStrata(deploy, work.path);
      assertExit(again, 1);
      assert.match(again.stderr, /^error: Dirty database version 5/m);
      const hint = new RegExp(
        `The newest backup of this database in .*backups is (.*${
          taken.replace(/[.]/g, "\\.")
        }), taken \\S+ at version 4: ` +
          "if repairing by hand is not an option, (strata .* restore \\S+ -yes -replace) puts the database back",
      );
      const match = hint.exec(again.stderr);
      assert.ok(match, again.stderr);
      // The command as printed, run as the operator would (the URL given as -database).
      const restored = await runStrata(["-database", source.url, "restore", match[1], "-yes", "-replace"], work.path);
      assertExit(restored, 0);
      assert.deepEqual(await appRows(source.db), before);
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] deploy -restore-on-failure that restored prints no note about commands, since it printed none", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      const path = await migrationsWith(work.path, {
        ...APPLIED_FIVE,
        "000006_break.up.sql": FAILING_OUTSIDE_TRANSACTION,
      });
      // A password in -database is what makes strata print "$DATABASE_URL" in the commands it gives.
      const url = new URL(source.url);
      url.password = "Deploy-pw-5521";
      const out = await runStrata(
        ["-path", path, "-database", url.toString(), "deploy", "-out", "backups", "-restore-on-failure"],
        work.path,
      );
      assertExit(out, 1);
      assert.match(out.stderr, /^deploy: Restored: the database is back at version 4/m);
      assert.doesNotMatch(out.stderr, /\$DATABASE_URL/);
      assert.ok(!out.stderr.includes("Deploy-pw-5521"), out.stderr);
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] a backup killed with its pg_dump (kill -9) leaves a partial dump; the next backup warns of it once it is a minute old (text and -json) and keeps it", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      await whileLocked(source.db, "LOCK TABLE organisations IN ACCESS EXCLUSIVE MODE", async () => {
        const run = startStrata(["-database", source.url, "backup", "-out", "backups"], work.path);
        // The pg_dump writing the dump (not the `pg_dump --version` probe before it).
        let child: { pid: number; argv: string[] } | undefined;
        await waitFor("pg_dump writing the backup", () => {
          child = descendants(run.child.pid!).find((c) => c.argv.some((a) => a.startsWith("--file=")));
          return child !== undefined || run.child.exitCode !== null;
        });
        assert.ok(child, `strata ended before starting pg_dump:\n${run.stderr()}`);
        const { pid } = child;
        // As a machine that goes down takes both: nothing of strata's cleanup runs.
        run.child.kill("SIGKILL");
        process.kill(pid, "SIGKILL");
        await run.done;
        await waitFor("pg_dump to end", () => !alive(pid), 5000);
      });
      const backups = join(work.path, "backups");
      const [partial] = (await readdir(backups)).filter((name) => name.endsWith(".partial"));
      assert.ok(partial, "the killed backup left its partial dump");
      const fresh = await runStrata(["-database", source.url, "backup", "-out", "backups"], work.path);
      assertExit(fresh, 0);
      assert.doesNotMatch(fresh.stderr, /warning/, "a partial written to within the minute may still be in use");
      // Whole seconds: a file time keeps them exactly.
      const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 2 * 60_000);
      await utimes(join(backups, partial), past, past);
      const text = await runStrata(["-database", source.url, "backup", "-out", "backups"], work.path);
      assertExit(text, 0);
      const escaped = partial.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      assert.match(
        text.stderr,
        new RegExp(
          `warning: \\S*backups/${escaped} \\([^)]* B, last written ${past.toISOString()}\\) was left by a backup that was killed: remove it`,
        ),
      );
      const json = parseJson(
        await runStrata(["-database", source.url, "-json", "backup", "-out", "backups"], work.path),
      );
      const { size } = await stat(join(backups, partial));
      assert.deepEqual(json.leftovers, [{ name: partial, bytes: size, modifiedAt: past.toISOString() }]);
      assert.ok((await readdir(backups)).includes(partial), "the leftover is reported, not deleted");
    } finally {
      await work.remove();
    }
  });
});

/**
 * Runs `fn` while another session holds `lockSql` in an open transaction (pg_dump or a
 * restore's DROP then waits on it), releasing it afterwards whatever happened.
 */
async function whileLocked(db: Database, lockSql: string, fn: () => Promise<void>): Promise<void> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = db.withSession(async (session) => {
    await session.exec(`BEGIN; ${lockSql}`);
    locked();
    await released;
    await session.exec("ROLLBACK");
  });
  await isLocked;
  // Released anyway after 20 s: code that ignores the signal then finishes, and fails the test instead of hanging it.
  const safety = setTimeout(release, 20_000);
  try {
    await fn();
  } finally {
    clearTimeout(safety);
    release();
    await holder;
  }
}

/** Starts the CLI, waits for its pg_dump / pg_restore / psql child, and returns both. */
async function startWithChild(args: string[], cwd: string, program: RegExp) {
  const run = startStrata(args, cwd);
  let child: { pid: number; argv: string[] } | undefined;
  try {
    await waitFor(`a ${program} child of strata`, () => {
      child = descendants(run.child.pid!).find((c) => program.test(basename(c.argv[0])));
      return child !== undefined || run.child.exitCode !== null;
    });
  } catch (error) {
    run.child.kill("SIGKILL");
    throw error;
  }
  assert.ok(child, `strata ended before starting ${program}:\n${run.stderr()}`);
  return { run, child };
}

/**
 * Starts `strata backup` while pg_dump waits for a lock, sends SIGTERM `times` times once
 * pg_dump runs, and returns how strata ended and what the backup folder holds after pg_dump
 * is gone.
 */
async function interruptedBackup(
  t: { skip(message?: string): void },
  format: "custom" | "directory",
  times: number,
): Promise<{ out?: Finished; left?: string[] }> {
  const result: { out?: Finished; left?: string[] } = {};
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      await whileLocked(source.db, "LOCK TABLE organisations IN ACCESS EXCLUSIVE MODE", async () => {
        const { run, child } = await startWithChild(
          ["-database", source.url, "backup", "-format", format, "-out", "backups"],
          work.path,
          /^pg_dump$/,
        );
        for (let i = 0; i < times; i++) run.child.kill("SIGTERM");
        result.out = await run.done;
        await waitFor("pg_dump to end", () => !alive(child.pid), 5000);
      });
      result.left = await readdir(join(work.path, "backups"));
    } finally {
      await work.remove();
    }
  });
  return result;
}

test("[postgres] SIGTERM during a backup stops pg_dump at once: exit 1 INTERRUPTED, no pg_dump left running, nothing left in the backup folder", async (t) => {
  const { out, left } = await interruptedBackup(t, "custom", 1);
  if (!out) return;
  assertExit(out, 1);
  assert.match(
    out.stderr,
    /Interrupted \(SIGTERM\): stopping the backup now \(pg_dump, once it runs\); the partial backup is removed/,
  );
  assert.match(out.stderr, /^error: Interrupted: the backup was stopped/m);
  assert.deepEqual(left, []);
});

test("[postgres] two SIGTERMs in a row during a backup leave neither pg_dump running nor a partial backup", async (t) => {
  const { out, left } = await interruptedBackup(t, "directory", 2);
  if (!out) return;
  assert.ok(out.code === 143 || out.code === 1, `exit ${out.code}\n${out.stderr}`);
  assert.deepEqual(left, []);
});

test("[postgres] two SIGTERMs while a backup waits before pg_dump say what stopping a backup leaves, not what stopping a migration does", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const work = await tempDir("strata-backup-cli-");
    try {
      // The backup reads the version first, and waits on this lock: no pg_dump yet.
      await whileLocked(source.db, "LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE", async () => {
        const run = startStrata(["-database", source.url, "backup", "-out", "backups"], work.path);
        await waitFor("the backup to wait for the version table", async () =>
          (await source.db.query(
            "SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'schema_migrations'::regclass",
          )).length > 0);
        run.child.kill("SIGTERM");
        await waitFor("the first signal's note", () => /Interrupted \(SIGTERM\)/.test(run.stderr()));
        run.child.kill("SIGTERM");
        const out = await run.done;
        assertExit(out, 143);
        assert.match(out.stderr, /Interrupted \(SIGTERM\): stopping the backup now/);
        assert.match(out.stderr, /Aborted \(SIGTERM again\) during the backup: .*the database was not changed/);
        assert.doesNotMatch(out.stderr, /dirty|a file running in a transaction/);
      });
      const left = await readdir(join(work.path, "backups")).catch(() => []);
      assert.deepEqual(left, [], "nothing of the backup stays");
    } finally {
      await work.remove();
    }
  });
});

test("[postgres] SIGTERM during a restore stops pg_restore: exit 1 INTERRUPTED, no pg_restore left to commit, the database as it was", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    await withDatabase(t, "postgres", async (target) => {
      await populateApp(target.db);
      await target.db.exec("INSERT INTO organisations (slug, name) VALUES ('only-here', 'Only here')");
      const before = await appRows(target.db);
      const work = await tempDir("strata-backup-cli-");
      try {
        const made = await runStrata(["-database", source.url, "backup", "-out", "backups"], work.path);
        assertExit(made, 0);
        // The restore's DROP of organisations waits for this reader.
        await whileLocked(target.db, "SELECT 1 FROM organisations LIMIT 1", async () => {
          const { run, child } = await startWithChild(
            ["-database", target.url, "restore", made.stdout.trim(), "-yes", "-clean"],
            work.path,
            /^pg_restore$/,
          );
          run.child.kill("SIGTERM");
          const out = await run.done;
          assertExit(out, 1);
          assert.match(out.stderr, /Interrupted \(SIGTERM\): stopping the restore now/);
          assert.match(out.stderr, /^error: Interrupted: pg_restore was stopped, so nothing was restored/m);
          await waitFor("pg_restore to end", () => !alive(child.pid), 5000);
        });
        assert.deepEqual(await appRows(target.db), before);
      } finally {
        await work.remove();
      }
    });
  });
});

/**
 * backupDatabase, verifyBackup, restoreBackup and deploy against real databases: PGlite
 * (plain SQL through pglite-tools, in-process) and a PostgreSQL server (pg_dump, pg_restore
 * and psql as child processes, in all three formats). The schema is the project's own
 * migrations/ folder: identity columns, an enum, a plpgsql trigger function, a
 * non-transactional index.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { appendFile, mkdir, readdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import process from "node:process";
import { promisify } from "node:util";
import type { Database } from "../../lib/db/database.ts";
import { type DatabaseUrl, parseDatabaseUrl } from "../../lib/db/database_url.ts";
import { StrataError } from "../../lib/db/strata_error.ts";
import {
  backupDatabase,
  type BackupFormat,
  type BackupManifest,
  type BackupResult,
  verifyBackup,
} from "../../lib/io/backup.ts";
import { deploy } from "../../lib/io/deploy.ts";
import { directorySource } from "../../lib/io/directory_source.ts";
import { findPgProgram, runProgram } from "../../lib/io/pg_tools.ts";
import { removeNewerSettings, restoreBackup } from "../../lib/io/restore.ts";
import { Migrator } from "../../lib/migrate/migrator.ts";
import {
  APPLIED_FIVE,
  appMigrator,
  appRows,
  copyMigrationsWith,
  FAILING_IN_TRANSACTION,
  FAILING_OUTSIDE_TRANSACTION,
  populateApp,
} from "../_support/app_fixture.ts";
import { BACKENDS, tempDir, TEST_DATABASE_URL, type TestDatabase, withDatabase } from "../_support/backends.ts";

const run = promisify(execFile);
const EXT: Record<BackupFormat, string> = { plain: "sql", custom: "dump", directory: "dir" };
/** How pg_dump ends every plain dump: a hand-made one (with no checksum) needs it to be restored. */
const DUMP_END = "\n--\n-- PostgreSQL database dump complete\n--\n";

/** The formats a backend can write: PGlite dumps plain SQL only. */
function formatsFor(backend: "postgres" | "pglite"): BackupFormat[] {
  return backend === "pglite" ? ["plain"] : ["plain", "custom", "directory"];
}

function urlOf(test: TestDatabase): DatabaseUrl {
  return parseDatabaseUrl(test.url);
}

interface Snapshot {
  rows: Record<string, string[]>;
  sequences: Record<string, string>;
}

/** Every row of the app's tables and the version table (as JSON text), and the sequences' positions. */
async function snapshot(db: Database): Promise<Snapshot> {
  const rows = await appRows(db);
  const sequences: Record<string, string> = {};
  for (const table of ["organisations", "users", "sources"]) {
    const [{ seq }] = await db.query<{ seq: string }>("SELECT pg_get_serial_sequence($1, 'id') AS seq", [table]);
    const [position] = await db.query<{ last: string; called: boolean }>(
      `SELECT last_value::text AS last, is_called AS called FROM ${seq}`,
    );
    sequences[table] = `${position.last}${position.called ? "" : " (not called)"}`;
  }
  return { rows, sequences };
}

async function versionRow(db: Database): Promise<{ version: string; dirty: boolean } | undefined> {
  const [row] = await db.query<{ version: string; dirty: boolean }>(
    "SELECT version::text AS version, dirty FROM schema_migrations",
  );
  return row;
}

/** What a restored database must still do: continue the sequence, fire the trigger. */
async function assertAlive(db: Database, nextId = "42"): Promise<void> {
  const [inserted] = await db.query<{ id: string }>(
    "INSERT INTO organisations (slug, name) VALUES ('initech', 'Initech') RETURNING id::text AS id",
  );
  assert.equal(inserted.id, nextId, "the identity sequence continues after the position it had");
  const [updated] = await db.query<{ changed: boolean }>(
    "UPDATE organisations SET name = 'ACME Corp' WHERE slug = 'acme' RETURNING updated_at > '2020-01-01T00:00:00Z' AS changed",
  );
  assert.equal(updated.changed, true, "the plpgsql trigger set_updated_at() fires on UPDATE");
  const [fn] = await db.query<{ lang: string }>(
    "SELECT l.lanname AS lang FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.proname = 'set_updated_at'",
  );
  assert.equal(fn?.lang, "plpgsql");
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

function assertCode(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof StrataError, `expected a StrataError, got ${error}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

for (const backend of BACKENDS) {
  for (const format of formatsFor(backend)) {
    test(`[${backend}] a ${format} backup restored into a fresh database has the same rows, sequence positions, trigger and version row`, async (t) => {
      await withDatabase(t, backend, async (source) => {
        await populateApp(source.db);
        const before = await snapshot(source.db);
        const out = await tempDir("strata-backup-");
        try {
          const backup = await backupDatabase(source.db, urlOf(source), {
            out: out.path,
            format,
            ...(format === "directory" ? { jobs: 2 } : {}),
          });
          assert.equal(backup.format, format);
          assert.deepEqual(backup.migrationVersion, { version: "4", dirty: false });
          await withDatabase(t, backend, async (target) => {
            const restored = await restoreBackup(target.db, urlOf(target), backup.path);
            assert.equal(restored.checked, true);
            assert.equal(restored.format, format);
            assert.equal(restored.existingTables, 0);
            assert.deepEqual(await snapshot(target.db), before);
            assert.deepEqual(await versionRow(target.db), { version: "4", dirty: false });
            assert.equal((await appMigrator(target.db).plan({ command: "up" })).noChange, true);
            await assertAlive(target.db);
          });
        } finally {
          await out.remove();
        }
      });
    });

    test(
      `[${backend}] a ${format} backup is named backup_<UTC time>_<db>.${
        EXT[format]
      }, private, with a .sha256 and a manifest beside it and no partial file left`,
      async (t) => {
        await withDatabase(t, backend, async (source) => {
          await populateApp(source.db);
          const out = await tempDir("strata-backup-");
          try {
            const now = new Date("2026-03-04T05:06:07.890Z");
            const backup = await backupDatabase(source.db, urlOf(source), {
              out: out.path,
              format,
              now,
              ...(format === "directory" ? { jobs: 2 } : {}),
            });
            const [{ name: dbName, version: serverVersion }] = await source.db.query<{ name: string; version: string }>(
              "SELECT current_database() AS name, current_setting('server_version') AS version",
            );
            const expectedDb = backend === "pglite" ? "pglite" : dbName;
            const file = basename(backup.path);
            assert.match(file, new RegExp(`^backup_\\d{8}_\\d{6}_${expectedDb}\\.(sql|dump|dir)$`));
            assert.equal(file, `backup_20260304_050607_${expectedDb}.${EXT[format]}`);
            assert.deepEqual(
              (await readdir(out.path)).sort(),
              [file, `${file}.json`, `${file}.sha256`].sort(),
              "nothing but the backup, its manifest and its checksum (no .partial)",
            );
            for (const path of [backup.path, `${backup.path}.json`, `${backup.path}.sha256`]) {
              if (format === "directory" && path === backup.path) continue;
              assert.equal(await modeOf(path), 0o600, `${basename(path)} is mode 0600`);
            }
            if (format === "directory") {
              assert.equal(await modeOf(backup.path), 0o700);
              const inside = await readdir(backup.path);
              assert.ok(inside.includes("toc.dat"));
              for (const name of inside) assert.equal(await modeOf(join(backup.path, name)), 0o600, name);
            } else {
              const { stdout } = await run("sha256sum", ["-c", `${file}.sha256`], { cwd: out.path });
              assert.equal(stdout.trim(), `${file}: OK`);
            }
            const manifest = JSON.parse(await readFile(`${backup.path}.json`, "utf8")) as BackupManifest;
            assert.equal(manifest.file, file);
            assert.equal(manifest.format, format);
            assert.equal(manifest.databaseName, expectedDb);
            assert.equal(manifest.database, source.db.label);
            assert.equal(manifest.serverVersion, serverVersion);
            assert.match(manifest.dumpedWith, backend === "pglite" ? /^pglite-tools pg_dump$/ : /^pg_dump \d+\.\d+/);
            assert.deepEqual(manifest.migrationVersion, { version: "4", dirty: false });
            assert.equal(manifest.createdAt, now.toISOString());
            assert.match(manifest.sha256, /^[0-9a-f]{64}$/);
            assert.ok(manifest.bytes > 0);
            assert.equal(manifest.sha256, backup.sha256);
            const verified = await verifyBackup(backup.path);
            assert.deepEqual(verified, { path: backup.path, format, checked: true, sha256: backup.sha256, manifest });
          } finally {
            await out.remove();
          }
        });
      },
    );
  }
}

test("[postgres] the .sha256 beside a directory backup passes sha256sum -c run in the backup folder", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const out = await tempDir("strata-backup-");
    try {
      const backup = await backupDatabase(source.db, urlOf(source), { out: out.path, format: "directory", jobs: 2 });
      await run("sha256sum", ["-c", `${basename(backup.path)}.sha256`], { cwd: out.path });
    } finally {
      await out.remove();
    }
  });
});

test("a backup of the embedded PGlite (PostgreSQL 18) restores into the PostgreSQL server with rows, sequences and version", async (t) => {
  await withDatabase(t, "pglite", async (source) => {
    await populateApp(source.db);
    const expected = await snapshot(source.db);
    const out = await tempDir("strata-backup-");
    try {
      const backup = await backupDatabase(source.db, urlOf(source), { out: out.path, format: "plain" });
      assert.match(
        await readFile(backup.path, "utf8"),
        /^SET transaction_timeout = /m,
        "PGlite's pg_dump 18 writes it",
      );
      await withDatabase(t, "postgres", async (target) => {
        await restoreBackup(target.db, urlOf(target), backup.path, {});
        assert.deepEqual(await snapshot(target.db), expected);
        assert.deepEqual(await versionRow(target.db), { version: "4", dirty: false });
        await assertAlive(target.db);
      });
      assert.deepEqual((await readdir(out.path)).sort(), [
        basename(backup.path),
        `${basename(backup.path)}.json`,
        `${basename(backup.path)}.sha256`,
      ], "the filtered copy for the older server is gone");
    } finally {
      await out.remove();
    }
  });
});

test("[postgres] keep 2 after three backups leaves the newest two of that database and other databases' backups, and names what it deleted", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const out = await tempDir("strata-backup-");
    try {
      const other = "backup_20200101_000000_some_other_db.dump";
      for (const suffix of ["", ".json", ".sha256"]) await writeFile(join(out.path, other + suffix), "x");
      const names: string[] = [];
      const pruned: string[][] = [];
      for (const second of [1, 2, 3]) {
        const backup = await backupDatabase(source.db, urlOf(source), {
          out: out.path,
          keep: 2,
          now: new Date(`2026-01-01T00:00:0${second}Z`),
        });
        names.push(basename(backup.path));
        pruned.push(backup.pruned);
      }
      assert.deepEqual(pruned, [[], [], [names[0]]], "the third backup says which one it deleted");
      const expected = [names[1], names[2]].flatMap((n) => [n, `${n}.json`, `${n}.sha256`]);
      expected.push(other, `${other}.json`, `${other}.sha256`);
      assert.deepEqual((await readdir(out.path)).sort(), expected.sort());
    } finally {
      await out.remove();
    }
  });
});

test("[pglite] a backup lists the partial dumps killed backups left in its folder (untouched a minute, process gone), never one whose process runs or that is being written, and deletes none", async () => {
  const { openDatabase } = await import("../../lib/io/open_database.ts");
  const root = await tempDir("strata-backup-leftovers-");
  const { db, url } = await openDatabase("pglite://memory");
  try {
    const out = join(root.path, "backups");
    await mkdir(out);
    // A process that has ended: its id runs nothing now.
    const gone = await new Promise<number>((resolve) => {
      const child = execFile("true", () => resolve(child.pid!));
    });
    // Whole seconds: a file time keeps them exactly.
    const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 5 * 60_000);
    const file = async (name: string, bytes: number, aged: boolean) => {
      await writeFile(join(out, name), Buffer.alloc(bytes));
      if (aged) await utimes(join(out, name), past, past);
    };
    await file(`backup_20260101_000000_app.dump.${gone}-a1b2c3d4.partial`, 1000, true);
    await file(`backup_20260101_000001_app.dump.${process.pid}-a1b2c3d4.partial`, 1000, true); // its process runs
    await file(`backup_20260101_000002_app.dump.${gone}-e5f6a7b8.partial`, 1000, false); // written just now
    await file(`notes.${gone}-a1b2c3d4.partial`, 1000, true); // not a backup's
    const dir = join(out, `backup_20260101_000003_app.dir.${gone}-c9d0e1f2.partial`);
    await mkdir(dir);
    await writeFile(join(dir, "toc.dat"), Buffer.alloc(300));
    await writeFile(join(dir, "3001.dat.gz"), Buffer.alloc(700));
    for (const path of [join(dir, "toc.dat"), join(dir, "3001.dat.gz"), dir]) await utimes(path, past, past);

    const backup = await backupDatabase(db, url, { out });
    assert.deepEqual(backup.leftovers, [
      { name: `backup_20260101_000000_app.dump.${gone}-a1b2c3d4.partial`, bytes: 1000, modifiedAt: past.toISOString() },
      { name: `backup_20260101_000003_app.dir.${gone}-c9d0e1f2.partial`, bytes: 1000, modifiedAt: past.toISOString() },
    ]);
    assert.equal((await readdir(out)).filter((name) => name.endsWith(".partial")).length, 5, "none deleted");
  } finally {
    await db.close();
    await root.remove();
  }
});

test("[pglite] two databases of one name (envs/prod/app and envs/staging/app) backed up in one second into one folder: two backups, and keep 1 never deletes the other's", async () => {
  const { openDatabase } = await import("../../lib/io/open_database.ts");
  const root = await tempDir("strata-backup-names-");
  const opened = [];
  try {
    const out = join(root.path, "backups");
    const now = new Date("2026-01-01T00:00:01Z");
    const made: string[] = [];
    for (const env of ["prod", "staging"]) {
      const { db, url } = await openDatabase(`pglite://${join(root.path, "envs", env, "app")}`);
      opened.push({ db, url });
      await db.exec(`CREATE TABLE marker (env text); INSERT INTO marker VALUES ('${env}')`);
      const backup = await backupDatabase(db, url, { out, keep: 1, now });
      assert.deepEqual(backup.pruned, [], env);
      made.push(basename(backup.path));
    }
    assert.deepEqual(made, ["backup_20260101_000001_app.sql", "backup_20260101_000001_app_2.sql"]);
    assert.match(await readFile(join(out, made[0]), "utf8"), /prod/);
    assert.match(await readFile(join(out, made[1]), "utf8"), /staging/);
    // A later backup of prod with keep 1 deletes prod's older one only.
    const [prod] = opened;
    const later = await backupDatabase(prod.db, prod.url, { out, keep: 1, now: new Date("2026-01-01T00:00:02Z") });
    assert.deepEqual(later.pruned, [made[0]]);
    assert.deepEqual(
      (await readdir(out)).filter((n) => /\.sql$/.test(n)).sort(),
      ["backup_20260101_000001_app_2.sql", "backup_20260101_000002_app.sql"],
    );
    // One database is one database however its path was written; the key is its folder.
    const [manifest] = [JSON.parse(await readFile(join(out, `${made[1]}.json`), "utf8"))];
    assert.equal(manifest.databaseKey, `pglite://${join(root.path, "envs", "staging", "app")}`);
    const relative = await backupDatabase(prod.db, parseDatabaseUrl("pglite://app"), {
      out,
      keep: 1,
      cwd: join(root.path, "envs", "prod"),
      now: new Date("2026-01-01T00:00:03Z"),
    });
    assert.deepEqual(relative.pruned, ["backup_20260101_000002_app.sql"]);
    // Two backups started together (the dump only appears at the end) take two names.
    const together = await Promise.all(
      opened.map(({ db, url }) => backupDatabase(db, url, { out, now: new Date("2026-01-01T00:00:04Z") })),
    );
    assert.notEqual(together[0].path, together[1].path);
  } finally {
    for (const { db } of opened) await db.close();
    await root.remove();
  }
});

test("[postgres → pglite] a server's plain backup (psql's \\restrict lines, COPY ... FROM stdin rows) restores into the embedded PGlite database with every value as it was", async (t) => {
  const { openDatabase } = await import("../../lib/io/open_database.ts");
  await withDatabase(t, "postgres", async (source) => {
    await source.db.exec(
      "CREATE TABLE t (id int PRIMARY KEY, s text, j jsonb, n numeric); " +
        "INSERT INTO t VALUES (1, E'tab\\there, back\\\\slash, new\\nline', '{\"x\": [1, 2]}', 1.50), (2, NULL, NULL, NULL); " +
        "CREATE TABLE empty (id int)",
    );
    const out = await tempDir("strata-backup-");
    try {
      const backup = await backupDatabase(source.db, urlOf(source), { out: out.path, format: "plain" });
      const { db, url } = await openDatabase("pglite://memory");
      try {
        await restoreBackup(db, url, backup.path, { yes: true });
        const query = "SELECT id, s, j::text AS j, n::text AS n FROM t ORDER BY id";
        assert.deepEqual(await db.query(query), await source.db.query(query));
        assert.deepEqual(await db.query("SELECT count(*)::int AS n FROM empty"), [{ n: 0 }]);
      } finally {
        await db.close();
      }
    } finally {
      await out.remove();
    }
  });
});

test("[postgres → pglite] a server's plain backup naming roles the embedded database lacks (owner, grant, policy) restores with those roles created, owners and grants as they were", async (t) => {
  const { openDatabase } = await import("../../lib/io/open_database.ts");
  await withDatabase(t, "postgres", async (source) => {
    const role = `strata_owner_${process.pid}_${Date.now()}`;
    await source.db.exec(`CREATE ROLE ${role}`);
    try {
      await source.db.exec(
        `CREATE TYPE mood AS ENUM ('calm', 'busy'); CREATE TABLE t (id int PRIMARY KEY, m mood);
         INSERT INTO t VALUES (1, 'calm'); ALTER TABLE t OWNER TO ${role}; ALTER TYPE mood OWNER TO ${role};
         GRANT SELECT ON t TO PUBLIC; ALTER TABLE t ENABLE ROW LEVEL SECURITY;
         CREATE POLICY readers ON t FOR SELECT TO ${role} USING (true)`,
      );
      const out = await tempDir("strata-backup-");
      try {
        const backup = await backupDatabase(source.db, urlOf(source), { out: out.path, format: "plain" });
        const { db, url } = await openDatabase("pglite://memory");
        try {
          const result = await restoreBackup(db, url, backup.path, { yes: true });
          assert.deepEqual(result.createdRoles, [role]);
          // (The owner's own privileges differ by version: PGlite is PostgreSQL 17, with MAINTAIN.)
          const owners = `SELECT pg_get_userbyid(c.relowner)::text AS owner, c.relacl::text ~ '[{,]=r/' AS public_reads
            FROM pg_class c WHERE c.relname = 't'`;
          assert.deepEqual(await db.query(owners), [{ owner: role, public_reads: true }]);
          const types = "SELECT pg_get_userbyid(typowner)::text AS owner FROM pg_type WHERE typname = 'mood'";
          assert.deepEqual(await db.query(types), [{ owner: role }]);
          const policy = "SELECT policyname::text AS name, roles::text AS roles FROM pg_policies WHERE tablename = 't'";
          assert.deepEqual(await db.query(policy), await source.db.query(policy));
          assert.deepEqual(await db.query("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", [role]), [
            { rolcanlogin: false },
          ]);
          // Again over it (-clean): the role is there now, nothing more is created.
          const again = await restoreBackup(db, url, backup.path, { yes: true, clean: true });
          assert.equal(again.createdRoles, undefined);
        } finally {
          await db.close();
        }
      } finally {
        await out.remove();
      }
    } finally {
      await source.db.exec(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});

test("[pglite] a plain script naming two missing roles in one block restores with both created, and a later error is named as itself at its line", async () => {
  const { openDatabase } = await import("../../lib/io/open_database.ts");
  const out = await tempDir("strata-backup-");
  try {
    const roles = [
      "CREATE TABLE public.t (id int);",
      'ALTER TABLE public.t OWNER TO "App User";',
      "CREATE TABLE public.u (id int);",
      "ALTER TABLE public.u OWNER TO app_two;",
    ];
    await writeFile(join(out.path, "two.sql"), roles.join("\n") + "\n" + DUMP_END);
    await writeFile(
      join(out.path, "broken.sql"),
      [...roles, "CREATE INDEX ON public.t (nosuch);"].join("\n") + "\n" + DUMP_END,
    );
    const { db, url } = await openDatabase("pglite://memory");
    try {
      const restored = await restoreBackup(db, url, join(out.path, "two.sql"), { yes: true });
      assert.deepEqual(restored.createdRoles, ["App User", "app_two"]);
      assert.deepEqual(
        await db.query(
          "SELECT relname::text AS t, pg_get_userbyid(relowner)::text AS owner FROM pg_class WHERE relname IN ('t', 'u') ORDER BY 1",
        ),
        [{ t: "t", owner: "App User" }, { t: "u", owner: "app_two" }],
      );
    } finally {
      await db.close();
    }
    const fresh = await openDatabase("pglite://memory");
    try {
      await assert.rejects(
        restoreBackup(fresh.db, fresh.url, join(out.path, "broken.sql"), { yes: true }),
        (error: StrataError) => {
          assert.equal(error.code, "RESTORE_FAILED");
          assert.match(error.message, /failed at line 5, .*column "nosuch" does not exist/);
          return true;
        },
      );
      assert.deepEqual(
        await fresh.db.query("SELECT rolname FROM pg_roles WHERE rolname IN ('App User', 'app_two')"),
        [],
      );
    } finally {
      await fresh.db.close();
    }
  } finally {
    await out.remove();
  }
});

test("psqlScriptParts cuts a plain dump into SQL and COPY blocks, leaves out \\restrict, and refuses other psql commands and cut-short COPY data by line", async () => {
  const { psqlScriptParts } = await import("../../lib/io/restore.ts");
  const parts = psqlScriptParts(
    "\\restrict abc\nSET x = 1;\nCOPY public.t (a) FROM stdin;\n1\n\\N\n\\.\nSELECT 1;\n\\unrestrict abc\n",
    "d.sql",
  );
  assert.deepEqual(parts, [
    { sql: "SET x = 1;", line: 2 },
    { copy: "COPY public.t (a) FROM '/dev/blob';", sql: "1\n\\N\n", line: 3 },
    { sql: "SELECT 1;\n\n", line: 7 },
  ]);
  assert.throws(
    () => psqlScriptParts("SELECT 1;\n\\connect other\n", "d.sql"),
    /d\.sql, line 2: the psql command \\connect/,
  );
  assert.throws(
    () => psqlScriptParts("COPY t (a) FROM stdin;\n1\n", "d.sql"),
    /d\.sql, line 1: COPY data without its closing/,
  );
  // Inside a $$ body, a string (E'' too) or a comment, a line's \\ or COPY is text, as psql's scanner has it.
  const quoted = [
    "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $f$\nselect '\n\\hello'\n$f$;",
    "COMMENT ON TABLE t IS E'first\\'\nCOPY t FROM stdin;\nlast';",
    "COMMENT ON TABLE t IS 'it''s\n\\x';",
    "/* a /* nested\n*/ comment\nCOPY t FROM stdin;\n*/ SELECT 1;",
  ].join("\n");
  assert.deepEqual(psqlScriptParts(quoted, "d.sql"), [{ sql: quoted, line: 1 }]);
});

const SESSION_SETTINGS = [
  "search_path",
  "row_security",
  "check_function_bodies",
  "client_min_messages",
  "extra_float_digits",
  "transaction_read_only",
];

async function sessionSettings(db: Database): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of SESSION_SETTINGS) {
    out[name] = (await db.query<{ value: string }>("SELECT current_setting($1) AS value", [name]))[0].value;
  }
  return out;
}

test("[pglite] the session stays usable after a backup: no transaction left open, settings as before, writes work", async (t) => {
  await withDatabase(t, "pglite", async (source) => {
    await populateApp(source.db);
    const before = await sessionSettings(source.db);
    const out = await tempDir("strata-backup-");
    try {
      const backup = await backupDatabase(source.db, urlOf(source), { out: out.path });
      assert.equal(backup.format, "plain");
      assert.equal((source.db.raw as { isInTransaction(): boolean }).isInTransaction(), false);
      assert.deepEqual(await sessionSettings(source.db), before);
      const [{ count }] = await source.db.query<{ count: number }>("SELECT count(*)::int AS count FROM organisations");
      assert.equal(count, 2);
      await source.db.exec("INSERT INTO organisations (slug, name) VALUES ('after', 'After')");
      await source.db.exec("CREATE TABLE made_after_backup (id int)");
    } finally {
      await out.remove();
    }
  });
});

test("[pglite] after a backup the search_path is unchanged and unqualified names still resolve", async (t) => {
  await withDatabase(t, "pglite", async (source) => {
    await populateApp(source.db);
    await source.db.exec("SET search_path TO public, pg_catalog");
    const searchPath = await source.db.query("SELECT current_setting('search_path') AS path");
    const out = await tempDir("strata-backup-");
    try {
      await backupDatabase(source.db, urlOf(source), { out: out.path });
      assert.deepEqual(await source.db.query("SELECT current_setting('search_path') AS path"), searchPath);
      const [{ count }] = await source.db.query<{ count: number }>("SELECT count(*)::int AS count FROM organisations");
      assert.equal(count, 2);
      assert.equal((await appMigrator(source.db).status()).version.version, 4n);
    } finally {
      await out.remove();
    }
  });
});

test("[pglite] the session stays usable after a restore: search_path unchanged, unqualified names resolve to public", async (t) => {
  await withDatabase(t, "pglite", async (source) => {
    await populateApp(source.db);
    const out = await tempDir("strata-backup-");
    try {
      const backup = await backupDatabase(source.db, urlOf(source), { out: out.path });
      await withDatabase(t, "pglite", async (target) => {
        const searchPath = await target.db.query("SELECT current_setting('search_path') AS path");
        await restoreBackup(target.db, urlOf(target), backup.path);
        assert.deepEqual(await target.db.query("SELECT current_setting('search_path') AS path"), searchPath);
        const [{ n }] = await target.db.query<{ n: number }>("SELECT count(*)::int AS n FROM organisations");
        assert.equal(n, 2);
        await target.db.exec("CREATE TABLE made_after_restore (id int)");
        const [{ schema }] = await target.db.query<{ schema: string }>(
          "SELECT schemaname AS schema FROM pg_tables WHERE tablename = 'made_after_restore'",
        );
        assert.equal(schema, "public");
        await assertAlive(target.db);
      });
    } finally {
      await out.remove();
    }
  });
});

test(
  "[pglite] a restore leaves the session's settings as they were (row_security, check_function_bodies, client_min_messages)",
  async (t) => {
    await withDatabase(t, "pglite", async (source) => {
      await populateApp(source.db);
      const out = await tempDir("strata-backup-");
      try {
        const backup = await backupDatabase(source.db, urlOf(source), { out: out.path });
        await withDatabase(t, "pglite", async (target) => {
          const before = await sessionSettings(target.db);
          await restoreBackup(target.db, urlOf(target), backup.path);
          assert.deepEqual(await sessionSettings(target.db), before);
        });
      } finally {
        await out.remove();
      }
    });
  },
);

test("[pglite] asking for a custom or directory backup of the embedded database is a usage error", async (t) => {
  await withDatabase(t, "pglite", async (source) => {
    const out = await tempDir("strata-backup-");
    try {
      for (const format of ["custom", "directory"] as const) {
        await assert.rejects(backupDatabase(source.db, urlOf(source), { out: out.path, format }), assertCode("USAGE"));
      }
      assert.deepEqual(await readdir(out.path), []);
    } finally {
      await out.remove();
    }
  });
});

/** What a child process ran as (argv) and with (environment), read from /proc while it ran. */
interface SeenProcess {
  argv: string[];
  env: string[];
}

/** argv or environment of a running process. */
function readProc(pid: number, file: "cmdline" | "environ"): string[] {
  return readFileSync(`/proc/${pid}/${file}`, "utf8").split("\0").filter((s) => s !== "");
}

/**
 * Holds an ACCESS EXCLUSIVE lock on `organisations` in `db` while `action` runs, so the
 * pg_dump / pg_restore / psql it starts waits on the lock; polls each child's /proc entry
 * (Debian's pg_dump is a perl wrapper that execs the real one) and lets go once the real
 * program shows. Returns every argv and environment seen.
 */
async function watchWhileBlocked(
  db: Database,
  action: (onSpawn: (pid: number) => void) => Promise<unknown>,
): Promise<SeenProcess[]> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = db.withSession(async (session) => {
    await session.exec("BEGIN; LOCK TABLE organisations IN ACCESS EXCLUSIVE MODE");
    locked();
    await released;
    await session.exec("COMMIT");
  });
  await isLocked;
  const safety = setTimeout(release, 10_000);
  const seen: SeenProcess[] = [];
  const timers: ReturnType<typeof setInterval>[] = [];
  const onSpawn = (pid: number) => {
    const poll = () => {
      let argv: string[];
      let env: string[];
      // Keep polling until the action ends: mid-exec, /proc can be empty or unreadable for a moment.
      try {
        argv = readProc(pid, "cmdline");
        env = readProc(pid, "environ");
      } catch {
        return;
      }
      if (argv.length === 0) return;
      if (!seen.some((s) => s.argv.join("\0") === argv.join("\0"))) seen.push({ argv, env });
      if (/^(pg_dump|pg_restore|psql)$/.test(basename(argv[0]))) release();
    };
    const timer = setInterval(poll, 2);
    timers.push(timer);
    poll();
  };
  try {
    await action(onSpawn);
  } finally {
    release();
    clearTimeout(safety);
    for (const timer of timers) clearInterval(timer);
    await holder;
  }
  return seen;
}

test("[postgres] the password reaches pg_dump, pg_restore and psql through the environment, never their argv or output", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    // The test server may trust 127.0.0.1; then any password logs in and still has to be hidden.
    const withPassword = (url: string) => {
      const u = new URL(url);
      if (u.password === "") u.password = "Sup3r-s3cret-pw";
      return u.toString();
    };
    const password = decodeURIComponent(new URL(withPassword(TEST_DATABASE_URL)).password);
    const url = parseDatabaseUrl(withPassword(source.url));
    const out = await tempDir("strata-backup-");
    try {
      const seen: SeenProcess[] = [];
      let custom!: BackupResult;
      let plain!: BackupResult;
      seen.push(
        ...await watchWhileBlocked(source.db, async (onSpawn) => {
          custom = await backupDatabase(source.db, url, { out: out.path, onSpawn, now: new Date(1000) });
        }),
      );
      seen.push(
        ...await watchWhileBlocked(source.db, async (onSpawn) => {
          plain = await backupDatabase(source.db, url, {
            out: out.path,
            format: "plain",
            onSpawn,
            now: new Date(2000),
          });
        }),
      );
      for (const file of await readdir(out.path)) {
        if (file.endsWith(".json") || file.endsWith(".sha256")) {
          assert.ok(!(await readFile(join(out.path, file), "utf8")).includes(password), `${file} holds the password`);
        }
      }
      assert.ok(custom.database.includes(":***@"), custom.database);
      await withDatabase(t, "postgres", async (target) => {
        await populateApp(target.db);
        const targetUrl = parseDatabaseUrl(withPassword(target.url));
        for (const backup of [custom, plain]) {
          seen.push(
            ...await watchWhileBlocked(
              target.db,
              (onSpawn) => restoreBackup(target.db, targetUrl, backup.path, { yes: true, clean: true, onSpawn }),
            ),
          );
        }
      });
      const programs = seen.map((s) => basename(s.argv[0])).filter((name) => name !== "perl");
      assert.deepEqual(programs.sort(), ["pg_dump", "pg_dump", "pg_restore", "psql"]);
      for (const { argv, env } of seen) {
        assert.ok(!argv.join(" ").includes(password), `the password is in argv: ${argv.join(" ")}`);
        assert.ok(env.includes(`PGPASSWORD=${password}`), `${argv.join(" ")} got the password in its environment`);
      }
    } finally {
      await out.remove();
    }
  });
});

test("[postgres] pg_dump, pg_restore and psql work on the URL's database whatever PGSERVICE, PGHOSTADDR, PGPORT or PGOPTIONS the shell left set", async (t) => {
  await withDatabase(t, "postgres", async (chosen) => {
    await withDatabase(t, "postgres", async (other) => {
      await populateApp(chosen.db);
      await other.db.exec("CREATE TABLE only_in_other (id int)");
      const out = await tempDir("strata-backup-env-");
      const serviceFile = join(out.path, "pg_service.conf");
      await writeFile(serviceFile, `[other]\ndbname=${new URL(other.url).pathname.slice(1)}\n`);
      const saved = { ...process.env };
      // Each would have moved a child elsewhere: the service file beats PGDATABASE in libpq,
      // PGHOSTADDR beats PGHOST, PGPORT and PGOPTIONS fill in what the URL leaves out.
      Object.assign(process.env, {
        PGSERVICEFILE: serviceFile,
        PGSERVICE: "other",
        PGHOSTADDR: "127.0.0.2",
        PGOPTIONS: "-c search_path=nowhere",
        PGSSLMODE: "require", // the test server has no TLS (ssl=off): strata connected without it
        PGGSSENCMODE: "require",
      });
      const url = new URL(chosen.url);
      url.port = "";
      process.env.PGPORT = "5999";
      try {
        // The URL without a port is 5432 for strata's connection: for its children too.
        const target = parseDatabaseUrl(url.toString());
        const backup = await backupDatabase(chosen.db, target, { out: out.path, format: "plain" });
        const dump = await readFile(backup.path, "utf8");
        assert.match(dump, /CREATE TABLE public\.organisations/);
        assert.doesNotMatch(dump, /only_in_other/);
        const custom = await backupDatabase(chosen.db, target, { out: out.path, now: new Date(5000) });
        await other.db.exec("CREATE TABLE still_in_other (id int)");
        await chosen.db.exec("CREATE TABLE made_after_backup (id int)");
        await restoreBackup(chosen.db, target, custom.path, { yes: true, replace: true });
        const tables = async (db: Database) =>
          (await db.query<{ name: string }>(
            "SELECT relname AS name FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1",
          )).map((r) => r.name);
        assert.ok(
          !(await tables(chosen.db)).includes("made_after_backup"),
          "the replace restore emptied the URL's database",
        );
        assert.ok((await tables(chosen.db)).includes("organisations"));
        assert.deepEqual(await tables(other.db), ["only_in_other", "still_in_other"]);
      } finally {
        for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
        Object.assign(process.env, saved);
        await out.remove();
      }
    });
  });
});

test("[postgres] a custom backup restores into a database whose name holds '=' and a quote", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const out = await tempDir("strata-backup-name-");
    const name = `strata_t_${process.pid}_a=b'c`;
    const admin = parseDatabaseUrl(TEST_DATABASE_URL);
    const { openDatabase } = await import("../../lib/io/open_database.ts");
    const server = (await openDatabase(admin.connectUrl)).db;
    try {
      await server.exec(`CREATE DATABASE "${name}"`);
      const url = new URL(TEST_DATABASE_URL);
      url.pathname = `/${encodeURIComponent(name)}`; // a%3Db: libpq decodes it, and so must strata
      const { db, url: target } = await openDatabase(url.toString());
      try {
        const backup = await backupDatabase(source.db, urlOf(source), { out: out.path });
        await restoreBackup(db, target, backup.path, { yes: true });
        const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM organisations");
        assert.ok(n > 0);
      } finally {
        await db.close();
      }
    } finally {
      await server.exec(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await server.close();
      await out.remove();
    }
  });
});

/** Objects of kinds a backup does not know, made in the target after the backup was taken. */
const LATER_OBJECTS = `
  CREATE TYPE later_mood AS ENUM ('ok');
  CREATE TABLE later_table (id int PRIMARY KEY, mood later_mood, org bigint REFERENCES organisations (id));
  CREATE VIEW later_view AS SELECT id FROM later_table;
  CREATE FUNCTION later_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
  CREATE SEQUENCE later_seq;
`;
const LATER_NAMES = ["later_fn", "later_mood", "later_seq", "later_table", "later_view"];

/** Which of LATER_OBJECTS exist in the current schema. */
async function laterObjects(db: Database): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class WHERE relkind <> 'i' AND relnamespace = current_schema()::regnamespace AND relname LIKE 'later\\_%'
     UNION SELECT proname FROM pg_proc WHERE pronamespace = current_schema()::regnamespace AND proname LIKE 'later\\_%'
     UNION SELECT typname FROM pg_type WHERE typnamespace = current_schema()::regnamespace AND typname = 'later_mood'
     ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

/** A database with tables and rows of its own: the app's schema, one more organisation. */
async function occupied(db: Database): Promise<void> {
  await populateApp(db);
  await db.exec("INSERT INTO organisations (slug, name) VALUES ('extra', 'Extra')");
}

for (const backend of BACKENDS) {
  const format: BackupFormat = backend === "pglite" ? "plain" : "custom";

  test(`[${backend}] restore into a database that has tables refuses without yes, asks when it can, and replaces with yes and clean`, async (t) => {
    await withDatabase(t, backend, async (source) => {
      await populateApp(source.db);
      const before = await snapshot(source.db);
      const out = await tempDir("strata-backup-");
      try {
        const backup = await backupDatabase(source.db, urlOf(source), { out: out.path, format });
        await withDatabase(t, backend, async (target) => {
          await occupied(target.db);
          const own = await snapshot(target.db);
          await assert.rejects(restoreBackup(target.db, urlOf(target), backup.path), (error) => {
            assertCode("ABORTED")(error);
            assert.match((error as StrataError).message, /already has \d+ table\(s\)/);
            assert.match((error as StrataError).hint ?? "", /-yes/);
            return true;
          });
          const questions: string[] = [];
          await assert.rejects(
            restoreBackup(target.db, urlOf(target), backup.path, {
              confirm: (question) => (questions.push(question), Promise.resolve(false)),
            }),
            assertCode("ABORTED"),
          );
          assert.equal(questions.length, 1);
          assert.match(questions[0], /\[y\/N\]$/);
          assert.deepEqual(await snapshot(target.db), own, "a refused restore changes nothing");

          const restored = await restoreBackup(target.db, urlOf(target), backup.path, { yes: true, clean: true });
          assert.ok(restored.existingTables >= 4);
          assert.deepEqual(await snapshot(target.db), before);
          await assertAlive(target.db);
        });
      } finally {
        await out.remove();
      }
    });
  });

  test(`[${backend}] a backup with one byte appended is BACKUP_CORRUPT and the target is not touched`, async (t) => {
    await withDatabase(t, backend, async (source) => {
      await populateApp(source.db);
      const out = await tempDir("strata-backup-");
      try {
        const backup = await backupDatabase(source.db, urlOf(source), { out: out.path, format });
        await appendFile(backup.path, "\n");
        await assert.rejects(verifyBackup(backup.path), assertCode("BACKUP_CORRUPT"));
        await withDatabase(t, backend, async (target) => {
          await occupied(target.db);
          const own = await snapshot(target.db);
          await assert.rejects(
            restoreBackup(target.db, urlOf(target), backup.path, { yes: true, clean: true }),
            (error) => {
              assertCode("BACKUP_CORRUPT")(error);
              assert.ok((error as StrataError).message.includes(basename(backup.path)));
              return true;
            },
          );
          assert.deepEqual(await snapshot(target.db), own);
        });
      } finally {
        await out.remove();
      }
    });
  });

  test(`[${backend}] a plain restore that fails part-way (a view depends on a table it drops) leaves the target as it was`, async (t) => {
    await withDatabase(t, backend, async (source) => {
      await populateApp(source.db);
      const out = await tempDir("strata-backup-");
      try {
        const backup = await backupDatabase(source.db, urlOf(source), { out: out.path, format: "plain" });
        await withDatabase(t, backend, async (target) => {
          await occupied(target.db);
          await target.db.exec("CREATE VIEW organisation_names AS SELECT name FROM organisations");
          const own = await snapshot(target.db);
          await assert.rejects(
            restoreBackup(target.db, urlOf(target), backup.path, { yes: true, clean: true }),
            assertCode("RESTORE_FAILED"),
          );
          assert.deepEqual(await snapshot(target.db), own);
          const [{ n }] = await target.db.query<{ n: number }>("SELECT count(*)::int AS n FROM organisation_names");
          assert.equal(n, 3);
          await assertAlive(target.db, "43");
        });
      } finally {
        await out.remove();
      }
    });
  });

  test(`[${backend}] restore with replace empties the current schema in its transaction: what was made after the backup goes too`, async (t) => {
    await withDatabase(t, backend, async (source) => {
      await populateApp(source.db);
      const before = await snapshot(source.db);
      const out = await tempDir("strata-backup-");
      try {
        for (const format of formatsFor(backend).filter((f) => f !== "directory")) {
          const backup = await backupDatabase(source.db, urlOf(source), { out: out.path, format });
          await withDatabase(t, backend, async (target) => {
            await occupied(target.db);
            await target.db.exec(LATER_OBJECTS);
            const restored = await restoreBackup(target.db, urlOf(target), backup.path, { yes: true, replace: true });
            assert.ok((restored.dropped ?? 0) >= 8, `${format}: dropped ${restored.dropped}`);
            assert.deepEqual(await snapshot(target.db), before, format);
            assert.deepEqual(await laterObjects(target.db), [], `${format}: objects made after the backup are gone`);
            await assertAlive(target.db);
          });
        }
      } finally {
        await out.remove();
      }
    });
  });

  test(`[${backend}] a replace restore whose script fails at its last statement leaves the schema as it was, later objects too`, async (t) => {
    await withDatabase(t, backend, async (source) => {
      await populateApp(source.db);
      const out = await tempDir("strata-backup-");
      try {
        const backup = await backupDatabase(source.db, urlOf(source), { out: out.path, format: "plain" });
        // A copy without strata's checksum (a hand-made file), failing after everything else ran.
        const failing = join(out.path, "hand_made.sql");
        const whole = await readFile(backup.path, "utf8");
        await writeFile(failing, whole.replace(/\n--\n-- PostgreSQL database dump complete/, "\nSELECT 1 / 0;\n$&"));
        await withDatabase(t, backend, async (target) => {
          await occupied(target.db);
          await target.db.exec(LATER_OBJECTS);
          const own = await snapshot(target.db);
          await assert.rejects(
            restoreBackup(target.db, urlOf(target), failing, { yes: true, replace: true }),
            (error) => {
              assertCode("RESTORE_FAILED")(error);
              assert.match((error as StrataError).message, /division by zero/);
              assert.match(
                (error as StrataError).hint ?? "",
                /as it was before \(the current schema was not emptied either\)/,
              );
              return true;
            },
          );
          assert.deepEqual(await snapshot(target.db), own);
          assert.deepEqual(await laterObjects(target.db), LATER_NAMES);
          await assertAlive(target.db, "43");
        });
      } finally {
        await out.remove();
      }
    });
  });
}

test("[postgres] a custom restore without clean into a database with a conflicting table fails as RESTORE_FAILED and changes nothing", async (t) => {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    const out = await tempDir("strata-backup-");
    try {
      const backup = await backupDatabase(source.db, urlOf(source), { out: out.path, format: "custom" });
      await withDatabase(t, "postgres", async (target) => {
        await target.db.exec(`
          CREATE TABLE organisations (id int PRIMARY KEY, label text);
          INSERT INTO organisations VALUES (1, 'mine'), (2, 'also mine');
          CREATE TABLE unrelated (id int);
        `);
        await assert.rejects(
          restoreBackup(target.db, urlOf(target), backup.path, { yes: true }),
          (error) => {
            assertCode("RESTORE_FAILED")(error);
            assert.match((error as StrataError).hint ?? "", /-clean/);
            return true;
          },
        );
        const rows = await target.db.query<{ id: number; label: string }>(
          "SELECT id, label FROM organisations ORDER BY id",
        );
        assert.deepEqual(rows, [{ id: 1, label: "mine" }, { id: 2, label: "also mine" }]);
        const tables = await target.db.query<{ name: string }>(
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        );
        assert.deepEqual(tables.map((r) => r.name), ["organisations", "unrelated"]);
      });
    } finally {
      await out.remove();
    }
  });
});

/**
 * A custom backup of the app with 100,000 rows more: more output than a pipe holds, so
 * pg_restore is still writing when psql stops, or has written DDL and data before a cut.
 */
async function withBulkCustomBackup(
  t: { skip(message?: string): void },
  fn: (backup: BackupResult, out: string) => Promise<void>,
): Promise<void> {
  await withDatabase(t, "postgres", async (source) => {
    await populateApp(source.db);
    await source.db.exec("CREATE TABLE bulk AS SELECT g AS id, md5(g::text) AS t FROM generate_series(1, 100000) g");
    const out = await tempDir("strata-backup-");
    try {
      await fn(await backupDatabase(source.db, urlOf(source), { out: out.path, format: "custom" }), out.path);
    } finally {
      await out.remove();
    }
  });
}

test("[postgres] a replace restore of a custom dump cut short is RESTORE_FAILED naming pg_restore, and the drops it ran are rolled back", async (t) => {
  await withBulkCustomBackup(t, async (backup, out) => {
    const whole = await readFile(backup.path);
    const cut = join(out, "cut_short.dump"); // no checksum beside it: not verified
    await writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    await withDatabase(t, "postgres", async (target) => {
      await occupied(target.db);
      await target.db.exec(LATER_OBJECTS);
      const own = await snapshot(target.db);
      const pids: number[] = [];
      await assert.rejects(
        restoreBackup(target.db, urlOf(target), cut, { yes: true, replace: true, onSpawn: (pid) => pids.push(pid) }),
        (error) => {
          assertCode("RESTORE_FAILED")(error);
          assert.match((error as StrataError).message, /^pg_restore failed/);
          return true;
        },
      );
      assert.equal(pids.length, 2, "pg_restore and psql ran");
      assert.deepEqual(await snapshot(target.db), own);
      assert.deepEqual(await laterObjects(target.db), LATER_NAMES);
      const [{ bulk }] = await target.db.query<{ bulk: string | null }>("SELECT to_regclass('bulk')::text AS bulk");
      assert.equal(bulk, null, "nothing of the backup was committed");
    });
  });
});

test("[postgres] a replace restore whose psql fails at once reports psql's error and does not hang on pg_restore's output", async (t) => {
  await withBulkCustomBackup(t, async (backup) => {
    await withDatabase(t, "postgres", async (target) => {
      await occupied(target.db);
      const own = await snapshot(target.db);
      const name = new URL(target.url).pathname.slice(1);
      // New sessions (psql's) are read-only: its first DROP fails.
      await target.db.exec(`ALTER DATABASE "${name}" SET default_transaction_read_only = on`);
      await assert.rejects(
        restoreBackup(target.db, urlOf(target), backup.path, { yes: true, replace: true }),
        (error) => {
          assertCode("RESTORE_FAILED")(error);
          assert.match((error as StrataError).message, /^psql failed, .*read-only transaction/);
          return true;
        },
      );
      assert.deepEqual(await snapshot(target.db), own);
    });
  });
});

test("removeNewerSettings takes SET transaction_timeout out of a script's header only", () => {
  const header = "--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\nBEGIN;\n\nSET statement_timeout = 0;\n" +
    "SET transaction_timeout = 0;\nSET lock_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n";
  const body = "CREATE TABLE a (id int);\nSET transaction_timeout = 0;\n";
  assert.equal(
    removeNewerSettings(header + body),
    header.replace("SET transaction_timeout = 0;\n", "") + body,
  );
  assert.equal(removeNewerSettings(body), body, "after the first statement it is the script's own");
  assert.equal(removeNewerSettings("SET lock_timeout = 0;\n"), "SET lock_timeout = 0;\n");
});

test("findPgProgram names both versions and how to install a newer client when pg_dump is older than the server", async () => {
  await assert.rejects(findPgProgram("pg_dump", 99), (error) => {
    assertCode("COMMAND_FAILED")(error);
    const e = error as StrataError;
    assert.match(e.message, /^pg_dump \d+\.\d+ is older than the PostgreSQL 99 server/);
    assert.match(e.hint ?? "", /postgresql-client-99/);
    assert.match(e.hint ?? "", /STRATA_PG_BIN/);
    return true;
  });
});

test("findPgProgram runs Debian's versioned pg_dump directly, not the pg_wrapper script on PATH", async (t) => {
  const onPath = (process.env.PATH ?? "").split(":").map((dir) => join(dir, "pg_dump")).find((p) => existsSync(p));
  if (!onPath || !realpathSync(onPath).endsWith("/pg_wrapper")) {
    t.skip("PATH's pg_dump is not Debian's pg_wrapper on this machine");
    return;
  }
  const program = await findPgProgram("pg_dump", 0);
  assert.match(program.path, /^\/usr\/lib\/postgresql\/\d+\/bin\/pg_dump$/);
  const newest = readdirSync("/usr/lib/postgresql").filter((v) => /^\d+$/.test(v)).map(Number).sort((a, b) => b - a)[0];
  assert.equal(program.major, newest);
});

test("a missing client program is COMMAND_FAILED with how to install PostgreSQL's client", async () => {
  await assert.rejects(runProgram("strata-test-no-such-pg_dump", ["--version"]), (error) => {
    assertCode("COMMAND_FAILED")(error);
    assert.match((error as StrataError).message, /not found/);
    assert.match((error as StrataError).hint ?? "", /apt install postgresql-client/);
    return true;
  });
});

/** A copy of migrations/ plus extra files, in a temporary folder. */
async function migrationsWith(extra: Record<string, string>): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await tempDir("strata-deploy-migrations-");
  await copyMigrationsWith(dir.path, extra);
  return dir;
}

for (const backend of BACKENDS) {
  test(`[${backend}] deploy with nothing pending stops before taking a backup`, async (t) => {
    await withDatabase(t, backend, async (source) => {
      await populateApp(source.db);
      const out = await tempDir("strata-deploy-");
      try {
        const lines: string[] = [];
        const result = await deploy(source.db, urlOf(source), appMigrator(source.db), {
          backup: { out: join(out.path, "backups") },
          log: (line) => lines.push(line),
        });
        assert.equal(result.noChange, true);
        assert.equal(result.backup, undefined);
        assert.equal(result.run, undefined);
        assert.deepEqual(await readdir(out.path), [], "no backups folder, no file");
        assert.match(lines.join("\n"), /nothing to deploy, no backup taken/);
      } finally {
        await out.remove();
      }
    });
  });

  test(
    `[${backend}] deploy whose only pending migration fails in its transaction changes nothing and asks for no restore`,
    async (t) => {
      await withDatabase(t, backend, async (source) => {
        await populateApp(source.db);
        const before = await snapshot(source.db);
        const dir = await migrationsWith({ "000005_break.up.sql": FAILING_IN_TRANSACTION });
        const out = await tempDir("strata-deploy-");
        const lines: string[] = [];
        try {
          const result = await deploy(source.db, urlOf(source), appMigrator(source.db, dir.path), {
            backup: { out: out.path },
            restoreOnFailure: true,
            log: (line) => lines.push(line),
          });
          assert.equal(result.noChange, false);
          assert.equal(result.error?.code, "MIGRATION_FAILED");
          assert.equal(result.restored, false, "a transaction rolled it back: nothing to restore");
          assert.ok(result.backup);
          assert.equal(result.restoreCommand, undefined);
          assert.equal(result.revertCommand, undefined);
          assert.match(
            lines.join("\n"),
            /Nothing changed: 000005_break\.up\.sql was rolled back .* version 4, .*no restore is needed/,
          );
          assert.deepEqual(result.backup.migrationVersion, { version: "4", dirty: false });
          await verifyBackup(result.backup.path);
          // Sequences are not transactional: the failed INSERT used a value, so only rows are compared.
          assert.deepEqual((await snapshot(source.db)).rows, before.rows);
          const [{ leftover }] = await source.db.query<{ leftover: string | null }>(
            "SELECT to_regclass('deploy_leftover')::text AS leftover",
          );
          assert.equal(leftover, null);
        } finally {
          await out.remove();
          await dir.remove();
        }
      });
    },
  );

  test(
    `[${backend}] deploy that applies 5 and fails at 6 gives a goto back and a restore that leaves nothing of 5`,
    async (t) => {
      await withDatabase(t, backend, async (source) => {
        await populateApp(source.db);
        const before = await snapshot(source.db);
        const dir = await migrationsWith({ ...APPLIED_FIVE, "000006_break.up.sql": FAILING_IN_TRANSACTION });
        const out = await tempDir("strata-deploy-");
        try {
          const migrator = appMigrator(source.db, dir.path);
          const result = await deploy(source.db, urlOf(source), migrator, { backup: { out: out.path } });
          assert.equal(result.error?.code, "MIGRATION_FAILED");
          assert.deepEqual(result.run?.to, { version: 5n, dirty: false });
          assert.ok(result.backup);
          assert.equal(result.revertCommand, "strata goto 4");
          assert.equal(result.restoreCommand, `strata restore ${result.backup.path} -yes -replace`);
          const applied = async () =>
            (await source.db.query<{ t: string | null }>("SELECT to_regclass('deploy_applied')::text AS t"))[0].t;
          assert.equal(await applied(), "deploy_applied");

          // The way back with the down files.
          assert.equal((await migrator.goto(4n)).error, undefined);
          assert.equal(await applied(), null);
          assert.deepEqual((await snapshot(source.db)).rows, before.rows);

          // The printed restore empties the current schema in its transaction. A restore over
          // the database alone would keep migration 5's table with the version back at 4.
          assert.equal((await migrator.up({ limit: 1 })).error, undefined);
          await source.db.exec("DELETE FROM users");
          await restoreBackup(source.db, urlOf(source), result.backup.path, { yes: true, replace: true });
          assert.equal(await applied(), null);
          assert.deepEqual(await snapshot(source.db), before);
          assert.deepEqual(await migrator.version(), { version: 4n, dirty: false });
        } finally {
          await out.remove();
          await dir.remove();
        }
      });
    },
  );

  test(
    `[${backend}] deploy interrupted between two files says so, not that a file was rolled back, and offers goto back`,
    async (t) => {
      await withDatabase(t, backend, async (source) => {
        await populateApp(source.db);
        const dir = await migrationsWith({
          ...APPLIED_FIVE,
          "000006_more.up.sql": "CREATE TABLE deploy_more (id int);\n",
          "000006_more.down.sql": "DROP TABLE deploy_more;\n",
        });
        const out = await tempDir("strata-deploy-");
        const stop = new AbortController();
        const lines: string[] = [];
        try {
          const migrator = new Migrator(source.db, {
            source: directorySource(dir.path),
            lockTimeoutMs: 5000,
            signal: stop.signal,
            onEvent: (event) => {
              if (event.type === "migration" && event.result.version === 5n) stop.abort();
            },
          });
          const result = await deploy(source.db, urlOf(source), migrator, {
            backup: { out: out.path },
            log: (line) => lines.push(line),
          });
          assert.equal(result.error?.code, "INTERRUPTED");
          assert.deepEqual(result.run?.to, { version: 5n, dirty: false });
          assert.match(
            lines.join("\n"),
            /the deploy was interrupted between two files; applied before it and kept: 000005_applied\.up\.sql \(version 5\)/,
          );
          assert.doesNotMatch(lines.join("\n"), /rolled back/);
          assert.equal(result.revertCommand, "strata goto 4");
        } finally {
          await out.remove();
          await dir.remove();
        }
      });
    },
  );

  test(
    `[${backend}] deploy with restoreOnFailure puts back what it applied and what failed outside a transaction: version 4, rows, no table of 5`,
    async (t) => {
      await withDatabase(t, backend, async (source) => {
        await populateApp(source.db);
        const before = await snapshot(source.db);
        const dir = await migrationsWith({ ...APPLIED_FIVE, "000006_break.up.sql": FAILING_OUTSIDE_TRANSACTION });
        const out = await tempDir("strata-deploy-");
        try {
          const lines: string[] = [];
          const result = await deploy(source.db, urlOf(source), appMigrator(source.db, dir.path), {
            backup: { out: out.path },
            restoreOnFailure: true,
            log: (line) => lines.push(line),
          });
          assert.equal(result.error?.code, "MIGRATION_FAILED");
          assert.deepEqual(result.run?.to, { version: 6n, dirty: true });
          assert.equal(result.restored, true);
          assert.match(
            lines.join("\n"),
            /Restored: the database is back at version 4, as before the deploy \(\d+ object\(s\) of the current schema dropped first, in the same transaction; anything 000005_applied\.up\.sql, 000006_break\.up\.sql made in other schemas stays\)/,
          );
          assert.equal(result.restoreCommand, undefined);
          assert.deepEqual(await versionRow(source.db), { version: "4", dirty: false });
          assert.deepEqual(await snapshot(source.db), before);
          const [{ applied }] = await source.db.query<{ applied: string | null }>(
            "SELECT to_regclass('deploy_applied')::text AS applied",
          );
          assert.equal(applied, null, "migration 5's table went with the restore");
          assert.deepEqual(await appMigrator(source.db, dir.path).version(), { version: 4n, dirty: false });
        } finally {
          await out.remove();
          await dir.remove();
        }
      });
    },
  );
}

/** A plain dump as `pg_dump DB > file.sql` writes it, without --clean: it only creates. */
const PLAIN_WITHOUT_CLEAN = `--
-- PostgreSQL database dump
--

SET statement_timeout = 0;

CREATE TABLE public.organisations (id integer, name text);

--
-- PostgreSQL database dump complete
--
`;

for (const backend of BACKENDS) {
  test(`[${backend}] a plain pg_dump made without --clean, restored over its tables, fails pointing at -replace, which then restores it`, async (t) => {
    await withDatabase(t, backend, async (target) => {
      await occupied(target.db);
      const own = await snapshot(target.db);
      const out = await tempDir("strata-backup-");
      try {
        const file = join(out.path, "backup_20240101_120000.sql");
        await writeFile(file, PLAIN_WITHOUT_CLEAN);
        await assert.rejects(restoreBackup(target.db, urlOf(target), file, { yes: true }), (error) => {
          assertCode("RESTORE_FAILED")(error);
          assert.match((error as StrataError).message, /relation "organisations" already exists/);
          assert.match((error as StrataError).hint ?? "", /as it was before/);
          assert.match((error as StrataError).hint ?? "", /-replace/);
          return true;
        });
        assert.deepEqual(await snapshot(target.db), own);
        await restoreBackup(target.db, urlOf(target), file, { yes: true, replace: true });
        const tables = await target.db.query<{ name: string }>(
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        );
        assert.deepEqual(tables.map((r) => r.name), ["organisations"]);
      } finally {
        await out.remove();
      }
    });
  });
}

test("[pglite] a plain restore that fails names the dump's line: a statement the server gives no position in, a column it points at, a syntax error, a COPY row", async (t) => {
  const head = [
    "--", // 1
    "-- PostgreSQL database dump", // 2
    "--", // 3
    "SET statement_timeout = 0;", // 4
    "", // 5
    "CREATE TABLE public.t1 (id integer);", // 6
    "COPY public.t1 (id) FROM stdin;", // 7
    "1", // 8
    "\\.", // 9
    "", // 10
    "CREATE TABLE public.t2 (id integer);", // 11
  ];
  const cases: Array<[string, string[], RegExp]> = [
    ["no position", ["CREATE TABLE public.t1 (id integer);"], /line 12\b.*relation "t1" already exists/],
    ["a column", ["CREATE VIEW public.v AS", "  SELECT id,", "    nope FROM public.t1;"], /line 14\b.*column "nope"/],
    [
      "syntax",
      ["CREATE TABLE public.t3 (id integer);", "", "CREATE TABEL public.t4 (id integer);"],
      /line 14\b.*syntax/,
    ],
    ["a COPY row", ["COPY public.t2 (id) FROM stdin;", "5", "five", "\\."], /line 14\b.*invalid input syntax/],
  ];
  await withDatabase(t, "pglite", async (target) => {
    const out = await tempDir("strata-backup-");
    try {
      for (const [what, tail, expected] of cases) {
        const file = join(out.path, "hand_made.sql");
        await writeFile(file, [...head, ...tail, ""].join("\n") + DUMP_END);
        await assert.rejects(restoreBackup(target.db, urlOf(target), file, { yes: true }), (error) => {
          assertCode("RESTORE_FAILED")(error);
          assert.match((error as StrataError).message, /^Restoring hand_made\.sql failed at /, what);
          assert.match((error as StrataError).message, expected, what);
          return true;
        });
        const tables = await target.db.query("SELECT 1 FROM pg_tables WHERE schemaname = 'public'");
        assert.equal(tables.length, 0, `${what}: nothing restored`);
      }
    } finally {
      await out.remove();
    }
  });
});

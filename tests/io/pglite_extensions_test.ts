/**
 * The embedded PGlite runs the contrib extensions a project's migrations create, and keeps
 * them working when the folder is opened again by the next command.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { extensionsUsedIn } from "../../lib/io/pglite_extensions.ts";
import { runStrata } from "../_support/run_strata.ts";
import { tempDir } from "../_support/backends.ts";

const FILES: Record<string, string> = {
  "1_ext.up.sql": 'CREATE EXTENSION IF NOT EXISTS pgcrypto;\nCREATE EXTENSION IF NOT EXISTS "uuid-ossp";\n' +
    "create extension citext;\n" +
    "CREATE TABLE acct (id uuid PRIMARY KEY DEFAULT uuid_generate_v4(), email citext UNIQUE, pw text);\n",
  "1_ext.down.sql": 'DROP TABLE acct; DROP EXTENSION citext; DROP EXTENSION "uuid-ossp"; DROP EXTENSION pgcrypto;\n',
  "2_row.up.sql": "INSERT INTO acct (email, pw) VALUES ('Ann@Example.io', crypt('pw', gen_salt('bf', 4)));\n",
  "2_row.down.sql": "DELETE FROM acct;\n",
};

test("extensionsUsedIn finds CREATE EXTENSION names in migrations and seeds, quoted or not, any case", async () => {
  const dir = await tempDir("strata-ext-");
  try {
    await mkdir(join(dir.path, "migrations"));
    await mkdir(join(dir.path, "seeds", "dev"), { recursive: true });
    for (const [name, text] of Object.entries(FILES)) await writeFile(join(dir.path, "migrations", name), text);
    await writeFile(join(dir.path, "seeds", "dev", "1.sql"), "CREATE EXTENSION IF NOT EXISTS pg_trgm;");
    assert.deepEqual(
      await extensionsUsedIn([join(dir.path, "migrations"), join(dir.path, "seeds"), join(dir.path, "missing")]),
      ["citext", "pg_trgm", "pgcrypto", "uuid-ossp"],
    );
  } finally {
    await dir.remove();
  }
});

test("on the embedded PGlite, migrations using pgcrypto, uuid-ossp and citext apply, and the next command reopens it", async () => {
  const dir = await tempDir("strata-ext-");
  try {
    await mkdir(join(dir.path, "migrations"));
    for (
      const [name, text] of Object.entries({
        "1_ext.up.sql": FILES["1_ext.up.sql"],
        "1_ext.down.sql": FILES["1_ext.down.sql"],
      })
    ) {
      await writeFile(join(dir.path, "migrations", name), text);
    }
    const database = ["-database", `pglite://${join(dir.path, "db")}`];
    const first = await runStrata([...database, "up"], dir.path);
    assert.equal(first.code, 0, first.stderr);
    // A later command opens the folder again, with the extensions' functions in use.
    await writeFile(join(dir.path, "migrations", "2_row.up.sql"), FILES["2_row.up.sql"]);
    await writeFile(join(dir.path, "migrations", "2_row.down.sql"), FILES["2_row.down.sql"]);
    const second = await runStrata([...database, "up"], dir.path);
    assert.equal(second.code, 0, second.stderr);
    assert.equal((await runStrata([...database, "version"], dir.path)).stdout.trim(), "2");
  } finally {
    await dir.remove();
  }
});

test("a plain backup that creates pgcrypto restores into a new PGlite folder with no migrations beside it", async () => {
  const dir = await tempDir("strata-ext-");
  try {
    const project = join(dir.path, "project");
    const elsewhere = join(dir.path, "elsewhere");
    await mkdir(join(project, "migrations"), { recursive: true });
    await mkdir(elsewhere);
    for (const name of ["1_ext.up.sql", "1_ext.down.sql", "2_row.up.sql", "2_row.down.sql"]) {
      await writeFile(join(project, "migrations", name), FILES[name]);
    }
    const source = ["-database", `pglite://${join(project, "db")}`];
    assert.equal((await runStrata([...source, "up"], project)).code, 0);
    const backup = await runStrata([...source, "backup", "-out", "backups"], project);
    assert.equal(backup.code, 0, backup.stderr);
    const file = backup.stdout.trim();

    const target = ["-database", `pglite://${join(elsewhere, "db")}`];
    const restored = await runStrata([...target, "restore", file, "-yes"], elsewhere);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal((await runStrata([...target, "version"], elsewhere)).stdout.trim(), "2");
  } finally {
    await dir.remove();
  }
});

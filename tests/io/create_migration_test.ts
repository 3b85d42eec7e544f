import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMigration, formatGoTime } from "../../lib/io/create_migration.ts";
import { isStrataError } from "../../lib/db/strata_error.ts";

const NOW = new Date("2024-01-31T15:04:05.123Z");

async function withTempDir(run: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "strata-create-"));
  try {
    await run(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function strataError(code: string, message: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(isStrataError(error), `expected a StrataError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  };
}

test("createMigration names files with the default timestamp layout in UTC", async () => {
  await withTempDir(async (dir) => {
    const created = await createMigration("add_users", { dir, now: NOW });
    assert.equal(created.version, "20240131150405");
    assert.equal(created.up, join(dir, "20240131150405_add_users.up.sql"));
    assert.equal(created.down, join(dir, "20240131150405_add_users.down.sql"));
    assert.equal(await readFile(created.up, "utf8"), "");
    assert.equal(await readFile(created.down, "utf8"), "");
  });
});

test("createMigration with seq continues after the highest existing version", async () => {
  await withTempDir(async (dir) => {
    for (let n = 1; n <= 14; n++) {
      const version = String(n).padStart(6, "0");
      await writeFile(join(dir, `${version}_step.up.sql`), "");
      await writeFile(join(dir, `${version}_step.down.sql`), "");
    }
    await writeFile(join(dir, "README.md"), "notes");
    await writeFile(join(dir, "000099_notes.up.txt"), "");
    const created = await createMigration("next", { dir, seq: true });
    assert.equal(created.version, "000015");
    assert.equal(created.up, join(dir, "000015_next.up.sql"));
  });
});

test("createMigration with seq strips a leading dot from ext and only counts that extension", async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, "7_a.up.sql"), "");
    await writeFile(join(dir, "3_a.up.cql"), "");
    const created = await createMigration("b", { dir, seq: true, ext: ".cql", digits: 2 });
    assert.equal(created.version, "04");
    assert.equal(created.down, join(dir, "04_b.down.cql"));
  });
});

test("createMigration with seq starts at 000001 and creates a missing folder", async () => {
  await withTempDir(async (root) => {
    const dir = join(root, "db", "migrations");
    const created = await createMigration("init", { dir, seq: true });
    assert.equal(created.version, "000001");
    assert.deepEqual((await readdir(dir)).sort(), ["000001_init.down.sql", "000001_init.up.sql"]);
  });
});

test("createMigration with seq in an empty folder starts at 1 padded to digits", async () => {
  await withTempDir(async (dir) => {
    const created = await createMigration("init", { dir, seq: true, digits: 3 });
    assert.equal(created.version, "001");
  });
});

test("createMigration refuses a sequence number longer than digits", async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, "999_last.up.sql"), "");
    await assert.rejects(
      createMigration("more", { dir, seq: true, digits: 3 }),
      strataError("USAGE", /^Next sequence number 1000 is longer than -digits 3$/),
    );
    assert.deepEqual(await readdir(dir), ["999_last.up.sql"]);
  });
});

test("createMigration never overwrites and leaves no half-created pair", async () => {
  await withTempDir(async (dir) => {
    const down = join(dir, "20240131150405_x.down.sql");
    await writeFile(down, "DROP TABLE x;");
    await assert.rejects(
      createMigration("x", { dir, now: NOW }),
      strataError("COMMAND_FAILED", /^Cannot create .*20240131150405_x\.down\.sql: the file already exists$/),
    );
    assert.deepEqual(await readdir(dir), ["20240131150405_x.down.sql"]);
    assert.equal(await readFile(down, "utf8"), "DROP TABLE x;");
  });
});

test("createMigration refuses an existing up file without touching it", async () => {
  await withTempDir(async (dir) => {
    const up = join(dir, "20240131150405_x.up.sql");
    await writeFile(up, "CREATE TABLE x ();");
    await assert.rejects(
      createMigration("x", { dir, now: NOW }),
      strataError("COMMAND_FAILED", /^Cannot create .*20240131150405_x\.up\.sql: the file already exists$/),
    );
    assert.deepEqual(await readdir(dir), ["20240131150405_x.up.sql"]);
    assert.equal(await readFile(up, "utf8"), "CREATE TABLE x ();");
  });
});

test("createMigration refuses a timestamp version another migration already uses", async () => {
  await withTempDir(async (dir) => {
    await writeFile(join(dir, "20240131150405_other.up.sql"), "");
    await assert.rejects(
      createMigration("x", { dir, now: NOW }),
      strataError("COMMAND_FAILED", /version 20240131150405 is already used by 20240131150405_other\.up\.sql$/),
    );
    assert.deepEqual(await readdir(dir), ["20240131150405_other.up.sql"]);
  });
});

test("createMigration with format unix uses seconds since the epoch", async () => {
  await withTempDir(async (dir) => {
    const created = await createMigration("a", { dir, now: NOW, format: "unix" });
    assert.equal(created.version, "1706713445");
  });
});

test("createMigration with format unixNano uses nanoseconds since the epoch", async () => {
  await withTempDir(async (dir) => {
    const created = await createMigration("a", { dir, now: NOW, format: "unixNano" });
    assert.equal(created.version, "1706713445123000000");
  });
});

test("createMigration with tz America/New_York formats the local wall clock", async () => {
  await withTempDir(async (dir) => {
    const created = await createMigration("a", { dir, now: NOW, tz: "America/New_York" });
    assert.equal(created.version, "20240131100405");
  });
});

test("createMigration rejects an unknown time zone as a usage error", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      createMigration("a", { dir, now: NOW, tz: "Mars/Olympus_Mons" }),
      strataError("USAGE", /^Unknown time zone: Mars\/Olympus_Mons$/),
    );
    assert.deepEqual(await readdir(dir), []);
  });
});

test("createMigration rejects an empty name or one with a path separator", async () => {
  await withTempDir(async (dir) => {
    for (const name of ["", "a/b", "..\\evil"]) {
      await assert.rejects(createMigration(name, { dir, now: NOW }), strataError("USAGE", /name/));
    }
    assert.deepEqual(await readdir(dir), []);
  });
});

test("createMigration rejects seq together with a non-default format", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      createMigration("a", { dir, seq: true, format: "unix" }),
      strataError("USAGE", /-seq and -format .*mutually exclusive/),
    );
    const created = await createMigration("a", { dir, seq: true, format: "20060102150405" });
    assert.equal(created.version, "000001");
  });
});

test("createMigration rejects digits that are not a positive integer", async () => {
  await withTempDir(async (dir) => {
    for (const digits of [0, -1, 2.5]) {
      await assert.rejects(createMigration("a", { dir, seq: true, digits }), strataError("USAGE", /-digits/));
    }
  });
});

test("formatGoTime formats an RFC 3339 layout with milliseconds and a Z offset", () => {
  const date = new Date("2024-03-05T07:08:09.120Z");
  assert.equal(formatGoTime(date, "2006-01-02T15:04:05.000Z07:00", "UTC"), "2024-03-05T07:08:09.120Z");
  assert.equal(
    formatGoTime(date, "2006-01-02T15:04:05.000Z07:00", "America/New_York"),
    "2024-03-05T02:08:09.120-05:00",
  );
  assert.equal(
    formatGoTime(date, "2006-01-02 15:04:05.999999999 -0700", "Asia/Kolkata"),
    "2024-03-05 12:38:09.12 +0530",
  );
});

test("formatGoTime formats the kitchen-style tokens with padded day and 12-hour clock", () => {
  const date = new Date("2024-03-05T17:04:09Z");
  assert.equal(formatGoTime(date, "Jan _2 3:04PM", "UTC"), "Mar  5 5:04PM");
  assert.equal(formatGoTime(date, "Monday, January 2 06 03:4:5 pm MST", "UTC"), "Tuesday, March 5 24 05:4:9 pm UTC");
  assert.equal(formatGoTime(date, "Mon Jan 2 15:04:05 MST 2006", "America/New_York"), "Tue Mar 5 12:04:09 EST 2024");
  assert.equal(formatGoTime(new Date("2024-07-05T04:00:00Z"), "3PM MST -07", "America/New_York"), "12AM EDT -04");
});

test("formatGoTime drops an all-zero 9 fraction and keeps the rest literal", () => {
  const date = new Date("2024-12-31T23:59:59Z");
  assert.equal(formatGoTime(date, "05.999|05.000000|002|__2", "UTC"), "59|59.000000|366|366");
  assert.equal(formatGoTime(date, "Year: 2006, Month: 01 (Janx)", "UTC"), "Year: 2024, Month: 12 (Janx)");
  assert.equal(formatGoTime(date, "_2006", "UTC"), "_2024");
});

test("formatGoTime rejects an unknown time zone", () => {
  assert.throws(
    () => formatGoTime(NOW, "2006", "Nowhere/City"),
    strataError("USAGE", /^Unknown time zone: Nowhere\/City$/),
  );
});

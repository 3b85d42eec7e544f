import assert from "node:assert/strict";
import { test } from "node:test";
import { truncateIdentifier } from "../../lib/db/truncate_identifier.ts";
import { BACKENDS, withDatabase } from "../_support/backends.ts";

const bytes = (text: string) => new TextEncoder().encode(text).length;

/** ASCII and 2-, 3- and 4-byte characters across the 63-byte line, and names well under it. */
const NAMES = [
  "schema_migrations",
  "",
  "v".repeat(62),
  "v".repeat(63),
  "v".repeat(64),
  "v".repeat(70),
  "é".repeat(31),
  "é".repeat(32),
  `v${"é".repeat(31)}`,
  `v${"é".repeat(32)}`,
  "迁".repeat(21),
  "迁".repeat(22),
  `vv${"迁".repeat(21)}`,
  "🐘".repeat(15),
  "🐘".repeat(16),
  `vvv${"🐘".repeat(15)}`,
  `migrations_${"é".repeat(30)}_tail`,
];

test("truncateIdentifier keeps a name of up to 63 bytes and cuts a longer one to the whole characters that fit", () => {
  assert.equal(truncateIdentifier("schema_migrations"), "schema_migrations");
  assert.equal(truncateIdentifier("v".repeat(63)), "v".repeat(63));
  assert.equal(truncateIdentifier("v".repeat(70)), "v".repeat(63));
  assert.equal(truncateIdentifier("é".repeat(40)), "é".repeat(31), "62 bytes: a 32nd é would make 64");
  assert.equal(truncateIdentifier(`v${"é".repeat(40)}`), `v${"é".repeat(31)}`, "exactly 63 bytes");
  assert.equal(truncateIdentifier("迁".repeat(30)), "迁".repeat(21));
  assert.equal(truncateIdentifier("🐘".repeat(20)), "🐘".repeat(15), "a surrogate pair is never split");
  assert.equal(truncateIdentifier("v".repeat(60), 46), "v".repeat(46));
  for (const name of NAMES) {
    const cut = truncateIdentifier(name);
    assert.ok(bytes(cut) <= 63, name);
    assert.ok(name.startsWith(cut), name);
    assert.equal(truncateIdentifier(cut), cut, `cutting twice changes nothing: ${name}`);
  }
});

for (const backend of BACKENDS) {
  test(`truncateIdentifier names what the server stores for a quoted identifier, at every length and width [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      for (const [i, name] of NAMES.entries()) {
        if (name === "") continue;
        // The server cuts the identifier in the statement (with a NOTICE); the catalog holds what it kept.
        await db.exec(`CREATE TABLE "${name}" (id int)`);
        const rows = await db.query<{ name: string }>(
          "SELECT relname AS name FROM pg_catalog.pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'",
        );
        assert.deepEqual(rows.map((r) => r.name), [truncateIdentifier(name)], `name ${i}: ${name}`);
        await db.exec(`DROP TABLE "${name}"`);
      }
    });
  });
}

/**
 * The seeder on both backends: data seeds insert what is missing by natural key, leave or
 * (with `update`) reset what exists, count what they did, and spend no identity values on
 * rows that exist; SQL seeds run one transaction each; bad input fails before anything is
 * written; loadSeeds reads a folder in file-name order, then its -env subfolder; where the
 * parser cannot load, a SQL seed that needs it fails with a StrataError that says what to do.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import type { Database } from "../../lib/db/database.ts";
import { FileError, StrataError } from "../../lib/db/strata_error.ts";
import { openDatabase } from "../../lib/io/open_database.ts";
import { loadSeeds } from "../../lib/io/seed_loader.ts";
import { defineSeed, type SeedRow } from "../../lib/seed/define_seed.ts";
import { parseJsonSeed } from "../../lib/seed/parse_json_seed.ts";
import { runSeeds, type SeedFile, type SeedRun } from "../../lib/seed/seeder.ts";
import { BACKENDS, tempDir, withDatabase } from "../_support/backends.ts";
import { MOD, runProcess, TSX } from "../_support/run_strata.ts";

/**
 * updated_at starts at a fixed time and is moved by a trigger on every UPDATE that does not
 * set it itself, so a test can tell which rows the seeder updated.
 */
const SCHEMA = `
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN NEW.updated_at := clock_timestamp(); END IF;
  RETURN NEW;
END;
$$;
CREATE TABLE orgs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  slug        text NOT NULL UNIQUE CHECK (slug = lower(slug)),
  name        text NOT NULL,
  plan        text NOT NULL DEFAULT 'free',
  note        text,
  updated_at  timestamptz NOT NULL DEFAULT '2000-01-01 00:00:00+00'
);
CREATE TRIGGER orgs_touch BEFORE UPDATE ON orgs FOR EACH ROW EXECUTE FUNCTION touch();
CREATE TABLE members (
  id      serial PRIMARY KEY,
  org_id  bigint NOT NULL REFERENCES orgs (id),
  email   text NOT NULL,
  name    text NOT NULL DEFAULT '',
  UNIQUE (org_id, email)
);
CREATE TABLE things (
  id      serial PRIMARY KEY,
  code    text NOT NULL UNIQUE,
  doc     jsonb,
  raw     json,
  tags    text[],
  flag    boolean,
  amount  numeric,
  ratio   float8,
  count   int,
  at      timestamptz,
  level   int NOT NULL DEFAULT 5
);
CREATE TABLE loose (code text, name text);
`;

const ORGS: SeedRow[] = [
  { slug: "acme", name: "Acme", plan: "pro" },
  { slug: "globex", name: "Globex", plan: "free" },
  { slug: "initech", name: "Initech", plan: "team" },
];

function data(name: string, table: string, key: string[], rows: SeedRow[], update = false): SeedFile {
  return { name, kind: "data", seed: { table, key, rows, ...(update ? { update } : {}) } };
}

function sql(name: string, text: string): SeedFile {
  return { name, kind: "sql", text };
}

async function setup(db: Database): Promise<void> {
  await db.exec(SCHEMA);
}

/** An edit made by hand, out of the seeder: the trigger stays off so updated_at keeps its value. */
async function handEdit(db: Database, text: string): Promise<void> {
  await db.exec(`ALTER TABLE orgs DISABLE TRIGGER orgs_touch; ${text}; ALTER TABLE orgs ENABLE TRIGGER orgs_touch`);
}

async function orgs(db: Database): Promise<Array<Record<string, unknown>>> {
  return await db.query(
    "SELECT id::int AS id, slug, name, plan, note, updated_at::text AS updated_at FROM orgs ORDER BY slug",
  );
}

async function count(db: Database, table: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
  return row.n;
}

/** [file, status, inserted, updated, unchanged] per seed, and no error. */
function counts(run: SeedRun): Array<[string, string, number, number, number | null]> {
  return run.results.map((r) => [r.file, r.status, r.inserted, r.updated, r.unchanged]);
}

/** The SEED_INVALID error runSeeds throws for bad input, before anything runs. */
async function refused(run: Promise<SeedRun>): Promise<FileError> {
  const error = await run.then(
    (done) => assert.fail(`not refused: ${JSON.stringify(done.error?.message ?? done.results)}`),
    (error: unknown) => error,
  );
  assert.ok(error instanceof FileError, String(error));
  assert.equal(error.code, "SEED_INVALID");
  return error;
}

function assertOk(run: SeedRun): void {
  assert.equal(run.error, undefined, run.error?.message);
}

const EPOCH = "2000-01-01 00:00:00+00";

for (const backend of BACKENDS) {
  test(`running the same seeds twice gives the same rows and the second run inserts nothing [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const files = [
        data("001_orgs.json", "orgs", ["slug"], ORGS),
        data("002_things.json", "things", ["code"], [{ code: "a", count: 1 }, { code: "b", count: 2 }]),
      ];
      const first = await runSeeds(db, files);
      assertOk(first);
      assert.deepEqual(counts(first), [
        ["001_orgs.json", "done", 3, 0, 0],
        ["002_things.json", "done", 2, 0, 0],
      ]);
      assert.equal(first.results[0].table, "orgs");
      const before = { orgs: await orgs(db), things: await db.query("SELECT * FROM things ORDER BY code") };
      const second = await runSeeds(db, files);
      assertOk(second);
      assert.deepEqual(counts(second), [
        ["001_orgs.json", "done", 0, 0, 3],
        ["002_things.json", "done", 0, 0, 2],
      ]);
      assert.deepEqual({ orgs: await orgs(db), things: await db.query("SELECT * FROM things ORDER BY code") }, before);
    });
  });

  test(`re-runs spend no identity or serial values on rows that exist [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const things = [{ code: "a" }, { code: "b" }, { code: "c" }];
      for (let i = 0; i < 3; i++) {
        assertOk(await runSeeds(db, [data("orgs.json", "orgs", ["slug"], ORGS, i === 2)]));
        assertOk(await runSeeds(db, [data("things.json", "things", ["code"], things, i === 2)]));
      }
      const more = await runSeeds(db, [
        data("orgs.json", "orgs", ["slug"], [...ORGS, { slug: "umbrella", name: "Umbrella" }]),
        data("things.json", "things", ["code"], [...things, { code: "d" }]),
      ]);
      assert.deepEqual(counts(more), [["orgs.json", "done", 1, 0, 3], ["things.json", "done", 1, 0, 3]]);
      // identity (orgs) and serial (things) alike: the first rows took 1..3, the new one max + 1
      // (row order within a seed is its own test below)
      const ids = async (table: string, column: string) =>
        Object.fromEntries(
          (await db.query<{ id: number; k: string }>(`SELECT id::int AS id, ${column} AS k FROM ${table} ORDER BY id`))
            .map((r) => [r.k, r.id]),
        );
      const orgIds = await ids("orgs", "slug");
      assert.deepEqual(Object.values(orgIds), [1, 2, 3, 4]);
      assert.equal(orgIds.umbrella, 4);
      const thingIds = await ids("things", "code");
      assert.deepEqual(Object.values(thingIds), [1, 2, 3, 4]);
      assert.equal(thingIds.d, 4);
      const sequences = await db.query<{ name: string; last: number }>(
        "SELECT sequencename::text AS name, last_value::int AS last FROM pg_sequences WHERE sequencename IN ('orgs_id_seq', 'things_id_seq') ORDER BY 1",
      );
      assert.deepEqual(sequences, [{ name: "orgs_id_seq", last: 4 }, { name: "things_id_seq", last: 4 }]);
    });
  });

  test(`an edited row is kept without update and reset with update, touching only that row [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      assertOk(await runSeeds(db, [data("orgs.json", "orgs", ["slug"], ORGS)]));
      // someone edits one row by hand (keeping updated_at, so only the seeder's update moves it)
      await handEdit(
        db,
        `UPDATE orgs SET name = 'Edited', note = 'kept' WHERE slug = 'globex';
         UPDATE orgs SET note = 'also kept' WHERE slug = 'acme'`,
      );
      const edited = await orgs(db);
      assert.equal(edited[1].name, "Edited");

      const keep = await runSeeds(db, [data("orgs.json", "orgs", ["slug"], ORGS)]);
      assertOk(keep);
      assert.deepEqual(counts(keep), [["orgs.json", "done", 0, 0, 3]]);
      assert.deepEqual(await orgs(db), edited);

      const reset = await runSeeds(db, [data("orgs.json", "orgs", ["slug"], ORGS, true)]);
      assertOk(reset);
      // acme differs only in note, a column the seed does not give: not an update
      assert.deepEqual(counts(reset), [["orgs.json", "done", 0, 1, 2]]);
      const after = await orgs(db);
      assert.deepEqual(after.map((r) => [r.id, r.slug, r.name, r.plan, r.note]), [
        [edited[0].id, "acme", "Acme", "pro", "also kept"],
        [edited[1].id, "globex", "Globex", "free", "kept"],
        [edited[2].id, "initech", "Initech", "team", null],
      ]);
      assert.deepEqual(after.map((r) => r.updated_at !== EPOCH), [false, true, false]);

      const again = await runSeeds(db, [data("orgs.json", "orgs", ["slug"], ORGS, true)]);
      assert.deepEqual(counts(again), [["orgs.json", "done", 0, 0, 3]]);
      assert.deepEqual(await orgs(db), after);
    });
  });

  test(`batches of 3 give the same rows and counts as one statement [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const rows = Array.from(
        { length: 10 },
        (_, i) => ({ slug: `org-${String(i).padStart(2, "0")}`, name: `Org ${i}` }),
      );
      const seed = (update = false) => [data("orgs.json", "orgs", ["slug"], rows, update)];
      assert.deepEqual(counts(await runSeeds(db, seed(), { batchSize: 3 })), [["orgs.json", "done", 10, 0, 0]]);
      assert.deepEqual(counts(await runSeeds(db, seed(), { batchSize: 3 })), [["orgs.json", "done", 0, 0, 10]]);
      await handEdit(db, "UPDATE orgs SET name = 'x' WHERE slug IN ('org-01', 'org-07')");
      assert.deepEqual(counts(await runSeeds(db, seed(true), { batchSize: 3 })), [["orgs.json", "done", 0, 2, 8]]);
      const stored = await orgs(db);
      assert.deepEqual(stored.map((r) => [r.slug, r.name]), rows.map((r) => [r.slug, r.name]));
      assert.deepEqual(stored.map((r) => r.id).sort((a, b) => Number(a) - Number(b)), rows.map((_r, i) => i + 1));
      const touched = await db.query<{ slug: string }>(
        `SELECT slug FROM orgs WHERE updated_at <> '${EPOCH}' ORDER BY slug`,
      );
      assert.deepEqual(touched.map((r) => r.slug), ["org-01", "org-07"]);
    });
  });

  test(`a data seed failing in its second batch keeps none of its rows [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const rows = [...ORGS, { slug: "ok", name: "Ok" }, { slug: "BAD", name: "Upper case breaks the CHECK" }];
      const run = await runSeeds(db, [
        data("001_things.json", "things", ["code"], [{ code: "a" }]),
        data("002_orgs.json", "orgs", ["slug"], rows),
        data("003_things.json", "things", ["code"], [{ code: "b" }]),
      ], { batchSize: 3 });
      assert.deepEqual(counts(run), [
        ["001_things.json", "done", 1, 0, 0],
        ["002_orgs.json", "failed", 0, 0, 0],
        ["003_things.json", "not run", 0, 0, 0],
      ]);
      assert.ok(run.error instanceof FileError);
      assert.equal(run.error.code, "SEED_FAILED");
      assert.equal(run.error.file, "002_orgs.json");
      assert.match(run.error.message, /^002_orgs\.json: .*check constraint/);
      assert.match(
        run.error.hint ?? "",
        /^Nothing of 002_orgs\.json was kept; the seeds before it stay \(001_things\.json\), and the ones after it did not run\./,
      );
      assert.equal(await count(db, "orgs"), 0);
      assert.deepEqual(await db.query("SELECT code FROM things"), [{ code: "a" }]);
    });
  });

  test(`rows that give different columns each get their own, and omitted columns keep their default [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const rows: SeedRow[] = [
        { slug: "a", name: "A" },
        { slug: "b", name: "B", plan: "pro" },
        { slug: "c", name: "C", plan: undefined, note: "n" },
        { slug: "d", name: "D" },
      ];
      const run = await runSeeds(db, [data("orgs.json", "orgs", ["slug"], rows)], { batchSize: 1 });
      assert.deepEqual(counts(run), [["orgs.json", "done", 4, 0, 0]]);
      assert.deepEqual((await orgs(db)).map((r) => [r.slug, r.plan, r.note]), [
        ["a", "free", null],
        ["b", "pro", null],
        ["c", "free", "n"],
        ["d", "free", null],
      ]);
      // with update, a row that omits plan leaves the stored plan alone
      await db.exec("UPDATE orgs SET plan = 'team'");
      const again = await runSeeds(db, [data("orgs.json", "orgs", ["slug"], rows, true)]);
      assert.deepEqual(counts(again), [["orgs.json", "done", 0, 1, 3]]);
      assert.deepEqual((await orgs(db)).map((r) => [r.slug, r.plan]), [
        ["a", "team"],
        ["b", "pro"],
        ["c", "team"],
        ["d", "team"],
      ]);
    });
  });

  test(`json, jsonb, text[], booleans, numbers, Dates and null arrive as given and compare equal on update [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const rows: SeedRow[] = [
        {
          code: "full",
          doc: { nested: { list: [1, "two", null], ok: true }, quote: 'say "hi"' },
          raw: [1, { b: 2 }],
          tags: ["plain", "a,b", 'q"x', "back\\slash", "", "NULL", " sp ", null, "{brace}"],
          flag: true,
          amount: "12345678901234567890.125",
          ratio: 0.1,
          count: -42,
          at: new Date("2024-02-29T12:34:56.789Z"),
          level: 0,
        },
        {
          code: "nulls",
          doc: null,
          raw: null,
          tags: null,
          flag: null,
          amount: null,
          ratio: null,
          count: null,
          at: null,
        },
        { code: "false", doc: [], tags: [], flag: false, amount: 0, ratio: -1.5e-7, count: 0, doc_note: undefined },
        { code: "scalar", doc: "a string", raw: 7 },
      ];
      const seed = (update = false) => [data("things.json", "things", ["code"], rows, update)];
      assert.deepEqual(counts(await runSeeds(db, seed())), [["things.json", "done", 4, 0, 0]]);
      const read = () =>
        db.query<Record<string, unknown>>(
          // arrays as text: postgres.js 3.4 reads a NULL element of text[] back as "NULL"
          `SELECT code, doc, raw::text AS raw, tags::text AS tags, array_positions(tags, NULL)::text AS null_tags,
                  flag, amount::text AS amount, ratio, count,
                  to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS at, level
           FROM things ORDER BY code`,
        );
      const stored = await read();
      assert.deepEqual(stored, [
        {
          code: "false",
          doc: [],
          raw: null,
          tags: "{}",
          null_tags: "{}",
          flag: false,
          amount: "0",
          ratio: -1.5e-7,
          count: 0,
          at: null,
          level: 5,
        },
        {
          code: "full",
          doc: { nested: { list: [1, "two", null], ok: true }, quote: 'say "hi"' },
          raw: '[1,{"b":2}]',
          tags: String.raw`{plain,"a,b","q\"x","back\\slash","","NULL"," sp ",NULL,"{brace}"}`,
          null_tags: "{8}",
          flag: true,
          amount: "12345678901234567890.125",
          ratio: 0.1,
          count: -42,
          at: "2024-02-29T12:34:56.789",
          level: 0,
        },
        {
          code: "nulls",
          doc: null,
          raw: null,
          tags: null,
          null_tags: null,
          flag: null,
          amount: null,
          ratio: null,
          count: null,
          at: null,
          level: 5,
        },
        {
          code: "scalar",
          doc: "a string",
          raw: "7",
          tags: null,
          null_tags: null,
          flag: null,
          amount: null,
          ratio: null,
          count: null,
          at: null,
          level: 5,
        },
      ]);
      // the values read back equal what the seed gives: update finds nothing to change
      assert.deepEqual(counts(await runSeeds(db, seed(true))), [["things.json", "done", 0, 0, 4]]);
      assert.deepEqual(await read(), stored);
    });
  });

  test(`a .ts seed's rows function sees the rows an earlier seed of the same run inserted [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const members = defineSeed<{ org_id: string; email: string; name?: string }>({
        table: "members",
        key: ["org_id", "email"],
        rows: async ({ query }) => {
          const found = await query<{ id: string; slug: string }>(
            "SELECT id::text AS id, slug FROM orgs WHERE slug = ANY ($1::text[]) ORDER BY slug",
            [["acme", "initech"]],
          );
          assert.equal(found.length, 2, "orgs inserted by 001 are visible");
          return found.map((o) => ({ org_id: o.id, email: `admin@${o.slug}.test`, name: "Admin" }));
        },
      });
      const files: SeedFile[] = [
        data("001_orgs.json", "orgs", ["slug"], ORGS),
        // tsc rejects this typed seed as a SeedFile (DataSeed<R> is invariant in R through keyof R); it runs as is
        { name: "002_members.ts", kind: "data", seed: members },
      ];
      const run = await runSeeds(db, files);
      assertOk(run);
      assert.deepEqual(counts(run), [["001_orgs.json", "done", 3, 0, 0], ["002_members.ts", "done", 2, 0, 0]]);
      assert.deepEqual(
        await db.query(
          "SELECT o.slug, m.email, m.name FROM members m JOIN orgs o ON o.id = m.org_id ORDER BY o.slug",
        ),
        [
          { slug: "acme", email: "admin@acme.test", name: "Admin" },
          { slug: "initech", email: "admin@initech.test", name: "Admin" },
        ],
      );
      const again = await runSeeds(db, files);
      assert.deepEqual(counts(again), [["001_orgs.json", "done", 0, 0, 3], ["002_members.ts", "done", 0, 0, 2]]);
    });
  });

  test(`what a rows function's queries write is kept only with the seed's rows: a failure keeps none of it [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const writing = (name: string, rows: () => SeedRow[]): SeedFile => ({
        name,
        kind: "data",
        seed: defineSeed({
          table: "orgs",
          key: ["slug"],
          rows: async ({ query }) => {
            await query("INSERT INTO things (code) VALUES ($1)", [name]);
            return rows();
          },
        }),
      });
      const failing: Array<[SeedFile, RegExp]> = [
        [
          writing("001_throws.ts", () => {
            throw new Error("boom");
          }),
          /boom/,
        ],
        [writing("002_unknown_column.ts", () => [{ slug: "x", name: "X", colour: "red" }]), /colour/],
        [writing("003_server_refuses.ts", () => [{ slug: "Upper", name: "U" }]), /check constraint/],
      ];
      for (const [file, message] of failing) {
        const run = await runSeeds(db, [file]).catch((error: unknown) => ({ error: error as Error, results: [] }));
        assert.ok(run.error, `${file.name} failed`);
        assert.match(run.error.message, message);
        assert.deepEqual(await db.query("SELECT code FROM things"), [], `nothing of ${file.name} was kept`);
        assert.equal(await count(db, "orgs"), 0);
      }
      assertOk(await runSeeds(db, [writing("004_fine.ts", () => [{ slug: "ok", name: "OK" }])]));
      assert.deepEqual(await db.query("SELECT code FROM things"), [{ code: "004_fine.ts" }]);
      assert.equal(await count(db, "orgs"), 1);
    });
  });

  test(`a rows function may catch a query that fails, and a row referring to what the function wrote is still named when it fails [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const caught: SeedFile = {
        name: "001_caught.ts",
        kind: "data",
        seed: defineSeed({
          table: "orgs",
          key: ["slug"],
          rows: async ({ query }) => {
            const optional = await query("SELECT * FROM no_such_table").catch(() => []);
            return [{ slug: "acme", name: `Acme ${optional.length}` }];
          },
        }),
      };
      assertOk(await runSeeds(db, [caught]));
      assert.equal(await count(db, "orgs"), 1);
      // The function writes the orgs its rows refer to; the third member breaks the unique key.
      const dependent: SeedFile = {
        name: "002_members.ts",
        kind: "data",
        seed: defineSeed({
          table: "members",
          key: ["email"],
          rows: async ({ query }) => {
            await query("INSERT INTO orgs (slug, name) VALUES ('written', 'W')");
            const [org] = await query<{ id: string }>("SELECT id::text AS id FROM orgs WHERE slug = 'written'");
            return ["a@x.test", "b@x.test", "c@x.test"].map((email) => ({ org_id: org.id, email, name: email }));
          },
        }),
      };
      await db.exec(
        "CREATE UNIQUE INDEX members_email ON members (email); ALTER TABLE members ADD CHECK (email <> 'c@x.test')",
      );
      const run = await runSeeds(db, [dependent]);
      assert.ok(run.error);
      assert.match(run.error.message, /row 3 \(email "c@x\.test"\)/);
      assert.deepEqual(await db.query("SELECT slug FROM orgs ORDER BY slug"), [{ slug: "acme" }]);
    });
  });

  test(`rows are inserted in the order the seed gives them, so identity values follow it [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const rows = Array.from(
        { length: 50 },
        (_, i) => ({ slug: `org-${String(i).padStart(2, "0")}`, name: `Org ${i}` }),
      );
      // a few rows already there, so the anti join has something to hash against
      assertOk(await runSeeds(db, [data("orgs.json", "orgs", ["slug"], rows.slice(0, 3))]));
      assertOk(await runSeeds(db, [data("orgs.json", "orgs", ["slug"], rows)]));
      const stored = await db.query<{ slug: string }>("SELECT slug FROM orgs ORDER BY id");
      assert.deepEqual(stored.map((r) => r.slug), rows.map((r) => r.slug));
    });
  });

  test(`a value longer than its varchar(n) or char(n) column is refused, not cut short (keys cannot merge that way) [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE TABLE vc (code varchar(5) PRIMARY KEY, name varchar(5), tag char(2))");
      const cut = await runSeeds(db, [
        data("vc.json", "vc", ["code"], [{ code: "ABCDE-1", name: "x" }, { code: "ABCDE-2", name: "y" }]),
      ]);
      assert.equal(cut.error?.code, "SEED_FAILED");
      assert.match(cut.error!.message, /value too long for type character varying\(5\)/);
      assert.equal(await count(db, "vc"), 0);

      assertOk(await runSeeds(db, [data("vc.json", "vc", ["code"], [{ code: "ABCDE", name: "short", tag: "ab" }])]));
      const longer = await runSeeds(db, [
        data("vc.json", "vc", ["code"], [{ code: "ABCDE", name: "much too long", tag: "ab" }], true),
      ]);
      assert.equal(longer.error?.code, "SEED_FAILED");
      assert.match(longer.error!.message, /value too long/);
      const tag = await runSeeds(db, [
        data("vc.json", "vc", ["code"], [{ code: "ABCDE", name: "short", tag: "abc" }], true),
      ]);
      assert.match(tag.error?.message ?? "", /value too long for type character\(2\)/);
      assert.deepEqual(await db.query("SELECT code, name, tag FROM vc"), [{ code: "ABCDE", name: "short", tag: "ab" }]);
      // Unchanged values of a char(n) column (stored padded) still compare equal.
      await db.exec("ALTER TABLE vc ALTER COLUMN tag TYPE char(4)");
      const again = await runSeeds(db, [
        data("vc.json", "vc", ["code"], [{ code: "ABCDE", name: "short", tag: "ab" }], true),
      ]);
      assertOk(again);
      assert.deepEqual(counts(again), [["vc.json", "done", 0, 0, 1]]);
    });
  });

  test(`a value the column refuses names its row and key, even in a later batch, and nothing of the seed stays [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE TABLE nums (code text PRIMARY KEY, n int NOT NULL, label varchar(3))");
      const rows = [
        { code: "a", n: 1 },
        { code: "b", n: 2 },
        { code: "c", n: 3, label: "ok" },
        { code: "d", n: 4, label: "ok" },
        { code: "e", n: "five", label: "ok" },
        { code: "f", n: 6, label: "ok" },
      ];
      const bad = await runSeeds(db, [data("nums.json", "nums", ["code"], rows)], { batchSize: 2 });
      assert.equal(bad.error?.code, "SEED_FAILED");
      assert.match(
        bad.error!.message,
        /^nums\.json: row 5 \(code "e"\), column n: invalid input syntax for type integer: "five"/,
      );
      const long = await runSeeds(db, [
        data("nums.json", "nums", ["code"], [{ code: "a", n: 1 }, { code: "b", n: 2, label: "long" }]),
      ]);
      assert.match(
        long.error?.message ?? "",
        /^nums\.json: row 2 \(code "b"\), column label: value too long for type character varying\(3\)/,
      );
      assert.equal(await count(db, "nums"), 0);
      // the session is usable afterwards, with no transaction left open
      assertOk(await runSeeds(db, [data("nums.json", "nums", ["code"], [{ code: "a", n: 1 }])]));
      assert.equal(await count(db, "nums"), 1);
    });
  });

  test(`a value the column refuses names the column too: bad input, too long, out of range, a domain's CHECK; a table CHECK names none [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE DOMAIN percent AS int CHECK (VALUE BETWEEN 0 AND 100);" +
          "CREATE TABLE wide (code text PRIMARY KEY, a int, b int, c smallint, d varchar(2), e percent, f date," +
          " lo int, hi int, CHECK (lo <= hi))",
      );
      const failing = async (row: SeedRow) => {
        const run = await runSeeds(db, [
          data("wide.json", "wide", ["code"], [{ code: "ok", a: 1 }, { code: "x", ...row }]),
        ]);
        assert.equal(run.error?.code, "SEED_FAILED");
        return run.error!.message;
      };
      assert.match(
        await failing({ a: 1, b: "two" }),
        /^wide\.json: row 2 \(code "x"\), column b: invalid input syntax/,
      );
      assert.match(await failing({ a: 1, c: 70000 }), /^wide\.json: row 2 \(code "x"\), column c: .*out of range/);
      assert.match(
        await failing({ d: "abc", f: "2024-01-01" }),
        /^wide\.json: row 2 \(code "x"\), column d: value too long/,
      );
      assert.match(await failing({ e: 101 }), /^wide\.json: row 2 \(code "x"\), column e: .*percent/);
      assert.match(await failing({ f: "2024-02-30" }), /^wide\.json: row 2 \(code "x"\), column f: /);
      assert.match(
        await failing({ lo: 2, hi: 1 }),
        /^wide\.json: row 2 \(code "x"\): new row .* violates check constraint/,
      );
      assert.equal(await count(db, "wide"), 0);
      assertOk(await runSeeds(db, [data("wide.json", "wide", ["code"], [{ code: "ok", a: 1, e: 5 }])]));
    });
  });

  test(`a foreign key or unique value the server refuses names the first row that fails, not one that refers to an earlier row of the seed [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE TABLE authors (id int PRIMARY KEY);" +
          "INSERT INTO authors VALUES (1), (2);" +
          "CREATE TABLE posts (slug text PRIMARY KEY, author_id int REFERENCES authors (id), handle text UNIQUE);" +
          "CREATE TABLE cats (code text PRIMARY KEY, parent text REFERENCES cats (code));" +
          "INSERT INTO posts VALUES ('old', 1, 'taken')",
      );
      const posts = (rows: SeedRow[]) => runSeeds(db, [data("posts.json", "posts", ["slug"], rows)], { batchSize: 2 });
      const many = Array.from({ length: 7 }, (_, i) => ({ slug: `p${i + 1}`, author_id: 1 + (i % 2) }));
      const missing = await posts(many.map((row, i) => (i === 5 ? { ...row, author_id: 99 } : row)));
      assert.equal(missing.error?.code, "SEED_FAILED");
      assert.match(
        missing.error!.message,
        /^posts\.json: row 6 \(slug "p6"\): insert or update on table "posts" violates foreign key constraint .*Key \(author_id\)=\(99\) is not present in table "authors"/,
      );
      // two rows of the seed with one unique value: the second is named
      const twice = await posts(many.map((row, i) => ({ ...row, handle: i === 2 || i === 4 ? "same" : `h${i}` })));
      assert.match(
        twice.error?.message ?? "",
        /^posts\.json: row 5 \(slug "p5"\): duplicate key value .*\(handle\)=\(same\)/,
      );
      // a value a row already in the table has
      const taken = await posts([{ slug: "n1", author_id: 1, handle: "free" }, {
        slug: "n2",
        author_id: 2,
        handle: "taken",
      }]);
      assert.match(
        taken.error?.message ?? "",
        /^posts\.json: row 2 \(slug "n2"\): duplicate key value .*\(handle\)=\(taken\)/,
      );
      // rows referring to earlier rows of the seed are fine; the one referring to none is named
      const cats = await runSeeds(db, [
        data("cats.json", "cats", ["code"], [
          { code: "a", parent: null },
          { code: "b", parent: "a" },
          { code: "c", parent: "b" },
          { code: "d", parent: "c" },
          { code: "e", parent: "zz" },
          { code: "f", parent: "e" },
        ]),
      ], { batchSize: 2 });
      assert.match(
        cats.error?.message ?? "",
        /^cats\.json: row 5 \(code "e"\): insert or update on table "cats" violates foreign key constraint .*\(parent\)=\(zz\)/,
      );
      assert.equal(await count(db, "posts"), 1);
      assert.equal(await count(db, "cats"), 0);
    });
  });

  test(`the row named is the one that failed in the seed's own batches; where a second run goes otherwise, no row is named [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE TABLE cats (code text PRIMARY KEY, parent text REFERENCES cats (code), n int);" +
          "CREATE TABLE serials (id serial PRIMARY KEY, code text UNIQUE);" +
          "INSERT INTO serials (id, code) SELECT g, 'old' || g FROM generate_series(1, 4) g",
      );
      const cats = (rows: SeedRow[], batchSize?: number) =>
        runSeeds(db, [data("cats.json", "cats", ["code"], rows)], batchSize ? { batchSize } : {});
      // rows of one shape run together; a row referring to a later row of its batch is checked
      // at the end of the statement: a half that splits them fails otherwise, and is not where
      // the seed failed
      const forward = await cats([
        { code: "a", parent: "b", n: 1 },
        { code: "b", parent: null, n: 1 },
        { code: "c", parent: null, n: "x" },
      ]);
      assert.match(forward.error?.message ?? "", /^cats\.json: row 3 \(code "c"\), column n: invalid input syntax/);
      const later = await cats([
        { code: "a", parent: "d" },
        { code: "b", parent: null },
        { code: "c", parent: null },
        { code: "d", parent: null },
        { code: "e", parent: "zz" },
      ]);
      assert.match(later.error?.message ?? "", /^cats\.json: row 5 \(code "e"\): .*\(parent\)=\(zz\)/);
      // in batches of two, the first batch refers to a row of the second: the seed failed there
      const split = await cats(
        [{ code: "a", parent: "c" }, { code: "b", parent: null }, { code: "c", parent: null }, {
          code: "d",
          parent: "zz",
        }],
        2,
      );
      assert.match(split.error?.message ?? "", /^cats\.json: row 1 \(code "a"\): .*\(parent\)=\(c\)/);
      // ids from a sequence behind the table's rows: the second run takes other ids and fails
      // on another one, so no row is named rather than a wrong one
      const rows = Array.from({ length: 8 }, (_, i) => ({ code: `new${i + 1}` }));
      const taken = await runSeeds(db, [data("serials.json", "serials", ["code"], rows)]);
      assert.equal(taken.error?.code, "SEED_FAILED");
      assert.match(taken.error!.message, /^serials\.json: duplicate key value .*\(id\)=\(1\) already exists/);
      assert.equal(await count(db, "cats"), 0);
      assert.equal(await count(db, "serials"), 4);
    });
  });

  test(`a row is found as the seed's statement met it (a trigger reading the rows before it), and none is named for values a sequence gave [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(`
        CREATE TABLE item (id int PRIMARY KEY, name text, parent_id int REFERENCES item (id),
                           template_id int, template_name text NOT NULL);
        CREATE FUNCTION item_template() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.template_name := CASE WHEN NEW.template_id IS NULL THEN ''
                                    ELSE (SELECT name FROM item WHERE id = NEW.template_id) END;
          RETURN NEW;
        END $$;
        CREATE TRIGGER item_template BEFORE INSERT ON item FOR EACH ROW EXECUTE FUNCTION item_template();
        CREATE TABLE capped (id serial PRIMARY KEY, code text UNIQUE, CHECK (id <= 5));
        CREATE TABLE small (id int GENERATED BY DEFAULT AS IDENTITY (MAXVALUE 5) PRIMARY KEY, code text UNIQUE);
      `);
      // row 5 reads row 1, which the seed's statement wrote first; row 8 reads a row that is not there
      const rows = [
        { id: 1, name: "A", parent_id: 6, template_id: null },
        { id: 2, name: "p2", parent_id: null, template_id: null },
        { id: 3, name: "p3", parent_id: null, template_id: null },
        { id: 4, name: "p4", parent_id: null, template_id: null },
        { id: 5, name: "C", parent_id: null, template_id: 1 },
        { id: 6, name: "B", parent_id: null, template_id: null },
        { id: 7, name: "p7", parent_id: null, template_id: null },
        { id: 8, name: "X", parent_id: null, template_id: 99 },
      ];
      const item = await runSeeds(db, [data("item.json", "item", ["id"], rows)]);
      assert.match(item.error?.message ?? "", /^item\.json: row 8 \(id "8"\): null value in column "template_name"/);
      // the sixth id breaks the CHECK and the identity's maximum; a second run takes other ids
      const codes = Array.from({ length: 8 }, (_, i) => ({ code: `c${i + 1}` }));
      for (const batchSize of [100, 2]) {
        const capped = await runSeeds(db, [data("capped.json", "capped", ["code"], codes)], { batchSize });
        assert.match(
          capped.error?.message ?? "",
          /^capped\.json: new row for relation "capped" violates check constraint/,
        );
      }
      const small = await runSeeds(db, [data("small.json", "small", ["code"], codes)]);
      assert.match(small.error?.message ?? "", /^small\.json: nextval: reached maximum value of sequence/);
      // a default from a sequence the column does not own, and a domain's CHECK on such a column
      await db.exec(`
        CREATE SEQUENCE shared;
        CREATE TABLE counted (k text PRIMARY KEY, n int NOT NULL DEFAULT nextval('shared') CHECK (n <= 3));
        CREATE DOMAIN small_id AS int CHECK (VALUE <= 3);
        CREATE SEQUENCE owned_id_seq;
        CREATE TABLE owned (id small_id NOT NULL DEFAULT nextval('owned_id_seq') PRIMARY KEY, k text UNIQUE);
        ALTER SEQUENCE owned_id_seq OWNED BY owned.id;
      `);
      const ks = [{ k: "a" }, { k: "b" }, { k: "c" }, { k: "d" }];
      const counted = await runSeeds(db, [data("counted.json", "counted", ["k"], ks)]);
      assert.match(
        counted.error?.message ?? "",
        /^counted\.json: new row for relation "counted" violates check constraint/,
      );
      const owned = await runSeeds(db, [data("owned.json", "owned", ["k"], ks)]);
      assert.match(owned.error?.message ?? "", /^owned\.json: value for domain small_id violates check constraint/);
      // an update seed's statement inserts the new rows of a batch before it updates the others:
      // row 4 (new) failed in the seed, though row 3 (an update) is bad too
      await db.exec(`
        CREATE TABLE u (k text PRIMARY KEY, email text UNIQUE, v int CHECK (v > 0));
        INSERT INTO u VALUES ('a', 'a@', 1), ('b', 'b@', 1), ('c', 'c@', 1);
      `);
      const updates = await runSeeds(db, [
        data("u.json", "u", ["k"], [
          { k: "c", email: "c@", v: 5 },
          { k: "z", email: "z@", v: 1 },
          { k: "a", email: "a@", v: -1 },
          { k: "y", email: "y@", v: -1 },
        ], true),
      ], { batchSize: 2 });
      assert.equal(updates.error?.code, "SEED_FAILED");
      assert.doesNotMatch(updates.error!.message, /row 3/);
      assert.equal(await count(db, "item"), 0);
    });
  });

  test(`a data seed the server refuses keeps the server's fields (SQLSTATE, detail, hint), as a failed SQL seed does [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      await db.exec(`CREATE FUNCTION no_admins() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.email LIKE 'admin@%' THEN
            RAISE EXCEPTION 'admins are made by the app' USING HINT = 'Seed a member instead', ERRCODE = 'P0001';
          END IF;
          RETURN NEW;
        END $$;
        CREATE TRIGGER members_no_admins BEFORE INSERT ON members FOR EACH ROW EXECUTE FUNCTION no_admins()`);
      const foreign = await runSeeds(db, [
        data("m.json", "members", ["org_id", "email"], [{ org_id: 99, email: "a@x.io" }]),
      ]);
      assert.ok(foreign.error instanceof FileError);
      assert.equal(foreign.error.code, "SEED_FAILED");
      assert.equal(foreign.error.server?.code, "23503");
      assert.match(foreign.error.server?.detail ?? "", /Key \(org_id\)=\(99\) is not present/);
      assertOk(await runSeeds(db, [data("orgs.json", "orgs", ["slug"], ORGS)]));
      const [org] = await db.query<{ id: string }>("SELECT id::text FROM orgs WHERE slug = 'acme'");
      const raised = await runSeeds(db, [
        data("m.json", "members", ["org_id", "email"], [{ org_id: org.id, email: "admin@x.io" }]),
      ]);
      assert.ok(raised.error instanceof FileError);
      assert.equal(raised.error.server?.code, "P0001");
      assert.equal(raised.error.server?.hint, "Seed a member instead");
      assert.match(raised.error.message, /^m\.json: admins are made by the app/);
    });
  });

  test(`keys that differ as text but are equal to their column (01 and 1, upper- and lower-case uuids) are duplicates [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE TABLE ik (id int PRIMARY KEY, name text); CREATE TABLE uk (id uuid PRIMARY KEY)");
      const ints = await refused(
        runSeeds(db, [data("ik.json", "ik", ["id"], [{ id: 1, name: "a" }, { id: "01", name: "b" }])]),
      );
      assert.match(ints.message, /rows 1 and 2 have the same key \(id\)/);
      const spaced = await refused(runSeeds(db, [data("ik.json", "ik", ["id"], [{ id: " 2" }, { id: 2 }])]));
      assert.match(spaced.message, /rows 1 and 2 have the same key/);
      const uuids = await refused(runSeeds(db, [
        data("uk.json", "uk", ["id"], [
          { id: "6F9619FF-8B86-D011-B42D-00C04FC964FF" },
          { id: "6f9619ff-8b86-d011-b42d-00c04fc964ff" },
        ]),
      ]));
      assert.match(uuids.message, /rows 1 and 2 have the same key/);
      assert.equal(await count(db, "ik") + await count(db, "uk"), 0);
    });
  });

  test(`keys equal only to the server (two spellings of a date, t and true) are duplicates too, before anything is written [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE TABLE days (d date PRIMARY KEY, label text);" +
          "CREATE TABLE flags (name text, on_ boolean, label text, PRIMARY KEY (name, on_))",
      );
      const days = await refused(runSeeds(db, [
        data("days.json", "days", ["d"], [
          { d: "2024-01-01", label: "first" },
          { d: "2024-01-02", label: "other" },
          { d: "2024-1-1", label: "second" },
        ], true),
      ]));
      assert.match(days.message, /^days\.json: rows 1 and 3 have the same key \(d\)/);
      assert.match(days.hint ?? "", /d "2024-01-01" and d "2024-1-1" are one key/);
      const flags = await refused(runSeeds(db, [
        data("flags.ts", "flags", ["name", "on_"], [
          { name: "a", on_: "t" },
          { name: "a", on_: false },
          { name: "a", on_: true },
        ]),
      ]));
      assert.match(flags.message, /rows 1 and 3 have the same key \(name, on_\)/);
      // from a rows function too, checked when it runs
      const computed = await refused(
        runSeeds(db, [{
          name: "days.ts",
          kind: "data",
          seed: { table: "days", key: ["d"], rows: () => [{ d: "2024-01-01" }, { d: new Date(Date.UTC(2024, 0, 1)) }] },
        }]).then((run) => {
          if (run.error) throw run.error;
          return run;
        }),
      );
      assert.match(computed.message, /rows 1 and 2 have the same key \(d\)/);
      assert.equal(await count(db, "days") + await count(db, "flags"), 0);
      // a key the column refuses is left to the run, which names its row and column
      const bad = await runSeeds(db, [data("days.json", "days", ["d"], [{ d: "2024-01-01" }, { d: "someday" }])]);
      assert.match(bad.error?.message ?? "", /^days\.json: row 2 \(d "someday"\), column d: invalid input syntax/);
      assertOk(await runSeeds(db, [data("days.json", "days", ["d"], [{ d: "2024-01-01" }, { d: "2024-01-02" }])]));
    });
  });

  test(`an integer past 2^53 is refused for an exact column instead of stored rounded; a string or BigInt is exact [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE TABLE big (id int PRIMARY KEY, n bigint, f float8)");
      const rounded = await refused(runSeeds(db, [data("big.ts", "big", ["id"], [{ id: 1, n: 2 ** 53 + 2 }])]));
      assert.match(rounded.message, /row 1, column n: 9007199254740994 is past 2\^53/);
      assert.match(rounded.hint ?? "", /as a string/);
      assertOk(
        await runSeeds(db, [
          data("big.ts", "big", ["id"], [{ id: 1, n: "9007199254740993", f: 1e300 }, { id: 2, n: 9007199254740995n }]),
        ]),
      );
      assert.deepEqual(await db.query("SELECT id, n::text AS n FROM big ORDER BY id"), [
        { id: 1, n: "9007199254740993" },
        { id: 2, n: "9007199254740995" },
      ]);
    });
  });

  test(`array elements are converted as single values are: bytes in a bytea[], Dates, and a number past 2^53 refused [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE TABLE bags (id int PRIMARY KEY, blobs bytea[], ats timestamptz[], ns bigint[])");
      assertOk(
        await runSeeds(db, [
          data("bags.ts", "bags", ["id"], [{
            id: 1,
            blobs: [new Uint8Array([0, 1, 255]), null, "\\xdead"],
            ats: [new Date(Date.UTC(2024, 4, 6, 7, 8, 9, 123))],
            ns: [1, 9007199254740993n, "9007199254740995"],
          }]),
        ]),
      );
      await db.exec("SET TIME ZONE 'UTC'");
      assert.deepEqual(
        await db.query(
          "SELECT array_to_string(ARRAY(SELECT coalesce(encode(b, 'hex'), 'null') FROM unnest(blobs) b), ',') AS blobs," +
            " ats::text AS ats, ns::text AS ns FROM bags",
        ),
        [{
          blobs: "0001ff,null,dead",
          ats: '{"2024-05-06 07:08:09.123+00"}',
          ns: "{1,9007199254740993,9007199254740995}",
        }],
      );
      const rounded = await refused(runSeeds(db, [data("bags.ts", "bags", ["id"], [{ id: 2, ns: [1, 2 ** 53 + 2] }])]));
      assert.match(rounded.message, /row 1, column ns: 9007199254740994 is past 2\^53/);
    });
  });

  test(`each element of a jsonb[] is JSON, as a jsonb column's value is: a string, a list, an object, a number [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE TABLE docs (id int PRIMARY KEY, parts jsonb[], raw json[])");
      const files = [
        data(
          "docs.json",
          "docs",
          ["id"],
          [{ id: 1, parts: ["s", { a: 1 }, [1, "two"], 3, true, null], raw: ["x"] }],
          true,
        ),
      ];
      assertOk(await runSeeds(db, files));
      assert.deepEqual(
        await db.query(
          "SELECT ARRAY(SELECT coalesce(jsonb_typeof(p), 'sql null') FROM unnest(parts) p) AS types," +
            " parts[1] #>> '{}' AS first, parts[3]::text AS third, raw[1]::text AS raw FROM docs",
        ),
        [{
          types: ["string", "object", "array", "number", "boolean", "sql null"],
          first: "s",
          third: '[1, "two"]',
          raw: '"x"',
        }],
      );
      const again = await runSeeds(db, files);
      assert.deepEqual(counts(again), [["docs.json", "done", 0, 0, 1]]);
    });
  });

  test(`rows with different columns still go in in the seed's order (a tree whose rows refer to earlier ones) [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE TABLE cat (id int GENERATED ALWAYS AS IDENTITY, slug text PRIMARY KEY, parent text REFERENCES cat (slug), name text)",
      );
      const rows = [
        { slug: "root", name: "Root" },
        { slug: "child", parent: "root" },
        { slug: "grandchild", parent: "child", name: "GC" },
        { slug: "leaf", parent: "grandchild" },
        { slug: "other", name: "Other" },
      ];
      const run = await runSeeds(db, [data("cat.json", "cat", ["slug"], rows)]);
      assertOk(run);
      assert.deepEqual(counts(run), [["cat.json", "done", 5, 0, 0]]);
      const stored = await db.query<{ slug: string }>("SELECT slug FROM cat ORDER BY id");
      assert.deepEqual(stored.map((r) => r.slug), rows.map((r) => r.slug));
    });
  });

  test(`a tree whose levels give different columns keeps the seed's order however many times they alternate (a foreign key to its own table) [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE TABLE cat (id int GENERATED ALWAYS AS IDENTITY, slug text PRIMARY KEY, parent text REFERENCES cat (slug), name text)",
      );
      // 12 branches of 4 levels: 48 runs of rows, the levels alternating between two sets of columns
      const rows = Array.from({ length: 12 }, (_, i) => [
        { slug: `r${i}`, name: `Root ${i}` },
        { slug: `c${i}`, parent: `r${i}` },
        { slug: `g${i}`, parent: `c${i}`, name: `Grandchild ${i}` },
        { slug: `l${i}`, parent: `g${i}` },
      ]).flat();
      for (const batchSize of [10_000, 5]) {
        const run = await runSeeds(db, [data("cat.json", "cat", ["slug"], rows)], { batchSize });
        assertOk(run);
        assert.deepEqual(counts(run), [["cat.json", "done", batchSize === 5 ? 0 : 48, 0, batchSize === 5 ? 48 : 0]]);
      }
      const stored = await db.query<{ slug: string }>("SELECT slug FROM cat ORDER BY id");
      assert.deepEqual(stored.map((r) => r.slug), rows.map((r) => r.slug));
    });
  });

  test(`a unique index with INCLUDE columns serves as the key; a DEFERRABLE unique constraint is refused saying why [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE TABLE inc (a int, b int); CREATE UNIQUE INDEX inc_a ON inc (a) INCLUDE (b);" +
          "CREATE TABLE dfr (a int UNIQUE DEFERRABLE, b int)",
      );
      const included = await runSeeds(db, [data("inc.json", "inc", ["a"], [{ a: 1, b: 2 }])]);
      assertOk(included);
      assert.deepEqual(counts(included), [["inc.json", "done", 1, 0, 0]]);
      const both = await refused(runSeeds(db, [data("inc.json", "inc", ["a", "b"], [{ a: 1, b: 2 }])]));
      assert.match(both.message, /no unique index or constraint on inc \(a, b\)/);
      const deferred = await refused(runSeeds(db, [data("dfr.json", "dfr", ["a"], [{ a: 1, b: 2 }])]));
      assert.match(deferred.message, /is DEFERRABLE, and ON CONFLICT cannot use a deferrable constraint/);
    });
  });

  test(`rows given their own ids move the identity or serial sequence past them, so the app's next insert does not collide [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE TABLE idt (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text);" +
          "CREATE TABLE ser (id serial PRIMARY KEY, name text UNIQUE)",
      );
      const files = [
        data("idt.json", "idt", ["id"], [{ id: 1, name: "a" }, { id: 5, name: "b" }]),
        data("ser.json", "ser", ["name"], [{ id: 7, name: "x" }]),
      ];
      assertOk(await runSeeds(db, files));
      const [next] = await db.query<{ id: number }>("INSERT INTO idt (name) VALUES ('app') RETURNING id");
      assert.equal(next.id, 6);
      const [serial] = await db.query<{ id: number }>("INSERT INTO ser (name) VALUES ('app') RETURNING id");
      assert.equal(serial.id, 8);
      // A re-run inserts nothing and leaves the sequences where the app took them.
      assertOk(await runSeeds(db, files));
      const [after] = await db.query<{ id: number }>("INSERT INTO idt (name) VALUES ('app 2') RETURNING id");
      assert.equal(after.id, 7);
    });
  });

  test(`a seed giving ids to its first rows and leaving the rest to the sequence inserts them all, in one batch or many [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE TABLE cats (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, slug text NOT NULL UNIQUE," +
          " parent_id int REFERENCES cats (id));" +
          "CREATE TABLE tags (id serial PRIMARY KEY, name text NOT NULL UNIQUE)",
      );
      const files = [
        data("cats.json", "cats", ["slug"], [
          { id: 1, slug: "root" },
          { id: 2, slug: "other" },
          { slug: "child", parent_id: 1 },
          { slug: "grandchild", parent_id: 1 },
        ]),
        data("tags.json", "tags", ["name"], [{ id: 10, name: "pinned" }, { name: "a" }, { name: "b" }]),
      ];
      for (const batchSize of [10_000, 1]) {
        const run = await runSeeds(db, files, { batchSize });
        assertOk(run);
        assert.deepEqual(counts(run).map(([file, , inserted, , unchanged]) => [file, inserted, unchanged]), [
          ["cats.json", batchSize === 1 ? 0 : 4, batchSize === 1 ? 4 : 0],
          ["tags.json", batchSize === 1 ? 0 : 3, batchSize === 1 ? 3 : 0],
        ]);
      }
      assert.deepEqual(
        await db.query("SELECT id, slug, parent_id FROM cats ORDER BY id"),
        [
          { id: 1, slug: "root", parent_id: null },
          { id: 2, slug: "other", parent_id: null },
          { id: 3, slug: "child", parent_id: 1 },
          { id: 4, slug: "grandchild", parent_id: 1 },
        ],
      );
      assert.deepEqual(await db.query("SELECT id, name FROM tags ORDER BY id"), [
        { id: 10, name: "pinned" },
        { id: 11, name: "a" },
        { id: 12, name: "b" },
      ]);
      const [next] = await db.query<{ id: number }>("INSERT INTO cats (slug) VALUES ('app') RETURNING id");
      assert.equal(next.id, 5);
    });
  });

  test(`the sequence is left alone when it cannot or must not move: a text column's, past its maximum, already ahead [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE SEQUENCE inv_seq; CREATE TABLE inv (code text PRIMARY KEY DEFAULT 'INV-' || nextval('inv_seq'));" +
          "ALTER SEQUENCE inv_seq OWNED BY inv.code;" +
          "CREATE TABLE capped (id int GENERATED BY DEFAULT AS IDENTITY (MAXVALUE 1000) PRIMARY KEY);" +
          "CREATE TABLE ahead (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY); ALTER TABLE ahead ALTER COLUMN id RESTART WITH 1000",
      );
      assertOk(
        await runSeeds(db, [
          data("inv.json", "inv", ["code"], [{ code: "INV-9" }]),
          data("capped.json", "capped", ["id"], [{ id: 5000 }]),
          data("ahead.json", "ahead", ["id"], [{ id: 5 }]),
        ]),
      );
      const [next] = await db.query<{ id: number }>("INSERT INTO ahead DEFAULT VALUES RETURNING id");
      assert.equal(next.id, 1000);
    });
  });

  test(`a key whose only unique index is partial (soft delete) or on an expression is refused naming that index and the SQL seed that can use it [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE TABLE soft (email text NOT NULL, deleted_at timestamptz);" +
          "CREATE UNIQUE INDEX soft_email ON soft (email) WHERE deleted_at IS NULL;" +
          "CREATE TABLE lowered (email text NOT NULL); CREATE UNIQUE INDEX lowered_email ON lowered (lower(email))",
      );
      const partial = await refused(runSeeds(db, [data("soft.json", "soft", ["email"], [{ email: "a@x.io" }])]));
      assert.match(
        partial.message,
        /^soft\.json: no unique index or constraint on soft \(email\) that ON CONFLICT can use: the unique index soft_email \(email\) WHERE \(deleted_at IS NULL\) is partial$/,
      );
      assert.match(
        partial.hint ?? "",
        /ON CONFLICT \(email\) WHERE \(deleted_at IS NULL\) DO NOTHING; or, if \(email\) is unique in every row/,
      );
      const expression = await refused(
        runSeeds(db, [data("lowered.json", "lowered", ["email"], [{ email: "a@x.io" }])]),
      );
      assert.match(expression.message, /the unique index lowered_email \(\(lower\(email\)\)\) is on an expression$/);
      // the SQL the hint gives runs
      await db.exec(
        "INSERT INTO soft (email) VALUES ('a@x.io') ON CONFLICT (email) WHERE (deleted_at IS NULL) DO NOTHING;" +
          "INSERT INTO lowered (email) VALUES ('a@x.io') ON CONFLICT ((lower(email))) DO NOTHING",
      );
      // with no index at all, the hint still adds one
      await db.exec("CREATE TABLE bare (email text)");
      const bare = await refused(runSeeds(db, [data("bare.json", "bare", ["email"], [{ email: "a@x.io" }])]));
      assert.match(bare.message, /no unique index or constraint on bare \(email\): the key must be unique/);
      assert.match(bare.hint ?? "", /ADD UNIQUE \("email"\)/);
    });
  });

  test(`a unique index on the key beside a DEFERRABLE constraint on it is refused too (ON CONFLICT would use both) [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE TABLE u1 (a int UNIQUE DEFERRABLE, b int); CREATE UNIQUE INDEX u1_a ON u1 (a)");
      const error = await refused(runSeeds(db, [data("u1.json", "u1", ["a"], [{ a: 1 }])]));
      assert.match(error.message, /is DEFERRABLE/);
    });
  });

  test(`array and domain columns with a length refuse a longer value too [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec(
        "CREATE DOMAIN code3 AS varchar(3); CREATE TABLE ad (id int PRIMARY KEY, tags varchar(3)[], c code3)",
      );
      const array = await runSeeds(db, [data("ad.json", "ad", ["id"], [{ id: 1, tags: ["abcdef"] }])]);
      assert.match(array.error?.message ?? "", /value too long for type character varying\(3\)/);
      const domain = await runSeeds(db, [data("ad.json", "ad", ["id"], [{ id: 1, c: "abcdef" }])]);
      assert.match(domain.error?.message ?? "", /value too long for type character varying\(3\)/);
      assertOk(await runSeeds(db, [data("ad.json", "ad", ["id"], [{ id: 1, tags: ["abc"], c: "abc" }])]));
      assert.deepEqual(
        counts(await runSeeds(db, [data("ad.json", "ad", ["id"], [{ id: 1, tags: ["abc"], c: "abc" }], true)])),
        [
          ["ad.json", "done", 0, 0, 1],
        ],
      );
    });
  });

  test(`numeric keys in exponent form and float keys written two ways are duplicates; many interleaved row shapes all go in [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec("CREATE TABLE nk (n numeric PRIMARY KEY); CREATE TABLE fk (f float8 PRIMARY KEY, note text)");
      assert.match(
        (await refused(runSeeds(db, [data("nk.json", "nk", ["n"], [{ n: "1e-7" }, { n: "0.0000001" }])]))).message,
        /same key/,
      );
      assert.match(
        (await refused(runSeeds(db, [data("nk.json", "nk", ["n"], [{ n: "NaN" }, { n: "nan" }])]))).message,
        /same key/,
      );
      assert.match(
        (await refused(runSeeds(db, [data("fk.json", "fk", ["f"], [{ f: "1" }, { f: "1.0" }])]))).message,
        /same key/,
      );
      const rows = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? { f: i } : { f: i, note: `n${i}` }));
      const run = await runSeeds(db, [data("fk.json", "fk", ["f"], rows)]);
      assertOk(run);
      assert.deepEqual(counts(run), [["fk.json", "done", 200, 0, 0]]);
      assert.equal(await count(db, "fk"), 200);
    });
  });

  test(`a table name PostgreSQL cannot read, or one that needs quotes, is refused naming the file, with the quoted name [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await db.exec('CREATE SCHEMA "Other"; CREATE TABLE "Other"."MixedCase" (id int PRIMARY KEY)');
      const bad = await refused(runSeeds(db, [data("bad.json", "x.y.z.w", ["id"], [{ id: 1 }])]));
      assert.equal(bad.file, "bad.json");
      assert.match(
        bad.message,
        /"table" "x\.y\.z\.w" is not a table name PostgreSQL can read \(improper relation name/,
      );
      const mixed = await refused(runSeeds(db, [data("mixed.json", "Other.MixedCase", ["id"], [{ id: 1 }])]));
      assert.match(mixed.message, /unknown table Other\.MixedCase/);
      assert.match(mixed.hint ?? "", /Did you mean "Other"\."MixedCase"\?/);
      assertOk(await runSeeds(db, [data("mixed.json", '"Other"."MixedCase"', ["id"], [{ id: 1 }])]));
    });
  });

  test(`a seed whose rows function returns bad rows says the seeds before it stay and nothing of it was written [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const run = await runSeeds(db, [
        data("001_orgs.json", "orgs", ["slug"], ORGS),
        {
          name: "002_things.ts",
          kind: "data",
          seed: { table: "things", key: ["code"], rows: () => [{ code: "a", colour: "red" }] },
        },
      ]);
      assert.equal(run.error?.code, "SEED_INVALID");
      assert.match(run.error!.message, /row 1: unknown column colour in things/);
      assert.match(
        run.error!.hint ?? "",
        /Its rows come from a function.*nothing of 002_things\.ts was written, but the seeds before it stay \(001_orgs\.json\)/,
      );
      assert.equal(await count(db, "orgs"), 3);
      assert.equal(await count(db, "things"), 0);
    });
  });

  test(`an SQL seed with transaction statements of its own is refused with a hint to take them out, not to move them into a migration [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const mid = await refused(runSeeds(db, [
        sql(
          "orgs.sql",
          "BEGIN;\nINSERT INTO orgs (slug, name) VALUES ('a', 'A');\nCOMMIT;\nINSERT INTO orgs (slug, name) VALUES ('b', 'B');",
        ),
      ]));
      assert.match(
        mid.message,
        /^orgs\.sql: a seed runs in one transaction, but statement 1 \(line 1\) controls transactions/,
      );
      assert.match(mid.hint ?? "", /^Take out its transaction statements/);
      const annotated = await refused(runSeeds(db, [
        sql("orgs.sql", "-- strata:no-transaction\nINSERT INTO orgs (slug, name) VALUES ('a', 'A');"),
      ]));
      assert.match(annotated.hint ?? "", /^Take out the annotation/);
      const vacuum = await refused(runSeeds(db, [sql("orgs.sql", "VACUUM orgs;")]));
      assert.equal(vacuum.hint, "Move that statement into a migration");
      // one BEGIN ... COMMIT around the whole file is taken off and runs
      assertOk(
        await runSeeds(db, [sql("orgs.sql", "BEGIN;\nINSERT INTO orgs (slug, name) VALUES ('a', 'A');\nCOMMIT;")]),
      );
      assert.equal(await count(db, "orgs"), 1);
    });
  });

  test(`an SQL seed failing at statement 2 keeps nothing of itself, names file, statement and line [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const bad = [
        "-- two statements; the second divides by zero",
        "INSERT INTO things (code) VALUES ('from-bad');",
        "",
        "INSERT INTO things (code, count)",
        "VALUES ('boom', 1 / 0);",
      ].join("\n");
      const run = await runSeeds(db, [
        data("001_orgs.json", "orgs", ["slug"], ORGS),
        sql(
          "002_ok.sql",
          "INSERT INTO things (code) VALUES ('ok1'), ('ok2');\nUPDATE orgs SET plan = 'pro' WHERE slug = 'globex';",
        ),
        sql("003_bad.sql", bad),
        data("004_later.json", "things", ["code"], [{ code: "later" }]),
        sql("005_later.sql", "INSERT INTO things (code) VALUES ('later-sql');"),
      ]);
      assert.deepEqual(counts(run), [
        ["001_orgs.json", "done", 3, 0, 0],
        ["002_ok.sql", "done", 2, 1, null],
        ["003_bad.sql", "failed", 0, 0, null],
        ["004_later.json", "not run", 0, 0, 0],
        ["005_later.sql", "not run", 0, 0, null],
      ]);
      assert.equal(run.results[1].table, null);
      assert.ok(run.error instanceof FileError, String(run.error));
      assert.equal(run.error.code, "SEED_FAILED");
      assert.equal(run.error.file, "003_bad.sql");
      assert.equal(run.error.statement, 2);
      assert.equal(run.error.line, 4);
      assert.match(run.error.message, /^003_bad\.sql, statement 2, line 4\b.*division by zero/);
      assert.equal(
        run.error.hint,
        "Nothing of 003_bad.sql was kept; the seeds before it stay (001_orgs.json, 002_ok.sql), and the ones " +
          "after it did not run. Fix 003_bad.sql and run the seeds again (a data seed that ran changes nothing " +
          "the second time)",
      );
      assert.equal(run.error.server?.code, "22012");
      assert.deepEqual((await db.query<{ code: string }>("SELECT code FROM things ORDER BY code")).map((r) => r.code), [
        "ok1",
        "ok2",
      ]);
      assert.equal(await count(db, "orgs"), 3);
      // the session is usable again: the next run goes through
      assertOk(await runSeeds(db, [sql("006.sql", "INSERT INTO things (code) VALUES ('after');")]));
    });
  });

  test(`bad input fails before anything is written, naming the file, even as the 3rd of 3 seeds [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const good = [
        data("001_orgs.json", "orgs", ["slug"], ORGS),
        sql("002_things.sql", "INSERT INTO things (code) VALUES ('x');"),
      ];
      const cases: Array<[string, SeedFile, RegExp, string?]> = [
        [
          "a key column missing from a row",
          data("003.json", "orgs", ["slug"], [{ slug: "a", name: "A" }, { name: "B" }]),
          /row 2 has no value for key column slug/,
        ],
        [
          "a null key value",
          data("003.json", "orgs", ["slug"], [{ slug: null, name: "A" }]),
          /row 1 has no value for key column slug/,
        ],
        [
          "an unknown table",
          data("003.json", "no_such_table", ["slug"], [{ slug: "a" }]),
          /unknown table no_such_table/,
        ],
        [
          "an unknown column",
          data("003.json", "orgs", ["slug"], [{ slug: "a", name: "A" }, { slug: "b", name: "B", colour: "red" }]),
          /row 2: unknown column colour in orgs/,
        ],
        [
          "a key that is not a column",
          data("003.json", "orgs", ["handle"], [{ slug: "a", name: "A" }]),
          /key column handle is not a column of orgs/,
        ],
        [
          "a key with no unique index",
          data("003.json", "loose", ["code"], [{ code: "a", name: "A" }]),
          /no unique index or constraint on loose \(code\)/,
        ],
        [
          "a key that is only part of a unique index",
          data("003.json", "members", ["email"], [{ email: "a@b.c", org_id: 1 }]),
          /no unique index or constraint on members \(email\)/,
        ],
        [
          "duplicate keys in one seed",
          data("003.json", "orgs", ["slug"], [{ slug: "a", name: "A" }, { slug: "b", name: "B" }, {
            slug: "a",
            name: "again",
          }]),
          /rows 1 and 3 have the same key \(slug\)/,
        ],
        [
          "an object for a non-json column",
          data("003.json", "orgs", ["slug"], [{ slug: "a", name: { first: "A" } }]),
          /row 1, column name: an object for a column of type text/,
        ],
        [
          "a list for a non-array column",
          data("003.json", "orgs", ["slug"], [{ slug: "a", name: ["A"] }]),
          /row 1, column name: a list for a column of type text/,
        ],
        [
          "a value for a generated column",
          data("003.json", "orgs", ["slug"], [{ id: 9, slug: "a", name: "A" }]),
          /row 1: column id is generated/,
        ],
        ["rows that are not a list", {
          name: "003.json",
          kind: "data",
          seed: { table: "orgs", key: ["slug"], rows: { slug: "a" } as never },
        }, /"rows" must be a list/],
        ["an empty key", data("003.json", "orgs", [], [{ slug: "a" }]), /"key" must be a list of column names/],
        ["an unknown table in a rows function seed", {
          name: "003.ts",
          kind: "data",
          seed: { table: "nope", key: ["a"], rows: () => [] },
        }, /unknown table nope/],
        [
          "an SQL seed that cannot run in a transaction",
          sql("003.sql", "CREATE INDEX CONCURRENTLY things_level ON things (level);"),
          /transaction/,
        ],
        [
          "an SQL syntax error",
          sql("003.sql", "INSERT INTO things (code) VALUES ('y');\nINSRT INTO things VALUES (1);"),
          /syntax error/,
          "PARSE_ERROR",
        ],
      ];
      for (const [what, bad, message, code = "SEED_INVALID"] of cases) {
        await assert.rejects(runSeeds(db, [...good, bad]), (error: unknown) => {
          assert.ok(error instanceof FileError, `${what}: ${error}`);
          assert.equal(error.code, code, `${what}: ${error.message}`);
          assert.equal(error.file, bad.name, what);
          assert.match(error.message, message, what);
          assert.ok(error.message.startsWith(bad.name), `${what}: ${error.message}`);
          return true;
        }, what);
        assert.deepEqual([await count(db, "orgs"), await count(db, "things")], [0, 0], `${what}: nothing written`);
      }
    });
  });

  test(`loadSeeds reads files in name order, then the -env subfolder, and parses JSON and modules [${backend}]`, async (t) => {
    await withDatabase(t, backend, async ({ db }) => {
      await setup(db);
      const dir = await tempDir("strata-seeds-");
      try {
        await mkdir(join(dir.path, "dev"));
        await mkdir(join(dir.path, "prod"));
        await writeFile(
          join(dir.path, "01_orgs.json"),
          JSON.stringify({ table: "orgs", key: ["slug"], rows: ORGS }, null, 2),
        );
        await writeFile(
          join(dir.path, "02_members.mjs"),
          `export default {
  table: "members",
  key: ["org_id", "email"],
  rows: async ({ query }) => {
    const [org] = await query("SELECT id::text AS id FROM orgs WHERE slug = $1", ["acme"]);
    return [{ org_id: org.id, email: "a@acme.test" }];
  },
};\n`,
        );
        await writeFile(join(dir.path, "10_things.sql"), "INSERT INTO things (code) VALUES ('common');\n");
        await writeFile(join(dir.path, "README.md"), "not a seed\n");
        await writeFile(join(dir.path, "types.d.ts"), "export {};\n");
        await writeFile(
          join(dir.path, "dev", "01_demo.json"),
          JSON.stringify({ table: "orgs", key: ["slug"], update: true, rows: [{ slug: "demo", name: "Demo" }] }),
        );
        await writeFile(join(dir.path, "dev", "02_demo.sql"), "INSERT INTO things (code) VALUES ('dev');\n");
        await writeFile(join(dir.path, "prod", "01_prod.sql"), "INSERT INTO things (code) VALUES ('prod');\n");

        const common = await loadSeeds(dir.path);
        assert.deepEqual(common.map((f) => [f.name, f.kind]), [
          ["01_orgs.json", "data"],
          ["02_members.mjs", "data"],
          ["10_things.sql", "sql"],
        ]);
        const withDev = await loadSeeds(dir.path, { env: "dev" });
        assert.deepEqual(withDev.map((f) => f.name), [
          "01_orgs.json",
          "02_members.mjs",
          "10_things.sql",
          "dev/01_demo.json",
          "dev/02_demo.sql",
        ]);
        const run = await runSeeds(db, withDev);
        assertOk(run);
        assert.deepEqual(counts(run), [
          ["01_orgs.json", "done", 3, 0, 0],
          ["02_members.mjs", "done", 1, 0, 0],
          ["10_things.sql", "done", 1, 0, null],
          ["dev/01_demo.json", "done", 1, 0, 0],
          ["dev/02_demo.sql", "done", 1, 0, null],
        ]);
        assert.deepEqual((await db.query<{ code: string }>("SELECT code FROM things ORDER BY id")).map((r) => r.code), [
          "common",
          "dev",
        ]);
        assert.equal(await count(db, "orgs"), 4);

        await assert.rejects(loadSeeds(dir.path, { env: "staging" }), (error: unknown) => {
          assert.ok(error instanceof StrataError);
          assert.equal(error.code, "SOURCE_NOT_FOUND");
          assert.match(error.message, /-env staging not found: .*staging/);
          return true;
        });
        await assert.rejects(loadSeeds(join(dir.path, "missing")), { code: "SOURCE_NOT_FOUND" });
        await assert.rejects(loadSeeds(dir.path, { env: "../dev" }), { code: "USAGE" });
        await assert.rejects(loadSeeds(dir.path, { env: ".." }), { code: "USAGE" });
      } finally {
        await dir.remove();
      }
    });
  });
}

test("parseJsonSeed names the line and column of a JSON syntax error", () => {
  const text = '{\n  "table": "orgs",\n  "key": ["slug"],\n  "rows": [\n    { "slug": "a", }\n  ]\n}\n';
  assert.throws(() => parseJsonSeed(text, "001_orgs.json"), (error: unknown) => {
    assert.ok(error instanceof FileError);
    assert.equal(error.code, "SEED_INVALID");
    assert.equal(error.file, "001_orgs.json");
    assert.equal(error.line, 5);
    assert.equal(error.column, 20);
    assert.equal(error.excerpt, '    { "slug": "a", }');
    assert.match(error.message, /^001_orgs\.json, line 5, column 20: invalid JSON: /);
    return true;
  });
  // V8 gives no position for an unexpected token (a trailing comma in an array): found all the same.
  const trailing = '{\n  "table": "orgs",\n  "rows": [\n    { "slug": "a" },\n  ]\n}\n';
  assert.throws(() => parseJsonSeed(trailing, "002_orgs.json"), (error: unknown) => {
    assert.ok(error instanceof FileError);
    assert.equal(error.message, "002_orgs.json, line 5, column 3: invalid JSON: Unexpected token ']'");
    assert.equal(error.excerpt, "  ]");
    return true;
  });
  assert.deepEqual(parseJsonSeed('{"table":"t","key":["k"],"rows":[]}', "x.json"), {
    table: "t",
    key: ["k"],
    rows: [],
  });
});

test("parseJsonSeed says an empty file is empty and shows a seed's shape, and names the line where a cut-short file ends", () => {
  for (const text of ["", "\n  \n"]) {
    assert.throws(() => parseJsonSeed(text, "003_empty.json"), (error: unknown) => {
      assert.ok(error instanceof FileError);
      assert.equal(error.code, "SEED_INVALID");
      assert.equal(error.message, "003_empty.json: the file is empty");
      assert.match(error.hint ?? "", /^A JSON seed is one object: \{ "table": /);
      return true;
    });
  }
  const cut = '{\n  "table": "orgs",\n  "key": ["slug"],\n  "rows": [\n    { "slug": "a" }\n';
  assert.throws(() => parseJsonSeed(cut, "004_cut.json"), (error: unknown) => {
    assert.ok(error instanceof FileError);
    assert.equal(error.line, 5);
    assert.equal(error.excerpt, '    { "slug": "a" }');
    assert.match(error.message, /^004_cut\.json, line 5, column \d+: invalid JSON: /);
    return true;
  });
  assert.throws(() => parseJsonSeed('{\n  "table": "orgs",\n  "rows": [\n', "005_cut.json"), (error: unknown) => {
    assert.ok(error instanceof FileError);
    assert.equal(error.message, "005_cut.json, line 3, column 12: invalid JSON: Unexpected end of JSON input");
    assert.equal(error.excerpt, '  "rows": [');
    return true;
  });
});

test("loadSeeds rejects a JSON seed with a syntax error, naming the file and line, before running anything", async () => {
  const dir = await tempDir("strata-seeds-json-");
  try {
    await writeFile(join(dir.path, "001_ok.json"), '{"table":"orgs","key":["slug"],"rows":[]}');
    await mkdir(join(dir.path, "dev"));
    await writeFile(
      join(dir.path, "dev", "002_bad.json"),
      '{\n  "table": "orgs",\n  "key": ["slug"]\n  "rows": []\n}\n',
    );
    assert.equal((await loadSeeds(dir.path)).length, 1);
    await assert.rejects(loadSeeds(dir.path, { env: "dev" }), (error: unknown) => {
      assert.ok(error instanceof FileError);
      assert.equal(error.code, "SEED_INVALID");
      assert.equal(error.file, "dev/002_bad.json");
      assert.equal(error.line, 4);
      assert.match(error.message, /^dev\/002_bad\.json, line 4, column \d+: invalid JSON/);
      return true;
    });
  } finally {
    await dir.remove();
  }
});

test("a JSON seed's number that a double cannot hold is refused with its line and column; shorter ones, strings and a BOM are fine", () => {
  const text = '{\n  "table": "t", "key": ["id"],\n  "rows": [{ "id": 1, "n": 9007199254740993 }]\n}\n';
  assert.throws(() => parseJsonSeed(text, "big.json"), (error) => {
    assert.ok(error instanceof FileError);
    assert.equal(error.code, "SEED_INVALID");
    assert.equal(error.line, 3);
    assert.equal(error.column, 28);
    assert.match(
      error.message,
      /the number 9007199254740993 has more digits than JSON\.parse keeps: it would be stored as 9007199254740992/,
    );
    assert.match(error.hint ?? "", /"9007199254740993"/);
    return true;
  });
  assert.throws(
    () => parseJsonSeed('{"rows": [{"n": 12345678901234567890.12345678901234567890}]}', "n.json"),
    /more digits/,
  );
  assert.throws(() => parseJsonSeed('{"rows": [{"n": 1e400}]}', "n.json"), /stored as Infinity/);
  assert.throws(() => parseJsonSeed('{"rows": [{"n": 1e-400}]}', "n.json"), /stored as 0/);
  const fine = parseJsonSeed(
    '\ufeff{"rows": [{"a": 0.1, "b": 1.5e3, "c": 123456789012345, "d": "9007199254740993", "e": 9007199254740992, "f": 1.0000000000000000}]}',
    "ok.json",
  ) as unknown as { rows: Array<Record<string, unknown>> };
  assert.deepEqual(fine.rows[0], {
    a: 0.1,
    b: 1500,
    c: 123456789012345,
    d: "9007199254740993",
    e: 9007199254740992,
    f: 1,
  });
});

test("loadSeeds reads CommonJS seeds (.cjs) like the other modules", async () => {
  const dir = await tempDir("strata-seeds-cjs-");
  try {
    await writeFile(
      join(dir.path, "001_t.cjs"),
      'module.exports = { table: "t", key: ["id"], rows: [{ id: 1 }] };\n',
    );
    const [seed] = await loadSeeds(dir.path);
    assert.equal(seed?.name, "001_t.cjs");
    assert.equal(seed?.kind, "data");
    assert.deepEqual(seed?.kind === "data" ? seed.seed.rows : undefined, [{ id: 1 }]);
  } finally {
    await dir.remove();
  }
});

test("a role that may use but not set the sequence still seeds rows that give their own ids [postgres]", async (t) => {
  await withDatabase(t, "postgres", async (test) => {
    const role = `strata_seed_app_${process.pid}`;
    await test.db.exec(
      `CREATE ROLE ${role} LOGIN; CREATE TABLE p1 (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, code text UNIQUE);` +
        `GRANT SELECT, INSERT, UPDATE ON p1 TO ${role}; GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`,
    );
    try {
      const url = new URL(test.url);
      url.username = role;
      const { db } = await openDatabase(url.toString());
      try {
        assertOk(await runSeeds(db, [data("p1.json", "p1", ["code"], [{ id: 10, code: "a" }])]));
      } finally {
        await db.close();
      }
      assert.equal(await count(test.db, "p1"), 1);
    } finally {
      await test.db.exec(`DROP TABLE p1; DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});

/** runSeeds where libpg-query cannot load (as on an edge runtime), with a SQL seed whose statements nobody split. */
const NO_PARSER_SCRIPT = `import { register } from "node:module";
const hooks = \`export async function resolve(specifier, context, next) {
  if (specifier === "libpg-query") throw new Error('No such module "libpg-query".');
  return next(specifier, context);
}\`;
register("data:text/javascript," + encodeURIComponent(hooks), import.meta.url);

const [strataUrl] = process.argv.slice(2);
const { openDatabase, runSeeds, StrataError } = await import(strataUrl);
const { db } = await openDatabase("pglite://memory");
const errors = [];
for (let i = 0; i < 2; i++) {
  try {
    await runSeeds(db, [{ name: "001_x.sql", kind: "sql", text: "SELECT 1;\\n" }]);
    errors.push(null);
  } catch (error) {
    errors.push({ strata: error instanceof StrataError, code: error.code, file: error.file, message: error.message, hint: error.hint });
  }
}
await db.close();
console.log(JSON.stringify(errors));
`;

test("where the parser cannot load, a SQL seed given without its statements fails with PARSER_UNAVAILABLE naming it and what to do, not a module error", async () => {
  const app = await tempDir("strata-no-parser-");
  try {
    await writeFile(join(app.path, "run.mjs"), NO_PARSER_SCRIPT);
    const out = await runProcess(process.execPath, ["--import", TSX, "run.mjs", pathToFileURL(MOD).href], app.path);
    assert.equal(out.code, 0, `stderr:\n${out.stderr}`);
    const errors = JSON.parse(out.stdout.trim().split("\n").at(-1)!);
    // The second attempt tries again (the failure is not cached) and fails the same way.
    assert.equal(errors.length, 2);
    for (const error of errors) {
      assert.deepEqual({ ...error, hint: undefined }, {
        strata: true,
        code: "PARSER_UNAVAILABLE",
        file: "001_x.sql",
        message:
          '001_x.sql: cannot split the file into statements: the PostgreSQL parser (libpg-query) cannot load here: No such module "libpg-query"',
        hint: undefined,
      });
      assert.match(error.hint, /^Split the SQL ahead of time: `strata bundle -out FILE -seeds DIR`/);
    }
  } finally {
    await app.remove();
  }
});

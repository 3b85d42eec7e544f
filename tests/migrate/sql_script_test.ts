import assert from "node:assert/strict";
import { test } from "node:test";
import { FileError } from "../../lib/db/strata_error.ts";
import { locateInScript, parseSqlScript } from "../../lib/migrate/sql_script.ts";

test("parseSqlScript keeps semicolons inside dollar-quoted bodies, strings and comments", async () => {
  const text = `-- leading; comment
CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
  PERFORM 1; PERFORM 'a;b';
  RETURN NEW;
END;
$body$;
/* block; comment */
INSERT INTO t VALUES ('x;y', $$z;w$$);
SELECT 1`;
  const script = await parseSqlScript(text, "1_f.up.sql");
  assert.equal(script.statements.length, 3);
  assert.match(script.statements[0].sql, /^CREATE FUNCTION f\(\)[\s\S]*\$body\$$/);
  assert.equal(script.statements[0].line, 2);
  assert.equal(script.statements[1].sql, "INSERT INTO t VALUES ('x;y', $$z;w$$)");
  assert.equal(script.statements[1].line, 9);
  assert.equal(script.statements[2].sql, "SELECT 1");
  assert.equal(script.transactional, true);
});

test("parseSqlScript reports a syntax error with the file, line, column and the line itself", async () => {
  const text = "CREATE TABLE a (id int);\n\nCREATE TABL b (id int);\n";
  await assert.rejects(parseSqlScript(text, "2_b.up.sql"), (error: unknown) => {
    assert.ok(error instanceof FileError);
    assert.equal(error.code, "PARSE_ERROR");
    assert.equal(error.file, "2_b.up.sql");
    assert.equal(error.line, 3);
    assert.equal(error.column, 8);
    assert.equal(error.excerpt, "CREATE TABL b (id int);", "the line, for the CLI to print with a caret");
    assert.match(error.message, /^2_b\.up\.sql, line 3, column 8: syntax error at or near "TABL"/);
    return true;
  });
});

test("parseSqlScript counts positions in characters after multi-byte text", async () => {
  const text = "COMMENT ON TABLE a IS 'héllo — wörld 🎉';\nCREATE TABLE b (id int);\nSELECT ü FROM b;";
  const script = await parseSqlScript(text, "3_c.up.sql");
  assert.equal(script.statements.length, 3);
  assert.equal(script.statements[1].sql, "CREATE TABLE b (id int)");
  assert.equal(script.statements[2].sql, "SELECT ü FROM b");
  // The server says column "ü" is at character 8 of statement 3.
  assert.deepEqual(locateInScript(script, 2, 8), { line: 3, column: 8 });
  const bad = "SELECT '🎉'; SELEC 1;";
  await assert.rejects(parseSqlScript(bad, "x.up.sql"), (error: unknown) => {
    assert.ok(error instanceof FileError);
    assert.equal(error.column, bad.indexOf("SELEC 1") + 1);
    return true;
  });
});

test("parseSqlScript runs CONCURRENTLY, VACUUM and ALTER SYSTEM outside a transaction and says why", async () => {
  const cases: Array<[string, RegExp]> = [
    [
      "CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY a_i ON a (id);",
      /statement 2 \(line 2\): CREATE INDEX CONCURRENTLY/,
    ],
    ["DROP INDEX CONCURRENTLY IF EXISTS a_i;", /DROP INDEX CONCURRENTLY/],
    ["REINDEX (CONCURRENTLY) INDEX a_i;", /REINDEX CONCURRENTLY/],
    ["REINDEX INDEX CONCURRENTLY a_i;", /REINDEX CONCURRENTLY/],
    ["VACUUM (ANALYZE) a;", /VACUUM/],
    ["ALTER SYSTEM SET work_mem = '8MB';", /ALTER SYSTEM/],
    ["CREATE DATABASE other;", /CREATE DATABASE/],
    ["ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;", /DETACH PARTITION CONCURRENTLY/],
    // A batched data migration: golang-migrate sends the file as one query, where COMMIT in a DO block works.
    [
      "UPDATE t SET x = 0 WHERE false;\nDO $$ BEGIN LOOP EXIT; END LOOP; COMMIT; END $$;",
      /statement 2 \(line 2\): a DO block that commits or rolls back/,
    ],
    ["DO LANGUAGE plpgsql $body$ BEGIN ROLLBACK; END $body$;", /a DO block that commits or rolls back/],
    ["DO $$ BEGIN IF true THEN COMMIT AND CHAIN; END IF; END $$;", /a DO block that commits or rolls back/],
  ];
  for (const [sql, reason] of cases) {
    const script = await parseSqlScript(sql, "x.up.sql");
    assert.equal(script.transactional, false, sql);
    assert.match(script.reason ?? "", reason, sql);
  }
  for (
    const sql of [
      "ANALYZE a;",
      "CREATE INDEX a_i ON a (id);",
      "REFRESH MATERIALIZED VIEW CONCURRENTLY m;",
      "REINDEX INDEX a_i;",
      // The words in a comment or a string of the body are not statements.
      "DO $$ BEGIN -- COMMIT later\n RAISE NOTICE 'ROLLBACK'; PERFORM $q$COMMIT$q$; END $$;",
      // Nor are columns named commit or rollback.
      "DO $$ DECLARE c text; BEGIN UPDATE t SET rollback = true; SELECT commit INTO c FROM t; END $$;",
    ]
  ) {
    assert.equal((await parseSqlScript(sql, "x.up.sql")).transactional, true, sql);
  }
});

test("parseSqlScript honours the no-transaction annotation on the first line", async () => {
  const script = await parseSqlScript("-- strata:no-transaction\nCALL batch_update();\n", "x.up.sql");
  assert.equal(script.transactional, false);
  assert.match(script.reason ?? "", /annotated/);
  const later = await parseSqlScript("SELECT 1;\n-- strata:no-transaction\n", "x.up.sql");
  assert.equal(later.transactional, true);
});

test("parseSqlScript takes off a file's own BEGIN/COMMIT so the version update commits with it", async () => {
  const script = await parseSqlScript(
    "BEGIN;\nCREATE TABLE a (id int);\nCREATE INDEX a_i ON a (id);\nCOMMIT;\n",
    "x.up.sql",
  );
  assert.equal(script.transactional, true);
  assert.equal(script.unwrapped, true);
  assert.deepEqual(script.statements.map((s) => s.sql), ["CREATE TABLE a (id int)", "CREATE INDEX a_i ON a (id)"]);
});

test("parseSqlScript leaves files with several transactions of their own to run as written", async () => {
  const text =
    "BEGIN;\nUPDATE a SET x = 1 WHERE id < 1000;\nCOMMIT;\nBEGIN;\nUPDATE a SET x = 1 WHERE id >= 1000;\nCOMMIT;";
  const script = await parseSqlScript(text, "x.up.sql");
  assert.equal(script.transactional, false);
  assert.equal(script.statements.length, 6);
  assert.match(script.reason ?? "", /statement 1 \(line 1\) controls transactions itself/);
  const isolation = await parseSqlScript("BEGIN ISOLATION LEVEL SERIALIZABLE;\nSELECT 1;\nCOMMIT;", "x.up.sql");
  assert.equal(isolation.transactional, false);
});

test("parseSqlScript returns no statements for an empty or comment-only file", async () => {
  assert.equal((await parseSqlScript("", "x.up.sql")).statements.length, 0);
  assert.equal((await parseSqlScript("-- nothing yet\n/* later */\n", "x.up.sql")).statements.length, 0);
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { inspect } from "node:util";
import { maskUrl, parseDatabaseUrl, redact, serverSettings } from "../../lib/db/database_url.ts";
import { StrataError } from "../../lib/db/strata_error.ts";

test("no URL selects the embedded PGlite default in .strata/pglite; an empty one is INVALID_URL", () => {
  const url = parseDatabaseUrl(undefined);
  assert.equal(url.kind, "pglite");
  assert.equal(url.pglitePath, ".strata/pglite");
  for (const raw of ["", "  "]) {
    assert.throws(() => parseDatabaseUrl(raw), (error) => {
      assert.ok(error instanceof StrataError);
      assert.equal(error.code, "INVALID_URL");
      assert.match(error.message, /empty/);
      return true;
    });
  }
  assert.equal(parseDatabaseUrl("pglite://memory").pglitePath, "memory");
  assert.equal(parseDatabaseUrl("pglite:///var/data/db").pglitePath, "/var/data/db");
  assert.equal(parseDatabaseUrl("pglite://./local/db").pglitePath, "./local/db");
});

test("golang-migrate's x- parameters are read and removed before connecting", () => {
  const url = parseDatabaseUrl(
    "postgres://app:pw@db:5432/app?sslmode=disable&x-migrations-table=%22migrations%22.%22app%22&x-migrations-table-quoted=1&x-statement-timeout=30000&x-multi-statement=true&search_path=tenant",
  );
  assert.equal(url.kind, "postgres");
  assert.equal(url.migrationsTable, '"migrations"."app"');
  assert.equal(url.migrationsTableQuoted, true);
  assert.equal(url.statementTimeoutMs, 30000);
  assert.equal(url.multiStatement, true);
  assert.equal(url.connectUrl, "postgres://app:pw@db:5432/app?sslmode=disable&search_path=tenant");
  assert.equal(url.lockName, "/app");
  assert.deepEqual(url.ignored, []);
});

test("x- parameters strata does not read are dropped and listed with why, so a misspelt table name is not silent", () => {
  const url = parseDatabaseUrl("pgx5://u@h/db?x-migration-table=app&x-no-lock=true&x-multi-statement-max-size=100");
  assert.equal(url.migrationsTable, undefined);
  assert.equal(url.connectUrl, "postgres://u@h/db");
  assert.deepEqual(url.ignored.map((i) => i.parameter), ["x-migration-table", "x-no-lock"]);
  assert.match(url.ignored[0].reason, /reads x-migrations-table, x-migrations-table-quoted/);
  assert.match(url.ignored[1].reason, /always holds golang-migrate's session-level advisory lock/);
  assert.deepEqual(parseDatabaseUrl("pglite://memory?x-migrations-tabel=t").ignored.map((i) => i.parameter), [
    "x-migrations-tabel",
  ]);
});

test("golang-migrate's pgx://, pgx4:// and pgx5:// URLs connect as postgres:// with the same parameters, table and lock name", () => {
  const plain = parseDatabaseUrl(
    "postgres://app:pw@db:5432/app?sslmode=disable&x-migrations-table=m&x-statement-timeout=5000",
  );
  for (const scheme of ["pgx", "pgx4", "pgx5", "PGX5"]) {
    const url = parseDatabaseUrl(
      `${scheme}://app:pw@db:5432/app?sslmode=disable&x-migrations-table=m&x-statement-timeout=5000`,
    );
    assert.deepEqual({ ...url, label: undefined }, { ...plain, label: undefined }, scheme);
    // People see the URL they wrote, password masked.
    assert.equal(
      url.label,
      `${scheme}://app:***@db:5432/app?sslmode=disable&x-migrations-table=m&x-statement-timeout=5000`,
    );
  }
  assert.equal(
    parseDatabaseUrl("pgx5://app:pw@/app?host=/run/postgresql").connectUrl,
    "postgres:///app?host=%2Frun%2Fpostgresql&user=app&password=pw",
  );
});

test("the lock's database name is the URL path with its slash, percent-decoded", () => {
  assert.equal(parseDatabaseUrl("postgresql://u@h/my%20db").lockName, "/my db");
  // golang-migrate's WithInstance asks current_database() only for an empty path; "/" is a name.
  assert.equal(parseDatabaseUrl("postgres://u@h").lockName, undefined);
  assert.equal(parseDatabaseUrl("postgres://u@h:5432/").lockName, "/");
});

test("malformed parameters and unknown schemes are INVALID_URL errors that never show the password", () => {
  const bad = [
    "postgres://u:hunter22@h/db?x-statement-timeout=soon",
    "postgres://u:hunter22@h/db?x-migrations-table-quoted=maybe",
    "mysql://u:hunter22@h/db",
  ];
  for (const raw of bad) {
    assert.throws(() => parseDatabaseUrl(raw), (error: unknown) => {
      assert.ok(error instanceof StrataError);
      assert.equal(error.code, "INVALID_URL");
      assert.doesNotMatch(error.message, /hunter22/);
      return true;
    });
  }
});

test("maskUrl hides passwords in URLs, query parameters and key=value strings", () => {
  assert.equal(maskUrl("postgres://app:s3cr%40t@db:5432/app"), "postgres://app:***@db:5432/app");
  assert.equal(
    maskUrl("postgres://app@db/app?password=s3cret&sslmode=require"),
    "postgres://app@db/app?password=***&sslmode=require",
  );
  assert.equal(maskUrl("host=db user=app password='s3 cret' dbname=app"), "host=db user=app password=*** dbname=app");
  assert.equal(maskUrl("postgres://db/app"), "postgres://db/app");
  // libpq decodes parameter names: pass%77ord is password.
  assert.equal(maskUrl("postgres://app@db/app?pass%77ord=s3cret&x=1"), "postgres://app@db/app?pass%77ord=***&x=1");
  assert.equal(maskUrl("postgres://app@db/app?SSLPASSWORD=s3cret"), "postgres://app@db/app?SSLPASSWORD=***");
  assert.equal(parseDatabaseUrl("postgres://app:s3cret@db/app").label, "postgres://app:***@db/app");
});

test("redact removes every occurrence of a secret from child process output", () => {
  assert.equal(redact("FATAL: password s3cret rejected (s3cret)", ["s3cret"]), "FATAL: password *** rejected (***)");
  assert.equal(redact("nothing here", [undefined, ""]), "nothing here");
});

test("a password with an unencoded #, /, ? or space is masked whole, also in the parse error", () => {
  for (const secret of ["se#cret", "pa/ss?x", "a b c", "p@ss#1"]) {
    const url = `postgres://app:${secret}@db.internal:5432/app`;
    assert.equal(maskUrl(url), "postgres://app:***@db.internal:5432/app");
    try {
      const parsed = parseDatabaseUrl(url);
      assert.ok(!parsed.label.includes(secret), parsed.label);
    } catch (error) {
      assert.ok(!(error as Error).message.includes(secret), (error as Error).message);
      assert.match((error as StrataError).hint ?? "", /Percent-encode/);
    }
  }
});

test("a URL whose unencoded password a URL parser would read as host and database is INVALID_URL, never a connection to a piece of the password", () => {
  // A URL parser ends the user info at the first "/", "?" or "#": the password's tail becomes
  // the host, its rest the database, and a failed connection's hint would print both.
  for (const secret of ["S3c@Rqx/PWy", "p@Szk#1", "S3c@Rqx#PWy"]) {
    const url = `postgres://postgres:${secret}@127.0.0.1:5432/app`;
    assert.throws(
      () => parseDatabaseUrl(url),
      (error: unknown) => {
        assert.ok(error instanceof StrataError);
        assert.equal(error.code, "INVALID_URL");
        for (const piece of secret.split(/[@/#]/).filter((p) => p.length > 2)) {
          assert.ok(!error.message.includes(piece), error.message);
        }
        assert.match(
          error.message,
          /^Cannot parse database URL: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/app: /,
        );
        assert.match(error.hint ?? "", /Percent-encode/);
        return true;
      },
      secret,
    );
  }
  // Encoded, it is the URL it looks like; an "@" only in the query, or a password holding "@" alone, too.
  assert.equal(parseDatabaseUrl("postgres://postgres:S3c%40ret%2FPW@127.0.0.1:5432/app").lockName, "/app");
  assert.equal(parseDatabaseUrl("postgres://app:s3cret@db:5432/app?application_name=me@host").lockName, "/app");
  assert.equal(parseDatabaseUrl("postgres://postgres:S3c@ret@127.0.0.1:5432/app").lockName, "/app");
});

test("in a whole URL a password parameter's value runs to the next & or the end, an unencoded space or # included", () => {
  for (const value of ["S3cret Pw", "S3cret#Pw", "S3cret: Pw", "a?b@c"]) {
    assert.equal(
      maskUrl(`postgres://postgres@127.0.0.1:5432/db?password=${value}`),
      "postgres://postgres@127.0.0.1:5432/db?password=***",
      value,
    );
    assert.equal(
      maskUrl(`postgres://postgres@127.0.0.1:5432/db?sslmode=disable&sslpassword=${value}&connect_timeout=3`),
      "postgres://postgres@127.0.0.1:5432/db?sslmode=disable&sslpassword=***&connect_timeout=3",
      value,
    );
    const label = parseDatabaseUrl(`postgres://postgres@127.0.0.1:5432/db?password=${value}`).label;
    assert.equal(label, "postgres://postgres@127.0.0.1:5432/db?password=***", value);
  }
  // Inside a longer message the URL ends at whitespace or ": ", and the words after it stay.
  assert.equal(
    maskUrl("Cannot connect to postgres://u@h/db?password=S3cret#Pw: connection refused"),
    "Cannot connect to postgres://u@h/db?password=***: connection refused",
  );
  assert.equal(
    maskUrl("Neither postgres://u@h/db?password=x nor postgres://u@g/db?password=y&sslmode=disable answers"),
    "Neither postgres://u@h/db?password=*** nor postgres://u@g/db?password=***&sslmode=disable answers",
  );
});

test("an @ in the query is not the user info's end: a URL without a password comes back as it is", () => {
  for (
    const url of [
      "postgres://postgres@127.0.0.1:5432/db?application_name=me@host",
      "postgres://127.0.0.1:5432/db?application_name=me@host&sslmode=disable",
      "postgresql://app@db/app?options=-c%20search_path%3Dx&application_name=ci@runner#frag",
    ]
  ) {
    assert.equal(maskUrl(url), url);
    assert.equal(parseDatabaseUrl(url).label, url);
  }
  assert.equal(
    maskUrl("postgres://app:s3cret@db:5432/app?application_name=me@host"),
    "postgres://app:***@db:5432/app?application_name=me@host",
  );
  // A "?" the password holds is still the password's, with or without a query after it.
  for (
    const [url, masked] of [
      ["postgres://app:pa?ss@db/app?sslmode=disable", "postgres://app:***@db/app?sslmode=disable"],
      ["postgres://app:pa?x=1@db/app", "postgres://app:***@db/app"],
      ["postgres://app:p@ss#1@db/app?application_name=a@b", "postgres://app:***@db/app?application_name=a@b"],
      ["postgres://app:a?b=c@db/app?sslmode=require", "postgres://app:***@db/app?sslmode=require"],
      // A "/" in the password before a "?k=v" it also holds: no URL parser reads it, all of it is masked.
      ["postgres://app:a/b?c=d@db/app", "postgres://app:***@db/app"],
      ["postgres://app:a/b?sslmode=require@db/app", "postgres://app:***@db/app"],
      ["postgres://app:a/b@db/app?application_name=me@h", "postgres://app:***@db/app?application_name=me@h"],
    ]
  ) {
    assert.equal(maskUrl(url), masked, url);
  }
});

test("an unreadable URL's INVALID_URL error holds no copy of the password, not even in its cause", async () => {
  const { openDatabase } = await import("../../lib/io/open_database.ts");
  for (
    const url of [
      "postgres://postgres:S3cret/Pw@127.0.0.1:5432/db",
      "postgres://postgres:S3cretPw@127.0.0.1:notaport/db",
      "pgx5://postgres:S3cret/Pw@127.0.0.1:5432/db",
    ]
  ) {
    const check = (error: unknown) => {
      assert.ok(error instanceof StrataError, String(error));
      assert.equal(error.code, "INVALID_URL");
      assert.ok(error.cause instanceof TypeError, "the parser's error stays the cause");
      assert.doesNotMatch(inspect(error, { depth: 10 }), /S3cret/, url);
      return true;
    };
    assert.throws(() => parseDatabaseUrl(url), check);
    await assert.rejects(openDatabase(url), check);
  }
});

test("maskUrl masks a URL whose // a path resolver collapsed, inside a message or alone", () => {
  assert.equal(
    maskUrl("Backup not found: /work/postgres:/postgres:S3cretPw@127.0.0.1:5432/db"),
    "Backup not found: /work/postgres:/postgres:***@127.0.0.1:5432/db",
  );
  assert.equal(maskUrl("postgres:/app:p@ss w@db/app"), "postgres:/app:***@db/app");
  assert.equal(maskUrl("/x/PGX5:/u:pw@h/db?password=pw2 missing"), "/x/PGX5:/u:***@h/db?password=*** missing");
  // Not a PostgreSQL scheme, or no password: as it was.
  assert.equal(maskUrl("C:/Users/a:b@c"), "C:/Users/a:b@c");
  assert.equal(maskUrl("/work/postgres:/app@db/app"), "/work/postgres:/app@db/app");
});

test("Cloud SQL's socket form (a user, no host, ?host=/folder) parses: user and password move to the query, the lock name is the path", () => {
  const url = parseDatabaseUrl("postgres://app:p%2Bw+d@/mydb?host=/cloudsql/proj:region:inst&sslmode=disable");
  assert.equal(url.lockName, "/mydb");
  assert.equal(url.label, "postgres://app:***@/mydb?host=/cloudsql/proj:region:inst&sslmode=disable");
  const query = new URL(url.connectUrl).searchParams;
  assert.equal(query.get("host"), "/cloudsql/proj:region:inst");
  assert.equal(query.get("user"), "app");
  assert.equal(query.get("password"), "p+w+d");
  assert.equal(new URL(url.connectUrl).pathname, "/mydb");
  assert.equal(
    new URL(parseDatabaseUrl("postgres://app@/db?host=/run/pg").connectUrl).searchParams.get("password"),
    null,
  );
  // A host that is there is left as it is.
  assert.equal(parseDatabaseUrl("postgres://app:pw@db:5432/app").connectUrl, "postgres://app:pw@db:5432/app");
});

test("serverSettings are the query parameters that are not connection settings, as lib/pq sends them to the server", () => {
  assert.deepEqual(
    serverSettings(
      "postgres://u@h/db?sslmode=disable&lock_timeout=5s&TimeZone=Asia%2FTokyo&connect_timeout=3&search_path=app&host=x",
    ),
    [["lock_timeout", "5s"], ["TimeZone", "Asia/Tokyo"], ["search_path", "app"]],
  );
  assert.deepEqual(serverSettings("postgres://u@h/db"), []);
});

test("serverSettings leaves other drivers' parameters out and refuses what would corrupt text or inject options", () => {
  assert.deepEqual(
    serverSettings("postgres://u@h/db?schema=public&connection_limit=5&pgbouncer=true&lock_timeout=5s"),
    [["lock_timeout", "5s"]],
  );
  for (
    const bad of [
      "postgres://u@h/db?client_encoding=LATIN1",
      "postgres://u@h/db?DateStyle=SQL",
      "postgres://u@h/db?lock_timeout%3D5s%20-c%20statement_timeout=4242",
      "postgres://u@h/db?search_path=public%00work_mem%00778MB",
    ]
  ) {
    assert.throws(
      () => serverSettings(bad),
      (error) => error instanceof StrataError && error.code === "INVALID_URL",
      bad,
    );
  }
  assert.deepEqual(serverSettings("postgres://u@h/db?client_encoding=UTF8&DateStyle=ISO,%20MDY").length, 2);
  // The socket form with no path: golang-migrate asks current_database() for the lock name.
  assert.equal(parseDatabaseUrl("postgres://u:pw@?host=/var/run/postgresql").lockName, undefined);
});

test("libpqEnvironment passes the URL's server settings to pg_dump and psql in PGOPTIONS, whitespace escaped", async () => {
  const { libpqEnvironment } = await import("../../lib/io/pg_tools.ts");
  const { env } = await libpqEnvironment(
    "postgres://u@h/db?search_path=public%09-c%09work_mem%3D777MB&lock_timeout=5s",
  );
  assert.equal(env.PGOPTIONS, "-c search_path=public\\\t-c\\\twork_mem=777MB -c lock_timeout=5s");
});

test("a PGlite URL's server settings are kept for the session (options=-c too); its connection parameters and x-statement-timeout are listed as ignored, with why", () => {
  const url = parseDatabaseUrl(
    "pglite://./db?search_path=app,public&options=-c%20TimeZone%3DUTC&sslmode=disable&x-statement-timeout=100",
  );
  assert.deepEqual(url.pgliteSettings, [["search_path", "app,public"], ["TimeZone", "UTC"]]);
  // libpq's escaped space in an options value, as strata writes PGOPTIONS itself.
  assert.deepEqual(parseDatabaseUrl("pglite://memory?options=--search_path%3Da%5C%20b").pgliteSettings, [[
    "search_path",
    "a b",
  ]]);
  assert.equal(url.statementTimeoutMs, undefined);
  assert.deepEqual(url.ignored.map((i) => i.parameter), ["sslmode", "x-statement-timeout"]);
  assert.match(url.ignored[1].reason, /cannot cancel/);
  assert.throws(
    () => parseDatabaseUrl("pglite://memory?client_encoding=latin1"),
    (error: unknown) => error instanceof StrataError && error.code === "INVALID_URL",
  );
});

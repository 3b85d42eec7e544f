/**
 * `strata restore FILE`: verifies the backup's checksum, refuses to write over a database
 * that already has tables unless told to, and restores in one transaction (psql
 * --single-transaction for plain SQL, pg_restore --single-transaction for custom and
 * directory dumps; the SQL executed in a transaction for PGlite), so a failure leaves the
 * target as it was. With `replace` the current schema is emptied in that same transaction
 * (custom and directory dumps then go through `pg_restore -f - | psql`).
 */
import { Buffer } from "node:buffer";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import process from "node:process";
import { pipeline } from "node:stream/promises";
import { basename, join } from "node:path";
import { ALREADY_EXISTS, type Database } from "../db/database.ts";
import type { DatabaseUrl } from "../db/database_url.ts";
import { quoteIdent } from "../db/quote_ident.ts";
import { StrataError } from "../db/strata_error.ts";
import { tokenize } from "../schema/_sql_tokens.ts";
import { currentSchemaDrops } from "../migrate/drop_schema.ts";
import { locateInScript, locatePosition, parseSqlScript, type SqlScript } from "../migrate/sql_script.ts";
import { keepingSessionSettings } from "./_session_settings.ts";
import { removeOnExit } from "./exit_cleanup.ts";
import { fileSystemError } from "./write_atomically.ts";
import { type BackupFormat, type BackupManifest, databaseKeyOf, verifyBackup } from "./backup.ts";
import { dbnameArgument, findPgProgram, libpqEnvironment, runPiped, runProgram } from "./pg_tools.ts";

/** Options for {@linkcode restoreBackup}. */
export interface RestoreOptions {
  /** Restore into a database that already has tables without asking. */
  yes?: boolean;
  /** Drop what the dump recreates first (custom and directory dumps; plain dumps by strata always do). */
  clean?: boolean;
  /**
   * Empty the current schema first, in the restore's own transaction (what `drop -f` drops),
   * so that objects made after the backup go too. Implies `clean`.
   */
  replace?: boolean;
  /** Asked when the target has tables and `yes` is not set; no function means refuse. */
  confirm?: (question: string) => Promise<boolean>;
  /** The psql / pg_restore process id, once it runs. */
  onSpawn?: (pid: number) => void;
  /**
   * Stops psql / pg_restore when aborted: the server rolls their transaction back, so the
   * restore fails as INTERRUPTED with the database as it was. (An embedded PGlite restore
   * runs in this process and is not stopped.)
   */
  signal?: AbortSignal;
}

/** What a restore did. */
export interface RestoreResult {
  path: string;
  format: BackupFormat;
  /** Whether a recorded checksum was verified (backups not written by strata have none). */
  checked: boolean;
  /** Tables the target had before. */
  existingTables: number;
  /** Objects of the current schema dropped first (with `replace`). */
  dropped?: number;
  /**
   * Roles a server's backup names (owners, grants, policies) that the embedded PGlite database
   * did not have, created for the restore (NOLOGIN, in its transaction). PGlite only.
   */
  createdRoles?: string[];
  /** What the backup's manifest says it is of (a backup strata wrote; absent for others). */
  backupOf?: Pick<BackupManifest, "database" | "createdAt" | "migrationVersion">;
  /**
   * Whether the backup was of this same database (its manifest's key: server and name, or
   * PGlite folder); absent when the manifest has no key.
   */
  sameDatabase?: boolean;
  durationMs: number;
}

/**
 * Restores a backup into the database. It does not take the migration lock: a caller that
 * may run beside a migration holds it around the call (`migrator.hold`), as the CLI's
 * `restore` and deploy do.
 *
 * @throws {StrataError} BACKUP_CORRUPT (checksum), ABORTED (non-empty target, not confirmed), RESTORE_FAILED (the target is unchanged).
 * @example
 * ```ts ignore
 * const { db, url } = await openDatabase(process.env.DATABASE_URL);
 * await restoreBackup(db, url, "backups/backup_20260101_120000_app.dump", { yes: true, clean: true });
 * ```
 */
export async function restoreBackup(
  db: Database,
  url: DatabaseUrl,
  path: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const started = performance.now();
  const verified = await verifyBackup(path, { dialect: db.dialect });
  const manifest = verified.manifest;
  const sameDatabase = manifest?.databaseKey === undefined
    ? undefined
    : manifest.databaseKey === await databaseKeyOf(db, url).catch(() => undefined);
  const [{ count }] = await db.query<{ count: number }>(
    `SELECT count(*)::int AS count FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
  );
  if (count > 0 && !options.yes) {
    const question = `${url.label} already has ${count} table(s); restoring ${
      basename(path)
    } replaces what the backup contains. Go on? [y/N]`;
    if (!options.confirm) {
      throw new StrataError(
        "ABORTED",
        `${url.label} already has ${count} table(s): not restoring over them without -yes`,
        {
          hint: "Restore into an empty database, or pass -yes (with -clean to drop what the backup recreates, " +
            "or -replace to empty the current schema first)",
        },
      );
    }
    if (!(await options.confirm(question))) throw new StrataError("ABORTED", "Restore declined: nothing was changed");
  }
  // Listed before the restore starts; run in its transaction, so a failure keeps them too.
  const drops = options.replace ? await currentSchemaDrops(db) : undefined;
  const dropSql = drops?.map((d) => `${d.ddl};\n`).join("");
  let createdRoles: string[] = [];
  try {
    if (db.dialect === "pglite") {
      if (verified.format !== "plain") {
        throw new StrataError(
          "USAGE",
          `The embedded PGlite database restores plain SQL backups only, not ${verified.format}`,
        );
      }
      createdRoles = await restorePglite(db, path, dropSql ?? "");
    } else {
      await restorePostgres(db, url, path, verified.format, options, dropSql);
    }
  } catch (error) {
    // A file strata could not check may be damaged: say so where the failure is read.
    if (!verified.checked && error instanceof StrataError && error.code === "RESTORE_FAILED") {
      const unverified = `${basename(path)} has no recorded checksum (not written by strata backup), so it was ` +
        "not verified: a damaged or cut-off file fails like this too.";
      Object.assign(error, { hint: error.hint ? `${unverified} ${error.hint}` : unverified });
    }
    throw error;
  }
  return {
    path,
    format: verified.format,
    checked: verified.checked,
    existingTables: count,
    ...(drops === undefined ? {} : { dropped: drops.length }),
    ...(createdRoles.length > 0 ? { createdRoles } : {}),
    ...(manifest
      ? {
        backupOf: {
          database: manifest.database,
          createdAt: manifest.createdAt,
          migrationVersion: manifest.migrationVersion,
        },
      }
      : {}),
    ...(sameDatabase === undefined ? {} : { sameDatabase }),
    durationMs: performance.now() - started,
  };
}

async function restorePostgres(
  db: Database,
  url: DatabaseUrl,
  path: string,
  format: BackupFormat,
  options: RestoreOptions,
  dropSql: string | undefined,
): Promise<void> {
  const [server] = await db.query<{ num: string }>("SELECT current_setting('server_version_num') AS num");
  const major = Math.floor(Number(server.num) / 10000);
  const libpq = await libpqEnvironment(url.connectUrl);
  const spawned = {
    env: libpq.env,
    secrets: [libpq.password],
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const failed = (name: string, stderr: string) =>
    options.signal?.aborted
      ? new StrataError("INTERRUPTED", `Interrupted: ${name} was stopped, so nothing was restored`, {
        hint: "It ran in one transaction, which the server rolls back: the database is as it was before, unless " +
          "the signal came while it committed. Run 'strata status' (or look at the tables) to be sure",
      })
      : new StrataError(
        "RESTORE_FAILED",
        `${name} failed, so nothing was restored (it ran in one transaction): ${firstError(stderr)}`,
        {
          hint: `The database is as it was before${dropSql ? " (the current schema was not emptied either)" : ""}. ${
            dropSql ? "Fix what the error names, or " : format === "plain" ? PLAIN_WITHOUT_CLEAN : options.clean
              // -clean drops only what the backup recreates: an object that depends on one of them
              // (another table's foreign key) stops the drop.
              ? "-replace empties the current schema first, so objects the backup does not have go too; or "
              : "Add -clean to drop what the backup recreates, or "
          }restore into an empty database`,
        },
      );
  const psql = await findPgProgram("psql", 0);
  const psqlArgs = ["-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=1"];
  if (format === "plain") {
    const copy = major < 17 ? await withoutNewerSettings(path) : undefined;
    const file = copy?.path;
    try {
      // With -1, psql runs every -f in one transaction: the drops (from stdin), then the dump.
      const args = [...psqlArgs, "--single-transaction", ...(dropSql ? ["-f", "-"] : []), "-f", file ?? path];
      // The drops are UTF-8 whatever the database's encoding; the dump sets its own.
      const input = dropSql ? `SET client_encoding = 'UTF8';\n${dropSql}` : undefined;
      const result = await runProgram(psql.path, args, { ...spawned, ...(input ? { input } : {}) });
      if (result.code !== 0) throw failed("psql", result.stderr);
    } finally {
      await copy?.remove();
    }
    return;
  }
  const pgRestore = await findPgProgram("pg_restore", major);
  if (dropSql === undefined) {
    const args = [
      "--no-password",
      "--single-transaction",
      "--exit-on-error",
      `--dbname=${dbnameArgument(libpq.database)}`,
    ];
    if (options.clean) args.push("--clean", "--if-exists");
    const result = await runProgram(pgRestore.path, [...args, path], spawned);
    if (result.code !== 0) throw failed("pg_restore", result.stderr);
    return;
  }
  // pg_restore writes the restore as a script (its BEGIN ... COMMIT around all of it) and psql
  // runs it after the drops, which the BEGIN sent first puts in the same transaction. The
  // script's own BEGIN only warns. psql is killed, never committing, if pg_restore fails.
  const result = await runPiped(
    { program: pgRestore.path, args: ["--single-transaction", "--clean", "--if-exists", "-f", "-", path] },
    { program: psql.path, args: [...psqlArgs, "-f", "-"] },
    {
      ...spawned,
      prefix: `SET client_encoding = 'UTF8';\nBEGIN;\n${dropSql}`,
      ...(major < 17 && pgRestore.major >= 17 ? { head: (head: string) => removeNewerSettings(head) } : {}),
    },
  );
  // psql failing first stops pg_restore: then psql's error is the one to report.
  if (result.consumer.code !== 0 && (result.producer.stopped || result.producer.code === 0)) {
    throw failed("psql", result.consumer.stderr);
  }
  if (result.producer.code !== 0) throw failed("pg_restore", result.producer.stderr);
  if (result.consumer.code !== 0) throw failed("psql", result.consumer.stderr);
}

/**
 * pg_dump 17 and later (PGlite's is 18) start a plain dump with `SET transaction_timeout = 0;`,
 * which an older server rejects. For such a server, a copy without that header line, in a
 * folder of its own in the system's temporary folder (0700; the copy 0600; removed afterwards,
 * and on exit): the header is rewritten, the rest of the file copied as it is. Undefined when
 * the header does not have it.
 *
 * @throws {StrataError} COMMAND_FAILED when the copy cannot be written (a full disk), with nothing left behind.
 */
async function withoutNewerSettings(path: string): Promise<{ path: string; remove(): Promise<void> } | undefined> {
  const handle = await open(path, "r");
  const head = Buffer.alloc(16384);
  let headBytes: number;
  try {
    headBytes = (await handle.read(head, 0, head.length, 0)).bytesRead;
  } finally {
    await handle.close();
  }
  const text = head.subarray(0, headBytes).toString("latin1"); // one char per byte: offsets are byte offsets
  const found = newerSettingLine(text);
  if (!found || found.end > headBytes) return undefined;
  const folder = await mkdtemp(join(tmpdir(), "strata-restore-"));
  const kept = removeOnExit(folder);
  const remove = async () => {
    await rm(folder, { recursive: true, force: true });
    kept();
  };
  const copy = join(folder, basename(path));
  try {
    const out = createWriteStream(copy, { mode: 0o600 });
    out.write(head.subarray(0, found.start));
    out.write(head.subarray(found.end, headBytes));
    await pipeline(createReadStream(path, { start: headBytes }), out);
  } catch (error) {
    await remove();
    throw fileSystemError(
      error,
      `Cannot copy ${
        basename(path)
      } without its SET transaction_timeout line (for a server before PostgreSQL 17) into ${tmpdir()}`,
      "Nothing was restored. Free space there, or point TMPDIR at a folder with room for a copy of the backup",
    );
  }
  return { path: copy, remove };
}

/**
 * Where `SET transaction_timeout = ...;` stands in a dump's header (the comment, SET,
 * set_config, \\restrict and BEGIN lines before the first statement), as offsets in `text`.
 */
function newerSettingLine(text: string): { start: number; end: number } | undefined {
  let offset = 0;
  for (const line of text.split("\n")) {
    if (/^SET transaction_timeout = /.test(line)) return { start: offset, end: offset + line.length + 1 };
    if (
      line !== "" && !line.startsWith("--") && !line.startsWith("SET ") && !line.startsWith("\\restrict ") &&
      line !== "BEGIN;" && !line.startsWith("SELECT pg_catalog.set_config")
    ) {
      return undefined;
    }
    offset += line.length + 1;
  }
  return undefined;
}

/** A script's header without `SET transaction_timeout`, which servers before 17 reject. */
export function removeNewerSettings(head: string): string {
  const found = newerSettingLine(head);
  return found && found.end <= head.length ? head.slice(0, found.start) + head.slice(found.end) : head;
}

/** SQLSTATEs of a dump meeting what the database already has: an object that exists, a row whose key does. */
const EXISTS: ReadonlySet<string> = new Set([...ALREADY_EXISTS, "23505"]);

/** A plain file that fails over existing objects: the way out, before "restore into an empty database". */
const PLAIN_WITHOUT_CLEAN = "A plain file drops what it recreates only when pg_dump made it with --clean (strata's " +
  "plain backups are); otherwise add -replace to empty the current schema first, in the same transaction, or ";

/** SQL blocks up to this size are split to find a failed statement; a longer one (--inserts) is not. */
const SPLIT_LIMIT = 4 * 1024 * 1024;

/** Where a restore failed: a block of the dump from its first line, and the statement in it when known. */
type FailedAt = { text: string; line: number; copy?: true; script?: SqlScript; index?: number; error?: unknown };

/**
 * Restores a plain backup into PGlite, in one transaction. A server's backup names its roles
 * (`OWNER TO app`, `GRANT ... TO app`, `CREATE POLICY ... TO app`), which a new embedded
 * database lacks, and psql's one transaction would stop at the first: each role a statement
 * is refused for is created (NOLOGIN, in the same transaction) and the statement runs again,
 * so the schema comes back as it was, owners and grants included. Returns those roles.
 */
async function restorePglite(db: Database, path: string, dropSql: string): Promise<string[]> {
  const file = basename(path);
  const parts = psqlScriptParts(await readFile(path, "utf8"), file);
  const pg = db.raw as { query(sql: string, params: unknown[], options: { blob: Blob }): Promise<unknown> };
  const createdRoles: string[] = [];
  let at: FailedAt | undefined;
  // PGlite is one session: plain queries on it (a deploy holding the migration lock can
  // restore too), and the dump's SETs must not outlive it.
  return await keepingSessionSettings(db, async () => {
    try {
      await db.exec("BEGIN");
      if (dropSql) await db.exec(dropSql);
      for (const part of parts) {
        if (part.copy !== undefined) {
          // COPY ... FROM stdin with its rows inline, as a server's pg_dump writes it: PGlite
          // reads the rows from a blob instead of psql's standard input.
          at = { text: part.copy, line: part.line, copy: true };
          await pg.query(part.copy, [], { blob: new Blob([part.sql]) });
          continue;
        }
        // A block runs whole (one call per statement costs twice the time); when it fails,
        // it runs again statement by statement from its savepoint to name the one that fails.
        at = undefined;
        await db.exec("SAVEPOINT strata_restore");
        for (;;) {
          try {
            await db.exec(part.sql);
            break;
          } catch (error) {
            const role = missingRole(error);
            if (role !== undefined && !createdRoles.includes(role)) {
              // Created outside the block's savepoint, so that going back to it (for the next
              // role, or to name a failing statement) keeps the roles made so far.
              await db.exec("ROLLBACK TO SAVEPOINT strata_restore");
              await db.exec("RELEASE SAVEPOINT strata_restore");
              await db.exec(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`);
              await db.exec("SAVEPOINT strata_restore");
              createdRoles.push(role);
              continue;
            }
            at = await failedStatement(db, part, file, error);
            throw at.error;
          }
        }
        await db.exec("RELEASE SAVEPOINT strata_restore");
      }
      at = undefined;
      await db.exec("COMMIT");
      return createdRoles;
    } catch (error) {
      await db.exec("ROLLBACK").catch(() => {});
      throw new StrataError(
        "RESTORE_FAILED",
        `Restoring ${file} failed${where(at, error)}, so nothing was restored: ${(error as Error).message}`,
        {
          cause: error,
          hint: `The database is as it was before${
            dropSql
              ? " (the current schema was not emptied either)"
              : `. ${
                EXISTS.has(String((error as { code?: unknown }).code))
                  ? PLAIN_WITHOUT_CLEAN
                  : "Fix what the error names, or "
              }restore into an empty database`
          }`,
        },
      );
    }
  });
}

/** The role a `role "NAME" does not exist` error (42704) names. */
function missingRole(error: unknown): string | undefined {
  if ((error as { code?: unknown }).code !== "42704") return undefined;
  return /^role "(.+)" does not exist$/.exec((error as Error).message ?? "")?.[1];
}

/**
 * The block that failed, run again from its savepoint one statement at a time: the statement
 * that fails now is the one that failed (same data, same order). A block too long to split or
 * not valid SQL keeps the block and its first error, whose position the server gives.
 */
async function failedStatement(
  db: Database,
  part: { sql: string; line: number },
  file: string,
  error: unknown,
): Promise<FailedAt> {
  const whole: FailedAt = { text: part.sql, line: part.line, error };
  const script = part.sql.length <= SPLIT_LIMIT
    ? await parseSqlScript(part.sql, file).catch(() => undefined)
    : undefined;
  if (script === undefined) return whole;
  try {
    await db.exec("ROLLBACK TO SAVEPOINT strata_restore");
    for (const [index, statement] of script.statements.entries()) {
      try {
        await db.exec(statement.sql);
      } catch (again) {
        return { ...whole, script, index, error: again };
      }
    }
  } catch {
    // the savepoint is gone with the session: the first error stands
  }
  return whole;
}

/** ` at line L, column C` of the dump for a failure `at`, from the server's position (or COPY row) when it gives one. */
function where(at: FailedAt | undefined, error: unknown): string {
  if (at === undefined) return "";
  if (at.copy) {
    // A row the server refused: its CONTEXT counts the COPY's data lines from 1.
    const row = /\bCOPY \S+, line (\d+)/.exec(String((error as { where?: unknown }).where ?? ""));
    return ` at line ${at.line + (row ? Number(row[1]) : 0)}`;
  }
  const raw = Number((at.error as { position?: unknown } | undefined)?.position);
  const position = Number.isInteger(raw) && raw > 0 ? raw : undefined;
  if (at.script !== undefined && at.index !== undefined) {
    const { line, column } = locateInScript(at.script, at.index, position);
    return ` at line ${at.line + line - 1}${position === undefined ? "" : `, column ${column}`}`;
  }
  if (position === undefined) return ` in the statements from line ${at.line}`;
  const { line, column } = locatePosition(at.text, position);
  return ` at line ${at.line + line - 1}, column ${column}`;
}

/**
 * A plain dump as psql would run it, cut into SQL to execute and COPY blocks (the COPY
 * statement, its rows). pg_dump's `\restrict` / `\unrestrict` lines guard psql against
 * meta-commands hidden in the data and are left out; any other psql meta-command cannot run
 * on PGlite and is refused, naming its line.
 */
export function psqlScriptParts(text: string, file: string): Array<{ sql: string; copy?: string; line: number }> {
  const parts: Array<{ sql: string; copy?: string; line: number }> = [];
  const lines = text.split("\n");
  let sql: string[] = [];
  // The 1-based line the SQL collected in `sql` starts at.
  let first = 1;
  // A `\` or COPY line inside a string, a quoted name, a $$ body or a comment is text, as
  // psql's scanner has it: only such lines make the SQL before them worth following.
  const insideQuote = () => tokenize(sql.join("\n") + "\n").at(-1)?.unterminated === true;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const copy = /^COPY .+ FROM stdin;\r?$/i.test(line);
    if ((!copy && !line.startsWith("\\")) || insideQuote()) {
      if (sql.length === 0) first = i + 1;
      sql.push(line);
      continue;
    }
    if (copy) {
      if (sql.length) parts.push({ sql: sql.join("\n"), line: first });
      sql = [];
      const rows: string[] = [];
      const start = i;
      for (i++; i < lines.length && !/^\\\.\r?$/.test(lines[i]); i++) rows.push(lines[i]);
      if (i >= lines.length) {
        throw new StrataError("RESTORE_FAILED", `${file}, line ${start + 1}: COPY data without its closing \\.`, {
          hint: "The file is cut short: restore a whole backup",
        });
      }
      parts.push({
        copy: line.replace(/FROM stdin;\r?$/i, "FROM '/dev/blob';"),
        sql: rows.map((r) => `${r}\n`).join(""),
        line: start + 1,
      });
      continue;
    }
    if (/^\\(restrict|unrestrict)\b/.test(line)) {
      if (sql.length) sql.push(""); // keeps the lines after it where they are in the file
      continue;
    }
    throw new StrataError(
      "RESTORE_FAILED",
      `${file}, line ${i + 1}: the psql command ${line.split(/\s/)[0]} cannot run on the embedded PGlite database`,
      { hint: "Restore this file into a PostgreSQL server with psql, or make the backup with pg_dump without it" },
    );
  }
  if (sql.join("").trim() !== "") parts.push({ sql: sql.join("\n"), line: first });
  return parts;
}

function firstError(stderr: string): string {
  const line = stderr.split("\n").find((l) => /ERROR|FATAL|error:/.test(l)) ?? stderr.trim().split("\n")[0] ?? "";
  return line.trim();
}

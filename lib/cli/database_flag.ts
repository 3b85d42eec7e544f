/**
 * Which database a command runs on: -database, else $DATABASE_URL, else the embedded default.
 * An empty value is a mistake, never a request for the default: `-database "$DATABASE_URL"` with
 * the variable unset must not migrate a throwaway PGlite folder and exit 0.
 */
import { resolve as resolvePath } from "node:path";
import { type DatabaseUrl, DEFAULT_PGLITE_PATH, maskUrl, POSTGRES_SCHEMES } from "../db/database_url.ts";
import { DEFAULT_TABLE, type TableName } from "../migrate/version_table.ts";
import { StrataError } from "../db/strata_error.ts";
import type { OpenedDatabase } from "../io/open_database.ts";
import { booleanFlag, type ParsedArgs, parseWholeNumber, stringFlag } from "./flags.ts";
import type { CliIo } from "./run_cli.ts";
import { shellWord } from "../db/shell_word.ts";
import { quoteIdent } from "../db/quote_ident.ts";

/** The URL to open, or undefined for the embedded default. Throws USAGE on an empty value. */
export function databaseFlag(args: ParsedArgs, env: Record<string, string | undefined>): string | undefined {
  const flag = stringFlag(args, "database");
  if (flag !== undefined) {
    if (flag.trim() === "") {
      throw new StrataError("USAGE", "-database is empty", {
        hint: 'In a script, -database "$DATABASE_URL" with DATABASE_URL unset gives this: set it. ' +
          "Leave -database out (and DATABASE_URL unset) to use the embedded PGlite database in .strata/pglite",
      });
    }
    return flag;
  }
  const variable = env.DATABASE_URL;
  if (variable !== undefined && variable.trim() === "") {
    throw new StrataError("USAGE", "DATABASE_URL is set but empty", {
      hint: "Set it to a URL (postgres://user@host:5432/db, pglite://DIR), or unset it to use the embedded " +
        "PGlite database in .strata/pglite",
    });
  }
  return variable;
}

/**
 * -database as a shell word for a command printed in a hint. A URL with a password is never
 * printed: it becomes "$DATABASE_URL", so the command stays exact and runnable once the
 * variable holds the URL (and an unset variable is an error, not the embedded database).
 */
export function databaseWord(args: ParsedArgs, env: Record<string, string | undefined>): string | undefined {
  const raw = stringFlag(args, "database") ?? env.DATABASE_URL;
  if (raw === undefined || raw.trim() === "") return undefined;
  return maskUrl(raw) === raw ? shellWord(raw) : '"$DATABASE_URL"';
}

/**
 * When a printed command says `"$DATABASE_URL"` for a -database URL that holds a password
 * (which strata never prints) and the environment does not hold that URL: what to set first.
 */
export function databaseNote(args: ParsedArgs, env: Record<string, string | undefined>): string | undefined {
  const given = stringFlag(args, "database");
  if (given === undefined || maskUrl(given) === given || env.DATABASE_URL === given) return undefined;
  return "set DATABASE_URL to the URL you passed with -database before running it (strata does not print passwords)";
}

/**
 * A file or folder operand that is a database URL by mistake (`restore postgres://...`), masked
 * for a message; undefined for any other text. Checked as given: once a path resolver has made
 * `postgres://` into `postgres:/`, a message would show a path that hides a password.
 */
export function databaseUrlOperand(text: string): string | undefined {
  const scheme = /^\s*([a-zA-Z][a-zA-Z0-9+.-]*):\//.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined || !(POSTGRES_SCHEMES.has(scheme) || scheme === "pglite")) return undefined;
  return maskUrl(text.trim());
}

/** A strata command with the flags that locate this database and folder (a URL with a password becomes "$DATABASE_URL"). */
export function strataCommand(args: ParsedArgs, env: Record<string, string | undefined>, command: string): string {
  const parts = ["strata"];
  const path = stringFlag(args, "path");
  if (path !== undefined) parts.push("-path", shellWord(path));
  const source = stringFlag(args, "source");
  if (source !== undefined) parts.push("-source", shellWord(source));
  // Only a -database that was given: without one, the command reads $DATABASE_URL again.
  const database = stringFlag(args, "database") === undefined ? undefined : databaseWord(args, env);
  if (database !== undefined) parts.push("-database", database);
  parts.push(command);
  return parts.join(" ");
}

/**
 * The command that runs `command` on one `-track` alone, the golang-migrate way (`force` and
 * `down` take no -track): its folder as -path, its table as the URL's x-migrations-table. A
 * URL with a password becomes "$DATABASE_URL" followed by the table's parameters.
 */
export function trackCommand(
  args: ParsedArgs,
  env: Record<string, string | undefined>,
  track: { dir?: string; table: TableName },
  command: string,
): string {
  const parts = ["strata"];
  if (track.dir !== undefined) parts.push("-path", shellWord(track.dir));
  const { schema, table } = track.table;
  const parameters = schema !== undefined
    ? `x-migrations-table=${
      encodeURIComponent(`${quoteIdent(schema)}.${quoteIdent(table)}`)
    }&x-migrations-table-quoted=1`
    : table === DEFAULT_TABLE
    ? ""
    : `x-migrations-table=${encodeURIComponent(table)}`;
  const given = stringFlag(args, "database");
  const raw = given ?? env.DATABASE_URL;
  if (parameters === "") {
    // Only a -database that was given: without one, the command reads $DATABASE_URL again.
    const database = given === undefined ? undefined : databaseWord(args, env);
    if (database !== undefined) parts.push("-database", database);
  } else {
    const url = raw === undefined || raw.trim() === "" ? `pglite://${DEFAULT_PGLITE_PATH}` : raw;
    const suffix = `${url.includes("?") ? "&" : "?"}${parameters}`;
    parts.push("-database", maskUrl(url) === url ? shellWord(url + suffix) : `"$DATABASE_URL"${shellWord(suffix)}`);
  }
  parts.push(command);
  return parts.join(" ");
}

export { shellWord };

/** -lock-timeout in ms (default 15 s): how long a command waits for its database and the migration lock. */
export function lockTimeoutMs(args: ParsedArgs): number {
  const value = stringFlag(args, "lock-timeout");
  return value === undefined ? 15_000 : parseWholeNumber(value, "-lock-timeout", { min: 0 }) * 1000;
}

/**
 * Opens the database a command runs on, the same way for every command: says so on stderr
 * when it falls back to the embedded PGlite database (not with -json), passes server notices
 * on with -verbose, and has an embedded PGlite load the extensions that `folders` (relative
 * to the working directory) create.
 */
export async function openCommandDatabase(
  args: ParsedArgs,
  io: Pick<CliIo, "env" | "cwd" | "stderr">,
  options: { deadline: number; folders: readonly string[] },
): Promise<OpenedDatabase> {
  const raw = databaseFlag(args, io.env);
  if (raw === undefined && !booleanFlag(args, "json")) {
    io.stderr("strata: no -database or DATABASE_URL; using the embedded PGlite database in .strata/pglite\n");
  }
  const { openDatabase } = await import("../io/open_database.ts");
  const opened = await openDatabase(raw, {
    deadline: options.deadline,
    cwd: io.cwd,
    ...(booleanFlag(args, "verbose") ? { onNotice: (message: string) => io.stderr(`notice: ${message}\n`) } : {}),
    extensions: async () =>
      (await import("../io/pglite_extensions.ts")).extensionsUsedIn(
        options.folders.map((folder) => resolvePath(io.cwd, folder)),
      ),
  });
  warnIgnoredParameters(opened.url, io);
  return opened;
}

/** One warning line per `x-` parameter of the URL that strata does not read. */
export function warnIgnoredParameters(url: DatabaseUrl, io: Pick<CliIo, "stderr">): void {
  for (const { parameter, reason } of url.ignored) io.stderr(`warning: ignored ${parameter}: ${reason}\n`);
}

/**
 * The one interface the core talks to. Two drivers implement it: postgres.js for a
 * PostgreSQL server and PGlite for the embedded default. The core never sees which.
 */
import type { ServerErrorFields } from "./strata_error.ts";

/** A result row: column name to value. */
export type Row = Record<string, unknown>;

/** Something that runs SQL. */
export interface Queryable {
  /**
   * Runs one statement with `$1`-style parameters (values never go into the text) and
   * returns its rows.
   */
  query<T = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs SQL text through the simple-query protocol: no parameters, several statements allowed. */
  exec(text: string): Promise<void>;
}

/** One item of a script: SQL text alone (simple protocol), or text with `$1` parameters. */
export type ScriptItem = string | { readonly text: string; readonly params: readonly unknown[] };

/** One connection held by one caller: session state (locks, SET, transactions) stays on it. */
export interface Session extends Queryable {
  /**
   * Runs each item as its own query, in order, stopping at the first failure: text alone
   * through the simple-query protocol, text with parameters through the extended one.
   * Drivers that can pipeline send them together, so the server still answers the items sent
   * after a failure (each refused in the aborted transaction, a COMMIT ending it). A failure
   * throws {@linkcode ScriptError} naming the item's index and how many items the server
   * answered. Resolves to each item's row count (rows inserted, updated, deleted or returned;
   * 0 for DDL).
   */
  execScript(items: readonly ScriptItem[]): Promise<number[]>;
}

/** A database strata can migrate: a pool (or a single embedded instance) plus its identity. */
export interface Database extends Queryable {
  /** Which driver runs it. */
  readonly dialect: "postgres" | "pglite";
  /** How to name it to people: a URL with its password masked, or `pglite://PATH`. */
  readonly label: string;
  /**
   * The database name as golang-migrate's CLI sees it, for the advisory lock id: the URL's
   * path with its leading slash (`/mydb`). Undefined means "ask the server for
   * current_database()".
   */
  readonly lockName?: string;
  /**
   * What the URL's golang-migrate parameters said (`x-migrations-table`,
   * `x-migrations-table-quoted`, `x-statement-timeout`), for a Migrator given no table or
   * timeout of its own, as golang-migrate's `migrate.New(source, url)` honours them. Set by
   * openDatabase.
   */
  readonly urlSettings?: {
    readonly migrationsTable?: string;
    readonly migrationsTableQuoted: boolean;
    readonly statementTimeoutMs?: number;
  };
  /**
   * The driver's own client (the postgres.js `Sql`, the PGlite instance), for runtime-bound
   * tools such as a PGlite dump. The core never uses it.
   */
  readonly raw?: unknown;
  /**
   * Gives the host's event loop a turn (timers, signal handlers) when the database has kept
   * the thread busy for a while: in-process PGlite answers every query without one, so a
   * Ctrl-C would otherwise wait for the whole run. Called only between transactions (the
   * Migrator, between files): on PGlite's one session, a query the turn lets in would run
   * inside an open one. Absent for a server, whose replies come as I/O.
   */
  turn?(): Promise<void>;
  /** Runs `fn` on one session held for the whole call. */
  withSession<T>(fn: (session: Session) => Promise<T>): Promise<T>;
  /**
   * Closes every connection (or the embedded instance). Safe to call twice. Afterwards every
   * call (query, exec, withSession) throws a StrataError DATABASE_CLOSED at once.
   */
  close(): Promise<void>;
}

/**
 * Thrown by {@linkcode Session.execScript}: which statement failed, and the server's error.
 *
 * @example
 * ```ts
 * import { ScriptError } from "./database.ts";
 * const error = new ScriptError(2, { message: "division by zero", code: "22012" }, undefined);
 * console.log(error.index, error.server.code); // 2 "22012"
 * ```
 */
export class ScriptError extends Error {
  /** 0-based index of the statement that failed. */
  readonly index: number;
  /** The server's error, normalised. */
  readonly server: ServerErrorFields;
  /**
   * How many items, from the first, the server answered: up to the failed one on a driver
   * that stops there (PGlite); every item on one that had already sent the rest (postgres.js).
   */
  readonly answered: number;

  constructor(index: number, server: ServerErrorFields, cause: unknown, options: { answered?: number } = {}) {
    super(server.message, cause === undefined ? undefined : { cause });
    this.name = "ScriptError";
    this.index = index;
    this.server = server;
    this.answered = options.answered ?? index + 1;
  }
}

/**
 * Whether a `BEGIN, ..., COMMIT` script that failed with `error` left its transaction open, so
 * that the session needs a ROLLBACK. Not when BEGIN itself failed, not when the connection is
 * gone (the server ended the transaction), and not when the server answered the COMMIT: a
 * COMMIT of an aborted transaction rolls it back, and a COMMIT that fails ends it too. A
 * ROLLBACK with no transaction draws a WARNING (25P01) that postgres.js's default `onnotice`
 * prints on the caller's stdout.
 *
 * @param length the number of items in the script, COMMIT the last
 * @example
 * ```ts
 * import { ScriptError, scriptLeftTransactionOpen } from "./database.ts";
 * const error = new ScriptError(2, { message: "division by zero", code: "22012" }, undefined);
 * console.log(scriptLeftTransactionOpen(error, 4)); // true: the driver stopped before COMMIT
 * ```
 */
export function scriptLeftTransactionOpen(error: unknown, length: number): boolean {
  if (!(error instanceof ScriptError)) return !connectionGone(error);
  if (connectionGone(error.cause ?? error)) return false;
  return error.index > 0 && error.answered < length;
}

/**
 * SQLSTATEs of an object that is already there: a table or other relation (42P07), a type or
 * other object (42710), a schema (42P06), a function (42723), a column (42701). Their message
 * names the object, often without a position.
 */
export const ALREADY_EXISTS: ReadonlySet<string> = new Set(["42P07", "42710", "42P06", "42723", "42701"]);

/**
 * Whether an error means the connection is gone: a server error only at severity FATAL or
 * PANIC (which end the backend: a terminated backend, a shutdown), since an ERROR with a
 * connection-class SQLSTATE (dblink's 08001, a RAISE ... ERRCODE) leaves the session usable;
 * otherwise the driver's and the socket's own codes.
 */
export function connectionGone(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  if (typeof severity === "string") return severity === "FATAL" || severity === "PANIC";
  const text = typeof code === "string" ? code : "";
  return /^CONNECTION_(CLOSED|ENDED|DESTROYED)$|^(ECONNRESET|EPIPE|ETIMEDOUT)$/.test(text);
}

/**
 * Reads the fields a server error carries, whichever driver raised it (postgres.js uses
 * snake_case names, PGlite camelCase). Undefined when `error` did not come from the server.
 *
 * @example
 * ```ts
 * import { serverErrorFields } from "./database.ts";
 * const fields = serverErrorFields({ severity: "ERROR", code: "42P01", message: "relation \"t\" does not exist", position: "15" });
 * console.log(fields?.position); // 15
 * ```
 */
export function serverErrorFields(error: unknown): ServerErrorFields | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as Record<string, unknown>;
  if (typeof e.severity !== "string" || typeof e.code !== "string" || !/^[0-9A-Z]{5}$/.test(e.code)) {
    return undefined;
  }
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
  const fields: ServerErrorFields = { message: String(e.message ?? "") };
  const assign = (key: keyof ServerErrorFields, value: unknown) => {
    if (value !== undefined) (fields as unknown as Record<string, unknown>)[key] = value;
  };
  assign("code", e.code);
  assign("severity", text(e.severity));
  assign("detail", text(e.detail));
  assign("hint", text(e.hint));
  const position = Number(e.position);
  if (Number.isInteger(position) && position > 0) fields.position = position;
  assign("where", text(e.where));
  assign("schema", text(e.schema_name ?? e.schema));
  assign("table", text(e.table_name ?? e.table));
  assign("column", text(e.column_name ?? e.column));
  assign("constraint", text(e.constraint_name ?? e.constraint));
  return fields;
}

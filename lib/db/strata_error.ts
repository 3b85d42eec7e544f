/**
 * The one error type strata throws. `code` is stable and documented in the README;
 * the message is for people.
 */

/** Every code strata can put on a {@linkcode StrataError}. */
export type StrataErrorCode =
  | "MIGRATION_FAILED"
  | "DIRTY"
  | "LOCK_TIMEOUT"
  | "NO_MIGRATION"
  | "LIMIT_SHORT"
  | "VERSION_MISSING"
  | "DUPLICATE_MIGRATION"
  | "CHECKSUM_MISMATCH"
  | "OUT_OF_ORDER"
  | "PARSE_ERROR"
  | "PARSER_UNAVAILABLE"
  | "CONNECTION_FAILED"
  | "CONNECTION_LOST"
  | "DATABASE_CLOSED"
  | "AUTH_FAILED"
  | "DATABASE_BUSY"
  | "INVALID_URL"
  | "SOURCE_NOT_FOUND"
  | "INVALID_TABLE"
  | "SCHEMA_MISSING"
  | "USAGE"
  | "ABORTED"
  | "INTERRUPTED"
  | "COMMAND_FAILED"
  | "PERMISSION_DENIED"
  | "QUERY_FAILED"
  | "BACKUP_CORRUPT"
  | "RESTORE_FAILED"
  | "SEED_INVALID"
  | "SEED_FAILED";

/** Fields a PostgreSQL server (or PGlite) sends with an error, under one set of names. */
export interface ServerErrorFields {
  /** SQLSTATE, e.g. `42P01`. */
  code?: string;
  message: string;
  severity?: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the statement that was sent. */
  position?: number;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
}

/**
 * An error with a stable `code`, a human message and, where there is one, the original
 * error as `cause`.
 *
 * @example
 * ```ts
 * import { StrataError } from "./strata_error.ts";
 * const error = new StrataError("LOCK_TIMEOUT", "timeout: can't acquire database lock");
 * console.log(error.code); // "LOCK_TIMEOUT"
 * ```
 */
export class StrataError extends Error {
  /** Stable, SCREAMING_SNAKE code; see the README's table of error codes. */
  readonly code: StrataErrorCode;
  /** What to do next, when strata knows. */
  readonly hint?: string;
  /** The migration track it happened on, when several ran (migrateTracks, `-track`). */
  track?: string;

  constructor(code: StrataErrorCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "StrataError";
    this.code = code;
    if (options.hint) this.hint = options.hint;
  }
}

/** Where in which file a failure happened. */
export interface FileLocation {
  /** File name as the source lists it, e.g. `000002_users.up.sql`. */
  file: string;
  /** 1-based index of the statement in the file, when known. */
  statement?: number;
  /** 1-based line in the file. */
  line?: number;
  /** 1-based column in that line. */
  column?: number;
  /** The statement's text. */
  sql?: string;
  /** The text of the line the error points at, for a caret display. */
  excerpt?: string;
}

/**
 * A failure tied to a place in a migration or seed file: the file, the statement number,
 * the line and column, and the server's own error fields.
 *
 * @example
 * ```ts
 * import { FileError } from "./strata_error.ts";
 * const error = new FileError("PARSE_ERROR", "syntax error at or near \"TABL\"", { file: "1_a.up.sql", line: 1, column: 8 });
 * console.log(error.message); // 1_a.up.sql, line 1, column 8: syntax error at or near "TABL"
 * ```
 */
export class FileError extends StrataError {
  readonly file: string;
  readonly statement?: number;
  readonly line?: number;
  readonly column?: number;
  readonly sql?: string;
  readonly excerpt?: string;
  /** The server's error fields when the server raised it. */
  readonly server?: ServerErrorFields;
  /** The message without the location prefix. */
  readonly reason: string;

  constructor(
    code: StrataErrorCode,
    reason: string,
    location: FileLocation,
    options: { cause?: unknown; hint?: string; server?: ServerErrorFields } = {},
  ) {
    super(code, `${describeLocation(location)}: ${reason}`, options);
    this.name = "FileError";
    this.reason = reason;
    this.file = location.file;
    if (location.statement !== undefined) this.statement = location.statement;
    if (location.line !== undefined) this.line = location.line;
    if (location.column !== undefined) this.column = location.column;
    if (location.sql !== undefined) this.sql = location.sql;
    if (location.excerpt !== undefined) this.excerpt = location.excerpt;
    if (options.server) this.server = options.server;
  }
}

/** `file, statement 2, line 14, column 3` (the parts that are known). */
export function describeLocation(location: FileLocation): string {
  const parts = [location.file];
  if (location.statement !== undefined) parts.push(`statement ${location.statement}`);
  if (location.line !== undefined) parts.push(`line ${location.line}`);
  if (location.column !== undefined) parts.push(`column ${location.column}`);
  return parts.join(", ");
}

/** True when `error` is a {@linkcode StrataError} with the given code. */
export function isStrataError(error: unknown, code?: StrataErrorCode): error is StrataError {
  return error instanceof StrataError && (code === undefined || error.code === code);
}

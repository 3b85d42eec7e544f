/**
 * Splits a SQL file into statements with the real PostgreSQL parser (libpg-query), and
 * decides whether the file can run inside one transaction.
 */
import {
  FileError,
  isStrataError,
  type ServerErrorFields,
  StrataError,
  type StrataErrorCode,
} from "../db/strata_error.ts";
import { ALREADY_EXISTS } from "../db/database.ts";
import { tokenize } from "../schema/_sql_tokens.ts";

/** One statement of a file, with where it stands. */
export interface SqlStatement {
  /** The statement's text, without its terminating semicolon. */
  sql: string;
  /** UTF-16 offset of its first character in the file. */
  start: number;
  /** 1-based line of its first character. */
  line: number;
  /** 1-based column of its first character. */
  column: number;
  /** The parse node's name, e.g. `CreateStmt`, `IndexStmt`. */
  kind: string;
}

/** A parsed file: its statements and how it must run. */
export interface SqlScript {
  /** The file's text, as given. */
  text: string;
  /** Statements to run, in order (a wrapping BEGIN/COMMIT removed). */
  statements: SqlStatement[];
  /** Whether the file runs in one transaction with its version update. */
  transactional: boolean;
  /** Why it does not (the statement or annotation that prevents it). */
  reason?: string;
  /** True when the file's own BEGIN ... COMMIT was taken off, because strata supplies the transaction. */
  unwrapped?: boolean;
}

/** The annotation that makes a file run outside a transaction. */
export const NO_TRANSACTION_ANNOTATION = "-- strata:no-transaction";

type ParseFn = (
  sql: string,
) => { stmts?: Array<{ stmt?: Record<string, unknown>; stmt_location?: number; stmt_len?: number }> };

type ScanFn = (sql: string) => { tokens?: Array<{ text?: string; keywordKind?: number }> };

let loading: Promise<ParseFn> | undefined;
/** The parser's scanner, set once the module has loaded. */
let scanSync: ScanFn | undefined;

const PARSER_HINT = "Split the SQL ahead of time: `strata bundle -out FILE -seeds DIR` splits every migration " +
  "and SQL seed, and bundledSource / bundledSeeds serve those statements; or run this where libpg-query loads";

/**
 * Loads the parser's WASM module once. It is imported lazily: a run with nothing pending,
 * or a bundle with statements split ahead of time, never loads it.
 *
 * @throws {StrataError} PARSER_UNAVAILABLE where the module cannot load (an edge runtime
 * has no `libpg-query`, or cannot compile its WASM).
 */
export function loadParser(): Promise<ParseFn> {
  loading ??= import("libpg-query").then(async (module) => {
    await module.loadModule();
    scanSync = module.scanSync as unknown as ScanFn;
    return module.parseSync as unknown as ParseFn;
  }).catch((cause: unknown) => {
    loading = undefined;
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new StrataError(
      "PARSER_UNAVAILABLE",
      `The PostgreSQL parser (libpg-query) cannot load here: ${reason.replace(/\.$/, "")}`,
      { cause, hint: PARSER_HINT },
    );
  });
  return loading;
}

/**
 * Parses a SQL file. Statement boundaries come from the parser, so semicolons inside
 * dollar-quoted bodies, strings and comments never split a statement.
 *
 * @param text the file's text
 * @param file the file's name, for errors
 * @throws {FileError} PARSE_ERROR naming the file, line and column of a syntax error;
 * PARSER_UNAVAILABLE naming the file where the parser cannot load.
 * @example
 * ```ts
 * import { parseSqlScript } from "./sql_script.ts";
 * const script = await parseSqlScript("CREATE TABLE a (id int);\nCREATE INDEX CONCURRENTLY a_id ON a (id);", "1_a.up.sql");
 * console.log(script.statements.length, script.transactional, script.reason);
 * // 2 false "statement 2 (line 2): CREATE INDEX CONCURRENTLY cannot run inside a transaction block"
 * ```
 */
export async function parseSqlScript(text: string, file: string): Promise<SqlScript> {
  if (text.trim() === "") return { text, statements: [], transactional: true };
  let parseSync: ParseFn;
  try {
    parseSync = await loadParser();
  } catch (error) {
    if (!isStrataError(error, "PARSER_UNAVAILABLE")) throw error;
    throw new FileError(
      "PARSER_UNAVAILABLE",
      `cannot split the file into statements: ${error.message.replace(/^The PostgreSQL/, "the PostgreSQL")}`,
      { file },
      { cause: error.cause, hint: PARSER_HINT },
    );
  }
  // A byte order mark (Windows editors write one) is not SQL: the server would read it as part
  // of the first word. A space in its place keeps every offset, line and column.
  const sql = text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text;
  const offsets = byteOffsets(sql);
  let stmts: ReturnType<ParseFn>["stmts"] & object;
  try {
    stmts = parseSync(sql).stmts ?? [];
  } catch (error) {
    const details = (error as { sqlDetails?: { cursorPosition?: number; message?: string } }).sqlDetails;
    // Unlike statement locations (UTF-8 bytes), the error cursor counts code points.
    const at = details?.cursorPosition === undefined ? undefined : codePointToIndex(text, details.cursorPosition);
    let where: { line?: number; column?: number; excerpt?: string } = {};
    if (at !== undefined) {
      const { line, column } = lineColumn(text, at);
      where = { line, column, excerpt: text.split("\n")[line - 1] ?? "" };
    }
    const reason = (details?.message ?? (error as Error).message ?? String(error)).replace(/\s+$/, "");
    throw new FileError("PARSE_ERROR", reason, { file, ...where }, {
      cause: error,
      hint: "Fix the SQL; nothing was run",
    });
  }
  const statements: SqlStatement[] = stmts.map((s) => {
    const startByte = s.stmt_location ?? 0;
    const start = offsets.toChar(startByte);
    const end = s.stmt_len ? offsets.toChar(startByte + s.stmt_len) : text.length;
    const statement = sql.slice(start, end).replace(/\s+$/, "").replace(/;$/, "");
    const { line, column } = lineColumn(text, start);
    return { sql: statement, start, line, column, kind: Object.keys(s.stmt ?? {})[0] ?? "Unknown" };
  });
  const nodes = stmts.map((s) => (s.stmt ?? {}) as Record<string, Record<string, unknown>>);

  if (firstLine(text).trim().toLowerCase() === NO_TRANSACTION_ANNOTATION) {
    return { text, statements, transactional: false, reason: `annotated ${NO_TRANSACTION_ANNOTATION}` };
  }
  // A file that brings its own BEGIN ... COMMIT (a habit golang-migrate users have): take
  // them off and supply the transaction, so the version update commits with the file.
  const txKinds = nodes.map((n) => transactionKind(n));
  const txCount = txKinds.filter((k) => k !== undefined).length;
  if (
    txCount === 2 && statements.length >= 2 && txKinds[0] === "begin" &&
    txKinds[txKinds.length - 1] === "commit"
  ) {
    const inner = statements.slice(1, -1);
    const blocker = findBlocker(nodes.slice(1, -1), inner);
    return blocker
      ? { text, statements, transactional: false, reason: blocker }
      : { text, statements: inner, transactional: true, unwrapped: true };
  }
  if (txCount > 0) {
    const index = txKinds.findIndex((k) => k !== undefined);
    return {
      text,
      statements,
      transactional: false,
      reason: `statement ${index + 1} (line ${statements[index].line}) controls transactions itself`,
    };
  }
  const blocker = findBlocker(nodes, statements);
  return blocker
    ? { text, statements, transactional: false, reason: blocker }
    : { text, statements, transactional: true };
}

function findBlocker(
  nodes: Array<Record<string, Record<string, unknown>>>,
  statements: SqlStatement[],
): string | undefined {
  for (let i = 0; i < nodes.length; i++) {
    const what = cannotRunInTransaction(nodes[i]);
    if (what) return `statement ${i + 1} (line ${statements[i].line}): ${what} cannot run inside a transaction block`;
  }
  return undefined;
}

function transactionKind(node: Record<string, Record<string, unknown>>): string | undefined {
  const tx = node.TransactionStmt;
  if (!tx) return undefined;
  const kind = String(tx.kind ?? "");
  // BEGIN with options (an isolation level) keeps the file's own transaction.
  if ((kind === "TRANS_STMT_BEGIN" || kind === "TRANS_STMT_START") && !(tx.options as unknown[] | undefined)?.length) {
    return "begin";
  }
  if (kind === "TRANS_STMT_COMMIT") return "commit";
  return "other";
}

/** The statements PostgreSQL refuses inside a transaction block. */
function cannotRunInTransaction(node: Record<string, Record<string, unknown>>): string | undefined {
  const [kind, body] = Object.entries(node)[0] ?? [];
  if (!kind || !body) return undefined;
  switch (kind) {
    case "IndexStmt":
      return body.concurrent ? "CREATE INDEX CONCURRENTLY" : undefined;
    case "DropStmt":
      return body.concurrent ? "DROP INDEX CONCURRENTLY" : undefined;
    case "ReindexStmt": {
      const params = (body.params ?? []) as Array<{ DefElem?: { defname?: string } }>;
      if (params.some((p) => p.DefElem?.defname === "concurrently")) return "REINDEX CONCURRENTLY";
      return body.kind === "REINDEX_OBJECT_SYSTEM" || body.kind === "REINDEX_OBJECT_DATABASE"
        ? "REINDEX SYSTEM/DATABASE"
        : undefined;
    }
    case "VacuumStmt":
      return body.is_vacuumcmd ? "VACUUM" : undefined;
    case "AlterSystemStmt":
      return "ALTER SYSTEM";
    case "CreatedbStmt":
      return "CREATE DATABASE";
    case "DropdbStmt":
      return "DROP DATABASE";
    case "CreateTableSpaceStmt":
      return "CREATE TABLESPACE";
    case "DropTableSpaceStmt":
      return "DROP TABLESPACE";
    case "ClusterStmt":
      return body.relation ? undefined : "CLUSTER without a table";
    case "DoStmt":
      return doBlockEndsTransactions(body) ? "a DO block that commits or rolls back" : undefined;
    case "AlterTableStmt": {
      const cmds = (body.cmds ?? []) as Array<
        { AlterTableCmd?: { subtype?: string; def?: { PartitionCmd?: { concurrent?: boolean } } } }
      >;
      return cmds.some((c) =>
          c.AlterTableCmd?.subtype === "AT_DetachPartition" && c.AlterTableCmd.def?.PartitionCmd?.concurrent
        )
        ? "DETACH PARTITION CONCURRENTLY"
        : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Whether a PL/pgSQL DO block has COMMIT or ROLLBACK statements of its own (a batched data
 * migration): the server refuses them inside a transaction block, and golang-migrate, which
 * sends the file as one query, runs such a block. The body's keywords come from the parser's
 * scanner, so the words in comments and strings do not count.
 */
function doBlockEndsTransactions(body: Record<string, unknown>): boolean {
  const args = (body.args ?? []) as Array<{ DefElem?: { defname?: string; arg?: { String?: { sval?: string } } } }>;
  const option = (name: string) => args.find((a) => a.DefElem?.defname === name)?.DefElem?.arg?.String?.sval;
  const language = option("language") ?? "plpgsql";
  const code = option("as");
  if (language.toLowerCase() !== "plpgsql" || code === undefined || !scanSync) return false;
  let tokens;
  try {
    tokens = (scanSync(code).tokens ?? []).filter((t) => !/^(--|\/\*)/.test(t.text ?? ""));
  } catch {
    // A body the SQL scanner cannot read (an unterminated quote): the server says what is wrong.
    return false;
  }
  // A COMMIT / ROLLBACK statement, not a column of that name (`SET rollback = true`): the word
  // opens a statement (after `;`, BEGIN, THEN, ELSE, LOOP or a label) and ends it (or goes on
  // with AND [NO] CHAIN).
  const word = (i: number) => (tokens[i]?.text ?? "").toLowerCase();
  return tokens.some((t, i) =>
    t.keywordKind && /^(commit|rollback)$/i.test(t.text ?? "") &&
    (i === 0 || [";", "begin", "then", "else", "loop", ">>"].includes(word(i - 1))) &&
    (i === tokens.length - 1 || word(i + 1) === ";" || word(i + 1) === "and")
  );
}

/**
 * Where a server error points: the file's line and column for a 1-based character
 * position (as PostgreSQL counts, in code points) inside one statement.
 */
export function locateInScript(
  script: SqlScript,
  statementIndex: number,
  position?: number,
): { line: number; column: number } {
  const statement = script.statements[statementIndex];
  if (!statement) return { line: 1, column: 1 };
  if (!position || position < 1) return { line: statement.line, column: statement.column };
  // PostgreSQL counts characters (code points); JavaScript strings count UTF-16 units.
  const offset = statement.start + codePointToIndex(script.text.slice(statement.start), position - 1);
  return lineColumn(script.text, offset);
}

/** The line and column (from 1) of a server's error position (code points from 1) in `text`. */
export function locatePosition(text: string, position: number): { line: number; column: number } {
  return lineColumn(text, codePointToIndex(text, position - 1));
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

function firstLine(text: string): string {
  const end = text.indexOf("\n");
  return (end < 0 ? text : text.slice(0, end)).replace(/^\uFEFF/, "");
}

function codePointToIndex(text: string, codePoints: number): number {
  let index = 0;
  for (let seen = 0; seen < codePoints && index < text.length; seen++) {
    index += (text.codePointAt(index) ?? 0) > 0xffff ? 2 : 1;
  }
  return index;
}

/** libpg-query reports UTF-8 byte offsets; JavaScript slices UTF-16 units. */
function byteOffsets(text: string): { toChar(byte: number): number } {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return { toChar: (byte) => Math.min(byte, text.length) };
  const map: number[] = [];
  let index = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const bytes = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let b = 0; b < bytes; b++) map.push(index);
    index += ch.length;
  }
  map.push(index);
  return { toChar: (byte) => map[Math.min(Math.max(byte, 0), map.length - 1)] };
}

/**
 * A server error inside one statement of a script, as a {@linkcode FileError}: the file,
 * the statement number, the line and column the server's position points at, the message
 * with its detail, and the failing line for a caret display.
 */
export function scriptError(
  code: StrataErrorCode,
  file: string,
  script: SqlScript,
  index: number,
  server: ServerErrorFields,
  options: { cause?: unknown; hint?: string; prefix?: string } = {},
): FileError {
  const statement = script.statements[index];
  const named = server.position
    ? undefined
    : namedObjectAt(statement?.sql ?? "", server) ?? doBodyLineAt(statement?.sql ?? "", server.where);
  const { line, column } = named === undefined
    ? locateInScript(script, index, server.position)
    : lineColumn(script.text, statement.start + named);
  let reason = server.message;
  if (server.detail) reason += `, ${server.detail}`;
  if (server.where && !server.position) reason += ` (${server.where.split("\n")[0]})`;
  return new FileError(code, `${options.prefix ?? ""}${reason}`, {
    file,
    // Numbered as in the file: an unwrapped file's own BEGIN was statement 1.
    statement: index + 1 + (script.unwrapped ? 1 : 0),
    line,
    column,
    ...(statement ? { sql: statement.sql } : {}),
    excerpt: script.text.split("\n")[line - 1] ?? "",
  }, { cause: options.cause, server, ...(options.hint ? { hint: options.hint } : {}) });
}

/**
 * For an error inside a DO block's body, which PL/pgSQL places by the body's line
 * (`PL/pgSQL function inline_code_block line 4 at SQL statement`; the outermost such line,
 * the DO's own, when a function it calls failed): where that line's text starts in the
 * statement (UTF-16 offset). The body's line 1 is the rest of the line its opening quote is on.
 */
function doBodyLineAt(sql: string, where: string | undefined): number | undefined {
  const lines = [...(where ?? "").matchAll(/^PL\/pgSQL function inline_code_block line (\d+)/gm)];
  const bodyLine = Number(lines.at(-1)?.[1]);
  if (!(bodyLine >= 1)) return undefined;
  // The body: the first string after DO that is not LANGUAGE's name (comments are space to the lexer).
  let offset = 0;
  let words = 0;
  let afterLanguage = false;
  let at: number | undefined;
  for (const token of tokenize(sql)) {
    const start = offset;
    offset += token.text.length;
    if (token.kind === "space") continue;
    if (words === 0 && !(token.kind === "ident" && /^DO$/i.test(token.text))) return undefined;
    words++;
    if (token.kind === "ident") afterLanguage = /^LANGUAGE$/i.test(token.text);
    else if (token.kind === "string" && !afterLanguage) {
      // Past the opening quote: $tag$, E' or '.
      at = start + (/^\$[^$]*\$/.exec(token.text)?.[0] ?? /^[Ee]?'/.exec(token.text)![0]).length;
      break;
    } else afterLanguage = false;
  }
  if (at === undefined) return undefined;
  for (let n = 1; n < bodyLine; n++) {
    const next = sql.indexOf("\n", at);
    if (next < 0) return undefined;
    at = next + 1;
  }
  while (sql[at] === " " || sql[at] === "\t") at++;
  return at;
}

/**
 * SQLSTATEs whose message names the object that is missing or already there (`relation
 * "organisation" does not exist`) and for which PostgreSQL often gives no position (a
 * REFERENCES target, an ALTER TABLE's table).
 */
const NAMED_OBJECT_ERRORS = new Set([
  "42P01", // undefined_table
  "42703", // undefined_column
  "42704", // undefined_object
  "42883", // undefined_function
  "3F000", // invalid_schema_name
  ...ALREADY_EXISTS,
]);

/**
 * Where in a statement the object an error names is first written (UTF-16 offset), for an
 * error that came without a position: the first name token, outside strings and comments,
 * equal to the quoted name in the message (its last part, for `schema.table`) as PostgreSQL
 * folds it (unquoted names to lower case). Undefined when it cannot be told.
 */
function namedObjectAt(sql: string, server: ServerErrorFields): number | undefined {
  if (!server.code || !NAMED_OBJECT_ERRORS.has(server.code)) return undefined;
  const quoted = /"((?:[^"]|"")+)"/.exec(server.message)?.[1];
  if (quoted === undefined) return undefined;
  const name = quoted.split(".").pop()!;
  let offset = 0;
  for (const token of tokenize(sql)) {
    const value = token.kind === "ident"
      ? token.text.toLowerCase()
      : token.kind === "quoted" && !token.unterminated
      ? token.text.slice(1, -1).replaceAll('""', '"')
      : undefined;
    if (value === name) return offset;
    offset += token.text.length;
  }
  return undefined;
}

/**
 * Database URLs as strata reads them: which backend, golang-migrate's `x-*` parameters
 * (removed before connecting), and a masked form for every log line and error.
 */
import { StrataError } from "./strata_error.ts";

/** What a database URL says, once golang-migrate's parameters are taken out. */
export interface DatabaseUrl {
  /**
   * Which driver: `postgres` for postgres:// and postgresql:// (and golang-migrate's pgx://,
   * pgx4://, pgx5://, read as postgres://), `pglite` for the embedded one.
   */
  kind: "postgres" | "pglite";
  /** The URL to connect with: `x-*` parameters removed. */
  connectUrl: string;
  /** The URL with its password masked, for people. */
  label: string;
  /** For pglite: a folder path, or `memory`. */
  pglitePath?: string;
  /** `x-migrations-table`, verbatim. */
  migrationsTable?: string;
  /** `x-migrations-table-quoted`: the table value is already quoted (`"schema"."table"`). */
  migrationsTableQuoted: boolean;
  /** `x-statement-timeout` in milliseconds. */
  statementTimeoutMs?: number;
  /** `x-multi-statement`: accepted; strata splits with the parser either way. */
  multiStatement: boolean;
  /** golang-migrate's database name for the lock id: the URL path with its slash, decoded. */
  lockName?: string;
  /**
   * The `x-` parameters strata does not read (a misspelt `x-migration-table`, the pgx
   * drivers' `x-no-lock`), each with why it is ignored: dropped before connecting, as
   * golang-migrate drops them, and worth a warning.
   */
  ignored: Array<{ parameter: string; reason: string }>;
  /**
   * For pglite: the URL's server settings (`?search_path=app&TimeZone=UTC`, or
   * `options=-c name=value`), set for the session when it opens, as a server's URL sets them.
   */
  pgliteSettings?: Array<[string, string]>;
}

/**
 * The schemes of a PostgreSQL server's URL: libpq's two, and the ones golang-migrate's pgx
 * drivers register (`pgx` and `pgx4` for pgx v4, `pgx5` for v5). Those drivers read the same
 * `x-` parameters and take the same lock as its postgres driver, so a Makefile written for
 * them keeps working: strata connects with the URL's scheme made `postgres`.
 */
export const POSTGRES_SCHEMES: ReadonlySet<string> = new Set(["postgres", "postgresql", "pgx", "pgx4", "pgx5"]);

/** The folder the embedded default persists to, relative to the working directory. */
export const DEFAULT_PGLITE_PATH = ".strata/pglite";

const TRUE_VALUES = new Set(["1", "t", "true", "T", "TRUE", "True"]);
const FALSE_VALUES = new Set(["0", "f", "false", "F", "FALSE", "False"]);

/**
 * Parses a database URL. No URL (undefined) means the embedded default (`pglite://.strata/pglite`);
 * an empty string is an error, as an empty DATABASE_URL is for the CLI.
 *
 * @throws {StrataError} INVALID_URL when the URL cannot be read or a parameter is malformed.
 * @example
 * ```ts
 * import { parseDatabaseUrl } from "./database_url.ts";
 * const url = parseDatabaseUrl("postgres://app:s3cret@db:5432/app?sslmode=disable&x-migrations-table=migrations.app");
 * console.log(url.label); // postgres://app:***@db:5432/app?sslmode=disable&x-migrations-table=migrations.app
 * console.log(url.connectUrl); // postgres://app:s3cret@db:5432/app?sslmode=disable
 * console.log(url.migrationsTable, url.lockName); // migrations.app /app
 * ```
 */
export function parseDatabaseUrl(raw: string | undefined): DatabaseUrl {
  if (raw === undefined) return pgliteUrl(DEFAULT_PGLITE_PATH);
  const text = raw.trim();
  if (text === "") {
    // An unset variable arrives as undefined; an empty one is a mistake, not a request for a
    // throwaway database that a server would then migrate and serve from without a word.
    throw new StrataError("INVALID_URL", "The database URL is empty", {
      hint: "Set it (postgres://user@host:5432/db), or pass undefined for the embedded PGlite database " +
        "in .strata/pglite",
    });
  }
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  if (scheme === "pglite") {
    const rest = text.slice("pglite:".length).replace(/^\/\//, "");
    const [path, query = ""] = splitOnce(rest, "?");
    const parsed = pgliteUrl(path === "" || path === "memory" ? "memory" : decodeURIComponent(path));
    const params = new URLSearchParams(query);
    applyParameters(parsed, params, text);
    return pgliteParameters(parsed, params);
  }
  if (scheme === undefined || !POSTGRES_SCHEMES.has(scheme)) {
    throw new StrataError(
      "INVALID_URL",
      `Unsupported database URL: ${maskUrl(text)}`,
      {
        hint: "Use postgres://user@host:5432/db, pglite://DIR or pglite://memory, or no URL for the embedded default",
      },
    );
  }
  let url: URL;
  try {
    const postgresText = scheme.startsWith("pgx") ? `postgres${text.slice(scheme.length)}` : text;
    url = new URL(socketForm(postgresText) ?? postgresText);
  } catch (error) {
    throw new StrataError("INVALID_URL", `Cannot parse database URL: ${maskUrl(text)}`, {
      cause: withoutInput(error),
      hint: "Percent-encode special characters in the user and password (# %23, / %2F, ? %3F, @ %40, space %20), " +
        "e.g. with encodeURIComponent",
    });
  }
  const label = maskUrl(text);
  if (readsOtherwise(url, label)) {
    // The password holds an unencoded "@" and then a "/", "?" or "#": a URL parser (and libpq)
    // ends the user info at that "/", so a piece of the password would be the host and the
    // rest the database, and a failed connection's hint would print them.
    throw new StrataError(
      "INVALID_URL",
      `Cannot parse database URL: ${label}: its password holds an "@" and then a "/", "?" or "#", so the URL ` +
        "would name another host and database than the ones it shows",
      {
        hint: "Percent-encode special characters in the user and password (# %23, / %2F, ? %3F, @ %40, space %20), " +
          "e.g. with encodeURIComponent",
      },
    );
  }
  const params = new URLSearchParams(url.search);
  const result: DatabaseUrl = {
    kind: "postgres",
    connectUrl: "",
    label,
    migrationsTableQuoted: false,
    multiStatement: false,
    ignored: [],
  };
  const path = url.pathname;
  // golang-migrate: the URL path as it is ("/" included); an empty one means current_database().
  if (path) result.lockName = safeDecode(path);
  applyParameters(result, params, text);
  for (const key of [...params.keys()]) if (key.startsWith("x-")) params.delete(key);
  url.search = params.toString();
  result.connectUrl = url.toString();
  return result;
}

/**
 * Whether the masked label, read as a URL, names another host, port or database than the
 * parsed URL: the mask takes the password to the userinfo's last "@", a URL parser to the
 * first "/", "?" or "#". Only a password can make them differ.
 */
function readsOtherwise(url: URL, label: string): boolean {
  if (url.password === "") return false;
  let shown: URL;
  try {
    shown = new URL(label);
  } catch {
    return false;
  }
  return shown.hostname !== url.hostname || shown.port !== url.port || shown.pathname !== url.pathname;
}

/**
 * The URL parser's error without the text it was given, which holds the password: Node keeps
 * it as `input`, Deno and browsers put it in the message. Its name, message and code stay.
 */
function withoutInput(error: unknown): Error {
  const plain = new TypeError("Invalid URL");
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") Object.assign(plain, { code });
  return plain;
}

/**
 * `postgres://user:pass@/db?host=/cloudsql/project:region:instance` (Cloud SQL's form, and
 * libpq's for a socket folder with a user): a user with no host, which a WHATWG URL refuses.
 * The same connection with the user and password as query parameters, which libpq and
 * pg-connection-string read alike; undefined for any other text.
 */
function socketForm(text: string): string | undefined {
  const match = /^(postgres(?:ql)?:\/\/)([^@/?#]*)@(\/[^?#]*)?(\?[^#]*)?$/i.exec(text);
  if (!match) return undefined;
  const [, scheme, userinfo, path = "", query = ""] = match;
  const params = new URLSearchParams(query.slice(1));
  const [user, password] = splitOnce(userinfo, ":");
  try {
    if (user !== "" && !params.has("user")) params.set("user", decodeURIComponent(user));
    if (password !== undefined && !params.has("password")) params.set("password", decodeURIComponent(password));
  } catch {
    return undefined;
  }
  const search = params.toString();
  return `${scheme}${path}${search === "" ? "" : `?${search}`}`;
}

function pgliteUrl(path: string): DatabaseUrl {
  return {
    kind: "pglite",
    connectUrl: `pglite://${path}`,
    label: `pglite://${path}`,
    pglitePath: path,
    migrationsTableQuoted: false,
    multiStatement: false,
    lockName: "/postgres",
    ignored: [],
  };
}

function applyParameters(result: DatabaseUrl, params: URLSearchParams, text: string): DatabaseUrl {
  const table = params.get("x-migrations-table");
  if (table !== null && table !== "") result.migrationsTable = table;
  const quoted = params.get("x-migrations-table-quoted");
  if (quoted !== null && quoted !== "") {
    result.migrationsTableQuoted = parseBool("x-migrations-table-quoted", quoted, text);
  }
  const timeout = params.get("x-statement-timeout");
  if (timeout !== null && timeout !== "") {
    if (!/^[0-9]+$/.test(timeout)) {
      throw new StrataError(
        "INVALID_URL",
        `x-statement-timeout must be a whole number of milliseconds, got ${JSON.stringify(timeout)}: ${maskUrl(text)}`,
      );
    }
    result.statementTimeoutMs = Number(timeout);
  }
  const multi = params.get("x-multi-statement");
  if (multi !== null && multi !== "") result.multiStatement = parseBool("x-multi-statement", multi, text);
  for (const key of new Set(params.keys())) {
    if (!key.startsWith("x-") || READ_PARAMETERS.has(key)) continue;
    result.ignored.push({
      parameter: key,
      reason: LOCK_SWITCHES.has(key)
        ? "strata always holds golang-migrate's session-level advisory lock while it migrates " +
          "(a golang-migrate run that locks another way, such as x-lock-strategy=table, is not kept out)"
        : `strata reads ${[...READ_PARAMETERS].filter((name) => name !== "x-multi-statement-max-size").join(", ")}`,
    });
  }
  return result;
}

/**
 * A PGlite URL's other parameters: server settings for the session (validated as for a
 * server), `options=-c name=value` read the same way; connection parameters (host, sslmode,
 * ...) and `x-statement-timeout` are listed as ignored: there is no server to connect to, and
 * PGlite runs each statement in this process to its end, with no timer to cancel it.
 */
function pgliteParameters(result: DatabaseUrl, params: URLSearchParams): DatabaseUrl {
  const settings: Array<[string, string]> = [];
  for (const [key, value] of params) {
    if (key.startsWith("x-")) continue;
    if (key.toLowerCase() === "options") {
      for (const match of value.matchAll(/(?:^|\s)(?:-c\s*|--)([A-Za-z_][A-Za-z0-9_.]*)=((?:\\.|\S)*)/g)) {
        settings.push([match[1], match[2].replace(/\\(.)/g, "$1")]);
      }
      continue;
    }
    if (CLIENT_PARAMETERS.has(key.toLowerCase())) {
      result.ignored.push({ parameter: key, reason: "a connection parameter: the embedded database has no server" });
      continue;
    }
    settings.push([key, value]);
  }
  if (result.statementTimeoutMs !== undefined) {
    result.ignored.push({
      parameter: "x-statement-timeout",
      reason: "PGlite runs each statement in this process to its end: it cannot cancel one after a time",
    });
    delete result.statementTimeoutMs;
  }
  if (settings.length > 0) {
    // The same checks as a server's URL settings (names, client_encoding, DateStyle).
    serverSettings(`?${new URLSearchParams(settings).toString()}`);
    result.pgliteSettings = settings;
  }
  return result;
}

/** golang-migrate drivers' other ways to lock, or not to (pgx: x-no-lock, x-transaction-lock, x-lock-strategy). */
const LOCK_SWITCHES: ReadonlySet<string> = new Set(["x-no-lock", "x-transaction-lock", "x-lock-strategy"]);

/** The `x-` parameters strata reads (the size limit is accepted: the parser splits whatever the size). */
const READ_PARAMETERS: ReadonlySet<string> = new Set([
  "x-migrations-table",
  "x-migrations-table-quoted",
  "x-statement-timeout",
  "x-multi-statement",
  "x-multi-statement-max-size",
]);

function parseBool(name: string, value: string, text: string): boolean {
  if (TRUE_VALUES.has(value)) return true;
  if (FALSE_VALUES.has(value)) return false;
  throw new StrataError("INVALID_URL", `${name} must be true or false, got ${JSON.stringify(value)}: ${maskUrl(text)}`);
}

/**
 * Masks the password in a URL or a `key=value` connection string, and any `password`
 * query parameter. Text that is not a URL comes back with password-looking parts masked.
 *
 * A text that is a whole URL (a URL's label) is read as one: its password runs to the last
 * "@" before the query, so an unencoded "#", "/", "?", "@" or space in it is masked whole, and
 * a `password` parameter's value runs to the next "&". In a longer message, whitespace and
 * ": " end a value instead. A URL whose "//" a path resolver collapsed to "/"
 * (`/cwd/postgres:/app:pw@db/app`) is masked too.
 *
 * @example
 * ```ts
 * import { maskUrl } from "./database_url.ts";
 * console.log(maskUrl("postgres://app:s3cret@db/app")); // postgres://app:***@db/app
 * console.log(maskUrl("postgres://app@db/app?password=s3 cret")); // postgres://app@db/app?password=***
 * console.log(maskUrl("host=db password=s3cret")); // host=db password=***
 * ```
 */
export function maskUrl(text: string): string {
  const whole = WHOLE_URL.exec(text);
  if (whole) text = maskWholeUrl(text, whole[0].length);
  const masked = text
    // userinfo runs to the authority's last "@", as URL parsers read it (a password may hold "@")
    .replace(USERINFO, (match, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(":");
      return colon < 0 ? match : `${scheme}${userinfo.slice(0, colon)}:***@`;
    })
    // a password may hold ":", but ": " ends it (the URL sits inside an error message)
    .replace(/([?&])([^=&#\s?]+)=((?:[^&\s:]|:(?! ))*)/g, (match, separator: string, name: string) => {
      return isPasswordParameter(name) ? `${separator}${name}=***` : match;
    });
  // key=value connection strings (libpq's other form)
  return /:\/\//.test(masked) ? masked : masked.replace(/(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi, "$1***");
}

/** The schemes of a PostgreSQL URL, as a pattern. */
const POSTGRES_SCHEME = `(?:${[...POSTGRES_SCHEMES].join("|")})`;

/** A text that starts with a URL: `scheme://`, or a PostgreSQL scheme and one "/" (a collapsed "//"). */
const WHOLE_URL = new RegExp(`^\\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:\\/\\/|${POSTGRES_SCHEME}:\\/)`, "i");

/** A URL's scheme and userinfo anywhere in a text, its "//" collapsed or not. */
const USERINFO = new RegExp(`([a-zA-Z][a-zA-Z0-9+.-]*:\\/\\/|\\b${POSTGRES_SCHEME}:\\/(?!\\/))([^/?#\\s]*)@`, "gi");

/** A query as written after its "?": `name=value` pairs joined by "&" (a value holds anything but "&"). */
const QUERY = /^(?:[\w.%~+-]+=[^&]*(?:&(?:[\w.%~+-]+(?:=[^&]*)?)?)*)?$/;

/** `password` or `sslpassword`, in any case, with the name decoded as libpq decodes it (pass%77ord). */
function isPasswordParameter(name: string): boolean {
  return /^(ssl)?password$/i.test(safeDecode(name));
}

/**
 * A whole URL masked: the password from the user name's ":" to the userinfo's "@", and every
 * password parameter's value up to the next "&". `start` is where the authority begins.
 */
function maskWholeUrl(text: string, start: number): string {
  // The query starts at the first "?" that parameters follow; any "?" before it is the password's.
  let query = text.indexOf("?", start);
  while (query >= 0 && !QUERY.test(text.slice(query + 1))) query = text.indexOf("?", query + 1);
  let at: number;
  if (query < 0) {
    // The password runs to the last "@", whatever it holds ("#", "/", "?", "@" or a space that a
    // careless secret left unencoded).
    at = text.lastIndexOf("@");
  } else {
    at = text.lastIndexOf("@", query - 1);
    if (at < start) {
      // No "@" before the query: the "?" may still be the password's (app:pa?x=1@db/app), as
      // libpq reads it when an "@" comes before the first "/".
      const slash = text.indexOf("/", start);
      const end = slash < 0 ? text.length : slash;
      const candidate = text.lastIndexOf("@", end - 1);
      at = candidate > query ? candidate : -1;
    }
    if (at < start && !parsesWithoutPassword(text)) {
      // Still none, in a URL that a URL parser cannot read as one without a password: the
      // password may hold "/" before a "?k=v" (app:a/b?c=d@db/app). Masking up to the last "@"
      // may hide more than the password; never less.
      at = text.lastIndexOf("@");
    }
  }
  const colon = text.indexOf(":", start);
  const masked = at > start && colon >= 0 && colon < at ? `${text.slice(0, colon)}:***${text.slice(at)}` : text;
  return masked.replace(/([?&])([^=&#\s?]+)=([^&]*)/g, (match, separator: string, name: string) => {
    return isPasswordParameter(name) ? `${separator}${name}=***` : match;
  });
}

/** Whether `text` reads as a URL (with or without a query) whose user info has no password. */
function parsesWithoutPassword(text: string): boolean {
  try {
    return new URL(text.trim()).password === "";
  } catch {
    return false;
  }
}

/**
 * The database a postgres:// URL's path names, percent-decoded once as libpq decodes it
 * (`/a%3Db` is `a=b`; pg-connection-string's decodeURI leaves `%3D` as it is), or undefined
 * when the path is empty.
 */
export function urlDatabaseName(connectUrl: string): string | undefined {
  let path: string;
  try {
    path = new URL(connectUrl).pathname;
  } catch {
    return undefined;
  }
  return path.length > 1 ? safeDecode(path.slice(1)) : undefined;
}

/** Replaces every occurrence of a known secret in a text (for child process output). */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret && secret.length >= 3) out = out.split(secret).join("***");
  return out;
}

function splitOnce(text: string, separator: string): [string, string?] {
  const at = text.indexOf(separator);
  return at < 0 ? [text] : [text.slice(0, at), text.slice(at + 1)];
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** URL query parameters libpq, lib/pq or pg-connection-string read themselves, never sent to the server. */
const CLIENT_PARAMETERS = new Set([
  "host",
  "hostaddr",
  "port",
  "user",
  "password",
  "passfile",
  "dbname",
  "database",
  "sslmode",
  "ssl",
  "sslcert",
  "sslkey",
  "sslrootcert",
  "sslcrl",
  "sslpassword",
  "sslinline",
  "sslsni",
  "sslcompression",
  "sslnegotiation",
  "ssl_min_protocol_version",
  "ssl_max_protocol_version",
  "requiressl",
  "gssencmode",
  "gsslib",
  "krbsrvname",
  "krbspn",
  "channel_binding",
  "require_auth",
  "connect_timeout",
  "keepalives",
  "keepalives_idle",
  "keepalives_interval",
  "keepalives_count",
  "tcp_user_timeout",
  "target_session_attrs",
  "load_balance_hosts",
  "service",
  "fallback_application_name",
  "replication",
  "uselibpqcompat",
  "binary_parameters",
  "disable_prepared_binary_result",
  // other drivers' own parameters, found in the DATABASE_URLs of Node projects (Prisma, pgx, node-postgres)
  "schema",
  "connection_limit",
  "pool_timeout",
  "pgbouncer",
  "statement_cache_size",
  "socket_timeout",
  "sslaccept",
  "sslidentity",
  "max_idle_connection_lifetime",
  "single_use_connections",
  "pool_max_conns",
  "pool_min_conns",
  "pool_max_conn_lifetime",
  "pool_max_conn_idle_time",
  "pool_health_check_period",
  "default_query_exec_mode",
  "statement_cache_capacity",
  "description_cache_capacity",
  "prefer_simple_protocol",
  "idle_in_transaction_session_timeout_ms",
]);

/**
 * The server settings a URL carries: every query parameter that is not a connection setting
 * (`?lock_timeout=5s&TimeZone=UTC`), sent to the server for the session, as lib/pq
 * (golang-migrate's driver) sends them. `application_name`, `search_path` and `options` are
 * among them; `x-*` parameters are gone from a connect URL.
 *
 * @example
 * ```ts
 * import { serverSettings } from "./database_url.ts";
 * console.log(serverSettings("postgres://db/app?sslmode=disable&lock_timeout=5s"));
 * // [ [ "lock_timeout", "5s" ] ]
 * ```
 */
export function serverSettings(connectUrl: string): Array<[string, string]> {
  const query = connectUrl.includes("?") ? connectUrl.slice(connectUrl.indexOf("?") + 1).replace(/#.*$/, "") : "";
  const settings = [...new URLSearchParams(query)].filter(([key]) =>
    !CLIENT_PARAMETERS.has(key.toLowerCase()) && !key.startsWith("x-")
  );
  for (const [key, value] of settings) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(key) || value.includes("\0")) {
      throw new StrataError(
        "INVALID_URL",
        `The URL parameter ${JSON.stringify(key)} is not a server setting strata can send`,
        {
          hint: "A setting's name is letters, digits, _ and . (lock_timeout, TimeZone); its value has no NUL",
        },
      );
    }
    // strata reads text as UTF-8 and dates in ISO form, as lib/pq insists too.
    if (key.toLowerCase() === "client_encoding" && !/^(utf-?8|unicode)$/i.test(value)) {
      throw new StrataError("INVALID_URL", `client_encoding=${value} in the URL: strata talks to the server in UTF-8`, {
        hint: "Leave client_encoding out (the database's own encoding is not affected)",
      });
    }
    if (key.toLowerCase() === "datestyle" && !/^\s*iso\b/i.test(value)) {
      throw new StrataError("INVALID_URL", `DateStyle=${value} in the URL: strata reads dates in ISO form`, {
        hint: "Leave DateStyle out, or start it with ISO (DateStyle=ISO, MDY)",
      });
    }
  }
  return settings;
}

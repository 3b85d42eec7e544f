/**
 * What a failure to connect means, for every way strata connects: openDatabase's URL and a
 * postgres.js client the caller made (strata/core's postgresDatabase). Runtime-agnostic: the
 * caller says which server it was, for the commands the hints give.
 */
import { shellWord } from "./shell_word.ts";
import { StrataError } from "./strata_error.ts";

/** The server a connection was for, as libpq's flags name it (never the password). */
export interface ConnectionTarget {
  /** Host name, address, or the folder of a Unix socket. */
  host?: string;
  port?: string | number;
  user?: string;
  database?: string;
}

/**
 * The {@linkcode StrataError} for an error that says a connection could not be made:
 * AUTH_FAILED for a refused login or unknown role, CONNECTION_FAILED for a database that does
 * not exist, a setting the server refused at start-up, a server that refuses new connections
 * for now, nothing listening, an unknown host, a timeout or a failed TLS handshake. Undefined
 * for anything else, among them a connection lost after it was made (a server error at
 * FATAL only counts when its SQLSTATE is one PostgreSQL sends while starting a session).
 *
 * @param error what the driver threw
 * @param where how to name the database to people (a URL with its password masked)
 * @param target the server, for the `psql` and `createdb` commands in hints
 * @example
 * ```ts
 * import { connectionFailure } from "./connection_failure.ts";
 * const error = { severity: "FATAL", code: "3D000", message: 'database "app" does not exist' };
 * const failure = connectionFailure(error, "postgres://postgres@db/app", { host: "db", user: "postgres", database: "app" });
 * console.log(failure?.code, failure?.hint); // CONNECTION_FAILED Create the database first (createdb -h db -U postgres app), ...
 * ```
 */
export function connectionFailure(
  error: unknown,
  where: string,
  target: ConnectionTarget = {},
): StrataError | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as { code?: unknown; errno?: unknown; severity?: unknown; message?: unknown; syscall?: unknown };
  const code = typeof e.code === "string" ? e.code : typeof e.errno === "string" ? e.errno : "";
  const message = String(e.message ?? error);
  const flags = clientFlags(target);
  const database = target.database ? target.database : "NAME";
  if (typeof e.severity === "string") {
    // What the server sends while it starts a session; the same SQLSTATE at ERROR (a
    // migration's DROP DATABASE of one that is not there, a SET of an unknown setting) is not.
    if (e.severity !== "FATAL") return undefined;
    if (code === "28P01" || code === "28000") {
      return new StrataError("AUTH_FAILED", `Cannot log in to ${where}: ${message}`, {
        cause: error,
        hint: "Check the user and password in the URL (or PGPASSWORD); the password is never printed",
      });
    }
    if (code === "42704" || code === "22023") {
      return new StrataError("CONNECTION_FAILED", `Cannot connect to ${where}: ${message}`, {
        cause: error,
        hint: "A query parameter of the URL that is not a connection setting is sent to the server as a " +
          "setting for the session (as golang-migrate's driver does), as is postgres.js's `connection` option: " +
          "remove it or fix its name or value",
      });
    }
    if (code === "3D000") {
      return new StrataError("CONNECTION_FAILED", `Cannot connect to ${where}: ${message}`, {
        cause: error,
        hint: `Create the database first (createdb ${flags ? `${flags} ` : ""}${
          shellWord(database)
        }), or fix the database name in the URL`,
      });
    }
    if (code === "53300" || code === "57P03") {
      return new StrataError("CONNECTION_FAILED", `Cannot connect to ${where}: ${message}`, {
        cause: error,
        hint: "The server takes no new connection now (it is starting up or shutting down, or every connection " +
          "slot is in use): run the command again in a moment",
      });
    }
    return undefined;
  }
  const reason = REASONS[code] ?? (code === "ENOENT" && e.syscall === "connect" ? "no server socket" : undefined);
  if (reason !== undefined) {
    return new StrataError("CONNECTION_FAILED", `Cannot connect to ${where}: ${reason}`, {
      cause: error,
      hint: `Is the server running and the host and port right? Try: psql ${flags ? `${flags} ` : ""}-d ${
        shellWord(database)
      } -c 'SELECT 1'`,
    });
  }
  if (/\b(TLS|SSL)\b|secure/i.test(message) && !/^CONNECTION_(CLOSED|ENDED|DESTROYED)$/.test(code)) {
    return new StrataError("CONNECTION_FAILED", `Cannot connect to ${where}: ${message}`, {
      cause: error,
      hint: "The TLS handshake failed: a server without TLS needs sslmode=disable or prefer; " +
        "with verify-ca / verify-full, check the server's certificate and sslrootcert",
    });
  }
  return undefined;
}

/** The socket's and postgres.js's codes for a connection that was never made. */
const REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  CONNECT_TIMEOUT: "timed out",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "unknown host",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
};

/** `-h HOST -p PORT -U USER`, the parts that are known, each quoted for a shell. */
function clientFlags(target: ConnectionTarget): string {
  const parts: string[] = [];
  for (const [flag, value] of [["-h", target.host], ["-p", target.port], ["-U", target.user]] as const) {
    if ((typeof value === "string" && value !== "") || typeof value === "number") {
      parts.push(flag, shellWord(String(value)));
    }
  }
  return parts.join(" ");
}

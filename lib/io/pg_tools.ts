/**
 * PostgreSQL's client programs (pg_dump, pg_restore, psql) as child processes. The
 * connection travels in libpq's environment variables (PGHOST, PGPASSWORD, ...), never in
 * argv, so no `ps` listing shows a password; output is scrubbed of it before anyone sees it.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";
import { redact } from "../db/database_url.ts";
import { StrataError } from "../db/strata_error.ts";

/** libpq environment for a postgres:// URL, and the password to scrub from output. */
export interface Libpq {
  env: Record<string, string>;
  password?: string;
  database: string;
}

/**
 * The libpq environment variables for a URL: host, port, user, database, password,
 * sslmode and the ssl files. Nothing of it goes on a command line.
 *
 * @example
 * ```ts ignore
 * const { env } = await libpqEnvironment("postgres://app:pw@db:5432/app?sslmode=require");
 * console.log(env.PGHOST, env.PGSSLMODE); // db require
 * ```
 */
export async function libpqEnvironment(connectUrl: string): Promise<Libpq> {
  const { parse } = await import("pg-connection-string");
  const config = parse(connectUrl) as Record<string, unknown>;
  const query = new URL(connectUrl).searchParams;
  const env: Record<string, string> = {};
  const set = (name: string, value: unknown) => {
    if (typeof value === "string" && value !== "") env[name] = value;
    else if (typeof value === "number") env[name] = String(value);
  };
  set("PGHOST", config.host);
  set("PGPORT", config.port);
  set("PGUSER", config.user);
  set("PGDATABASE", config.database);
  set("PGPASSWORD", config.password);
  for (
    const [param, variable] of [
      ["sslmode", "PGSSLMODE"],
      ["sslrootcert", "PGSSLROOTCERT"],
      ["sslcert", "PGSSLCERT"],
      ["sslkey", "PGSSLKEY"],
      ["application_name", "PGAPPNAME"],
      ["options", "PGOPTIONS"],
      ["connect_timeout", "PGCONNECT_TIMEOUT"],
    ] as const
  ) set(variable, query.get(param) ?? undefined);
  if (query.get("search_path")) {
    env.PGOPTIONS = `${env.PGOPTIONS ?? ""} -c search_path=${query.get("search_path")}`.trim();
  }
  return {
    env,
    ...(typeof config.password === "string" && config.password !== "" ? { password: config.password } : {}),
    database: typeof config.database === "string" ? config.database : "",
  };
}

/** A finished child process. */
export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@linkcode runProgram}. */
export interface RunProgramOptions {
  env?: Record<string, string>;
  /** Secrets to scrub from stdout and stderr. */
  secrets?: readonly (string | undefined)[];
  /** Called with the child's pid once it started (tests read /proc/PID/cmdline). */
  onSpawn?: (pid: number) => void;
  /** Kills the child when aborted. */
  signal?: AbortSignal;
  /** Text for stdin. */
  input?: string;
}

/**
 * Runs a program with an exact argv (no shell) and collects its output, scrubbed of secrets.
 *
 * @throws {StrataError} COMMAND_FAILED when the program cannot be started (with install advice for PostgreSQL's tools).
 */
export function runProgram(
  program: string,
  args: readonly string[],
  options: RunProgramOptions = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    if (options.input !== undefined) child.stdin?.end(options.input);
    child.on("spawn", () => child.pid !== undefined && options.onSpawn?.(child.pid));
    child.on("error", (error: Error & { code?: string }) => {
      reject(
        error.code === "ENOENT"
          ? new StrataError("COMMAND_FAILED", `${program} not found`, { cause: error, hint: INSTALL_HINT })
          : new StrataError("COMMAND_FAILED", `Cannot run ${program}: ${error.message}`, { cause: error }),
      );
    });
    child.on("close", (code) => {
      const secrets = options.secrets ?? [];
      resolve({ code: code ?? 1, stdout: redact(stdout, secrets), stderr: redact(stderr, secrets) });
    });
  });
}

const INSTALL_HINT = "Install PostgreSQL's client programs: Debian/Ubuntu `apt install postgresql-client`, " +
  "Alpine `apk add postgresql-client`, macOS `brew install libpq` (then add its bin to PATH); " +
  "or point STRATA_PG_BIN at the folder holding pg_dump, pg_restore and psql";

/** The real path of the first `name` on PATH, if any. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    try {
      return realpathSync(join(dir, name));
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** A PostgreSQL client program found on this machine, with its version. */
export interface PgProgram {
  path: string;
  version: string;
  major: number;
}

/**
 * Finds a client program (pg_dump, pg_restore, psql) that can talk to a server of
 * `serverMajor`: STRATA_PG_BIN first, then PATH, then Debian's /usr/lib/postgresql/N/bin
 * (newest first; when PATH's program is Debian's pg_wrapper, these instead of it). pg_dump refuses servers newer than itself, so an older one on PATH is
 * passed over for a newer one found there.
 *
 * @throws {StrataError} COMMAND_FAILED when none is found, or only ones older than the server (naming both versions).
 */
export async function findPgProgram(name: "pg_dump" | "pg_restore" | "psql", serverMajor: number): Promise<PgProgram> {
  const candidates: string[] = [];
  if (process.env.STRATA_PG_BIN) candidates.push(join(process.env.STRATA_PG_BIN, name));
  const debian = "/usr/lib/postgresql";
  // Debian's /usr/bin/pg_dump is pg_wrapper, a perl script that picks a version and runs it
  // (~0.1 s per call here): its versions are the folders below, taken directly instead.
  if (!(existsSync(debian) && onPath(name)?.endsWith("/pg_wrapper"))) candidates.push(name);
  if (existsSync(debian)) {
    for (const version of readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))) {
      candidates.push(join(debian, version, "bin", name));
    }
  }
  const found: PgProgram[] = [];
  for (const path of candidates) {
    if (path.includes("/") && !existsSync(path)) continue;
    const result = await runProgram(path, ["--version"]).catch(() => undefined);
    const match = result && /\b(\d+)(?:\.(\d+))?/.exec(result.stdout);
    if (!match) continue;
    const program = { path, version: match[0], major: Number(match[1]) };
    if (program.major >= serverMajor) return program;
    found.push(program);
  }
  if (found.length > 0) {
    const best = found[0];
    throw new StrataError(
      "COMMAND_FAILED",
      `${name} ${best.version} is older than the PostgreSQL ${serverMajor} server: ${name} cannot work with a newer server`,
      {
        hint:
          `Install the PostgreSQL ${serverMajor} client (Debian/Ubuntu: apt install postgresql-client-${serverMajor}), or set STRATA_PG_BIN`,
      },
    );
  }
  throw new StrataError("COMMAND_FAILED", `${name} not found`, { hint: INSTALL_HINT });
}

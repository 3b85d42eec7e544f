/**
 * PostgreSQL's client programs (pg_dump, pg_restore, psql) as child processes. The
 * connection travels in libpq's environment variables (PGHOST, PGPASSWORD, ...), never in
 * argv, so no `ps` listing shows a password; output is scrubbed of it before anyone sees it.
 */
import { Buffer } from "node:buffer";
import { type ChildProcess, spawn } from "node:child_process";
import { constants as osConstants, userInfo } from "node:os";
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { delimiter, join } from "node:path";
import process from "node:process";
import { redact, serverSettings, urlDatabaseName } from "../db/database_url.ts";
import { StrataError } from "../db/strata_error.ts";
import { serverAddress } from "./open_database.ts";
import { permissionError } from "./deno_permission.ts";

/** libpq environment for a postgres:// URL, and the password to scrub from output. */
export interface Libpq {
  env: Record<string, string>;
  password?: string;
  database: string;
}

/**
 * The libpq environment variables for a URL: host, port, user, database, password,
 * sslmode and the ssl files. Nothing of it goes on a command line. Host, port, user and
 * database are always set, to what strata's own connection used (libpq's defaults, and
 * PGUSER / PGDATABASE / PGPASSWORD where the URL leaves them out, as postgres.js reads
 * them), so that a program started with it (see {@linkcode childEnvironment}) works on the
 * very database strata checked.
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
  config.database = urlDatabaseName(connectUrl) ?? config.database;
  const query = new URL(connectUrl).searchParams;
  const env: Record<string, string> = {};
  const set = (name: string, value: unknown) => {
    if (typeof value === "string" && value !== "") env[name] = value;
    else if (typeof value === "number") env[name] = String(value);
  };
  const { host, port } = serverAddress(config);
  const inherited = process.env;
  const user = nonEmpty(config.user) ?? nonEmpty(inherited.PGUSERNAME) ?? nonEmpty(inherited.PGUSER) ??
    osUser();
  const database = nonEmpty(config.database) ?? nonEmpty(inherited.PGDATABASE) ?? user;
  const password = nonEmpty(config.password) ?? nonEmpty(inherited.PGPASSWORD);
  set("PGHOST", host);
  set("PGPORT", port);
  set("PGUSER", user);
  set("PGDATABASE", database);
  set("PGPASSWORD", password);
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
  // strata's own connection takes TLS when the server offers it (libpq's prefer) unless the URL says.
  env.PGSSLMODE ??= "prefer";
  // The URL's server settings (search_path, lock_timeout, ...) as the session's, as for strata's own connection.
  for (const [key, value] of serverSettings(connectUrl)) {
    if (key === "application_name" || key === "options" || value === "") continue;
    env.PGOPTIONS = `${env.PGOPTIONS ?? ""} -c ${key}=${value.replace(/[\s\\]/g, "\\$&")}`.trim();
  }
  return { env, ...(password === undefined ? {} : { password }), database };
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? "postgres";
  }
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * libpq variables that choose the server, database or session settings, or how to connect
 * (TLS, GSS, authentication). A child given a connection of strata's does not inherit them:
 * a PGSERVICE, PGHOSTADDR or PGPORT left in the shell would otherwise send pg_dump or psql
 * to another database than the one strata checked (and the URL's password with it), a
 * PGSSLMODE or PGGSSENCMODE make it fail where strata connected (strata's own connection
 * reads none of them). Password files, TLS files and the like stay: they do not move the
 * connection.
 */
const CONNECTION_VARIABLES = [
  "PGHOST",
  "PGHOSTADDR",
  "PGPORT",
  "PGDATABASE",
  "PGUSER",
  "PGPASSWORD",
  "PGSERVICE",
  "PGSERVICEFILE",
  "PGSYSCONFDIR",
  "PGOPTIONS",
  "PGSSLMODE",
  "PGREQUIRESSL",
  "PGGSSENCMODE",
  "PGCHANNELBINDING",
  "PGREQUIREAUTH",
];

/**
 * The environment for a child process: this process's, and when `connection` names a
 * server (a {@linkcode libpqEnvironment}), its variables instead of any inherited ones
 * that would choose the server, database or session.
 */
export function childEnvironment(connection: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  if (connection.PGHOST !== undefined) { for (const name of CONNECTION_VARIABLES) delete env[name]; }
  return { ...env, ...connection };
}

/**
 * The `--dbname` value that names exactly this database: a connection string holding only
 * the name, quoted, since libpq reads a name with `=` in it (or a URL) as a connection string
 * of its own. The server and the user come from the environment.
 */
export function dbnameArgument(database: string): string {
  return `dbname='${database.replace(/[\\']/g, "\\$&")}'`;
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
      env: childEnvironment(options.env),
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    watch(child, options.signal);
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    if (options.input !== undefined) {
      // A program that exits before reading all of it (an error) must not crash strata with EPIPE.
      child.stdin?.on("error", () => {});
      child.stdin?.end(options.input);
    }
    child.on("spawn", () => child.pid !== undefined && options.onSpawn?.(child.pid));
    child.on("error", (error: Error & { code?: string }) => reject(cannotStart(program, error)));
    child.on("close", (code) => {
      const secrets = options.secrets ?? [];
      resolve({ code: code ?? 1, stdout: redact(stdout, secrets), stderr: redact(stderr, secrets) });
    });
  });
}

/** Options for {@linkcode runPiped}. */
export interface RunPipedOptions {
  env?: Record<string, string>;
  /** Secrets to scrub from both programs' stderr. */
  secrets?: readonly (string | undefined)[];
  /** Called with each child's pid once it started. */
  onSpawn?: (pid: number) => void;
  /** Written to the consumer's stdin before the producer's output. */
  prefix?: string;
  /** Rewrites the start of the producer's output (up to 16 KiB, on line ends) before it is passed on. */
  head?: (head: string) => string;
  /** Kills both programs when aborted. */
  signal?: AbortSignal;
}

/**
 * Runs `producer | consumer` with exact argvs (no shell): the consumer reads `prefix`, then
 * the producer's stdout. Its stdin is closed only when the producer succeeded; when the
 * producer fails, the consumer is killed before it reads an end of input, so a psql that
 * runs a transaction never commits a truncated script.
 *
 * @throws {StrataError} COMMAND_FAILED when either program cannot be started.
 */
export function runPiped(
  producer: { program: string; args: readonly string[] },
  consumer: { program: string; args: readonly string[] },
  options: RunPipedOptions = {},
): Promise<{ producer: ProcessResult & { stopped?: true }; consumer: ProcessResult }> {
  const env = childEnvironment(options.env);
  const secrets = options.secrets ?? [];
  const start = (program: string, args: readonly string[], stdio: ("pipe" | "ignore")[]) => {
    const child = spawn(program, args, { env, stdio: stdio as ["pipe", "pipe", "pipe"] });
    watch(child, options.signal);
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("spawn", () => child.pid !== undefined && options.onSpawn?.(child.pid));
    const done = new Promise<ProcessResult>((resolve, reject) => {
      child.on("error", (error: Error & { code?: string }) => reject(cannotStart(program, error)));
      child.on("close", (code, signal) =>
        resolve({
          code: code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : 1),
          stdout: "",
          stderr: redact(stderr, secrets),
        }));
    });
    return { child, done };
  };
  const into = start(consumer.program, consumer.args, ["pipe", "ignore", "pipe"]);
  const from = start(producer.program, producer.args, ["ignore", "pipe", "pipe"]);
  const stdin = into.child.stdin!;
  stdin.on("error", () => {}); // the consumer stopped reading (its own error): reported by its exit code
  if (options.prefix) stdin.write(options.prefix);
  let head: string | undefined = options.head ? "" : undefined;
  const passHead = () => {
    if (head === undefined) return;
    const text = options.head!(head);
    head = undefined;
    stdin.write(Buffer.from(text, "latin1"));
  };
  from.child.stdout!.on("data", (chunk: Buffer) => {
    if (head !== undefined) {
      head += chunk.toString("latin1"); // one char per byte: the rewrite keeps the bytes it does not touch
      if (head.length < 16384) return;
      const cut = head.lastIndexOf("\n") + 1 || head.length;
      const rest = head.slice(cut);
      head = head.slice(0, cut);
      passHead();
      if (rest) stdin.write(Buffer.from(rest, "latin1"));
      return;
    }
    if (!stdin.write(chunk) && !stdin.destroyed) {
      // Resumed by a drain, or by the consumer going away (no drain comes then).
      const resume = () => {
        stdin.off("drain", resume);
        stdin.off("close", resume);
        from.child.stdout!.resume();
      };
      from.child.stdout!.pause();
      stdin.once("drain", resume);
      stdin.once("close", resume);
    }
  });
  from.done.then((result) => {
    if (result.code === 0) {
      passHead();
      stdin.end();
    } else into.child.kill("SIGKILL");
  }, () => into.child.kill("SIGKILL"));
  // The consumer gone first (its own error): stop the producer, whose paused output would
  // otherwise wait for a drain that never comes, and say it was stopped, not failed.
  let stopped = false;
  const stopProducer = () => {
    if (from.child.exitCode !== null || from.child.signalCode !== null) return;
    stopped = true;
    from.child.stdout?.destroy();
    from.child.kill("SIGKILL");
  };
  into.done.then(stopProducer, stopProducer);
  return Promise.all([from.done, into.done]).then(([p, c]) => ({
    producer: stopped ? { ...p, stopped: true } : p,
    consumer: c,
  }));
}

/** Children running now, killed if this process exits first (a second Ctrl-C, process.exit). */
const running = new Set<ChildProcess>();
let killOnExit = false;

/**
 * Kills the child when the signal aborts (it then ends as killed: the caller sees its exit),
 * and when this process exits before it: a pg_restore or psql left behind would go on and
 * commit, a pg_dump go on writing a file nobody removes.
 */
function watch(child: ChildProcess, signal: AbortSignal | undefined): void {
  if (!killOnExit) {
    killOnExit = true;
    process.once("exit", () => {
      for (const c of running) c.kill("SIGTERM");
    });
  }
  running.add(child);
  const stop = () => child.kill("SIGTERM");
  if (signal?.aborted) stop();
  else signal?.addEventListener("abort", stop, { once: true });
  child.once("close", () => {
    running.delete(child);
    signal?.removeEventListener("abort", stop);
  });
  child.once("error", () => running.delete(child));
}

/** A program that could not be started: not installed (with how to install it), or refused. */
function cannotStart(program: string, error: Error & { code?: string }): StrataError {
  return permissionError(error) ??
    (error.code === "ENOENT"
      ? new StrataError("COMMAND_FAILED", `${program} not found`, { cause: error, hint: INSTALL_HINT })
      : new StrataError("COMMAND_FAILED", `Cannot run ${program}: ${error.message}`, { cause: error }));
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
    const result = await runProgram(path, ["--version"]).catch((error: unknown) => {
      // Deno without --allow-run: the program is there, strata may not start it.
      const denied = permissionError(error);
      if (denied) throw denied;
      return undefined;
    });
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

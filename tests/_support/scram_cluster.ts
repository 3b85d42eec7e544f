/**
 * A private PostgreSQL cluster with SCRAM authentication, for tests that need a real
 * password check: initdb and pg_ctl run as the postgres user (runuser), in a temporary
 * folder, on a free port, with the one superuser `postgres` and the given password.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A running private cluster. */
export interface ScramCluster {
  /** The cluster's folder (data, log, socket). */
  dir: string;
  /** The server's bin folder (/usr/lib/postgresql/N/bin). */
  bin: string;
  port: number;
  /** The superuser's password. */
  password: string;
  /** A URL for user postgres with `password` (default the right one) on `database` (default postgres). */
  url(password?: string, database?: string): string;
  /** Stops the server and removes its folder. Safe to call twice. */
  stop(): Promise<void>;
}

/** Why this machine cannot run a private cluster, or undefined when it can. */
export async function scramClusterUnavailable(): Promise<string | undefined> {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    return "needs root to run PostgreSQL as the postgres user (runuser)";
  }
  if (!existsSync("/usr/sbin/runuser") && !existsSync("/usr/bin/runuser")) return "runuser is not installed";
  if ((await findPostgresBin()) === undefined) return "no initdb/pg_ctl under /usr/lib/postgresql/*/bin";
  return undefined;
}

async function findPostgresBin(): Promise<string | undefined> {
  if (!existsSync("/usr/lib/postgresql")) return undefined;
  const versions = (await readdir("/usr/lib/postgresql")).sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const bin = `/usr/lib/postgresql/${version}/bin`;
    if (existsSync(`${bin}/initdb`) && existsSync(`${bin}/pg_ctl`) && existsSync(`${bin}/pg_isready`)) return bin;
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(
        () => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))),
      );
    });
  });
}

function asPostgres(command: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return run("runuser", ["-u", "postgres", "--", command, ...args], { timeout: 120_000 });
}

/**
 * Starts a private cluster whose superuser `postgres` logs in with `password` over SCRAM.
 * Check {@linkcode scramClusterUnavailable} first; a failure to start removes the folder and throws.
 */
export async function startScramCluster(options: { password: string; prefix?: string }): Promise<ScramCluster> {
  const bin = await findPostgresBin();
  if (bin === undefined) throw new Error("no initdb/pg_ctl under /usr/lib/postgresql/*/bin");
  const { stdout: uid } = await run("id", ["-u", "postgres"]);
  const { stdout: gid } = await run("id", ["-g", "postgres"]);
  const dir = await mkdtemp(join(tmpdir(), options.prefix ?? "strata-scram-"));
  const data = join(dir, "data");
  let initialised = false;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (initialised) {
      await asPostgres(`${bin}/pg_ctl`, ["-D", data, "-m", "immediate", "stop"]).catch(() => {});
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await chown(dir, Number(uid), Number(gid));
    await chmod(dir, 0o700);
    const port = await freePort();
    const pwfile = join(dir, "pwfile");
    await writeFile(pwfile, `${options.password}\n`, { mode: 0o600 });
    await chown(pwfile, Number(uid), Number(gid));
    await asPostgres(`${bin}/initdb`, [
      "-D",
      data,
      "-A",
      "scram-sha-256",
      `--pwfile=${pwfile}`,
      "-U",
      "postgres",
      "--no-sync",
    ]);
    await rm(pwfile, { force: true });
    initialised = true;
    await asPostgres(`${bin}/pg_ctl`, [
      "-D",
      data,
      "-l",
      join(dir, "server.log"),
      "-o",
      `-k ${dir} -c listen_addresses=127.0.0.1 -p ${port} -c fsync=off`,
      "-w",
      "-t",
      "60",
      "start",
    ]);
    const giveUp = Date.now() + 60_000;
    for (;;) {
      try {
        await run(`${bin}/pg_isready`, ["-h", "127.0.0.1", "-p", String(port)]);
        break;
      } catch (error) {
        if (Date.now() > giveUp) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return {
      dir,
      bin,
      port,
      password: options.password,
      url: (password = options.password, database = "postgres") =>
        `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}?sslmode=disable`,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

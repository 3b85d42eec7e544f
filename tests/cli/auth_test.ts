/**
 * A real password check: a private PostgreSQL cluster with SCRAM authentication, started
 * for this file only, and the CLI run against it with the right and the wrong password.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { chmod, chown, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const TSX = import.meta.resolve("tsx");
const MOD = fileURLToPath(new URL("../../mod.ts", import.meta.url));
const RIGHT_PASSWORD = "c0rrect-H0rse-7q";
const WRONG_PASSWORD = "wr0ng-Batt3ry-9z";

const run = promisify(execFile);

interface Cluster {
  dir: string;
  bin: string;
  port: number;
  started: boolean;
}

/** Why this machine cannot run a private cluster, or undefined when it can. */
function whyUnavailable(): string | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) {
    return "needs root to run PostgreSQL as the postgres user (runuser)";
  }
  if (!existsSync("/usr/sbin/runuser") && !existsSync("/usr/bin/runuser")) return "runuser is not installed";
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

function runStrata(
  args: readonly string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.DATABASE_URL;
  delete env.NODE_TEST_CONTEXT;
  delete env.PGPASSWORD;
  const child = spawn(process.execPath, ["--import", TSX, MOD, ...args], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  child.stdin.end();
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

let cluster: Cluster | undefined;
let unavailable: string | undefined;

before(async () => {
  unavailable = whyUnavailable();
  const bin = await findPostgresBin();
  if (bin === undefined) unavailable ??= "no initdb/pg_ctl under /usr/lib/postgresql/*/bin";
  if (unavailable !== undefined || bin === undefined) return;
  const { stdout: uid } = await run("id", ["-u", "postgres"]);
  const { stdout: gid } = await run("id", ["-g", "postgres"]);
  const dir = await mkdtemp(join(tmpdir(), "strata-auth-"));
  await chown(dir, Number(uid), Number(gid));
  await chmod(dir, 0o700);
  cluster = { dir, bin, port: await freePort(), started: false };
  const pwfile = join(dir, "pwfile");
  await writeFile(pwfile, `${RIGHT_PASSWORD}\n`, { mode: 0o600 });
  await chown(pwfile, Number(uid), Number(gid));
  await asPostgres(`${bin}/initdb`, [
    "-D",
    join(dir, "data"),
    "-A",
    "scram-sha-256",
    `--pwfile=${pwfile}`,
    "-U",
    "postgres",
    "--no-sync",
  ]);
  cluster.started = true;
  await asPostgres(`${bin}/pg_ctl`, [
    "-D",
    join(dir, "data"),
    "-l",
    join(dir, "server.log"),
    "-o",
    `-k ${dir} -c listen_addresses=127.0.0.1 -p ${cluster.port} -c fsync=off`,
    "-w",
    "-t",
    "60",
    "start",
  ]);
  const giveUp = Date.now() + 60_000;
  for (;;) {
    try {
      await run(`${bin}/pg_isready`, ["-h", "127.0.0.1", "-p", String(cluster.port)]);
      break;
    } catch (error) {
      if (Date.now() > giveUp) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
});

after(async () => {
  if (!cluster) return;
  if (cluster.started) {
    await asPostgres(`${cluster.bin}/pg_ctl`, ["-D", join(cluster.dir, "data"), "-m", "immediate", "stop"]).catch(
      () => {},
    );
  }
  await rm(cluster.dir, { recursive: true, force: true });
});

function urlWith(password: string): string {
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${cluster!.port}/postgres?sslmode=disable`;
}

function assertNoPassword(text: string): void {
  assert.ok(!text.includes(RIGHT_PASSWORD), `the right password was printed:\n${text}`);
  assert.ok(!text.includes(WRONG_PASSWORD), `the wrong password was printed:\n${text}`);
}

test("the right password logs in to a SCRAM server: version says no migration, then up applies", async (t) => {
  if (!cluster) return t.skip(unavailable ?? "no private cluster");
  const work = await mkdtemp(join(tmpdir(), "strata-auth-work-"));
  try {
    const version = await runStrata(["-database", urlWith(RIGHT_PASSWORD), "version"], work);
    assert.equal(version.code, 1, version.stderr);
    assert.match(version.stderr, /no migration/);
    assertNoPassword(version.stdout + version.stderr);

    await writeFile(join(work, "1_a.up.sql"), "CREATE TABLE auth_a (id int);\n");
    const up = await runStrata(["-database", urlWith(RIGHT_PASSWORD), "-path", work, "up"], work);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /^1\/u a /m);
    assertNoPassword(up.stdout + up.stderr);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test("a wrong password fails with exit 1, says the login failed and prints neither password", async (t) => {
  if (!cluster) return t.skip(unavailable ?? "no private cluster");
  const work = await mkdtemp(join(tmpdir(), "strata-auth-work-"));
  try {
    const out = await runStrata(["-database", urlWith(WRONG_PASSWORD), "up"], work);
    assert.equal(out.code, 1, out.stderr);
    assert.match(out.stderr, /Cannot log in/);
    assert.match(out.stderr, /password authentication failed/);
    assertNoPassword(out.stdout + out.stderr);

    const json = await runStrata(["-json", "-database", urlWith(WRONG_PASSWORD), "up"], work);
    assert.equal(json.code, 1, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, "AUTH_FAILED");
    assertNoPassword(json.stdout + json.stderr);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

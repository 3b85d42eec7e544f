/**
 * `strata backup`: pg_dump (or, for the embedded PGlite, pglite-tools' pg_dump in WASM) into
 * `backups/backup_YYYYmmdd_HHMMSS_<db>.<ext>`, written under a partial name and renamed when
 * complete, mode 0600, with a SHA-256 file and a manifest beside it.
 */
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { closeSync, openSync, readSync } from "node:fs";
import { chmod, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import process from "node:process";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Database } from "../db/database.ts";
import type { DatabaseUrl } from "../db/database_url.ts";
import { StrataError } from "../db/strata_error.ts";
import { parseTableName, readVersion, resolveTable, type TableName } from "../migrate/version_table.ts";
import { keepingSessionSettings } from "./_session_settings.ts";
import { fileSystemError } from "./write_atomically.ts";
import { removeOnExit } from "./exit_cleanup.ts";
import { findPgProgram, libpqEnvironment, runProgram } from "./pg_tools.ts";

/** pg_dump's output formats strata offers. */
export type BackupFormat = "plain" | "custom" | "directory";

/** What a backup's manifest (`<file>.json`) records. */
export interface BackupManifest {
  /** The backup's file (or folder) name, beside the manifest. */
  file: string;
  format: BackupFormat;
  bytes: number;
  sha256: string;
  /** The database, its URL masked. */
  database: string;
  /**
   * Which database this is, for `keep`: `postgres://HOST:PORT/NAME` (no user, no query) or
   * `pglite:///ABSOLUTE/FOLDER`. Absent in manifests written before it was.
   */
  databaseKey?: string;
  databaseName: string;
  serverVersion: string;
  /** `pg_dump 15.20`, or `pglite-tools pg_dump` for the embedded database. */
  dumpedWith: string;
  /** The golang-migrate version at the time (null: none applied or no table). */
  migrationVersion: { version: string | null; dirty: boolean };
  createdAt: string;
}

/** A finished backup. */
export interface BackupResult extends BackupManifest {
  /** Full path of the backup file (or folder). */
  path: string;
  manifestPath: string;
  durationMs: number;
  /** Older backups of this database deleted by `keep` (file names, newest first). */
  pruned: string[];
  /**
   * Partial dumps in the folder that backups which were killed left behind (see
   * {@linkcode BackupLeftover}), by name; listed, never deleted.
   */
  leftovers: BackupLeftover[];
}

/**
 * A partial dump a killed backup (kill -9, a machine that went down) left in the backup folder:
 * not written to for a minute, by a process that does not run on this machine. A backup on
 * another machine sharing the folder could still own it (pg_dump waiting for a lock writes
 * nothing), so it is only reported.
 */
export interface BackupLeftover {
  /** Its name in the backup folder (`backup_...EXT.PID-XXXXXXXX.partial`). */
  name: string;
  /** Its size (a directory dump's files together). */
  bytes: number;
  /** When it was last written to. */
  modifiedAt: string;
}

/** Options for {@linkcode backupDatabase}. */
export interface BackupOptions {
  /** Folder for backups (default `backups`). */
  out?: string;
  /** Default `custom` (compressed, selective restore); the embedded PGlite writes `plain`. */
  format?: BackupFormat;
  /** Parallel jobs for the `directory` format. */
  jobs?: number;
  /** Keep only the newest N backups of this database in `out`. */
  keep?: number;
  /** The folder a relative PGlite path in the URL is relative to (default: the working directory). */
  cwd?: string;
  /** The version table, to record the migration version (default: the URL's x-migrations-table, else schema_migrations). */
  table?: TableName;
  /** Bytes written so far, every half second while pg_dump runs. */
  onProgress?: (bytes: number, elapsedMs: number) => void;
  /** The pg_dump process id, once it runs. */
  onSpawn?: (pid: number) => void;
  /** For file names; default now. */
  now?: Date;
  /** Stops pg_dump when aborted: the backup fails as INTERRUPTED and leaves no file. */
  signal?: AbortSignal;
}

/**
 * Backs up a database and verifies nothing yet (see {@linkcode verifyBackup}).
 *
 * @throws {StrataError} COMMAND_FAILED when pg_dump is missing, too old for the server, or fails (its message, password scrubbed).
 * @example
 * ```ts ignore
 * const { db, url } = await openDatabase(process.env.DATABASE_URL);
 * const backup = await backupDatabase(db, url, { out: "backups", keep: 7 });
 * console.log(backup.path, backup.sha256);
 * ```
 */
export async function backupDatabase(
  db: Database,
  url: DatabaseUrl,
  options: BackupOptions = {},
): Promise<BackupResult> {
  const out = options.out ?? "backups";
  try {
    return await writeBackup(db, url, out, options);
  } catch (error) {
    // A folder that cannot be written (read-only, full, a file in the way) is said plainly.
    throw fileSystemError(
      error,
      `Cannot write the backup in ${out}`,
      "Nothing was changed in the database. Pass -out DIR with a folder this user can write, or free the disk",
    );
  }
}

async function writeBackup(
  db: Database,
  url: DatabaseUrl,
  out: string,
  options: BackupOptions,
): Promise<BackupResult> {
  const started = performance.now();
  // `pg_dump --version` (Debian's perl wrapper alone takes ~0.1 s) runs while the queries do;
  // the first pg_dump found is the one findPgProgram picks when it is new enough for the server.
  const probing = db.dialect === "postgres" ? findPgProgram("pg_dump", 0).catch(() => undefined) : undefined;
  await mkdir(out, { recursive: true, mode: 0o700 });
  const [server] = await db.query<{ version: string; num: string; name: string }>(
    "SELECT current_setting('server_version') AS version, current_setting('server_version_num') AS num, current_database() AS name",
  );
  const serverMajor = Math.floor(Number(server.num) / 10000);
  // Plain queries, not a session of its own: a deploy calls this while it holds the migration lock.
  const table = options.table ?? parseTableName(url.migrationsTable, url.migrationsTableQuoted);
  const version = await readVersion(db, await resolveTable(db, table));
  const databaseName = db.dialect === "pglite" ? pgliteName(url) : server.name;
  const format: BackupFormat = db.dialect === "pglite" ? "plain" : options.format ?? "custom";
  if (db.dialect === "pglite" && options.format && options.format !== "plain") {
    throw new StrataError(
      "USAGE",
      `The embedded PGlite database is backed up as plain SQL only, not ${options.format}`,
    );
  }
  // One time for the name and the manifest: -keep's "older" (by createdAt) agrees with the names.
  const at = options.now ?? new Date();
  const stamp = timestamp(at);
  const ext = format === "plain" ? ".sql" : format === "custom" ? ".dump" : ".dir";
  // Two databases of one name (two servers' `app`, two PGlite folders) backed up in the same
  // second get two names. The manifest's name is taken first, exclusively: the dump itself
  // appears only at the end, so two backups running at once could otherwise pick one name.
  let name = `backup_${stamp}_${safeName(databaseName)}${ext}`;
  for (let n = 2;; n++) {
    if (!(await exists(join(out, name))) && (await reserve(join(out, `${name}.json`)))) break;
    name = `backup_${stamp}_${safeName(databaseName)}_${n}${ext}`;
  }
  const path = join(out, name);
  const partial = `${path}.${process.pid}-${Math.random().toString(36).slice(2, 10)}.partial`;
  const manifestPath = `${path}.json`;
  const sumsPath = `${path}.sha256`;
  // Until the dump has its name, nothing of it may stay behind: not on an error (a full disk
  // while hashing or writing the manifest), not on Ctrl-C, not on a second one (process.exit).
  const kept = [partial, manifestPath, sumsPath].map((p) => removeOnExit(p));
  let manifest: BackupManifest;
  try {
    let dumpedWith: string;
    if (db.dialect === "pglite") {
      dumpedWith = "pglite-tools pg_dump";
      await dumpPglite(db, partial);
    } else {
      const probed = await probing;
      const program = probed && probed.major >= serverMajor ? probed : await findPgProgram("pg_dump", serverMajor);
      dumpedWith = `pg_dump ${program.version}`;
      await dumpPostgres(program.path, url, format, partial, options);
    }
    interrupted(options.signal);
    const { sha256, bytes, files } = await checksum(partial);
    manifest = {
      file: name,
      format,
      bytes,
      sha256,
      database: url.label,
      databaseKey: databaseKey(url, server.name, options.cwd),
      databaseName,
      serverVersion: server.version,
      dumpedWith,
      migrationVersion: { version: version.version === null ? null : version.version.toString(), dirty: version.dirty },
      createdAt: at.toISOString(),
    };
    await writeFile(manifestPath, JSON.stringify(manifest, null, 2) + "\n", { mode: 0o600 });
    // sha256sum -c format: one line per file (a directory dump lists each file inside it).
    const lines = files ? files.map((f) => `${f.sha256}  ${name}/${f.name}`) : [`${sha256}  ${name}`];
    await writeFile(sumsPath, lines.join("\n") + "\n", { mode: 0o600 });
    interrupted(options.signal);
    await rename(partial, path);
  } catch (error) {
    // Each on its own: a directory dump's folder can still be written to for a moment by
    // pg_dump's workers after a signal (ENOTEMPTY), which must not leave the manifest behind.
    for (const [i, path] of [partial, manifestPath, sumsPath].entries()) {
      const removed = await rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }).then(
        () => true,
        () => false,
      );
      // One that could not be removed stays registered: the exit removes it, if it can.
      if (removed) kept[i]();
    }
    throw error;
  }
  for (const keep of kept) keep();
  const pruned = options.keep === undefined ? [] : await prune(out, manifest, options.keep);
  const leftovers = await leftoversIn(out, Date.now());
  return { ...manifest, path, manifestPath, durationMs: performance.now() - started, pruned, leftovers };
}

/**
 * Deletes all but the newest `keep` backups of the database `backup` is of, in its folder, as
 * `backupDatabase`'s `keep` does; for a caller that keeps the older ones until it has checked
 * the new one (deploy verifies first). Returns the deleted names, newest first.
 */
export async function pruneBackups(backup: BackupResult, keep: number): Promise<string[]> {
  return await prune(dirname(backup.path), backup, keep);
}

/** Throws INTERRUPTED when the signal was aborted. */
function interrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new StrataError("INTERRUPTED", "Interrupted: the backup was stopped", {
      hint: "Nothing was kept: the partial file was removed. The database was not changed",
    });
  }
}

async function dumpPostgres(
  program: string,
  url: DatabaseUrl,
  format: BackupFormat,
  partial: string,
  options: BackupOptions,
): Promise<void> {
  const libpq = await libpqEnvironment(url.connectUrl);
  const args = [`--format=${format}`, `--file=${partial}`, "--no-password"];
  // A plain dump replaces what it recreates when restored (psql cannot add --clean later).
  if (format === "plain") args.push("--clean", "--if-exists");
  if (format === "directory" && options.jobs && options.jobs > 1) args.push(`--jobs=${options.jobs}`);
  // The dump exists with mode 0600 before a byte is written (pg_dump keeps the mode of a file it truncates).
  if (format !== "directory") await (await open(partial, "w", 0o600)).close();
  const started = performance.now();
  const timer = options.onProgress
    ? setInterval(
      () => void size(partial).then((bytes) => options.onProgress!(bytes, performance.now() - started)),
      500,
    )
    : undefined;
  const previous = process.umask(0o077);
  try {
    const result = await runProgram(program, args, {
      env: libpq.env,
      secrets: [libpq.password],
      ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    interrupted(options.signal);
    if (result.code !== 0) {
      throw new StrataError("COMMAND_FAILED", `pg_dump failed (exit ${result.code}): ${result.stderr.trim()}`, {
        hint: "Nothing was kept: the partial file was removed",
      });
    }
  } finally {
    process.umask(previous);
    if (timer) clearInterval(timer);
  }
  if (format === "directory") await chmodTree(partial);
}

async function dumpPglite(db: Database, partial: string): Promise<void> {
  const { pgDump } = await import("@electric-sql/pglite-tools/pg_dump");
  const pg = db.raw as Parameters<typeof pgDump>[0]["pg"];
  // pglite-tools dumps on this very session: leave it as it was (settings, no open snapshot).
  const file = await keepingSessionSettings(db, () => pgDump({ pg, args: ["--clean", "--if-exists"] }));
  await writeFile(partial, new Uint8Array(await file.arrayBuffer()), { mode: 0o600 });
}

/**
 * SHA-256 and size of a file, or of a folder (the hash of its files' hashes, in name order,
 * with each file's hash in `files`).
 */
export async function checksum(
  path: string,
): Promise<{ sha256: string; bytes: number; files?: Array<{ name: string; sha256: string; bytes: number }> }> {
  const info = await stat(path);
  if (!info.isDirectory()) return { sha256: await hashFile(path), bytes: info.size };
  const files = await fileHashes(path);
  const lines = files.map((f) => `${f.sha256}  ${f.name}`);
  const bytes = files.reduce((n, f) => n + f.bytes, 0);
  return { sha256: createHash("sha256").update(lines.join("\n")).digest("hex"), bytes, files };
}

/** Each file of a directory dump with its SHA-256, in name order. */
async function fileHashes(dir: string): Promise<Array<{ name: string; sha256: string; bytes: number }>> {
  const files = [];
  for (const name of (await readdir(dir)).sort()) {
    const inner = join(dir, name);
    files.push({ name, sha256: await hashFile(inner), bytes: (await stat(inner)).size });
  }
  return files;
}

async function hashFile(path: string): Promise<string> {
  // Synchronous 1 MiB reads into one buffer: half the time of a read stream here (no thread
  // pool hop per chunk), with a turn of the event loop every 64 MiB so progress and signals
  // are still seen while a large dump is hashed.
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, "r");
  try {
    let sinceYield = 0;
    for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) {
      hash.update(buffer.subarray(0, n));
      sinceYield += n;
      if (sinceYield >= 64 << 20) {
        sinceYield = 0;
        await nextTurn();
      }
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

async function size(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isDirectory()) return info.size;
    let total = 0;
    for (const name of await readdir(path)) total += (await stat(join(path, name)).catch(() => ({ size: 0 }))).size;
    return total;
  } catch {
    return 0;
  }
}

async function chmodTree(dir: string): Promise<void> {
  await chmod(dir, 0o700);
  for (const name of await readdir(dir)) await chmod(join(dir, name), 0o600);
}

/**
 * Deletes all but the newest `keep` backups of this backup's database (and their manifests).
 * A backup is of the same database when its manifest says so (see sameDatabase): file names
 * alone cannot tell two servers' `app` databases, or two PGlite folders, apart. A backup
 * without a readable manifest is never deleted.
 */
async function prune(out: string, current: BackupManifest, keep: number): Promise<string[]> {
  const same = await backupsIn(out, (manifest) => sameDatabase(manifest, current));
  const old = same.slice(Math.max(0, keep)).map((b) => b.manifest.file);
  for (const name of old) {
    for (const suffix of ["", ".json", ".sha256"]) {
      await rm(join(out, `${name}${suffix}`), { recursive: true, force: true });
    }
  }
  return old;
}

/**
 * The backups in `out` with a manifest of their own that `keep` accepts, newest first (by the
 * manifest's createdAt, then by name). A backup without a readable manifest is never listed.
 */
async function backupsIn(
  out: string,
  keep: (manifest: BackupManifest) => boolean,
): Promise<Array<{ path: string; manifest: BackupManifest }>> {
  const found: Array<{ path: string; manifest: BackupManifest }> = [];
  for (const name of await readdir(out)) {
    if (!/^backup_.*\.(sql|dump|dir)$/.test(name)) continue;
    const manifest = await readManifest(join(out, name));
    if (manifest?.file !== name || !keep(manifest)) continue;
    found.push({ path: join(out, name), manifest });
  }
  const order = (b: { manifest: BackupManifest }) => [String(b.manifest.createdAt), b.manifest.file];
  return found.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : x[1] < y[1] ? 1 : -1;
  });
}

/**
 * Whether two manifests are of one database: by their keys, or for a manifest without one,
 * by the URL as given without its query (the same database whatever the session settings).
 */
function sameDatabase(a: BackupManifest, b: BackupManifest): boolean {
  if (a.databaseKey !== undefined && b.databaseKey !== undefined) return a.databaseKey === b.databaseKey;
  return a.database.split("?")[0] === b.database.split("?")[0];
}

/**
 * The newest backup of `db` in `out` taken while its version was clean (deploy takes one
 * before it migrates), by its manifest; undefined when there is none or the folder cannot be read.
 */
export async function newestCleanBackup(
  db: Database,
  url: DatabaseUrl,
  out: string,
  cwd?: string,
): Promise<{ path: string; manifest: BackupManifest } | undefined> {
  const key = await databaseKeyOf(db, url, cwd);
  const clean = await backupsIn(out, (m) => m.databaseKey === key && m.migrationVersion?.dirty === false).catch(
    () => [],
  );
  return clean[0];
}

/** The key a backup of `db` would record (its manifest's `databaseKey`), to compare with one. */
export async function databaseKeyOf(db: Database, url: DatabaseUrl, cwd?: string): Promise<string> {
  const [{ name }] = await db.query<{ name: string }>("SELECT current_database() AS name");
  return databaseKey(url, name, cwd);
}

function databaseKey(url: DatabaseUrl, name: string, cwd: string | undefined): string {
  if (url.kind === "pglite") {
    return url.pglitePath === "memory"
      ? "pglite://memory"
      : `pglite://${resolve(cwd ?? process.cwd(), url.pglitePath ?? ".strata/pglite")}`;
  }
  const parsed = new URL(url.connectUrl);
  const host = (parsed.hostname || parsed.searchParams.get("host") || "localhost").toLowerCase();
  return `postgres://${host}:${parsed.port || parsed.searchParams.get("port") || "5432"}/${name}`;
}

/** The warning for a leftover, one line, naming the file by its path in `out`. */
export function leftoverWarning(out: string, leftover: BackupLeftover): string {
  return `${join(out, leftover.name)} (${formatBytes(leftover.bytes)}, last written ${leftover.modifiedAt}) ` +
    "was left by a backup that was killed: remove it, unless a backup on another machine sharing the folder is writing it";
}

/** A size for people: B, kB or MB. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// Untouched for this long (and its process not running here), a partial dump is a leftover.
const LEFTOVER_AFTER_MS = 60_000;

/** The partial dumps killed backups left in `out` (see {@linkcode BackupLeftover}), by name. */
async function leftoversIn(out: string, now: number): Promise<BackupLeftover[]> {
  const found: BackupLeftover[] = [];
  for (const name of (await readdir(out).catch(() => [])).sort()) {
    const pid = /^backup_.*\.(\d+)-[a-z0-9]+\.partial$/.exec(name)?.[1];
    if (pid === undefined || processRuns(Number(pid))) continue;
    const written = await lastWritten(join(out, name));
    if (written === undefined || now - written.at < LEFTOVER_AFTER_MS) continue;
    found.push({ name, bytes: written.bytes, modifiedAt: new Date(written.at).toISOString() });
  }
  return found;
}

/** Whether a process of this id runs on this machine (one of another user's counts). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === "EPERM";
  }
}

/** Size and last write of a file, or of a folder's files (the newest), undefined when gone. */
async function lastWritten(path: string): Promise<{ at: number; bytes: number } | undefined> {
  try {
    const info = await stat(path);
    if (!info.isDirectory()) return { at: info.mtimeMs, bytes: info.size };
    let at = info.mtimeMs;
    let bytes = 0;
    for (const name of await readdir(path)) {
      const inner = await stat(join(path, name)).catch(() => undefined);
      if (!inner) continue;
      at = Math.max(at, inner.mtimeMs);
      bytes += inner.size;
    }
    return { at, bytes };
  } catch {
    return undefined;
  }
}

/** Creates an empty file, or says it is there already. */
async function reserve(path: string): Promise<boolean> {
  try {
    await writeFile(path, "", { flag: "wx", mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === "EEXIST") return false;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false);
}

/** What a manifest beside a backup says, or undefined when there is none. */
export async function readManifest(path: string): Promise<BackupManifest | undefined> {
  try {
    return JSON.parse(await readFile(`${path}.json`, "utf8")) as BackupManifest;
  } catch {
    return undefined;
  }
}

/** The result of {@linkcode verifyBackup}. */
export interface VerifiedBackup {
  path: string;
  format: BackupFormat;
  /** Whether a recorded checksum was there to compare. */
  checked: boolean;
  sha256: string;
  /** The manifest beside it (a backup strata wrote), if there is one. */
  manifest?: BackupManifest;
}

/**
 * Checks a backup before it is trusted: its SHA-256 against the `.sha256` file (or the
 * manifest), and for custom and directory dumps that pg_restore can read its table of
 * contents.
 *
 * @param options `dialect`: the database it is for (the hint for a file that is not a dump names
 *   what runs SQL there); `pgRestore`: the pg_restore to list it with.
 * @throws {StrataError} BACKUP_CORRUPT when the checksum differs or pg_restore cannot read it.
 */
export async function verifyBackup(
  path: string,
  options: { pgRestore?: string; dialect?: Database["dialect"] } = {},
): Promise<VerifiedBackup> {
  const info = await stat(path).catch((cause) => {
    throw new StrataError("SOURCE_NOT_FOUND", `Backup not found: ${path}`, { cause });
  });
  const manifest = await readManifest(path);
  const sums = await readFile(`${path}.sha256`, "utf8").catch(() => undefined);
  // A directory's .sha256 lists its files; their combined hash is the manifest's.
  const recorded = info.isDirectory()
    ? (sums === undefined ? manifest?.sha256 : combined(sums))
    : sums?.trim().split(/\s+/)[0] ?? manifest?.sha256;
  const { sha256 } = await checksum(path);
  if (recorded !== undefined && recorded !== sha256) {
    throw new StrataError(
      "BACKUP_CORRUPT",
      `Backup ${
        basename(path)
      } is corrupted: its SHA-256 is ${sha256}, but ${recorded} was recorded when it was written`,
      {
        hint: "Do not restore it. Use an older backup, or take a new one",
      },
    );
  }
  const format = manifest?.format ?? (await sniffFormat(path, info.isDirectory()));
  if (format === "plain" && recorded === undefined && !(await endsAsPlainDump(path, info.size))) {
    // With no checksum, the end is all there is to tell a whole dump from a cut-off one (a
    // full disk, a copy that stopped), which psql would restore "successfully" in part.
    throw new StrataError(
      "BACKUP_CORRUPT",
      `${basename(path)} does not end as pg_dump ends a plain dump ("-- PostgreSQL database dump complete"), ` +
        "and it has no recorded checksum: it may be cut off or empty. Nothing was restored",
      {
        hint: "Use a whole backup (strata backup records a SHA-256 beside each one). A SQL file that is not " +
          "pg_dump's output is not a backup: " +
          (options.dialect === "pglite"
            ? "to run it on the embedded database, make it a migration (create NAME, paste it into the .up.sql, then up)"
            : "run it with psql -1 -f FILE"),
      },
    );
  }
  if (format !== "plain") {
    const program = options.pgRestore ?? (await findPgProgram("pg_restore", 0)).path;
    const result = await runProgram(program, ["--list", path]);
    if (result.code !== 0) {
      throw new StrataError("BACKUP_CORRUPT", `pg_restore cannot read ${basename(path)}: ${result.stderr.trim()}`);
    }
  }
  return { path, format, checked: recorded !== undefined, sha256, ...(manifest ? { manifest } : {}) };
}

/**
 * Whether a plain file ends with pg_dump's (or pg_dumpall's) closing comment, as every
 * complete plain dump does (followed, since the 2025 minor releases, by `\unrestrict KEY`).
 */
async function endsAsPlainDump(path: string, size: number): Promise<boolean> {
  const length = Math.min(size, 4096);
  if (length === 0) return false;
  const handle = await open(path, "r");
  try {
    const tail = Buffer.alloc(length);
    await handle.read(tail, 0, length, size - length);
    return /-- PostgreSQL database (?:cluster )?dump complete\r?\n--\s*(?:\\unrestrict[ \t]+\S+\s*)?$/.test(
      tail.toString("latin1"),
    );
  } finally {
    await handle.close();
  }
}

function combined(sums: string): string {
  const lines = sums.trim().split("\n").map((line) => {
    const [hash, file = ""] = line.split(/\s+/, 2);
    return { hash, name: file.slice(file.indexOf("/") + 1) };
  }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return createHash("sha256").update(lines.map((l) => `${l.hash}  ${l.name}`).join("\n")).digest("hex");
}

/** custom dumps start with "PGDMP"; directory dumps hold toc.dat; anything else is plain SQL. */
export async function sniffFormat(path: string, isDirectory: boolean): Promise<BackupFormat> {
  if (isDirectory) return "directory";
  const handle = await open(path, "r");
  try {
    const buffer = new Uint8Array(5);
    await handle.read(buffer, 0, 5, 0);
    return new TextDecoder().decode(buffer) === "PGDMP" ? "custom" : "plain";
  } finally {
    await handle.close();
  }
}

function timestamp(date: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${date.getUTCFullYear()}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}_${p(date.getUTCHours())}${
    p(date.getUTCMinutes())
  }${p(date.getUTCSeconds())}`;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, "_") || "db";
}

function pgliteName(url: DatabaseUrl): string {
  return url.pglitePath === "memory"
    ? "pglite"
    : basename(url.pglitePath ?? "pglite") || basename(dirname(url.pglitePath ?? "")) || "pglite";
}

/**
 * An empty PGlite cluster without running initdb each time. initdb in WASM takes 4 to 10
 * seconds, loading a data folder from a tarball half a second, so the first fresh instance
 * saves its data folder to a per-user cache (`$XDG_CACHE_HOME/strata` or `~/.cache/strata`,
 * else the temp folder), keyed by PGlite's version, and later ones load it.
 *
 * The cache is an optimisation only: a missing, unreadable, truncated or corrupt file is
 * ignored (initdb runs and the file is written again), and a cache that cannot be written is
 * not an error. It holds an empty cluster, nothing of the user's.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import process from "node:process";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import type { PGlite } from "@electric-sql/pglite";

let pgliteModule: Promise<typeof import("@electric-sql/pglite")> | undefined;

/**
 * Where the empty-cluster tarball of the installed PGlite lives, or undefined when PGlite's
 * version cannot be read (then nothing is cached). Read at each call: XDG_CACHE_HOME and
 * HOME may change between calls (tests point them at a temp folder).
 */
export function pgliteTemplateFile(): string | undefined {
  const version = pgliteVersion();
  if (version === undefined) return undefined;
  return join(cacheHome(), "strata", `pglite-${version.replace(/[^\w.+-]/g, "_")}-empty.tar.gz`);
}

/**
 * A fresh PGlite instance in memory holding an empty cluster, exactly what initdb makes:
 * loaded from the cached tarball, or made by initdb (and then cached) when there is none or
 * it is unusable.
 */
export async function openEmptyPglite(extensionNames: readonly string[] = []): Promise<PGlite> {
  pgliteModule ??= import("@electric-sql/pglite");
  const { PGlite } = await pgliteModule;
  // Extensions are loaded at start (their files, not catalog rows), so the cached cluster serves with or without them.
  const extensions = extensionNames.length === 0 ? {} : {
    extensions: await (await import("./pglite_extensions.ts")).pgliteExtensions(extensionNames) as Record<
      string,
      never
    >,
  };
  return await fromTemplate((loadDataDir) => new PGlite({ ...extensions, ...(loadDataDir ? { loadDataDir } : {}) }));
}

/**
 * The empty cluster as an uncompressed tarball, for `new PGlite(dir, { loadDataDir })`: read
 * from the cache, or made by initdb in a throwaway instance (and then cached).
 */
export async function emptyPgliteTarball(): Promise<Blob> {
  const file = pgliteTemplateFile();
  const cached = file === undefined ? undefined : await readTemplate(file);
  if (cached !== undefined) return cached;
  pgliteModule ??= import("@electric-sql/pglite");
  const { PGlite } = await pgliteModule;
  const pg = new PGlite();
  try {
    await pg.waitReady;
    const tar = await dumpEmpty(pg);
    if (file !== undefined) await writeTemplate(file, tar).catch(() => {});
    return new Blob([tar], { type: "application/x-tar" });
  } finally {
    await pg.close();
  }
}

/**
 * A PGlite instance over a new data folder (`folder` missing or an empty directory): the
 * cached empty cluster written into it (about 2 s here), or, without a usable cache, PGlite's
 * initdb there (5 to 7 s), whose result then becomes the cache. The caller holds the folder's
 * lock, so no other process is making the same folder.
 */
export async function openNewPgliteFolder(
  folder: string,
  options: { extensions?: Record<string, never> } = {},
): Promise<PGlite> {
  pgliteModule ??= import("@electric-sql/pglite");
  const { PGlite } = await pgliteModule;
  return await fromTemplate(
    (loadDataDir) => new PGlite(folder, { ...options, ...(loadDataDir ? { loadDataDir } : {}) }),
    // What PGlite wrote before it failed goes (the folder was new), for initdb to start clean.
    async () => {
      for (const name of await readdir(folder).catch(() => [])) {
        await rm(join(folder, name), { recursive: true, force: true });
      }
    },
  );
}

/**
 * A started instance from `open`: given the cached empty cluster when there is a usable one,
 * else without it (PGlite's initdb), and then its fresh cluster becomes the cache. A verified
 * tarball PGlite still cannot start from is passed over the same way, after `clear`.
 */
async function fromTemplate(open: (loadDataDir?: Blob) => PGlite, clear?: () => Promise<void>): Promise<PGlite> {
  const file = pgliteTemplateFile();
  const tar = file === undefined ? undefined : await readTemplate(file);
  if (tar !== undefined) {
    const pg = open(tar);
    try {
      await pg.waitReady;
      return pg;
    } catch {
      await pg.close().catch(() => {});
      await clear?.();
    }
  }
  const pg = open();
  await pg.waitReady;
  if (file !== undefined) {
    try {
      await writeTemplate(file, await dumpEmpty(pg));
    } catch {
      // The cache is an optimisation only.
    }
  }
  return pg;
}

function cacheHome(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg !== undefined && isAbsolute(xdg)) return xdg; // the XDG spec says to ignore a relative one
  let home = "";
  try {
    home = homedir();
  } catch {
    // no home folder (a bare container user): the temp folder below
  }
  return home !== "" ? join(home, ".cache") : tmpdir();
}

let version: string | null | undefined;

/** PGlite's package version, from the package.json beside the module Node resolves. */
function pgliteVersion(): string | undefined {
  if (version === undefined) {
    version = null;
    try {
      const require = createRequire(import.meta.url);
      let dir = dirname(require.resolve("@electric-sql/pglite"));
      for (let depth = 0; depth < 4; depth++, dir = dirname(dir)) {
        let pkg: { name?: unknown; version?: unknown };
        try {
          pkg = require(join(dir, "package.json"));
        } catch {
          continue;
        }
        if (pkg.name === "@electric-sql/pglite" && typeof pkg.version === "string") {
          version = pkg.version;
          break;
        }
      }
    } catch {
      // not resolvable from here (an unusual bundle): no cache
    }
  }
  return version ?? undefined;
}

/** The data folder of a fresh instance, before anything else ran on it. */
async function dumpEmpty(pg: PGlite): Promise<Uint8Array<ArrayBuffer>> {
  // The tarball is the files as they are: flush the shared buffers so it needs no WAL replay.
  await pg.exec("CHECKPOINT");
  return new Uint8Array(await (await pg.dumpDataDir("none")).arrayBuffer());
}

/**
 * The cached tarball, uncompressed, or undefined when it is missing or fails the checks.
 * PGlite must only ever see a whole tarball: from a truncated one it fails with an unhandled
 * rejection and keeps the process alive. gzip's CRC-32 and length catch a truncated or
 * damaged file; the tar checks catch a file that is not ours.
 */
async function readTemplate(file: string): Promise<Blob | undefined> {
  try {
    const tar = new Uint8Array(await promisify(gunzip)(await readFile(file)));
    if (!looksLikeDataFolder(tar)) return undefined;
    return new Blob([tar], { type: "application/x-tar" });
  } catch {
    return undefined;
  }
}

/**
 * A whole tar archive (every header's size leads to the next header, then the zero blocks
 * that end it) holding a data folder (PG_VERSION and global/pg_control at its root).
 */
function looksLikeDataFolder(tar: Uint8Array): boolean {
  const text = new TextDecoder("latin1");
  const field = (block: Uint8Array, start: number, end: number) =>
    text.decode(block.subarray(start, end)).replace(/\0.*$/s, "");
  const names = new Set<string>();
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) {
      return tar.length - offset >= 1024 && names.has("/PG_VERSION") && names.has("/global/pg_control");
    }
    const size = Number.parseInt(field(header, 124, 136).trim() || "0", 8);
    if (!Number.isSafeInteger(size) || size < 0 || field(header, 257, 262) !== "ustar") return false;
    names.add(field(header, 0, 100));
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return false;
}

/** Writes under a unique temporary name, then renames: a reader never sees half a file. */
async function writeTemplate(file: string, tar: Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}-${Math.random().toString(36).slice(2, 10)}.partial`;
  try {
    await writeFile(partial, await promisify(gzip)(tar), { mode: 0o644 });
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
}

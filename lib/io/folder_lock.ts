/**
 * A lock file beside a PGlite folder. PGlite itself lets two processes open one folder and
 * corrupt it; this makes the second one wait, then fail with a clear error.
 */
import { hostname } from "node:os";
import { open, readFile, unlink } from "node:fs/promises";
import process from "node:process";
import { StrataError } from "../db/strata_error.ts";

/** A held lock; release it once. */
export interface FolderLock {
  readonly path: string;
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  host: string;
  since: string;
}

/**
 * Takes `${folder}.lock`, waiting until `deadline` while another live process holds it. A
 * lock left by a process that died (same host, pid gone) is taken over.
 *
 * @throws {StrataError} DATABASE_BUSY when another process still holds it at the deadline.
 * @example
 * ```ts ignore
 * const lock = await lockFolder(".strata/pglite", { deadline: Date.now() + 15_000 });
 * try { ... } finally { await lock.release(); }
 * ```
 */
export async function lockFolder(folder: string, options: { deadline: number; label?: string }): Promise<FolderLock> {
  const path = `${folder.replace(/\/+$/, "")}.lock`;
  let delay = 50;
  for (;;) {
    try {
      const handle = await open(path, "wx", 0o600);
      const me: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
      await handle.writeFile(JSON.stringify(me));
      await handle.close();
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          await unlink(path).catch(() => {});
        },
      };
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
    }
    const holder = await readHolder(path);
    if (holder === undefined || isStale(holder)) {
      await unlink(path).catch(() => {});
      continue;
    }
    const left = options.deadline - Date.now();
    if (left <= 0) {
      throw new StrataError(
        "DATABASE_BUSY",
        `The embedded database ${
          options.label ?? folder
        } is in use by another process (pid ${holder.pid} on ${holder.host}, since ${holder.since})`,
        {
          hint:
            "PGlite serves one process at a time: wait for that process to finish or stop it, raise -lock-timeout, " +
            "or use a PostgreSQL server (-database postgres://...)",
        },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, left)));
    delay = Math.min(delay * 2, 500);
  }
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, "utf8")) as Holder;
    return typeof parsed.pid === "number" ? parsed : undefined;
  } catch {
    // Being written right now, or garbage: treat a fresh empty file as held.
    return { pid: -1, host: "", since: "" };
  }
}

function isStale(holder: Holder): boolean {
  if (holder.pid === -1) return false;
  if (holder.host !== hostname()) return false;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as { code?: string }).code === "ESRCH";
  }
}

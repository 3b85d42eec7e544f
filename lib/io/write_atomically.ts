/**
 * Writing a file people read (a schema snapshot, an ERD, a bundle) so that no reader ever
 * sees half of it, and a folder that cannot be written is a plain error, not a stack trace.
 */
import { chmod, mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import process from "node:process";
import { dirname } from "node:path";
import { StrataError } from "../db/strata_error.ts";

/**
 * Writes beside the target under a name of its own, then renames over it. The folder is made
 * when missing. A file it replaces keeps its mode (a snapshot someone made 0600 stays 0600);
 * the part written so far is 0600 until then.
 *
 * @throws {StrataError} COMMAND_FAILED naming the path and the system's reason.
 */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const partial = `${path}.${Math.random().toString(36).slice(2, 10)}.partial`;
  try {
    await mkdir(dirname(path), { recursive: true });
    const mode = await stat(path).then((s) => s.mode & 0o7777, () => undefined);
    await writeFile(partial, text, { mode: 0o600 });
    // A new file gets the mode any new file gets here (0666 less the umask), as before.
    await chmod(partial, mode ?? 0o666 & ~process.umask());
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true }).catch(() => {});
    throw fileSystemError(error, `Cannot write ${path}`);
  }
}

/**
 * A file-system failure (EACCES, EROFS, ENOSPC, ENOTDIR, ...: node's errors carry a syscall)
 * as COMMAND_FAILED with the system's reason after `what`; any other error as it was.
 */
export function fileSystemError(error: unknown, what: string, hint?: string): unknown {
  if (error instanceof StrataError || typeof (error as { syscall?: unknown })?.syscall !== "string") return error;
  return new StrataError("COMMAND_FAILED", `${what}: ${(error as Error).message}`, {
    cause: error,
    ...(hint === undefined ? {} : { hint }),
  });
}

/**
 * Writing a file people read (a schema snapshot, an ERD, a bundle) so that no reader ever
 * sees half of it, and a folder that cannot be written is a plain error, not a stack trace.
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { StrataError } from "../db/strata_error.ts";

/**
 * Writes beside the target under a name of its own, then renames over it. The folder is made
 * when missing.
 *
 * @throws {StrataError} COMMAND_FAILED naming the path and the system's reason.
 */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const partial = `${path}.${Math.random().toString(36).slice(2, 10)}.partial`;
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(partial, text);
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

/**
 * Files to remove if the process exits while they are being written: a second Ctrl-C ends
 * strata with process.exit, and a half-written backup or a temporary copy must not stay
 * behind looking like a finished one.
 */
import { rmSync } from "node:fs";
import process from "node:process";

const pending = new Set<string>();
let registered = false;

/**
 * Removes `path` (a file or a folder) if the process exits before the returned function is
 * called.
 *
 * @example
 * ```ts ignore
 * const keep = removeOnExit("backups/x.partial");
 * try { await write(); } finally { keep(); }
 * ```
 */
export function removeOnExit(path: string): () => void {
  if (!registered) {
    registered = true;
    process.once("exit", () => {
      for (const p of pending) {
        try {
          rmSync(p, { recursive: true, force: true });
        } catch {
          // exiting anyway: nothing more can be done about it
        }
      }
    });
  }
  pending.add(path);
  return () => void pending.delete(path);
}

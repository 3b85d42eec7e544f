/**
 * Deno's refusal of a permission `deno run` was not given (no `-A`), as a StrataError that
 * says which permissions strata uses, instead of a stack trace or a misleading message (a
 * pg_dump that Deno may not start is not a pg_dump that is missing).
 */
import { StrataError } from "../db/strata_error.ts";

/** What each Deno permission is for; the PERMISSION_DENIED hint and the README give the same list. */
const DENO_PERMISSIONS_HINT = "Run it with -A (deno run -A mod.ts ...), or grant what strata uses: " +
  "--allow-read --allow-env --allow-sys always; --allow-net for a server; --allow-write for the embedded PGlite, " +
  "backup, snapshot -out, create and bundle; --allow-run for backup, restore and deploy (pg_dump, pg_restore, psql)";

/**
 * The Deno permission error in `error` or its causes (NotCapable on Deno 2, PermissionDenied
 * on Deno 1), if there is one. Never matches on Node: a file the system refuses is EACCES.
 */
function deniedPermission(error: unknown): Error | undefined {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 8; depth++) {
    if (current.name === "NotCapable" || current.name === "PermissionDenied") return current;
    current = current.cause;
  }
  return undefined;
}

/**
 * `error` as a PERMISSION_DENIED StrataError when a Deno permission refusal caused it (its
 * message kept when it already quotes Deno's, as `Cannot connect to URL: Requires net
 * access ...` does); otherwise undefined.
 */
export function permissionError(error: unknown): StrataError | undefined {
  const denied = deniedPermission(error);
  if (denied === undefined) return undefined;
  if (error instanceof StrataError && error.code === "PERMISSION_DENIED") return error;
  const message = error !== denied && error instanceof Error && error.message.includes(denied.message)
    ? error.message
    : `Deno refused a permission: ${denied.message}`;
  return new StrataError("PERMISSION_DENIED", message, { cause: error, hint: DENO_PERMISSIONS_HINT });
}

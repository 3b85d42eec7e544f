import { StrataError } from "./strata_error.ts";

/** What every use of a Database after its close() throws, at once (a driver could wait forever). */
export function databaseClosed(label: string): StrataError {
  return new StrataError("DATABASE_CLOSED", `The database ${label} is closed: it was used after close()`, {
    hint: "Call close() after the last use: a Migrator, runSeeds or snapshotSchema uses the Database it was " +
      "given until its promise settles. Open the database again to go on",
  });
}

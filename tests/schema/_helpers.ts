/** Shared by the schema tests: the example migrations and the every-kind fixture. */
import { readdir, readFile } from "node:fs/promises";
import type { Database } from "../../lib/db/database.ts";

const ROOT = new URL("../../", import.meta.url);

/** Applies the example migrations' up files in order, each file as one exec (000004 builds an index CONCURRENTLY, so it must not share a transaction). */
export async function applyExampleMigrations(db: Database): Promise<void> {
  const dir = new URL("migrations/", ROOT);
  const files = (await readdir(dir)).filter((name) => name.endsWith(".up.sql")).sort();
  for (const file of files) await db.exec(await readFile(new URL(file, dir), "utf8"));
}

/** The SQL that makes one object of every kind a snapshot covers. */
export function everyKindSql(): Promise<string> {
  return readFile(new URL("tests/schema/fixtures/every_kind.sql", ROOT), "utf8");
}

/** Runs statements one by one, naming the one that fails. */
export async function applyStatements(db: Database, statements: readonly string[]): Promise<void> {
  for (const statement of statements) {
    try {
      await db.exec(statement);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n  in: ${statement}`, { cause: error });
    }
  }
}

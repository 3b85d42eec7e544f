/**
 * `strata deploy`: backup, verify, then migrate, all under the migration lock. With nothing
 * pending it stops before the backup. When a migration fails it says what changed and how to
 * go back: nothing, when the failed file was rolled back and was the first to run; the down
 * files (`goto`) of the files it applied before the failure; or the backup it just took,
 * restored over an emptied current schema (`restore -replace`, both in one transaction).
 * With `restoreOnFailure` it does that itself when the failure left changes a transaction
 * could not roll back (a dirty database).
 */
import { dirname } from "node:path";
import type { Database } from "../db/database.ts";
import type { DatabaseUrl } from "../db/database_url.ts";
import { StrataError } from "../db/strata_error.ts";
import type { MigrateRun, Migrator, PlannedRun } from "../migrate/migrator.ts";
import {
  backupDatabase,
  type BackupOptions,
  type BackupResult,
  formatBytes,
  leftoverWarning,
  newestCleanBackup,
  pruneBackups,
  verifyBackup,
} from "./backup.ts";
import { restoreBackup } from "./restore.ts";

/** Options for {@linkcode deploy}. */
export interface DeployOptions {
  backup?: BackupOptions;
  /** Restore the backup automatically when a failed migration left the database dirty. */
  restoreOnFailure?: boolean;
  /** How to write the restore command for people, given the backup's path. */
  restoreCommand?: (path: string) => string;
  /** How to write another strata command for people (`drop -f`, `goto 4`). */
  command?: (args: string) => string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What a deploy did. */
export interface DeployResult {
  /** Nothing was pending: no backup, no migration. */
  noChange: boolean;
  plan: PlannedRun;
  backup?: BackupResult;
  run?: MigrateRun;
  /** The migration failure, if any. */
  error?: StrataError;
  /** Whether the backup was restored after a failure. */
  restored: boolean;
  /**
   * When a migration failed after changing the database and the backup was not restored:
   * the command that empties the current schema and restores the backup into it in one
   * transaction, so that objects created since the backup go too.
   */
  restoreCommand?: string;
  /**
   * When the failed file was rolled back after others applied (not dirty) and each of those
   * has a down file: the command that runs them back to the version before the deploy.
   */
  revertCommand?: string;
}

/**
 * Backs up, verifies the backup, and migrates up, holding the migration lock throughout.
 *
 * @throws {StrataError} what the plan, the backup or its verification throw (nothing was migrated then).
 * @example
 * ```ts ignore
 * const result = await deploy(db, url, migrator, { backup: { out: "backups" }, log: console.error });
 * if (result.error) process.exitCode = 1;
 * ```
 */
export async function deploy(
  db: Database,
  url: DatabaseUrl,
  migrator: Migrator,
  options: DeployOptions = {},
): Promise<DeployResult> {
  const log = options.log ?? (() => {});
  return await migrator.hold(async () => {
    const plan = await migrator.plan({ command: "up" }).catch(async (error: unknown) => {
      // A database a failed deploy left dirty: the way back by the backup that deploy took.
      if (error instanceof StrataError && error.code === "DIRTY") {
        const out = options.backup?.out ?? "backups";
        const found = await newestCleanBackup(db, url, out, options.backup?.cwd).catch(() => undefined);
        if (found) {
          const strata = options.command ?? ((args: string) => `strata ${args}`);
          const restore = options.restoreCommand?.(found.path) ?? strata(`restore ${found.path} -yes -replace`);
          Object.assign(error, {
            hint:
              `${error.hint ? `${error.hint} ` : ""}The newest backup of this database in ${out} is ${found.path}, ` +
              `taken ${found.manifest.createdAt} at version ${found.manifest.migrationVersion.version ?? "none"}: ` +
              `if repairing by hand is not an option, ${restore} puts the database back as it was then ` +
              "(writes since then are lost)",
          });
        }
      }
      throw error;
    });
    if (plan.noChange) {
      log(`No pending migrations at version ${plan.from.version ?? "none"}: nothing to deploy, no backup taken`);
      return { noChange: true, plan, restored: false };
    }
    log(`${plan.steps.length} pending migration(s): ${plan.steps.map((s) => s.version).join(", ")}`);
    // Older backups go (keep) only once the new one is verified.
    const { keep, ...once } = options.backup ?? {};
    const backup = await backupDatabase(db, url, once);
    await verifyBackup(backup.path);
    log(`Backup ${backup.path} (${formatBytes(backup.bytes)}, sha256 ${backup.sha256.slice(0, 12)}) verified`);
    for (const leftover of backup.leftovers) log(`warning: ${leftoverWarning(dirname(backup.path), leftover)}`);
    if (keep !== undefined) {
      backup.pruned = await pruneBackups(backup, keep);
      for (const name of backup.pruned) log(`Deleted older backup ${name} (keep ${keep})`);
    }
    const run = await migrator.up();
    if (!run.error || run.error.code === "LIMIT_SHORT") {
      log(`Deployed: version ${run.to.version ?? "none"}; the backup stays at ${backup.path}`);
      return { noChange: false, plan, backup, run, restored: false };
    }
    const strata = options.command ?? ((args: string) => `strata ${args}`);
    const restore = options.restoreCommand?.(backup.path) ?? strata(`restore ${backup.path} -yes -replace`);
    const before = plan.from.version ?? "none";
    const applied = run.results.filter((r) => r.status === "applied");
    const failed = run.results.find((r) => r.status === "failed");
    // No failed file: the run stopped between files (interrupted), nothing was rolled back.
    const what = failed === undefined
      ? "the deploy was interrupted between two files"
      : `${failed.file ?? `version ${failed.version}`} was rolled back`;
    if (!run.to.dirty && applied.length === 0) {
      log(
        `Nothing changed: ${what} and the database is still at version ${before}, ` +
          `as before the deploy; no restore is needed (the backup stays at ${backup.path})`,
      );
      return { noChange: false, plan, backup, run, error: run.error, restored: false };
    }
    if (options.restoreOnFailure && run.to.dirty) {
      log(
        `The failed migration left version ${run.to.version} dirty: restoring ${backup.path} over an emptied current schema`,
      );
      try {
        const restored = await restoreBackup(db, url, backup.path, { yes: true, replace: true });
        const since = [...applied, ...(failed ? [failed] : [])].map((r) => r.file ?? String(r.version));
        log(
          `Restored: the database is back at version ${before}, as before the deploy ` +
            `(${restored.dropped} object(s) of the current schema dropped first, in the same transaction; ` +
            `anything ${since.join(", ")} made in other schemas stays)`,
        );
        return { noChange: false, plan, backup, run, error: run.error, restored: true };
      } catch (error) {
        log(
          `Restoring failed, so the database is as the failed migration left it: ${(error as Error).message}`,
        );
      }
    }
    let revertCommand: string | undefined;
    if (!run.to.dirty && applied.every((r) => !r.outOfOrder)) {
      const set = await migrator.loadSet();
      const downs = applied.every((r) => set.migrations.find((m) => m.version === r.version)?.down !== undefined);
      if (downs) revertCommand = strata(plan.from.version === null ? "down -all" : `goto ${plan.from.version}`);
    }
    log(
      run.to.dirty
        ? `${failed?.file ?? `version ${run.to.version}`} failed part-way outside a transaction: ` +
          `version ${run.to.version} is dirty` +
          (applied.length ? `; applied before it: ${applied.map((r) => r.file).join(", ")}` : "")
        : `${what}; applied before it and kept: ${applied.map((r) => r.file).join(", ")} (version ${run.to.version})`,
    );
    return {
      noChange: false,
      plan,
      backup,
      run,
      error: run.error,
      restored: false,
      restoreCommand: restore,
      ...(revertCommand ? { revertCommand } : {}),
    };
  });
}

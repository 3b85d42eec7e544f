/**
 * `strata deploy`: backup, verify, then migrate, all under the migration lock. With nothing
 * pending it stops before the backup. When a migration fails it says exactly how to restore
 * the backup it just took, and with `restoreOnFailure` restores it itself when the failure
 * left changes a transaction could not roll back (a dirty database).
 */
import type { Database } from "../db/database.ts";
import type { DatabaseUrl } from "../db/database_url.ts";
import type { StrataError } from "../db/strata_error.ts";
import type { MigrateRun, Migrator, PlannedRun } from "../migrate/migrator.ts";
import { backupDatabase, type BackupOptions, type BackupResult, verifyBackup } from "./backup.ts";
import { restoreBackup } from "./restore.ts";

/** Options for {@linkcode deploy}. */
export interface DeployOptions {
  backup?: BackupOptions;
  /** Restore the backup automatically when a failed migration left the database dirty. */
  restoreOnFailure?: boolean;
  /** How to write the restore command for people, given the backup's path. */
  restoreCommand?: (path: string) => string;
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
  /** The command that restores the backup, when a migration failed and it was not restored. */
  restoreCommand?: string;
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
    const plan = await migrator.plan({ command: "up" });
    if (plan.noChange) {
      log(`No pending migrations at version ${plan.from.version ?? "none"}: nothing to deploy, no backup taken`);
      return { noChange: true, plan, restored: false };
    }
    log(`${plan.steps.length} pending migration(s): ${plan.steps.map((s) => s.version).join(", ")}`);
    const backup = await backupDatabase(db, url, options.backup ?? {});
    await verifyBackup(backup.path);
    log(`Backup ${backup.path} (${formatBytes(backup.bytes)}, sha256 ${backup.sha256.slice(0, 12)}) verified`);
    const run = await migrator.up();
    if (!run.error || run.error.code === "LIMIT_SHORT") {
      log(`Deployed: version ${run.to.version ?? "none"}; the backup stays at ${backup.path}`);
      return { noChange: false, plan, backup, run, restored: false };
    }
    const command = options.restoreCommand?.(backup.path) ?? `strata restore ${backup.path} -yes -clean`;
    if (options.restoreOnFailure && run.to.dirty) {
      log(`The failed migration left version ${run.to.version} dirty: restoring ${backup.path}`);
      await restoreBackup(db, url, backup.path, { yes: true, clean: true });
      log(`Restored: the database is back at version ${plan.from.version ?? "none"}, as before the deploy`);
      const kept = run.results.filter((r) => r.status === "applied").map((r) => r.file ?? String(r.version));
      if (kept.length > 0) {
        log(
          `Objects the backup does not contain stay: those created by ${
            kept.join(", ")
          } (applied before the failure) — drop them by hand if they are in the way`,
        );
      }
      return { noChange: false, plan, backup, run, error: run.error, restored: true };
    }
    return { noChange: false, plan, backup, run, error: run.error, restored: false, restoreCommand: command };
  });
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * What every migration's state is, from four facts: the files, their checksums, the
 * golang-migrate version row (the source of truth) and strata's history. Also what the
 * history needs to agree with the version table again. Pure: data in, data out.
 */
import { type HistoryRow, STARTED_NOTE } from "./history.ts";
import type { MigrationSet } from "./migration_set.ts";
import type { VersionState } from "./version_table.ts";

/** The state of one migration. */
export type MigrationState =
  | "applied"
  | "pending"
  /** Applied (the version table is past it) but its file is gone. */
  | "missing file"
  /** Applied, and its up file changed since. */
  | "changed"
  /** Pending, but below the current version: golang-migrate would skip it silently. */
  | "out of order"
  /** A non-transactional file that failed part-way; the database is dirty. */
  | "failed"
  /**
   * The version the table holds, dirty, that strata's history knows nothing of: another tool
   * (golang-migrate) left it so, and its file, or the next version's down, may have run in part.
   */
  | "dirty";

/** One line of `status`. */
export interface StatusEntry {
  version: bigint;
  name: string;
  state: MigrationState;
  up?: string;
  down?: string;
  appliedAt: string | null;
  durationMs: number | null;
  /** The checksum recorded when it was applied. */
  recordedChecksum: string | null;
  /** The up file's checksum now. */
  checksum: string | null;
  note: string | null;
}

/** How to get out of a dirty state. */
export interface DirtyExplanation {
  /** The version the table holds, dirty. */
  version: bigint | null;
  /** The file that failed, when strata ran it. */
  file?: string;
  direction?: "up" | "down";
  /** Whether it ran in a transaction (strata leaves a database dirty only for files that did not). */
  transactional?: boolean;
  failedStatement?: number;
  error?: string;
  /**
   * The INVALID indexes (schema-qualified) a failed CREATE INDEX CONCURRENTLY left behind, to
   * drop (`DROP INDEX CONCURRENTLY IF EXISTS`) before the file runs again. Filled in by
   * `Migrator.status()` and the DIRTY refusal, which read the catalog.
   */
  invalidIndexes?: string[];
  /**
   * strata started the file (at `startedAt`) and recorded no end: its process was killed or
   * lost its connection, or it is still running (see {@linkcode MigrationStatus.running}).
   */
  unfinished?: boolean;
  startedAt?: string;
  /**
   * A dirty state strata did not make, while its history still has the version after it
   * applied: most likely that version's down failed (golang-migrate's `down` leaves the
   * version it was going to, dirty).
   */
  likelyDown?: {
    version: bigint;
    file?: string;
    /** `force V` for undone changes if it was the lower version's up that failed after all. */
    forceIfUpUndone: bigint | null;
  };
  /** `force V` when the failed file's changes are all in place. */
  forceIfComplete: bigint | null;
  /** `force V` when none of them are. */
  forceIfUndone: bigint | null;
}

/** What the history must change to agree with the version table. */
export interface Reconciliation {
  /** Versions at or below the current one with no history row: applied outside strata. */
  record: Array<{ version: bigint; name: string; checksum: string | null }>;
  /** History rows above the current version: reverted outside strata (or by force). */
  remove: bigint[];
  /** Failed rows the database is no longer dirty about: someone forced past them. */
  settle: Array<{ version: bigint; name: string; checksum: string | null }>;
}

/** The session holding the migration lock, as the server's pg_stat_activity shows it. */
export interface RunningMigration {
  pid: number;
  /** When its current transaction (or else its connection) started, ISO. */
  since: string | null;
  applicationName: string | null;
}

/** The whole picture. */
export interface MigrationStatus {
  version: VersionState;
  entries: StatusEntry[];
  pending: StatusEntry[];
  changed: StatusEntry[];
  outOfOrder: StatusEntry[];
  missingFiles: StatusEntry[];
  dirty?: DirtyExplanation;
  /** Another session holds the migration lock: a migration is running now. */
  running?: RunningMigration;
  /** Files that look like migrations but are not read as one (golang-migrate ignores them too), and why. */
  ignored?: Array<{ file: string; reason: string }>;
  reconcile: Reconciliation;
}

/**
 * Computes every migration's state.
 *
 * @param checksums SHA-256 of each up file by file name
 * @example
 * ```ts ignore
 * const status = computeStatus(set, checksums, { version: 3n, dirty: false }, history);
 * console.log(status.pending.length, status.changed.map((e) => e.up));
 * ```
 */
export function computeStatus(
  set: MigrationSet,
  checksums: ReadonlyMap<string, string>,
  version: VersionState,
  history: readonly HistoryRow[],
): MigrationStatus {
  const current = version.version;
  const rows = new Map(history.map((row) => [row.version, row]));
  const atOrBelow = (v: bigint) => current !== null && v <= current;
  // The newest version strata itself knows was applied: anything missing from the history
  // above it (up to the current version) was applied by another tool; anything missing
  // below it never ran (out of order).
  let lastKnown: bigint | null = null;
  for (const row of history) {
    if (atOrBelow(row.version) && (lastKnown === null || row.version > lastKnown)) lastKnown = row.version;
  }

  // strata's own failure (a non-transactional file, up or down) explains a dirty version.
  const cause = version.dirty ? dirtyCause(set, current, history) : undefined;
  const reconcile: Reconciliation = { record: [], remove: [], settle: [] };
  const entries: StatusEntry[] = [];
  const fileVersions = new Set<bigint>();
  for (const m of set.migrations) {
    fileVersions.add(m.version);
    const row = rows.get(m.version);
    const checksum = m.up === undefined ? null : checksums.get(m.up) ?? null;
    const entry: StatusEntry = {
      version: m.version,
      name: m.name,
      state: "pending",
      ...(m.up === undefined ? {} : { up: m.up }),
      ...(m.down === undefined ? {} : { down: m.down }),
      appliedAt: row?.appliedAt ?? null,
      durationMs: row?.durationMs ?? null,
      recordedChecksum: row?.checksum ?? null,
      checksum,
      note: row?.note ?? null,
    };
    if (row !== undefined && row === cause) {
      entry.state = "failed";
    } else if (version.dirty && m.version === current && cause === undefined) {
      // Dirty by another tool: not "applied", whatever strata recorded before.
      entry.state = "dirty";
      entry.note = row ? "applied by strata, since left dirty outside it" : "left dirty outside strata";
    } else if (atOrBelow(m.version)) {
      if (row?.status === "failed") {
        reconcile.settle.push({ version: m.version, name: m.name, checksum });
        entry.state = "applied";
        entry.note = "forced after a failure";
      } else if (row) {
        entry.state = row.checksum !== null && checksum !== null && row.checksum !== checksum ? "changed" : "applied";
      } else if (lastKnown === null || m.version > lastKnown) {
        reconcile.record.push({ version: m.version, name: m.name, checksum });
        entry.state = "applied";
        entry.note = "applied outside strata";
      } else {
        entry.state = "out of order";
      }
    } else if (row) {
      reconcile.remove.push(m.version);
      entry.appliedAt = null;
      entry.durationMs = null;
      entry.recordedChecksum = null;
      entry.note = null;
    }
    entries.push(entry);
  }
  for (const row of history) {
    if (fileVersions.has(row.version)) continue;
    if (atOrBelow(row.version) || (row.status === "failed" && version.dirty)) {
      entries.push({
        version: row.version,
        name: row.name,
        state: row.status === "failed" && version.dirty ? "failed" : "missing file",
        appliedAt: row.appliedAt,
        durationMs: row.durationMs,
        recordedChecksum: row.checksum,
        checksum: null,
        note: row.note,
      });
    } else {
      reconcile.remove.push(row.version);
    }
  }
  // The version the table holds, with no file and no history row (golang-migrate's table,
  // or a file deleted): not up to date, and up and down cannot start from it.
  if (current !== null && !fileVersions.has(current) && !rows.has(current)) {
    entries.push({
      version: current,
      name: "",
      state: "missing file",
      appliedAt: null,
      durationMs: null,
      recordedChecksum: null,
      checksum: null,
      note: "the database is at this version; no file has it",
    });
  }
  entries.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));

  const status: MigrationStatus = {
    version,
    entries,
    pending: entries.filter((e) => e.state === "pending" || e.state === "out of order"),
    changed: entries.filter((e) => e.state === "changed"),
    outOfOrder: entries.filter((e) => e.state === "out of order"),
    missingFiles: entries.filter((e) => e.state === "missing file"),
    reconcile,
  };
  if (version.dirty) status.dirty = explainDirty(set, version.version, history);
  return status;
}

function unfinished(row: HistoryRow): { unfinished?: true; startedAt?: string } {
  if (row.note !== STARTED_NOTE || row.failedStatement !== null) return {};
  return { unfinished: true, ...(row.appliedAt ? { startedAt: row.appliedAt } : {}) };
}

/**
 * The failed history row that explains a dirty version: the current version's own up, or the
 * down of the version after it (a down leaves its target dirty). A failed row elsewhere was
 * forced past by another tool (golang-migrate's force leaves strata's history alone).
 */
function dirtyCause(set: MigrationSet, version: bigint | null, history: readonly HistoryRow[]): HistoryRow | undefined {
  const next = set.migrations.find((m) => version === null || m.version > version)?.version;
  return history.find((row) =>
    row.status === "failed" && (row.direction === "down" ? row.version === next : row.version === version)
  );
}

function explainDirty(set: MigrationSet, version: bigint | null, history: readonly HistoryRow[]): DirtyExplanation {
  const failed = dirtyCause(set, version, history);
  const previous = (v: bigint | null): bigint | null => {
    let before: bigint | null = null;
    for (const m of set.migrations) {
      if (v === null || m.version >= v) break;
      before = m.version;
    }
    return before;
  };
  if (failed?.direction === "down") {
    const migration = set.migrations.find((m) => m.version === failed.version);
    return {
      version,
      ...(migration?.down === undefined ? {} : { file: migration.down }),
      direction: "down",
      transactional: false,
      ...(failed.failedStatement === null ? {} : { failedStatement: failed.failedStatement }),
      ...(failed.error === null ? {} : { error: failed.error }),
      ...unfinished(failed),
      forceIfComplete: version,
      forceIfUndone: failed.version,
    };
  }
  // Without a failed history row strata cannot say for sure which file left it dirty: golang-migrate's
  // (V, dirty) comes from V's up or from the down of the version after V, and a crash leaves no
  // record either. When the history still says the version after V is applied, it was that down.
  const next = failed ? undefined : set.migrations.find((m) => version === null || m.version > version);
  if (next && history.some((row) => row.version === next.version && row.status === "applied")) {
    return {
      version,
      direction: "down",
      likelyDown: {
        version: next.version,
        ...(next.down === undefined ? {} : { file: next.down }),
        forceIfUpUndone: version === null ? null : previous(version),
      },
      forceIfComplete: version,
      forceIfUndone: next.version,
    };
  }
  const migration = failed ? set.migrations.find((m) => m.version === failed.version) : undefined;
  return {
    version,
    ...(migration?.up === undefined ? {} : { file: migration.up }),
    ...(failed ? { direction: "up" as const, transactional: false } : {}),
    ...(failed?.failedStatement == null ? {} : { failedStatement: failed.failedStatement }),
    ...(failed?.error == null ? {} : { error: failed.error }),
    ...(failed ? unfinished(failed) : {}),
    forceIfComplete: version,
    // (-1, dirty) only comes from the first version's down failing: undone means that version is still applied.
    forceIfUndone: version === null ? (set.migrations[0]?.version ?? null) : previous(version),
  };
}

/**
 * Human output for `status` and dry runs: a table of migrations, a dirty database
 * explained with the exact commands out, a plan file by file and statement by statement.
 */
import { maskUrl } from "../db/database_url.ts";
import { STARTED_NOTE } from "../migrate/history.ts";
import { dropInvalidIndex, type PlannedRun } from "../migrate/migrator.ts";
import type { MigrationStatus } from "../migrate/migration_status.ts";

/** Go-style durations: 812.5µs, 12.345ms, 1.204s. */
export function formatDuration(ms: number): string {
  if (ms < 1) return `${(ms * 1000).toFixed(1)}µs`;
  // A whole number of ms is all some clocks give (PGlite's history durations): don't invent decimals.
  if (ms < 1000) return Number.isInteger(ms) ? `${ms}ms` : `${ms.toFixed(3)}ms`;
  return `${(ms / 1000).toFixed(3)}s`;
}

/**
 * The status table and, when dirty, what happened and the two `force` commands.
 *
 * @param command how to write a strata command for this database, e.g. `strata -path db force`
 */
export function formatStatus(status: MigrationStatus, command: (args: string) => string): string {
  const lines: string[] = [];
  const v = status.version;
  lines.push(`version: ${v.version ?? "none"}${v.dirty ? " (dirty)" : ""}`);
  const rows = status.entries.map((e) => [
    String(e.version),
    e.name,
    e.state === "failed" && e.note === STARTED_NOTE ? "started" : e.state,
    e.appliedAt
      ? e.appliedAt.replace("T", " ").replace(/\.\d+Z$/, "Z")
      : e.state === "applied" || e.state === "changed"
      ? "-"
      : "",
    e.durationMs === null ? "" : formatDuration(e.durationMs),
    e.note ?? "",
  ]);
  if (rows.length === 0) lines.push("No migrations in the source");
  else lines.push(...table(["VERSION", "NAME", "STATE", "APPLIED AT", "DURATION", "NOTE"], rows));
  const summary: string[] = [];
  const applied = status.entries.filter((e) => e.state === "applied" || e.state === "changed").length;
  summary.push(`${applied} applied`, `${status.pending.length} pending`);
  if (status.changed.length) summary.push(`${status.changed.length} changed since applied`);
  if (status.outOfOrder.length) summary.push(`${status.outOfOrder.length} out of order`);
  if (status.missingFiles.length) summary.push(`${status.missingFiles.length} applied without a file`);
  lines.push(summary.join(", "));
  for (const e of status.changed) {
    lines.push(
      `changed: ${e.up} was applied with checksum ${e.recordedChecksum?.slice(0, 12)}, the file now has ${
        e.checksum?.slice(0, 12)
      }`,
    );
  }
  for (const i of status.ignored ?? []) lines.push(`ignored: ${i.file}: ${i.reason}`);
  for (const e of status.outOfOrder) {
    lines.push(
      `out of order: ${
        e.up ?? e.version
      } is pending below version ${v.version} (golang-migrate would skip it; 'up -allow-out-of-order' applies it)`,
    );
  }
  const running = status.running;
  if (running) {
    lines.push("");
    lines.push(
      `A migration is running now: pid ${running.pid}${running.applicationName ? ` (${running.applicationName})` : ""}${
        running.since ? `, since ${running.since}` : ""
      }, holds the migration lock.`,
    );
  }
  if (status.dirty) {
    const d = status.dirty;
    lines.push("");
    lines.push(`DIRTY at version ${d.version ?? -1}.`);
    if (d.file && d.unfinished) {
      lines.push(
        `  ${d.file} (${d.direction ?? "up"}) was started by strata${d.startedAt ? ` at ${d.startedAt}` : ""} ` +
          `outside a transaction and has recorded no end: ${
            running
              ? "it is probably the migration running now"
              : "its process was killed or lost its connection; the statements it ran stay applied"
          }.`,
      );
    } else if (d.file) {
      lines.push(
        `  ${d.file} (${d.direction ?? "up"}) failed${d.failedStatement ? ` at statement ${d.failedStatement}` : ""}` +
          `${
            d.transactional === false && (d.failedStatement ?? 0) > 1
              ? ", outside a transaction: the statements before it stay applied"
              : ""
          }`,
      );
      if (d.error) lines.push(`  error: ${maskUrl(d.error)}`);
    } else {
      lines.push(
        "  strata did not run the failed migration (golang-migrate, or by hand; strata records each file it starts)" + (
          d.likelyDown
            ? `; its history still has version ${d.likelyDown.version} applied, so it was most likely its down ` +
              `migration${d.likelyDown.file ? ` (${d.likelyDown.file})` : ""} that failed: check its objects by hand.`
            : ": check the last migration's objects by hand."
        ),
      );
    }
    // From a failed CREATE INDEX CONCURRENTLY, or one whose process was killed.
    for (const index of d.invalidIndexes ?? []) {
      lines.push(
        `  INVALID index left behind: ${index}; run ${dropInvalidIndex(index)} before running the file again`,
      );
    }
    if (running) {
      lines.push("  Do not force while a migration runs: wait for it to finish, then run status again.");
    } else {
      lines.push("  Repair the database by hand, then:");
      lines.push(
        `    if the failed migration's changes are all in place:  ${command(`force ${d.forceIfComplete ?? -1}`)}`,
      );
      lines.push(
        `    if none of them are:                                ${command(`force ${d.forceIfUndone ?? -1}`)}`,
      );
      lines.push(
        d.direction === "down"
          ? `  and, if you forced the second, run ${command("down 1")} to revert it again`
          : `  and run ${command("up")}`,
      );
      if (d.likelyDown && d.version !== null) {
        lines.push(
          `  If it was version ${d.version ?? -1}'s up that failed instead: ${command(`force ${d.version ?? -1}`)} ` +
            `if its changes are all in place, ${command(`force ${d.likelyDown.forceIfUpUndone ?? -1}`)} if none are, ` +
            `then ${command("up")}`,
        );
      }
    }
  }
  return lines.join("\n") + "\n";
}

/** A dry run: each file, its direction, transactional or not, and its statements. */
export function formatPlan(command: string, plan: PlannedRun): string {
  const from = plan.from.version ?? "none";
  if (plan.noChange) return `Plan: ${command} from version ${from}: no change\n`;
  const last = plan.steps[plan.steps.length - 1];
  const lines = [
    `Plan: ${command} from version ${from} to ${
      last.to ?? "none"
    }, ${plan.steps.length} migration(s). Dry run: nothing was changed.`,
  ];
  for (const step of plan.steps) {
    const how = step.transactional ? "in one transaction" : `outside a transaction (${step.reason})`;
    const extra = step.outOfOrder ? ", out of order" : "";
    lines.push("");
    lines.push(
      `${
        step.file ?? `${step.version}_${step.name} (no ${step.direction} file: version moves, nothing runs)`
      }  ${step.direction}, ${how}${extra}`,
    );
    if (step.file !== undefined && step.statements.length === 0) {
      lines.push("       empty: no statements; the version moves without running anything");
    }
    step.statements.forEach((s, i) => {
      const [first, ...more] = s.sql.split("\n");
      lines.push(`  ${String(i + 1).padStart(3)}  line ${String(s.line).padEnd(5)} ${first}`);
      for (const line of more) lines.push(`                   ${line}`);
    });
  }
  if (plan.short > 0) lines.push("", `limit ${plan.short} short`);
  return lines.join("\n") + "\n";
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const format = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [format(header), ...rows.map(format)];
}

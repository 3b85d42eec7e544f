/**
 * The schema commands: `snapshot`, `diff`, `check`, `verify` and `erd`. Loaded by run_cli.ts
 * only when one of them runs, so the migration commands start without the schema code.
 *
 * Output follows the rest of the CLI: the product (a snapshot, a diff, a diagram) on stdout,
 * messages on stderr, one JSON document on stdout with -json. Exit codes: 0 done (`diff`:
 * no differences; `check`: no drift; `verify`: every down restores the schema), 1 failed or
 * different, 2 usage error.
 */
import { readFile, stat } from "node:fs/promises";
import { resolve as resolvePath } from "node:path";
import type { Database } from "../db/database.ts";
import { type DatabaseUrl, maskUrl, parseDatabaseUrl, POSTGRES_SCHEMES } from "../db/database_url.ts";
import { StrataError } from "../db/strata_error.ts";
import { directorySource } from "../io/directory_source.ts";
import { writeAtomically } from "../io/write_atomically.ts";
import { openDatabase } from "../io/open_database.ts";
import { historyTableFor } from "../migrate/history.ts";
import { loadMigrationSet } from "../migrate/migration_set.ts";
import { parseTableName, resolveTable, type TableName } from "../migrate/version_table.ts";
import { diffSnapshots, formatDiff, type SchemaDiff } from "../schema/diff_snapshots.ts";
import { diffToScript } from "../schema/diff_to_script.ts";
import { diffToSql } from "../schema/diff_to_sql.ts";
import { snapshotToMermaid } from "../schema/erd.ts";
import { snapshotToJson, snapshotToSql } from "../schema/format_snapshot.ts";
import { snapshotSchema, type TableRef } from "../schema/snapshot_schema.ts";
import type { SchemaSnapshot } from "../schema/snapshot_types.ts";
import type { VerifyReport, VerifyStep } from "../schema/verify_migrations.ts";
import { booleanFlag, type ParsedArgs, parseWholeNumber, stringFlag, stringsFlag } from "./flags.ts";
import { parseTrackSpec, type TrackSpec } from "./track_spec.ts";
import {
  databaseFlag,
  databaseNote,
  databaseUrlOperand,
  databaseWord as databaseShellWord,
  lockTimeoutMs,
  openCommandDatabase,
  shellWord,
  strataCommand,
  trackCommand,
  warnIgnoredParameters,
} from "./database_flag.ts";
import { toJson } from "./json.ts";
import type { CliIo } from "./run_cli.ts";

type Mode = { json: boolean; verbose: boolean };

/**
 * Runs one schema command and returns its exit code; errors are thrown for run_cli.ts to
 * report (USAGE exits 2).
 *
 * @param path The migrations folder (-path / -source), for `check` and `verify`.
 * @throws {StrataError} USAGE for a bad operand or flag value; whatever opening, reading or
 * replaying throws (CONNECTION_FAILED, SOURCE_NOT_FOUND, MIGRATION_FAILED, ...).
 * @example
 * ```ts ignore
 * import { parseArgs } from "./flags.ts";
 * import { runSchemaCommand } from "./schema_commands.ts";
 * const args = parseArgs(["snapshot", "-database", "pglite://memory"], { database: "string" });
 * await runSchemaCommand("snapshot", [], args, io, "migrations");
 * ```
 */
export async function runSchemaCommand(
  command: string,
  rest: string[],
  args: ParsedArgs,
  io: CliIo,
  path: string,
): Promise<number> {
  const ctx: Context = {
    args,
    io,
    path,
    mode: { json: booleanFlag(args, "json"), verbose: booleanFlag(args, "verbose") },
    deadline: Date.now() + lockTimeoutMs(args),
  };
  switch (command) {
    case "snapshot":
      tooMany(command, rest, 0);
      return await runSnapshot(ctx);
    case "diff":
      return await runDiff(ctx, rest);
    case "check":
      tooMany(command, rest, 0);
      return await runCheck(ctx);
    case "verify":
      tooMany(command, rest, 0);
      return await runVerify(ctx);
    case "erd":
      tooMany(command, rest, 1);
      return await runErd(ctx, rest[0]);
  }
  throw new StrataError("USAGE", `Unknown command: ${command}`);
}

interface Context {
  args: ParsedArgs;
  io: CliIo;
  path: string;
  mode: Mode;
  deadline: number;
}

// ---------------------------------------------------------------- snapshot

async function runSnapshot(ctx: Context): Promise<number> {
  const out = stringFlag(ctx.args, "out");
  const format = snapshotFormat(stringFlag(ctx.args, "format"), out);
  const { snapshot, label } = await liveSnapshot(ctx);
  const text = format === "sql" ? snapshotToSql(snapshot) : snapshotToJson(snapshot);
  if (out !== undefined) await writeAtomically(resolvePath(ctx.io.cwd, out), text);
  if (ctx.mode.json) {
    ctx.io.stdout(
      toJson({
        command: "snapshot",
        database: label,
        format,
        out: out ?? null,
        bytes: new TextEncoder().encode(text).length,
        objects: countObjects(snapshot),
        ...(out !== undefined ? {} : format === "json" ? { snapshot } : { sql: text }),
      }) + "\n",
    );
  } else if (out !== undefined) {
    ctx.io.stderr(`Wrote ${out}: schema of ${label} (${describeCounts(snapshot)})\n`);
  } else {
    ctx.io.stdout(text);
  }
  return 0;
}

function snapshotFormat(value: string | undefined, out: string | undefined): "json" | "sql" {
  if (value === undefined) return out !== undefined && /\.sql$/i.test(out) ? "sql" : "json";
  if (value !== "json" && value !== "sql") {
    throw new StrataError("USAGE", `-format for snapshot must be json or sql, got ${JSON.stringify(value)}`);
  }
  return value;
}

// ---------------------------------------------------------------- diff

/** One side of a diff: a database, a snapshot file or a migrations folder. */
type Operand =
  | { kind: "database"; text: string; url: DatabaseUrl; label: string }
  | { kind: "file"; path: string; label: string }
  | { kind: "folder"; path: string; label: string };

const OPERAND_FORMS =
  "a database URL (postgres://..., postgresql://..., pglite://DIR, pglite://memory), a snapshot file written by 'strata snapshot', or a migrations folder";

async function runDiff(ctx: Context, rest: string[]): Promise<number> {
  if (rest.length !== 2) {
    throw new StrataError(
      "USAGE",
      rest.length < 2
        ? `diff needs two operands, A and B: strata diff A B [-sql]; each is ${OPERAND_FORMS}`
        : `Too many arguments for diff: ${rest.slice(2).join(" ")}`,
    );
  }
  const [a, b] = [await classifyOperand(rest[0], ctx.io.cwd), await classifyOperand(rest[1], ctx.io.cwd)];
  const near = scratchNear(ctx, [a, b]);
  // A folder replays with the database operand's version table, so a table in its own
  // schema (x-migrations-table="migrations"."app") leaves that schema on both sides.
  const database = [a, b].find((o) => o.kind === "database");
  const table = database ? parseTableName(database.url.migrationsTable, database.url.migrationsTableQuoted) : undefined;
  const from = await loadOperand(ctx, a, near, table);
  const to = await loadOperand(ctx, b, near, table);
  // A folder replayed on PGlite gets PGlite's extension versions, not the migrations': against
  // a server's snapshot file they would differ though the folder is the same.
  const unversioned = near === undefined && (a.kind === "folder") !== (b.kind === "folder")
    ? alignExtensionVersions(a.kind === "folder" ? from : to, a.kind === "folder" ? to : from)
    : [];
  if (unversioned.length > 0 && !ctx.mode.json) {
    ctx.io.stderr(
      `note: extension versions not compared (${unversioned.join(", ")}): the folder was replayed on the ` +
        "embedded PGlite, whose versions are its own; pass -database with a server to replay it there\n",
    );
  }
  const diff = diffSnapshots(from, to);
  const withSql = booleanFlag(ctx.args, "sql");
  const sql = withSql ? diffToSql(diff) : undefined;
  if (ctx.mode.json) {
    ctx.io.stdout(
      toJson({
        command: "diff",
        from: a.label,
        to: b.label,
        differences: diff.changes.length > 0,
        changes: diff.changes,
        ...(unversioned.length > 0 ? { extensionVersionsNotCompared: unversioned } : {}),
        ...(sql ? { sql, script: diffToScript(diff) } : {}),
      }) + "\n",
    );
  } else if (diff.changes.length === 0) {
    ctx.io.stderr(`no differences: ${a.label} and ${b.label} have the same schema\n`);
  } else if (sql) {
    ctx.io.stderr(`${summary(diff)} from ${a.label} to ${b.label}; review before running\n`);
    ctx.io.stdout(`-- strata diff: the statements that turn ${a.label} into ${b.label}\n${diffToScript(diff)}`);
  } else {
    ctx.io.stdout(`--- ${a.label}\n+++ ${b.label}\n${formatDiff(diff)}`);
  }
  return diff.changes.length === 0 ? 0 : 1;
}

/**
 * Gives the replayed snapshot's extensions the other's version where only that differs, and
 * names them (`citext 1.8 here, 1.6 there`).
 */
function alignExtensionVersions(replayed: SchemaSnapshot, other: SchemaSnapshot): string[] {
  const versions = new Map(other.objects.extensions.map((e) => [`${e.schema}.${e.name}`, e.version]));
  const named: string[] = [];
  for (const extension of replayed.objects.extensions) {
    const version = versions.get(`${extension.schema}.${extension.name}`);
    if (version === undefined || version === extension.version) continue;
    named.push(`${extension.name} ${extension.version} replayed, ${version} in the snapshot`);
    extension.version = version;
  }
  return named;
}

/**
 * Tells the three forms apart: a URL scheme, then what exists on disk. Checked before
 * anything is opened, so a typo fails at once with exit 2.
 */
async function classifyOperand(text: string, cwd: string): Promise<Operand> {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(text)?.[1]?.toLowerCase();
  if (scheme !== undefined && (POSTGRES_SCHEMES.has(scheme) || scheme === "pglite")) {
    const url = parseDatabaseUrl(text);
    return { kind: "database", text, url, label: url.label };
  }
  const mistaken = databaseUrlOperand(text);
  if (mistaken !== undefined) {
    // postgres:/... : a path to resolve would hide the password from masking.
    throw new StrataError("USAGE", `${mistaken} looks like a database URL with one "/" after its scheme`, {
      hint: `Write it with "//" (postgres://...). Each operand is ${OPERAND_FORMS}`,
    });
  }
  const fileUrl = scheme === "file";
  if (scheme !== undefined && !fileUrl) {
    throw new StrataError("USAGE", `Cannot compare ${maskUrl(text)}: unsupported scheme ${scheme}://`, {
      hint: `Each operand is ${OPERAND_FORMS}`,
    });
  }
  const path = resolvePath(cwd, fileUrl ? decodeURIComponent(text.slice("file://".length)) : text);
  const info = await stat(path).catch(() => undefined);
  if (info?.isDirectory()) return { kind: "folder", path, label: text.endsWith("/") ? text : `${text}/` };
  if (info?.isFile() && !fileUrl) return { kind: "file", path, label: text };
  throw new StrataError(
    "USAGE",
    `${text} is not a database URL, a snapshot file or a migrations folder${info ? "" : ": no such file or folder"}`,
    { hint: `Each operand is ${OPERAND_FORMS}` },
  );
}

/** Where a folder is replayed: beside -database, else beside a postgres operand, else PGlite. */
function scratchNear(ctx: Context, operands: Operand[]): DatabaseUrl | undefined {
  if (!operands.some((o) => o.kind === "folder")) return undefined;
  const raw = databaseFlag(ctx.args, ctx.io.env);
  if (raw !== undefined) {
    const url = parseDatabaseUrl(raw);
    if (url.kind === "postgres") return url;
  }
  for (const operand of operands) {
    if (operand.kind === "database" && operand.url.kind === "postgres") return operand.url;
  }
  return undefined;
}

async function loadOperand(
  ctx: Context,
  operand: Operand,
  near: DatabaseUrl | undefined,
  versionTable?: TableName,
): Promise<SchemaSnapshot> {
  switch (operand.kind) {
    case "database": {
      const { db, url } = await openDatabase(operand.text, { deadline: ctx.deadline, cwd: ctx.io.cwd });
      warnIgnoredParameters(url, ctx.io);
      try {
        return await snapshotOf(db, url);
      } finally {
        await db.close();
      }
    }
    case "file":
      return await readSnapshotFile(operand.path, operand.label);
    case "folder":
      return await replayFolder(ctx, operand.path, near, versionTable);
  }
}

async function replayFolder(
  ctx: Context,
  path: string,
  near: DatabaseUrl | undefined,
  versionTable?: TableName,
): Promise<SchemaSnapshot> {
  const source = directorySource(path);
  const [{ withScratchDatabase }, { replayMigrations }] = await scratchModules();
  return await withScratchDatabase(near, async ({ db, description }) => {
    if (ctx.mode.verbose) ctx.io.stderr(`replaying ${source.label} on ${maskUrl(description)}\n`);
    return await replayMigrations(db, source, versionTable ? { versionTable } : {});
  }, { extensions: await extensionsIn(path) });
}

async function readSnapshotFile(path: string, label: string): Promise<SchemaSnapshot> {
  const text = await readFile(path, "utf8");
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const sqlFile = /^\s*(--|SET |CREATE )/i.test(text);
    throw new StrataError(
      "USAGE",
      `${label} is not a strata snapshot: ${sqlFile ? "it is SQL, not JSON" : (error as Error).message}`,
      {
        hint: sqlFile
          ? "Compare the JSON form: strata snapshot -out schema.json (-format sql is for reading, not comparing)"
          : `Each operand is ${OPERAND_FORMS}`,
      },
    );
  }
  const snapshot = parsed as Partial<SchemaSnapshot> | null;
  if (snapshot === null || typeof snapshot !== "object" || typeof snapshot.objects !== "object") {
    throw new StrataError("USAGE", `${label} is not a strata snapshot: it has no "objects"`, {
      hint: `Each operand is ${OPERAND_FORMS}`,
    });
  }
  if (snapshot.format !== 1) {
    throw new StrataError(
      "USAGE",
      `${label} is a snapshot in format ${JSON.stringify(snapshot.format)}; this strata reads format 1`,
      { hint: "Take the snapshot again with this version of strata" },
    );
  }
  return snapshot as SchemaSnapshot;
}

// ---------------------------------------------------------------- check

async function runCheck(ctx: Context): Promise<number> {
  const specs = stringsFlag(ctx.args, "track").map((value) => parseTrackSpec(value, ctx.io.env));
  if (specs.length > 0) return await runCheckTracks(ctx, specs);
  const source = directorySource(resolvePath(ctx.io.cwd, ctx.path));
  const [{ withScratchDatabase }, { checkDrift }] = await scratchModules();
  return await withLive(ctx, async (live, url) => {
    const near = url.kind === "postgres" ? url : undefined;
    const table = parseTableName(url.migrationsTable, url.migrationsTableQuoted);
    const report = await withScratchDatabase(near, async ({ db: scratch, description }) => {
      if (ctx.mode.verbose) ctx.io.stderr(`replaying ${source.label} on ${maskUrl(description)}\n`);
      return await checkDrift(live, scratch, source, { versionTable: table });
    }, { extensions: await extensionsIn(resolvePath(ctx.io.cwd, ctx.path)) });
    const set = await loadMigrationSet(source);
    const version = report.version;
    const applied = version === null ? 0 : set.migrations.filter((m) => m.version <= version).length;
    const at = version === null ? "no version" : `version ${version}`;
    const what = `${applied} applied migration${applied === 1 ? "" : "s"} (${at})`;
    if (ctx.mode.json) {
      ctx.io.stdout(
        toJson({
          command: "check",
          database: url.label,
          source: source.label,
          version,
          applied,
          drifted: report.drifted,
          changes: report.diff.changes,
          warnings: report.warnings,
        }) + "\n",
      );
      return report.drifted ? 1 : 0;
    }
    for (const warning of report.warnings) ctx.io.stderr(`warning: ${warning}\n`);
    if (!report.drifted) {
      ctx.io.stdout(`no drift: ${url.label} matches its ${what}\n`);
      return 0;
    }
    ctx.io.stdout(
      `drift: ${url.label} differs from the schema its ${what} produce\n` +
        `--- expected (${source.label}, replayed)\n+++ live (${url.label})\n${formatDiff(report.diff)}`,
    );
    const db = databaseWord(ctx);
    const path = shellWord(ctx.path);
    const again = (command: string) => strataCommand(ctx.args, ctx.io.env, command);
    ctx.io.stderr(
      `hint: keep the change: write a migration that makes it (${again("create NAME")}); its statements:\n` +
        `  strata diff ${path} ${db} -sql\n` +
        `  then record it as applied here, where the change already is: ${again("force N")} (N: its version)\n` +
        `hint: drop the change: revert it by hand; the statements that do:\n` +
        `  strata diff ${db} ${path} -sql\n`,
    );
    const note = databaseNote(ctx.args, ctx.io.env);
    if (note) ctx.io.stderr(`hint: ${note}\n`);
    const pending = set.migrations.length - applied;
    if (pending > 0) {
      ctx.io.stderr(
        `hint: those diffs replay all ${set.migrations.length} migrations in ${source.label}; ${pending} ${
          pending === 1 ? "is" : "are"
        } not applied here, so their changes show too\n`,
      );
    }
    return 1;
  });
}

/**
 * `check -track NAME:DIR[:TABLE] ...`: a database several tracks migrated, each track's
 * applied files replayed in order on one scratch database.
 */
async function runCheckTracks(ctx: Context, specs: TrackSpec[]): Promise<number> {
  const tracks = trackSources(ctx, specs);
  const [{ withScratchDatabase }, { checkTracksDrift }] = await scratchModules();
  const extensions = await trackExtensions(ctx, tracks);
  return await withLive(ctx, async (live, url) => {
    const near = url.kind === "postgres" ? url : undefined;
    const report = await withScratchDatabase(near, async ({ db: scratch, description }) => {
      if (ctx.mode.verbose) {
        ctx.io.stderr(
          `replaying ${tracks.map((t) => `${t.name}=${t.source.label}`).join(", ")} on ${maskUrl(description)}\n`,
        );
      }
      return await checkTracksDrift(
        live,
        scratch,
        tracks.map((t) => ({ name: t.name, source: t.source, versionTable: t.spec.table })),
      );
    }, { extensions });
    const applied = await Promise.all(tracks.map(async (t, i) => {
      const { version } = report.tracks[i];
      const set = await loadMigrationSet(t.source);
      return version === null ? 0 : set.migrations.filter((m) => m.version <= version).length;
    }));
    const warnings = report.tracks.flatMap((t) => t.warnings.map((w) => `${w} (track ${t.name})`));
    if (ctx.mode.json) {
      ctx.io.stdout(
        toJson({
          command: "check",
          database: url.label,
          tracks: [
            ...report.tracks.map((t, i) => ({
              name: t.name,
              source: tracks[i].source.label,
              version: t.version,
              applied: applied[i],
            })),
            ...skippedTracks(specs),
          ],
          drifted: report.drifted,
          changes: report.diff.changes,
          warnings,
        }) + "\n",
      );
      return report.drifted ? 1 : 0;
    }
    for (const warning of warnings) ctx.io.stderr(`warning: ${warning}\n`);
    const what = report.tracks.map((t, i) =>
      `${t.name}: ${applied[i]} applied (${t.version === null ? "no version" : `version ${t.version}`})`
    ).join("; ");
    if (!report.drifted) {
      ctx.io.stdout(`no drift: ${url.label} matches its tracks' applied migrations (${what})\n`);
      return 0;
    }
    ctx.io.stdout(
      `drift: ${url.label} differs from the schema its tracks' applied migrations produce (${what})\n` +
        `--- expected (${tracks.map((t) => `${t.name}: ${t.source.label}`).join(", ")}, replayed)\n` +
        `+++ live (${url.label})\n${formatDiff(report.diff)}`,
    );
    ctx.io.stderr(
      "hint: keep the change: write a migration that makes it in the folder of the track it belongs to, then record " +
        "it as applied here, where the change already is, with that track's folder and table:\n" +
        tracks.map((t) =>
          `  ${trackCommand(ctx.args, ctx.io.env, t.spec, "force N")}   (track ${t.name}; N: its version)\n`
        )
          .join("") +
        "hint: drop the change: revert it by hand\n",
    );
    for (const { name, skipped } of skippedTracks(specs)) {
      ctx.io.stderr(
        `hint: track ${name} was skipped (${skipped}): what its migrations made shows above as added; ` +
          "give it its folder to check it too\n",
      );
    }
    const note = databaseNote(ctx.args, ctx.io.env);
    if (note) ctx.io.stderr(`hint: ${note}\n`);
    return 1;
  });
}

// ---------------------------------------------------------------- verify

async function runVerify(ctx: Context): Promise<number> {
  const specs = stringsFlag(ctx.args, "track").map((value) => parseTrackSpec(value, ctx.io.env));
  if (specs.length > 0) return await runVerifyTracks(ctx, specs);
  const source = directorySource(resolvePath(ctx.io.cwd, ctx.path));
  const raw = databaseFlag(ctx.args, ctx.io.env);
  const url = raw === undefined ? undefined : parseDatabaseUrl(raw);
  const near = url?.kind === "postgres" ? url : undefined;
  const table = url ? parseTableName(url.migrationsTable, url.migrationsTableQuoted) : undefined;
  const [{ withScratchDatabase }, { verifyMigrations, formatVerifyReport }] = await scratchModules();
  let streamed = "";
  const report = await withScratchDatabase(near, async ({ db, description }) => {
    if (!ctx.mode.json) {
      ctx.io.stderr(
        `verify: up, down, up again for each migration in ${source.label}, on ${
          maskUrl(description)
        } (never on the live database)\n`,
      );
    }
    return await verifyMigrations(db, source, {
      ...(table ? { versionTable: table } : {}),
      requireDown: booleanFlag(ctx.args, "require-down"),
      ...(ctx.mode.json ? {} : {
        onStep: (step: VerifyStep) => {
          // The report's own lines for this step, as they come (its last line is the summary).
          const lines = formatVerifyReport({ ok: true, steps: [step], notChecked: [] }).split("\n").slice(0, -2);
          const text = lines.map((line) => `${line}\n`).join("");
          streamed += text;
          ctx.io.stdout(text);
        },
      }),
    });
  }, { extensions: await extensionsIn(resolvePath(ctx.io.cwd, ctx.path)) });
  if (ctx.mode.json) {
    ctx.io.stdout(
      toJson({
        command: "verify",
        source: source.label,
        ok: report.ok,
        steps: report.steps,
        notChecked: report.notChecked,
      }) + "\n",
    );
  } else {
    const text = formatVerifyReport(report);
    ctx.io.stdout(text.startsWith(streamed) ? text.slice(streamed.length) : text);
  }
  return report.ok ? 0 : 1;
}

/**
 * `verify -track NAME:DIR[:TABLE] ...`: each track verified in order on one scratch database,
 * each ending applied for the next.
 */
async function runVerifyTracks(ctx: Context, specs: TrackSpec[]): Promise<number> {
  const tracks = trackSources(ctx, specs);
  const raw = databaseFlag(ctx.args, ctx.io.env);
  const url = raw === undefined ? undefined : parseDatabaseUrl(raw);
  const near = url?.kind === "postgres" ? url : undefined;
  const [{ withScratchDatabase }, { verifyTracks, formatVerifyReport }] = await scratchModules();
  // Each track's header once, before its first line; the lines each track streamed.
  const streamed = new Map<string, string>();
  const header = (name: string, label: string) => {
    if (streamed.has(name)) return;
    streamed.set(name, "");
    ctx.io.stdout(`track ${name} (${label})\n`);
  };
  const report = await withScratchDatabase(near, async ({ db, description }) => {
    if (!ctx.mode.json) {
      ctx.io.stderr(
        `verify: up, down, up again for each migration of each track in order (${
          tracks.map((t) => t.name).join(", ")
        }), on ${maskUrl(description)} (never on the live database)\n`,
      );
    }
    return await verifyTracks(db, tracks.map((t) => ({ name: t.name, source: t.source, versionTable: t.spec.table })), {
      requireDown: booleanFlag(ctx.args, "require-down"),
      ...(ctx.mode.json ? {} : {
        onStep: (track: string, step: VerifyStep) => {
          header(track, tracks.find((t) => t.name === track)!.source.label);
          const lines = formatVerifyReport({ ok: true, steps: [step], notChecked: [] }).split("\n").slice(0, -2);
          const text = lines.map((line) => `  ${line}\n`).join("");
          streamed.set(track, (streamed.get(track) ?? "") + text);
          ctx.io.stdout(text);
        },
        // The rest of a track's report (its summary) before the next track's lines.
        onTrack: (track: string, report: VerifyReport) => {
          header(track, tracks.find((t) => t.name === track)!.source.label);
          const text = formatVerifyReport(report).split("\n").filter((line) => line !== "")
            .map((line) => `  ${line}\n`).join("");
          const already = streamed.get(track) ?? "";
          ctx.io.stdout(text.startsWith(already) ? text.slice(already.length) : text);
        },
      }),
    });
  }, { extensions: await trackExtensions(ctx, tracks) });
  if (ctx.mode.json) {
    ctx.io.stdout(
      toJson({
        command: "verify",
        ok: report.ok,
        tracks: [
          ...report.tracks.map((t, i) => ({
            name: t.name,
            source: tracks[i].source.label,
            ...(t.report
              ? { ok: t.report.ok, steps: t.report.steps, notChecked: t.report.notChecked }
              : { ok: false, checked: false }),
          })),
          ...skippedTracks(specs),
        ],
      }) + "\n",
    );
    return report.ok ? 0 : 1;
  }
  for (const [i, t] of report.tracks.entries()) {
    if (t.report) continue;
    header(t.name, tracks[i].source.label);
    ctx.io.stdout("  Not checked: an earlier track failed\n");
  }
  return report.ok ? 0 : 1;
}

/** The tracks that run (a skipped one is said on stderr), each with its folder as a source. */
function trackSources(ctx: Context, specs: TrackSpec[]) {
  if (stringFlag(ctx.args, "path") !== undefined || stringFlag(ctx.args, "source") !== undefined) {
    throw new StrataError("USAGE", "Use -track or -path, not both: each track names its own folder");
  }
  const tracks = specs.flatMap((spec) => {
    if (spec.dir !== undefined) {
      return [{ name: spec.name, dir: spec.dir, source: directorySource(resolvePath(ctx.io.cwd, spec.dir)), spec }];
    }
    if (!ctx.mode.json) ctx.io.stderr(`warning: track ${spec.name} skipped: ${spec.skipReason}\n`);
    return [];
  });
  if (tracks.length === 0) throw new StrataError("USAGE", "Every -track was skipped: there is nothing to check");
  return tracks;
}

/** The tracks that were skipped (an empty variable), for -json. */
function skippedTracks(specs: TrackSpec[]): Array<{ name: string; skipped: string }> {
  return specs.filter((spec) => spec.dir === undefined).map((spec) => ({
    name: spec.name,
    skipped: spec.skipReason ?? "skipped",
  }));
}

/** The extensions the tracks' migrations create, for a PGlite scratch database. */
async function trackExtensions(ctx: Context, tracks: ReadonlyArray<{ dir: string }>): Promise<string[]> {
  const all = await Promise.all(tracks.map((t) => extensionsIn(resolvePath(ctx.io.cwd, t.dir))));
  return [...new Set(all.flat())];
}

// ---------------------------------------------------------------- erd

async function runErd(ctx: Context, operand: string | undefined): Promise<number> {
  const out = stringFlag(ctx.args, "out");
  let snapshot: SchemaSnapshot;
  let label: string;
  if (operand === undefined) {
    ({ snapshot, label } = await liveSnapshot(ctx));
  } else {
    const parsed = await classifyOperand(operand, ctx.io.cwd);
    snapshot = await loadOperand(ctx, parsed, scratchNear(ctx, [parsed]));
    label = parsed.label;
  }
  const mermaid = snapshotToMermaid(snapshot, { compact: booleanFlag(ctx.args, "compact") });
  const markdown = out !== undefined && /\.(md|markdown)$/i.test(out);
  const text = markdown ? "```mermaid\n" + mermaid + "```\n" : mermaid;
  if (out !== undefined) await writeAtomically(resolvePath(ctx.io.cwd, out), text);
  if (ctx.mode.json) {
    ctx.io.stdout(
      toJson({
        command: "erd",
        schema: label,
        out: out ?? null,
        tables: snapshot.objects.tables.filter((t) => !t.partitionOf).length,
        mermaid,
      }) + "\n",
    );
  } else if (out !== undefined) {
    ctx.io.stderr(`Wrote ${out}: diagram of ${label} (${snapshot.objects.tables.length} tables)\n`);
  } else {
    ctx.io.stdout(text);
  }
  return 0;
}

// ---------------------------------------------------------------- shared

/** Loaded on demand: snapshot and diff of two databases need neither. */
function scratchModules() {
  return Promise.all([import("../io/scratch_database.ts"), import("../schema/verify_migrations.ts")]);
}

/** Opens -database (or $DATABASE_URL, or the embedded default), runs `fn`, closes it. */
async function withLive<T>(ctx: Context, fn: (db: Database, url: DatabaseUrl) => Promise<T>): Promise<T> {
  const { db, url } = await openCommandDatabase(ctx.args, ctx.io, { deadline: ctx.deadline, folders: [ctx.path] });
  try {
    if (ctx.mode.verbose) ctx.io.stderr(`database: ${url.label}\n`);
    return await fn(db, url);
  } finally {
    await db.close();
  }
}

/** The snapshot of -database (or $DATABASE_URL, or the embedded default) and its label. */
async function liveSnapshot(ctx: Context): Promise<{ snapshot: SchemaSnapshot; label: string }> {
  return await withLive(ctx, async (db, url) => ({ snapshot: await snapshotOf(db, url), label: url.label }));
}

/** A snapshot without the URL's version table and its history sibling (custom names included). */
async function snapshotOf(db: Database, url: DatabaseUrl): Promise<SchemaSnapshot> {
  const exclude: TableRef[] = [];
  const name: TableName = parseTableName(url.migrationsTable, url.migrationsTableQuoted);
  const table = await resolveTable(db, name).catch(() => undefined);
  if (table) {
    exclude.push({ schema: table.schema, table: table.table });
    const history = historyTableFor(table);
    exclude.push({ schema: history.schema, table: history.table });
  }
  return await snapshotSchema(db, { exclude });
}

function summary(diff: SchemaDiff): string {
  const n = diff.changes.length;
  return `${n} change${n === 1 ? "" : "s"}`;
}

const KIND_LABELS: Array<[keyof SchemaSnapshot["objects"], string]> = [
  ["schemas", "schema"],
  ["extensions", "extension"],
  ["enums", "enum"],
  ["domains", "domain"],
  ["composites", "composite type"],
  ["ranges", "range type"],
  ["sequences", "sequence"],
  ["tables", "table"],
  ["views", "view"],
  ["materializedViews", "materialized view"],
  ["functions", "function"],
  ["indexes", "index"],
  ["triggers", "trigger"],
  ["policies", "policy"],
];

function countObjects(snapshot: SchemaSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key] of KIND_LABELS) out[key] = snapshot.objects[key]?.length ?? 0;
  return out;
}

function describeCounts(snapshot: SchemaSnapshot): string {
  const parts: string[] = [];
  for (const [key, label] of KIND_LABELS) {
    if (key === "schemas") continue;
    const n = snapshot.objects[key]?.length ?? 0;
    if (n === 0) continue;
    const plural = label === "index" ? "indexes" : label === "policy" ? "policies" : `${label}s`;
    parts.push(`${n} ${n === 1 ? label : plural}`);
  }
  return parts.length === 0 ? "no objects" : parts.join(", ");
}

function tooMany(command: string, rest: string[], max: number): void {
  if (rest.length > max) {
    throw new StrataError("USAGE", `Too many arguments for ${command}: ${rest.slice(max).join(" ")}`);
  }
}

/** -database as a shell word for a hint; a URL with a password becomes "$DATABASE_URL". */
function databaseWord(ctx: Context): string {
  return databaseShellWord(ctx.args, ctx.io.env) ?? "pglite://.strata/pglite";
}

/** The extensions a migrations folder creates, for a PGlite scratch to load. */
async function extensionsIn(folder: string): Promise<string[]> {
  return await (await import("../io/pglite_extensions.ts")).extensionsUsedIn([folder]);
}

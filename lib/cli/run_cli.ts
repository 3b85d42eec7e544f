/**
 * strata's command line: golang-migrate's verbs and flags, human output on stderr (one line
 * per migration, as golang-migrate prints), one JSON document on stdout with -json.
 * Exit codes: 0 done (including "no change"), 1 failed, 2 usage error.
 */
// Only what every command needs is imported here; each command's implementation is imported
// when that command runs (a no-op `up` never loads backup, seed, bundle or schema code).
import { stat } from "node:fs/promises";
import { dirname, resolve as resolvePath } from "node:path";
import { type Database, ScriptError, serverErrorFields } from "../db/database.ts";
import { type DatabaseUrl, maskUrl } from "../db/database_url.ts";
import { FileError, StrataError } from "../db/strata_error.ts";
import { permissionError } from "../io/deno_permission.ts";
import type { BackupFormat, BackupOptions, BackupResult } from "../io/backup.ts";
import type { SeedResult } from "../seed/seeder.ts";
import type { MigrationSource } from "../migrate/migration_source.ts";
import type { MigrationStatus } from "../migrate/migration_status.ts";
import type {
  MigrateRun,
  MigrationResult,
  Migrator,
  MigratorEvent,
  MigratorOptions,
  PlannedRun,
  PlanRequest,
} from "../migrate/migrator.ts";
import type { Track, TrackRun } from "../migrate/tracks.ts";
import { MAX_VERSION } from "../migrate/file_name.ts";
import { parseTableName, type TableName, type VersionState } from "../migrate/version_table.ts";
import {
  booleanFlag,
  closest,
  type FlagSpec,
  parseArgs,
  type ParsedArgs,
  parseWholeNumber,
  stringFlag,
  stringsFlag,
} from "./flags.ts";
import { formatDuration, formatPlan, formatStatus } from "./format_status.ts";
import {
  databaseFlag,
  databaseNote,
  databaseUrlOperand,
  databaseWord,
  lockTimeoutMs,
  openCommandDatabase,
  shellWord,
  strataCommand,
  trackCommand,
} from "./database_flag.ts";
import { toJson } from "./json.ts";
import { parseTrackSpec } from "./track_spec.ts";

/** What the CLI needs from its runtime; lib/cli/node_io.ts builds it from `process`. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Whether stdin is a terminal (prompts need one). */
  stdinIsTTY: boolean;
  /** One line from stdin, or null at end of input. */
  readLine(): Promise<string | null>;
  /** Aborted on the first SIGINT: the running migration finishes, then strata stops. */
  signal?: AbortSignal;
  /**
   * What the first SIGINT does for the command running, when it is not "finish the running
   * migration" (a backup stops pg_dump at once): set by the command, read by the adapter.
   */
  interruptNote?: string;
  /**
   * What a second SIGINT leaves, when a migration file runs on a server: set by the command
   * as each file starts (and cleared as it ends), read by the adapter.
   */
  abortNote?: string;
  /** Who and where, for the history table (e.g. `strata 0.1.0 on host, pid 42`). */
  client?: string;
  /** Whether stderr is a terminal (progress lines). */
  stderrIsTTY?: boolean;
  /**
   * Why the adapter could not set up (`.env` unreadable, Deno without --allow-read): the
   * command fails with it, after -help and -version, which need nothing.
   */
  setupError?: unknown;
}

/** strata's version, printed by -version. */
export const VERSION = "0.1.0";

export const GLOBAL_FLAGS: FlagSpec = {
  path: "string",
  source: "string",
  database: "string",
  "lock-timeout": "string",
  "lock-name": "string",
  prefetch: "string",
  verbose: "boolean",
  json: "boolean",
  help: "boolean",
  h: "boolean",
  version: "boolean",
};

export const COMMAND_FLAGS: Record<string, FlagSpec> = {
  create: { ext: "string", dir: "string", seq: "boolean", digits: "string", format: "string", tz: "string" },
  up: { "dry-run": "boolean", "allow-changed": "boolean", "allow-out-of-order": "boolean", track: "strings" },
  down: { all: "boolean", "dry-run": "boolean" },
  goto: { "dry-run": "boolean" },
  force: {},
  version: {},
  drop: { f: "boolean" },
  status: { "exit-code": "boolean", track: "strings" },
  validate: { track: "strings" },
  bundle: { out: "string", seeds: "string" },
  seed: { seeds: "string", env: "string", "batch-size": "string" },
  backup: { format: "string", out: "string", keep: "string", jobs: "string" },
  restore: { yes: "boolean", clean: "boolean", replace: "boolean" },
  deploy: { format: "string", out: "string", keep: "string", jobs: "string", "restore-on-failure": "boolean" },
  snapshot: { out: "string", format: "string" },
  diff: { sql: "boolean" },
  check: { track: "strings" },
  verify: { "require-down": "boolean", track: "strings" },
  erd: { out: "string", compact: "boolean" },
};

const ALL_FLAGS: FlagSpec = Object.assign({}, GLOBAL_FLAGS, ...Object.values(COMMAND_FLAGS));

/** The usage text. */
export const USAGE =
  `Usage: strata [-path DIR | -source file://DIR] [-database URL] [-lock-timeout SECONDS] [-lock-name NAME] [-verbose] [-json] COMMAND [ARGS]

Commands:
  create [-ext sql] [-dir DIR] [-seq] [-digits 6] [-format LAYOUT] [-tz TZ] NAME
                   Create a pair of empty up/down files (timestamp version, or -seq)
  up [N] [-dry-run] [-allow-changed] [-allow-out-of-order] [-track NAME:DIR[:TABLE] ...]
                   Apply all pending migrations, or the next N
  down [N] [-dry-run]  Revert the last N migrations; without N, all of them (asks [y/N])
  down -all        Revert all migrations without asking
  goto V [-dry-run]  Migrate up or down to version V
  force V          Set the version to V (-1: none) without running anything; clears dirty
  version          Print the current version
  status [-exit-code] [-track ...]
                   Every migration: applied, pending, changed, out of order, missing file; a dirty database explained
  validate [-track ...]  Check files, checksums and order without migrating (exit 1 on a problem)
  drop [-f]        Drop everything in the current schema (asks [y/N] unless -f)
  bundle -out FILE [-seeds DIR]
                   Write an ES module embedding the migrations (statements split ahead of time) for edge runtimes
  seed [-seeds DIR] [-env NAME] [-batch-size N]
                   Run the seeds in DIR (default seeds/), then DIR/NAME/ (-env, else $SEED_ENV); idempotent:
                   counts inserted / updated / unchanged; data seeds go N rows a statement (default 10000)
  backup [-format custom|plain|directory] [-out DIR] [-keep N] [-jobs N]
                   pg_dump to DIR/backup_YYYYmmdd_HHMMSS_DB.EXT (mode 0600) with a .sha256 and a .json manifest
  restore FILE [-yes] [-clean | -replace]
                   Verify the checksum, then restore in one transaction; asks before writing over tables.
                   -clean drops what the backup recreates; -replace empties the current schema first
  deploy [-out DIR] [-format F] [-keep N] [-jobs N] [-restore-on-failure]
                   Under the migration lock: stop if nothing is pending, else backup, verify it, migrate up
  snapshot [-out FILE] [-format json|sql]
                   The schema of -database as deterministic JSON (or a readable schema.sql), without the version tables
  diff A B [-sql]  What differs from A to B; each is a database URL, a snapshot file or a migrations folder
                   (replayed on a scratch database); -sql prints the statements that turn A into B. Exit 1 if they differ
  check [-track ...]  Exit 1 with the diff when -database drifted from the schema its applied migrations produce
  verify [-require-down] [-track ...]
                   For each migration in -path: up, down, compare, up again, on a scratch database (beside
                   -database when it is a server, else PGlite; the live database is never changed). Exit 1 on a bad down
  erd [A] [-out FILE] [-compact]
                   A Mermaid erDiagram of -database (or of A, as in diff); -out x.md wraps it in a mermaid block

Flags (one or two dashes; -flag value or -flag=value):
  -path DIR            Migrations folder (default: migrations); -source file://DIR is the same
  -database URL        postgres://user:pass@host:5432/db?sslmode=disable (default: $DATABASE_URL;
                       none: the embedded PGlite database in .strata/pglite; pglite://DIR, pglite://memory)
                       golang-migrate's x-migrations-table, x-migrations-table-quoted,
                       x-statement-timeout and x-multi-statement parameters are honoured
  -lock-timeout N      Seconds to wait for the migration lock, counted from opening the database (default 15)
  -lock-name NAME      Take only this advisory lock id's database name (default: both golang-migrate's keys, /db and db)
  -prefetch N          Accepted for golang-migrate's scripts and ignored (strata reads the files before it runs them)
  -verbose             Say more: database, source, lock, statements per file, server notices
  -json                Print one JSON document on stdout
  -version             Print strata's version

Exit codes: 0 done (also "no change"), 1 failed, 2 usage error.`;

type Mode = { json: boolean; verbose: boolean };

/**
 * Runs one strata command and returns its exit code.
 *
 * @example
 * ```ts ignore
 * import process from "node:process";
 * import { runCli } from "./run_cli.ts";
 * import { nodeIo } from "./node_io.ts";
 * process.exitCode = await runCli(process.argv.slice(2), nodeIo());
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // Known before the flags are parsed, so that a usage error in them is JSON too.
  let json = argv.some((arg) => /^--?json(=(1|t|true|T|TRUE|True))?$/.test(arg));
  // Once known: a -json error document names its command, as a command's own document does.
  let known: string | undefined;
  try {
    const args = parseArgs(argv, ALL_FLAGS);
    json = booleanFlag(args, "json");
    if (booleanFlag(args, "help") || booleanFlag(args, "h")) {
      io.stdout(USAGE + "\n");
      return 0;
    }
    if (booleanFlag(args, "version")) {
      io.stdout(`${VERSION}\n`);
      return 0;
    }
    const [command, ...rest] = args.positionals;
    if (command === undefined) {
      io.stderr(USAGE + "\n");
      return 2;
    }
    const allowed = COMMAND_FLAGS[command];
    if (allowed === undefined) {
      const near = closest(command, Object.keys(COMMAND_FLAGS));
      throw new StrataError("USAGE", `Unknown command: ${command}`, {
        hint: `${near === undefined ? "" : `Did you mean ${near}? `}Run 'strata -help' for the list of commands`,
      });
    }
    known = command;
    for (const name of Object.keys(args.flags)) {
      if (!(name in GLOBAL_FLAGS) && !(name in allowed)) {
        throw new StrataError("USAGE", `Flag -${name} does not apply to ${command}`);
      }
    }
    for (const name of PATH_FLAGS) {
      const value = stringFlag(args, name);
      const url = value === undefined ? undefined : databaseUrlOperand(value);
      if (url !== undefined) {
        throw new StrataError("USAGE", `-${name} looks like a database URL: ${url}`, {
          hint: `-${name} takes a path; pass the database with -database (or DATABASE_URL)`,
        });
      }
    }
    if (io.setupError !== undefined) throw io.setupError;
    return await runCommand(command, rest, args, io);
  } catch (error) {
    return reportError(error, io, json, known);
  }
}

/** The flags that name a file or folder: a database URL given to one is refused before it becomes a path. */
const PATH_FLAGS = ["path", "source", "seeds", "out", "dir"];

/** The commands that read the migrations folder. */
const FOLDER_COMMANDS = new Set(["up", "down", "goto", "force", "version", "status", "validate", "deploy"]);

async function runCommand(command: string, rest: string[], args: ParsedArgs, io: CliIo): Promise<number> {
  const mode: Mode = { json: booleanFlag(args, "json"), verbose: booleanFlag(args, "verbose") };
  const path = migrationsPath(args, io);
  if (command === "create") return await runCreate(rest, args, io, path);
  if (command === "bundle") return await runBundle(rest, args, io, path, mode);
  if (["snapshot", "diff", "check", "verify", "erd"].includes(command)) {
    return await (await import("./schema_commands.ts")).runSchemaCommand(command, rest, args, io, path);
  }

  const lockTimeout = lockTimeoutMs(args);
  const argument = parseCommandArguments(command, rest, args);
  const trackSpecs = stringsFlag(args, "track").map((value) => parseTrackSpec(value, io.env));
  if (trackSpecs.length > 0 && (stringFlag(args, "path") !== undefined || stringFlag(args, "source") !== undefined)) {
    throw new StrataError("USAGE", "Use -track or -path, not both: each track names its own folder");
  }
  if (trackSpecs.length > 0 && argument.dryRun) {
    throw new StrataError("USAGE", "-dry-run does not combine with -track yet: run it per folder with -path");
  }

  const raw = databaseFlag(args, io.env);
  // `version` reads the database alone, from any folder; only a folder it is given must be there.
  if (
    trackSpecs.length === 0 && FOLDER_COMMANDS.has(command) && (command !== "version" || argument.folderGiven) &&
    (raw === undefined || /^pglite:/i.test(raw))
  ) {
    // A missing folder fails before a PGlite folder is created for nothing.
    const { directorySource } = await import("../io/directory_source.ts");
    await directorySource(resolvePath(io.cwd, path)).list();
  }

  const startedAt = Date.now();
  if (command !== "seed" && command !== "backup" && command !== "restore") {
    // Loads while the connection opens (the import below waits for this same load).
    import("../migrate/migrator.ts").catch(() => {});
  }
  // The embedded PGlite loads the extensions the migrations and seeds create, and those a
  // plain backup being restored creates (into a new folder, with no migrations beside it).
  const { db, url } = await openCommandDatabase(args, io, {
    deadline: startedAt + lockTimeout,
    folders: [path, stringFlag(args, "seeds") ?? "seeds", ...(command === "restore" ? [rest[0]] : [])],
  });
  try {
    if (mode.verbose) {
      io.stderr(
        `database: ${url.label}\nsource: ${
          trackSpecs.length ? trackSpecs.map((t) => `${t.name}=${t.dir ?? "(skipped)"}`).join(", ") : path
        }\n`,
      );
    }
    const lockName = stringFlag(args, "lock-name");
    const base: Omit<MigratorOptions, "source"> = {
      lockTimeoutMs: lockTimeout,
      startedAt,
      ...(lockName === undefined ? {} : { lockName }),
      ...(url.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: url.statementTimeoutMs }),
      ...(io.signal ? { signal: io.signal } : {}),
      ...(io.client ? { client: io.client } : {}),
      allowChanged: booleanFlag(args, "allow-changed"),
      allowOutOfOrder: booleanFlag(args, "allow-out-of-order"),
      onEvent: (event) => {
        if (db.dialect === "postgres") noteRunning(event, io);
        printEvent(event, io, mode);
      },
    };
    const { directorySource } = await import("../io/directory_source.ts");
    if (trackSpecs.length > 0) {
      const tracks: Track[] = trackSpecs.map((spec) => ({
        name: spec.name,
        source: spec.dir === undefined ? undefined : directorySource(resolvePath(io.cwd, spec.dir)),
        table: spec.table,
        ...(spec.skipReason ? { skipReason: spec.skipReason } : {}),
      }));
      const again = (name: string, cmd: string) =>
        trackCommand(args, io.env, trackSpecs.find((spec) => spec.name === name)!, cmd);
      return await runTracks(command, tracks, db, base, io, mode, argument, again);
    }
    if (command === "seed") return await runSeed(args, db, io, mode);
    if (command === "backup") return await runBackup(args, db, url, io, mode);
    const table: TableName = parseTableName(url.migrationsTable, url.migrationsTableQuoted);
    const source: MigrationSource = directorySource(resolvePath(io.cwd, path));
    const { Migrator } = await import("../migrate/migrator.ts");
    const migrator = new Migrator(db, { ...base, source, table });
    if (command === "restore") return await runRestore(rest, args, db, url, migrator, io, mode);
    const again = (cmd: string) => strataCommand(args, io.env, cmd);
    if (command === "deploy") return await runDeploy(args, db, url, migrator, io, mode, again);
    return await dispatch(command, argument, migrator, db, io, mode, again, source.label);
  } finally {
    await db.close();
  }
}

type Argument = {
  limit?: number;
  all?: boolean;
  version?: bigint;
  force?: boolean;
  dryRun?: boolean;
  exitCode?: boolean;
  /** `version`: -path or -source was given, so that folder must be there. */
  folderGiven?: boolean;
};

function parseCommandArguments(command: string, rest: string[], args: ParsedArgs): Argument {
  const extra = (max: number) => {
    if (rest.length > max) {
      throw new StrataError("USAGE", `Too many arguments for ${command}: ${rest.slice(max).join(" ")}`);
    }
  };
  const dryRun = booleanFlag(args, "dry-run");
  switch (command) {
    case "up":
      extra(1);
      // N may be 0: golang-migrate's Steps(0) is "no change", exit 0 (a script's `up $N`).
      return rest[0] === undefined ? { dryRun } : { limit: parseWholeNumber(rest[0], "N", { min: 0 }), dryRun };
    case "down": {
      extra(1);
      const all = booleanFlag(args, "all");
      if (all && rest[0] !== undefined) throw new StrataError("USAGE", "down: -all and N cannot be used together");
      return rest[0] === undefined ? { all, dryRun } : { limit: parseWholeNumber(rest[0], "N", { min: 0 }), dryRun };
    }
    case "goto":
    case "force": {
      extra(1);
      if (rest[0] === undefined) throw new StrataError("USAGE", `${command} needs a version: strata ${command} V`);
      if (!/^-?[0-9]+$/.test(rest[0])) {
        throw new StrataError("USAGE", `Version must be a whole number, got ${JSON.stringify(rest[0])}`);
      }
      const version = BigInt(rest[0]);
      if (version < (command === "force" ? -1n : 0n)) {
        throw new StrataError("USAGE", `Version must be ${command === "force" ? "-1" : "0"} or more, got ${rest[0]}`);
      }
      // The version column is a bigint: a larger V is a typo, not a server error.
      if (version > MAX_VERSION) {
        throw new StrataError(
          "USAGE",
          `Version must be at most ${MAX_VERSION} (the version column is a bigint), got ${rest[0]}`,
        );
      }
      return { version, dryRun };
    }
    case "drop":
      extra(0);
      return { force: booleanFlag(args, "f") };
    case "restore": {
      extra(1);
      if (rest[0] === undefined) {
        throw new StrataError("USAGE", "restore needs a FILE: strata restore backups/backup_....dump");
      }
      const url = databaseUrlOperand(rest[0]);
      if (url !== undefined) {
        throw new StrataError("USAGE", `restore's FILE looks like a database URL: ${url}`, {
          hint: "Pass the database to restore into with -database (or DATABASE_URL), and the backup as FILE: " +
            "strata -database URL restore backups/backup_....dump",
        });
      }
      return {};
    }
    case "status":
      extra(0);
      return { exitCode: booleanFlag(args, "exit-code") };
    case "version":
      extra(0);
      return { folderGiven: stringFlag(args, "path") !== undefined || stringFlag(args, "source") !== undefined };
    default:
      extra(0);
      return {};
  }
}

async function dispatch(
  command: string,
  argument: Argument,
  migrator: Migrator,
  db: Database,
  io: CliIo,
  mode: Mode,
  again: (cmd: string) => string,
  folder: string,
): Promise<number> {
  if (argument.dryRun) {
    const request: PlanRequest = command === "goto"
      ? { command: "goto", version: argument.version! }
      : { command: command as "up" | "down", ...(argument.limit === undefined ? {} : { limit: argument.limit }) };
    const plan = await migrator.plan(request);
    if (mode.json) io.stdout(toJson({ command, dryRun: true, database: db.label, ...planJson(plan) }) + "\n");
    else io.stdout(formatPlan(command, plan));
    return 0;
  }
  switch (command) {
    case "up": {
      const run = await migrator.up(argument);
      if (run.noChange && !run.error && run.from.version === null && !run.from.dirty) {
        // golang-migrate's up fails on a folder with no migration in it ("file does not exist"):
        // a -path naming the wrong folder must not pass a CI job as "no change".
        const status = await migrator.status();
        if (status.entries.length === 0) {
          throw new StrataError("SOURCE_NOT_FOUND", `No migration files in ${folder}`, {
            hint: "-path must name the folder holding the VERSION_NAME.up.sql files (not its parent); " +
              "'strata create NAME' makes the first one",
          });
        }
      }
      return finishRun("up", run, io, mode, db);
    }
    case "down": {
      if (argument.limit === undefined && !argument.all) {
        const confirmed = await confirm(
          io,
          "Are you sure you want to apply all down migrations? [y/N]",
          "Pass -all to revert them all without asking, or a number: down 1",
        );
        if (!confirmed) return 1;
      }
      return finishRun("down", await migrator.down(argument), io, mode, db);
    }
    case "goto":
      return finishRun("goto", await migrator.goto(argument.version!), io, mode, db);
    case "force": {
      const state = await migrator.force(argument.version!);
      if (mode.json) io.stdout(toJson({ command: "force", database: db.label, version: versionJson(state) }) + "\n");
      else if (mode.verbose) io.stderr(`version set to ${state.version ?? -1}\n`);
      // As golang-migrate, force sets any version; a typo is then only found by the next up.
      const set = argument.version === -1n ? undefined : await migrator.loadSet().catch(() => undefined);
      if (set && !set.migrations.some((m) => m.version === argument.version)) {
        io.stderr(
          `warning: no migration in ${folder} has version ${argument.version}: the database now says it is at ` +
            `${argument.version}, and up will refuse that (VERSION_MISSING) until a file has it; if it was a typo, ` +
            `force the right version\n`,
        );
      }
      return 0;
    }
    case "version": {
      // golang-migrate's CLI opens the source first: a mistyped -path fails version too (a
      // folder that is there but cannot be read as a set still lets version answer). Without
      // -path or -source, version answers from any folder (ops checking a database).
      if (argument.folderGiven) {
        await migrator.loadSet().catch((error: unknown) => {
          if (error instanceof StrataError && error.code === "SOURCE_NOT_FOUND") throw error;
        });
      }
      const state = await migrator.version();
      if (mode.json) {
        const none = state.version === null && !state.dirty;
        io.stdout(
          toJson({
            command: "version",
            database: db.label,
            version: versionJson(state),
            ...(none ? { error: { code: "NO_MIGRATION", message: "no migration" } } : {}),
          }) + "\n",
        );
        return none ? 1 : 0;
      }
      if (state.version === null && !state.dirty) throw new StrataError("NO_MIGRATION", "no migration");
      io.stdout(`${state.version ?? -1}${state.dirty ? " (dirty)" : ""}\n`);
      return 0;
    }
    case "status": {
      const status = await migrator.status();
      if (mode.json) io.stdout(toJson({ command: "status", database: db.label, ...statusJson(status, again) }) + "\n");
      else io.stdout(formatStatus(status, again));
      return argument.exitCode && !upToDate(status) ? 1 : 0;
    }
    case "validate":
      return await runValidate([{ name: "", migrator }], io, mode, db);
    case "drop": {
      if (
        !argument.force && !(await confirm(
          io,
          "Are you sure you want to drop the entire database schema? [y/N]",
          "Pass -f to drop without asking: drop -f",
        ))
      ) {
        return 1;
      }
      const dropped = await migrator.drop();
      if (mode.json) io.stdout(toJson({ command: "drop", database: db.label, dropped }) + "\n");
      else if (mode.verbose || dropped.length === 0) {
        io.stderr(
          dropped.length === 0 ? "Nothing to drop\n" : dropped.map((o) => `dropped ${o.kind} ${o.name}\n`).join(""),
        );
      }
      return 0;
    }
  }
  throw new StrataError("USAGE", `Unknown command: ${command}`);
}

async function runTracks(
  command: string,
  tracks: Track[],
  db: Database,
  base: Omit<MigratorOptions, "source">,
  io: CliIo,
  mode: Mode,
  argument: Argument,
  again: (track: string, cmd: string) => string,
): Promise<number> {
  if (command === "up") {
    const { migrateTracks } = await import("../migrate/tracks.ts");
    let runs: TrackRun[];
    try {
      runs = await migrateTracks(db, tracks, {
        ...base,
        // migrateTracks logs the warnings, with their track.
        ...(mode.json ? {} : {
          log: (line) => io.stderr(`${line}\n`),
          onEvent: (event) => event.type !== "warning" && printEvent(event, io, mode),
        }),
      });
    } catch (error) {
      if (mode.json || !(error instanceof StrataError) || error.code !== "DIRTY" || error.track === undefined) {
        throw error;
      }
      printError(error, io);
      await printTrackForce(error.track, tracks, db, base, io, again);
      return exitCodeOf(error);
    }
    const failed = runs.find((r) => r.run?.error && r.run.error.code !== "LIMIT_SHORT");
    if (mode.json) {
      io.stdout(
        toJson({
          command: "up",
          database: db.label,
          tracks: runs.map((r) => ({
            name: r.name,
            skipped: r.skipped,
            ...(r.run
              ? {
                from: versionJson(r.run.from),
                to: versionJson(r.run.to),
                noChange: r.run.noChange,
                migrations: r.run.results.map(resultJson),
                error: r.run.error ? errorJson(r.run.error) : null,
              }
              : {}),
          })),
        }) + "\n",
      );
    } else if (failed?.run?.error) {
      printError(failed.run.error, io);
      if (failed.run.to.dirty) await printTrackForce(failed.name, tracks, db, base, io, again);
    }
    return failed ? exitCodeOf(failed.run!.error) : 0;
  }
  if (command !== "status" && command !== "validate") {
    throw new StrataError("USAGE", `-track applies to up, status, validate, check and verify, not ${command}`);
  }
  const [{ Migrator }, { assertSeparateTables }] = await Promise.all([
    import("../migrate/migrator.ts"),
    import("../migrate/tracks.ts"),
  ]);
  await assertSeparateTables(db, tracks);
  const migrators = tracks.filter((t) => t.source).map((t) => ({
    name: t.name,
    migrator: new Migrator(db, { ...base, source: t.source!, ...(t.table ? { table: t.table } : {}) }),
  }));
  for (const t of tracks) {
    if (!t.source && !mode.json) io.stderr(`Skipping ${t.name} migrations: ${t.skipReason ?? "no folder"}\n`);
  }
  if (command === "validate") return await runValidate(migrators, io, mode, db);
  const statuses = [];
  for (const { name, migrator } of migrators) statuses.push({ name, status: await migrator.status() });
  if (mode.json) {
    io.stdout(
      toJson({
        command: "status",
        database: db.label,
        tracks: statuses.map(({ name, status }) => ({ name, ...statusJson(status, (c) => again(name, c)) })),
      }) + "\n",
    );
  } else {
    for (const { name, status } of statuses) {
      io.stdout(`track ${name}\n${formatStatus(status, (c) => again(name, c))}\n`);
    }
  }
  return argument.exitCode && statuses.some(({ status }) => !upToDate(status)) ? 1 : 0;
}

/**
 * After a track's dirty error: its hint says `force N`, which takes no -track; the commands
 * that act on that track alone, with its folder and version table.
 */
async function printTrackForce(
  name: string,
  tracks: Track[],
  db: Database,
  base: Omit<MigratorOptions, "source">,
  io: CliIo,
  again: (track: string, cmd: string) => string,
): Promise<void> {
  const track = tracks.find((t) => t.name === name);
  if (!track?.source) return;
  const { Migrator } = await import("../migrate/migrator.ts");
  const migrator = new Migrator(db, { ...base, source: track.source, ...(track.table ? { table: track.table } : {}) });
  const dirty = (await migrator.status()).dirty;
  if (!dirty) return;
  io.stderr(
    `hint: On the ${name} track alone: ${again(name, `force ${dirty.forceIfComplete ?? -1}`)} if the changes are ` +
      `all in place, ${again(name, `force ${dirty.forceIfUndone ?? -1}`)} if none are\n`,
  );
}

async function runValidate(
  migrators: Array<{ name: string; migrator: Migrator }>,
  io: CliIo,
  mode: Mode,
  db: Database,
): Promise<number> {
  const [{ parseSqlScript }, { describeDirty }] = await Promise.all([
    import("../migrate/sql_script.ts"),
    import("../migrate/migrator.ts"),
  ]);
  const reports = [];
  for (const { name, migrator } of migrators) {
    const problems: string[] = [];
    const set = await migrator.loadSet();
    for (const ignored of set.ignored) problems.push(`ignored file ${ignored.file}: ${ignored.reason}`);
    let parsed = 0;
    for (const m of set.migrations) {
      for (const file of [m.up, m.down]) {
        if (file === undefined) continue;
        try {
          const text = await migrator.source.read(file);
          await (migrator.source.parse ?? parseSqlScript)(text, file);
          parsed++;
        } catch (error) {
          problems.push(error instanceof Error ? error.message : String(error));
        }
      }
    }
    const status = await migrator.status();
    for (const e of status.changed) problems.push(`${e.up} changed since it was applied`);
    for (const e of status.outOfOrder) {
      problems.push(`${e.up ?? e.version} is pending below the current version ${status.version.version}`);
    }
    for (const e of status.missingFiles) {
      problems.push(`version ${e.version}${e.name ? ` (${e.name})` : ""} is applied but its file is missing`);
    }
    if (status.running) {
      problems.push(
        `a migration is running now (pid ${status.running.pid}): it holds the migration lock; wait for it to finish`,
      );
    }
    if (status.dirty) {
      problems.push(
        `the database is dirty at version ${status.dirty.version ?? -1}: ${
          status.running ? "the running migration's marker until it ends" : describeDirty(status.dirty)
        }`,
      );
    }
    reports.push({
      name,
      files: parsed,
      migrations: set.migrations.length,
      pending: status.pending.length,
      problems: problems.map((problem) => maskUrl(problem)),
    });
  }
  const ok = reports.every((r) => r.problems.length === 0);
  if (mode.json) io.stdout(toJson({ command: "validate", database: db.label, ok, tracks: reports }) + "\n");
  else {
    for (const r of reports) {
      const prefix = r.name ? `${r.name}: ` : "";
      for (const p of r.problems) io.stderr(`${prefix}problem: ${p}\n`);
      io.stderr(
        `${prefix}${
          r.problems.length === 0 ? "ok" : `${r.problems.length} problem(s)`
        }: ${r.migrations} migrations, ${r.files} files parsed, ${r.pending} pending\n`,
      );
    }
  }
  return ok ? 0 : 1;
}

function backupOptions(args: ParsedArgs, io: CliIo, mode: Mode): BackupOptions {
  const format = stringFlag(args, "format");
  if (format !== undefined && !["plain", "custom", "directory"].includes(format)) {
    throw new StrataError("USAGE", `-format must be plain, custom or directory, got ${JSON.stringify(format)}`);
  }
  const keep = stringFlag(args, "keep");
  const jobs = stringFlag(args, "jobs");
  const progress = io.stderrIsTTY && !mode.json;
  return {
    out: resolvePath(io.cwd, stringFlag(args, "out") ?? "backups"),
    cwd: io.cwd,
    ...(io.signal ? { signal: io.signal } : {}),
    ...(format === undefined ? {} : { format: format as BackupFormat }),
    ...(keep === undefined ? {} : { keep: parseWholeNumber(keep, "-keep", { min: 1 }) }),
    ...(jobs === undefined ? {} : { jobs: parseWholeNumber(jobs, "-jobs", { min: 1 }) }),
    ...(progress
      ? {
        onProgress: (bytes: number, ms: number) =>
          io.stderr(`\rpg_dump: ${(bytes / 1024 / 1024).toFixed(1)} MB written, ${(ms / 1000).toFixed(1)} s`),
      }
      : {}),
  };
}

/** A backup for -json: its migration version as a number, like every version in -json output. */
function backupJson(backup: BackupResult): Record<string, unknown> {
  const { version, dirty } = backup.migrationVersion;
  return { ...backup, migrationVersion: { version: version === null ? null : BigInt(version), dirty } };
}

async function runBackup(args: ParsedArgs, db: Database, url: DatabaseUrl, io: CliIo, mode: Mode): Promise<number> {
  const { backupDatabase, leftoverWarning } = await import("../io/backup.ts");
  io.interruptNote = db.dialect === "postgres"
    ? "stopping the backup now (pg_dump, once it runs); the partial backup is removed"
    : "the embedded database's dump runs in this process: it is discarded when it ends";
  // Not the migration text: a backup changes nothing in the database.
  io.abortNote = "during the backup: it is stopped and its partial file removed; the database was not changed";
  const backup = await backupDatabase(db, url, backupOptions(args, io, mode));
  if (mode.json) io.stdout(toJson({ command: "backup", ...backupJson(backup) }) + "\n");
  else {
    if (io.stderrIsTTY) io.stderr("\r\x1b[K");
    io.stderr(
      `Backup ${backup.path} (${backup.format}, ${backup.bytes} bytes, sha256 ${backup.sha256}) at migration version ${
        backup.migrationVersion.version ?? "none"
      }\n`,
    );
    for (const name of backup.pruned) io.stderr(`Deleted older backup ${name} (-keep ${stringFlag(args, "keep")})\n`);
    for (const leftover of backup.leftovers) {
      io.stderr(`warning: ${leftoverWarning(dirname(backup.path), leftover)}\n`);
    }
    io.stdout(`${backup.path}\n`);
  }
  return 0;
}

async function runRestore(
  rest: string[],
  args: ParsedArgs,
  db: Database,
  url: DatabaseUrl,
  migrator: Migrator,
  io: CliIo,
  mode: Mode,
): Promise<number> {
  const file = resolvePath(io.cwd, rest[0]);
  const { restoreBackup } = await import("../io/restore.ts");
  io.interruptNote = db.dialect === "postgres"
    ? "stopping the restore now; unless it was already committing, the server rolls it back"
    : "the embedded database restores in this process, in one transaction: it finishes first";
  io.abortNote = db.dialect === "postgres"
    ? "during the restore: the server rolls its transaction back unless it was already committing; " +
      "run 'strata status' to see where the database stands"
    : "during the restore, which runs in this process in one transaction: it is undone unless it had committed; " +
      "run 'strata status' to see where the database stands";
  const restore = () =>
    restoreBackup(db, url, file, {
      ...(io.signal ? { signal: io.signal } : {}),
      yes: booleanFlag(args, "yes"),
      clean: booleanFlag(args, "clean"),
      replace: booleanFlag(args, "replace"),
      ...(io.stdinIsTTY
        ? { confirm: (question: string) => confirm(io, question, "Pass -yes to restore without asking") }
        : {}),
    });
  // On a server, under the migration lock (as drop and force are): a restore replacing the
  // schema under a running `up` would leave the version table saying what is not there. The
  // embedded PGlite is one process's alone already (its folder lock).
  const result = db.dialect === "postgres" ? await restoreLocked(migrator, restore) : await restore();
  // Where the restored database stands now, in golang-migrate's terms.
  const now = await migrator.version().catch(() => undefined);
  if (mode.json) {
    io.stdout(
      toJson({ command: "restore", ...result, ...(now ? { migrationVersion: versionJson(now) } : {}) }) + "\n",
    );
  } else {
    if (!result.checked) {
      io.stderr(`warning: ${rest[0]} has no recorded checksum (not written by strata backup): it was not verified\n`);
    }
    if (result.createdRoles) {
      io.stderr(
        `note: created role(s) ${result.createdRoles.join(", ")} (NOLOGIN) that the backup names and the ` +
          "embedded database lacked\n",
      );
    }
    const emptied = result.dropped === undefined
      ? ""
      : `, after dropping the ${result.dropped} object(s) of the current schema in the same transaction`;
    if (result.sameDatabase === false && result.backupOf) {
      io.stderr(
        `note: ${rest[0]} is a backup of ${result.backupOf.database} (taken ${result.backupOf.createdAt}), ` +
          `another database than ${url.label}\n`,
      );
    }
    const at = now === undefined
      ? ""
      : now.version === null
      ? "; it has no migration applied"
      : `; it is at migration version ${now.version}${now.dirty ? " (dirty)" : ""}`;
    io.stderr(
      `Restored ${rest[0]} (${result.format}) into ${url.label}${emptied} in ${
        formatDuration(result.durationMs)
      }${at}\n`,
    );
  }
  return 0;
}

/**
 * `restore` while holding the migration lock. Where the lock cannot be keyed because the
 * version table's schema does not exist (a restore will make it), no migration can be running
 * on that table either: the restore goes ahead without it.
 */
async function restoreLocked<T>(migrator: Migrator, restore: () => Promise<T>): Promise<T> {
  let started = false;
  try {
    return await migrator.hold(() => {
      started = true;
      return restore();
    });
  } catch (error) {
    if (started || !(error instanceof StrataError && error.code === "SCHEMA_MISSING")) throw error;
    return await restore();
  }
}

async function runDeploy(
  args: ParsedArgs,
  db: Database,
  url: DatabaseUrl,
  migrator: Migrator,
  io: CliIo,
  mode: Mode,
  again: (cmd: string) => string,
): Promise<number> {
  const { deploy } = await import("../io/deploy.ts");
  io.interruptNote = "stopping: a backup running now is stopped and removed, a migration running now finishes first";
  const result = await deploy(db, url, migrator, {
    backup: backupOptions(args, io, mode),
    restoreOnFailure: booleanFlag(args, "restore-on-failure"),
    restoreCommand: (path) => again(`restore ${shellWord(path)} -yes -replace`),
    command: again,
    ...(mode.json ? {} : { log: (line: string) => io.stderr(`deploy: ${line}\n`) }),
  });
  if (mode.json) {
    io.stdout(
      toJson({
        command: "deploy",
        database: db.label,
        noChange: result.noChange,
        backup: result.backup ? backupJson(result.backup) : null,
        migrations: result.run?.results.map(resultJson) ?? [],
        to: result.run ? versionJson(result.run.to) : versionJson(result.plan.from),
        restored: result.restored,
        restoreCommand: result.restoreCommand ?? null,
        revertCommand: result.revertCommand ?? null,
        note: result.restoreCommand ? databaseNote(args, io.env) ?? null : null,
        error: result.error ? errorJson(result.error) : null,
      }) + "\n",
    );
  } else if (result.error) {
    if (result.restored) io.stderr(`error: ${maskUrl(result.error.message)}\n`);
    else printError(result.error, io);
    if (result.restoreCommand) {
      io.stderr(
        `deploy: failed at version ${result.run?.to.version ?? "none"}${
          result.run?.to.dirty ? " (dirty)" : ""
        }. The backup taken before it: ${result.backup?.path}\n`,
      );
      if (result.revertCommand) {
        io.stderr(
          `deploy: to go back to version ${
            result.plan.from.version ?? "none"
          } with the down files of what it applied:\n  ${result.revertCommand}\n`,
        );
      }
      io.stderr(
        `deploy: to put the database back as it was${
          result.revertCommand ? " instead" : ""
        } (empties the current schema and restores the backup, in one transaction):\n  ${result.restoreCommand}\n`,
      );
    }
    // A deploy that restored by itself printed no command to run.
    const note = databaseNote(args, io.env);
    if (note && result.restoreCommand) {
      io.stderr(`deploy: the commands above say "$DATABASE_URL": ${note}\n`);
    }
  }
  return result.error ? exitCodeOf(result.error) : 0;
}

async function runSeed(args: ParsedArgs, db: Database, io: CliIo, mode: Mode): Promise<number> {
  const dir = stringFlag(args, "seeds") ?? "seeds";
  const env = stringFlag(args, "env") ?? io.env.SEED_ENV;
  const batch = stringFlag(args, "batch-size");
  const [{ loadSeeds }, { runSeeds }] = await Promise.all([
    import("../io/seed_loader.ts"),
    import("../seed/seeder.ts"),
  ]);
  const files = await loadSeeds(resolvePath(io.cwd, dir), env ? { env } : {});
  const width = Math.max(0, ...files.map((f) => f.name.length));
  const tableWidth = Math.max(
    3,
    ...files.map((f) => (f.kind === "data" && typeof f.seed?.table === "string" ? f.seed.table.length : 0)),
  );
  const run = await runSeeds(db, files, {
    ...(batch === undefined ? {} : { batchSize: parseWholeNumber(batch, "-batch-size", { min: 1 }) }),
    onResult: (r) => {
      if (!mode.json && r.status === "done") io.stderr(`${formatSeedResult(r, width, tableWidth)}\n`);
    },
  });
  if (mode.json) {
    io.stdout(
      toJson({
        command: "seed",
        database: db.label,
        seeds: run.results.map((r) => ({
          ...r,
          durationMs: r.durationMs === undefined ? null : Math.round(r.durationMs * 1000) / 1000,
        })),
        error: run.error ? errorJson(run.error) : null,
      }) + "\n",
    );
  } else if (run.error) {
    printError(run.error, io);
  } else if (files.length === 0) {
    io.stderr(`No seeds in ${dir}\n`);
  }
  return run.error ? exitCodeOf(run.error) : 0;
}

/** `002_users.json  users  3 inserted, 0 updated, 0 unchanged (12.1ms)` */
function formatSeedResult(r: SeedResult, width: number, tableWidth: number): string {
  const unchanged = r.unchanged === null ? "" : `, ${r.unchanged} unchanged`;
  return `${r.file.padEnd(width)}  ${
    (r.table ?? "sql").padEnd(tableWidth)
  }  ${r.inserted} inserted, ${r.updated} updated${unchanged} (${formatDuration(r.durationMs ?? 0)})`;
}

function upToDate(status: MigrationStatus): boolean {
  return status.pending.length === 0 && status.changed.length === 0 && status.missingFiles.length === 0 &&
    !status.dirty;
}

/**
 * Asks on stderr and reads the answer from stdin, a terminal or not: as golang-migrate does,
 * `echo y | strata down` answers the question. Only y (or Y) goes ahead.
 */
async function confirm(io: CliIo, question: string, hint: string): Promise<boolean> {
  io.stderr(`${question} `);
  const line = await io.readLine();
  if (line === null) {
    io.stderr("\n");
    throw new StrataError(
      "ABORTED",
      `${question.replace(/ \[y\/N\]$/, "")} No ${
        io.stdinIsTTY ? "answer" : "terminal to ask on and no answer on stdin"
      }, so nothing was done`,
      { hint: io.stdinIsTTY ? hint : `${hint}, or answer on stdin: echo y | strata ...` },
    );
  }
  // A piped answer is not echoed: end the question's line as a terminal would.
  if (!io.stdinIsTTY) io.stderr(`${line.trim()}\n`);
  // Only y, as golang-migrate: "yes" aborts there too, and a destructive step should not
  // go ahead on an answer the tool it replaces refuses.
  if (line.trim().toLowerCase() === "y") return true;
  io.stderr("Aborted: nothing was done\n");
  return false;
}

function finishRun(command: string, run: MigrateRun, io: CliIo, mode: Mode, db: Database): number {
  if (mode.json) {
    io.stdout(
      toJson({
        command,
        database: db.label,
        from: versionJson(run.from),
        to: versionJson(run.to),
        noChange: run.noChange,
        migrations: run.results.map(resultJson),
        error: run.error ? errorJson(run.error) : null,
      }) + "\n",
    );
    return run.error ? exitCodeOf(run.error) : 0;
  }
  if (run.noChange && !run.error) io.stderr("no change\n");
  if (run.error) {
    const notRun = run.results.filter((r) => r.status === "not run").length;
    printError(run.error, io);
    if (notRun > 0) {
      io.stderr(
        `${notRun} more migration(s) of this command not run; the database ${
          run.to.version === null ? "has no migration applied" : `is at version ${run.to.version}`
        }${run.to.dirty ? " (dirty)" : ""}\n`,
      );
    }
    return exitCodeOf(run.error);
  }
  return 0;
}

/**
 * What exiting at once would leave, for the file running now on a server (whose transaction
 * the server rolls back when the connection goes). PGlite runs in this process: a second
 * signal is seen between files there, so it keeps the adapter's general words.
 */
function noteRunning(event: MigratorEvent, io: CliIo): void {
  if (event.type === "migration") delete io.abortNote;
  if (event.type !== "start" || event.result.file === undefined) return;
  const { file, transactional } = event.result;
  io.abortNote = transactional
    ? `during ${file}, which runs in a transaction: the server rolls it back, so the database ${
      event.from.version === null ? "still has no migration applied" : `stays at version ${event.from.version}`
    }`
    : `during ${file}, which runs outside a transaction: the statements it ran stay applied and version ${
      event.to ?? -1
    } stays dirty. Run 'strata status' for the way out`;
}

function printEvent(event: MigratorEvent, io: CliIo, mode: Mode): void {
  if (mode.json) return;
  switch (event.type) {
    case "lock-wait":
      io.stderr(`Waiting for the migration lock (advisory lock ${event.lockId}): another migration is running\n`);
      return;
    case "warning":
      io.stderr(`warning: ${event.message}\n`);
      return;
    case "migration": {
      const r = event.result;
      if (r.status !== "applied") return;
      const extra = mode.verbose
        ? ` [${r.statements ?? 0} statement(s)${r.transactional ? "" : ", no transaction"}]`
        : "";
      io.stderr(
        `${r.version}/${r.direction === "up" ? "u" : "d"} ${r.name} (${formatDuration(r.durationMs ?? 0)})${
          r.outOfOrder ? " out of order" : ""
        }${extra}\n`,
      );
    }
  }
}

function printError(thrown: unknown, io: CliIo): void {
  // Deno without -A: which permission, and which ones strata uses, instead of a stack trace.
  const error = permissionError(thrown) ?? thrown;
  const e = error instanceof StrataError ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`error: ${maskUrl(message)}\n`);
  if (error instanceof FileError && error.excerpt !== undefined && error.line !== undefined) {
    const masked = maskExcerpt(error.excerpt, error.column);
    const { text, column } = excerptWindow(masked.line, masked.column);
    const gutter = `${error.line} | `;
    io.stderr(`  ${gutter}${text}\n`);
    if (column !== undefined) io.stderr(`  ${" ".repeat(gutter.length + column - 1)}^\n`);
  }
  const server = error instanceof FileError ? error.server?.hint : undefined;
  if (server) io.stderr(`server hint: ${maskUrl(server)}\n`);
  if (e?.hint) io.stderr(`hint: ${maskUrl(e.hint)}\n`);
  if (e) return;
  // The server refused something strata did not expect to fail (a permission, a constraint):
  // its own words say what, and a stack trace would bury them.
  const fields = error instanceof ScriptError ? error.server : serverErrorFields(error);
  if (fields) {
    if (fields.detail) io.stderr(`server detail: ${maskUrl(fields.detail)}\n`);
    if (fields.hint) io.stderr(`server hint: ${maskUrl(fields.hint)}\n`);
    if (fields.code) io.stderr(`server code: ${fields.code}\n`);
    return;
  }
  const stack = error instanceof Error ? error.stack : undefined;
  if (stack) io.stderr(`${maskUrl(stack)}\n`);
}

/**
 * The file's line with a URL's password masked (a migration may quote one), and the column
 * moved with the text it points at; a column inside a masked part points at its start.
 */
function maskExcerpt(line: string, column?: number): { line: string; column?: number } {
  const masked = maskUrl(line);
  if (column === undefined) return { line: masked };
  if (masked === line) return { line, column };
  let prefix = 0;
  while (prefix < line.length && line[prefix] === masked[prefix]) prefix++;
  let suffix = 0;
  while (
    suffix < line.length - prefix && suffix < masked.length - prefix &&
    line[line.length - 1 - suffix] === masked[masked.length - 1 - suffix]
  ) suffix++;
  const at = column - 1;
  if (at < prefix) return { line: masked, column };
  if (at >= line.length - suffix) return { line: masked, column: column + masked.length - line.length };
  return { line: masked, column: prefix + 1 };
}

/** At most 120 characters of a long line (a minified file), around the column, marked with "…". */
function excerptWindow(line: string, column?: number): { text: string; column?: number } {
  const width = 120;
  if (line.length <= width) return column === undefined ? { text: line } : { text: line, column };
  const at = (column ?? 1) - 1;
  const start = Math.max(0, Math.min(at - width / 2, line.length - width));
  const text = `${start > 0 ? "…" : ""}${line.slice(start, start + width)}${start + width < line.length ? "…" : ""}`;
  return column === undefined ? { text } : { text, column: at - start + 1 + (start > 0 ? 1 : 0) };
}

function reportError(error: unknown, io: CliIo, json: boolean, command?: string): number {
  if (json) io.stdout(toJson({ ...(command === undefined ? {} : { command }), error: errorJson(error) }) + "\n");
  else printError(error, io);
  return exitCodeOf(error);
}

function exitCodeOf(error: unknown): number {
  return error instanceof StrataError && error.code === "USAGE" ? 2 : 1;
}

function versionJson(state: VersionState): { version: bigint | null; dirty: boolean } {
  return { version: state.version, dirty: state.dirty };
}

function resultJson(r: MigrationResult): Record<string, unknown> {
  return {
    version: r.version,
    name: r.name,
    direction: r.direction,
    file: r.file ?? null,
    status: r.status,
    transactional: r.transactional,
    statements: r.statements ?? 0,
    durationMs: r.durationMs === undefined ? null : Math.round(r.durationMs * 1000) / 1000,
    ...(r.outOfOrder ? { outOfOrder: true } : {}),
    ...(r.warning ? { warning: r.warning } : {}),
  };
}

function statusJson(status: MigrationStatus, again: (cmd: string) => string): Record<string, unknown> {
  return {
    version: versionJson(status.version),
    upToDate: upToDate(status),
    pending: status.pending.length,
    changed: status.changed.length,
    outOfOrder: status.outOfOrder.length,
    missingFiles: status.missingFiles.length,
    ignored: status.ignored ?? [],
    migrations: status.entries.map((e) => ({
      version: e.version,
      name: e.name,
      state: e.state,
      up: e.up ?? null,
      down: e.down ?? null,
      appliedAt: e.appliedAt,
      durationMs: e.durationMs === null ? null : Math.round(e.durationMs * 1000) / 1000,
      checksum: e.checksum,
      recordedChecksum: e.recordedChecksum,
      note: e.note,
    })),
    dirty: status.dirty
      ? {
        ...status.dirty,
        ...(status.dirty.error === undefined ? {} : { error: maskUrl(status.dirty.error) }),
        commands: {
          ifComplete: again(`force ${status.dirty.forceIfComplete ?? -1}`),
          ifUndone: again(`force ${status.dirty.forceIfUndone ?? -1}`),
        },
      }
      : null,
    running: status.running ?? null,
  };
}

function planJson(plan: PlannedRun): Record<string, unknown> {
  return {
    from: versionJson(plan.from),
    noChange: plan.noChange,
    short: plan.short,
    steps: plan.steps.map((s) => ({ ...s, file: s.file ?? null })),
  };
}

function errorJson(thrown: unknown): Record<string, unknown> {
  const error = permissionError(thrown) ?? thrown;
  if (!(error instanceof StrataError)) {
    return { code: "INTERNAL", message: maskUrl(error instanceof Error ? error.message : String(error)) };
  }
  const out: Record<string, unknown> = { code: error.code, message: maskUrl(error.message) };
  if (error.hint) out.hint = maskUrl(error.hint);
  if (error.track !== undefined) out.track = error.track;
  if (error instanceof FileError) {
    Object.assign(out, {
      file: error.file,
      statement: error.statement ?? null,
      line: error.line ?? null,
      column: error.column ?? null,
    });
    if (error.server?.code) out.sqlstate = error.server.code;
    if (error.server?.hint) out.serverHint = maskUrl(error.server.hint);
  }
  return out;
}

async function runCreate(rest: string[], args: ParsedArgs, io: CliIo, path: string): Promise<number> {
  if (rest.length !== 1) {
    throw new StrataError(
      "USAGE",
      rest.length === 0
        ? "create needs a NAME: strata create [-ext sql] [-dir DIR] [-seq] NAME"
        : `Too many arguments for create: ${rest.join(" ")}`,
    );
  }
  const digits = stringFlag(args, "digits");
  const ext = stringFlag(args, "ext");
  const format = stringFlag(args, "format");
  const tz = stringFlag(args, "tz");
  const { createMigration } = await import("../io/create_migration.ts");
  const created = await createMigration(rest[0], {
    dir: resolvePath(io.cwd, stringFlag(args, "dir") ?? path),
    seq: booleanFlag(args, "seq"),
    ...(ext === undefined ? {} : { ext }),
    ...(digits === undefined ? {} : { digits: parseWholeNumber(digits, "-digits", { min: 1 }) }),
    ...(format === undefined ? {} : { format }),
    ...(tz === undefined ? {} : { tz }),
  });
  if (booleanFlag(args, "json")) {
    // A number, as every version in -json is (the padded form is in the file names).
    const version = /^[0-9]+$/.test(created.version) ? BigInt(created.version) : created.version;
    io.stdout(toJson({ command: "create", version, up: created.up, down: created.down }) + "\n");
  } else io.stdout(`${created.up}\n${created.down}\n`);
  return 0;
}

async function runBundle(rest: string[], args: ParsedArgs, io: CliIo, path: string, mode: Mode): Promise<number> {
  if (rest.length > 0) throw new StrataError("USAGE", `Too many arguments for bundle: ${rest.join(" ")}`);
  const out = stringFlag(args, "out");
  if (!out) throw new StrataError("USAGE", "bundle needs -out FILE, e.g. strata bundle -out src/migrations.bundle.js");
  const seeds = stringFlag(args, "seeds");
  // The library bundles a seeds folder when it exists; a folder named on the command line
  // that is not there is a typo, not "no seeds" (the bundle would seed nothing, found out later).
  const seedsInfo = seeds === undefined ? undefined : await stat(resolvePath(io.cwd, seeds)).catch(() => undefined);
  if (seeds !== undefined && !seedsInfo?.isDirectory()) {
    const what = seedsInfo ? `-seeds ${seeds} is not a folder` : `Seeds folder not found: ${seeds}`;
    throw new StrataError("SOURCE_NOT_FOUND", what, {
      hint:
        "Pass -seeds DIR naming the seeds folder, or leave -seeds out to bundle the migrations only. Nothing was written",
    });
  }
  const { writeBundle } = await import("../io/write_bundle.ts");
  const written = await writeBundle({
    migrations: resolvePath(io.cwd, path),
    ...(seeds === undefined ? {} : { seeds: resolvePath(io.cwd, seeds) }),
    out: resolvePath(io.cwd, out),
    version: VERSION,
  });
  if (mode.json) io.stdout(toJson({ command: "bundle", ...written }) + "\n");
  else {
    // The migrator warns about these when it reads the folder; from the bundle it never sees them.
    for (const ignored of written.ignored) io.stderr(`warning: not bundled: ${ignored.file}: ${ignored.reason}\n`);
    io.stderr(
      `Wrote ${out}: ${written.migrations} migration files${
        seeds ? `, ${written.seeds} seed files` : ""
      } (${written.bytes} bytes)\n`,
    );
  }
  return 0;
}

/** The migrations folder: -source when given (golang-migrate reads -path only without it), else -path. */
function migrationsPath(args: ParsedArgs, io: CliIo): string {
  const path = stringFlag(args, "path");
  const source = stringFlag(args, "source");
  if (source !== undefined) {
    if (!source.startsWith("file://")) {
      throw new StrataError(
        "USAGE",
        `Unsupported -source ${source}: strata reads folders (file://DIR); for embedded migrations use the library's bundle`,
      );
    }
    const folder = decodeURIComponent(source.slice("file://".length));
    if (path !== undefined && resolvePath(path) !== resolvePath(folder)) {
      io.stderr(`strata: -path ${path} is ignored: -source ${source} names the folder, as in golang-migrate\n`);
    }
    return folder;
  }
  return path ?? "migrations";
}

export { formatDuration };

/**
 * The figures: what strata does, the floor and the peer tools it is compared with, and the
 * goal (a ratio against one reference measured in the same run). Every run gets a fresh
 * database (or PGlite folder); set-up and clean-up are never timed.
 */
import { existsSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { delimiter, join, resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { emptyPgliteTarball, pgliteTemplateFile } from "../lib/io/_pglite_template.ts";
import { type Databases, SERVER_URL, withSslDisabled } from "./_databases.ts";
import { type GeneratedMigrations, generateMigrations } from "./_generate.ts";
import { type Command, runCommand, type Sample, timeCommand } from "./_measure.ts";
import type { Goal } from "./_report.ts";

/** One tool measured for a figure. */
export interface Contender {
  name: string;
  /** Untimed set-up before the first run (e.g. a database migrated once for no-op runs). */
  prepare?: () => Promise<void>;
  /** One timed run, with its own untimed set-up and clean-up. */
  measure: () => Promise<Sample>;
  cleanup?: () => Promise<void>;
  /** Known to fail at this size (reported as a fact about that tool, not a failure of the bench). */
  mayFail?: boolean;
}

/** A figure: strata against its references. */
export interface Figure {
  id: string;
  what: string;
  strata: Contender;
  references: Contender[];
  /** strata's median over the named reference's median must stay at or below maxRatio (or strata's median at or below maxMs). */
  goal?: Goal;
  /** Why the figure cannot run here (e.g. a module that does not exist yet). */
  unavailable?: string;
  /** Untimed set-up shared by every contender, run before theirs. */
  prepare?: () => Promise<void>;
  cleanup?: () => Promise<void>;
}

/** Sizes for a full run and for the CI smoke. */
export interface Sizes {
  up: number[];
  noop: number;
  down: number;
  pglite: number[];
  seedRows: number;
  schemaTables: number;
  backupBytes: number;
}

export const FULL: Sizes = {
  up: [100, 1000],
  noop: 1000,
  down: 1000,
  pglite: [100, 1000],
  seedRows: 100_000,
  schemaTables: 3000,
  backupBytes: 200 * 1024 * 1024,
};

export const SMOKE: Sizes = {
  up: [10],
  noop: 10,
  down: 10,
  pglite: [10],
  seedRows: 1000,
  schemaTables: 20,
  backupBytes: 1024 * 1024,
};

/** Paths of the programs measured. */
export interface Tools {
  root: string;
  node: string;
  strataBin: string;
  worker: string;
  pgliteFloor: string;
  /** Node importing postgres.js, connecting and running one query: the start-up floor. */
  connectFloor: string;
  /** Node importing postgres.js and sending each line of a script as one message. */
  scriptFloor: string;
  dbmate?: string;
  nodePgMigrate?: string;
  golangMigrate?: string;
}

/** Finds the programs: the compiled strata bin, dbmate's native binary, node-pg-migrate's CLI, golang-migrate on PATH. */
export function findTools(root: string): Tools {
  const require = createRequire(join(root, "package.json"));
  const tryResolve = (id: string, from = require) => {
    try {
      return from.resolve(id);
    } catch {
      return undefined;
    }
  };
  // dbmate's npm package is a node wrapper around a Go binary: measure the binary, as its users' Makefiles run it.
  const dbmatePackage = tryResolve("dbmate/package.json");
  const dbmate = dbmatePackage
    ? tryResolve(
      `@dbmate/${process.platform}-${process.arch}/bin/dbmate${process.platform === "win32" ? ".exe" : ""}`,
      createRequire(dbmatePackage),
    )
    : undefined;
  const nodePgMigratePackage = tryResolve("node-pg-migrate/package.json");
  const nodePgMigrate = nodePgMigratePackage
    ? resolve(nodePgMigratePackage, "..", "bin", "node-pg-migrate.js")
    : undefined;
  const golangMigrate = (process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, "migrate")).find((p) =>
    existsSync(p)
  );
  return {
    root,
    node: process.execPath,
    strataBin: join(root, "dist", "bin", "strata.js"),
    worker: join(root, "bench", "_worker.ts"),
    pgliteFloor: join(root, "bench", "_pglite_floor.mjs"),
    connectFloor: join(root, "bench", "_connect_floor.mjs"),
    scriptFloor: join(root, "bench", "_script_floor.mjs"),
    ...(dbmate && existsSync(dbmate) ? { dbmate } : {}),
    ...(nodePgMigrate && existsSync(nodePgMigrate) ? { nodePgMigrate } : {}),
    ...(golangMigrate ? { golangMigrate } : {}),
  };
}

/** What the figures share: the databases, a scratch folder, the tools, generated migrations. */
export class Context {
  readonly #migrations = new Map<number, Promise<GeneratedMigrations>>();
  readonly #shared = new Map<string, Promise<string>>();
  #scratch = 0;

  readonly dbs: Databases;
  readonly work: string;
  readonly tools: Tools;

  constructor(dbs: Databases, work: string, tools: Tools) {
    this.dbs = dbs;
    this.work = work;
    this.tools = tools;
  }

  /** N migrations in every format, written once per N. */
  migrations(n: number): Promise<GeneratedMigrations> {
    let generated = this.#migrations.get(n);
    if (!generated) {
      generated = generateMigrations(join(this.work, `migrations_${n}`), n);
      this.#migrations.set(n, generated);
    }
    return generated;
  }

  /** A value made once and shared by several figures (e.g. the 3,000-table database). */
  shared(key: string, make: () => Promise<string>): Promise<string> {
    let value = this.#shared.get(key);
    if (!value) {
      value = make();
      this.#shared.set(key, value);
    }
    return value;
  }

  /** A new empty folder under the scratch folder. */
  async scratch(tag: string): Promise<string> {
    const dir = join(this.work, `${tag}_${++this.#scratch}`);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Environment for measured processes: nothing inherited that changes what they do. */
  env(extra: Record<string, string> = {}): Record<string, string | undefined> {
    return { NODE_OPTIONS: undefined, DATABASE_URL: undefined, ...extra };
  }

  strata(args: string[]): Command {
    return { program: this.tools.node, args: [this.tools.strataBin, ...args], cwd: this.work, env: this.env() };
  }

  psql(url: string, args: string[]): Command {
    return {
      program: "psql",
      args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, ...args],
      cwd: this.work,
      env: this.env(),
    };
  }

  dbmate(url: string, dir: string, command: string): Command {
    return {
      program: this.tools.dbmate!,
      args: ["--url", withSslDisabled(url), "--migrations-dir", dir, "--no-dump-schema", command],
      cwd: this.work,
      env: this.env(),
    };
  }

  nodePgMigrate(url: string, dir: string, args: string[]): Command {
    return {
      program: this.tools.node,
      args: [this.tools.nodePgMigrate!, ...args, "-m", dir, "--no-verbose"],
      cwd: this.work,
      env: this.env({ DATABASE_URL: withSslDisabled(url) }),
    };
  }

  golangMigrate(url: string, dir: string, args: string[]): Command {
    return {
      program: this.tools.golangMigrate!,
      args: ["-path", dir, "-database", withSslDisabled(url), ...args],
      cwd: this.work,
      env: this.env(),
    };
  }

  /** Runs a library measurement in its own process (bench/_worker.ts under tsx) and reads its result. */
  async worker(args: string[]): Promise<Sample> {
    const output = await runCommand({
      program: this.tools.node,
      args: ["--import", "tsx", this.tools.worker, ...args],
      cwd: this.tools.root,
      env: this.env(),
    });
    const line = output.trim().split("\n").reverse().find((l) => l.startsWith('{"ms"'));
    if (!line) throw new Error(`the worker printed no result: ${output.trim().slice(-400)}`);
    return JSON.parse(line) as Sample;
  }
}

/** A contender whose every run gets a fresh database, prepared by `setup`, then measured by running `command`. */
function onFreshDatabase(
  ctx: Context,
  name: string,
  command: (url: string) => Command,
  options: { setup?: (url: string) => Promise<void>; mayFail?: boolean } = {},
): Contender {
  return {
    name,
    ...(options.mayFail ? { mayFail: true } : {}),
    async measure() {
      const url = await ctx.dbs.create(name.split(" ")[0]);
      try {
        await options.setup?.(url);
        return await timeCommand(command(url));
      } finally {
        await ctx.dbs.drop(url);
      }
    },
  };
}

/** A contender measured repeatedly against one database prepared once. */
function onPreparedDatabase(
  ctx: Context,
  name: string,
  setup: (url: string) => Promise<void>,
  command: (url: string) => Command,
): Contender {
  let url: string | undefined;
  return {
    name,
    async prepare() {
      url = await ctx.dbs.create(name.split(" ")[0]);
      await setup(url);
    },
    measure: () => timeCommand(command(url!)),
    async cleanup() {
      if (url) await ctx.dbs.drop(url);
    },
  };
}

const run = async (command: Command) => void (await runCommand(command));

/** `up` of N migrations on an empty database. */
export function upFigure(ctx: Context, n: number): Figure {
  let m!: GeneratedMigrations;
  const refs: Contender[] = [
    onFreshDatabase(ctx, "psql -1 -f (floor)", (url) => ctx.psql(url, ["-1", "-f", m.allUp])),
    onFreshDatabase(ctx, "psql -f, a transaction per file", (url) => ctx.psql(url, ["-f", m.perFileUp])),
  ];
  if (ctx.tools.dbmate) {
    refs.push(onFreshDatabase(ctx, "dbmate migrate", (url) => ctx.dbmate(url, m.dbmate, "migrate")));
  }
  if (ctx.tools.nodePgMigrate) {
    refs.push(
      onFreshDatabase(ctx, "node-pg-migrate up", (url) => ctx.nodePgMigrate(url, m.nodePgMigrate, ["up"]), {
        mayFail: n >= 1000,
      }),
    );
  }
  if (ctx.tools.golangMigrate) {
    refs.push(onFreshDatabase(ctx, "golang-migrate up", (url) => ctx.golangMigrate(url, m.migrate, ["up"])));
  }
  return {
    id: `up-${n}`,
    what: `up of ${n} migrations (table, 5 columns, PK, FK, index, comment each) on an empty database, whole process`,
    async prepare() {
      m = await ctx.migrations(n);
    },
    strata: onFreshDatabase(ctx, "strata up", (url) => ctx.strata(["-path", m.migrate, "-database", url, "up"])),
    references: refs,
    goal: { reference: "psql -1 -f (floor)", maxRatio: n >= 1000 ? 1.1 : 1.4 },
  };
}

/** `up` with nothing to do against N applied migrations: start-up cost. */
export function noopFigure(ctx: Context, n: number): Figure {
  let m!: GeneratedMigrations;
  const refs: Contender[] = [
    { name: "node -e 0", measure: () => timeCommand({ program: ctx.tools.node, args: ["-e", "0"], env: ctx.env() }) },
    {
      name: "node + postgres.js: connect, SELECT 1",
      measure: () =>
        timeCommand({
          program: ctx.tools.node,
          args: [ctx.tools.connectFloor, SERVER_URL],
          cwd: ctx.tools.root,
          env: ctx.env(),
        }),
    },
  ];
  if (ctx.tools.dbmate) {
    refs.push(
      onPreparedDatabase(
        ctx,
        "dbmate migrate",
        (url) => run(ctx.dbmate(url, m.dbmate, "migrate")),
        (url) => ctx.dbmate(url, m.dbmate, "migrate"),
      ),
    );
  }
  if (ctx.tools.nodePgMigrate) {
    refs.push(
      onPreparedDatabase(
        ctx,
        "node-pg-migrate up",
        (url) => run(ctx.nodePgMigrate(url, m.nodePgMigrate, ["up", "--no-single-transaction"])),
        (url) => ctx.nodePgMigrate(url, m.nodePgMigrate, ["up"]),
      ),
    );
  }
  if (ctx.tools.golangMigrate) {
    refs.push(
      onPreparedDatabase(
        ctx,
        "golang-migrate up",
        (url) => run(ctx.golangMigrate(url, m.migrate, ["up"])),
        (url) => ctx.golangMigrate(url, m.migrate, ["up"]),
      ),
    );
  }
  return {
    id: `noop-up-${n}`,
    what: `up with nothing pending against ${n} applied migrations (start-up cost), whole process`,
    async prepare() {
      m = await ctx.migrations(n);
    },
    strata: onPreparedDatabase(
      ctx,
      "strata up",
      (url) => run(ctx.strata(["-path", m.migrate, "-database", url, "up"])),
      (url) => ctx.strata(["-path", m.migrate, "-database", url, "up"]),
    ),
    references: refs,
    goal: { reference: "node -e 0", maxRatio: 1.5 },
  };
}

/** `down -all` of N applied migrations. */
export function downFigure(ctx: Context, n: number): Figure {
  let m!: GeneratedMigrations;
  const psqlUp = (url: string) => run(ctx.psql(url, ["-f", m.perFileUp]));
  const refs: Contender[] = [
    onFreshDatabase(ctx, "psql -f (floor)", (url) => ctx.psql(url, ["-f", m.allDown]), { setup: psqlUp }),
    onFreshDatabase(ctx, "psql -1 -f", (url) => ctx.psql(url, ["-1", "-f", m.allDown]), {
      setup: psqlUp,
      mayFail: n >= 1000,
    }),
    // The statements strata sends, each file's as one message (strata pipelines a file's
    // statements: one round trip a file): each down file in its own transaction with
    // golang-migrate's version row and strata's history row written in it. Through psql, the
    // server's share; through plain node and postgres.js, any Node tool's floor.
    onFreshDatabase(
      ctx,
      "psql -f of strata's statements",
      (url) => ctx.psql(url, ["-f", m.bookkeepingDown]),
      { setup: (url) => run(ctx.strata(["-path", m.migrate, "-database", url, "up"])) },
    ),
    onFreshDatabase(
      ctx,
      "node + postgres.js: the same, a file a message",
      (url) => ({
        program: ctx.tools.node,
        args: [ctx.tools.scriptFloor, url, m.bookkeepingDown],
        cwd: ctx.tools.root,
        env: ctx.env(),
      }),
      { setup: (url) => run(ctx.strata(["-path", m.migrate, "-database", url, "up"])) },
    ),
  ];
  if (ctx.tools.nodePgMigrate) {
    refs.push(
      onFreshDatabase(
        ctx,
        "node-pg-migrate down N",
        (url) => ctx.nodePgMigrate(url, m.nodePgMigrate, ["down", `${n}`]),
        {
          setup: (url) => run(ctx.nodePgMigrate(url, m.nodePgMigrate, ["up", "--no-single-transaction"])),
          mayFail: n >= 1000,
        },
      ),
    );
  }
  if (ctx.tools.golangMigrate) {
    refs.push(
      onFreshDatabase(ctx, "golang-migrate down -all", (url) => ctx.golangMigrate(url, m.migrate, ["down", "-all"]), {
        setup: (url) => run(ctx.golangMigrate(url, m.migrate, ["up"])),
      }),
    );
  }
  return {
    id: `down-all-${n}`,
    what: `down -all of ${n} applied migrations, whole process (dbmate has no down-all: rollback reverts one per call)`,
    async prepare() {
      m = await ctx.migrations(n);
    },
    strata: onFreshDatabase(
      ctx,
      "strata down -all",
      (url) => ctx.strata(["-path", m.migrate, "-database", url, "down", "-all"]),
      {
        setup: (url) => run(ctx.strata(["-path", m.migrate, "-database", url, "up"])),
      },
    ),
    references: refs,
    goal: { reference: "psql -f (floor)", maxRatio: 1.1 },
  };
}

/** A contender whose every run gets a new, empty PGlite folder. */
function onFreshFolder(ctx: Context, name: string, command: (dir: string) => Command): Contender {
  return {
    name,
    async measure() {
      const parent = await ctx.scratch("pglite");
      try {
        return await timeCommand(command(join(parent, "db")));
      } finally {
        await rm(parent, { recursive: true, force: true });
      }
    },
  };
}

/** The same `up` on the embedded PGlite, against PGlite executing the concatenated SQL. */
export function pgliteFigure(ctx: Context, n: number): Figure {
  let m!: GeneratedMigrations;
  let template!: string;
  return {
    id: `pglite-up-${n}`,
    what: `up of ${n} migrations on a new PGlite folder, whole process`,
    async prepare() {
      m = await ctx.migrations(n);
      // Made now if missing (initdb once), so neither side's timed run makes it.
      await emptyPgliteTarball();
      const file = pgliteTemplateFile();
      if (file === undefined) throw new Error("PGlite's version cannot be read: no cached empty cluster");
      template = file;
    },
    strata: onFreshFolder(
      ctx,
      "strata up",
      (dir) => ctx.strata(["-path", m.migrate, "-database", `pglite://${dir}`, "up"]),
    ),
    references: [
      onFreshFolder(ctx, "PGlite exec of all files (floor)", (dir) => ({
        program: ctx.tools.node,
        args: [ctx.tools.pgliteFloor, dir, m.allUp, template],
        cwd: ctx.tools.root,
        env: ctx.env(),
      })),
    ],
  };
}

/**
 * Seeding `rows` rows: the first run (goal: within 1.2x of the hand-written unnest INSERT),
 * or the re-run where every row conflicts (goal, as issue 4 states it: at most half of
 * strata's own first run, measured in the same figure; the floor's re-run is shown beside).
 */
export function seedFigure(ctx: Context, rows: number, phase: "first" | "rerun"): Figure {
  const contender = (name: string, who: string, measured: "first" | "rerun"): Contender => ({
    name,
    async measure() {
      const url = await ctx.dbs.create(`seed_${who}`);
      try {
        return await ctx.worker(["seed", url, `${rows}`, who, measured]);
      } finally {
        await ctx.dbs.drop(url);
      }
    },
  });
  const firstRun = "strata runSeeds, first run";
  return {
    id: `seed-${phase}-${rows}`,
    what: `${
      phase === "first" ? "seed of" : "re-run (every row conflicts) of a seed of"
    } ${rows} rows (5 columns, key id), in process: runSeeds vs one INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING with postgres.js${
      phase === "rerun" ? ", and vs strata's own first run" : ""
    }`,
    strata: contender("strata runSeeds", "strata", phase),
    references: phase === "first"
      ? [contender("unnest INSERT (floor)", "floor", "first")]
      : [contender(firstRun, "strata", "first"), contender("unnest INSERT re-run (floor)", "floor", "rerun")],
    goal: phase === "first"
      ? { reference: "unnest INSERT (floor)", maxRatio: 1.2 }
      : { reference: firstRun, maxRatio: 0.5 },
  };
}

/** Why lib/schema's snapshot (and diff) cannot be measured here, if they cannot. */
export interface SchemaAvailability {
  snapshot?: string;
  diff?: string;
}

/** Checks that lib/schema's modules exist and export what the bench calls (they are being written). */
export async function schemaModules(root: string): Promise<SchemaAvailability> {
  const check = async (file: string, name: string): Promise<string | undefined> => {
    if (!existsSync(join(root, file))) return `${file} does not exist yet`;
    try {
      const module = (await import(pathToFileURL(join(root, file)).href)) as Record<string, unknown>;
      return typeof module[name] === "function" ? undefined : `${file} does not export ${name}()`;
    } catch (error) {
      return `${file} failed to load: ${(error as Error).message}`;
    }
  };
  const snapshot = await check("lib/schema/snapshot_schema.ts", "snapshotSchema");
  const diff = snapshot ?? (await check("lib/schema/diff_snapshots.ts", "diffSnapshots"));
  return { ...(snapshot ? { snapshot } : {}), ...(diff ? { diff } : {}) };
}

/** A database holding the schema of `tables` generated migrations, made once. */
function schemaDatabase(ctx: Context, tables: number): Promise<string> {
  return ctx.shared(`schema-${tables}`, async () => {
    const m = await ctx.migrations(tables);
    const url = await ctx.dbs.create(`schema${tables}`);
    await run(ctx.psql(url, ["-f", m.perFileUp]));
    return url;
  });
}

/** A snapshot of a `tables`-table schema vs `pg_dump --schema-only`. */
export function snapshotFigure(ctx: Context, tables: number, unavailable: string | undefined): Figure {
  let url = "";
  return {
    id: `snapshot-${tables}`,
    what:
      `snapshot of a ${tables}-table schema: snapshotSchema(db) in process (connection open) vs pg_dump --schema-only (whole process)`,
    ...(unavailable ? { unavailable } : {}),
    async prepare() {
      url = await schemaDatabase(ctx, tables);
    },
    strata: { name: "strata snapshotSchema", measure: () => ctx.worker(["snapshot", url]) },
    references: [
      {
        name: "pg_dump --schema-only",
        measure: async () => {
          const dir = await ctx.scratch("schema_dump");
          try {
            return await timeCommand({
              program: "pg_dump",
              args: ["--schema-only", "--no-password", "-f", join(dir, "schema.sql"), "-d", url],
              env: ctx.env(),
            });
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        },
      },
    ],
    goal: { reference: "pg_dump --schema-only", maxRatio: 0.5 },
  };
}

/** A diff of two snapshots of `tables`-table schemas that differ in a few hundred places. */
export function diffFigure(ctx: Context, tables: number, unavailable: string | undefined): Figure {
  let a = "";
  let b = "";
  let dumps = "";
  return {
    id: `diff-${tables}`,
    what:
      `diff of two snapshots of a ${tables}-table schema (columns added, indexes dropped, comments changed, tables added): diffSnapshots in process vs diff -u of two pg_dump --schema-only files`,
    ...(unavailable ? { unavailable } : {}),
    async prepare() {
      a = await schemaDatabase(ctx, tables);
      b = await ctx.dbs.create(`schema${tables}b`, a);
      const changes: string[] = [];
      for (let i = 1; i <= tables; i++) {
        if (i % 10 === 0) changes.push(`ALTER TABLE t${i} ADD COLUMN note text;`);
        if (i % 30 === 0) changes.push(`DROP INDEX t${i}_created_at_idx;`);
        if (i % 50 === 0) changes.push(`COMMENT ON TABLE t${i} IS 'changed ${i}';`);
      }
      for (let i = 1; i <= Math.max(2, tables / 100); i++) {
        changes.push(`CREATE TABLE extra_${i} (id bigint PRIMARY KEY, t1_id bigint REFERENCES t1 (id));`);
      }
      await run(ctx.psql(b, ["-c", changes.join("\n")]));
      dumps = await ctx.scratch("diff_dumps");
      for (const [url, file] of [[a, "a.sql"], [b, "b.sql"]]) {
        await run({ program: "pg_dump", args: ["--schema-only", "-f", join(dumps, file), "-d", url], env: ctx.env() });
      }
    },
    async cleanup() {
      if (b) await ctx.dbs.drop(b);
    },
    strata: { name: "strata diffSnapshots", measure: () => ctx.worker(["diff", a, b]) },
    references: [
      {
        name: "diff -u of pg_dump files",
        measure: () =>
          timeCommand({ program: "diff", args: ["-u", join(dumps, "a.sql"), join(dumps, "b.sql")], okCodes: [0, 1] }),
      },
    ],
    // An absolute goal: diffing is strata's own job, the text diff is only a point of comparison.
    goal: { maxMs: 200 },
  };
}

/** A database of about `bytes` bytes (one wide table and its primary key), made once. */
function dataDatabase(ctx: Context, bytes: number): Promise<string> {
  return ctx.shared(`data-${bytes}`, async () => {
    const url = await ctx.dbs.create(`data${Math.round(bytes / 1024 / 1024)}mb`);
    // About 240 bytes a row on disk (heap and primary key) for these values.
    const rows = Math.max(1000, Math.round(bytes / 240));
    await run(ctx.psql(url, [
      "-c",
      `CREATE TABLE big (id bigint PRIMARY KEY, a text NOT NULL, b text NOT NULL, n int NOT NULL, t timestamptz NOT NULL);
       INSERT INTO big SELECT g, md5(g::text), repeat(md5((g * 7)::text), 4), g % 1000, '2025-01-01'::timestamptz + g * interval '1 second'
       FROM generate_series(1, ${rows}) g;
       CREATE TABLE small (id int PRIMARY KEY, big_id bigint REFERENCES big (id), note text);
       INSERT INTO small SELECT g, g, 'note ' || g FROM generate_series(1, 1000) g;`,
      "-c",
      "VACUUM ANALYZE",
    ]));
    return url;
  });
}

async function databaseSize(url: string, ctx: Context): Promise<number> {
  const out = await runCommand(ctx.psql(url, ["-At", "-c", "SELECT pg_database_size(current_database())"]));
  return Number(out.trim());
}

/** A backup with strata (custom format) vs raw pg_dump of the same format. */
export function backupFigure(ctx: Context, bytes: number): Figure {
  const mb = Math.round(bytes / 1024 / 1024);
  let url = "";
  const figure: Figure = {
    id: `backup-${mb}MB`,
    what: `backup of a database holding ~${mb} MB of rows, custom format, whole process`,
    async prepare() {
      url = await dataDatabase(ctx, bytes);
      figure.what = `backup of a ${
        (await databaseSize(url, ctx) / 1024 / 1024).toFixed(0)
      } MB database (pg_database_size), custom format (strata adds its SHA-256 and manifest), whole process`;
    },
    strata: {
      name: "strata backup",
      async measure() {
        const out = await ctx.scratch("backup");
        try {
          return await timeCommand(ctx.strata(["-database", url, "backup", "-format", "custom", "-out", out]));
        } finally {
          await rm(out, { recursive: true, force: true });
        }
      },
    },
    references: [
      {
        name: "pg_dump -Fc",
        async measure() {
          const out = await ctx.scratch("pg_dump");
          try {
            return await timeCommand({
              program: "pg_dump",
              args: ["--format=custom", "--no-password", `--file=${join(out, "db.dump")}`, "-d", url],
              env: ctx.env(),
            });
          } finally {
            await rm(out, { recursive: true, force: true });
          }
        },
      },
    ],
    goal: { reference: "pg_dump -Fc", maxRatio: 1.05 },
  };
  return figure;
}

/** A restore of that backup into an empty database vs raw pg_restore of the same file, both in one transaction. */
export function restoreFigure(ctx: Context, bytes: number): Figure {
  const mb = Math.round(bytes / 1024 / 1024);
  let file = "";
  return {
    id: `restore-${mb}MB`,
    what:
      `restore of the custom-format backup of ~${mb} MB of rows into an empty database (strata verifies the checksum and the TOC first) vs pg_restore --single-transaction --exit-on-error, whole process`,
    async prepare() {
      const url = await dataDatabase(ctx, bytes);
      const out = await ctx.scratch("restore_source");
      const printed = await runCommand({
        ...ctx.strata(["-database", url, "backup", "-format", "custom", "-out", out]),
      });
      file = printed.trim().split("\n").reverse().find((line) => line.startsWith(out)) ?? "";
      if (!file) throw new Error(`strata backup printed no path: ${printed.slice(-300)}`);
    },
    strata: onFreshDatabase(ctx, "strata restore", (url) => ctx.strata(["-database", url, "restore", file, "-yes"])),
    references: [
      onFreshDatabase(ctx, "pg_restore -1", (url) => ({
        program: "pg_restore",
        args: ["--no-password", "--single-transaction", "--exit-on-error", `--dbname=${url}`, file],
        env: ctx.env(),
      })),
    ],
  };
}

/** Every figure for the sizes, in the order they run; `schema` says why snapshot and diff cannot run, if they cannot. */
export function allFigures(ctx: Context, sizes: Sizes, schema: SchemaAvailability): Figure[] {
  return [
    ...sizes.up.map((n) => upFigure(ctx, n)),
    noopFigure(ctx, sizes.noop),
    downFigure(ctx, sizes.down),
    ...sizes.pglite.map((n) => pgliteFigure(ctx, n)),
    seedFigure(ctx, sizes.seedRows, "first"),
    seedFigure(ctx, sizes.seedRows, "rerun"),
    snapshotFigure(ctx, sizes.schemaTables, schema.snapshot),
    diffFigure(ctx, sizes.schemaTables, schema.diff),
    backupFigure(ctx, sizes.backupBytes),
    restoreFigure(ctx, sizes.backupBytes),
  ];
}

/**
 * `npm run bench`: strata against its floors and peer tools, measured in the same run on
 * the local PostgreSQL server (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432).
 * Prints a table and writes bench/results/<timestamp>.json and bench/results/latest.json.
 *
 *   npm run bench                          the full run (5 runs per contender, 1 warm-up)
 *   npm run bench -- --smoke               tiny sizes, 1 run: CI's check that the bench still works
 *   npm run bench -- --only up-1000,seed   some figures: an id, or its leading words (seed: seed-first-…, seed-rerun-…)
 *   npm run bench -- --runs 9 --out FILE   more runs; write the JSON to FILE as well
 *
 * Exit code 1 when a figure failed to run (and, in a full run, when a goal was missed).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Databases, SERVER_URL } from "./_databases.ts";
import {
  allFigures,
  type Contender,
  Context,
  type Figure,
  findTools,
  FULL,
  schemaModules,
  SMOKE,
  type Tools,
} from "./_figures.ts";
import { memorySource, type Sample } from "./_measure.ts";
import {
  type BenchReport,
  contenderResult,
  type FigureResult,
  formatTable,
  judge,
  summary,
  writeReport,
} from "./_report.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const USAGE = `Usage: tsx bench/run.ts [--smoke] [--only ID[,ID...]] [--runs K] [--warmup K] [--out FILE] [--build]

  --smoke    tiny sizes, 1 run, no warm-up; exit 1 only when a figure fails to run
  --only     run these figures: an id (up-1000) or its leading words (up, seed, pglite); --list shows the ids
  --runs     timed runs per contender (default 5; smoke 1); the table shows median, min and max
  --warmup   untimed runs per contender first (default 1; smoke 0)
  --out      also write the JSON here (default bench/results/latest.json)
  --build    build dist/ first (npm run build) even when it exists
  --list     print the figure ids and exit`;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Compiles dist/ when it is missing (or asked to); says whether it is older than the sources. */
function ensureDist(build: boolean): boolean {
  const bin = join(ROOT, "dist", "bin", "strata.js");
  if (build || !existsSync(bin)) {
    log(
      build
        ? "building dist/ (--build: npm run build)"
        : "dist/bin/strata.js is missing: building dist/ (npm run build)",
    );
    execFileSync("npm", ["run", "--silent", "build"], {
      cwd: ROOT,
      stdio: "inherit",
    });
  }
  const built = statSync(bin).mtimeMs;
  const sources = ["mod.ts", "core.ts", ...walk("lib"), ...walk("bin")];
  const newer = sources.filter((file) => statSync(join(ROOT, file)).mtimeMs > built);
  if (newer.length > 0) {
    log(
      `warning: dist/ is older than ${newer.length} source file(s) (${newer.slice(0, 3).join(", ")}${
        newer.length > 3 ? ", ..." : ""
      }): the bin measured is not this tree's code; run with --build (or npm run build)`,
    );
  }
  return newer.length > 0;
}

function walk(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
    .map((f) => join(dir, f));
}

function output(program: string, args: string[]): string {
  try {
    return execFileSync(program, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    return "";
  }
}

async function environment(tools: Tools, server: string): Promise<Record<string, string | number>> {
  const npmVersion = async (name: string) => {
    try {
      return (JSON.parse(await readFile(join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
        version: string;
      }).version;
    } catch {
      return "not installed";
    }
  };
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpu: cpus()[0]?.model ?? "unknown",
    cpus: cpus().length,
    memoryGb: Math.round(totalmem() / 1024 ** 3),
    loadavg1m: Number(loadavg()[0].toFixed(2)),
    server,
    psql: output("psql", ["--version"]),
    pg_dump: output("pg_dump", ["--version"]),
    dbmate: tools.dbmate ? output(tools.dbmate, ["--version"]) : "not installed",
    nodePgMigrate: await npmVersion("node-pg-migrate"),
    golangMigrate: tools.golangMigrate ? output(tools.golangMigrate, ["-version"]) || "found" : "not on PATH",
    memory: memorySource,
  };
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim().slice(0, 500);
}

/** Runs one figure: set-up, warm-up, the timed runs (contenders in a rotating order), clean-up. */
async function runFigure(figure: Figure, runs: number, warmup: number): Promise<FigureResult> {
  const base = { id: figure.id, what: figure.what, ...(figure.goal ? { goal: figure.goal } : {}) };
  if (figure.unavailable) {
    log(`${figure.id}: not available: ${figure.unavailable}`);
    return { ...base, status: "not available", unavailable: figure.unavailable, references: [] };
  }
  const contenders: Contender[] = [figure.strata, ...figure.references];
  const samples = new Map<Contender, Sample[]>(contenders.map((c) => [c, []]));
  const errors = new Map<Contender, string>();
  const started = performance.now();
  log(`${figure.id}: ${figure.what}`);
  try {
    try {
      await figure.prepare?.();
    } catch (error) {
      for (const c of contenders) errors.set(c, `set-up failed: ${errorText(error)}`);
    }
    if (figure.what !== base.what) log(`  ${figure.what}`);
    for (const c of contenders) {
      if (errors.has(c)) continue;
      try {
        await c.prepare?.();
      } catch (error) {
        errors.set(c, `set-up failed: ${errorText(error)}`);
      }
    }
    for (let r = -warmup; r < runs; r++) {
      const order = contenders.map((_c, i) => contenders[(i + Math.max(0, r)) % contenders.length]);
      const parts: string[] = [];
      for (const c of order) {
        if (errors.has(c)) continue;
        try {
          const sample = await c.measure();
          if (r >= 0) samples.get(c)!.push(sample);
          parts.push(`${c.name} ${sample.ms.toFixed(0)} ms`);
        } catch (error) {
          errors.set(c, errorText(error));
          parts.push(`${c.name} FAILED`);
        }
      }
      if (parts.length > 0) log(`  ${r < 0 ? "warm-up" : `run ${r + 1}/${runs}`}: ${parts.join(" · ")}`);
    }
  } finally {
    for (const c of contenders) await c.cleanup?.().catch(() => {});
    await figure.cleanup?.().catch(() => {});
  }
  const result = (c: Contender) => contenderResult(c.name, samples.get(c)!, errors.get(c), c.mayFail === true);
  const judged = judge({ ...base, what: figure.what }, result(figure.strata), figure.references.map(result));
  log(
    `  ${figure.id}: ${judged.status}${judged.ratio === undefined ? "" : ` (${judged.ratio.toFixed(2)}x)`} in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  return judged;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      smoke: { type: "boolean", default: false },
      only: { type: "string", multiple: true },
      runs: { type: "string" },
      warmup: { type: "string" },
      out: { type: "string" },
      build: { type: "boolean", default: false },
      list: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    log(USAGE);
    return 0;
  }
  const smoke = values.smoke === true;
  const runs = Number(values.runs ?? (smoke ? 1 : 5));
  const warmup = Number(values.warmup ?? (smoke ? 0 : 1));
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(warmup) || warmup < 0) {
    log(`--runs must be 1 or more and --warmup 0 or more\n${USAGE}`);
    return 2;
  }
  const only = (values.only ?? []).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  const sizes = smoke ? SMOKE : FULL;
  const startedAt = new Date();
  const started = performance.now();

  const dbs = new Databases();
  const work = await mkdtemp(join(tmpdir(), "strata-bench-"));
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log("interrupted: dropping the bench databases");
    void Promise.allSettled([dbs.close(), rm(work, { recursive: true, force: true })]).then(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  try {
    let server: string;
    try {
      server = await dbs.serverVersion();
    } catch (error) {
      log(
        `The bench needs a PostgreSQL server at ${SERVER_URL.replace(/:[^:@/]*@/, ":***@")} (BENCH_DATABASE_URL): ${
          errorText(error)
        }`,
      );
      return 1;
    }
    const tools = findTools(ROOT);
    const ctx = new Context(dbs, work, tools);
    const schema = await schemaModules(ROOT);
    let figures = allFigures(ctx, sizes, schema);
    if (values.list) {
      for (const f of figures) process.stdout.write(`${f.id}\n`);
      return 0;
    }
    if (only.length > 0) {
      figures = figures.filter((f) => only.some((name) => f.id === name || f.id.startsWith(`${name}-`)));
      if (figures.length === 0) {
        log(`--only ${only.join(",")} matches no figure; --list shows them`);
        return 2;
      }
    }
    const distStale = ensureDist(values.build === true);
    const env = await environment(tools, server);
    log(
      `strata bench (${
        smoke ? "smoke" : "full"
      }): ${runs} run(s), ${warmup} warm-up, PostgreSQL ${server}, node ${process.version}, load ${env.loadavg1m}; dbmate ${
        tools.dbmate ? "yes" : "no"
      }, node-pg-migrate ${tools.nodePgMigrate ? "yes" : "no"}, golang-migrate ${
        tools.golangMigrate ? "yes" : "no"
      }; peak memory from ${memorySource}`,
    );

    const results: FigureResult[] = [];
    for (const figure of figures) {
      if (interrupted) break;
      results.push(await runFigure(figure, runs, warmup));
    }

    process.stdout.write(`\n${formatTable(results)}\n\n${summary(results)}\n`);
    const report: BenchReport = {
      format: "strata-bench/1",
      startedAt: startedAt.toISOString(),
      durationS: Math.round((performance.now() - started) / 100) / 10,
      mode: smoke ? "smoke" : "full",
      runs,
      warmup,
      commit: output("git", ["-C", ROOT, "rev-parse", "HEAD"]),
      dirty: output("git", ["-C", ROOT, "status", "--porcelain", "--untracked-files=no"]) !== "",
      distStale,
      environment: env,
      figures: results,
    };
    const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
    const latest = resolve(values.out ?? join(ROOT, "bench", "results", "latest.json"));
    const stamped = join(ROOT, "bench", "results", `${stamp}${smoke ? "_smoke" : ""}.json`);
    await writeReport(report, [stamped, latest]);
    process.stdout.write(`results: ${stamped}\n         ${latest}\n`);

    const failed = results.some((r) => r.status === "failed");
    const missed = results.some((r) => r.status === "miss");
    return failed || (!smoke && missed) ? 1 : 0;
  } finally {
    process.off("SIGINT", onSignal);
    await dbs.close().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}

process.exitCode = await main();

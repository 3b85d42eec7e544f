/**
 * The CLI as a real process, with stdin a pipe closed at once (never a terminal), no
 * DATABASE_URL or PGPASSWORD inherited, and its output collected. Which build of the CLI runs
 * is STRATA_TEST_CLI's choice:
 * - unset: the bin bundled by esbuild straight from the TypeScript sources, once per test
 *   file, with the options `npm run build` uses. A process starts in about a third of the time
 *   `node --import tsx` takes to load forty TypeScript modules through its hooks, and the CLI
 *   tests start several hundred.
 * - `tsx`: `node --import tsx mod.ts`, the sources as a project's script runs them.
 * - `dist`: the npm bin as shipped (`npm run build` first).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { buildSync } from "esbuild";
import { binBundleOptions } from "../../scripts/bin_bundle_options.mjs";

/** tsx's loader, resolved from this checkout (a temp cwd has no node_modules). */
export const TSX = import.meta.resolve("tsx");
/** The CLI's entry. */
export const MOD = fileURLToPath(new URL("../../mod.ts", import.meta.url));

/** A finished process. */
export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running process. */
export interface Running {
  child: ChildProcess;
  /** Everything written to stderr so far. */
  stderr(): string;
  done: Promise<Finished>;
}

/** Options for {@linkcode startStrata}. */
export interface StrataProcessOptions {
  /** Extra environment (undefined removes a variable). */
  env?: Record<string, string | undefined>;
  /** Written to stdin before it is closed (`echo y | strata down`). */
  input?: string;
}

/** Starts any program in `cwd` under the same rules (stdin closed, no DATABASE_URL or PGPASSWORD unless given). */
export function startProcess(
  command: string,
  args: readonly string[],
  cwd: string,
  options: StrataProcessOptions = {},
): Running {
  const env: Record<string, string | undefined> = { ...process.env };
  delete env.DATABASE_URL;
  delete env.NODE_TEST_CONTEXT;
  delete env.PGPASSWORD;
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const child = spawn(command, args, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  child.stdin!.end(options.input ?? "");
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const done = new Promise<Finished>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, stderr: () => stderr, done };
}

/** Runs any program in `cwd` to the end (see {@linkcode startProcess}). */
export function runProcess(
  command: string,
  args: readonly string[],
  cwd: string,
  options: StrataProcessOptions = {},
): Promise<Finished> {
  return startProcess(command, args, cwd, options).done;
}

/** Runs a TypeScript file of this checkout (a script in scripts/, say) with tsx, to the end. */
export function runScript(
  script: string,
  args: readonly string[],
  cwd: string,
  options: StrataProcessOptions = {},
): Promise<Finished> {
  return runProcess(process.execPath, ["--import", TSX, script, ...args], cwd, options);
}

/** The npm bin (one bundled file, see scripts/bundle_bin.mjs), after `npm run build`. */
const BIN = fileURLToPath(new URL("../../dist/bin/strata.js", import.meta.url));

let sourceBundle: string | undefined;

/**
 * The bin bundled from the sources for this test process, built on first use. It sits under
 * the checkout's node_modules so that what it leaves outside (the parser, PGlite, tsx)
 * resolves from there; it is removed when the process exits.
 */
function sourceBin(): string {
  if (sourceBundle === undefined) {
    const dir = fileURLToPath(new URL("../../node_modules/.cache/strata-test-cli/", import.meta.url));
    const file = `${dir}strata-${process.pid}.mjs`;
    mkdirSync(dir, { recursive: true });
    buildSync(binBundleOptions(fileURLToPath(new URL("../../bin/strata.ts", import.meta.url)), file));
    process.on("exit", () => rmSync(file, { force: true }));
    sourceBundle = file;
  }
  return sourceBundle;
}

/** Node's arguments that start the CLI, before the CLI's own. */
function cliArgs(): string[] {
  const mode = process.env.STRATA_TEST_CLI;
  if (mode === "tsx") return ["--import", TSX, MOD];
  if (mode === "dist") return [BIN];
  if (mode !== undefined && mode !== "") throw new Error(`STRATA_TEST_CLI=${mode}: expected tsx or dist, or unset`);
  return [sourceBin()];
}

/** Starts the CLI in `cwd`. */
export function startStrata(args: readonly string[], cwd: string, options: StrataProcessOptions = {}): Running {
  return startProcess(process.execPath, [...cliArgs(), ...args], cwd, options);
}

/** Runs the CLI in `cwd` to the end. */
export function runStrata(args: readonly string[], cwd: string, options: StrataProcessOptions = {}): Promise<Finished> {
  return startStrata(args, cwd, options).done;
}

/** Asserts a finished process's exit code; on a mismatch the message shows its output. */
export function assertExit(out: Finished, code: number): void {
  assert.equal(out.code, code, `exit ${out.code}, expected ${code}\nstderr:\n${out.stderr}\nstdout:\n${out.stdout}`);
}

/**
 * Type-checks one file as a user's project would (strict, NodeNext, .ts imports allowed), with
 * this checkout's TypeScript; resolves to tsc's exit.
 */
export function typecheckFile(file: string, cwd: string): Promise<Finished> {
  const tsc = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url));
  return runProcess(process.execPath, [
    tsc,
    "--noEmit",
    "--strict",
    "--allowJs",
    "--skipLibCheck",
    "--target",
    "es2022",
    "--module",
    "nodenext",
    "--moduleResolution",
    "nodenext",
    "--allowImportingTsExtensions",
    file,
  ], cwd);
}

/** Prepended to runBesideBundle's scripts: the parser's module cannot be loaded. */
const BLOCK_PARSER = `import { register } from "node:module";
const hooks = \`export async function resolve(specifier, context, next) {
  if (specifier === "libpg-query") throw new Error("the parser is not available here");
  return next(specifier, context);
}\`;
register("data:text/javascript," + encodeURIComponent(hooks), import.meta.url);
`;

/**
 * Runs `script` (an ES module given strata's entry URL and the database URL as arguments) in
 * a fresh folder holding only it and a copy of `bundle` as `bundleName`, after checking that
 * no folder named `absent` exists on the way up (so only the bundle can serve it), with the
 * parser's module blocked (`import("libpg-query")` fails), as on an edge runtime. Resolves to
 * the JSON the script printed last; throws with its stderr when it failed.
 */
export async function runBesideBundle(
  bundle: string,
  bundleName: string,
  script: string,
  url: string,
  absent: string,
): Promise<unknown> {
  const app = await mkdtemp(join(tmpdir(), "strata-bundle-app-"));
  try {
    await copyFile(bundle, join(app, bundleName));
    await writeFile(join(app, "run.mjs"), BLOCK_PARSER + script);
    for (let dir = app; dir !== dirname(dir); dir = dirname(dir)) {
      assert.equal(existsSync(join(dir, absent)), false, `${dir}/${absent} must not exist`);
    }
    const out = await runProcess(process.execPath, ["--import", TSX, "run.mjs", pathToFileURL(MOD).href, url], app);
    assert.equal(out.code, 0, `stderr:\n${out.stderr}`);
    return JSON.parse(out.stdout.trim().split("\n").at(-1)!);
  } finally {
    await rm(app, { recursive: true, force: true });
  }
}

/** Whether a process is running (not gone, not a zombie), from /proc. */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \([^)]*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Polls `check` every 50 ms until it holds; throws naming `what` after `limitMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, limitMs = 30_000): Promise<void> {
  const giveUp = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > giveUp) throw new Error(`Gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

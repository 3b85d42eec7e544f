/**
 * The CLI as a real process: `node --import tsx mod.ts ...args`, with stdin a pipe closed at
 * once (never a terminal), no DATABASE_URL or PGPASSWORD inherited, and its output collected.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

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

/**
 * The npm bin (one bundled file, see scripts/bundle_bin.mjs), run instead of the sources
 * when STRATA_TEST_CLI=dist (after `npm run build`), so the CLI tests can check the bundle.
 */
const BIN = fileURLToPath(new URL("../../dist/bin/strata.js", import.meta.url));

/** Starts the CLI in `cwd`. */
export function startStrata(args: readonly string[], cwd: string, options: StrataProcessOptions = {}): Running {
  return process.env.STRATA_TEST_CLI === "dist"
    ? startProcess(process.execPath, [BIN, ...args], cwd, options)
    : startProcess(process.execPath, ["--import", TSX, MOD, ...args], cwd, options);
}

/** Runs the CLI in `cwd` to the end. */
export function runStrata(args: readonly string[], cwd: string, options: StrataProcessOptions = {}): Promise<Finished> {
  return startStrata(args, cwd, options).done;
}

/** Asserts a finished process's exit code; on a mismatch the message shows its output. */
export function assertExit(out: Finished, code: number): void {
  assert.equal(out.code, code, `exit ${out.code}, expected ${code}\nstderr:\n${out.stderr}\nstdout:\n${out.stdout}`);
}

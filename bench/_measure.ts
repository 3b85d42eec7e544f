/**
 * Measuring: the wall time of a whole process (spawn to exit) and its peak resident memory
 * (GNU time's %M, else VmHWM polled from /proc), and median / min / max over runs.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** One timed run. */
export interface Sample {
  ms: number;
  /** Peak resident set size in KiB, when it could be read. */
  peakKb?: number;
}

/** A command to run as a process. */
export interface Command {
  program: string;
  args: readonly string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Exit codes that mean success (default [0]; `diff` exits 1 when the files differ). */
  okCodes?: readonly number[];
}

const GNU_TIME = "/usr/bin/time";
const hasGnuTime = existsSync(GNU_TIME);

/** How peak memory is read: "GNU time", "/proc VmHWM" or "none". */
export const memorySource = hasGnuTime ? "GNU time %M" : process.platform === "linux" ? "/proc VmHWM" : "none";

/** Thrown when a measured process exits non-zero: its exit code and the end of its output. */
export class CommandFailed extends Error {
  readonly command: Command;
  readonly code: number | null;
  readonly output: string;

  constructor(command: Command, code: number | null, output: string) {
    super(`${command.program.split("/").pop()} exited ${code}: ${lastLines(output)}`);
    this.command = command;
    this.code = code;
    this.output = output;
  }
}

function lastLines(text: string): string {
  const lines = text.trim().split("\n").filter((l) => l.trim() !== "");
  return lines.slice(-3).join(" | ").slice(0, 400);
}

/** Runs a command and returns its wall time (spawn to exit) and peak memory; throws {@link CommandFailed} on a non-zero exit. */
export async function timeCommand(command: Command): Promise<Sample> {
  const dir = hasGnuTime ? await mkdtemp(join(tmpdir(), "strata-bench-time-")) : undefined;
  const memFile = dir ? join(dir, "mem") : undefined;
  const [program, args] = memFile
    ? [GNU_TIME, ["-f", "%M", "-o", memFile, command.program, ...command.args]]
    : [command.program, [...command.args]];
  try {
    const started = performance.now();
    const child = spawn(program, args, {
      cwd: command.cwd,
      env: { ...process.env, ...command.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-8192);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    let polledKb = 0;
    const poll = !memFile && process.platform === "linux"
      ? setInterval(() => void vmHwm(child.pid).then((kb) => (polledKb = Math.max(polledKb, kb))), 5)
      : undefined;
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (exitCode) => resolve(exitCode));
    });
    const ms = performance.now() - started;
    if (poll) clearInterval(poll);
    if (!(command.okCodes ?? [0]).includes(code ?? -1)) throw new CommandFailed(command, code, output);
    const peakKb = memFile ? Number((await readFile(memFile, "utf8")).trim().split("\n").pop()) : polledKb;
    return Number.isFinite(peakKb) && peakKb > 0 ? { ms, peakKb } : { ms };
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

async function vmHwm(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Runs a command that is set-up, not measured; throws {@link CommandFailed} on a non-zero exit. */
export async function runCommand(command: Command): Promise<string> {
  const child = spawn(command.program, [...command.args], {
    cwd: command.cwd,
    env: { ...process.env, ...command.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (!(command.okCodes ?? [0]).includes(code ?? -1)) throw new CommandFailed(command, code, output);
  return output;
}

/** Median, min and max of some numbers. */
export interface Stats {
  median: number;
  min: number;
  max: number;
}

/** Median (mean of the middle two for an even count), min and max. */
export function stats(values: readonly number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}

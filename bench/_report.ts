/**
 * Results: per figure, strata's and each reference's median / min / max and peak memory,
 * the ratio to each reference, and the goal's verdict; printed as a table and written as JSON.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Sample } from "./_measure.ts";
import { stats } from "./_measure.ts";

/** A figure's goal: strata's median over a reference's median, or strata's median in ms. */
export type Goal = { reference: string; maxRatio: number } | { maxMs: number };

/** What one contender did over the runs of a figure. */
export interface ContenderResult {
  name: string;
  /** Wall time of each run, ms, in run order. */
  runsMs: number[];
  medianMs?: number;
  minMs?: number;
  maxMs?: number;
  /** The highest peak resident memory over the runs, KiB. */
  peakKb?: number;
  /** strata's median over this contender's median (on references only). */
  ratio?: number;
  /** Why it stopped: the first failed run. */
  error?: string;
  /** Failing at this size is a known fact about the tool (reported, not a failure of the bench). */
  mayFail?: boolean;
}

/** One figure's result. */
export interface FigureResult {
  id: string;
  what: string;
  /** pass / miss: the goal's verdict; failed: strata or a reference failed to run; not available: skipped. */
  status: "pass" | "miss" | "no goal" | "failed" | "not available";
  goal?: Goal;
  /** strata's median over the goal reference's median. */
  ratio?: number;
  strata?: ContenderResult;
  references: ContenderResult[];
  /** Why the figure did not run. */
  unavailable?: string;
}

/** The whole JSON document. */
export interface BenchReport {
  format: "strata-bench/1";
  startedAt: string;
  durationS: number;
  mode: "smoke" | "full";
  runs: number;
  warmup: number;
  commit: string;
  /** Uncommitted changes in the working tree when it ran. */
  dirty: boolean;
  /** dist/ was older than a source file: the bin measured is not the tree's code. */
  distStale: boolean;
  environment: Record<string, string | number>;
  figures: FigureResult[];
}

/** Folds a contender's samples (and error) into a result. */
export function contenderResult(
  name: string,
  samples: readonly Sample[],
  error: string | undefined,
  mayFail: boolean,
): ContenderResult {
  const result: ContenderResult = { name, runsMs: samples.map((s) => round(s.ms)) };
  if (samples.length > 0) {
    const s = stats(samples.map((x) => x.ms));
    Object.assign(result, { medianMs: round(s.median), minMs: round(s.min), maxMs: round(s.max) });
    const peaks = samples.map((x) => x.peakKb ?? 0).filter((kb) => kb > 0);
    if (peaks.length > 0) result.peakKb = Math.max(...peaks);
  }
  if (error !== undefined) result.error = error;
  if (mayFail) result.mayFail = true;
  return result;
}

/** Ratios and the verdict, from the contenders' results. */
export function judge(
  figure: Pick<FigureResult, "id" | "what" | "goal">,
  strata: ContenderResult,
  references: ContenderResult[],
): FigureResult {
  for (const ref of references) {
    if (strata.medianMs !== undefined && ref.medianMs !== undefined && ref.medianMs > 0) {
      ref.ratio = round(strata.medianMs / ref.medianMs, 3);
    }
  }
  const result: FigureResult = { ...figure, status: "no goal", strata, references };
  const goal = figure.goal;
  if (goal && "maxMs" in goal) {
    const failed = strata.error !== undefined || strata.medianMs === undefined ||
      references.some((r) => r.error !== undefined && !r.mayFail);
    result.status = failed ? "failed" : strata.medianMs! <= goal.maxMs ? "pass" : "miss";
    return result;
  }
  const goalRef = goal ? references.find((r) => r.name === goal.reference) : undefined;
  if (goalRef?.ratio !== undefined) result.ratio = goalRef.ratio;
  const failed = strata.error !== undefined || references.some((r) => r.error !== undefined && !r.mayFail) ||
    (goal !== undefined && result.ratio === undefined);
  if (failed) result.status = "failed";
  else if (goal) result.status = result.ratio! <= goal.maxRatio ? "pass" : "miss";
  return result;
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const ms = (value: number | undefined) => (value === undefined ? "" : value.toFixed(value < 100 ? 1 : 0));
const mb = (kb: number | undefined) => (kb === undefined ? "" : (kb / 1024).toFixed(1));

/** The results as a plain-text table, one line per contender. */
export function formatTable(figures: readonly FigureResult[]): string {
  const header = ["figure", "contender", "median ms", "min", "max", "ratio", "goal", "result", "peak MB"];
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const f of figures) {
    if (f.status === "not available") {
      rows.push([f.id, `not available: ${f.unavailable}`, "", "", "", "", "", "", ""]);
      continue;
    }
    const line = (c: ContenderResult, first: boolean, isGoal: boolean) => {
      const failed = c.error !== undefined ? (c.mayFail ? "failed (known)" : "FAILED") : "";
      const verdict = isGoal ? (f.status === "pass" ? "pass" : f.status === "miss" ? "MISS" : "") : "";
      const goal = !isGoal || !f.goal
        ? ""
        : "maxMs" in f.goal
        ? `<=${f.goal.maxMs} ms`
        : `<=${f.goal.maxRatio.toFixed(2)}x`;
      rows.push([
        first ? f.id : "",
        c.name,
        ms(c.medianMs),
        ms(c.minMs),
        ms(c.maxMs),
        c.ratio === undefined ? "" : `${c.ratio.toFixed(2)}x`,
        goal,
        failed || verdict,
        mb(c.peakKb),
      ]);
      if (c.error !== undefined) notes.push(`${f.id} / ${c.name}: ${c.error}`);
    };
    const absolute = f.goal !== undefined && "maxMs" in f.goal;
    if (f.strata) line(f.strata, true, absolute);
    for (const ref of f.references) {
      line(ref, false, f.goal !== undefined && "reference" in f.goal && ref.name === f.goal.reference);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = new Set([2, 3, 4, 5, 8]);
  const format = (r: string[]) =>
    r.map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join("  ").trimEnd();
  const out = [format(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(format)];
  if (notes.length > 0) out.push("", "Failures:", ...notes.map((n) => `  ${n}`));
  return out.join("\n");
}

/** One line: how many figures passed, missed, failed, were not available. */
export function summary(figures: readonly FigureResult[]): string {
  const count = (status: FigureResult["status"]) => figures.filter((f) => f.status === status).length;
  return `${figures.length} figures: ${count("pass")} pass, ${count("miss")} miss, ${count("failed")} failed, ${
    count("no goal")
  } without a goal, ${count("not available")} not available`;
}

/** Writes the report as JSON to each path. */
export async function writeReport(report: BenchReport, paths: readonly string[]): Promise<void> {
  const text = JSON.stringify(report, null, 2) + "\n";
  for (const path of paths) {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
}

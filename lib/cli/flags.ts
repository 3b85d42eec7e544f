/**
 * Command-line flags the way Go's `flag` package reads them (one or two dashes,
 * `-flag value` or `-flag=value`, booleans only as `-flag` or `-flag=false`), so a Makefile
 * written for golang-migrate keeps working. Unlike Go, flags may also follow the command.
 */
import { StrataError } from "../db/strata_error.ts";

/** How a flag takes its value: one string, a boolean, or a string that may repeat. */
export type FlagKind = "string" | "boolean" | "strings";

/** Flags, by name, with their kinds. */
export type FlagSpec = Readonly<Record<string, FlagKind>>;

/** Parsed arguments: flag values by name and the positional words in order. */
export interface ParsedArgs {
  flags: Record<string, string | boolean | string[]>;
  positionals: string[];
}

const TRUE = new Set(["1", "t", "T", "true", "TRUE", "True"]);
const FALSE = new Set(["0", "f", "F", "false", "FALSE", "False"]);

/**
 * Parses argv against a spec. `-1` and other negative numbers are positionals, so
 * `force -1` works without `--`; everything after `--` is positional.
 *
 * @throws {StrataError} USAGE for an unknown flag or a missing value.
 * @example
 * ```ts
 * import { parseArgs } from "./flags.ts";
 * const args = parseArgs(["-path", "db/migrations", "--database=postgres://x", "up", "2", "-verbose"], {
 *   path: "string", database: "string", verbose: "boolean",
 * });
 * console.log(args.flags.path, args.flags.verbose, args.positionals); // db/migrations true ["up", "2"]
 * ```
 */
export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const flags: Record<string, string | boolean | string[]> = {};
  const set = (name: string, value: string) => {
    if (spec[name] === "strings") flags[name] = [...((flags[name] as string[] | undefined) ?? []), value];
    else flags[name] = value;
  };
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-" || /^-[0-9]/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const kind = spec[name];
    if (kind === undefined) {
      const near = closest(name, Object.keys(spec));
      throw new StrataError("USAGE", `Unknown flag: -${name}`, {
        hint: `${near === undefined ? "" : `Did you mean -${near}? `}Run 'strata -help' for the list of flags`,
      });
    }
    if (kind === "boolean") {
      if (eq < 0) flags[name] = true;
      else {
        const value = body.slice(eq + 1);
        if (TRUE.has(value)) flags[name] = true;
        else if (FALSE.has(value)) flags[name] = false;
        else throw new StrataError("USAGE", `Invalid boolean value ${JSON.stringify(value)} for flag -${name}`);
      }
      continue;
    }
    if (eq >= 0) {
      set(name, body.slice(eq + 1));
      continue;
    }
    if (i + 1 >= argv.length) throw new StrataError("USAGE", `Flag needs a value: -${name}`);
    set(name, argv[++i]);
  }
  return { flags, positionals };
}

/** A string flag's value, or undefined. */
export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const value = args.flags[name];
  return typeof value === "string" ? value : undefined;
}

/** A repeatable flag's values (empty when absent). */
export function stringsFlag(args: ParsedArgs, name: string): string[] {
  const value = args.flags[name];
  return Array.isArray(value) ? value : typeof value === "string" ? [value] : [];
}

/** A boolean flag's value (false when absent). */
export function booleanFlag(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true;
}

/**
 * A whole number from a flag or positional, with a usage error naming it otherwise.
 *
 * @throws {StrataError} USAGE
 */
export function parseWholeNumber(value: string, what: string, options: { min?: number } = {}): number {
  if (!/^-?[0-9]+$/.test(value)) {
    throw new StrataError("USAGE", `${what} must be a whole number, got ${JSON.stringify(value)}`);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new StrataError("USAGE", `${what} is too large: ${value}`);
  if (options.min !== undefined && n < options.min) {
    throw new StrataError("USAGE", `${what} must be ${options.min} or more, got ${value}`);
  }
  return n;
}

/**
 * The candidate nearest to a mistyped word (at most two edits away, one for words of three or
 * four letters, none for shorter ones), for "did you mean" hints; undefined when none is that
 * close.
 *
 * @example
 * ```ts
 * import { closest } from "./flags.ts";
 * console.log(closest("dryrun", ["dry-run", "path"])); // "dry-run"
 * ```
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = word.length <= 2 ? 0 : word.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * JSON data seeds: `{ "table": ..., "key": [...], "rows": [...] }`, parsed with errors that
 * name the line and column, and refused when a number would not survive JSON.parse.
 */
import { FileError } from "../db/strata_error.ts";
import type { DataSeed } from "./define_seed.ts";

/**
 * Parses a JSON seed; a syntax error names the line and column. A number with more digits
 * than a double keeps (a bigint id, a long numeric) is refused rather than rounded.
 *
 * @param text the file's text
 * @param file the file's name, for errors
 * @throws {FileError} SEED_INVALID
 * @example
 * ```ts
 * import { parseJsonSeed } from "./parse_json_seed.ts";
 * const seed = parseJsonSeed('{ "table": "orgs", "key": ["slug"], "rows": [{ "slug": "acme" }] }', "001_orgs.json");
 * console.log(seed.table, seed.rows); // "orgs" [{ slug: "acme" }]
 * ```
 */
export function parseJsonSeed(text: string, file: string): DataSeed {
  // A byte-order mark (some Windows editors write one) is not JSON; it is not data either.
  if (text.charCodeAt(0) === 0xfeff) text = ` ${text.slice(1)}`;
  if (text.trim() === "") {
    throw new FileError("SEED_INVALID", "the file is empty", { file }, {
      hint: 'A JSON seed is one object: { "table": "users", "key": ["email"], "rows": [{ "email": "a@example.com" }] }',
    });
  }
  let seed: DataSeed;
  try {
    seed = JSON.parse(text) as DataSeed;
  } catch (error) {
    const message = (error as Error).message;
    // A file cut short: where it ends is where something is missing.
    const end = /Unexpected end of JSON input/.test(message) ? String(text.length) : undefined;
    const position = /position (\d+)/.exec(message)?.[1] ?? end ?? errorOffset(text)?.toString();
    const lineCol = /line (\d+) column (\d+)/.exec(message);
    let line: number | undefined;
    let column: number | undefined;
    if (lineCol) {
      line = Number(lineCol[1]);
      column = Number(lineCol[2]);
    } else if (position !== undefined) {
      // At the end of a file cut short (V8 points past its last newline): its last line.
      const at = Math.min(Number(position), text.trimEnd().length);
      const before = text.slice(0, at);
      line = before.split("\n").length;
      column = at - before.lastIndexOf("\n");
    }
    const reason = message.replace(/^JSON\.parse: /, "").replace(/ in JSON at position \d+.*$/s, "").replace(
      /\s*\(line \d+ column \d+\)$/,
      "",
    ).replace(/^(Unexpected token '.+?'), .* is not valid JSON$/s, "$1");
    throw new FileError("SEED_INVALID", `invalid JSON: ${reason}`, {
      file,
      ...(line === undefined ? {} : { line }),
      ...(column === undefined ? {} : { column }),
      ...(line === undefined ? {} : { excerpt: text.split("\n")[line - 1] ?? "" }),
    }, { cause: error });
  }
  const inexact = inexactNumber(text);
  if (inexact) {
    const before = text.slice(0, inexact.offset);
    const line = before.split("\n").length;
    throw new FileError(
      "SEED_INVALID",
      `the number ${inexact.literal} has more digits than JSON.parse keeps: it would be stored as ${
        String(Number(inexact.literal))
      }`,
      {
        file,
        line,
        column: inexact.offset - before.lastIndexOf("\n"),
        excerpt: text.split("\n")[line - 1] ?? "",
      },
      { hint: `Write it as a string: "${inexact.literal}" (PostgreSQL reads the text exactly)` },
    );
  }
  return seed;
}

/**
 * The first number literal in a JSON text that a double cannot hold: JSON.parse would round it
 * (9007199254740993 becomes ...992; a numeric(40,20) value loses its last digits). Strings are
 * skipped; a literal of 15 significant digits or fewer is always exact.
 */
function inexactNumber(text: string): { literal: string; offset: number } | undefined {
  // Most seeds have no long number and no large exponent: skip the scan (it costs more than the parse).
  if (!/\d[\d.]{15}|[eE][+-]?\d{3}/.test(text)) return undefined;
  const token = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
  for (let match = token.exec(text); match !== null; match = token.exec(text)) {
    const literal = match[0];
    if (literal.startsWith('"')) continue;
    const [mantissa, exponent = "0"] = literal.replace("-", "").split(/[eE]/);
    const digits = mantissa.replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
    const value = Number(literal);
    // Past a double's range: Infinity, or 0 for a number that is not zero.
    if (!Number.isFinite(value) || (value === 0 && digits !== "")) return { literal, offset: match.index };
    if (digits.length <= 15) continue;
    if (!sameDecimal(mantissa, Number(exponent), value)) {
      return { literal, offset: match.index };
    }
  }
  return undefined;
}

/** Whether `mantissa`e`exponent` is exactly the decimal that the double `value` prints as. */
function sameDecimal(mantissa: string, exponent: number, value: number): boolean {
  const normal = (m: string, e: number) => {
    const [whole, fraction = ""] = m.split(".");
    let digits = (whole + fraction).replace(/^0+/, "");
    let scale = e - fraction.length;
    if (digits === "") return "0";
    while (digits.endsWith("0")) {
      digits = digits.slice(0, -1);
      scale++;
    }
    return `${digits}e${scale}`;
  };
  const [printed, printedExponent = "0"] = Math.abs(value).toString().split(/e/);
  return normal(mantissa, exponent) === normal(printed, Number(printedExponent));
}

/**
 * Where JSON.parse stops in a text it rejects, for the messages that do not say (V8's
 * "Unexpected token ']', ... is not valid JSON", a trailing comma). Parsing stops at the first
 * bad character whatever follows it, so the shortest prefix that fails for a reason other than
 * running out of text ends at that character: found by bisection, a few parses of the text
 * (not for texts over 1 MB).
 */
function errorOffset(text: string): number | undefined {
  // Each parse reads up to the whole text: past 1 MB the search would take seconds.
  if (text.length > 1_000_000) return undefined;
  const failsBefore = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return false;
    } catch (error) {
      const message = (error as Error).message;
      if (/Unexpected end of JSON input/.test(message)) return false;
      const at = /position (\d+)/.exec(message)?.[1];
      return at === undefined || Number(at) < length;
    }
  };
  if (!failsBefore(text.length)) return undefined;
  let low = 1;
  let high = text.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (failsBefore(middle)) high = middle;
    else low = middle + 1;
  }
  return low - 1;
}

/**
 * What PostgreSQL 15 and PostgreSQL 16+ (PGlite is 18) print differently for the same
 * object, made the same. The rules are pure text in, text out, and leave text the newer
 * servers print unchanged, so a snapshot file written by either version compares equal.
 */
import { isKeyword, isName, type Token, tokenize } from "./_sql_tokens.ts";

/** A deparsed expression (default, generated column, policy qualifier): printed alike by 15 and 18. */
export function normalizeExpression(text: string): string {
  return text;
}

/** A constraint, index or trigger definition: printed alike by 15 and 18. */
export function normalizeDefinition(text: string): string {
  return text;
}

/**
 * pg_get_indexdef prints `ON ONLY` for an index of a partitioned table: the statement that
 * made it (and the one that remakes it with its partitions' indexes) has a plain `ON`.
 */
export function normalizeIndexDefinition(text: string): string {
  return text.replace(/^(CREATE (?:UNIQUE )?INDEX .*? ON )ONLY /s, "$1");
}

/** pg_get_functiondef output, without its trailing newline. */
export function normalizeFunctionDefinition(text: string): string {
  return text.trimEnd();
}

const SUBQUERY_START = new Set(["SELECT", "WITH", "VALUES", "TABLE"]);
const FROM_END = new Set(["WHERE", "GROUP", "HAVING", "WINDOW", "ORDER", "LIMIT", "OFFSET", "FETCH", "FOR", "QUALIFY"]);

/**
 * pg_get_viewdef output, trimmed and without its semicolon.
 *
 * PostgreSQL 16 stopped storing a view's OLD and NEW placeholder relations, so when the
 * view's top-level query reads a single relation its columns print bare (`SELECT slug FROM
 * app.accounts ORDER BY slug`); PostgreSQL 15 still prefixes them (`SELECT accounts.slug ...
 * ORDER BY accounts.slug`). Subqueries, CTEs and set operations print prefixes on both. This
 * strips the prefix where 16+ would not print one: in the main query of a single-relation
 * FROM, outside sub-selects.
 */
export function normalizeViewDefinition(text: string): string {
  const body = text.trim().replace(/;$/, "");
  const tokens = tokenize(body);
  const significant = tokens.map((token, index) => ({ token, index })).filter((t) => t.token.kind !== "space");

  // Depth of each significant token, and where the main query starts (after WITH ... ( ) lists).
  const depth: number[] = [];
  let level = 0;
  for (const { token } of significant) {
    if (token.text === ")") level--;
    depth.push(level);
    if (token.text === "(") level++;
  }
  let start = 0;
  if (isKeyword(significant[0]?.token, "WITH")) {
    start = significant.findIndex((t, i) => i > 0 && depth[i] === 0 && isKeyword(t.token, "SELECT"));
    if (start < 0) return body;
  }
  if (!isKeyword(significant[start]?.token, "SELECT")) return body;
  const top = (i: number) => depth[i] === 0 && i >= start;
  for (let i = start; i < significant.length; i++) {
    const t = significant[i].token;
    if (top(i) && (isKeyword(t, "UNION") || isKeyword(t, "INTERSECT") || isKeyword(t, "EXCEPT"))) return body;
  }
  const from = significant.findIndex((t, i) => top(i) && isKeyword(t.token, "FROM"));
  if (from < 0) return body;
  let fromEnd = significant.length;
  for (let i = from + 1; i < significant.length; i++) {
    const t = significant[i].token;
    if (top(i) && t.kind === "ident" && FROM_END.has(t.text.toUpperCase())) {
      fromEnd = i;
      break;
    }
  }
  let refname: Token | undefined;
  for (let i = from + 1; i < fromEnd; i++) {
    const t = significant[i].token;
    if (depth[i] !== 0) continue;
    if (t.text === "," || isKeyword(t, "JOIN") || isKeyword(t, "TABLESAMPLE")) return body;
    if (isName(t) && !isKeyword(t, "ONLY") && !isKeyword(t, "LATERAL")) refname = t;
  }
  if (!refname) return body;

  const drop = new Set<number>();
  for (let i = start; i < significant.length; i++) {
    if (i === from) {
      i = fromEnd - 1;
      continue;
    }
    const t = significant[i].token;
    if (t.text === "(" && SUBQUERY_START.has(significant[i + 1]?.token.text.toUpperCase() ?? "")) {
      // A sub-select: skip to its closing parenthesis; its columns keep their prefixes.
      const inner = depth[i] + 1;
      let j = i + 1;
      while (j < significant.length && !(significant[j].token.text === ")" && depth[j] === inner - 1)) j++;
      i = j;
      continue;
    }
    const dot = significant[i + 1]?.token;
    const column = significant[i + 2]?.token;
    const before = significant[i - 1]?.token;
    if (
      t.kind === refname.kind && t.text === refname.text && dot?.text === "." && isName(column) &&
      significant[i + 3]?.token.text !== "(" && before?.text !== "." && before?.text !== "::" &&
      !isKeyword(before, "AS")
    ) {
      drop.add(significant[i].index);
      drop.add(significant[i + 1].index);
    }
  }
  if (drop.size === 0) return body;
  return tokens.filter((_, index) => !drop.has(index)).map((token) => token.text).join("");
}

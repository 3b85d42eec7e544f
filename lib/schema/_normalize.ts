/**
 * What PostgreSQL 15 and PostgreSQL 16+ (PGlite is 18) print differently for the same
 * object, made the same. The rules are pure text in, text out, and leave text the newer
 * servers print unchanged, so a snapshot file written by either version compares equal.
 */
import { isKeyword, isName, nameOf, type Token, tokenize } from "./_sql_tokens.ts";

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
const SORT_ITEM_END = new Set([
  "ASC",
  "DESC",
  "NULLS",
  "USING",
  "LIMIT",
  "OFFSET",
  "FETCH",
  "FOR",
  "ROWS",
  "RANGE",
  "GROUPS",
]);
const FROM_END = new Set(["WHERE", "GROUP", "HAVING", "WINDOW", "ORDER", "LIMIT", "OFFSET", "FETCH", "FOR", "QUALIFY"]);

type Significant = Array<{ token: Token; index: number }>;

/**
 * The sort items whose prefix must stay: a bare name in ORDER BY or DISTINCT ON means an
 * output column of that name before a column of the table, so `ORDER BY events.at` with an
 * output `kind AS at` must keep `events.` or it sorts by kind. PostgreSQL 16+ prints the
 * prefix in that case (a sort item that is a plain column, and an output column of its name
 * that is something else), in every ORDER BY (a window's, an aggregate's too), and never in
 * GROUP BY or PARTITION BY, which prefer the table's columns. Returns the positions (in
 * `significant`) of the prefixes.
 */
function shadowedSortItems(
  significant: Significant,
  depth: number[],
  start: number,
  from: number,
  refname: Token,
): Set<number> {
  const isRef = (i: number) =>
    significant[i]?.token.kind === refname.kind && significant[i].token.text === refname.text &&
    significant[i + 1]?.token.text === "." && isName(significant[i + 2]?.token);
  // The output columns that are not the table's column of the same name.
  const shadowing = new Set<string>();
  let item = start + 1;
  if (isKeyword(significant[item]?.token, "DISTINCT")) {
    item++;
    if (isKeyword(significant[item]?.token, "ON")) {
      item++;
      while (item < from && !(significant[item].token.text === ")" && depth[item] === 0)) item++;
      item++;
    }
  } else if (isKeyword(significant[item]?.token, "ALL")) item++;
  for (let i = item; i <= from; i++) {
    if (i < from && !(depth[i] === 0 && significant[i].token.text === ",")) continue;
    const [first, last] = [item, i - 1];
    item = i + 1;
    if (last - 1 < first || !isKeyword(significant[last - 1].token, "AS")) continue;
    const name = nameOf(significant[last].token);
    const plain = (last - 1 === first + 1 && isName(significant[first].token)) ||
      (last - 1 === first + 3 && isRef(first));
    if (!plain || nameOf(significant[last - 2].token) !== name) shadowing.add(name);
  }
  if (shadowing.size === 0) return new Set();

  const keep = new Set<number>();
  for (let k = start; k < significant.length; k++) {
    const t = significant[k].token;
    const listStart = (isKeyword(t, "BY") && isKeyword(significant[k - 1]?.token, "ORDER")) ||
      (t.text === "(" && isKeyword(significant[k - 1]?.token, "ON") &&
        isKeyword(significant[k - 2]?.token, "DISTINCT"));
    if (!listStart) continue;
    const level = depth[k + 1];
    let itemStart = k + 1;
    for (let j = k + 1; j <= significant.length; j++) {
      const u = significant[j]?.token;
      const ends = u === undefined || depth[j] < level ||
        (depth[j] === level && (u.text === "," || (u.kind === "ident" && SORT_ITEM_END.has(u.text.toUpperCase()))));
      if (!ends) continue;
      if (j === itemStart + 3 && isRef(itemStart) && shadowing.has(nameOf(significant[itemStart + 2].token))) {
        keep.add(itemStart);
      }
      if (u === undefined || depth[j] < level || u.text !== ",") break;
      itemStart = j + 1;
    }
  }
  return keep;
}

/**
 * pg_get_viewdef output, trimmed and without its semicolon.
 *
 * PostgreSQL 16 stopped storing a view's OLD and NEW placeholder relations, so when the
 * view's top-level query reads a single relation its columns print bare (`SELECT slug FROM
 * app.accounts ORDER BY slug`); PostgreSQL 15 still prefixes them (`SELECT accounts.slug ...
 * ORDER BY accounts.slug`). Subqueries, CTEs and set operations print prefixes on both. This
 * strips the prefix where 16+ would not print one: in the main query of a single-relation
 * FROM, outside sub-selects, except where a bare name would mean an output column instead
 * (`ORDER BY events.at` beside an output `kind AS at`; see shadowedSortItems).
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

  const keep = shadowedSortItems(significant, depth, start, from, refname);
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
      !isKeyword(before, "AS") && !keep.has(i)
    ) {
      drop.add(significant[i].index);
      drop.add(significant[i + 1].index);
    }
  }
  if (drop.size === 0) return body;
  return tokens.filter((_, index) => !drop.has(index)).map((token) => token.text).join("");
}

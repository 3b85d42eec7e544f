/**
 * A small lexer for the SQL the server's deparsers print: enough to tell identifiers from
 * string literals and to follow parentheses, not a parser.
 */

/** One lexical token. */
export interface Token {
  kind: "space" | "ident" | "quoted" | "string" | "number" | "punct";
  text: string;
  /** A string, quoted name or comment the text ends inside of. */
  unterminated?: true;
}

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;

/** Splits SQL text into tokens; concatenating their texts gives the input back. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const start = i;
    const c = sql[i];
    if (/\s/.test(c)) {
      while (i < sql.length && /\s/.test(sql[i])) i++;
      tokens.push({ kind: "space", text: sql.slice(start, i) });
    } else if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
      tokens.push({ kind: "space", text: sql.slice(start, i) });
    } else if (c === "/" && sql[i + 1] === "*") {
      // Block comments nest in PostgreSQL.
      let depth = 0;
      while (i < sql.length) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          i += 2;
          if (--depth === 0) break;
        } else i++;
      }
      tokens.push({ kind: "space", text: sql.slice(start, i), ...(depth > 0 ? { unterminated: true } : {}) });
    } else if (c === "'" || ((c === "E" || c === "e") && sql[i + 1] === "'")) {
      const escapes = c !== "'";
      i += escapes ? 2 : 1;
      let closed = false;
      while (i < sql.length) {
        if (escapes && sql[i] === "\\") i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") {
          i++;
          closed = true;
          break;
        } else i++;
      }
      tokens.push({ kind: "string", text: sql.slice(start, i), ...(closed ? {} : { unterminated: true }) });
    } else if (c === "$" && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(sql.slice(i))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i))![0];
      const end = sql.indexOf(tag, i + tag.length);
      i = end < 0 ? sql.length : end + tag.length;
      tokens.push({ kind: "string", text: sql.slice(start, i), ...(end < 0 ? { unterminated: true } : {}) });
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < sql.length) {
        if (sql[i] === '"' && sql[i + 1] === '"') i += 2;
        else if (sql[i] === '"') {
          i++;
          closed = true;
          break;
        } else i++;
      }
      tokens.push({ kind: "quoted", text: sql.slice(start, i), ...(closed ? {} : { unterminated: true }) });
    } else if (IDENT_START.test(c)) {
      while (i < sql.length && IDENT_PART.test(sql[i])) i++;
      tokens.push({ kind: "ident", text: sql.slice(start, i) });
    } else if (/[0-9]/.test(c)) {
      while (i < sql.length && /[0-9.eE]/.test(sql[i])) i++;
      tokens.push({ kind: "number", text: sql.slice(start, i) });
    } else if (c === ":" && sql[i + 1] === ":") {
      i += 2;
      tokens.push({ kind: "punct", text: "::" });
    } else {
      i++;
      tokens.push({ kind: "punct", text: c });
    }
  }
  return tokens;
}

/** True for an identifier token (plain or quoted). */
export function isName(token: Token | undefined): boolean {
  return token !== undefined && (token.kind === "ident" || token.kind === "quoted");
}

/** The name a token stands for: plain identifiers fold to lower case, quoted ones are unquoted. */
export function nameOf(token: Token): string {
  return token.kind === "quoted" ? token.text.slice(1, -1).replaceAll('""', '"') : token.text.toLowerCase();
}

/** True when `token` is the keyword `word` (case-insensitive, never a quoted identifier). */
export function isKeyword(token: Token | undefined, word: string): boolean {
  return token !== undefined && token.kind === "ident" && token.text.toUpperCase() === word;
}

const NAME = `(?:"(?:[^"]|"")+"|[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)`;
const QUALIFIED = new RegExp(`(?<![A-Za-z0-9_$.\u0080-\uffff"])(${NAME})\\.(${NAME})`, "g");

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase();
}

/**
 * Every `schema.name` the text mentions, string literals included
 * (`nextval('app.seq'::regclass)`), as [schema, name] pairs. It may find a pair that is not
 * a reference (`'a.b'` in a literal); callers only keep pairs that name a known object.
 */
export function qualifiedNames(sql: string): Array<[string, string]> {
  const found: Array<[string, string]> = [];
  for (const match of sql.matchAll(QUALIFIED)) found.push([unquote(match[1]), unquote(match[2])]);
  return found;
}

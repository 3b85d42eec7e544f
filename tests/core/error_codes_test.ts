/**
 * The error codes: every code StrataErrorCode lists is one strata puts on an error somewhere
 * in lib/ and is in the README's "Error codes" table, and every code that table documents is
 * in StrataErrorCode. The codes are read with the TypeScript parser, so a code named only in
 * a comment does not count.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DECLARATION = "lib/db/strata_error.ts";

function parse(path: string): ts.SourceFile {
  return ts.createSourceFile(path, readFileSync(join(ROOT, path), "utf8"), ts.ScriptTarget.Latest, true);
}

/** The string literals of StrataErrorCode's union, in order. */
function declaredCodes(): string[] {
  const source = parse(DECLARATION);
  const alias = source.statements.find((node): node is ts.TypeAliasDeclaration =>
    ts.isTypeAliasDeclaration(node) && node.name.text === "StrataErrorCode"
  );
  assert.ok(alias && ts.isUnionTypeNode(alias.type), `${DECLARATION} declares StrataErrorCode as a union`);
  return alias.type.types.map((member) => {
    assert.ok(ts.isLiteralTypeNode(member) && ts.isStringLiteral(member.literal));
    return member.literal.text;
  });
}

/** Every string literal in lib/ outside StrataErrorCode's declaration, with the files it is in. */
function literalsInLib(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const files = readdirSync(join(ROOT, "lib"), { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => relative(ROOT, join(ROOT, "lib", name)).split(sep).join("/"));
  for (const file of files) {
    const visit = (node: ts.Node): void => {
      if (ts.isTypeAliasDeclaration(node) && node.name.text === "StrataErrorCode") return;
      if (ts.isStringLiteralLike(node)) found.set(node.text, [...(found.get(node.text) ?? []), file]);
      ts.forEachChild(node, visit);
    };
    visit(parse(file));
  }
  return found;
}

/** The codes in the first column of the README's "Error codes" table. */
function readmeCodes(): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.split(/^## Error codes$/m)[1]?.split(/^## /m)[0];
  assert.ok(section, 'README.md has a "## Error codes" section');
  return [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1]);
}

test("every code StrataErrorCode lists is one lib/ uses", () => {
  const literals = literalsInLib();
  const unused = declaredCodes().filter((code) => !literals.has(code));
  assert.deepEqual(unused, [], `codes in StrataErrorCode that nothing in lib/ raises: ${unused.join(", ")}`);
});

test("the README's error code table documents exactly the codes of StrataErrorCode", () => {
  const declared = declaredCodes();
  const documented = readmeCodes();
  assert.deepEqual(declared.filter((code) => !documented.includes(code)), [], "declared but not in the README");
  assert.deepEqual(documented.filter((code) => !declared.includes(code)), [], "in the README but not declared");
  assert.equal(new Set(documented).size, documented.length, "each code once in the README");
});

/**
 * The runtime boundary. lib/db, lib/migrate, lib/seed, lib/schema and lib/lint (the core)
 * run on Node, Deno and edge runtimes, so they never reach `node:*`, zx, `process`, `Deno`,
 * lib/io or lib/cli; and the `./core` entry bundles for a neutral platform with no Node
 * built-in. The imports are read with the TypeScript parser (comments and strings cannot
 * fool it), and the bundle is made by esbuild.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type BuildFailure, type Message, type Metafile } from "esbuild";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CORE_DIRS = ["lib/db", "lib/migrate", "lib/seed", "lib/schema", "lib/lint"];
const DRIVERS = ["postgres", "@electric-sql/pglite", "pg-connection-string"];
const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** One module specifier found in a file. */
interface ImportRef {
  specifier: string;
  line: number;
  /** True when nothing is imported at run time (`import type`, `typeof import()`, all-type bindings). */
  typeOnly: boolean;
}

/** A name a file reads from the host runtime (`process`, `Deno`, `globalThis.process`). */
interface GlobalRef {
  name: string;
  line: number;
}

function rel(path: string): string {
  return relative(ROOT, path).split(sep).join("/");
}

function tsFiles(dir: string): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(abs, name))
    .sort();
}

const CORE_FILES = CORE_DIRS.flatMap(tsFiles);
const LIB_FILES = tsFiles("lib");

function scan(text: string, fileName = "file.ts"): { imports: ImportRef[]; globals: GlobalRef[] } {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const imports: ImportRef[] = [];
  const globals: GlobalRef[] = [];
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const add = (literal: ts.Node | undefined, typeOnly: boolean) => {
    if (literal && ts.isStringLiteralLike(literal)) {
      imports.push({ specifier: literal.text, line: lineOf(literal), typeOnly });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const typeOnly = clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) &&
            bindings.elements.length > 0 && bindings.elements.every((element) => element.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      const clause = node.exportClause;
      const typeOnly = node.isTypeOnly ||
        (clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 &&
          clause.elements.every((element) => element.isTypeOnly));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node)) {
      const argument = node.argument;
      if (ts.isLiteralTypeNode(argument)) add(argument.literal, true);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === "require")) {
        add(node.arguments[0], false);
      }
    } else if (ts.isIdentifier(node) && (node.text === "process" || node.text === "Deno")) {
      const parent = node.parent;
      const isPropertyName = (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        (ts.isPropertyAssignment(parent) && parent.name === node) ||
        (ts.isMethodDeclaration(parent) && parent.name === node) ||
        (ts.isPropertyDeclaration(parent) && parent.name === node) ||
        (ts.isPropertySignature(parent) && parent.name === node) ||
        (ts.isBindingElement(parent) && parent.propertyName === node);
      if (!isPropertyName) {
        globals.push({ name: node.text, line: lineOf(node) });
      } else if (
        ts.isPropertyAccessExpression(parent) && ts.isIdentifier(parent.expression) &&
        (parent.expression.text === "globalThis" || parent.expression.text === "window" ||
          parent.expression.text === "self")
      ) {
        globals.push({ name: `${parent.expression.text}.${node.text}`, line: lineOf(node) });
      }
    } else if (
      ts.isElementAccessExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "globalThis" &&
      ts.isStringLiteralLike(node.argumentExpression) &&
      (node.argumentExpression.text === "process" || node.argumentExpression.text === "Deno")
    ) {
      globals.push({ name: `globalThis["${node.argumentExpression.text}"]`, line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { imports, globals };
}

const scanned = new Map<string, ReturnType<typeof scan>>();

function scanFile(file: string): ReturnType<typeof scan> {
  let result = scanned.get(file);
  if (!result) {
    result = scan(readFileSync(file, "utf8"), file);
    scanned.set(file, result);
  }
  return result;
}

/** The repository-relative path a relative specifier points at, or undefined for a package. */
function target(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".") && !specifier.startsWith("/")) return undefined;
  return rel(resolve(dirname(file), specifier));
}

function isUnder(path: string | undefined, dir: string): boolean {
  return path !== undefined && (path === dir || path.startsWith(`${dir}/`));
}

function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** Every import in `files` for which `why` returns a reason, as `file:line: reason`. */
function importViolations(files: string[], why: (ref: ImportRef, file: string) => string | undefined): string[] {
  return files.flatMap((file) =>
    scanFile(file).imports.flatMap((ref) => {
      const reason = why(ref, file);
      return reason ? [`${rel(file)}:${ref.line}: ${reason}`] : [];
    })
  );
}

function coreImportProblem(ref: ImportRef, file: string): string | undefined {
  const { specifier } = ref;
  if (NODE_BUILTINS.has(specifier) || specifier.startsWith("node:")) return `imports the Node built-in "${specifier}"`;
  if (packageName(specifier) === "zx") return `imports zx ("${specifier}")`;
  const path = target(file, specifier);
  if (path === undefined) return undefined;
  if (isUnder(path, "lib/io") || isUnder(path, "lib/cli")) return `imports runtime-bound code "${specifier}" (${path})`;
  if (!CORE_DIRS.some((dir) => isUnder(path, dir))) return `imports "${specifier}" (${path}), outside the core folders`;
  return undefined;
}

test("the boundary scanner finds static, dynamic, re-exported and required imports and runtime globals", () => {
  const { imports, globals } = scan(
    [
      `// import "node:comment" and process.env in a comment are ignored`,
      `import { readFile } from "node:fs/promises";`,
      `import type { Sql } from "postgres";`,
      `import { type A, type B } from "@electric-sql/pglite";`,
      `export { x } from "../io/x.ts";`,
      `const text = "process.env and import('node:string') in a string";`,
      `const m = await import("zx");`,
      `const fs = require("fs");`,
      `type P = typeof import("node:os");`,
      `const env = process.env; const { args } = Deno; const g = globalThis.process;`,
      `const ok = { process: 1 }.process;`,
    ].join("\n"),
  );
  assert.deepEqual(imports, [
    { specifier: "node:fs/promises", line: 2, typeOnly: false },
    { specifier: "postgres", line: 3, typeOnly: true },
    { specifier: "@electric-sql/pglite", line: 4, typeOnly: true },
    { specifier: "../io/x.ts", line: 5, typeOnly: false },
    { specifier: "zx", line: 7, typeOnly: false },
    { specifier: "fs", line: 8, typeOnly: false },
    { specifier: "node:os", line: 9, typeOnly: true },
  ]);
  assert.deepEqual(globals, [
    { name: "process", line: 10 },
    { name: "Deno", line: 10 },
    { name: "globalThis.process", line: 10 },
  ]);
});

test("the core folders hold the migrator's modules", () => {
  assert.ok(CORE_FILES.some((file) => rel(file) === "lib/migrate/migrator.ts"), "lib/migrate/migrator.ts is missing");
  assert.ok(CORE_FILES.length >= 10, `only ${CORE_FILES.length} core files found under ${CORE_DIRS.join(", ")}`);
});

test("core modules import no node: built-in, zx, lib/io or lib/cli", () => {
  assert.deepEqual(importViolations(CORE_FILES, coreImportProblem), []);
});

test("core modules never mention process or Deno", () => {
  const found = CORE_FILES.flatMap((file) =>
    scanFile(file).globals.map((ref) =>
      `${rel(file)}:${ref.line}: mentions ${ref.name} (take it as a parameter instead)`
    )
  );
  assert.deepEqual(found, []);
});

test("migrate, seed, schema and lint import no driver value (they take a Database)", () => {
  const files = CORE_FILES.filter((file) => !isUnder(rel(file), "lib/db"));
  const found = importViolations(
    files,
    (ref) =>
      !ref.typeOnly && DRIVERS.includes(packageName(ref.specifier))
        ? `imports the driver "${ref.specifier}" as a value`
        : undefined,
  );
  assert.deepEqual(found, []);
});

test("lib/db imports nothing from the folders above it", () => {
  const files = CORE_FILES.filter((file) => isUnder(rel(file), "lib/db"));
  const found = importViolations(files, (ref, file) => {
    const path = target(file, ref.specifier);
    return path !== undefined && !isUnder(path, "lib/db")
      ? `imports "${ref.specifier}" (${path}) from above lib/db`
      : undefined;
  });
  assert.deepEqual(found, []);
});

test("lib/io never imports lib/cli", () => {
  const found = importViolations(tsFiles("lib/io"), (ref, file) => {
    const path = target(file, ref.specifier);
    return isUnder(path, "lib/cli") ? `imports "${ref.specifier}" (${path})` : undefined;
  });
  assert.deepEqual(found, []);
});

test("nothing in lib/ imports tests/, scripts/, bench/ or the entry files", () => {
  const outside = ["tests", "scripts", "bench", "bin", "mod.ts", "core.ts"];
  const found = importViolations(LIB_FILES, (ref, file) => {
    const path = target(file, ref.specifier);
    return outside.some((dir) => isUnder(path, dir)) ? `imports "${ref.specifier}" (${path})` : undefined;
  });
  assert.deepEqual(found, []);
});

test("core.ts re-exports only core modules", () => {
  const file = join(ROOT, "core.ts");
  assert.deepEqual(importViolations([file], coreImportProblem), []);
});

// libpg-query (the real PostgreSQL parser, used by lib/migrate/sql_script.ts) is WASM behind
// Emscripten's glue (node_modules/libpg-query/wasm/libpg-query.js). That glue is one file for
// every platform: it `require`s node:fs and node:crypto only inside its ENVIRONMENT_IS_NODE
// branches, and elsewhere uses fetch and crypto.getRandomValues. A bundler cannot see that
// the branches are dead, so the loader is left external here; the next test proves the glue's
// two requires are the only Node built-ins anything in ./core reaches.
const WASM_LOADERS = ["libpg-query"];
const ALLOWED_LOADER_BUILTINS = [
  { file: "node_modules/libpg-query/wasm/libpg-query.js", builtin: "node:fs" },
  { file: "node_modules/libpg-query/wasm/libpg-query.js", builtin: "node:crypto" },
];

function describeMessages(messages: Message[]): string[] {
  return messages.map((message) =>
    `${message.location ? `${message.location.file}:${message.location.line}: ` : ""}${message.text.split("\n")[0]}`
  );
}

async function bundle(external: string[]): Promise<{ text: string; metafile: Metafile } | { errors: Message[] }> {
  try {
    // What an edge runtime's bundler would make of `./core`: neutral platform (no Node
    // built-in available), ESM, packages resolved the way Cloudflare's and Vercel's resolve them.
    const result = await build({
      entryPoints: [join(ROOT, "core.ts")],
      absWorkingDir: ROOT,
      bundle: true,
      platform: "neutral",
      format: "esm",
      target: "es2022",
      write: false,
      metafile: true,
      logLevel: "silent",
      mainFields: ["module", "main"],
      conditions: ["workerd", "worker", "edge-light"],
      external,
    });
    return { text: result.outputFiles[0].text, metafile: result.metafile };
  } catch (error) {
    const errors = (error as BuildFailure).errors;
    if (!Array.isArray(errors)) throw error;
    return { errors };
  }
}

/** Module specifiers in bundled JavaScript that name a Node built-in (`node:x`, or a bare `fs`). */
function builtinReferences(text: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"']+)["']/g;
  const found = new Set<string>();
  for (const match of text.matchAll(pattern)) {
    if (match[1].startsWith("node:") || NODE_BUILTINS.has(match[1])) found.add(match[1]);
  }
  for (const match of text.matchAll(/["'](node:[a-z_/]+)["']/g)) found.add(match[1]);
  return [...found].sort();
}

test("core.ts bundles for a neutral platform without any Node built-in", async () => {
  const result = await bundle(WASM_LOADERS);
  assert.ok(
    !("errors" in result),
    `esbuild could not bundle core.ts:\n${"errors" in result ? describeMessages(result.errors).join("\n") : ""}`,
  );
  assert.deepEqual(builtinReferences(result.text), [], "the bundle of core.ts names Node built-ins");
  const inputs = Object.keys(result.metafile.inputs).map((path) => path.split(sep).join("/"));
  const strays = inputs.filter((path) =>
    path !== "core.ts" && !CORE_DIRS.some((dir) => isUnder(path, dir)) && !path.includes("node_modules/")
  );
  assert.deepEqual(strays, [], "the bundle of core.ts pulls in modules outside the core folders");
  const externals = Object.values(result.metafile.outputs).flatMap((output) =>
    output.imports.filter((entry) => entry.external).map((entry) => entry.path)
  );
  assert.deepEqual(
    [...new Set(externals)].sort(),
    [...WASM_LOADERS].sort(),
    "unexpected external imports in the bundle of core.ts",
  );
});

test("the only Node built-ins core reaches are libpg-query's Node-only WASM loading branches", async () => {
  const result = await bundle([]);
  if (!("errors" in result)) {
    assert.deepEqual(builtinReferences(result.text), [], "the unexternalised bundle of core.ts names Node built-ins");
    return;
  }
  const unexpected = result.errors.filter((error) => {
    const builtin = /^Could not resolve "([^"]+)"/.exec(error.text)?.[1];
    const file = error.location?.file.split(sep).join("/");
    return !ALLOWED_LOADER_BUILTINS.some((allowed) => builtin === allowed.builtin && file?.endsWith(allowed.file));
  });
  assert.deepEqual(describeMessages(unexpected), []);
});

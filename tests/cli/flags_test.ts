import assert from "node:assert/strict";
import { test } from "node:test";
import { parseArgs, parseWholeNumber } from "../../lib/cli/flags.ts";
import { COMMAND_FLAGS, GLOBAL_FLAGS, USAGE } from "../../lib/cli/run_cli.ts";

const SPEC = {
  path: "string",
  database: "string",
  verbose: "boolean",
  f: "boolean",
  all: "boolean",
  track: "strings",
} as const;

test("flags take one or two dashes and -flag value or -flag=value, like Go's flag package", () => {
  const args = parseArgs(["-path", "db/migrations", "--database=postgres://u@h/db?x=1", "--verbose", "up", "2"], SPEC);
  assert.deepEqual(args.flags, { path: "db/migrations", database: "postgres://u@h/db?x=1", verbose: true });
  assert.deepEqual(args.positionals, ["up", "2"]);
});

test("flags may follow the command, and boolean flags accept =false", () => {
  const args = parseArgs(["drop", "-f", "-verbose=false"], SPEC);
  assert.deepEqual(args.flags, { f: true, verbose: false });
  assert.deepEqual(args.positionals, ["drop"]);
});

test("negative numbers are positionals, so force -1 needs no --", () => {
  assert.deepEqual(parseArgs(["force", "-1"], SPEC).positionals, ["force", "-1"]);
  assert.deepEqual(parseArgs(["force", "--", "-1"], SPEC).positionals, ["force", "-1"]);
});

test("unknown flags, missing values and bad booleans are usage errors", () => {
  assert.throws(() => parseArgs(["-nope"], SPEC), { code: "USAGE", message: "Unknown flag: -nope" });
  assert.throws(() => parseArgs(["-path"], SPEC), { code: "USAGE", message: "Flag needs a value: -path" });
  assert.throws(() => parseArgs(["-f=maybe"], SPEC), { code: "USAGE" });
});

test("parseWholeNumber rejects fractions, words and values below the minimum", () => {
  assert.equal(parseWholeNumber("15", "-lock-timeout", { min: 0 }), 15);
  assert.throws(() => parseWholeNumber("1.5", "N"), { code: "USAGE" });
  assert.throws(() => parseWholeNumber("two", "N"), { code: "USAGE" });
  assert.throws(() => parseWholeNumber("0", "N", { min: 1 }), { code: "USAGE", message: "N must be 1 or more, got 0" });
});

test("a repeatable flag collects every value in order", () => {
  const args = parseArgs(["up", "-track", "system:a:t1", "--track=user:b:t2"], SPEC);
  assert.deepEqual(args.flags.track, ["system:a:t1", "user:b:t2"]);
});

test("-help names every flag each command accepts, on that command's lines, and every global flag", () => {
  const [commands, flags] = USAGE.split("\nCommands:\n")[1].split("\nFlags");
  // An entry is a command's line and the more-indented lines under it.
  const entries = commands.split(/\n(?=  [a-z])/).map((entry) => entry.trim());
  const missing: string[] = [];
  for (const [command, spec] of Object.entries(COMMAND_FLAGS)) {
    const text = entries.filter((entry) => entry.split(/\s/)[0] === command).join("\n");
    assert.notEqual(text, "", `${command} has a line in -help`);
    for (const flag of Object.keys(spec)) {
      if (!new RegExp(`(^|[\\s\\[|])-${flag}\\b`).test(text)) missing.push(`${command} -${flag}`);
    }
  }
  const globals = USAGE.split("\n")[0] + flags;
  for (const flag of Object.keys(GLOBAL_FLAGS)) {
    if (flag === "help" || flag === "h") continue; // -help prints this text
    if (!new RegExp(`(^|[\\s\\[|])-${flag}\\b`).test(globals)) missing.push(`-${flag}`);
  }
  assert.deepEqual(missing, []);
});

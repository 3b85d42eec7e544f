/**
 * What a process leaves when it exits in the middle (a second Ctrl-C ends strata with
 * process.exit): the client programs it started are killed, the files it was writing removed.
 * A real child process runs a real `sleep` and exits under it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "../_support/backends.ts";
import { alive, runScript } from "../_support/run_strata.ts";

test("a process that exits while a program it started runs kills the program and removes the files it was writing", async () => {
  const dir = await tempDir("strata-exit-cleanup-");
  try {
    const partial = join(dir.path, "backup.dump.partial");
    const folder = join(dir.path, "backup.dir.partial");
    const script = join(dir.path, "exit_midway.ts");
    const lib = (path: string) => JSON.stringify(fileURLToPath(new URL(`../../lib/io/${path}`, import.meta.url)));
    await writeFile(
      script,
      `import { mkdirSync, writeFileSync } from "node:fs";
import process from "node:process";
import { removeOnExit } from ${lib("exit_cleanup.ts")};
import { runProgram } from ${lib("pg_tools.ts")};
writeFileSync(${JSON.stringify(partial)}, "half a dump");
mkdirSync(${JSON.stringify(folder)});
writeFileSync(${JSON.stringify(join(folder, "toc.dat"))}, "half");
removeOnExit(${JSON.stringify(partial)});
removeOnExit(${JSON.stringify(folder)});
void runProgram("sleep", ["30"], {
  onSpawn: (pid) => {
    process.stdout.write(pid + "\\n");
    process.exit(143);
  },
});
`,
    );
    const out = await runScript(script, [], dir.path);
    assert.equal(out.code, 143, out.stderr);
    const pid = Number(out.stdout.trim());
    assert.ok(pid > 0, out.stdout);
    const giveUp = Date.now() + 5000;
    while (alive(pid) && Date.now() < giveUp) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(alive(pid), false, `sleep ${pid} outlived the process that started it`);
    assert.equal(existsSync(partial), false, "the partial file stayed");
    assert.equal(existsSync(folder), false, "the partial folder stayed");
  } finally {
    await dir.remove();
  }
});

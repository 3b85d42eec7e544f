/**
 * A real password check: a private PostgreSQL cluster with SCRAM authentication, started
 * for this file only, and the CLI run against it with the right and the wrong password.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runStrata } from "../_support/run_strata.ts";
import { type ScramCluster, scramClusterUnavailable, startScramCluster } from "../_support/scram_cluster.ts";

const RIGHT_PASSWORD = "c0rrect-H0rse-7q";
const WRONG_PASSWORD = "wr0ng-Batt3ry-9z";

let cluster: ScramCluster | undefined;
let unavailable: string | undefined;

before(async () => {
  unavailable = await scramClusterUnavailable();
  if (unavailable !== undefined) return;
  cluster = await startScramCluster({ password: RIGHT_PASSWORD, prefix: "strata-auth-" });
});

after(async () => {
  await cluster?.stop();
});

function urlWith(password: string): string {
  return cluster!.url(password);
}

function assertNoPassword(text: string): void {
  assert.ok(!text.includes(RIGHT_PASSWORD), `the right password was printed:\n${text}`);
  assert.ok(!text.includes(WRONG_PASSWORD), `the wrong password was printed:\n${text}`);
}

test("the right password logs in to a SCRAM server: version says no migration, then up applies", async (t) => {
  if (!cluster) return t.skip(unavailable ?? "no private cluster");
  const work = await mkdtemp(join(tmpdir(), "strata-auth-work-"));
  try {
    const version = await runStrata(["-database", urlWith(RIGHT_PASSWORD), "version"], work);
    assert.equal(version.code, 1, version.stderr);
    assert.match(version.stderr, /no migration/);
    assertNoPassword(version.stdout + version.stderr);

    await writeFile(join(work, "1_a.up.sql"), "CREATE TABLE auth_a (id int);\n");
    const up = await runStrata(["-database", urlWith(RIGHT_PASSWORD), "-path", work, "up"], work);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stderr, /^1\/u a /m);
    assertNoPassword(up.stdout + up.stderr);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

test("a wrong password fails with exit 1, says the login failed and prints neither password", async (t) => {
  if (!cluster) return t.skip(unavailable ?? "no private cluster");
  const work = await mkdtemp(join(tmpdir(), "strata-auth-work-"));
  try {
    const out = await runStrata(["-database", urlWith(WRONG_PASSWORD), "up"], work);
    assert.equal(out.code, 1, out.stderr);
    assert.match(out.stderr, /Cannot log in/);
    assert.match(out.stderr, /password authentication failed/);
    assertNoPassword(out.stdout + out.stderr);

    const json = await runStrata(["-json", "-database", urlWith(WRONG_PASSWORD), "up"], work);
    assert.equal(json.code, 1, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, "AUTH_FAILED");
    assertNoPassword(json.stdout + json.stderr);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

/**
 * The migration checksum is SHA-256 of the file's UTF-8 text, the digest sha256sum prints,
 * whether it comes from the folder's native hash or from the text (bundles, memory sources).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { directorySource } from "../../lib/io/directory_source.ts";
import { sha256Hex, sha256HexSync } from "../../lib/migrate/history.ts";
import { tempDir } from "../_support/backends.ts";

const reference = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const TEXTS = [
  "",
  "abc",
  "é",
  "日本語のコメント",
  "emoji 🚀 and \u0000 nul",
  "-- ü\r\nCREATE TABLE t ();\n",
  "x".repeat(100_000),
];

test("sha256Hex is the SHA-256 of the text's UTF-8 bytes, as node:crypto and sha256sum give it", async () => {
  assert.equal(await sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  for (const text of TEXTS) {
    assert.equal(sha256HexSync(text), reference(text), JSON.stringify(text.slice(0, 20)));
    assert.equal(await sha256Hex(text), reference(text));
  }
});

test("the folder's native checksum equals sha256Hex of the text read() returns, invalid UTF-8 included", async (t) => {
  const dir = await tempDir("strata-checksum-");
  t.after(() => dir.remove());
  const files: Array<[string, Uint8Array]> = TEXTS.map((
    text,
    i,
  ) => [`${i + 1}_t.up.sql`, new TextEncoder().encode(text)]);
  // A stray Latin-1 byte: read() gives U+FFFD for it, and the checksum must be of that text.
  files.push([`${files.length + 1}_latin1.up.sql`, Uint8Array.from([0x2d, 0x2d, 0x20, 0xe9, 0x0a])]);
  for (const [name, bytes] of files) await writeFile(join(dir.path, name), bytes);
  const source = directorySource(dir.path);
  for (const [name] of files) {
    assert.equal(await source.checksum(name), await sha256Hex(await source.read(name)), name);
  }
});

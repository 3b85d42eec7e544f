/** The migration checksum is SHA-256 of the file's UTF-8 text, the same digest sha256sum prints. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { sha256HexSync as sha256Hex } from "../../lib/migrate/history.ts";

const reference = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

test("sha256Hex matches node:crypto at every length around the 64-byte block boundaries", () => {
  for (let length = 0; length <= 300; length++) {
    const text = "x".repeat(length);
    assert.equal(sha256Hex(text), reference(text), `length ${length}`);
  }
});

test("sha256Hex hashes multi-byte text as UTF-8 and matches node:crypto on random input", () => {
  for (const text of ["é", "日本語のコメント", "emoji 🚀 and \u0000 nul", "-- ü\r\nCREATE TABLE t ();\n"]) {
    assert.equal(sha256Hex(text), reference(text), text);
  }
  for (let i = 0; i < 200; i++) {
    const text = randomBytes(1 + (i * 37) % 5000).toString("base64") + "ü€𝄞".repeat(i % 7);
    assert.equal(sha256Hex(text), reference(text));
  }
  assert.equal(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

/**
 * The development admin: admin@datafly.local / datafly. The password is hashed with
 * PBKDF2-SHA256 through Web Crypto, so the seed runs the same on Node, Deno and the edge.
 * Existing rows are left alone, so re-running never changes a password someone set.
 */
import { defineSeed } from "../mod.ts";

async function hashPassword(password: string): Promise<string> {
  const iterations = 210_000;
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
  const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
  return `pbkdf2_sha256$${iterations}$${b64(salt)}$${b64(new Uint8Array(bits))}`;
}

export default defineSeed({
  table: "users",
  key: ["email"],
  rows: async ({ query }) => {
    const [org] = await query<{ id: string }>("SELECT id::text FROM organisations WHERE slug = $1", ["default"]);
    if (!org) throw new Error("The default organisation is missing: 001_organisations.json runs first");
    return [{
      organisation_id: org.id,
      email: "admin@datafly.local",
      name: "Admin",
      password_hash: await hashPassword("datafly"),
      role: "owner",
    }];
  },
});

/**
 * The bench's own databases on the local server: each measured run gets a fresh one,
 * dropped afterwards (and all of them at exit, whatever happened).
 */
import process from "node:process";
import postgres from "postgres";

/** The server the bench uses (any database on it; the bench creates its own). */
export const SERVER_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Opens the admin connection; call {@link Databases.close} at the end. */
export class Databases {
  readonly #sql: postgres.Sql;
  readonly #live = new Set<string>();
  #counter = 0;

  constructor() {
    this.#sql = postgres(SERVER_URL, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  }

  /** The server's version, which also checks that it answers. */
  async serverVersion(): Promise<string> {
    const [row] = await this.#sql`SELECT current_setting('server_version') AS version`;
    return String(row.version);
  }

  /** Creates an empty database (a copy of `template` when given) and returns its URL. */
  async create(tag: string, template?: string): Promise<string> {
    const name = `strata_bench_${process.pid}_${++this.#counter}_${tag.replace(/[^a-z0-9]/g, "_")}`.slice(0, 63);
    if (template !== undefined) {
      const from = decodeURIComponent(new URL(template).pathname.slice(1));
      await this.#sql`CREATE DATABASE ${this.#sql(name)} TEMPLATE ${this.#sql(from)}`;
      this.#live.add(name);
      return urlFor(name);
    }
    await this.#sql`CREATE DATABASE ${this.#sql(name)}`;
    this.#live.add(name);
    return urlFor(name);
  }

  /** Drops a database this object created (connections to it are closed first). */
  async drop(url: string): Promise<void> {
    const name = decodeURIComponent(new URL(url).pathname.slice(1));
    if (!this.#live.has(name)) return;
    await this.#sql`DROP DATABASE IF EXISTS ${this.#sql(name)} WITH (FORCE)`;
    this.#live.delete(name);
  }

  /** Drops every database still alive and closes the admin connection. */
  async close(): Promise<void> {
    for (const name of [...this.#live]) await this.drop(urlFor(name)).catch(() => {});
    await this.#sql.end({ timeout: 1 });
  }
}

/** The URL of a database on the bench's server. */
export function urlFor(name: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.href;
}

/** The URL with `sslmode=disable` (dbmate and node-pg-migrate otherwise try TLS first or fail). */
export function withSslDisabled(url: string): string {
  const u = new URL(url);
  u.searchParams.set("sslmode", "disable");
  return u.href;
}

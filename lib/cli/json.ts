/**
 * JSON for -json output: bigint versions are written as plain JSON numbers, exact even past
 * 2^53 (unixNano versions are 19 digits).
 *
 * @example
 * ```ts
 * import { toJson } from "./json.ts";
 * console.log(toJson({ version: 1700000000000000000n })); // {"version":1700000000000000000}
 * ```
 */
export function toJson(value: unknown): string {
  const marker = "\u0000bigint:";
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? `${marker}${v}` : v))
    .replace(/"\\u0000bigint:(-?[0-9]+)"/g, "$1");
}

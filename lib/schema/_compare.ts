/** Ordering and canonical text shared by the snapshot, diff and SQL modules. */

/** Compares strings by UTF-16 code units: the same order in every runtime and locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares tuples of strings element by element. */
export function compareKeys(a: readonly string[], b: readonly string[]): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const order = compareText(a[i], b[i]);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

/** Sorts a copy of `items` by the key tuple `key` returns. */
export function sortBy<T>(items: readonly T[], key: (item: T) => readonly string[]): T[] {
  return items.map((item) => ({ item, key: key(item) }))
    .sort((a, b) => compareKeys(a.key, b.key))
    .map((entry) => entry.item);
}

/** JSON with object keys sorted at every level: equal data gives equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort(compareText)) {
      const field = (value as Record<string, unknown>)[key];
      if (field !== undefined) out[key] = canonical(field);
    }
    return out;
  }
  return value;
}

/**
 * Deep equality of JSON-like data, an undefined field counting as absent (so it agrees with
 * comparing {@linkcode canonicalJson} texts, without writing them, for what snapshots hold:
 * strings, booleans, null, arrays and plain objects; unlike JSON it tells NaN from NaN and
 * `[undefined]` from `[null]`). `skip` names top-level fields left out of the comparison.
 */
export function sameData(a: unknown, b: unknown, skip?: readonly string[]): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let fields = 0;
  for (const key in x) {
    if (x[key] === undefined || skip?.includes(key)) continue;
    if (!sameData(x[key], y[key])) return false;
    fields++;
  }
  for (const key in y) {
    if (y[key] !== undefined && !skip?.includes(key)) fields--;
  }
  return fields === 0;
}

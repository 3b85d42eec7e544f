/**
 * Dependency order between a snapshot's objects. Dependencies come from the names each
 * definition mentions: the snapshot is taken with an empty search_path, so the server's
 * deparsers qualify every reference (`public.users`, `'public.seq'::regclass`,
 * `public.touch()`), and a name that matches an object of the snapshot is a dependency.
 */
import { compareText } from "./_compare.ts";
import { type ItemSet, KIND_RANK, type SchemaItem } from "./_objects.ts";
import { isName, nameOf, tokenize } from "./_sql_tokens.ts";
import type { SnapshotColumn } from "./snapshot_types.ts";

/** Key → keys of the objects it needs to exist first. */
export type DependencyGraph = Map<string, Set<string>>;

/** Works out what each object depends on. */
export function dependencyGraph(set: ItemSet): DependencyGraph {
  const graph: DependencyGraph = new Map();
  for (const item of set.items.values()) {
    const deps = new Set<string>();
    const schemaKey = `schema:${JSON.stringify([item.schema])}`;
    if (item.kind !== "schema" && set.items.has(schemaKey)) deps.add(schemaKey);
    if (item.parent && set.items.has(item.parent)) {
      deps.add(item.parent);
      // A constraint needs its table's columns; an index, trigger, policy or foreign key
      // needs the columns and the constraints (a foreign key needs the unique key it uses).
      for (const sibling of set.inlineChildren.get(item.parent) ?? []) {
        if (item.kind === "column") break;
        if (item.inline && !sibling.startsWith("column:")) continue;
        deps.add(sibling);
      }
    }
    // A generated column reads its table's other columns: made after them, dropped before.
    const generated = item.kind === "column"
      ? (item.data as { column: SnapshotColumn }).column.generated?.expression
      : undefined;
    if (generated !== undefined) {
      const names = new Set(tokenize(generated).filter(isName).map(nameOf));
      for (const sibling of set.inlineChildren.get(item.parent!) ?? []) {
        const other = set.items.get(sibling)!;
        if (other.kind === "column" && names.has((other.data as { column: SnapshotColumn }).column.name)) {
          deps.add(sibling);
        }
      }
    }
    const own = `${item.schema}\u0000${(item.data as { name?: string }).name}`;
    for (const [schema, name] of item.refs) {
      const named = `${schema}\u0000${name}`;
      // A function's header names the function itself, and so its overloads: not a dependency.
      if (named === own && (item.kind === "function" || item.kind === "procedure")) continue;
      for (const target of set.byName.get(named) ?? []) {
        if (target === item.key || target === item.parent) continue;
        deps.add(target);
        // Needing a table means needing its columns and constraints too, when those are
        // added to an existing table rather than written inside its CREATE TABLE.
        for (const child of set.inlineChildren.get(target) ?? []) deps.add(child);
      }
    }
    // A table's CREATE TABLE holds its columns: it needs whatever they need.
    if (item.kind === "table") {
      for (const child of set.inlineChildren.get(item.key) ?? []) {
        for (const [schema, name] of set.items.get(child)!.refs) {
          for (const target of set.byName.get(`${schema}\u0000${name}`) ?? []) {
            if (target !== item.key) deps.add(target);
          }
        }
      }
    }
    deps.delete(item.key);
    graph.set(item.key, deps);
  }
  return graph;
}

/** Key → keys of the objects that depend on it. */
export function dependents(graph: DependencyGraph): Map<string, Set<string>> {
  const reverse = new Map<string, Set<string>>();
  for (const [key, deps] of graph) {
    for (const dep of deps) {
      let set = reverse.get(dep);
      if (!set) reverse.set(dep, set = new Set());
      set.add(key);
    }
  }
  return reverse;
}

const priorities = new WeakMap<SchemaItem, string>();

function priority(item: SchemaItem): string {
  let value = priorities.get(item);
  if (value === undefined) {
    value = `${String(KIND_RANK[item.kind]).padStart(2, "0")}\u0000${item.key}`;
    priorities.set(item, value);
  }
  return value;
}

/**
 * Every object, each after the objects it depends on; among independent ones, by kind rank
 * (schemas, extensions, types, sequences, tables, columns, constraints, functions, views,
 * indexes, triggers, policies) and then name. A cycle is broken at a function when it has
 * one (a function can be created before what its body uses), else at its first object.
 */
export function creationOrder(set: ItemSet, graph: DependencyGraph): SchemaItem[] {
  const remaining = new Map<string, number>();
  const reverse = dependents(graph);
  const heap = new MinHeap<SchemaItem>((a, b) => compareText(priority(a), priority(b)));
  for (const item of set.items.values()) {
    const count = [...graph.get(item.key) ?? []].filter((dep) => set.items.has(dep)).length;
    remaining.set(item.key, count);
    if (count === 0) heap.push(item);
  }
  const order: SchemaItem[] = [];
  const done = new Set<string>();
  const release = (item: SchemaItem) => {
    order.push(item);
    done.add(item.key);
    for (const next of reverse.get(item.key) ?? []) {
      if (done.has(next) || !remaining.has(next)) continue;
      const count = remaining.get(next)! - 1;
      remaining.set(next, count);
      if (count === 0) heap.push(set.items.get(next)!);
    }
  };
  while (order.length < set.items.size) {
    const item = heap.pop();
    if (item) {
      if (!done.has(item.key)) release(item);
      continue;
    }
    // A cycle: take the function (else the first object) among what is left.
    let pick: SchemaItem | undefined;
    for (const candidate of set.items.values()) {
      if (done.has(candidate.key)) continue;
      const better = !pick ||
        (isFunction(candidate) && !isFunction(pick)) ||
        (isFunction(candidate) === isFunction(pick) && compareText(priority(candidate), priority(pick)) < 0);
      if (better) pick = candidate;
    }
    remaining.set(pick!.key, 0);
    release(pick!);
  }
  return order;
}

function isFunction(item: SchemaItem): boolean {
  return item.kind === "function" || item.kind === "procedure";
}

class MinHeap<T> {
  #items: T[] = [];
  #less: (a: T, b: T) => number;

  constructor(compare: (a: T, b: T) => number) {
    this.#less = compare;
  }

  push(value: T): void {
    const items = this.#items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.#less(items[i], items[parent]) >= 0) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.#items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.#less(items[left], items[smallest]) < 0) smallest = left;
        if (right < items.length && this.#less(items[right], items[smallest]) < 0) smallest = right;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest], items[i]];
        i = smallest;
      }
    }
    return top;
  }
}

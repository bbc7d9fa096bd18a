// Caches for emulators that must stay fast on a large directory. Tests change `directory` in place,
// between requests and in the middle of a read, so nothing cached here is trusted without a check on
// each use that is much cheaper than computing it again: the same items, and the same values of
// the fields the cached result was computed from.

/** The items of a list and the values of some of their fields, to tell later whether the list still matches. */
export class Snapshot<T extends object> {
  private readonly items: T[];
  private readonly values: unknown[] = [];

  constructor(
    items: readonly T[],
    private readonly fields: readonly (keyof T)[],
  ) {
    this.items = [...items];
    for (const item of items) for (const field of fields) this.values.push(copyOf(item[field]));
  }

  /** The same objects in the same order, each with the same values (arrays compared item by item). */
  matches(items: readonly T[]): boolean {
    if (items.length !== this.items.length) return false;
    let k = 0;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item !== this.items[i]) return false;
      for (const field of this.fields) if (!sameValue(item[field], this.values[k++])) return false;
    }
    return true;
  }
}

/** A value computed from a list, computed again only when the list no longer matches what it was computed from. */
export class DerivedFromList<T extends object, R> {
  private snapshot?: Snapshot<T>;
  private value?: R;

  constructor(
    private readonly fields: readonly (keyof T)[],
    private readonly compute: (items: readonly T[]) => R,
  ) {}

  get(items: readonly T[]): R {
    if (!this.snapshot?.matches(items)) {
      this.value = this.compute(items);
      this.snapshot = new Snapshot(items, this.fields);
    }
    return this.value!;
  }
}

/** The last value computed, kept while it is asked for with the same inputs (compared by identity). */
export class LastResult<R> {
  private inputs?: readonly unknown[];
  private value?: R;

  get(inputs: readonly unknown[], compute: () => R): R {
    if (!this.inputs || !sameItems(this.inputs, inputs)) {
      this.value = compute();
      this.inputs = [...inputs];
    }
    return this.value!;
  }
}

/**
 * Finds items by id as Array.find does, through a map of positions. A position is trusted only if
 * the list has the same length and the item there still has that id; otherwise, and on every miss
 * (an item may have been added in place of another), the map is built again.
 */
export class IdIndex<T extends { id: string }> {
  private items?: readonly T[];
  private length = -1;
  private positions = new Map<string, number>();
  /** Some id is held by more than one item: callers whose answer depends on which one fall back to a scan. */
  hasDuplicates = false;

  find(items: readonly T[], id: string): T | undefined {
    if (items === this.items && items.length === this.length) {
      const at = this.positions.get(id);
      if (at !== undefined && items[at]?.id === id) return items[at];
    }
    this.rebuild(items);
    const at = this.positions.get(id);
    return at === undefined ? undefined : items[at];
  }

  /** Whether the list holds an id twice, as far as a check of its length can tell without a scan. */
  duplicatesIn(items: readonly T[]): boolean {
    if (items !== this.items || items.length !== this.length) this.rebuild(items);
    return this.hasDuplicates;
  }

  private rebuild(items: readonly T[]): void {
    this.items = items;
    this.length = items.length;
    this.positions = new Map();
    for (let i = 0; i < items.length; i++) if (!this.positions.has(items[i].id)) this.positions.set(items[i].id, i);
    this.hasDuplicates = this.positions.size !== items.length;
  }
}

/** What each of a list of ids found, with the fields it had then, to tell whether looking them up again finds the same. */
export class Resolution<T extends object> {
  readonly found: (T | undefined)[];
  private readonly values: unknown[] = [];

  constructor(
    private readonly ids: readonly string[],
    find: (id: string) => T | undefined,
    private readonly fields: readonly (keyof T)[],
  ) {
    this.found = ids.map(find);
    for (const item of this.found) for (const field of fields) this.values.push(item?.[field]);
  }

  stillFound(ids: readonly string[], find: (id: string) => T | undefined): boolean {
    if (!sameItems(ids, this.ids)) return false;
    let k = 0;
    for (let i = 0; i < ids.length; i++) {
      const item = find(ids[i]);
      if (item !== this.found[i]) return false;
      for (const field of this.fields) if (item?.[field] !== this.values[k++]) return false;
    }
    return true;
  }
}

export function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function copyOf(value: unknown): unknown {
  return Array.isArray(value) ? [...value] : value;
}

function sameValue(value: unknown, seen: unknown): boolean {
  if (Array.isArray(seen)) return Array.isArray(value) && sameItems(value, seen);
  return value === seen;
}

// Structural equality for API objects, used to skip writes that would change nothing.

/**
 * True when both values serialise to the same JSON, ignoring the order of object keys; arrays are
 * order-sensitive (ours are sorted). Walks both values once, without serialising or sorting keys:
 * decide() compares every existing User and Group on every sync.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  return sameJsonIgnoring(a, b, undefined);
}

/** sameJson, with one property of the two objects themselves (not of those nested in them) left out. */
export function sameJsonIgnoring(a: unknown, b: unknown, ignored: string | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (hasToJson(a) || hasToJson(b)) return canonical(a) === canonical(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !sameJson(jsonItem(a[i]), jsonItem(b[i]))) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let keys = 0;
  for (const key in x) {
    if (key === ignored || !Object.hasOwn(x, key) || !serialised(x[key])) continue;
    keys++;
    if (!Object.hasOwn(y, key) || !sameJson(x[key], y[key])) return false;
  }
  for (const key in y) if (key !== ignored && Object.hasOwn(y, key) && serialised(y[key])) keys--;
  return keys === 0;
}

/** JSON.stringify leaves out object properties that are undefined or functions. */
function serialised(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function';
}

/** ...and writes them as null inside arrays. */
function jsonItem(value: unknown): unknown {
  return serialised(value) ? value : null;
}

function hasToJson(value: object): boolean {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : 1))) : v,
  );
}

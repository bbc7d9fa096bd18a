// The part of Okta's filter expression language the list endpoints accept: comparisons of a field
// with a quoted value (`lastUpdated gt "2026-01-01T00:00:00.000Z"`, `status eq "ACTIVE"`), joined
// with `and` / `or` (and binding tighter), optionally in parentheses per comparison.

export type Operator = 'eq' | 'gt' | 'ge' | 'lt' | 'le';

export interface Clause {
  field: string;
  op: Operator;
  value: string;
}

const COMPARISON = /^\(?\s*([A-Za-z.]+)\s+(eq|gt|ge|lt|le)\s+"([^"]*)"\s*\)?$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/** OR-ed lists of AND-ed clauses, or why the expression is refused. */
export function parseFilter(text: string, fields: readonly string[]): Clause[][] | string {
  const alternatives: Clause[][] = [];
  for (const part of text.trim().split(/\s+or\s+/)) {
    const all: Clause[] = [];
    for (const piece of part.split(/\s+and\s+/)) {
      const m = COMPARISON.exec(piece.trim());
      if (!m) return `Cannot parse filter near '${piece.trim()}'.`;
      const [, field, op, value] = m;
      if (!fields.includes(field)) return `Filtering on '${field}' is not supported.`;
      if (field.startsWith('last') && !TIMESTAMP.test(value)) return `'${value}' is not a timestamp (yyyy-MM-dd'T'HH:mm:ss.SSSZ).`;
      if (!field.startsWith('last') && op !== 'eq') return `'${field}' supports only eq.`;
      all.push({ field, op: op as Operator, value });
    }
    alternatives.push(all);
  }
  return alternatives;
}

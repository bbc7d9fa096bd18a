// SCIM filters (RFC 7644 §3.4.2.2). Parsing is scim2-parse-filter's (a small, maintained parser whose AST
// covers and/or/not, grouping, value paths and URN attribute paths); its own matcher compares strings
// case-sensitively and resolves attribute names exactly, so matching is done here on the AST.
import { parse, type Filter } from 'scim2-parse-filter';
import { ScimError } from './errors.js';
import { isCaseExact, isKnownPath, splitPath, valuesAt, type Json, type ResourceKind } from './attributes.js';

export type Matcher = (resource: Json) => boolean;

const OPERATORS = 'eq|ne|co|sw|ew|gt|ge|lt|le';
const LITERALS = /^(true|false|null|-?\d+(\.\d+)?)$/i;

/**
 * Entra sends some values unquoted (`externalId eq 5b3f-…`); JSON-quotes a bare word after a comparison
 * operator unless it is a JSON literal, so the parser accepts it.
 */
export function quoteBareValues(text: string): string {
  return text.replace(new RegExp(`(\\s(?:${OPERATORS})\\s+)([^\\s"()\\[\\]]+)`, 'gi'), (whole, op: string, value: string) =>
    LITERALS.test(value) ? whole : `${op}${JSON.stringify(value)}`,
  );
}

const VALUE = '"(?:[^"\\\\]|\\\\.)*"|[^\\s()\\[\\]]+';
const SUB_AFTER_VALUE_PATH = new RegExp(`([\\w:.$-]+)\\[([^\\]]*)\\]\\.([\\w$]+)\\s+(?:(pr)\\b|(${OPERATORS})\\s+(${VALUE}))`, 'gi');

/**
 * `emails[type eq "work"].value eq "x"` (Entra's form) must hold for one and the same element; the parser
 * would read it as two independent conditions, so it becomes `emails[(type eq "work") and value eq "x"]`.
 */
export function foldValuePathSubAttribute(text: string): string {
  return text.replace(SUB_AFTER_VALUE_PATH, (_whole, attr: string, inner: string, sub: string, pr: string | undefined, op: string | undefined, value: string | undefined) =>
    pr ? `${attr}[(${inner}) and ${sub} pr]` : `${attr}[(${inner}) and ${sub} ${op} ${value}]`,
  );
}

export function parseFilter(kind: ResourceKind, text: string): Matcher {
  let ast: Filter;
  try {
    ast = parse(foldValuePathSubAttribute(quoteBareValues(text.trim())));
  } catch (err) {
    throw new ScimError(400, `the filter cannot be parsed: ${(err as Error).message}`, 'invalidFilter');
  }
  checkAttributes(kind, ast, '');
  return (resource) => evaluate(kind, ast, resource, '');
}

function checkAttributes(kind: ResourceKind, f: Filter, prefix: string): void {
  switch (f.op) {
    case 'and':
    case 'or':
      for (const sub of (f as { filters: Filter[] }).filters) checkAttributes(kind, sub, prefix);
      return;
    case 'not':
      checkAttributes(kind, (f as { filter: Filter }).filter, prefix);
      return;
    case '[]': {
      const vp = f as { attrPath: string; valFilter: Filter };
      checkPath(kind, prefix + vp.attrPath);
      checkAttributes(kind, vp.valFilter, `${prefix}${vp.attrPath}.`);
      return;
    }
    default:
      checkPath(kind, prefix + (f as { attrPath: string }).attrPath);
  }
}

function checkPath(kind: ResourceKind, path: string): void {
  if (!isKnownPath(kind, splitPath(kind, path))) throw new ScimError(400, `the filter names an unknown attribute "${path}"`, 'invalidFilter');
}

function evaluate(kind: ResourceKind, f: Filter, resource: Json, prefix: string): boolean {
  switch (f.op) {
    case 'and':
      return (f as { filters: Filter[] }).filters.every((sub) => evaluate(kind, sub, resource, prefix));
    case 'or':
      return (f as { filters: Filter[] }).filters.some((sub) => evaluate(kind, sub, resource, prefix));
    case 'not':
      return !evaluate(kind, (f as { filter: Filter }).filter, resource, prefix);
    case '[]': {
      const vp = f as { attrPath: string; valFilter: Filter };
      const elements = valuesAt(resource, kind, vp.attrPath);
      // Each element is matched on its own, with attribute names relative to it.
      return elements.some((el) => el !== null && typeof el === 'object' && evaluateElement(kind, vp.valFilter, el as Json, `${prefix}${vp.attrPath}.`));
    }
    case 'pr': {
      const values = valuesAt(resource, kind, (f as { attrPath: string }).attrPath);
      return values.some((v) => v !== '' && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && v !== null && Object.keys(v).length === 0));
    }
    default: {
      const cmp = f as { op: string; attrPath: string; compValue: unknown };
      const values = valuesAt(resource, kind, cmp.attrPath);
      const exact = isCaseExact(prefix + cmp.attrPath);
      if (cmp.op === 'ne') return !values.some((v) => compare('eq', v, cmp.compValue, exact));
      return values.some((v) => compare(cmp.op, v, cmp.compValue, exact));
    }
  }
}

/** A value-path filter evaluated against one element of a multi-valued attribute. */
export function evaluateElement(kind: ResourceKind, f: Filter, element: Json, prefix = ''): boolean {
  // Element attributes are plain names ("type", "value"), so the element is the resource here.
  return evaluate(kind, f, element, prefix);
}

/** Parses the filter inside a PATCH path's brackets (`emails[type eq "work"]`). */
export function parseElementFilter(kind: ResourceKind, attribute: string, text: string): (element: Json) => boolean {
  let ast: Filter;
  try {
    ast = parse(quoteBareValues(text.trim()));
  } catch (err) {
    throw new ScimError(400, `the path filter cannot be parsed: ${(err as Error).message}`, 'invalidPath');
  }
  return (element) => evaluateElement(kind, ast, element, `${attribute}.`);
}

function compare(op: string, actual: unknown, expected: unknown, caseExact: boolean): boolean {
  let a = typeof actual === 'string' && /^(true|false)$/i.test(actual) && typeof expected === 'boolean' ? actual.toLowerCase() === 'true' : actual;
  let e = expected;
  if (typeof a === 'string' && typeof e === 'string' && !caseExact) {
    a = a.toLowerCase();
    e = e.toLowerCase();
  }
  switch (op) {
    case 'eq':
      return a === e;
    case 'co':
      return typeof a === 'string' && typeof e === 'string' && a.includes(e);
    case 'sw':
      return typeof a === 'string' && typeof e === 'string' && a.startsWith(e);
    case 'ew':
      return typeof a === 'string' && typeof e === 'string' && a.endsWith(e);
    case 'gt':
      return ordered(a, e) && (a as number) > (e as number);
    case 'ge':
      return ordered(a, e) && (a as number) >= (e as number);
    case 'lt':
      return ordered(a, e) && (a as number) < (e as number);
    case 'le':
      return ordered(a, e) && (a as number) <= (e as number);
    default:
      throw new ScimError(400, `unknown filter operator "${op}"`, 'invalidFilter');
  }
}

function ordered(a: unknown, e: unknown): boolean {
  return (typeof a === 'string' && typeof e === 'string') || (typeof a === 'number' && typeof e === 'number');
}

// PATCH (RFC 7644 §3.5.2) as real clients send it: ops in any case ("Replace"), string booleans, path-less
// replace whose value has dotted or URN keys, value-filtered paths that must create the element when it is
// absent (`emails[type eq "work"].value`), and member removal by a value list that removes only those.
import { ScimError } from './errors.js';
import { parseElementFilter } from './filter.js';
import { container, deleteAttr, getAttr, isExtensionUrn, setAttr, splitPath, type Json, type ResourceKind } from './attributes.js';
import { coerceBoolean } from './resources.js';

export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export interface PatchOperation {
  op: 'add' | 'replace' | 'remove';
  path?: string;
  value?: unknown;
}

const READ_ONLY = new Set(['id', 'meta', 'schemas', 'password', 'groups']);

/** Reads the Operations of a PatchOp body, accepting ops in any case. */
export function operationsOf(body: Json): PatchOperation[] {
  const ops = getAttr(body, 'Operations');
  if (!Array.isArray(ops) || ops.length === 0) throw new ScimError(400, 'a PatchOp needs a non-empty "Operations" list', 'invalidSyntax');
  return ops.map((raw) => {
    const { op, path, value } = (raw ?? {}) as Json;
    const name = typeof op === 'string' ? op.toLowerCase() : '';
    if (name !== 'add' && name !== 'replace' && name !== 'remove') throw new ScimError(400, `unknown PATCH op "${String(op)}"`, 'invalidSyntax');
    if (path !== undefined && path !== null && typeof path !== 'string') throw new ScimError(400, 'path must be a string', 'invalidPath');
    return { op: name, path: typeof path === 'string' && path.trim() !== '' ? path.trim() : undefined, value };
  });
}

/** Applies the operations to a copy of the resource's attributes and returns it. */
export function applyPatch(kind: ResourceKind, attrs: Json, operations: PatchOperation[]): Json {
  const target = structuredClone(attrs);
  for (const op of operations) {
    if (op.path === undefined) {
      if (op.op === 'remove') throw new ScimError(400, 'remove needs a path', 'noTarget');
      applyWithoutPath(kind, target, op);
    } else {
      applyAtPath(kind, target, op.op, op.path, op.value);
    }
  }
  return target;
}

function applyWithoutPath(kind: ResourceKind, target: Json, op: PatchOperation): void {
  if (!op.value || typeof op.value !== 'object' || Array.isArray(op.value)) throw new ScimError(400, `${op.op} without a path needs an object value`, 'invalidValue');
  for (const [key, value] of Object.entries(op.value as Json)) {
    if (READ_ONLY.has(key.toLowerCase())) continue; // Okta's rename carries the read-only id.
    const urn = isExtensionUrn(kind, key);
    if (urn && value && typeof value === 'object' && !Array.isArray(value)) {
      for (const [sub, subValue] of Object.entries(value as Json)) applyAtPath(kind, target, op.op, `${urn}:${sub}`, subValue);
    } else {
      // "name.givenName" and "urn:…:enterprise:2.0:User:department" keys are paths.
      applyAtPath(kind, target, op.op, key, value);
    }
  }
}

interface ParsedPath {
  extension?: string;
  attribute: string;
  filter?: string;
  sub?: string;
}

function parsePath(kind: ResourceKind, path: string): ParsedPath {
  const open = path.indexOf('[');
  if (open >= 0) {
    const close = path.lastIndexOf(']');
    if (close < open) throw new ScimError(400, `the path "${path}" has an unclosed "["`, 'invalidPath');
    const split = splitPath(kind, path.slice(0, open));
    const after = path.slice(close + 1);
    if (split.parts.length !== 1 || (after !== '' && !/^\.[A-Za-z$][\w$-]*$/.test(after))) throw new ScimError(400, `the path "${path}" is not valid`, 'invalidPath');
    return { extension: split.extension, attribute: split.parts[0], filter: path.slice(open + 1, close), sub: after ? after.slice(1) : undefined };
  }
  const split = splitPath(kind, path);
  if (split.parts.length < 1 || split.parts.length > 2 || split.parts.some((p) => p === '')) throw new ScimError(400, `the path "${path}" is not valid`, 'invalidPath');
  return { extension: split.extension, attribute: split.parts[0], sub: split.parts[1] };
}

function applyAtPath(kind: ResourceKind, target: Json, op: PatchOperation['op'], path: string, rawValue: unknown): void {
  const parsed = parsePath(kind, path);
  if (!parsed.extension && READ_ONLY.has(parsed.attribute.toLowerCase())) return;
  const value = parsed.attribute.toLowerCase() === 'active' || parsed.sub?.toLowerCase() === 'primary' ? coerceBoolean(rawValue) : rawValue;
  const base = container(target, { extension: parsed.extension, parts: [parsed.attribute] }, op !== 'remove');
  if (!base) return;
  if (parsed.filter !== undefined) return applyToElements(kind, base, op, parsed, value);

  const current = getAttr(base, parsed.attribute);
  if (parsed.sub) {
    if (op === 'remove') {
      if (current && typeof current === 'object' && !Array.isArray(current)) deleteAttr(current as Json, parsed.sub);
      else if (Array.isArray(current)) for (const el of current) if (el && typeof el === 'object') deleteAttr(el as Json, parsed.sub);
      return;
    }
    const parent = current && typeof current === 'object' && !Array.isArray(current) ? (current as Json) : {};
    setAttr(parent, parsed.sub, value);
    setAttr(base, parsed.attribute, parent);
    return;
  }

  if (op === 'remove') {
    if (Array.isArray(current) && value !== undefined && value !== null) {
      // Remove only the listed elements (Entra sends the members to remove as the value).
      const listed = (Array.isArray(value) ? value : [value]).map((v) => (v && typeof v === 'object' ? (v as Json).value : v));
      setAttr(base, parsed.attribute, current.filter((el) => !listed.includes(el && typeof el === 'object' ? (el as Json).value : el)));
    } else {
      deleteAttr(base, parsed.attribute);
    }
    return;
  }
  if (value === null) {
    deleteAttr(base, parsed.attribute);
    return;
  }
  if (op === 'add' && Array.isArray(current)) {
    const added = Array.isArray(value) ? value : [value];
    setAttr(base, parsed.attribute, mergeElements(current, added));
    return;
  }
  if (op === 'add' && current && typeof current === 'object' && value && typeof value === 'object' && !Array.isArray(value)) {
    setAttr(base, parsed.attribute, { ...(current as Json), ...(value as Json) });
    return;
  }
  setAttr(base, parsed.attribute, value);
}

/** Adds elements, replacing an existing one with the same "value" instead of duplicating it (repeated adds are harmless). */
function mergeElements(current: unknown[], added: unknown[]): unknown[] {
  const out = [...current];
  for (const el of added) {
    const key = el && typeof el === 'object' ? (el as Json).value : undefined;
    const at = key === undefined ? -1 : out.findIndex((o) => o && typeof o === 'object' && (o as Json).value === key);
    if (at >= 0) out[at] = el;
    else if (!out.some((o) => JSON.stringify(o) === JSON.stringify(el))) out.push(el);
  }
  return out;
}

function applyToElements(kind: ResourceKind, base: Json, op: PatchOperation['op'], parsed: ParsedPath, value: unknown): void {
  const matches = parseElementFilter(kind, parsed.attribute, parsed.filter!);
  const raw = getAttr(base, parsed.attribute);
  const list: Json[] = Array.isArray(raw) ? (raw as Json[]) : [];
  const hits = list.filter((el) => el && typeof el === 'object' && matches(el));

  if (op === 'remove') {
    if (parsed.sub) for (const el of hits) deleteAttr(el, parsed.sub);
    else setAttr(base, parsed.attribute, list.filter((el) => !hits.includes(el)));
    return;
  }
  if (hits.length === 0) {
    // Entra's `emails[type eq "work"].value` on a user without a work email: create it from the filter's equalities.
    const created = elementFromFilter(parsed.filter!);
    if (created === undefined) throw new ScimError(400, `no element of ${parsed.attribute} matches "${parsed.filter}"`, 'noTarget');
    if (parsed.sub) setAttr(created, parsed.sub, value);
    else if (value && typeof value === 'object' && !Array.isArray(value)) Object.assign(created, value);
    setAttr(base, parsed.attribute, [...list, created]);
    return;
  }
  for (const el of hits) {
    if (parsed.sub) setAttr(el, parsed.sub, value);
    else if (value && typeof value === 'object' && !Array.isArray(value)) {
      if (op === 'replace') for (const key of Object.keys(el)) delete el[key];
      Object.assign(el, value);
    }
  }
  setAttr(base, parsed.attribute, list);
}

/** `type eq "work"` (and conjunctions of such) as the element {type: "work"}; undefined for anything else. */
function elementFromFilter(filter: string): Json | undefined {
  const element: Json = {};
  for (const clause of filter.split(/\s+and\s+/i)) {
    const m = /^\s*([A-Za-z][\w$-]*)\s+eq\s+(?:"((?:[^"\\]|\\.)*)"|(true|false))\s*$/i.exec(clause);
    if (!m) return undefined;
    element[m[1]] = m[2] !== undefined ? JSON.parse(`"${m[2]}"`) : m[3].toLowerCase() === 'true';
  }
  return element;
}

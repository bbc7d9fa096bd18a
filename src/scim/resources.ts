// What a stored SCIM resource looks like, and how client bodies become one. Clients send read-only and
// write-only attributes back (id, meta, groups, password), nulls and string booleans; these are
// tolerated here so every handler stores the same clean shape.
import { ScimError } from './errors.js';
import { deleteAttr, ENTERPRISE_USER_SCHEMA, getAttr, GROUP_SCHEMA, setAttr, USER_SCHEMA, type Json, type ResourceKind } from './attributes.js';

export interface ScimMeta {
  resourceType: ResourceKind;
  created: string;
  lastModified: string;
}

export type StoredResource = Json & { id: string; meta: ScimMeta };

/** Attributes a client may send but the server owns or must never keep. */
const DROPPED = ['id', 'meta', 'schemas', 'password', 'groups'];
const BOOLEAN_ATTRIBUTES = ['active'];

/** "True"/"False" (any case) as booleans: Entra's PATCH values are strings. */
export function coerceBoolean(value: unknown): unknown {
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return value;
}

/** Removes nulls (RFC 7644 §3.5.1: null means unassigned) and coerces the boolean attributes clients send as strings. */
export function clean(kind: ResourceKind, body: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(body)) {
    if (value === null || value === undefined) continue;
    if (DROPPED.some((d) => d.toLowerCase() === key.toLowerCase())) continue;
    out[key] = withoutNulls(value);
  }
  for (const name of BOOLEAN_ATTRIBUTES) {
    const value = getAttr(out, name);
    if (value !== undefined) setAttr(out, name, coerceBoolean(value));
  }
  for (const multi of ['emails', 'phoneNumbers', 'addresses']) {
    const list = getAttr(out, multi);
    if (Array.isArray(list)) {
      for (const item of list) if (item && typeof item === 'object' && 'primary' in item) (item as Json).primary = coerceBoolean((item as Json).primary);
    }
  }
  if (kind === 'Group') setAttr(out, 'members', normaliseMembers(getAttr(out, 'members') ?? []));
  return out;
}

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== null).map(withoutNulls);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
  return value;
}

/** Members as {value, display?, type?}, one per value; "$ref" and unknown keys dropped. */
export function normaliseMembers(raw: unknown): Json[] {
  if (!Array.isArray(raw)) throw new ScimError(400, 'members must be a list', 'invalidValue');
  const seen = new Map<string, Json>();
  for (const m of raw) {
    const value = m && typeof m === 'object' ? (m as Json).value : undefined;
    if (typeof value !== 'string' || value === '') throw new ScimError(400, 'every member needs a "value" (the id of a User or Group)', 'invalidValue');
    const member: Json = { value };
    const { display, type } = m as Json;
    if (typeof display === 'string') member.display = display;
    if (typeof type === 'string') member.type = type;
    seen.set(value, member);
  }
  return [...seen.values()];
}

export function validate(kind: ResourceKind, resource: Json): void {
  if (kind === 'User') {
    const userName = getAttr(resource, 'userName');
    if (typeof userName !== 'string' || userName.trim() === '') throw new ScimError(400, 'userName is required', 'invalidValue');
    const active = getAttr(resource, 'active');
    if (active !== undefined && typeof active !== 'boolean') throw new ScimError(400, 'active must be a boolean', 'invalidValue');
  } else {
    const displayName = getAttr(resource, 'displayName');
    if (typeof displayName !== 'string' || displayName.trim() === '') throw new ScimError(400, 'displayName is required', 'invalidValue');
  }
}

/** A new stored resource from a POST or PUT body; `previous` keeps id and creation time on PUT. */
export function build(kind: ResourceKind, body: Json, id: string, now: string, previous?: StoredResource): StoredResource {
  const attrs = clean(kind, body);
  if (kind === 'User' && getAttr(attrs, 'active') === undefined) attrs.active = true;
  validate(kind, attrs);
  return { ...attrs, id, meta: { resourceType: kind, created: previous?.meta.created ?? now, lastModified: now } } as StoredResource;
}

/** The resource as the client sees it: schemas, location, and only the attributes it asked for. */
export function present(kind: ResourceKind, resource: StoredResource, baseUrl: string, projection: Projection = {}): Json {
  const schemas = [kind === 'User' ? USER_SCHEMA : GROUP_SCHEMA];
  if (kind === 'User' && getAttr(resource, ENTERPRISE_USER_SCHEMA) !== undefined) schemas.push(ENTERPRISE_USER_SCHEMA);
  const out: Json = { schemas, ...resource, meta: { ...resource.meta, location: `${baseUrl}/${kind}s/${resource.id}` } };
  if (kind === 'Group' && getAttr(out, 'members') === undefined) out.members = [];
  if (projection.attributes?.length) {
    const keep = new Set(projection.attributes.map((a) => a.split('.')[0].toLowerCase()));
    for (const key of Object.keys(out)) if (!['id', 'schemas', 'meta'].includes(key) && !keep.has(key.toLowerCase())) delete out[key];
  } else if (projection.excludedAttributes?.length) {
    for (const name of projection.excludedAttributes) if (!['id', 'schemas'].includes(name)) deleteAttr(out, name.split('.')[0]);
  }
  return out;
}

export interface Projection {
  attributes?: string[];
  excludedAttributes?: string[];
}

export function projectionFrom(params: URLSearchParams): Projection {
  const list = (name: string) =>
    params
      .get(name)
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return { attributes: list('attributes'), excludedAttributes: list('excludedAttributes') };
}

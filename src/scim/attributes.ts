// Attribute names in SCIM are case-insensitive, and extension attributes live under their schema URN,
// which itself contains dots ("…:enterprise:2.0:User"): these helpers find an attribute in a resource
// the way a client names it.
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

export type ResourceKind = 'User' | 'Group';
export type Json = Record<string, unknown>;

const CORE_SCHEMA: Record<ResourceKind, string> = { User: USER_SCHEMA, Group: GROUP_SCHEMA };
const EXTENSIONS: Record<ResourceKind, string[]> = { User: [ENTERPRISE_USER_SCHEMA], Group: [] };

/** Top-level attributes each resource type has (lower case); a filter on anything else is refused. */
const KNOWN: Record<ResourceKind, Set<string>> = {
  User: new Set(
    'id externalId userName name displayName nickName profileUrl title userType preferredLanguage locale timezone active emails phoneNumbers ims photos addresses groups entitlements roles x509Certificates meta'
      .toLowerCase()
      .split(' '),
  ),
  Group: new Set(['id', 'externalid', 'displayname', 'members', 'meta']),
};
const KNOWN_ENTERPRISE = new Set(['employeenumber', 'costcenter', 'organization', 'division', 'department', 'manager']);

/** Attributes whose values compare case-sensitively (RFC 7643 caseExact=true); all others ignore case. */
const CASE_EXACT = new Set(['id', 'externalid', 'members.value', 'groups.value', 'manager.value']);

export function isCaseExact(path: string): boolean {
  return CASE_EXACT.has(path.toLowerCase());
}

/** The key of `obj` that equals `name` ignoring case, or undefined. */
export function keyOf(obj: Json, name: string): string | undefined {
  if (Object.prototype.hasOwnProperty.call(obj, name)) return name;
  const lower = name.toLowerCase();
  return Object.keys(obj).find((k) => k.toLowerCase() === lower);
}

export function getAttr(obj: Json, name: string): unknown {
  const key = keyOf(obj, name);
  return key === undefined ? undefined : obj[key];
}

/** Sets an attribute, reusing the spelling the resource already has for it. */
export function setAttr(obj: Json, name: string, value: unknown): void {
  obj[keyOf(obj, name) ?? name] = value;
}

export function deleteAttr(obj: Json, name: string): void {
  const key = keyOf(obj, name);
  if (key !== undefined) delete obj[key];
}

/** An attribute path split into the schema it belongs to (undefined = core) and its dotted parts. */
export interface SplitPath {
  extension?: string;
  parts: string[];
}

/**
 * Splits "name.givenName", "urn:…:core:2.0:User:userName" or "urn:…:enterprise:2.0:User:manager.value".
 * The URN is matched as a known schema prefix, never split on its dots.
 */
export function splitPath(kind: ResourceKind, path: string): SplitPath {
  const lower = path.toLowerCase();
  for (const schema of [CORE_SCHEMA[kind], ...EXTENSIONS[kind]]) {
    const prefix = schema.toLowerCase();
    if (lower === prefix) return { extension: schema === CORE_SCHEMA[kind] ? undefined : schema, parts: [] };
    if (lower.startsWith(prefix + ':')) {
      const rest = path.slice(prefix.length + 1);
      return { extension: schema === CORE_SCHEMA[kind] ? undefined : schema, parts: rest.split('.') };
    }
  }
  return { parts: path.split('.') };
}

export function extensionSchemas(kind: ResourceKind): string[] {
  return EXTENSIONS[kind];
}

export function isExtensionUrn(kind: ResourceKind, key: string): string | undefined {
  return EXTENSIONS[kind].find((s) => s.toLowerCase() === key.toLowerCase());
}

const MULTI_VALUED_SUBS = ['value', 'display', 'type', 'primary', '$ref'];
/** Sub-attributes of the complex attributes (lower case); others' sub-attributes are not checked. */
const KNOWN_SUBS: Record<string, Set<string>> = {
  name: new Set(['formatted', 'familyname', 'givenname', 'middlename', 'honorificprefix', 'honorificsuffix']),
  meta: new Set(['resourcetype', 'created', 'lastmodified', 'location', 'version']),
  manager: new Set(['value', '$ref', 'displayname']),
  addresses: new Set([...MULTI_VALUED_SUBS, 'formatted', 'streetaddress', 'locality', 'region', 'postalcode', 'country']),
  ...Object.fromEntries(['emails', 'phonenumbers', 'ims', 'photos', 'groups', 'entitlements', 'roles', 'x509certificates', 'members'].map((a) => [a, new Set(MULTI_VALUED_SUBS)])),
};

/** Whether a filter may name this attribute path. */
export function isKnownPath(kind: ResourceKind, split: SplitPath): boolean {
  const [first, sub, ...rest] = split.parts.map((p) => p.toLowerCase());
  if (!first || rest.length > 0) return false;
  if (!(split.extension ? KNOWN_ENTERPRISE : KNOWN[kind]).has(first)) return false;
  return sub === undefined || !KNOWN_SUBS[first] || KNOWN_SUBS[first].has(sub);
}

/** The object an attribute path starts from: the resource, or its extension object (created when asked). */
export function container(resource: Json, split: SplitPath, create: boolean): Json | undefined {
  if (!split.extension) return resource;
  const existing = getAttr(resource, split.extension);
  if (existing && typeof existing === 'object' && !Array.isArray(existing)) return existing as Json;
  if (!create) return undefined;
  const fresh: Json = {};
  setAttr(resource, split.extension, fresh);
  return fresh;
}

/** Every value at a dotted path, looking through multi-valued attributes (arrays) on the way. */
export function valuesAt(resource: Json, kind: ResourceKind, path: string): unknown[] {
  const split = splitPath(kind, path);
  const start = container(resource, split, false);
  if (!start) return [];
  let current: unknown[] = [start];
  for (const part of split.parts) {
    const next: unknown[] = [];
    for (const item of current) {
      if (!item || typeof item !== 'object' || Array.isArray(item)) continue;
      const value = getAttr(item as Json, part);
      if (Array.isArray(value)) next.push(...value);
      else if (value !== undefined && value !== null) next.push(value);
    }
    current = next;
  }
  return current;
}

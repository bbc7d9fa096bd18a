// Keycloak's wire shapes, checked on the way in, and their mapping to the driver contract.
import { TransientError } from '../../errors.js';
import type { DirectoryUser } from '../../directory/snapshot.js';

/** A user as GET /users and GET /groups/{id}/members answer with briefRepresentation=true. */
export interface KeycloakUser {
  id: string;
  username: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  enabled: boolean;
}

/** A group as GET /groups and GET /groups/{id}/children answer. */
export interface KeycloakGroup {
  id: string;
  name: string;
  path?: string;
  description?: string;
  /** Keycloak 23 and later: how many children the group has (they are read from /children). */
  subGroupCount?: number;
  /** Before Keycloak 23 the whole tree comes embedded here; later versions send it empty. */
  subGroups: KeycloakGroup[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function malformed(what: string, detail: string): TransientError {
  return new TransientError('MalformedResponse', `Keycloak: ${what} returned ${detail}`);
}

/** Keycloak lists are bare JSON arrays; anything else is an error, never an empty list. */
export function parseArray(body: unknown, what: string): unknown[] {
  if (!Array.isArray(body)) throw malformed(what, 'a body that is not a JSON array');
  return body;
}

export function parseUser(item: unknown, what: string): KeycloakUser {
  if (!isObject(item) || !optString(item.id) || !optString(item.username)) throw malformed(what, 'a user without id or username');
  return {
    id: item.id as string,
    username: item.username as string,
    email: optString(item.email),
    firstName: optString(item.firstName),
    lastName: optString(item.lastName),
    // A user without the field is one Keycloak would let sign in only if enabled; read absence as disabled.
    enabled: item.enabled === true,
  };
}

export function parseGroup(item: unknown, what: string): KeycloakGroup {
  if (!isObject(item) || !optString(item.id) || typeof item.name !== 'string') throw malformed(what, 'a group without id or name');
  if (item.subGroups !== undefined && !Array.isArray(item.subGroups)) throw malformed(what, `group ${String(item.id)} with "subGroups" that is not a list`);
  const count = item.subGroupCount;
  if (count !== undefined && (typeof count !== 'number' || !Number.isInteger(count) || count < 0)) {
    throw malformed(what, `group ${String(item.id)} with a "subGroupCount" that is not a count`);
  }
  return {
    id: item.id as string,
    name: item.name,
    path: optString(item.path),
    description: optString(item.description),
    subGroupCount: count as number | undefined,
    subGroups: ((item.subGroups as unknown[] | undefined) ?? []).map((g) => parseGroup(g, what)),
  };
}

export function toDirectoryUser(u: KeycloakUser): DirectoryUser {
  const displayName = [u.firstName, u.lastName].filter(Boolean).join(' ') || undefined;
  return {
    id: u.id,
    // The address people and downstream systems know them by, as for the other IdPs; realms that do
    // not collect email addresses fall back to the username.
    login: u.email ?? u.username,
    email: u.email,
    displayName,
    state: u.enabled ? 'Active' : 'Suspended',
    idpStatus: u.enabled ? 'enabled' : 'disabled',
  };
}

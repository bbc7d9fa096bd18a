// Auth0's wire shapes (Management API v2), checked on the way in, and their mapping to the driver contract.
import { TransientError } from '../../errors.js';
import type { DirectoryUser } from '../../directory/snapshot.js';

/** A user as GET /api/v2/users answers (the fields idpsync reads). */
export interface Auth0User {
  /** e.g. "auth0|63d1…" or "google-oauth2|1098…". */
  userId: string;
  email?: string;
  username?: string;
  name?: string;
  givenName?: string;
  familyName?: string;
  /** ISO timestamp; the users list is partitioned on it (see paging.ts). */
  createdAt: string;
  blocked: boolean;
}

/** A member as GET /roles/{id}/users and GET /organizations/{id}/members answer. */
export interface Auth0Member {
  userId: string;
}

/** A role, or an organization: the two sources of groups. */
export interface Auth0GroupSource {
  id: string;
  name: string;
  description?: string;
}

/** One page of an offset-paged list read with include_totals=true. */
export interface TotalsPage {
  total: number;
  items: unknown[];
}

/** One page of a checkpoint-paged list: `next` is absent on the last page. */
export interface CheckpointPage {
  items: unknown[];
  next?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function malformed(what: string, detail: string): TransientError {
  return new TransientError('MalformedResponse', `Auth0: ${what} returned ${detail}`);
}

/** `{"start":0,"limit":100,"length":n,"total":t,"<key>":[…]}`; anything else is an error, never an empty list. */
export function parseTotalsPage(body: unknown, key: string, what: string): TotalsPage {
  if (!isObject(body) || !Array.isArray(body[key]) || !isCount(body.total)) {
    throw malformed(what, `a body that is not a list with totals ({"total":…,"${key}":[…]})`);
  }
  return { total: body.total, items: body[key] as unknown[] };
}

/** `{"<key>":[…],"next":"…"}`, `next` left out on the last page. */
export function parseCheckpointPage(body: unknown, key: string, what: string): CheckpointPage {
  if (!isObject(body) || !Array.isArray(body[key])) throw malformed(what, `a body that is not a checkpoint page ({"${key}":[…],"next":…})`);
  if (body.next !== undefined && body.next !== null && typeof body.next !== 'string') throw malformed(what, 'a "next" that is not a string');
  return { items: body[key] as unknown[], next: optString(body.next) };
}

export function parseUser(item: unknown, what: string): Auth0User {
  if (!isObject(item) || !optString(item.user_id)) throw malformed(what, 'a user without user_id');
  const createdAt = optString(item.created_at);
  if (!createdAt || Number.isNaN(Date.parse(createdAt))) throw malformed(what, `user ${String(item.user_id)} without a created_at timestamp`);
  if (item.blocked !== undefined && item.blocked !== null && typeof item.blocked !== 'boolean') {
    throw malformed(what, `user ${String(item.user_id)} with a "blocked" that is not true or false`);
  }
  return {
    userId: item.user_id as string,
    email: optString(item.email),
    username: optString(item.username),
    name: optString(item.name),
    givenName: optString(item.given_name),
    familyName: optString(item.family_name),
    createdAt,
    // Auth0 sends "blocked" only on users that were ever blocked or unblocked: absent means not blocked.
    blocked: item.blocked === true,
  };
}

export function parseMember(item: unknown, what: string): Auth0Member {
  if (!isObject(item) || !optString(item.user_id)) throw malformed(what, 'a member without user_id');
  return { userId: item.user_id as string };
}

export function parseRole(item: unknown, what: string): Auth0GroupSource {
  if (!isObject(item) || !optString(item.id) || !optString(item.name)) throw malformed(what, 'a role without id or name');
  return { id: item.id as string, name: item.name as string, description: optString(item.description) };
}

/** Organizations have a slug (`name`) and the name people see (`display_name`, optional). */
export function parseOrganization(item: unknown, what: string): Auth0GroupSource {
  if (!isObject(item) || !optString(item.id) || !optString(item.name)) throw malformed(what, 'an organization without id or name');
  return { id: item.id as string, name: optString(item.display_name) ?? (item.name as string) };
}

export function toDirectoryUser(u: Auth0User): DirectoryUser {
  const displayName = u.name ?? ([u.givenName, u.familyName].filter(Boolean).join(' ') || undefined);
  return {
    id: u.userId,
    // The address people and downstream systems know them by, as for the other IdPs; connections
    // without email addresses (username-only databases, some social logins) fall back to the username.
    login: u.email ?? u.username ?? u.userId,
    email: u.email,
    displayName,
    state: u.blocked ? 'Suspended' : 'Active',
    idpStatus: u.blocked ? 'blocked' : 'active',
  };
}

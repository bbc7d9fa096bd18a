// Zitadel's wire shapes (user service v2, management API v1), checked on the way in, and their
// mapping to the driver contract. Zitadel's JSON carries 64-bit counts as strings ("totalResult": "42").
import { TransientError } from '../../errors.js';
import type { DirectoryUser } from '../../directory/snapshot.js';

/** A user as POST /v2/users answers (fields idpsync reads). */
export interface ZitadelUser {
  userId: string;
  /** USER_STATE_ACTIVE, USER_STATE_INACTIVE, USER_STATE_LOCKED, USER_STATE_INITIAL, USER_STATE_DELETED… */
  state: string;
  username: string;
  preferredLoginName?: string;
  /** Present for people; machine (service) users carry `machine` instead. */
  human?: { email?: string; displayName?: string; givenName?: string; familyName?: string };
}

/** A role of the project, as POST /management/v1/projects/{id}/roles/_search answers. */
export interface ZitadelRole {
  key: string;
  displayName?: string;
}

/** A user grant: the roles one user holds on the project. */
export interface ZitadelGrant {
  id: string;
  userId: string;
  roleKeys: string[];
  /** USER_GRANT_STATE_ACTIVE or USER_GRANT_STATE_INACTIVE. */
  state: string;
  /** TYPE_HUMAN or TYPE_MACHINE, where Zitadel says. */
  userType?: string;
}

/** One page of a search: its rows and the size of the whole result. */
export interface ZitadelPage {
  totalResult: number;
  result: unknown[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function malformed(what: string, detail: string): TransientError {
  return new TransientError('MalformedResponse', `Zitadel: ${what} returned ${detail}`);
}

/** A search answer; anything without its details block is an error, never an empty list. */
export function parsePage(body: unknown, what: string): ZitadelPage {
  if (!isObject(body) || !isObject(body.details)) throw malformed(what, 'a body that is not a search result ({"details":…,"result":[…]})');
  // Zitadel leaves out fields that hold their zero value: an empty result has no "result" and may have no "totalResult".
  const raw = body.details.totalResult ?? '0';
  const total = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof total !== 'number' || !Number.isSafeInteger(total) || total < 0) throw malformed(what, 'details without a totalResult count');
  if (body.result !== undefined && !Array.isArray(body.result)) throw malformed(what, '"result" that is not a list');
  return { totalResult: total, result: (body.result as unknown[] | undefined) ?? [] };
}

export function parseUser(item: unknown, what: string): ZitadelUser {
  if (!isObject(item) || !optString(item.userId)) throw malformed(what, 'a user without userId');
  const human = isObject(item.human) ? item.human : undefined;
  const profile = human && isObject(human.profile) ? human.profile : {};
  const email = human && isObject(human.email) ? optString(human.email.email) : undefined;
  return {
    userId: item.userId as string,
    state: optString(item.state) ?? 'USER_STATE_UNSPECIFIED',
    username: optString(item.username) ?? (item.userId as string),
    preferredLoginName: optString(item.preferredLoginName),
    human: human
      ? { email, displayName: optString(profile.displayName), givenName: optString(profile.givenName), familyName: optString(profile.familyName) }
      : undefined,
  };
}

export function parseRole(item: unknown, what: string): ZitadelRole {
  if (!isObject(item) || !optString(item.key)) throw malformed(what, 'a role without key');
  return { key: item.key as string, displayName: optString(item.displayName) };
}

export function parseGrant(item: unknown, what: string): ZitadelGrant {
  if (!isObject(item) || !optString(item.id) || !optString(item.userId)) throw malformed(what, 'a user grant without id or userId');
  if (item.roleKeys !== undefined && (!Array.isArray(item.roleKeys) || !item.roleKeys.every((k) => typeof k === 'string'))) {
    throw malformed(what, `user grant ${String(item.id)} with "roleKeys" that is not a list of role keys`);
  }
  return {
    id: item.id as string,
    userId: item.userId as string,
    roleKeys: [...new Set((item.roleKeys as string[] | undefined) ?? [])],
    state: optString(item.state) ?? 'USER_GRANT_STATE_UNSPECIFIED',
    userType: optString(item.userType),
  };
}

/** Machine (service) users authenticate programs; they are not people to sync. */
export function isPerson(u: ZitadelUser): boolean {
  return u.human !== undefined;
}

/** Only an active grant gives its roles: Zitadel leaves the roles of a deactivated grant out of tokens. */
export function grantsRoles(g: ZitadelGrant): boolean {
  return g.state === 'USER_GRANT_STATE_ACTIVE';
}

/**
 * Zitadel's user state → ours:
 * - ACTIVE, and LOCKED (too many failed sign-ins; lifted by an admin or a password reset: still an
 *   employee whose access stands, as for the other IdPs) → Active;
 * - INACTIVE (deactivated by an admin) and INITIAL (created, never signed in to finish setup) → Suspended;
 * - DELETED → Deleted; anything unknown → Suspended, so that an unreadable state never grants access.
 */
export function stateOf(state: string): DirectoryUser['state'] {
  if (state === 'USER_STATE_ACTIVE' || state === 'USER_STATE_LOCKED') return 'Active';
  if (state === 'USER_STATE_DELETED') return 'Deleted';
  return 'Suspended';
}

export function toDirectoryUser(u: ZitadelUser): DirectoryUser {
  const name = u.human?.displayName ?? ([u.human?.givenName, u.human?.familyName].filter(Boolean).join(' ') || undefined);
  return {
    id: u.userId,
    // The address people and downstream systems know them by, as for the other IdPs; without an
    // email address, the login name Zitadel prefers (username@org-domain).
    login: u.human?.email ?? u.preferredLoginName ?? u.username,
    email: u.human?.email,
    displayName: name,
    state: stateOf(u.state),
    idpStatus: u.state,
  };
}

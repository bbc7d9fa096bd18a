// authentik's wire shapes (API v3), checked on the way in, and their mapping to the driver contract.
import { TransientError } from '../../errors.js';
import type { DirectoryUser } from '../../directory/snapshot.js';

/** A user as GET /core/users/ answers (fields idpsync reads). */
export interface AuthentikUser {
  /** authentik's integer primary key, kept as a string. */
  pk: string;
  username: string;
  name?: string;
  email?: string;
  isActive: boolean;
  /** "internal", "external", "service_account" or "internal_service_account". */
  type?: string;
}

/** A group as GET /core/groups/ answers. */
export interface AuthentikGroup {
  /** A UUID. */
  pk: string;
  name: string;
  /** The groups this one is nested in: `parents` on newer servers, the single `parent` on older ones. */
  parents: string[];
}

/** One page of a paginated list. */
export interface AuthentikPage {
  /** The page after this one; 0 on the last page. */
  next: number;
  /** Rows in the whole list. */
  count: number;
  totalPages: number;
  results: unknown[];
}

const SERVICE_ACCOUNT_TYPES = new Set(['service_account', 'internal_service_account']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

function malformed(what: string, detail: string): TransientError {
  return new TransientError('MalformedResponse', `authentik: ${what} returned ${detail}`);
}

/** A list page; anything without its pagination block is an error, never an empty list. */
export function parsePage(body: unknown, what: string): AuthentikPage {
  if (!isObject(body) || !isObject(body.pagination) || !Array.isArray(body.results)) {
    throw malformed(what, 'a body that is not a paginated list ({"pagination":…,"results":[…]})');
  }
  const { next, count, total_pages: totalPages } = body.pagination;
  if (!isCount(next) || !isCount(count) || !isCount(totalPages)) {
    throw malformed(what, 'a pagination block without next, count and total_pages');
  }
  return { next, count, totalPages, results: body.results };
}

export function parseUser(item: unknown, what: string): AuthentikUser {
  const pk = isObject(item) ? item.pk : undefined;
  const pkText = typeof pk === 'number' && Number.isInteger(pk) ? String(pk) : optString(pk);
  if (!isObject(item) || !pkText || !optString(item.username)) throw malformed(what, 'a user without pk or username');
  return {
    pk: pkText,
    username: item.username as string,
    name: optString(item.name),
    email: optString(item.email),
    // authentik always sends is_active; a user without it is not read as one who may sign in.
    isActive: item.is_active === true,
    type: optString(item.type),
  };
}

export function parseGroup(item: unknown, what: string): AuthentikGroup {
  if (!isObject(item) || !optString(item.pk) || typeof item.name !== 'string') throw malformed(what, 'a group without pk or name');
  let parents: string[];
  if (item.parents !== undefined && item.parents !== null) {
    if (!Array.isArray(item.parents) || !item.parents.every((p) => optString(p))) {
      throw malformed(what, `group ${String(item.pk)} with "parents" that is not a list of group ids`);
    }
    parents = item.parents as string[];
  } else if (item.parent !== undefined && item.parent !== null) {
    if (!optString(item.parent)) throw malformed(what, `group ${String(item.pk)} with a "parent" that is not a group id`);
    parents = [item.parent as string];
  } else {
    parents = [];
  }
  return { pk: item.pk as string, name: item.name, parents: [...new Set(parents)] };
}

/** Service accounts authenticate machines (outposts, API clients); they are not people to sync. */
export function isPerson(u: AuthentikUser): boolean {
  return !u.type || !SERVICE_ACCOUNT_TYPES.has(u.type);
}

export function toDirectoryUser(u: AuthentikUser): DirectoryUser {
  return {
    id: u.pk,
    // The address people and downstream systems know them by, as for the other IdPs; instances that
    // do not collect email addresses fall back to the username.
    login: u.email ?? u.username,
    email: u.email,
    displayName: u.name,
    state: u.isActive ? 'Active' : 'Suspended',
    idpStatus: u.isActive ? 'active' : 'inactive',
  };
}

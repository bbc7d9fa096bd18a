// JumpCloud's wire shapes, checked on the way in, and their mapping to the driver contract.
import { TransientError } from '../../errors.js';
import type { DirectoryGroup, DirectoryUser } from '../../directory/snapshot.js';
import type { KnownPeople } from '../members.js';

/** A v1 system user (GET /api/systemusers), the fields the sync reads. */
export interface SystemUser {
  _id: string;
  username?: string;
  email?: string;
  firstname?: string;
  lastname?: string;
  displayname?: string;
  activated?: boolean;
  suspended?: boolean;
  account_locked?: boolean;
  /** STAGED | ACTIVATED | SUSPENDED */
  state?: string;
}

/** A v2 user group (GET /api/v2/usergroups). */
export interface UserGroup {
  id: string;
  name: string;
  description?: string;
}

/** One edge of the v2 graph (members and associations): `to` is the object at the other end. */
export interface GraphConnection {
  to: { id: string; type: string };
}

/** A v2 traversal result (GET /api/v2/applications/{id}/users): an object reached through `paths`. */
export interface GraphObject {
  id: string;
  type: string;
}

/** GET /api/systemusers answers `{totalCount, results}`. */
export interface SystemUserList {
  totalCount: number;
  results: SystemUser[];
}

function malformed(what: string, detail: string): TransientError {
  return new TransientError('MalformedResponse', `JumpCloud: ${what} ${detail}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonEmptyString = (v: unknown): v is string => typeof v === 'string' && v !== '';

export function parseSystemUserList(body: unknown): SystemUserList {
  if (!isObject(body) || !Array.isArray(body.results) || typeof body.totalCount !== 'number') {
    throw malformed('GET /api/systemusers', 'returned no {totalCount, results} list');
  }
  return { totalCount: body.totalCount, results: body.results.map(parseSystemUser) };
}

export function parseSystemUser(raw: unknown): SystemUser {
  if (!isObject(raw) || !nonEmptyString(raw._id)) throw malformed('GET /api/systemusers', 'returned a user without an _id');
  return raw as unknown as SystemUser;
}

/** v2 list endpoints answer a bare JSON array. */
export function parseArray(body: unknown, what: string): unknown[] {
  if (!Array.isArray(body)) throw malformed(what, 'did not return a JSON array');
  return body;
}

export function parseUserGroup(raw: unknown): UserGroup {
  if (!isObject(raw) || !nonEmptyString(raw.id) || typeof raw.name !== 'string') {
    throw malformed('GET /api/v2/usergroups', 'returned a group without an id or name');
  }
  return raw as unknown as UserGroup;
}

export function parseGraphConnection(raw: unknown, what: string): GraphConnection {
  if (!isObject(raw) || !isObject(raw.to) || !nonEmptyString(raw.to.id) || !nonEmptyString(raw.to.type)) {
    throw malformed(what, 'returned an item without to.id and to.type');
  }
  return raw as unknown as GraphConnection;
}

export function parseGraphObject(raw: unknown, what: string): GraphObject {
  if (!isObject(raw) || !nonEmptyString(raw.id) || !nonEmptyString(raw.type)) {
    throw malformed(what, 'returned an item without id and type');
  }
  return raw as unknown as GraphObject;
}

/**
 * JumpCloud's three flags folded into one state:
 * - suspended (or state SUSPENDED): an admin took access away → Suspended.
 * - staged (state STAGED) or not yet activated: the person may not sign in yet → Suspended.
 * - account_locked: a lockout after failed password attempts, lifted by an admin or by time; the
 *   person keeps their access in principle, so the user stays Active with idpStatus LOCKED rather
 *   than losing their Kubernetes permissions over a burst of mistyped passwords.
 */
export function userState(user: SystemUser): Pick<DirectoryUser, 'state' | 'idpStatus'> {
  if (user.suspended === true || user.state === 'SUSPENDED') return { state: 'Suspended', idpStatus: 'SUSPENDED' };
  if (user.state === 'STAGED') return { state: 'Suspended', idpStatus: 'STAGED' };
  if (user.activated === false) return { state: 'Suspended', idpStatus: 'PENDING_ACTIVATION' };
  if (user.account_locked === true) return { state: 'Active', idpStatus: 'LOCKED' };
  return { state: 'Active', idpStatus: user.state || 'ACTIVATED' };
}

export function toDirectoryUser(user: SystemUser): DirectoryUser {
  const email = user.email || undefined;
  const login = email ?? user.username;
  if (!login) throw malformed('GET /api/systemusers', `returned user ${user._id} with neither email nor username`);
  const fullName = [user.firstname, user.lastname].filter(Boolean).join(' ');
  return {
    id: user._id,
    login,
    email,
    displayName: user.displayname || fullName || undefined,
    ...userState(user),
  };
}

/**
 * Members of a user group, split by kind. JumpCloud's members endpoint lists users; should it ever
 * list a user group (nesting), that goes to memberGroupIds. Members the snapshot does not hold
 * (created after the user list was read, or outside an application binding) are left out so the
 * snapshot never points at a user it does not contain. Users are listed as the user's own id string.
 */
export function toDirectoryGroup(
  group: UserGroup,
  members: GraphConnection[],
  people: KnownPeople,
  knownGroupIds: ReadonlySet<string>,
): DirectoryGroup {
  const memberUserIds: string[] = [];
  const memberGroupIds: string[] = [];
  for (const { to } of members) {
    if (to.type === 'user') {
      const own = people.own(to.id);
      if (own !== undefined) memberUserIds.push(own);
    } else if (to.type === 'user_group' && knownGroupIds.has(to.id) && to.id !== group.id) memberGroupIds.push(to.id);
  }
  return {
    id: group.id,
    name: group.name,
    kind: 'Group',
    description: group.description || undefined,
    memberUserIds,
    memberGroupIds,
  };
}

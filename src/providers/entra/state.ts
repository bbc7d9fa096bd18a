// The driver's picture of a tenant, built from full reads or from delta pages, and the snapshot
// made from it. Everything here is pure: no I/O, so the merge rules can be tested on their own.
import { TransientError } from '../../errors.js';
import type { DirectoryGroup, DirectorySnapshot, DirectoryUser } from '../../directory/snapshot.js';
import { KnownPeople } from '../members.js';

export const USER_TYPE = '#microsoft.graph.user';
export const GROUP_TYPE = '#microsoft.graph.group';

export interface Removed {
  '@removed'?: { reason?: string };
}

/** A user as Graph returns it with our $select; in a delta page only the changed properties may be present. */
export interface GraphUser extends Removed {
  id: string;
  displayName?: string | null;
  userPrincipalName?: string | null;
  mail?: string | null;
  accountEnabled?: boolean | null;
}

export interface GraphDirectoryObject extends Removed {
  '@odata.type'?: string;
  id: string;
}

export interface GraphGroup extends Removed {
  id: string;
  displayName?: string | null;
  description?: string | null;
  /** Delta only: member additions, and removals marked with @removed. */
  'members@delta'?: GraphDirectoryObject[];
}

export interface GroupState {
  id: string;
  displayName?: string | null;
  description?: string | null;
  userIds: Set<string>;
  groupIds: Set<string>;
}

export interface TenantState {
  users: Map<string, GraphUser>;
  groups: Map<string, GroupState>;
}

export function emptyState(): TenantState {
  return { users: new Map(), groups: new Map() };
}

/** A copy that delta pages can change without touching the last complete picture. */
export function cloneState(state: TenantState): TenantState {
  const groups = new Map<string, GroupState>();
  for (const [id, g] of state.groups) groups.set(id, { ...g, userIds: new Set(g.userIds), groupIds: new Set(g.groupIds) });
  return { users: new Map(state.users), groups };
}

const USER_PROPERTIES = ['displayName', 'userPrincipalName', 'mail', 'accountEnabled'] as const;
const GROUP_PROPERTIES = ['displayName', 'description'] as const;

/** Applies users from a list or a delta page: @removed (changed = soft-deleted, or deleted) removes. */
export function applyUsers(state: TenantState, items: GraphUser[]): void {
  for (const item of items) {
    if (typeof item?.id !== 'string') throw new TransientError('MalformedResponse', 'Entra: a user without an id');
    if (item['@removed']) {
      state.users.delete(item.id);
      continue;
    }
    const user: GraphUser = { ...(state.users.get(item.id) ?? { id: item.id }) };
    for (const key of USER_PROPERTIES) if (key in item) (user as any)[key] = item[key];
    state.users.set(item.id, user);
  }
}

/**
 * Applies groups from a delta page. A big group arrives on several pages, each with part of its
 * `members@delta`; changes are merged per group. A group without `members@delta` kept its members.
 */
export function applyGroups(state: TenantState, items: GraphGroup[]): void {
  for (const item of items) {
    if (typeof item?.id !== 'string') throw new TransientError('MalformedResponse', 'Entra: a group without an id');
    if (item['@removed']) {
      state.groups.delete(item.id);
      continue;
    }
    let group = state.groups.get(item.id);
    if (!group) {
      group = { id: item.id, userIds: new Set(), groupIds: new Set() };
      state.groups.set(item.id, group);
    }
    for (const key of GROUP_PROPERTIES) if (key in item) group[key] = item[key];
    applyMembers(group, item['members@delta'] ?? []);
  }
}

/** Applies member objects (a members list, or members@delta with removals) to one group. */
export function applyMembers(group: GroupState, members: GraphDirectoryObject[]): void {
  for (const member of members) {
    if (typeof member?.id !== 'string') throw new TransientError('MalformedResponse', `Entra: a member of group ${group.id} without an id`);
    const set = member['@odata.type'] === USER_TYPE ? group.userIds : member['@odata.type'] === GROUP_TYPE ? group.groupIds : undefined;
    if (!set) continue; // devices, contacts, service principals: not people
    if (member['@removed']) set.delete(member.id);
    else set.add(member.id);
  }
}

/** Enterprise-app assignments: which groups and users the app is assigned to. */
export interface Assignments {
  groupIds: Set<string>;
  userIds: Set<string>;
}

function toUser(u: GraphUser): DirectoryUser {
  if (!u.userPrincipalName) {
    throw new TransientError('MalformedResponse', `Entra: user ${u.id} has no userPrincipalName`);
  }
  const enabled = u.accountEnabled !== false;
  const known = typeof u.accountEnabled === 'boolean';
  return {
    id: u.id,
    login: u.userPrincipalName,
    ...(u.mail ? { email: u.mail } : {}),
    ...(u.displayName ? { displayName: u.displayName } : {}),
    state: enabled ? 'Active' : 'Suspended',
    ...(known ? { idpStatus: enabled ? 'accountEnabled' : 'accountDisabled' } : {}),
  };
}

const byId = <T extends { id: string }>(a: T, b: T) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The users and groups of a snapshot. With assignments, only the assigned groups count (Entra does
 * not pass app assignments down to nested groups), with their direct members and the users assigned
 * directly. Members that are not (or no longer) in the picture are dropped.
 */
export function buildDirectory(state: TenantState, assignments?: Assignments): Pick<DirectorySnapshot, 'users' | 'groups'> {
  const groupStates = [...state.groups.values()].filter((g) => !assignments || assignments.groupIds.has(g.id));
  const groupIds = new Set(groupStates.map((g) => g.id));

  let userIds: Set<string>;
  if (assignments) {
    userIds = new Set([...assignments.userIds].filter((id) => state.users.has(id)));
    for (const g of groupStates) for (const id of g.userIds) if (state.users.has(id)) userIds.add(id);
  } else {
    userIds = new Set(state.users.keys());
  }

  const users = [...userIds].map((id) => toUser(state.users.get(id)!)).sort(byId);
  const people = new KnownPeople(users.map((u) => u.id));
  const groups: DirectoryGroup[] = groupStates
    .map((g) => {
      if (!g.displayName) throw new TransientError('MalformedResponse', `Entra: group ${g.id} has no displayName`);
      return {
        id: g.id,
        name: g.displayName,
        kind: 'Group' as const,
        ...(g.description ? { description: g.description } : {}),
        memberUserIds: people.members(g.userIds).sort(),
        memberGroupIds: [...g.groupIds].filter((id) => groupIds.has(id)).sort(),
      };
    })
    .sort(byId);
  return { users, groups };
}

// Reads a tenant into users and groups. Auth0 has no groups of people in its stable API; the
// group-like things are roles (assigned to users directly) and organizations (whose members are
// users). Each becomes a Group with direct members only: neither can contain another.
import type { DirectoryGroup, DirectoryUser } from '../../directory/snapshot.js';
import { KnownPeople } from '../members.js';
import type { Auth0Api } from './api.js';
import { toDirectoryUser, type Auth0GroupSource, type Auth0Member } from './model.js';

export type GroupSource = 'roles' | 'organizations';

export interface Directory {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
}

export async function readTenant(api: Auth0Api, groupsFrom: readonly GroupSource[], signal: AbortSignal): Promise<Directory> {
  const usersRead = api.users(signal);
  usersRead.catch(() => undefined); // awaited below, after the groups
  const sources = await Promise.all(groupsFrom.map((source) => readSource(api, source, signal)));
  const users = (await usersRead).map(toDirectoryUser);
  const known = new KnownPeople(users.map((u) => u.id));

  const groups = sources.flat().map(({ group, members }): DirectoryGroup => ({
    id: group.id,
    name: group.name,
    kind: 'Group',
    description: group.description,
    // Members the user list did not have (created a moment ago; Auth0's search index lags) wait for the next sync.
    memberUserIds: known.members(members.map((m) => m.userId)),
    memberGroupIds: [],
  }));
  return { users, groups };
}

async function readSource(api: Auth0Api, source: GroupSource, signal: AbortSignal): Promise<{ group: Auth0GroupSource; members: Auth0Member[] }[]> {
  const groups = source === 'roles' ? await api.roles(signal) : await api.organizations(signal);
  const reads = groups.map((g) => (source === 'roles' ? api.roleMembers(g.id, signal) : api.organizationMembers(g.id, signal)));
  reads.forEach((read) => read.catch(() => undefined)); // awaited together below; none may go unhandled meanwhile
  const members = await Promise.all(reads);
  return groups.map((group, i) => ({ group, members: members[i] }));
}

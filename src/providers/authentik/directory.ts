// Reads an authentik instance into users and groups. A group names the groups it sits in (`parents`,
// or `parent` on older servers), and a member of a group counts as a member of its parents: so each
// group lists the groups that name it as nested groups, and the operator flattens them.
import type { DirectoryGroup, DirectoryUser } from '../../directory/snapshot.js';
import { KnownPeople } from '../members.js';
import type { AuthentikApi } from './api.js';
import { isPerson, toDirectoryUser, type AuthentikGroup, type AuthentikUser } from './model.js';

export interface Directory {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
}

export async function readInstance(api: AuthentikApi, signal: AbortSignal): Promise<Directory> {
  const usersRead = api.users(signal);
  usersRead.catch(() => undefined); // awaited below, after the groups
  const groups = await api.groups(signal);
  const memberReads = groups.map((group) => api.members(group.pk, signal));
  memberReads.forEach((read) => read.catch(() => undefined)); // awaited together below; none may go unhandled meanwhile
  const users = (await usersRead).filter(isPerson).map(toDirectoryUser);
  const members: AuthentikUser[][] = await Promise.all(memberReads);

  const people = new KnownPeople(users.map((u) => u.id));
  const children = childrenByParent(groups);
  return {
    users,
    groups: groups.map(
      (group, i): DirectoryGroup => ({
        id: group.pk,
        name: group.name,
        kind: 'Group',
        // Service accounts, and members the user list did not have (created a moment ago), are left out.
        memberUserIds: people.members(members[i].map((u) => u.pk)),
        memberGroupIds: children.get(group.pk) ?? [],
      }),
    ),
  };
}

/** Parent pk → pks of the groups nested in it; a parent that is not in the list is ignored. */
function childrenByParent(groups: AuthentikGroup[]): Map<string, string[]> {
  const known = new Set(groups.map((g) => g.pk));
  const children = new Map<string, string[]>();
  for (const group of groups) {
    for (const parent of group.parents) {
      if (parent === group.pk || !known.has(parent)) continue;
      children.set(parent, [...(children.get(parent) ?? []), group.pk]);
    }
  }
  return children;
}

// Reads a Zitadel organisation into users and groups. Zitadel has no groups of people: access is
// given as project roles, granted to users through user grants. So each role of the configured
// project becomes a group whose members are the people holding an active grant with that role.
// Roles are flat: no role contains another, so no group has nested groups.
import type { DirectoryGroup, DirectoryUser } from '../../directory/snapshot.js';
import { KnownPeople } from '../members.js';
import type { ZitadelApi } from './api.js';
import { grantsRoles, isPerson, toDirectoryUser } from './model.js';

export interface Directory {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
}

export async function readOrganisation(api: ZitadelApi, signal: AbortSignal): Promise<Directory> {
  const reads = [api.readAll(api.userSearch, signal), api.readAll(api.roleSearch, signal), api.readAll(api.grantSearch, signal)] as const;
  reads.forEach((read) => read.catch(() => undefined)); // awaited together below; none may go unhandled meanwhile
  const [people, roles, grants] = await Promise.all(reads);

  // The user search asks for humans only; a machine user that comes back anyway is still left out.
  const users = people.filter(isPerson).map(toDirectoryUser);
  const known = new KnownPeople(users.map((u) => u.id));
  const members = new Map<string, Set<string>>(roles.map((r) => [r.key, new Set()]));
  for (const grant of grants) {
    // Grants of machine users, of users outside the user list (another organisation, or created a
    // moment ago: they wait for the next sync) and deactivated grants give no membership.
    const userId = grantsRoles(grant) ? known.own(grant.userId) : undefined;
    if (userId === undefined) continue;
    for (const key of grant.roleKeys) members.get(key)?.add(userId);
  }
  return {
    users,
    groups: roles.map(
      (role): DirectoryGroup => ({
        id: role.key,
        name: role.displayName ?? role.key,
        kind: 'Group',
        ...(role.displayName && role.displayName !== role.key ? { description: `Zitadel role ${role.key}` } : {}),
        memberUserIds: [...members.get(role.key)!],
        memberGroupIds: [],
      }),
    ),
  };
}

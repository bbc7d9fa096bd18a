// Reads a whole JumpCloud directory (or the part bound to one application) into a snapshot.
import type { DirectoryGroup, DirectoryUser } from '../../directory/snapshot.js';
import { KnownPeople } from '../members.js';
import type { JumpCloudApi } from './api.js';
import { toDirectoryGroup, toDirectoryUser } from './model.js';

export interface DirectoryContents {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
}

interface Binding {
  userIds: Set<string>;
  groupIds: Set<string>;
}

/**
 * Users come from the v1 list (the traversal endpoints give ids only), groups from the v2 list;
 * with an application, both are cut down to what is bound to it. Then each group's direct members.
 */
export async function readDirectory(api: JumpCloudApi, applicationId: string | undefined, signal?: AbortSignal): Promise<DirectoryContents> {
  const [allUsers, allGroups, binding] = await Promise.all([
    api.listUsers(signal),
    api.listGroups(signal),
    applicationId ? readBinding(api, applicationId, signal) : undefined,
  ]);
  const users = binding ? allUsers.filter((u) => binding.userIds.has(u._id)) : allUsers;
  const groups = binding ? allGroups.filter((g) => binding.groupIds.has(g.id)) : allGroups;

  const people = new KnownPeople(users.map((u) => u._id));
  const groupIds = new Set(groups.map((g) => g.id));
  const directoryGroups = await Promise.all(
    groups.map(async (group) => toDirectoryGroup(group, await api.listMembers(group.id, signal), people, groupIds)),
  );
  return { users: users.map(toDirectoryUser), groups: directoryGroups };
}

async function readBinding(api: JumpCloudApi, applicationId: string, signal?: AbortSignal): Promise<Binding> {
  const [users, groups] = await Promise.all([api.applicationUsers(applicationId, signal), api.applicationGroups(applicationId, signal)]);
  return {
    userIds: new Set(users.filter((o) => o.type === 'user').map((o) => o.id)),
    groupIds: new Set(groups.filter((o) => o.type === 'user_group').map((o) => o.id)),
  };
}

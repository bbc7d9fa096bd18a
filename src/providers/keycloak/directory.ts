// Reads a realm into users and groups. Keycloak groups form a tree: a member of a subgroup counts as a
// member of its parents, so each group lists its subgroups as nested groups and the operator flattens them.
import { TransientError } from '../../errors.js';
import type { DirectoryGroup, DirectoryUser } from '../../directory/snapshot.js';
import { KnownPeople } from '../members.js';
import type { KeycloakApi } from './api.js';
import { toDirectoryUser, type KeycloakGroup, type KeycloakUser } from './model.js';

export interface Directory {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
}

export async function readRealm(api: KeycloakApi, signal: AbortSignal): Promise<Directory> {
  const usersRead = api.users(signal);
  usersRead.catch(() => undefined); // awaited below, after the group walk
  // Members are read as each group is found, while the walk goes on down the tree.
  const memberReads = new Map<string, Promise<KeycloakUser[]>>();
  const tree = await walkTree(api, await api.topLevelGroups(signal), signal, (group) => {
    const read = api.members(group.id, signal);
    read.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    memberReads.set(group.id, read);
  });
  const users = (await usersRead).map(toDirectoryUser);
  const members = await Promise.all(tree.map(({ group }) => memberReads.get(group.id)!));

  const known = new KnownPeople(users.map((u) => u.id));
  const groups = tree.map(({ group, children }, i): DirectoryGroup => ({
    id: group.id,
    name: group.name,
    kind: 'Group',
    description: group.description,
    // Members the user list did not have (created a moment ago) wait for the next sync.
    memberUserIds: known.members(members[i].map((u) => u.id)),
    memberGroupIds: children.map((c) => c.id),
  }));
  return { users, groups };
}

interface Node {
  group: KeycloakGroup;
  children: KeycloakGroup[];
}

/**
 * Every group of the realm, level by level. Before Keycloak 23 the subgroups come embedded in the
 * answer; from 23 on they are empty there and subGroupCount says how many to read from /children.
 */
async function walkTree(api: KeycloakApi, topLevel: KeycloakGroup[], signal: AbortSignal, found: (group: KeycloakGroup) => void): Promise<Node[]> {
  const nodes: Node[] = [];
  const seen = new Set<string>();
  let level = topLevel;
  while (level.length > 0) {
    for (const group of level) {
      if (seen.has(group.id)) throw new TransientError('MalformedResponse', `Keycloak: group ${group.id} appears twice in the group tree`);
      seen.add(group.id);
      found(group);
    }
    const children = await Promise.all(level.map((group) => (needsChildrenCall(group) ? api.children(group.id, signal) : group.subGroups)));
    level.forEach((group, i) => nodes.push({ group, children: children[i] }));
    level = children.flat();
  }
  return nodes;
}

function needsChildrenCall(group: KeycloakGroup): boolean {
  return group.subGroupCount !== undefined && group.subGroupCount > 0 && group.subGroups.length < group.subGroupCount;
}

// Reads an Okta org (or the part of it assigned to one app) into users and groups.
import type { DirectoryGroup, DirectoryUser } from '../../directory/snapshot.js';
import { KnownPeople } from '../members.js';
import type { OktaApi } from './api.js';
import { appGroupRef, embeddedUser, requireGroup, toGroup, toUser, userId } from './model.js';

/** Page sizes: Okta's recommended 200, or the maximum where a bigger page costs the same. */
export const PAGE_SIZE = { users: 200, groups: 200, members: 200, appUsers: 500, appGroups: 200 } as const;

export interface Directory {
  users: DirectoryUser[];
  groups: DirectoryGroup[];
}

/**
 * Only what is assigned to one app: its users (directly or through a group) and its groups, with
 * members narrowed to the app's users.
 */
export async function readApp(api: OktaApi, appId: string, signal: AbortSignal): Promise<Directory> {
  const app = `/api/v1/apps/${encodeURIComponent(appId)}`;
  const [rawAppUsers, rawAppGroups] = await Promise.all([
    api.list(api.url(`${app}/users`, { expand: 'user', limit: PAGE_SIZE.appUsers }), 'okta.apps.read', { signal }),
    api.list(api.url(`${app}/groups`, { expand: 'group', limit: PAGE_SIZE.appGroups }), 'okta.apps.read', { signal }),
  ]);
  const users = rawAppUsers!.map((item) => toUser(embeddedUser(item)));
  const refs = rawAppGroups!.map(appGroupRef);
  const rawGroups = await Promise.all(
    refs.map(async (ref) => {
      if (ref.group) return ref.group;
      const res = await api.get(api.url(`/api/v1/groups/${encodeURIComponent(ref.id)}`), 'okta.groups.read', { signal, allowNotFound: true });
      return res.status === 404 ? undefined : res.body;
    }),
  );
  const groups = await withMembers(api, rawGroups.filter((g) => g !== undefined), new KnownPeople(users.map((u) => u.id)), signal);
  return { users, groups };
}

/**
 * Lists each group's members (IdpHttpClient bounds how many run at once). A group deleted while we
 * read is left out, as it is gone; members we do not sync (deprovisioned, or not assigned to the
 * app) are dropped so that no group points at a user the snapshot does not have.
 */
async function withMembers(api: OktaApi, rawGroups: unknown[], people: KnownPeople, signal: AbortSignal): Promise<DirectoryGroup[]> {
  const groups = rawGroups.map(requireGroup);
  // Reduced to ids as each list arrives, so whole member objects are not all held at once.
  const lists = await Promise.all(
    groups.map(async (g) => {
      const members = await api.list(api.url(`/api/v1/groups/${encodeURIComponent(g.id)}/users`, { limit: PAGE_SIZE.members }), 'okta.groups.read', {
        signal,
        allowNotFound: true,
      });
      return members && people.members(members.map(userId));
    }),
  );
  const result: DirectoryGroup[] = [];
  groups.forEach((group, i) => {
    const members = lists[i];
    if (members !== undefined) result.push(toGroup(group, members));
  });
  return result;
}

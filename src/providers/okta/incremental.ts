// Incremental reads of a whole Okta org. The driver keeps the last complete picture in memory; the
// next read asks only for users changed since (filter=lastUpdated gt, which Okta evaluates against
// current data and which, unlike an unfiltered list, includes DEPROVISIONED users), lists the groups
// (one or two pages: their lastUpdated / lastMembershipUpdated say which changed, and a missing group
// was deleted) and re-reads the members of changed groups only. A user deleted outright (after being
// deactivated since the last read) shows in no filter, but leaves their groups: whoever left a group
// and was not in the users filter is looked up by id, and a 404 removes them. A full read stays the
// safety net for the rest (a deleted user who was in no group): after a restart and on a schedule
// (FULL_READ_EVERY_MS).
import type { DirectoryGroup, DirectoryUser } from '../../directory/snapshot.js';
import type { OktaApi } from './api.js';
import { PAGE_SIZE } from './directory.js';
import { requireGroup, toGroup, toUser, userId, type OktaGroup } from './model.js';

/** How often a full read replaces incremental ones. */
export const FULL_READ_EVERY_MS = 60 * 60_000;
/**
 * The next users filter starts this long before the previous read started, so a clock ahead of
 * Okta's by up to this much loses nothing; re-reading the few users changed in that window is cheap.
 */
export const CLOCK_MARGIN_MS = 5 * 60_000;
/** Groups per page of the group list: Okta's maximum, so 20,000 groups cost two calls. */
export const GROUP_PAGE = 10_000;
/** More people than this left groups: list every user instead of looking each one up. */
export const MAX_LOOKUPS = 500;

interface KnownGroup {
  /** lastUpdated and lastMembershipUpdated as Okta gave them; a different value means re-read. */
  stamp: string;
  raw: unknown;
  /** Direct members as listed, before narrowing to the users we sync. */
  memberIds: string[];
  /** memberIds narrowed to the picture's users, as the last snapshot computed it. */
  synced?: string[];
}

export interface OrgPicture {
  /** Users an unfiltered list would return (every status but DEPROVISIONED). */
  users: Map<string, DirectoryUser>;
  groups: Map<string, KnownGroup>;
  /** When the read that built this picture started (local clock, ms). */
  readStartedAt: number;
  fullReadAt: number;
}

export interface OrgRead {
  picture: OrgPicture;
  users: DirectoryUser[];
  groups: DirectoryGroup[];
  full: boolean;
}

/** Reads the org: incrementally from `previous` when it is recent enough, else in full. */
export async function readOrgPicture(api: OktaApi, previous: OrgPicture | undefined, now: number, signal: AbortSignal): Promise<OrgRead> {
  const full = !previous || now - previous.fullReadAt >= FULL_READ_EVERY_MS;
  const since = previous ? new Date(previous.readStartedAt - CLOCK_MARGIN_MS).toISOString() : undefined;
  const [listedUsers, rawGroups] = await Promise.all([
    full
      ? api.list(api.url('/api/v1/users', { limit: PAGE_SIZE.users }), 'okta.users.read', { signal, map: toUser })
      : api.list(api.url('/api/v1/users', { filter: `lastUpdated gt "${since}"`, limit: PAGE_SIZE.users }), 'okta.users.read', { signal, map: toUser }),
    api.list(api.url('/api/v1/groups', { limit: GROUP_PAGE }), 'okta.groups.read', { signal, map: listedGroup }),
  ]);

  const users = full ? new Map<string, DirectoryUser>() : new Map(previous!.users);
  const changed = new Set<string>();
  /** Whether anyone joined or left the picture's users: then every group's members are narrowed again. */
  let sameUsers = !full;
  for (const user of listedUsers!) {
    changed.add(user.id);
    // Only a filtered list shows DEPROVISIONED users; an unfiltered one leaves them out, so both mean gone.
    if (user.idpStatus === 'DEPROVISIONED') {
      if (users.delete(user.id)) sameUsers = false;
    } else {
      if (!users.has(user.id)) sameUsers = false;
      users.set(user.id, user);
    }
  }

  const groups = new Map<string, KnownGroup>();
  const toRead: { id: string; stamp: string; raw: unknown }[] = [];
  for (const { raw, stamp, stamped } of rawGroups!) {
    const known = full ? undefined : previous!.groups.get(raw.id);
    // Without both timestamps there is nothing to compare: read the members every time.
    if (known && known.stamp === stamp && stamped) groups.set(raw.id, { ...known, raw });
    else toRead.push({ id: raw.id, stamp, raw });
  }
  // Each list is reduced to member ids as soon as it arrives: a member comes as a whole user object,
  // and holding every group's until the last arrives was the peak of a first sync (a million at 100k).
  const memberIds = await Promise.all(
    toRead.map(async (g) => {
      // Each id is the user's own id string, not a copy per membership.
      const members = await api.list(api.url(`/api/v1/groups/${encodeURIComponent(g.id)}/users`, { limit: PAGE_SIZE.members }), 'okta.groups.read', {
        signal,
        allowNotFound: true,
        map: (m) => sharedId(users, userId(m)),
      });
      return members && [...new Set(members)];
    }),
  );
  toRead.forEach((g, i) => {
    // Deleted while we read: it is gone.
    if (memberIds[i] !== undefined) groups.set(g.id, { stamp: g.stamp, raw: g.raw, memberIds: memberIds[i] });
  });

  if (!full && (await forgetDeletedUsers(api, previous!, groups, users, changed, signal))) sameUsers = false;

  const picture: OrgPicture = { users, groups, readStartedAt: now, fullReadAt: full ? now : previous!.fullReadAt };
  return { picture, full, ...snapshotOf(picture, sameUsers) };
}

/**
 * People who left a group (or whose group was deleted) and whom the users filter did not return:
 * each is read by id, and one deleted outright (404) or deprovisioned is removed. When too many left
 * at once, every user is listed instead.
 */
async function forgetDeletedUsers(
  api: OktaApi,
  previous: OrgPicture,
  groups: Map<string, KnownGroup>,
  users: Map<string, DirectoryUser>,
  changed: Set<string>,
  signal: AbortSignal,
): Promise<boolean> {
  const left = new Set<string>();
  for (const [id, before] of previous.groups) {
    const now = groups.get(id);
    if (now?.memberIds === before.memberIds) continue; // not re-read
    const stayed = new Set(now?.memberIds ?? []);
    for (const member of before.memberIds) if (!stayed.has(member) && !changed.has(member) && users.has(member)) left.add(member);
  }
  if (left.size === 0) return false;
  const before = users.size;
  if (left.size > MAX_LOOKUPS) {
    const all = new Set((await api.list(api.url('/api/v1/users', { limit: PAGE_SIZE.users }), 'okta.users.read', { signal }))!.map(userId));
    for (const id of left) if (!all.has(id)) users.delete(id);
    return users.size !== before;
  }
  await Promise.all(
    [...left].map(async (id) => {
      const res = await api.get(api.url(`/api/v1/users/${encodeURIComponent(id)}`), 'okta.users.read', { signal, allowNotFound: true });
      if (res.status === 404) return void users.delete(id);
      const user = toUser(res.body);
      if (user.idpStatus === 'DEPROVISIONED') users.delete(id);
      else users.set(id, user);
    }),
  );
  // Only people already in the picture are looked up, so the set can only have lost some.
  return users.size !== before;
}

/** A listed group reduced as its page arrives: what toGroup reads, not the whole object with its links. */
function listedGroup(item: unknown): { raw: OktaGroup; stamp: string; stamped: boolean } {
  const group = requireGroup(item) as OktaGroup & { lastUpdated?: unknown; lastMembershipUpdated?: unknown };
  return {
    raw: { id: group.id, type: group.type, profile: { name: group.profile.name, description: group.profile.description } },
    stamp: `${String(group.lastUpdated)}|${String(group.lastMembershipUpdated)}`,
    stamped: Boolean(group.lastUpdated && group.lastMembershipUpdated),
  };
}

function sharedId(users: ReadonlyMap<string, DirectoryUser>, id: string): string {
  return users.get(id)?.id ?? id;
}

/**
 * Users and groups as the driver contract wants them; members we do not sync are left out. With
 * `sameUsers` (no one joined or left the users since the previous picture), a group not read again
 * keeps the narrowed member list that picture computed: a million lookups fewer at 100,000 people.
 */
export function snapshotOf(picture: OrgPicture, sameUsers = false): { users: DirectoryUser[]; groups: DirectoryGroup[] } {
  const groups: DirectoryGroup[] = [];
  for (const g of picture.groups.values()) {
    if (!sameUsers || !g.synced) g.synced = g.memberIds.filter((id) => picture.users.has(id));
    groups.push(toGroup(g.raw, g.synced));
  }
  return { users: [...picture.users.values()], groups };
}

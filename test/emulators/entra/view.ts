// The fixture as Microsoft Graph shows it, and the difference between two such views, which is
// what a delta link returns: new and changed objects, @removed ones, and members@delta changes.
import type { DirectoryFixture } from '../fixture.js';

export const USER_TYPE = '#microsoft.graph.user';
export const GROUP_TYPE = '#microsoft.graph.group';

export interface UserObject {
  id: string;
  displayName: string;
  userPrincipalName: string;
  mail: string | null;
  accountEnabled: boolean;
}

export interface GroupObject {
  id: string;
  displayName: string;
  description: string | null;
}

export interface GroupView {
  object: GroupObject;
  /** member id → @odata.type */
  members: Map<string, string>;
}

export interface GraphView {
  users: Map<string, UserObject>;
  /** Users in the recycle bin (fixture state "deleted"): gone from lists, "changed" in delta. */
  softDeleted: Set<string>;
  groups: Map<string, GroupView>;
}

/**
 * Entra has no "locked" or "staged" account; the fixture's suspended users are the disabled ones
 * and its deleted users sit in the recycle bin, invisible to lists and group member lists.
 */
export function graphView(fixture: DirectoryFixture): GraphView {
  const users = new Map<string, UserObject>();
  const softDeleted = new Set<string>();
  for (const u of fixture.users) {
    if (u.state === 'deleted') {
      softDeleted.add(u.id);
      continue;
    }
    users.set(u.id, {
      id: u.id,
      displayName: [u.firstName, u.lastName].filter(Boolean).join(' ') || u.login,
      userPrincipalName: u.login,
      mail: u.email ?? null,
      accountEnabled: u.state !== 'suspended',
    });
  }
  const groupIds = new Set(fixture.groups.map((g) => g.id));
  const groups = new Map<string, GroupView>();
  for (const g of fixture.groups) {
    const members = new Map<string, string>();
    for (const id of g.members ?? []) if (users.has(id)) members.set(id, USER_TYPE);
    for (const id of g.groups ?? []) if (groupIds.has(id)) members.set(id, GROUP_TYPE);
    groups.set(g.id, { object: { id: g.id, displayName: g.name, description: g.description ?? null }, members });
  }
  return { users, softDeleted, groups };
}

/** Only the selected properties (and id, which Graph always returns for directory objects). */
export function selectFrom<T extends { id: string }>(object: T, select: string[] | undefined): Partial<T> & { id: string } {
  if (!select) return { ...object };
  const out: Record<string, unknown> = { id: object.id };
  for (const key of select) if (key in object) out[key] = (object as Record<string, unknown>)[key];
  return out as Partial<T> & { id: string };
}

export function memberObject(id: string, type: string, removed = false): Record<string, unknown> {
  return { '@odata.type': type, id, ...(removed ? { '@removed': { reason: 'deleted' } } : {}) };
}

/** Users changed since `before` (everything when `before` is empty): changed ones carry only what changed. */
export function userChanges(before: GraphView | undefined, now: GraphView, select: string[] | undefined): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const [id, user] of now.users) {
    const old = before?.users.get(id);
    if (!old) {
      out.push(selectFrom(user, select));
      continue;
    }
    const changed = (Object.keys(user) as (keyof UserObject)[]).filter((k) => k !== 'id' && user[k] !== old[k]);
    const visible = changed.filter((k) => !select || select.includes(k));
    if (visible.length > 0) out.push(Object.fromEntries([['id', id], ...visible.map((k) => [k, user[k]])]));
  }
  for (const id of before?.users.keys() ?? []) {
    if (!now.users.has(id)) out.push({ id, '@removed': { reason: now.softDeleted.has(id) ? 'changed' : 'deleted' } });
  }
  return out;
}

/**
 * Groups changed since `before`, one object per group with `members@delta` (all members for a new
 * group; additions and @removed members for a changed one). Splitting big groups is the caller's.
 */
export function groupChanges(before: GraphView | undefined, now: GraphView, select: string[] | undefined): Record<string, unknown>[] {
  const withMembers = !select || select.includes('members');
  const out: Record<string, unknown>[] = [];
  for (const [id, group] of now.groups) {
    const old = before?.groups.get(id);
    const props = (Object.keys(group.object) as (keyof GroupObject)[]).filter(
      (k) => k !== 'id' && (!select || select.includes(k)) && (!old || old.object[k] !== group.object[k]),
    );
    const members: Record<string, unknown>[] = [];
    if (withMembers) {
      for (const [memberId, type] of group.members) if (!old?.members.has(memberId)) members.push(memberObject(memberId, type));
      for (const [memberId, type] of old?.members ?? []) if (!group.members.has(memberId)) members.push(memberObject(memberId, type, true));
    }
    if (old && props.length === 0 && members.length === 0) continue;
    const item: Record<string, unknown> = { id, ...Object.fromEntries(props.map((k) => [k, group.object[k]])) };
    if (withMembers && (members.length > 0 || !old)) item['members@delta'] = members;
    out.push(item);
  }
  for (const id of before?.groups.keys() ?? []) {
    if (!now.groups.has(id)) out.push({ id, '@removed': { reason: 'deleted' } });
  }
  return out;
}

/** Splits groups whose members@delta is longer than `chunk` into several objects, as Graph does across pages. */
export function splitMembers(items: Record<string, unknown>[], chunk: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const item of items) {
    const members = item['members@delta'] as unknown[] | undefined;
    if (!members || members.length <= chunk) {
      out.push(item);
      continue;
    }
    for (let i = 0; i < members.length; i += chunk) {
      const part = i === 0 ? { ...item } : { id: item.id };
      out.push({ ...part, 'members@delta': members.slice(i, i + chunk) });
    }
  }
  return out;
}

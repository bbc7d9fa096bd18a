// Turns Directory API resources into the driver contract's users and groups.
import type { DirectoryGroup, DirectoryUser } from '../../directory/snapshot.js';
import type { KnownPeople } from '../members.js';
import type { GoogleMember, GoogleOrgUnit, GoogleUser } from './api.js';

export function toDirectoryUser(user: GoogleUser, orgUnitIdByPath?: ReadonlyMap<string, string>): DirectoryUser {
  const given = user.name?.givenName ?? '';
  const family = user.name?.familyName ?? '';
  const displayName = user.name?.fullName || `${given} ${family}`.trim() || undefined;
  return {
    id: user.id,
    login: user.primaryEmail,
    email: user.primaryEmail,
    displayName,
    // Archived users cannot sign in either (they keep their data, not their access).
    state: user.suspended || user.archived ? 'Suspended' : 'Active',
    idpStatus: idpStatus(user),
    orgUnitId: orgUnitIdByPath?.get(user.orgUnitPath ?? '/'),
  };
}

function idpStatus(user: GoogleUser): string {
  if (user.archived) return 'archived';
  if (user.suspended) return user.suspensionReason ? `suspended (${user.suspensionReason})` : 'suspended';
  return 'active';
}

export interface SplitMembers {
  userIds: string[];
  groupIds: string[];
  /** Members left out, by why (e.g. "CUSTOMER", "USER outside the synced users"). */
  skipped: Record<string, number>;
}

/**
 * Sorts a group's direct members into users and nested groups. Members the snapshot cannot name are
 * left out rather than dangling: users of other domains (external members, or a domain filter) and
 * groups that were not listed. A CUSTOMER member ("everyone in the organisation") is not expanded.
 * Users are listed as the user's own id string.
 */
export function splitMembers(members: GoogleMember[], people: KnownPeople, knownGroups: ReadonlySet<string>): SplitMembers {
  const result: SplitMembers = { userIds: [], groupIds: [], skipped: {} };
  const skip = (why: string) => (result.skipped[why] = (result.skipped[why] ?? 0) + 1);
  const seenUsers = new Set<string>();
  const seenGroups = new Set<string>();
  for (const member of members) {
    if (member.type === 'USER' && member.id) {
      const own = people.own(member.id);
      if (own === undefined) skip('USER outside the synced users');
      else if (!seenUsers.has(own)) {
        seenUsers.add(own);
        result.userIds.push(own);
      }
    } else if (member.type === 'GROUP' && member.id) {
      if (!knownGroups.has(member.id)) skip('GROUP outside the synced groups');
      else if (!seenGroups.has(member.id)) {
        seenGroups.add(member.id);
        result.groupIds.push(member.id);
      }
    } else {
      skip(member.type);
    }
  }
  return result;
}

/**
 * Each organisational unit as a group of kind OrgUnit: its direct members are the users whose
 * orgUnitPath is the unit's path, and its child units are nested groups, so flattening gives an OU
 * every user at or below it. The root "/" is not a listed unit and gets no group. Groups are named
 * by path because unit names repeat across the tree.
 */
export function orgUnitGroups(units: GoogleOrgUnit[], users: GoogleUser[]): DirectoryGroup[] {
  const groups = new Map<string, DirectoryGroup>();
  const idByPath = new Map<string, string>();
  for (const unit of units) {
    idByPath.set(unit.orgUnitPath, unit.orgUnitId);
    groups.set(unit.orgUnitId, {
      id: unit.orgUnitId,
      name: unit.orgUnitPath,
      kind: 'OrgUnit',
      description: unit.description || undefined,
      memberUserIds: [],
      memberGroupIds: [],
    });
  }
  for (const unit of units) {
    const parentId =
      unit.parentOrgUnitId && groups.has(unit.parentOrgUnitId)
        ? unit.parentOrgUnitId
        : unit.parentOrgUnitPath !== undefined
          ? idByPath.get(unit.parentOrgUnitPath)
          : undefined;
    if (parentId && parentId !== unit.orgUnitId) groups.get(parentId)!.memberGroupIds.push(unit.orgUnitId);
  }
  for (const user of users) {
    const unitId = idByPath.get(user.orgUnitPath ?? '/');
    if (unitId) groups.get(unitId)!.memberUserIds.push(user.id);
  }
  return [...groups.values()];
}

export function orgUnitIdsByPath(units: GoogleOrgUnit[]): Map<string, string> {
  return new Map(units.map((u) => [u.orgUnitPath, u.orgUnitId]));
}

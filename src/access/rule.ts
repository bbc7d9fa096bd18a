// The one rule that decides whether a Policy grants access to a User. A gateway enforcing these
// objects must apply exactly this rule, so it lives alone and stays small.
import type { Group, Policy, User } from '../api/v1alpha1/objects.js';
import { getCondition } from '../controllers/conditions.js';

/** Why a Policy grants nothing to anyone. */
export type InertReason = 'PolicyNotReady' | 'NoResolvedGroup' | 'GroupNotFound';

export type PolicyResolution = { granting: true; group: Group } | { granting: false; reason: InertReason };

export function readyCondition(policy: Policy) {
  return getCondition(policy.status?.conditions, 'Ready');
}

/**
 * The Group a Policy grants access through, or why it is inert: its Ready condition must be True
 * and status.resolvedGroup must name a Group that exists in the Policy's namespace.
 */
export function grantingGroup(policy: Policy, groupsByName: ReadonlyMap<string, Group>): PolicyResolution {
  if (readyCondition(policy)?.status !== 'True') return { granting: false, reason: 'PolicyNotReady' };
  const name = policy.status?.resolvedGroup;
  if (!name) return { granting: false, reason: 'NoResolvedGroup' };
  const group = groupsByName.get(name);
  if (!group || group.metadata.namespace !== policy.metadata.namespace) return { granting: false, reason: 'GroupNotFound' };
  return { granting: true, group };
}

/** True when the user gets what a granting Policy gives through this Group. */
export function userInGroup(user: User, group: Group): boolean {
  return (
    user.spec.state === 'Active' &&
    user.metadata.namespace === group.metadata.namespace &&
    user.spec.groups.includes(group.metadata.name!)
  );
}

/** The whole rule in one call. */
export function policyGrants(policy: Policy, groupsByName: ReadonlyMap<string, Group>, user: User): boolean {
  const resolution = grantingGroup(policy, groupsByName);
  return resolution.granting && userInGroup(user, resolution.group);
}

export function groupsByName(groups: readonly Group[]): Map<string, Group> {
  return new Map(groups.map((g) => [g.metadata.name!, g]));
}

// Who can reach what, from the User, Group and Policy objects of one namespace. Pure: the caller
// lists the objects, these functions only read them.
import type { Group, Policy, User } from '../api/v1alpha1/objects.js';
import { portCovered, resourceCovers, type Protocol, type ResourceLike } from './address.js';
import { groupsByName, readyCondition, grantingGroup, userInGroup, type InertReason } from './rule.js';

/** A Policy resource with its defaults spelled out: an empty list means every port or protocol. */
export interface GrantedResource {
  address: string;
  ports: string[];
  protocols: Protocol[];
}

export interface Grant {
  policy: string;
  /** The Group object the Policy grants through. */
  group: string;
  groupDisplayName: string;
  directory: string;
  resource: GrantedResource;
}

export interface UserSummary {
  name: string;
  login: string;
  email?: string;
  displayName?: string;
  state: User['spec']['state'];
  directory: string;
  revokedAt?: string;
  /** The user's groups (after flattening); displayName is absent when the Group object is missing. */
  groups: { name: string; displayName?: string }[];
}

/** A Policy that would apply to the user through one of their groups but grants nothing. */
export interface InertPolicy {
  policy: string;
  group: string;
  reason: InertReason;
  /** The Policy's Ready condition, when it has one that is not True. */
  ready?: { status: string; reason: string; message: string };
}

export interface UserAccess {
  user: UserSummary;
  grants: Grant[];
  inertPolicies: InertPolicy[];
}

export interface ReachQuery {
  address: string;
  port?: number;
  protocol?: string;
}

export interface Reach extends Grant {
  /** Logins of the Active users the Policy grants to, sorted. */
  users: string[];
}

export function accessOfUser(user: User, groups: readonly Group[], policies: readonly Policy[]): UserAccess {
  const byName = groupsByName(groups);
  const grants: Grant[] = [];
  const inertPolicies: InertPolicy[] = [];
  for (const policy of policies) {
    const resolution = grantingGroup(policy, byName);
    if (resolution.granting) {
      if (userInGroup(user, resolution.group)) grants.push(...grantsOf(policy, resolution.group));
      continue;
    }
    const group = policy.status?.resolvedGroup;
    if (group && user.spec.state === 'Active' && user.spec.groups.includes(group) && policy.metadata.namespace === user.metadata.namespace) {
      inertPolicies.push({ policy: policy.metadata.name!, group, reason: resolution.reason, ...readyDetail(policy) });
    }
  }
  return {
    user: summarise(user, byName),
    grants: grants.sort(byPolicyThenAddress),
    inertPolicies: inertPolicies.sort((a, b) => compare(a.policy, b.policy)),
  };
}

export function whoCanReach(query: ReachQuery, users: readonly User[], groups: readonly Group[], policies: readonly Policy[]): Reach[] {
  const byName = groupsByName(groups);
  const reach: Reach[] = [];
  for (const policy of policies) {
    const resolution = grantingGroup(policy, byName);
    if (!resolution.granting) continue;
    const covering = grantsOf(policy, resolution.group).filter((g) => covers(g.resource, query));
    if (covering.length === 0) continue;
    const logins = users.filter((u) => userInGroup(u, resolution.group)).map((u) => u.spec.login).sort(compare);
    for (const grant of covering) reach.push({ ...grant, users: logins });
  }
  return reach.sort(byPolicyThenAddress);
}

/** Users whose object name equals the key, or whose login or email equals it ignoring case. */
export function findUsers(users: readonly User[], key: string): User[] {
  const folded = key.toLowerCase();
  return users
    .filter((u) => u.metadata.name === key || u.spec.login.toLowerCase() === folded || u.spec.email?.toLowerCase() === folded)
    .sort((a, b) => compare(a.spec.directory, b.spec.directory) || compare(a.metadata.name!, b.metadata.name!));
}

function covers(resource: ResourceLike, query: ReachQuery): boolean {
  return resourceCovers(resource.address, query.address) && portCovered(resource, query.port, query.protocol);
}

function grantsOf(policy: Policy, group: Group): Grant[] {
  return policy.spec.resources.map((r) => ({
    policy: policy.metadata.name!,
    group: group.metadata.name!,
    groupDisplayName: group.spec.displayName,
    directory: group.spec.directory,
    resource: { address: r.address, ports: r.ports ?? [], protocols: r.protocols ?? [] },
  }));
}

function summarise(user: User, byName: ReadonlyMap<string, Group>): UserSummary {
  const { login, email, displayName, state, directory } = user.spec;
  return {
    name: user.metadata.name!,
    login,
    ...(email !== undefined ? { email } : {}),
    ...(displayName !== undefined ? { displayName } : {}),
    state,
    directory,
    ...(user.status?.revokedAt ? { revokedAt: user.status.revokedAt } : {}),
    groups: [...user.spec.groups].sort(compare).map((name) => {
      const group = byName.get(name);
      return group ? { name, displayName: group.spec.displayName } : { name };
    }),
  };
}

function readyDetail(policy: Policy): Pick<InertPolicy, 'ready'> {
  const ready = readyCondition(policy);
  return ready && ready.status !== 'True' ? { ready: { status: ready.status, reason: ready.reason, message: ready.message } } : {};
}

function byPolicyThenAddress(a: Grant, b: Grant): number {
  return compare(a.policy, b.policy) || compare(a.resource.address, b.resource.address);
}

/** Code-unit order, so output does not depend on the locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

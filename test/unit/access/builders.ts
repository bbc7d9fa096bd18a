// Small builders for User, Group and Policy objects as the apiserver returns them.
import { API_VERSION, type Group, type Policy, type User } from '../../../src/api/v1alpha1/index.js';
import type { PolicySpec } from '../../../src/api/v1alpha1/policy.js';

export const NS = 'team-a';

type Resource = PolicySpec['resources'][number];

export function user(name: string, groups: string[], mods: Partial<User['spec']> = {}, namespace = NS): User {
  return {
    apiVersion: API_VERSION,
    kind: 'User',
    metadata: { name, namespace },
    spec: { directory: 'corp', idpId: `id-${name}`, login: `${name}@corp.example`, email: `${name}@corp.example`, state: 'Active', groups, ...mods },
  };
}

export function group(name: string, displayName = name, mods: Partial<Group['spec']> = {}, namespace = NS): Group {
  return {
    apiVersion: API_VERSION,
    kind: 'Group',
    metadata: { name, namespace },
    spec: { directory: 'corp', idpId: `gid-${name}`, displayName, kind: 'Group', memberCount: 0, directMemberCount: 0, members: [], parents: [], children: [], ...mods },
  };
}

export interface PolicyOptions {
  ready?: 'True' | 'False' | 'Unknown' | 'absent';
  resolvedGroup?: string;
  namespace?: string;
}

/** A Policy granting through `groupName`: Ready and resolved unless told otherwise. */
export function policy(name: string, groupName: string, resources: (string | Resource)[], options: PolicyOptions = {}): Policy {
  const ready = options.ready ?? 'True';
  return {
    apiVersion: API_VERSION,
    kind: 'Policy',
    metadata: { name, namespace: options.namespace ?? NS },
    spec: { group: { name: groupName }, resources: resources.map((r) => (typeof r === 'string' ? { address: r } : r)) },
    status: {
      resolvedGroup: 'resolvedGroup' in options ? options.resolvedGroup : groupName,
      conditions:
        ready === 'absent'
          ? []
          : [{ type: 'Ready', status: ready, reason: ready === 'True' ? 'Resolved' : 'GroupNotFound', message: ready === 'True' ? '' : 'no Group matches', lastTransitionTime: '2024-01-01T00:00:00Z' }],
    },
  };
}

// Fixture builders for the pure directory logic: small functions with modifiers, so each test states
// only what matters to it.
import type { DirectoryGroup, DirectorySnapshot, DirectoryUser } from '../../src/directory/snapshot.js';
import type { DirectoryRef } from '../../src/directory/decide.js';
import type { DirectorySyncSpec, Group, User } from '../../src/api/v1alpha1/index.js';
import { API_VERSION } from '../../src/api/v1alpha1/index.js';
import { loadFixture, type DirectoryFixture } from '../emulators/fixture.js';

export function user(id: string, login = `${id}@example.com`, mods: Partial<DirectoryUser> = {}): DirectoryUser {
  return { id, login, email: login, displayName: id, state: 'Active', ...mods };
}

export function group(id: string, name: string, users: string[] = [], groups: string[] = [], mods: Partial<DirectoryGroup> = {}): DirectoryGroup {
  return { id, name, kind: 'Group', memberUserIds: users, memberGroupIds: groups, ...mods };
}

export function snapshot(users: DirectoryUser[], groups: DirectoryGroup[]): DirectorySnapshot {
  return { users, groups, apiCalls: 0 };
}

export function directory(mods: Partial<DirectorySyncSpec> = {}, annotations: Record<string, string> = {}): DirectoryRef {
  return {
    name: 'corp',
    namespace: 'team-a',
    annotations,
    spec: {
      provider: { type: 'okta', okta: { domain: 'example.okta.com', clientId: 'c' }, allowInsecureLoopback: false },
      credentialsRef: { name: 'okta', generateKeyPair: false },
      interval: '5m',
      suspend: false,
      syncOrgUnits: false,
      ...mods,
    },
  };
}

/** A snapshot as a nesting IdP would return the shared fixture format (direct members + nested groups). */
export function snapshotFromFixture(f: DirectoryFixture): DirectorySnapshot {
  const stateOf = { active: 'Active', locked: 'Active', suspended: 'Suspended', staged: 'Suspended', deleted: 'Deleted' } as const;
  return snapshot(
    f.users.filter((u) => u.state !== 'deleted').map((u) => user(u.id, u.login, { state: stateOf[u.state ?? 'active'], displayName: `${u.firstName} ${u.lastName}` })),
    f.groups.map((g) => group(g.id, g.name, g.members ?? [], g.groups ?? [])),
  );
}

export function seedFixture(): DirectoryFixture {
  return loadFixture(new URL('../fixtures/seed-example.yaml', import.meta.url).pathname);
}

/** Turns a plan's writes into the objects the apiserver would then hold, for multi-sync tests. */
export function materialise(
  prevUsers: User[],
  prevGroups: Group[],
  plan: import('../../src/directory/decide.js').Plan,
  namespace = 'team-a',
): { users: User[]; groups: Group[] } {
  const users = new Map(prevUsers.map((u) => [u.metadata.name!, u]));
  for (const w of plan.users) {
    const prev = users.get(w.name);
    users.set(w.name, {
      apiVersion: API_VERSION,
      kind: 'User',
      metadata: { name: w.name, namespace },
      spec: { ...w.spec, ...(prev?.spec.role ? { role: prev.spec.role } : {}) },
      status: w.status,
    });
  }
  const groups = new Map(prevGroups.map((g) => [g.metadata.name!, g]));
  for (const w of plan.groups) {
    const uid = groups.get(w.name)?.metadata.uid ?? `uid-${w.name}`;
    groups.set(w.name, { apiVersion: API_VERSION, kind: 'Group', metadata: { name: w.name, namespace, uid, labels: w.labels, ...(w.annotations ? { annotations: w.annotations } : {}) }, spec: w.spec });
  }
  for (const d of plan.deletions) (d.kind === 'User' ? users : groups).delete(d.name);
  return { users: [...users.values()], groups: [...groups.values()] };
}

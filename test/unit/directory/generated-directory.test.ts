// decide() on a generated directory (nesting, cycles, skewed sizes, suspended people) against the
// plain way of working it out: walk every group's nesting, sort every login, sort every list.
import { expect } from 'chai';
import { decide } from '../../../src/directory/decide.js';
import { MAX_LISTED_MEMBERS } from '../../../src/api/v1alpha1/index.js';
import type { DirectorySnapshot } from '../../../src/directory/snapshot.js';
import { generateDirectory } from '../../fixtures/generate-directory.js';
import { directory, materialise } from '../../support/builders.js';

const now = new Date('2026-01-01T00:00:00Z');

/** Active user ids reachable from a group, by walking its nesting (cycles stop at groups already seen). */
function reachable(snapshot: DirectorySnapshot, groupId: string): Set<string> {
  const byId = new Map(snapshot.groups.map((g) => [g.id, g]));
  const active = new Set(snapshot.users.filter((u) => u.state === 'Active').map((u) => u.id));
  const seen = new Set<string>();
  const users = new Set<string>();
  const walk = [groupId];
  while (walk.length) {
    const id = walk.pop()!;
    if (seen.has(id) || !byId.has(id)) continue;
    seen.add(id);
    for (const u of byId.get(id)!.memberUserIds) if (active.has(u)) users.add(u);
    walk.push(...byId.get(id)!.memberGroupIds);
  }
  return users;
}

describe('decide() on a generated directory', () => {
  const snapshot = generateDirectory({ users: 3000, groups: 400, seed: 5, cycles: 10, orgUnits: 0 });
  const plan = decide({ directory: directory(), snapshot, existingUsers: [], existingGroups: [], now });
  const loginOf = new Map(snapshot.users.map((u) => [u.id, u.login]));
  const nameOf = new Map(plan.groups.map((g) => [g.spec.idpId, g.name]));

  it('lists every group\'s first logins and counts its members as a full walk and sort would', () => {
    for (const g of plan.groups) {
      const members = [...reachable(snapshot, g.spec.idpId)].map((id) => loginOf.get(id)!).sort();
      expect(g.spec.members, g.spec.displayName).to.deep.equal(members.slice(0, MAX_LISTED_MEMBERS));
      expect(g.spec.memberCount, g.spec.displayName).to.equal(members.length);
    }
    expect(plan.groups.some((g) => g.spec.memberCount > MAX_LISTED_MEMBERS)).to.equal(true);
  });
  it('lists every person\'s groups, sorted, as a full walk would', () => {
    const expected = new Map<string, string[]>();
    for (const g of snapshot.groups) for (const id of reachable(snapshot, g.id)) expected.set(id, [...(expected.get(id) ?? []), nameOf.get(g.id)!]);
    for (const u of plan.users) expect(u.spec.groups, u.spec.login).to.deep.equal((expected.get(u.spec.idpId) ?? []).sort());
  });
  it('writes nothing on a resync, and only what changed after a change', () => {
    const existing = materialise([], [], plan);
    const same = decide({ directory: directory(), snapshot, existingUsers: existing.users, existingGroups: existing.groups, now });
    expect(same.users.length + same.groups.length).to.equal(0);
    const changed = structuredClone(snapshot);
    const active = new Set(changed.users.filter((u) => u.state === 'Active').map((u) => u.id));
    const leaver = changed.groups.find((g) => g.memberGroupIds.length === 0 && g.name !== 'Everyone' && active.has(g.memberUserIds.at(-1)!))!;
    const removed = leaver.memberUserIds.pop()!;
    const next = decide({ directory: directory(), snapshot: changed, existingUsers: existing.users, existingGroups: existing.groups, now });
    expect(next.groups.map((g) => g.spec.idpId)).to.include(leaver.id);
    const stillIn = reachable(changed, leaver.id).has(removed);
    expect(next.users.some((u) => u.spec.idpId === removed)).to.equal(!stillIn);
  });
  it('leaves its inputs as they were: existing objects may be shared with a cache', () => {
    const deepFreeze = <T>(value: T): T => {
      if (value && typeof value === 'object' && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
      }
      return value;
    };
    const dir = directory({ roleMappings: [{ group: 'team-3', role: 'Admin' }] });
    const first = decide({ directory: dir, snapshot, existingUsers: [], existingGroups: [], now });
    const existing = structuredClone(materialise([], [], first));
    // People suspended and dropped, groups dropped: marks, revocations and stand-in groups, all from frozen objects.
    const changed = structuredClone(snapshot);
    changed.users = changed.users.filter((_, i) => i % 50 !== 0).map((u, i) => (i % 13 === 0 ? { ...u, state: 'Suspended' as const } : u));
    changed.groups = changed.groups.filter((_, i) => i % 40 !== 1);
    const later = new Date('2026-01-02T00:00:00Z');
    const input = deepFreeze({ directory: dir, snapshot: changed, existingUsers: existing.users, existingGroups: existing.groups, now: later });
    const plan = decide(input);
    expect(plan.revocations.length).to.be.greaterThan(0);
    expect(plan.unconfirmed.users.length).to.be.greaterThan(0);
    expect(plan.unconfirmed.groups.length).to.be.greaterThan(0);
    const next = structuredClone(materialise(existing.users, existing.groups, plan));
    const confirmed = decide(deepFreeze({ directory: dir, snapshot: changed, existingUsers: next.users, existingGroups: next.groups, now: later }));
    expect(confirmed.deletions.length + (confirmed.held ? 1 : 0)).to.be.greaterThan(0);
  });
});

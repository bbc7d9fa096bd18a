import { expect } from 'chai';
import { decide, type Plan } from '../../../src/directory/decide.js';
import { ANNOTATIONS, type Group, type User } from '../../../src/api/v1alpha1/index.js';
import { directory, group, materialise, snapshot, user } from '../../support/builders.js';
import type { DirectorySnapshot } from '../../../src/directory/snapshot.js';
import type { DirectoryRef } from '../../../src/directory/decide.js';

const T0 = new Date('2026-03-01T00:00:00Z');
const later = (ms: number) => new Date(T0.getTime() + ms);
const HOUR = 3_600_000;

/** Runs successive syncs against the objects the previous ones produced. */
class World {
  users: User[] = [];
  groups: Group[] = [];
  constructor(public dir: DirectoryRef = directory()) {}
  sync(snap: DirectorySnapshot, now = T0): Plan {
    const plan = decide({ directory: this.dir, snapshot: snap, existingUsers: this.users, existingGroups: this.groups, now });
    ({ users: this.users, groups: this.groups } = materialise(this.users, this.groups, plan));
    return plan;
  }
  user(login: string): User {
    return this.users.find((u) => u.spec.login === login)!;
  }
}

const writes = (p: Plan) => p.users.length + p.groups.length + p.deletions.length;

describe('decide', () => {
  const base = () => snapshot([user('u1', 'ann@x.io'), user('u2', 'ben@x.io')], [group('g1', 'Eng', ['u1', 'u2'])]);

  it('writes nothing when nothing changed', () => {
    const w = new World();
    expect(writes(w.sync(base()))).to.equal(3);
    expect(writes(w.sync(base(), later(HOUR)))).to.equal(0);
  });

  it('revokes a suspended user at once, and restores them without a duplicate', () => {
    const w = new World();
    w.sync(base());
    const name = w.user('ann@x.io').metadata.name;
    const suspended = w.sync(snapshot([user('u1', 'ann@x.io', { state: 'Suspended' }), user('u2', 'ben@x.io')], [group('g1', 'Eng', ['u1', 'u2'])]), later(HOUR));
    expect(w.user('ann@x.io').spec).to.include({ state: 'Suspended' });
    expect(w.user('ann@x.io').spec.groups).to.deep.equal([]);
    expect(w.user('ann@x.io').status!.revokedAt).to.equal(later(HOUR).toISOString());
    expect(w.groups[0].spec.members).to.deep.equal(['ben@x.io']);
    const record = { id: suspended.revocations[0]?.record.id, time: later(HOUR).toISOString(), reason: 'Suspended', groups: [w.groups[0].metadata.name], pending: ['Event', 'Metric'] };
    expect(suspended.revocations).to.deep.equal([{ user: name, login: 'ann@x.io', reason: 'Suspended', groups: [w.groups[0].metadata.name], record }]);
    // The record travels in the same write as the lost groups; its signals are derived from it later.
    const annWrite = suspended.users.find((u) => u.name === name)!;
    expect(annWrite).to.deep.include({ revokes: true });
    expect(annWrite.spec.groups).to.deep.equal([]);
    expect(annWrite.status.revocations).to.deep.equal([record]);
    expect(suspended.events.map((e) => e.reason)).to.not.include.members(['UserSuspended', 'AccessRevoked']);

    const restored = w.sync(base(), later(2 * HOUR));
    expect(w.users.filter((u) => u.spec.login === 'ann@x.io')).to.have.length(1);
    expect(w.user('ann@x.io').metadata.name).to.equal(name);
    expect(w.user('ann@x.io').spec.groups).to.deep.equal([w.groups[0].metadata.name]);
    expect(restored.events.map((e) => e.reason)).to.include('UserRestored');
  });

  it('soft-deletes a user who vanished, keeps them for the retention, then removes them', () => {
    const w = new World(directory({ deletion: { userRetention: '24h', maxDeletionPercent: 100, guardMinimum: 0, policy: 'Delete' } }));
    w.sync(base());
    const gone = snapshot([user('u2', 'ben@x.io')], [group('g1', 'Eng', ['u2'])]);
    const plan = w.sync(gone, later(HOUR));
    expect(w.user('ann@x.io').spec).to.include({ state: 'Deleted', idpStatus: 'NotFound' });
    expect(w.user('ann@x.io').status!.deleteAfter).to.equal(later(25 * HOUR).toISOString());
    expect(plan.counts).to.include({ users: 2, activeUsers: 1, deletedUsers: 1 });
    expect(writes(w.sync(gone, later(2 * HOUR)))).to.equal(0);
    const annName = w.user('ann@x.io').metadata.name;
    const expiry = w.sync(gone, later(25 * HOUR));
    expect(expiry.deletions).to.deep.equal([{ kind: 'User', name: annName, idpId: 'u1', displayName: 'ann@x.io', reason: 'RetentionExpired' }]);
    expect(w.users.map((u) => u.spec.login)).to.deep.equal(['ben@x.io']);
  });

  it('deletes the Group of a group deleted in the IdP', () => {
    const w = new World();
    w.sync(snapshot([user('u1')], [group('g1', 'Eng', ['u1']), group('g2', 'Ops', ['u1'])]));
    const plan = w.sync(snapshot([user('u1')], [group('g1', 'Eng', ['u1'])]), later(HOUR));
    expect(plan.deletions.map((d) => [d.kind, d.displayName, d.reason])).to.deep.equal([['Group', 'Ops', 'DeletedInIdp']]);
    expect(w.groups.map((g) => g.spec.displayName)).to.deep.equal(['Eng']);
    expect(w.users[0].spec.groups).to.deep.equal([w.groups[0].metadata.name]);
  });

  it('keeps object names when a group or person is renamed in the IdP', () => {
    const w = new World();
    w.sync(base());
    const before = [w.groups[0].metadata.name, w.user('ann@x.io').metadata.name];
    w.sync(snapshot([user('u1', 'ann.new@x.io'), user('u2', 'ben@x.io')], [group('g1', 'Engineering', ['u1', 'u2'])]), later(HOUR));
    expect([w.groups[0].metadata.name, w.user('ann.new@x.io').metadata.name]).to.deep.equal(before);
    expect(w.groups[0].spec.displayName).to.equal('Engineering');
  });

  it('gives two directories in one namespace different names for the same IdP ids', () => {
    const a = decide({ directory: directory(), snapshot: base(), existingUsers: [], existingGroups: [], now: T0 });
    const b = decide({ directory: { ...directory(), name: 'corp2' }, snapshot: base(), existingUsers: [], existingGroups: [], now: T0 });
    const names = new Set([...a.users, ...b.users, ...a.groups, ...b.groups].map((x) => x.name));
    expect(names.size).to.equal(6);
    expect(a.groups[0].name).to.match(/^corp-eng-[0-9a-f]{8}$/);
  });

  describe('the mass-deletion guard', () => {
    const many = (n: number) => snapshot(Array.from({ length: n }, (_, i) => user(`u${i}`)), [group('g', 'All', Array.from({ length: n }, (_, i) => `u${i}`))]);
    const guarded = () => new World(directory({ deletion: { userRetention: '720h', maxDeletionPercent: 25, guardMinimum: 10, policy: 'Delete' } }));

    it('holds back deletions above the threshold and applies the rest', () => {
      const w = guarded();
      w.sync(many(100));
      const shrunk = many(60);
      shrunk.users.push(user('new'));
      const plan = w.sync(shrunk, later(HOUR));
      expect(plan.held).to.include({ users: 40, groups: 0 });
      expect(plan.held!.token).to.match(/^[0-9a-f]{8}$/);
      expect(w.users.filter((u) => u.spec.state === 'Deleted')).to.have.length(0);
      expect(w.users.some((u) => u.spec.login === 'new@example.com')).to.equal(true);
      expect(plan.events.find((e) => e.reason === 'DeletionsHeld')!.note).to.contain(`${ANNOTATIONS.approveDeletions}=${plan.held!.token}`);
      expect(plan.counts).to.include({ activeUsers: 101, deletedUsers: 0 });
    });

    it('lets the same deletions through once approved with the token', () => {
      const w = guarded();
      w.sync(many(100));
      const token = w.sync(many(60), later(HOUR)).held!.token;
      w.dir = { ...w.dir, annotations: { [ANNOTATIONS.approveDeletions]: token } };
      const plan = w.sync(many(60), later(2 * HOUR));
      expect(plan.held).to.equal(undefined);
      expect(w.users.filter((u) => u.spec.state === 'Deleted')).to.have.length(40);
    });

    it('does not hold deletions below the threshold or the minimum', () => {
      const w = guarded();
      w.sync(many(100));
      expect(w.sync(many(80), later(HOUR)).held).to.equal(undefined);
      const small = guarded();
      small.sync(many(8));
      expect(small.sync(many(0), later(HOUR)).held).to.equal(undefined);
    });

    it('never holds suspensions: revocation is not delayed', () => {
      const w = guarded();
      w.sync(many(100));
      const snap = many(100);
      snap.users.forEach((u) => (u.state = 'Suspended'));
      const plan = w.sync(snap, later(HOUR));
      expect(plan.held).to.equal(undefined);
      expect(plan.revocations).to.have.length(100);
    });
  });

  describe('roles', () => {
    it('is User by default, Admin through a mapping (nested too), and a hand-set override wins', () => {
      const w = new World(directory({ roleMappings: [{ group: 'Admins', role: 'Admin' }] }));
      const snap = snapshot([user('u1', 'ann@x.io'), user('u2', 'ben@x.io'), user('u3', 'cat@x.io')], [group('a', 'Admins', ['u1'], ['b']), group('b', 'Leads', ['u2'])]);
      w.sync(snap);
      expect(w.user('ann@x.io').status).to.include({ role: 'Admin', roleSource: 'Mapping (Admins)' });
      expect(w.user('ben@x.io').status).to.include({ role: 'Admin' });
      expect(w.user('cat@x.io').status).to.include({ role: 'User', roleSource: 'Default' });
      w.user('cat@x.io').spec.role = 'Admin';
      w.user('ann@x.io').spec.role = 'User';
      w.sync(snap, later(HOUR));
      expect(w.user('cat@x.io').status).to.include({ role: 'Admin', roleSource: 'Override' });
      expect(w.user('ann@x.io').status).to.include({ role: 'User', roleSource: 'Override' });
      expect(w.user('cat@x.io').spec.role).to.equal('Admin');
    });
  });

  describe('filters and org units', () => {
    it('syncs only included groups but follows nesting through excluded ones', () => {
      const w = new World(directory({ groups: { include: ['team-*'], exclude: ['team-secret'] } }));
      w.sync(snapshot([user('u1'), user('u2')], [group('t', 'team-a', [], ['mid']), group('mid', 'middle', ['u1']), group('s', 'team-secret', ['u2'])]));
      expect(w.groups.map((g) => g.spec.displayName)).to.deep.equal(['team-a']);
      expect(w.groups[0].spec.memberCount).to.equal(1);
    });

    it('ignores org units unless syncOrgUnits is on', () => {
      const snap = snapshot([user('u1')], [group('ou1', 'Sales', ['u1'], [], { kind: 'OrgUnit' })]);
      expect(decide({ directory: directory(), snapshot: snap, existingUsers: [], existingGroups: [], now: T0 }).groups).to.have.length(0);
      const on = decide({ directory: directory({ syncOrgUnits: true }), snapshot: snap, existingUsers: [], existingGroups: [], now: T0 });
      expect(on.groups.map((g) => g.spec.kind)).to.deep.equal(['OrgUnit']);
    });
  });
});

import { expect } from 'chai';
import { decide, type Plan } from '../../../src/directory/decide.js';
import { ANNOTATIONS, MAX_LISTED_GROUPS, MAX_LISTED_NESTING, type Group, type User } from '../../../src/api/v1alpha1/index.js';
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

  it('counts two stored Users with one IdP id as listed while the id is, and writes to the last one stored', () => {
    const w = new World();
    w.sync(base());
    const ann = w.user('ann@x.io');
    const copy = structuredClone(ann);
    copy.metadata.name = `${ann.metadata.name}-copy`;
    w.users = [...w.users, copy];
    const renamed = w.sync(snapshot([user('u1', 'anna@x.io'), user('u2', 'ben@x.io')], [group('g1', 'Eng', ['u1', 'u2'])]), later(HOUR));
    expect(renamed.unconfirmed.users).to.deep.equal([]);
    expect(renamed.users.map((u) => [u.name, u.spec.login])).to.deep.equal([[copy.metadata.name, 'anna@x.io']]);
    const missed = w.sync(snapshot([user('u2', 'ben@x.io')], [group('g1', 'Eng', ['u2'])]), later(2 * HOUR));
    expect(missed.unconfirmed.users).to.have.members([ann.metadata.name, copy.metadata.name]);
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
    w.sync(gone, later(HOUR - 60_000));
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
    w.sync(snapshot([user('u1')], [group('g1', 'Eng', ['u1'])]), later(HOUR));
    const plan = w.sync(snapshot([user('u1')], [group('g1', 'Eng', ['u1'])]), later(HOUR + 60_000));
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
      w.sync(shrunk, later(HOUR - 60_000));
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
      w.sync(many(60), later(HOUR - 60_000));
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
      small.sync(many(2), later(HOUR));
      expect(small.sync(many(2), later(2 * HOUR)).held).to.equal(undefined);
      expect(small.users.filter((u) => u.spec.state === 'Deleted')).to.have.length(6);
    });

    it('lets the members of a held group keep it: a listing of no groups strips no one', () => {
      const w = guarded();
      const people = Array.from({ length: 20 }, (_, i) => user(`u${i}`));
      w.sync(snapshot(people, Array.from({ length: 12 }, (_, g) => group(`g${g}`, `G${g}`, people.map((p) => p.id)))));
      const noGroups = snapshot(people, []);
      w.sync(noGroups, later(HOUR));
      const plan = w.sync(noGroups, later(HOUR + 60_000));
      expect(plan.held).to.include({ users: 0, groups: 12 });
      expect(plan.revocations).to.deep.equal([]);
      expect(w.users.every((u) => u.spec.groups.length === 12)).to.equal(true);
      w.dir = { ...w.dir, annotations: { [ANNOTATIONS.approveDeletions]: plan.held!.token } };
      const approved = w.sync(noGroups, later(2 * HOUR));
      expect(approved.deletions).to.have.length(12);
      expect(w.users.every((u) => u.spec.groups.length === 0)).to.equal(true);
    });

    it('holds a listing of no one whatever the directory size, unless maxDeletionPercent is 100', () => {
      const small = guarded();
      small.sync(many(3));
      small.sync(many(0), later(HOUR));
      const plan = small.sync(many(0), later(2 * HOUR));
      expect(plan.held).to.include({ users: 3, groups: 0 });
      expect(small.users.filter((u) => u.spec.state === 'Deleted')).to.have.length(0);
      const off = new World(directory({ deletion: { userRetention: '720h', maxDeletionPercent: 100, guardMinimum: 10, policy: 'Delete' } }));
      off.sync(many(3));
      off.sync(many(0), later(HOUR));
      expect(off.sync(many(0), later(2 * HOUR)).held).to.equal(undefined);
      expect(off.users.filter((u) => u.spec.state === 'Deleted')).to.have.length(3);
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

  describe('a person or group missing from a listing', () => {
    const MINUTE = 60_000;
    const people = (n: number) => Array.from({ length: n }, (_, i) => user(`u${String(i).padStart(3, '0')}`));
    /** n people in three groups each, as generateFixture spreads them; `listed` says who the user listing has. */
    const directoryOf = (n: number, listed: (id: string) => boolean = () => true) => {
      const all = people(n);
      const groups = Array.from({ length: 8 }, (_, g) => group(`g${g}`, `team-${g}`, all.filter((_, i) => [i % 8, (i + 3) % 8, (i + 5) % 8].includes(g)).map((u) => u.id)));
      return snapshot(all.filter((u) => listed(u.id)), groups);
    };
    const deleted = (w: World) => w.users.filter((u) => u.spec.state === 'Deleted');
    const memberships = (w: World) => w.users.reduce((n, u) => n + u.spec.groups.length, 0);

    it('marks a person the listing missed, changes nothing else, and clears the mark when they are listed again', () => {
      const w = new World();
      w.sync(base());
      const before = structuredClone(w.user('ann@x.io'));
      const missed = w.sync(snapshot([user('u2', 'ben@x.io')], [group('g1', 'Eng', ['u1', 'u2'])]), later(HOUR));
      const ann = w.user('ann@x.io');
      expect(ann.spec).to.deep.equal(before.spec);
      expect(ann.status).to.deep.equal({ ...before.status, missingSince: later(HOUR).toISOString() });
      expect(missed.revocations).to.deep.equal([]);
      expect(missed.users.map((u) => [u.name, u.revokes])).to.deep.equal([[ann.metadata.name, false]]);
      expect(missed.unconfirmed).to.deep.equal({ users: [ann.metadata.name], groups: [] });
      expect(missed.counts).to.include({ users: 2, activeUsers: 2, deletedUsers: 0, memberships: 2, missingUsers: 1 });
      expect(missed.events.find((e) => e.reason === 'MissingFromListing')!.note).to.contain('1 user(s) and 0 group(s)');

      const back = w.sync(base(), later(HOUR + MINUTE));
      expect(w.user('ann@x.io').status).to.deep.equal(before.status);
      expect(back.users.map((u) => u.name)).to.deep.equal([ann.metadata.name]);
      expect(back.unconfirmed).to.deep.equal({ users: [], groups: [] });
      expect(back.counts).to.not.have.property('missingUsers');
      expect(writes(w.sync(base(), later(2 * HOUR)))).to.equal(0);
    });

    it('deletes a person when the next listing misses them too, with the revocation record of a deletion', () => {
      const w = new World();
      w.sync(base());
      const gone = snapshot([user('u2', 'ben@x.io')], [group('g1', 'Eng', ['u2'])]);
      w.sync(gone, later(HOUR));
      const confirmed = w.sync(gone, later(HOUR + MINUTE));
      const ann = w.user('ann@x.io');
      expect(ann.spec).to.include({ state: 'Deleted', idpStatus: 'NotFound' });
      expect(ann.spec.groups).to.deep.equal([]);
      expect(ann.status).to.not.have.property('missingSince');
      expect(ann.status!.revocations!.at(-1)).to.include({ reason: 'Deleted', time: later(HOUR + MINUTE).toISOString() });
      expect(ann.status!.revocations!.at(-1)!.pending).to.deep.equal(['Event', 'Metric']);
      expect(confirmed.revocations.map((r) => [r.login, r.reason, r.groups])).to.deep.equal([['ann@x.io', 'Deleted', [w.groups[0].metadata.name]]]);
      expect(confirmed.unconfirmed.users).to.deep.equal([]);
    });

    it('loses no one and no membership when a fifth of the people vanish from one listing (a page read after the directory changed)', () => {
      const w = new World();
      w.sync(directoryOf(255));
      const before = memberships(w);
      const skipped = new Set(people(255).slice(100, 151).map((u) => u.id));
      const plan = w.sync(directoryOf(255, (id) => !skipped.has(id)), later(HOUR));
      expect(plan.unconfirmed.users).to.have.length(51);
      expect(plan.revocations).to.deep.equal([]);
      expect(plan.held).to.equal(undefined);
      expect(deleted(w)).to.have.length(0);
      expect(memberships(w)).to.equal(before);
      expect(plan.counts).to.include({ activeUsers: 255, memberships: before, missingUsers: 51 });
      // The people skipped are still in their groups' member lists: the Groups keep memberCount for those listed only.
      w.sync(directoryOf(255), later(HOUR + MINUTE));
      expect(w.users.filter((u) => u.status?.missingSince)).to.have.length(0);
      expect(memberships(w)).to.equal(before);
      expect(w.users.flatMap((u) => u.status?.revocations ?? [])).to.deep.equal([]);
    });

    it('still revokes a suspension read on the person\'s own record at once, marked or not', () => {
      const w = new World();
      w.sync(base());
      w.sync(snapshot([user('u2', 'ben@x.io')], [group('g1', 'Eng', ['u1', 'u2'])]), later(HOUR));
      const plan = w.sync(snapshot([user('u1', 'ann@x.io', { state: 'Suspended' }), user('u2', 'ben@x.io')], [group('g1', 'Eng', ['u1', 'u2'])]), later(HOUR + MINUTE));
      expect(w.user('ann@x.io').spec).to.include({ state: 'Suspended' });
      expect(w.user('ann@x.io').spec.groups).to.deep.equal([]);
      expect(w.user('ann@x.io').status).to.not.have.property('missingSince');
      expect(plan.revocations.map((r) => r.reason)).to.deep.equal(['Suspended']);
    });

    it('keeps a group the listing missed, and its members in it, until the next listing confirms it is gone', () => {
      const w = new World(directory({ policies: [{ name: 'db', groups: { names: ['Ops'] }, resources: [{ address: '10.0.0.1' }] }] }));
      const both = () => snapshot([user('u1'), user('u2')], [group('g1', 'Eng', ['u1']), group('g2', 'Ops', ['u1', 'u2'])]);
      const onlyEng = () => snapshot([user('u1'), user('u2')], [group('g1', 'Eng', ['u1'])]);
      w.sync(both());
      const ops = w.groups.find((g) => g.spec.displayName === 'Ops')!;
      const u1Groups = w.users[0].spec.groups;

      const missed = w.sync(onlyEng(), later(HOUR));
      expect(missed.deletions).to.deep.equal([]);
      expect(missed.revocations).to.deep.equal([]);
      expect(missed.unconfirmed).to.deep.equal({ users: [], groups: [ops.metadata.name] });
      expect(missed.policies.deletions).to.deep.equal([]);
      const marked = w.groups.find((g) => g.metadata.name === ops.metadata.name)!;
      expect(marked.spec).to.deep.equal(ops.spec);
      expect(marked.metadata.annotations).to.deep.equal({ [ANNOTATIONS.missingSince]: later(HOUR).toISOString() });
      expect(w.users[0].spec.groups).to.deep.equal(u1Groups);
      expect(w.users[1].spec.groups).to.deep.equal([ops.metadata.name]);
      expect(missed.counts).to.include({ groups: 2, missingGroups: 1 });

      w.sync(both(), later(HOUR + MINUTE));
      expect(w.groups.find((g) => g.metadata.name === ops.metadata.name)!.metadata.annotations).to.equal(undefined);

      w.sync(onlyEng(), later(2 * HOUR));
      const confirmed = w.sync(onlyEng(), later(2 * HOUR + MINUTE));
      expect(confirmed.deletions.map((d) => [d.displayName, d.reason])).to.deep.equal([['Ops', 'DeletedInIdp']]);
      expect(confirmed.revocations.map((r) => [r.reason, r.groups])).to.deep.equal([
        ['RemovedFromGroups', [ops.metadata.name]],
        ['RemovedFromGroups', [ops.metadata.name]],
      ]);
      expect(w.users[1].spec.groups).to.deep.equal([]);
    });

    it('keeps the members a group had through a nested group the listing missed', () => {
      const w = new World();
      const full = () => snapshot([user('u1'), user('u2')], [group('all', 'All', ['u1'], ['ops']), group('ops', 'Ops', ['u2'])]);
      w.sync(full());
      const before = w.users.map((u) => [u.spec.login, u.spec.groups]);
      const allBefore = structuredClone(w.groups.find((g) => g.spec.displayName === 'All')!.spec);
      const plan = w.sync(snapshot([user('u1'), user('u2')], [group('all', 'All', ['u1'], ['ops'])]), later(HOUR));
      expect(w.users.map((u) => [u.spec.login, u.spec.groups])).to.deep.equal(before);
      expect(w.groups.find((g) => g.spec.displayName === 'All')!.spec).to.deep.equal(allBefore);
      expect(plan.revocations).to.deep.equal([]);
      expect(plan.groups.map((g) => g.spec.displayName)).to.deep.equal(['Ops']);
    });

    it('deletes an organisational unit at once when syncOrgUnits is turned off', () => {
      const w = new World(directory({ syncOrgUnits: true }));
      w.sync(snapshot([user('u1')], [group('g1', 'Eng', ['u1']), group('ou1', 'Sales', ['u1'], [], { kind: 'OrgUnit' })]));
      w.dir = { ...w.dir, spec: { ...w.dir.spec, syncOrgUnits: false } };
      const plan = w.sync(snapshot([user('u1')], [group('g1', 'Eng', ['u1'])]), later(HOUR));
      expect(plan.deletions.map((d) => [d.displayName, d.reason])).to.deep.equal([['Sales', 'FilteredOut']]);
    });

    it('deletes a group that no longer matches spec.groups at once: a filter is not a listing', () => {
      const w = new World();
      w.sync(snapshot([user('u1')], [group('g1', 'Eng', ['u1']), group('g2', 'Ops', ['u1'])]));
      w.dir = { ...w.dir, spec: { ...w.dir.spec, groups: { exclude: ['Ops'] } } };
      const plan = w.sync(snapshot([user('u1')], [group('g1', 'Eng', ['u1']), group('g2', 'Ops', ['u1'])]), later(HOUR));
      expect(plan.deletions.map((d) => [d.displayName, d.reason])).to.deep.equal([['Ops', 'FilteredOut']]);
      expect(plan.unconfirmed.groups).to.deep.equal([]);
    });

    it('deletes at once for SCIM, where a deletion is a DELETE the IdP sent', () => {
      const w = new World(directory({ provider: { type: 'scim', allowInsecureLoopback: false } as never }));
      w.sync(base());
      const plan = w.sync(snapshot([user('u2', 'ben@x.io')], [group('g1', 'Eng', ['u2'])]), later(HOUR));
      expect(w.user('ann@x.io').spec.state).to.equal('Deleted');
      expect(plan.unconfirmed).to.deep.equal({ users: [], groups: [] });
      expect(plan.revocations.map((r) => r.reason)).to.deep.equal(['Deleted']);
    });

    it('judges the mass-deletion guard on the confirmed deletions', () => {
      const w = new World(directory({ deletion: { userRetention: '720h', maxDeletionPercent: 25, guardMinimum: 10, policy: 'Delete' } }));
      w.sync(directoryOf(40));
      const first = w.sync(directoryOf(40, (id) => id < 'u010'), later(HOUR));
      expect(first.held).to.equal(undefined);
      expect(first.unconfirmed.users).to.have.length(30);
      const second = w.sync(directoryOf(40, (id) => id < 'u010'), later(HOUR + MINUTE));
      expect(second.held).to.include({ users: 30 });
      expect(deleted(w)).to.have.length(0);
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

  describe('a stored object that differs from what would be written', () => {
    const snap = () =>
      snapshot(
        [user('u1', 'ann@x.io', { idpStatus: 'ACTIVE' }), user('u2', 'ben@x.io', { state: 'Suspended' })],
        [group('g1', 'Eng', ['u1'], [], { description: 'Engineers' }), group('g2', 'Ops', ['u1'], ['g1'])],
      );
    const dir = () => directory({ notifications: { webhooks: [{ name: 'a', url: 'https://a.example' }] } } as never);
    /** A world after two syncs, stored as the apiserver returns objects: through JSON. */
    const settled = () => {
      const w = new World(dir());
      w.sync(snap());
      w.sync(snapshot([user('u1', 'ann@x.io', { idpStatus: 'ACTIVE' }), user('u2', 'ben@x.io', { state: 'Suspended' })], [group('g1', 'Eng', [], [], { description: 'Engineers' }), group('g2', 'Ops', ['u1'], ['g1'])]), later(HOUR));
      w.sync(snap(), later(2 * HOUR));
      w.users = JSON.parse(JSON.stringify(w.users));
      w.groups = JSON.parse(JSON.stringify(w.groups));
      return w;
    };
    const edited = <T extends object>(value: T, edit: (copy: T) => void): T => {
      const copy = JSON.parse(JSON.stringify(value)) as T;
      edit(copy);
      return copy;
    };

    it('writes nothing when only key order or an undefined property differs', () => {
      const w = settled();
      expect(w.user('ann@x.io').status!.revocations).to.have.length(1);
      w.users = w.users.map((u) => ({ status: { ...u.status, extra: undefined }, spec: Object.fromEntries(Object.entries(u.spec).reverse()), metadata: u.metadata }) as unknown as User);
      w.groups = w.groups.map((g) => ({ ...g, spec: { ...Object.fromEntries(Object.entries(g.spec).reverse()), parentCount: undefined } }) as Group);
      expect(writes(w.sync(snap(), later(3 * HOUR)))).to.equal(0);
    });

    const userEdits: [string, (u: User) => void][] = [
      ['login', (u) => (u.spec.login = 'ann2@x.io')],
      ['email left out', (u) => delete u.spec.email],
      ['idpStatus left out', (u) => delete u.spec.idpStatus],
      ['an extra spec field', (u) => Object.assign(u.spec, { extra: 1 })],
      ['an extra group', (u) => u.spec.groups.push('zzz')],
      ['groups reordered', (u) => u.spec.groups.reverse()],
      ['a groupCount', (u) => (u.spec.groupCount = 2)],
      ['no status', (u) => delete u.status],
      ['no stateSince', (u) => delete u.status!.stateSince],
      ['roleSource', (u) => (u.status!.roleSource = 'Override')],
      ['an empty revokedAt', (u) => (u.status!.revokedAt = '')],
      ['a missingSince', (u) => (u.status!.missingSince = T0.toISOString())],
      ['a deleteAfter', (u) => (u.status!.deleteAfter = T0.toISOString())],
      ['no revocations left', (u) => (u.status!.revocations = [])],
      ['a signal for a removed webhook', (u) => u.status!.revocations![0].pending.push('Webhook/gone')],
      ['an extra status field', (u) => Object.assign(u.status!, { extra: 'x' })],
    ];
    for (const [what, edit] of userEdits) {
      it(`writes a User back when its stored copy has ${what}`, () => {
        const w = settled();
        const ann = w.user('ann@x.io');
        const wanted = w.sync(snap(), later(3 * HOUR)).users;
        expect(wanted).to.have.length(0);
        w.users = w.users.map((u) => (u === ann ? edited(u, edit) : u));
        const plan = w.sync(snap(), later(3 * HOUR));
        expect(plan.users.map((u) => u.name)).to.deep.equal([ann.metadata.name]);
        expect(plan.users[0].spec).to.deep.equal(Object.fromEntries(Object.entries(ann.spec).filter(([k]) => k !== 'role')));
      });
    }

    // The shortcuts that skip an unchanged object check its fields one by one, beside the code that builds
    // them. A field the build gains but the shortcut does not know would never reach objects that exist:
    // so every field of what is built, taken out of the stored copy, must be written back. Caps included:
    // a person in more groups than a User lists, and a group with more parents and children than it lists.
    it('writes back every field it builds when the stored copy lacks it, capped counts included', () => {
      const kids = Array.from({ length: MAX_LISTED_NESTING + 1 }, (_, i) => `kid${i}`);
      const tops = Array.from({ length: MAX_LISTED_NESTING + 1 }, (_, i) => `top${i}`);
      const many = Array.from({ length: MAX_LISTED_GROUPS + 1 }, (_, i) => `m${i}`);
      const wide = (state: 'Active' | 'Suspended' = 'Active') =>
        snapshot(
          [user('u1', 'ann@x.io', { idpStatus: 'ACTIVE', state }), user('u3', 'cat@x.io')],
          [
            group('mid', 'Mid', ['u1'], kids, { description: 'In the middle' }),
            ...kids.map((id) => group(id, id, ['u3'])),
            ...tops.map((id) => group(id, id, [], ['mid'])),
            ...many.map((id) => group(id, id, ['u1'])),
          ],
        );
      const w = new World(dir());
      w.sync(wide());
      // A suspension and back leaves a revocation record whose signals are still owed.
      w.sync(wide('Suspended'), later(HOUR));
      w.sync(wide(), later(2 * HOUR));
      w.users = JSON.parse(JSON.stringify(w.users));
      w.groups = JSON.parse(JSON.stringify(w.groups));
      expect(w.sync(wide(), later(3 * HOUR)).users).to.have.length(0);
      const ann = w.user('ann@x.io');
      const mid = w.groups.find((g) => g.spec.displayName === 'Mid')!;
      // Not idpId: it is how a stored object is found, so without it there is no stored copy to compare.
      // Not revokedAt and revocations: a write carries them over from the stored copy, not from the IdP.
      const carried = ['status.revokedAt', 'status.revocations'];
      const userFields = [...Object.keys(ann.spec).filter((k) => k !== 'role' && k !== 'idpId').map((k) => `spec.${k}`), ...Object.keys(ann.status!).map((k) => `status.${k}`)];
      expect(userFields).to.include.members(['spec.groupCount', 'spec.idpStatus', 'status.stateSince', ...carried]);
      expect(Object.keys(mid.spec)).to.include.members(['description', 'parentCount', 'childCount']);
      for (const field of userFields.filter((f) => !carried.includes(f))) {
        const [part, key] = field.split('.') as ['spec' | 'status', string];
        const before = w.users;
        w.users = w.users.map((u) => (u === ann ? edited(u, (copy) => delete (copy[part] as Record<string, unknown>)[key]) : u));
        expect(w.sync(wide(), later(3 * HOUR)).users.map((u) => u.name), `User without ${field}`).to.deep.equal([ann.metadata.name]);
        w.users = before;
      }
      // A usual group's spec is one object literal, a capped one is built key by key: the same keys, in order.
      const plain = w.groups.find((g) => g.spec.displayName === 'kid0')!;
      expect(Object.keys(plain.spec)).to.deep.equal(Object.keys(mid.spec).filter((k) => !['description', 'parentCount', 'childCount'].includes(k)));
      const described = decide({ directory: dir(), snapshot: snapshot([], [group('d', 'D', [], [], { description: 'x' })]), existingUsers: [], existingGroups: [], now: T0 }).groups[0].spec;
      expect(Object.keys(described)).to.deep.equal(Object.keys(mid.spec).filter((k) => !['parentCount', 'childCount'].includes(k)));
      for (const key of Object.keys(mid.spec).filter((k) => k !== 'idpId')) {
        const before = w.groups;
        w.groups = w.groups.map((g) => (g === mid ? edited(g, (copy) => delete (copy.spec as unknown as Record<string, unknown>)[key]) : g));
        expect(w.sync(wide(), later(3 * HOUR)).groups.map((g) => g.name), `Group without spec.${key}`).to.deep.equal([mid.metadata.name]);
        w.groups = before;
      }
    });

    const groupEdits: [string, (g: Group) => void][] = [
      ['a displayName', (g) => (g.spec.displayName = 'Other')],
      ['no description', (g) => delete g.spec.description],
      ['a member more', (g) => g.spec.members.push('zed@x.io')],
      ['a memberCount', (g) => (g.spec.memberCount = 7)],
      ['no parents', (g) => (g.spec.parents = [])],
      ['a childCount', (g) => (g.spec.childCount = 0)],
      ['an extra spec field', (g) => Object.assign(g.spec, { extra: [] })],
    ];
    for (const [what, edit] of groupEdits) {
      it(`writes a Group back when its stored copy has ${what}`, () => {
        const w = settled();
        const eng = w.groups.find((g) => g.spec.displayName === 'Eng')!;
        w.groups = w.groups.map((g) => (g === eng ? edited(g, edit) : g));
        const plan = w.sync(snap(), later(3 * HOUR));
        expect(plan.groups.map((g) => g.name)).to.deep.equal([eng.metadata.name]);
        expect(plan.groups[0].spec).to.deep.equal(eng.spec);
      });
    }
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

// The per-object bounds decide() keeps at any directory size, and the shortcuts that keep it fast
// giving exactly what the plain way (sort everything) gives.
import { expect } from 'chai';
import { decide } from '../../../src/directory/decide.js';
import { PersonGroups } from '../../../src/directory/person-groups.js';
import { sameJson } from '../../../src/directory/json.js';
import { MAX_LISTED_GROUPS, MAX_LISTED_MEMBERS, MAX_LISTED_NESTING } from '../../../src/api/v1alpha1/index.js';
import { seededRandom } from '../../fixtures/generate-directory.js';
import { directory, group, materialise, snapshot, user } from '../../support/builders.js';

const now = new Date('2026-01-01T00:00:00Z');
const pad = (n: number) => String(n).padStart(5, '0');

describe('bounds on what decide() lists', () => {
  describe('a person in more groups than User.spec.groups may list', () => {
    const count = MAX_LISTED_GROUPS + 3;
    // Named in reverse so the listed (first, sorted) groups are not simply the first given.
    const groups = Array.from({ length: count }, (_, i) => group(`g${i}`, `team-${pad(count - i)}`, ['busy']));
    groups.push(group('g-small', 'small', ['calm']));
    const dir = directory();
    const plan = decide({ directory: dir, snapshot: snapshot([user('busy'), user('calm')], groups), existingUsers: [], existingGroups: [], now });
    const busy = plan.users.find((u) => u.spec.idpId === 'busy')!;

    it('lists the first groups by name, sorted, and counts them all', () => {
      const all = plan.groups.filter((g) => g.spec.displayName !== 'small').map((g) => g.name).sort();
      expect(all).to.have.length(count);
      expect(busy.spec.groups).to.deep.equal(all.slice(0, MAX_LISTED_GROUPS));
      expect(busy.spec.groupCount).to.equal(count);
      expect(plan.counts.memberships).to.equal(count + 1);
    });
    it('leaves groupCount out for a list that is complete', () => {
      const calm = plan.users.find((u) => u.spec.idpId === 'calm')!;
      expect(calm.spec.groups).to.have.length(1);
      expect(calm.spec).not.to.have.property('groupCount');
    });
    it('writes nothing more on the next sync', () => {
      const existing = materialise([], [], plan);
      const again = decide({ directory: dir, snapshot: snapshot([user('busy'), user('calm')], groups), existingUsers: existing.users, existingGroups: existing.groups, now });
      expect(again.users).to.have.length(0);
      expect(again.groups).to.have.length(0);
    });
  });

  describe('nesting', () => {
    const many = MAX_LISTED_NESTING + 2;
    const kids = Array.from({ length: many }, (_, i) => group(`k${i}`, `kid-${pad(many - i)}`, ['u1']));
    const parents = Array.from({ length: many }, (_, i) => group(`p${i}`, `parent-${pad(many - i)}`, [], ['shared']));
    const plan = decide({
      directory: directory(),
      snapshot: snapshot([user('u1')], [group('top', 'Top', [], kids.map((k) => k.id)), ...kids, group('shared', 'Shared', ['u1']), ...parents]),
      existingUsers: [],
      existingGroups: [],
      now,
    });
    const byName = new Map(plan.groups.map((g) => [g.spec.displayName, g]));
    const namesOf = (prefix: string) => plan.groups.filter((g) => g.spec.displayName.startsWith(prefix)).map((g) => g.name).sort();

    it('lists the first children by name and counts them all', () => {
      const top = byName.get('Top')!.spec;
      expect(top.children).to.deep.equal(namesOf('kid-').slice(0, MAX_LISTED_NESTING));
      expect(top.childCount).to.equal(many);
      expect(top).not.to.have.property('parentCount');
    });
    it('lists the first parents by name and counts them all', () => {
      const shared = byName.get('Shared')!.spec;
      expect(shared.parents).to.deep.equal(namesOf('parent-').slice(0, MAX_LISTED_NESTING));
      expect(shared.parentCount).to.equal(many);
      expect(shared).not.to.have.property('childCount');
    });
  });

  it('lists the smallest logins of a large group, sorted, and counts every member', () => {
    const random = seededRandom(7);
    const people = Array.from({ length: 2500 }, (_, i) => user(`u${i}`, `${Math.floor(random() * 1e9).toString(36)}.${i}@example.com`));
    const suspended = user('s', '0-first-but-suspended@example.com', { state: 'Suspended' });
    const plan = decide({
      directory: directory(),
      snapshot: snapshot([...people, suspended], [group('g', 'Big', [...people.map((p) => p.id), 's'])]),
      existingUsers: [],
      existingGroups: [],
      now,
    });
    const spec = plan.groups[0].spec;
    expect(spec.members).to.deep.equal(people.map((p) => p.login).sort().slice(0, MAX_LISTED_MEMBERS));
    expect(spec.memberCount).to.equal(2500);
  });
});

describe('PersonGroups.firstMembers', () => {
  it('gives what sorting each group and keeping its first few gives', () => {
    const random = seededRandom(3);
    const people = 5000;
    const groups = [0, 1, 9, 10, 11, 500, 4999, 5000].map((size, g) => {
      const everyone = Array.from({ length: people }, (_, i) => i);
      for (let i = people - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [everyone[i], everyone[j]] = [everyone[j], everyone[i]];
      }
      return { name: `g${g}`, members: Int32Array.from(everyone.slice(0, size)) };
    });
    const first = PersonGroups.of(groups, people).firstMembers(10);
    groups.forEach((g, number) => expect([...first[number]], g.name).to.deep.equal([...g.members].sort((a, b) => a - b).slice(0, 10)));
  });
});

describe('sameJson', () => {
  it('ignores key order and properties left undefined, as JSON does', () => {
    expect(sameJson({ a: 1, b: { c: [1, 2], d: 'x' } }, { b: { d: 'x', c: [1, 2] }, a: 1 })).to.equal(true);
    expect(sameJson({ a: 1, gone: undefined }, { a: 1 })).to.equal(true);
    expect(sameJson({ a: 1 }, { a: 1, gone: undefined })).to.equal(true);
    expect(sameJson([undefined], [null])).to.equal(true);
  });
  it('sees any difference in a value, a key, an array order or a length', () => {
    expect(sameJson({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [2, 1] } })).to.equal(false);
    expect(sameJson({ a: 1 }, { a: 1, b: 0 })).to.equal(false);
    expect(sameJson({ a: 1, b: 0 }, { a: 1 })).to.equal(false);
    expect(sameJson({ a: [1] }, { a: [1, 1] })).to.equal(false);
    expect(sameJson({ a: '1' }, { a: 1 })).to.equal(false);
    expect(sameJson({ a: null }, { a: {} })).to.equal(false);
    expect(sameJson({ a: [] }, { a: {} })).to.equal(false);
  });
});

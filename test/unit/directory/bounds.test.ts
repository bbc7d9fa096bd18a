// The per-object bounds decide() keeps at any directory size, and the shortcuts that keep it fast
// giving exactly what the plain way (sort everything) gives.
import { expect } from 'chai';
import { decide } from '../../../src/directory/decide.js';
import { smallestOf, smallestSorted } from '../../../src/directory/flatten.js';
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

describe('smallestSorted', () => {
  it('gives what a full sort gives, below, at and above the limit, with repeats', () => {
    const random = seededRandom(3);
    for (const length of [0, 1, 9, 10, 11, 500, 5000]) {
      for (const spread of [5, 1e6]) {
        const values = Int32Array.from({ length }, () => Math.floor(random() * spread));
        const expected = [...values].sort((a, b) => a - b).slice(0, 10);
        expect([...smallestSorted(values.slice(), 10)], `${length} values up to ${spread}`).to.deep.equal(expected);
      }
    }
  });
});

describe('smallestOf', () => {
  /** Distinct numbers below `universe`, shuffled: `length` of them, drawn from the first `skew` share of it. */
  const distinct = (random: () => number, length: number, universe: number, skew: number) => {
    const pool = Array.from({ length: Math.floor(universe * skew) }, (_, i) => i);
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return Int32Array.from(pool.slice(0, length));
  };

  it('gives what a full sort gives, however the numbers spread, and leaves them as they were', () => {
    const random = seededRandom(5);
    for (const length of [0, 1, 10, 11, 25, 400, 3000]) {
      for (const skew of [1, 0.5, 0.05]) {
        const universe = 20_000;
        const values = distinct(random, Math.min(length, universe * skew), universe, skew);
        const before = [...values];
        const expected = [...values].sort((a, b) => a - b).slice(0, 10);
        expect([...smallestOf(values, 10, universe)], `${length} values, skew ${skew}`).to.deep.equal(expected);
        expect([...values]).to.deep.equal(before);
      }
    }
  });

  it('finds the smallest when they all sit at the top of the universe', () => {
    const values = Int32Array.from({ length: 500 }, (_, i) => 99_999 - i);
    expect([...smallestOf(values, 10, 100_000)]).to.deep.equal(Array.from({ length: 10 }, (_, i) => 99_500 + i));
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

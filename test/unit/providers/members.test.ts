import { expect } from 'chai';
import { KnownPeople } from '../../../src/providers/members.js';

/** A small seeded generator (mulberry32), so a failure repeats. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('KnownPeople', () => {
  it('tells known ids apart and gives the known ones back', () => {
    const people = new KnownPeople(['u1', 'u2', 'u1']);
    expect(people.has('u1')).to.equal(true);
    expect(people.has('u3')).to.equal(false);
    expect(people.own('u2')).to.equal('u2');
    expect(people.own('u3')).to.equal(undefined);
    expect(people.own('')).to.equal(undefined);
  });

  it('lists members as [...new Set(ids)].filter(known.has) does, on seeded random lists', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const next = random(seed);
      const pool = Array.from({ length: 1 + Math.floor(next() * 40) }, (_, i) => `id-${i}`);
      const userIds = pool.filter(() => next() < 0.6);
      const ids = Array.from({ length: Math.floor(next() * 80) }, () => pool[Math.floor(next() * pool.length)]);
      const known = new Set(userIds);
      const people = new KnownPeople(userIds);
      const expected = [...new Set(ids)].filter((id) => known.has(id));
      expect(people.members(ids), `seed ${seed}`).to.deep.equal(expected);
      expect(people.members(new Set(ids)), `seed ${seed}, as a set`).to.deep.equal(expected);
      expect(people.members(ids.values()), `seed ${seed}, as an iterator`).to.deep.equal(expected);
    }
  });

  it('lists nothing for no ids or no people', () => {
    expect(new KnownPeople(['u1']).members([])).to.deep.equal([]);
    expect(new KnownPeople([]).members(['u1', 'u1'])).to.deep.equal([]);
  });
});

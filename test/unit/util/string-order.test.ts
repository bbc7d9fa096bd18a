// sortByKey must order exactly as sort() orders strings (by UTF-16 code unit), ties by position.
import { expect } from 'chai';
import { sortByKey } from '../../../src/util/string-order.js';

/** A small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function reference(positions: Int32Array, keys: readonly string[]): number[] {
  return Array.from(positions).sort((p, q) => (keys[p] < keys[q] ? -1 : keys[p] > keys[q] ? 1 : p - q));
}

// Few distinct characters, so keys share long prefixes, repeat and end inside one another. They include
// a character past every surrogate and both halves of a pair, where code-unit order and code-point order differ.
const ALPHABET = ['a', 'b', 'B', '.', '@', '-', '\u00e9', '\ud83d', '\ude00', '\uffff', '\u0000'];

function keysFor(count: number, next: () => number): string[] {
  return Array.from({ length: count }, () => {
    const length = Math.floor(next() * 8);
    let key = next() < 0.5 ? 'first.last' : '';
    for (let i = 0; i < length; i++) key += ALPHABET[Math.floor(next() * ALPHABET.length)];
    return key;
  });
}

describe('util/string-order sortByKey', () => {
  it('orders as sort() orders strings, equal keys by position', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const next = random(seed);
      const count = 1 + Math.floor(next() * 600);
      const keys = keysFor(count, next);
      // Only some positions take part, in a scrambled order.
      const positions = Int32Array.from(keys.map((_, i) => i).filter(() => next() < 0.8)).sort((a, b) => ((a * 7919) % 613) - ((b * 7919) % 613));
      const expected = reference(positions, keys);
      expect(Array.from(sortByKey(positions, keys)), `seed ${seed}`).to.deep.equal(expected);
    }
  });

  it('gives the same order when it runs out of partitioning budget part-way or at once', () => {
    const next = random(99);
    const keys = keysFor(400, next);
    const all = () => Int32Array.from(keys, (_, i) => 399 - i);
    const expected = reference(all(), keys);
    for (const budget of [0, 50, 500]) expect(Array.from(sortByKey(all(), keys, budget)), `budget ${budget}`).to.deep.equal(expected);
  });

  it('handles nothing, one key, and a hundred equal keys', () => {
    expect(Array.from(sortByKey(new Int32Array(0), []))).to.deep.equal([]);
    expect(Array.from(sortByKey(Int32Array.of(0), ['x']))).to.deep.equal([0]);
    const same = Array.from({ length: 100 }, () => 'same');
    expect(Array.from(sortByKey(Int32Array.from(same, (_, i) => 99 - i), same))).to.deep.equal(same.map((_, i) => i));
  });
});

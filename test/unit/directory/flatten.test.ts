import { expect } from 'chai';
import { flattenGroups, stronglyConnectedComponents } from '../../../src/directory/flatten.js';
import { group } from '../../support/builders.js';

const members = (flat: ReturnType<typeof flattenGroups>, id: string) => [...flat.get(id)!.members].sort();

describe('flattenGroups', () => {
  it('gives each group its direct members plus those of every nested group', () => {
    const flat = flattenGroups([group('a', 'A', ['u1'], ['b']), group('b', 'B', ['u2'], ['c']), group('c', 'C', ['u3'])]);
    expect(members(flat, 'a')).to.deep.equal(['u1', 'u2', 'u3']);
    expect(members(flat, 'b')).to.deep.equal(['u2', 'u3']);
    expect(members(flat, 'c')).to.deep.equal(['u3']);
  });

  it('terminates on a cycle and gives every group in it the union of their members', () => {
    const flat = flattenGroups([group('a', 'A', ['u1'], ['b']), group('b', 'B', ['u2'], ['a']), group('top', 'Top', [], ['a'])]);
    expect(members(flat, 'a')).to.deep.equal(['u1', 'u2']);
    expect(members(flat, 'b')).to.deep.equal(['u1', 'u2']);
    expect(members(flat, 'top')).to.deep.equal(['u1', 'u2']);
  });

  it('handles a group nested in itself', () => {
    const flat = flattenGroups([group('a', 'A', ['u1'], ['a'])]);
    expect(members(flat, 'a')).to.deep.equal(['u1']);
    expect(flat.get('a')!.children).to.deep.equal([]);
  });

  it('counts a member reached twice through a diamond once', () => {
    const flat = flattenGroups([
      group('top', 'Top', [], ['left', 'right']),
      group('left', 'Left', ['u1'], ['bottom']),
      group('right', 'Right', ['u2'], ['bottom']),
      group('bottom', 'Bottom', ['u3', 'u1']),
    ]);
    expect(members(flat, 'top')).to.deep.equal(['u1', 'u2', 'u3']);
    expect(flat.get('bottom')!.parents.sort()).to.deep.equal(['left', 'right']);
  });

  it('follows a chain 20 groups deep', () => {
    const chain = Array.from({ length: 20 }, (_, i) => group(`g${i}`, `G${i}`, [`u${i}`], i < 19 ? [`g${i + 1}`] : []));
    const flat = flattenGroups(chain);
    expect(flat.get('g0')!.members.size).to.equal(20);
    expect(flat.get('g19')!.members.size).to.equal(1);
    expect(flat.get('g10')!.members.size).to.equal(10);
  });

  it('follows a chain far deeper than the call stack would allow', () => {
    const depth = 100_000;
    const chain = Array.from({ length: depth }, (_, i) => group(`g${i}`, `G${i}`, i === depth - 1 ? ['bottom'] : [], i < depth - 1 ? [`g${i + 1}`] : []));
    expect([...flattenGroups(chain).get('g0')!.members]).to.deep.equal(['bottom']);
  });

  it('leaves out members the filter rejects, and nested ids the IdP did not list', () => {
    const flat = flattenGroups([group('a', 'A', ['u1', 'u2'], ['missing'])], (id) => id !== 'u2');
    expect(members(flat, 'a')).to.deep.equal(['u1']);
    expect(flat.get('a')!.children).to.deep.equal([]);
  });
});

describe('stronglyConnectedComponents', () => {
  it('emits children before parents', () => {
    const edges: Record<string, string[]> = { a: ['b'], b: ['c'], c: [] };
    const order = stronglyConnectedComponents(['a', 'b', 'c'], (n) => edges[n]).map((c) => c.join());
    expect(order).to.deep.equal(['c', 'b', 'a']);
  });
});

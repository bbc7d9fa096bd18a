import { expect } from 'chai';
import { generateDirectory, generateFixtureDirectory } from '../../fixtures/generate-directory.js';
import { stronglyConnectedComponents } from '../../../src/directory/flatten.js';

describe('the directory generator', () => {
  const options = { users: 2000, groups: 300, seed: 11, cycles: 3, orgUnits: 10 };
  const directory = generateDirectory(options);

  it('gives the same directory for the same seed, and another for another seed', () => {
    expect(generateDirectory(options)).to.deep.equal(directory);
    expect(generateDirectory({ ...options, seed: 12 })).not.to.deep.equal(directory);
  });
  it('has the people and groups asked for, an Everyone group, suspended people and org units', () => {
    const groups = directory.groups.filter((g) => g.kind === 'Group');
    expect(directory.users).to.have.length(2000);
    expect(groups).to.have.length(300);
    expect(groups.find((g) => g.name === 'Everyone')!.memberUserIds).to.have.length(2000);
    const suspended = directory.users.filter((u) => u.state === 'Suspended').length;
    expect(suspended).to.be.within(1, 200);
    expect(directory.groups.filter((g) => g.kind === 'OrgUnit')).to.have.length(10);
    expect(directory.users.every((u) => u.orgUnitId)).to.equal(true);
  });
  it('skews group sizes, nests groups and makes cycles', () => {
    const sizes = directory.groups.filter((g) => g.kind === 'Group' && g.name !== 'Everyone').map((g) => g.memberUserIds.length).sort((a, b) => b - a);
    expect(sizes[0]).to.be.greaterThan(sizes[Math.floor(sizes.length / 2)] * 20);
    const edges = new Map(directory.groups.map((g) => [g.id, g.memberGroupIds]));
    expect([...edges.values()].some((kids) => kids.length > 0)).to.equal(true);
    const cycles = stronglyConnectedComponents([...edges.keys()], (id) => edges.get(id)!).filter((c) => c.length > 1);
    expect(cycles.length).to.be.greaterThan(0);
  });
  it('writes the same directory in the emulator fixture format', () => {
    const fixture = generateFixtureDirectory(options);
    expect(fixture.users.map((u) => u.login)).to.deep.equal(directory.users.map((u) => u.login));
    expect(fixture.groups).to.have.length(300);
    expect(fixture.orgUnits).to.have.length(10);
    expect(fixture.users.filter((u) => u.state === 'suspended')).to.have.length(directory.users.filter((u) => u.state === 'Suspended').length);
  });
});

// The nested-group example from the product documents must come out exactly as documented.
import { expect } from 'chai';
import { decide } from '../../../src/directory/decide.js';
import { directory, seedFixture, snapshotFromFixture } from '../../support/builders.js';

describe('the documented nested-group example', () => {
  const plan = decide({ directory: directory(), snapshot: snapshotFromFixture(seedFixture()), existingUsers: [], existingGroups: [], now: new Date('2026-01-01T00:00:00Z') });
  const membersOf = (displayName: string) => plan.groups.find((g) => g.spec.displayName === displayName)!.spec.members;

  it('gives Everyone all five people', () => {
    expect(membersOf('Everyone')).to.deep.equal(['alice@company.com', 'bob@company.com', 'john@company.com', 'patrick@company.com', 'steve@company.com']);
  });
  it('gives Engineering bob, alice and john (through DevOps)', () => {
    expect(membersOf('Engineering')).to.deep.equal(['alice@company.com', 'bob@company.com', 'john@company.com']);
  });
  it('gives Support only patrick', () => {
    expect(membersOf('Support')).to.deep.equal(['patrick@company.com']);
  });
  it('gives DevOps only john', () => {
    expect(membersOf('DevOps')).to.deep.equal(['john@company.com']);
  });
  it('keeps the nesting visible', () => {
    const byName = new Map(plan.groups.map((g) => [g.spec.displayName, g]));
    expect(byName.get('Everyone')!.spec.children).to.deep.equal([byName.get('Engineering')!.name, byName.get('Support')!.name].sort());
    expect(byName.get('DevOps')!.spec.parents).to.deep.equal([byName.get('Engineering')!.name]);
  });
  it('counts five users, four groups and ten memberships (5 + 3 + 1 + 1)', () => {
    expect(plan.counts).to.include({ users: 5, activeUsers: 5, groups: 4, memberships: 10 });
  });
});

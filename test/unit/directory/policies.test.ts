import { expect } from 'chai';
import { declaredPolicies, type PolicyWrite } from '../../../src/directory/policies.js';
import { decide } from '../../../src/directory/decide.js';
import { API_VERSION, LABELS, type Policy } from '../../../src/api/v1alpha1/index.js';
import type { DirectoryGroup } from '../../../src/directory/snapshot.js';
import { directory, group, materialise, snapshot, user } from '../../support/builders.js';

const db = [{ address: '10.20.0.0/16', ports: ['5432'], protocols: ['TCP' as const] }];
const rule = (name: string, groups: { names?: string[]; patterns?: string[]; ids?: string[] }) => ({ name, groups, resources: db });

/** The Policies the apiserver would hold after the writes, owned by the given group uids. */
function stored(writes: PolicyWrite[], uids: Record<string, string>): Policy[] {
  return writes.map((w) => ({
    apiVersion: API_VERSION,
    kind: 'Policy',
    metadata: {
      name: w.name,
      labels: { [LABELS.group]: w.group, [LABELS.policyRule]: w.rule },
      ownerReferences: [{ apiVersion: API_VERSION, kind: 'Group', name: w.group, uid: uids[w.group] }],
    },
    spec: w.spec,
  }));
}

describe('declared policies', () => {
  const eng = group('g-eng', 'Engineering');
  const ops = group('g-ops', 'Ops-Oncall');
  const sales = group('g-sales', 'Sales');
  const groups = (list: DirectoryGroup[]) => list.map((g) => ({ group: g, name: `corp-${g.id}`, uid: `uid-${g.id}` }));
  const uids = { 'corp-g-eng': 'uid-g-eng', 'corp-g-ops': 'uid-g-ops', 'corp-g-sales': 'uid-g-sales' };

  it('writes one Policy per rule and matching group, by name, pattern or IdP id', () => {
    const plan = declaredPolicies({
      directory: 'corp',
      rules: [rule('db', { names: ['Engineering'], patterns: ['ops-*'] }), rule('crm', { ids: ['g-sales'] })],
      groups: groups([eng, ops, sales]),
      leavingGroups: new Set(),
      existing: [],
    });
    expect(plan.writes.map((w) => [w.rule, w.group])).to.deep.equal([
      ['db', 'corp-g-eng'],
      ['db', 'corp-g-ops'],
      ['crm', 'corp-g-sales'],
    ]);
    expect(plan.writes[0].spec).to.deep.equal({ group: { name: 'corp-g-eng', idpId: 'g-eng', directory: 'corp' }, resources: db });
    expect(plan.writes[0].name).to.match(/^corp-db-engineering-[0-9a-f]{8}$/);
    expect(new Set(plan.writes.map((w) => w.name)).size).to.equal(3);
    expect(plan.total).to.equal(3);
  });

  it('writes nothing the second time, and deletes what a changed rule no longer wants', () => {
    const rules = [rule('db', { names: ['Engineering', 'Sales'] })];
    const input = { directory: 'corp', rules, groups: groups([eng, ops, sales]), leavingGroups: new Set<string>(), existing: [] as Policy[] };
    const first = declaredPolicies(input);
    const existing = stored(first.writes, uids);
    expect(declaredPolicies({ ...input, existing }).writes).to.deep.equal([]);

    const narrowed = declaredPolicies({ ...input, rules: [rule('db', { names: ['Engineering'] })], existing });
    expect(narrowed.writes).to.deep.equal([]);
    expect(narrowed.deletions).to.deep.equal([first.writes.find((w) => w.group === 'corp-g-sales')!.name]);
    expect(declaredPolicies({ ...input, rules: [], existing }).deletions).to.have.length(2);
  });

  it('leaves the Policies of a leaving group to the garbage collector (or the guard)', () => {
    const input = { directory: 'corp', rules: [rule('db', { patterns: ['*'] })], groups: groups([eng, ops]), leavingGroups: new Set<string>(), existing: [] as Policy[] };
    const existing = stored(declaredPolicies(input).writes, uids);
    const plan = declaredPolicies({ ...input, groups: groups([eng]), leavingGroups: new Set(['corp-g-ops']), existing });
    expect(plan.deletions).to.deep.equal([]);
    expect(plan.total).to.equal(1);
  });

  it('rewrites a Policy whose Group was recreated with a new uid, or whose resources changed', () => {
    const input = { directory: 'corp', rules: [rule('db', { names: ['Engineering'] })], groups: groups([eng]), leavingGroups: new Set<string>(), existing: [] as Policy[] };
    const existing = stored(declaredPolicies(input).writes, uids);
    expect(declaredPolicies({ ...input, groups: [{ group: eng, name: 'corp-g-eng', uid: 'uid-new' }], existing }).writes).to.have.length(1);
    const wider = [{ ...rule('db', { names: ['Engineering'] }), resources: [{ address: '10.0.0.0/8' }] }];
    expect(declaredPolicies({ ...input, rules: wider, existing }).writes[0].spec.resources).to.deep.equal([{ address: '10.0.0.0/8' }]);
  });

  it('is part of the sync plan: a group deleted in the IdP takes its Policies with it, not the operator', () => {
    const dir = directory({ policies: [rule('db', { names: ['Eng', 'Ops'] })] });
    const snap1 = snapshot([user('u1')], [group('g1', 'Eng', ['u1']), group('g2', 'Ops', ['u1'])]);
    const plan1 = decide({ directory: dir, snapshot: snap1, existingUsers: [], existingGroups: [], now: new Date() });
    expect(plan1.policies.total).to.equal(2);
    const { users, groups: objs } = materialise([], [], plan1);
    const policies = stored(plan1.policies.writes, Object.fromEntries(objs.map((g) => [g.metadata.name!, g.metadata.uid!])));
    const snap2 = snapshot([user('u1')], [group('g1', 'Eng', ['u1'])]);
    // The first listing without Ops only marks it: its Policy stays, nothing is deleted yet.
    const plan2 = decide({ directory: dir, snapshot: snap2, existingUsers: users, existingGroups: objs, existingPolicies: policies, now: new Date() });
    expect(plan2.deletions).to.deep.equal([]);
    expect(plan2.policies.deletions).to.deep.equal([]);
    const marked = materialise(users, objs, plan2);
    const plan3 = decide({ directory: dir, snapshot: snap2, existingUsers: marked.users, existingGroups: marked.groups, existingPolicies: policies, now: new Date() });
    expect(plan3.deletions.map((d) => d.displayName)).to.deep.equal(['Ops']);
    expect(plan3.policies).to.deep.equal({ writes: [], deletions: [], total: 1 });
  });
});

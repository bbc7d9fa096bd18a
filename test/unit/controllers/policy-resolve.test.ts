import { expect } from 'chai';
import type { V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, LABELS, type Group, type Policy } from '../../../src/api/v1alpha1/index.js';
import { describeSelector, isDeclared, matchesSelector, resolvePolicy, type Resolution } from '../../../src/controllers/policy/resolve.js';

const T0 = new Date('2026-03-01T00:00:00Z');
const T1 = new Date('2026-03-01T01:00:00Z');
const T2 = new Date('2026-03-01T02:00:00Z');

const db = [{ address: '10.20.0.0/16', ports: ['5432'], protocols: ['TCP' as const] }];

function group(name: string, mods: { idpId?: string; displayName?: string; directory?: string; memberCount?: number; uid?: string } = {}): Group {
  return {
    apiVersion: API_VERSION,
    kind: 'Group',
    metadata: { name, namespace: 'team-a', uid: mods.uid ?? `uid-${name}` },
    spec: {
      directory: mods.directory ?? 'corp',
      idpId: mods.idpId ?? `id-${name}`,
      displayName: mods.displayName ?? name,
      kind: 'Group',
      memberCount: mods.memberCount ?? 3,
      directMemberCount: mods.memberCount ?? 3,
      members: [],
      parents: [],
      children: [],
    },
  };
}

function policy(selector: Policy['spec']['group'], metadata: Partial<Policy['metadata']> = {}, status?: Policy['status']): Policy {
  return {
    apiVersion: API_VERSION,
    kind: 'Policy',
    metadata: { name: 'db-access', namespace: 'team-a', uid: 'uid-policy', generation: 2, resourceVersion: '41', ...metadata },
    spec: { group: selector, resources: db },
    ...(status ? { status } : {}),
  };
}

function ownerRef(g: Group): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: 'Group', name: g.metadata.name!, uid: g.metadata.uid!, controller: false, blockOwnerDeletion: false };
}

/** A ref to a Group that no longer exists (its uid is in no Group the test passes as live). */
function goneRef(name: string): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: 'Group', name, uid: `uid-gone-${name}`, controller: false, blockOwnerDeletion: false };
}

const foreignRef: V1OwnerReference = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', name: 'net', uid: 'uid-argo' };

function live(...groups: Group[]): Map<string, Group> {
  return new Map(groups.map((g) => [g.metadata.uid!, g]));
}

function resolve(p: Policy, candidates: Group[], liveOwners = live(), now = T0): Resolution {
  return resolvePolicy({ policy: p, candidates, liveOwners, now });
}

/** What the apiserver holds after the reconciler writes a resolution: JSON merge patch, then the status. */
function applied(p: Policy, r: Resolution): Policy {
  const metadata = { ...p.metadata, resourceVersion: String(Number(p.metadata.resourceVersion ?? 0) + 1) };
  if (r.metadataPatch) {
    const { ownerReferences, labels } = r.metadataPatch.metadata;
    if (ownerReferences === null) delete metadata.ownerReferences;
    else metadata.ownerReferences = ownerReferences;
    const merged: Record<string, string> = { ...metadata.labels };
    for (const [k, v] of Object.entries(labels)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    if (Object.keys(merged).length) metadata.labels = merged;
    else delete metadata.labels;
  }
  return { ...p, metadata, status: r.status };
}

const ready = (r: Resolution) => r.status.conditions!.find((c) => c.type === 'Ready')!;

describe('controllers/policy/resolve', () => {
  describe('matchesSelector', () => {
    const eng = group('corp-eng', { idpId: '00g1', displayName: 'Engineering', directory: 'corp' });

    it('matches on the object name, the IdP id or the IdP name', () => {
      expect(matchesSelector(eng, { name: 'corp-eng' })).to.equal(true);
      expect(matchesSelector(eng, { name: 'corp-sales' })).to.equal(false);
      expect(matchesSelector(eng, { idpId: '00g1' })).to.equal(true);
      expect(matchesSelector(eng, { idpId: '00g2' })).to.equal(false);
      expect(matchesSelector(eng, { idpName: 'Engineering' })).to.equal(true);
      expect(matchesSelector(eng, { idpName: 'engineering' })).to.equal(false);
    });

    it('requires every given field to match, directory included', () => {
      expect(matchesSelector(eng, { idpName: 'Engineering', directory: 'corp' })).to.equal(true);
      expect(matchesSelector(eng, { idpName: 'Engineering', directory: 'acquired' })).to.equal(false);
      expect(matchesSelector(eng, { idpId: '00g1', idpName: 'Engineering' })).to.equal(true);
      expect(matchesSelector(eng, { idpId: '00g1', idpName: 'Sales' })).to.equal(false);
      expect(matchesSelector(eng, { name: 'corp-eng', idpId: 'other' })).to.equal(false);
    });
  });

  describe('describeSelector', () => {
    it('names every field of the selector', () => {
      expect(describeSelector({ name: 'corp-eng' })).to.equal('name "corp-eng"');
      expect(describeSelector({ idpId: '00g1', idpName: 'Engineering', directory: 'corp' })).to.equal('IdP id "00g1" and IdP name "Engineering" in directory corp');
    });
  });

  describe('isDeclared', () => {
    it('is true only for Policies carrying the policy-rule label', () => {
      expect(isDeclared(policy({ name: 'x' }, { labels: { [LABELS.policyRule]: 'db' } }))).to.equal(true);
      expect(isDeclared(policy({ name: 'x' }, { labels: { [LABELS.group]: 'x' } }))).to.equal(false);
      expect(isDeclared(policy({ name: 'x' }))).to.equal(false);
    });
  });

  describe('one matching Group', () => {
    const eng = group('corp-eng', { idpId: '00g1', displayName: 'Engineering', memberCount: 7 });

    it('is Ready with the Group, its IdP id, directory and member count in status', () => {
      const r = resolve(policy({ idpName: 'Engineering' }), [eng]);
      expect(r.group).to.equal(eng);
      expect(ready(r)).to.deep.include({ status: 'True', reason: 'Resolved', observedGeneration: 2, lastTransitionTime: T0.toISOString() });
      expect(ready(r).message).to.contain('Engineering').and.contain('corp-eng').and.contain('7');
      expect(r.status).to.deep.include({ resolvedGroup: 'corp-eng', resolvedIdpId: '00g1', directory: 'corp', memberCount: 7, observedGeneration: 2 });
      expect(r.statusChanged).to.equal(true);
    });

    it('attaches an authored Policy to the Group: a non-controller owner reference and the group label', () => {
      const r = resolve(policy({ idpId: '00g1' }, { labels: { team: 'data' }, ownerReferences: [foreignRef] }), [eng]);
      expect(r.metadataPatch).to.deep.equal({
        metadata: {
          ownerReferences: [
            foreignRef,
            { apiVersion: 'idpsync.io/v1alpha1', kind: 'Group', name: 'corp-eng', uid: 'uid-corp-eng', controller: false, blockOwnerDeletion: false },
          ],
          labels: { [LABELS.group]: 'corp-eng' },
          resourceVersion: '41',
        },
      });
    });

    it('settles: resolving the patched Policy again writes nothing and reports no change', () => {
      const first = resolve(policy({ idpName: 'Engineering' }), [eng], live(), T0);
      const stored = applied(policy({ idpName: 'Engineering' }), first);
      const second = resolve(stored, [eng], live(eng), T1);
      expect(second.metadataPatch).to.equal(undefined);
      expect(second.statusChanged).to.equal(false);
      expect(second.transition).to.equal(undefined);
      expect(ready(second).lastTransitionTime).to.equal(T0.toISOString());
      expect(second.status).to.deep.equal(stored.status);
    });

    it('ignores candidates the other selector fields rule out', () => {
      const acquired = group('acq-eng', { idpId: '77x', displayName: 'Engineering', directory: 'acquired' });
      const r = resolve(policy({ idpName: 'Engineering', directory: 'corp' }), [acquired, eng]);
      expect(ready(r).reason).to.equal('Resolved');
      expect(r.status.resolvedGroup).to.equal('corp-eng');
    });

    it('counts a Group listed twice among the candidates once', () => {
      const r = resolve(policy({ idpName: 'Engineering' }), [eng, eng]);
      expect(ready(r).reason).to.equal('Resolved');
    });
  });

  describe('no matching Group', () => {
    const eng = group('corp-eng', { idpId: '00g1', displayName: 'Engineering', memberCount: 7 });

    it('is inert: Ready False GroupNotFound, no members, no resolved Group, the last IdP id kept', () => {
      const before = applied(policy({ idpName: 'Engineering' }), resolve(policy({ idpName: 'Engineering' }), [eng]));
      const r = resolve(before, [], live(), T1);
      expect(r.group).to.equal(undefined);
      expect(ready(r)).to.deep.include({ status: 'False', reason: 'GroupNotFound', lastTransitionTime: T1.toISOString() });
      expect(ready(r).message).to.contain('IdP name "Engineering"');
      expect(r.status.memberCount).to.equal(0);
      expect(r.status).to.not.have.property('resolvedGroup');
      expect(r.status).to.not.have.property('directory');
      expect(r.status.resolvedIdpId).to.equal('00g1');
      expect(r.statusChanged).to.equal(true);
    });

    it('keeps the owner reference to a Group that is gone, and drops the label', () => {
      const ref = goneRef('corp-eng');
      const p = policy({ idpName: 'Engineering' }, { labels: { [LABELS.group]: 'corp-eng', team: 'data' }, ownerReferences: [ref] });
      const r = resolve(p, [], live());
      expect(r.metadataPatch).to.deep.equal({ metadata: { ownerReferences: [ref], labels: { [LABELS.group]: null }, resourceVersion: '41' } });
    });

    it('removes the owner reference to a Group that still exists but no longer matches (a rename)', () => {
      const renamed = group('corp-eng', { idpId: '00g1', displayName: 'Platform' });
      const p = policy({ idpName: 'Engineering' }, { labels: { [LABELS.group]: 'corp-eng' }, ownerReferences: [ownerRef(renamed), foreignRef] });
      const r = resolve(p, [], live(renamed));
      expect(ready(r).reason).to.equal('GroupNotFound');
      expect(r.metadataPatch).to.deep.equal({ metadata: { ownerReferences: [foreignRef], labels: { [LABELS.group]: null }, resourceVersion: '41' } });
    });

    it('clears ownerReferences entirely when only a live, no longer matching Group owned it', () => {
      const renamed = group('corp-eng', { displayName: 'Platform' });
      const p = policy({ idpName: 'Engineering' }, { labels: { [LABELS.group]: 'corp-eng' }, ownerReferences: [ownerRef(renamed)] });
      expect(resolve(p, [], live(renamed)).metadataPatch!.metadata.ownerReferences).to.equal(null);
    });

    it('keeps owner references that are not idpsync Groups, even of a kind named Group', () => {
      const otherGroup: V1OwnerReference = { apiVersion: 'iam.example.com/v1', kind: 'Group', name: 'corp-eng', uid: 'uid-corp-eng' };
      const stale = group('corp-eng', { displayName: 'Platform' });
      const p = policy({ idpName: 'Engineering' }, { ownerReferences: [foreignRef, otherGroup] });
      expect(resolve(p, [], live(stale)).metadataPatch).to.equal(undefined);
    });

    it('writes nothing for a Policy that never resolved', () => {
      const first = resolve(policy({ name: 'corp-missing' }), []);
      expect(first.metadataPatch).to.equal(undefined);
      const second = resolve(applied(policy({ name: 'corp-missing' }), first), [], live(), T1);
      expect(second.metadataPatch).to.equal(undefined);
      expect(second.statusChanged).to.equal(false);
      expect(second.transition).to.equal(undefined);
      expect(ready(second).lastTransitionTime).to.equal(T0.toISOString());
    });

    it('moves a renamed Policy over to the Group that matches now', () => {
      const platform = group('corp-eng', { displayName: 'Platform' });
      const newEng = group('corp-eng-2', { displayName: 'Engineering' });
      const p = policy({ idpName: 'Engineering' }, { labels: { [LABELS.group]: 'corp-eng' }, ownerReferences: [ownerRef(platform)] });
      const r = resolve(p, [newEng], live(platform));
      expect(r.metadataPatch!.metadata.ownerReferences).to.deep.equal([ownerRef(newEng)]);
      expect(r.metadataPatch!.metadata.labels).to.deep.equal({ [LABELS.group]: 'corp-eng-2' });
    });
  });

  describe('several matching Groups', () => {
    it('is AmbiguousGroup, naming both Groups, and resolves to none', () => {
      const corp = group('corp-eng', { displayName: 'Engineering', directory: 'corp' });
      const acquired = group('acq-eng', { displayName: 'Engineering', directory: 'acquired' });
      const r = resolve(policy({ idpName: 'Engineering' }), [corp, acquired]);
      expect(r.group).to.equal(undefined);
      expect(ready(r)).to.deep.include({ status: 'False', reason: 'AmbiguousGroup' });
      expect(ready(r).message).to.contain('acq-eng').and.contain('corp-eng');
      expect(r.status.memberCount).to.equal(0);
      expect(r.status).to.not.have.property('resolvedGroup');
      expect(r.transition).to.deep.include({ type: 'Warning', reason: 'AmbiguousGroup' });
    });
  });

  describe('declared Policies', () => {
    it('never get a metadata patch: the DirectorySync owns their metadata', () => {
      const eng = group('corp-eng', { idpId: '00g1', displayName: 'Engineering' });
      const renamed = group('corp-old', { displayName: 'Old' });
      const labels = { [LABELS.policyRule]: 'db', [LABELS.group]: 'corp-eng' };
      const controllerRef = { ...ownerRef(eng), controller: true };
      expect(resolve(policy({ name: 'corp-eng', idpId: '00g1', directory: 'corp' }, { labels, ownerReferences: [controllerRef] }), [eng], live(eng)).metadataPatch).to.equal(undefined);
      expect(resolve(policy({ name: 'corp-eng' }, { labels: { [LABELS.policyRule]: 'db' } }), [], live(renamed)).metadataPatch).to.equal(undefined);
      expect(resolve(policy({ name: 'corp-old' }, { labels: { [LABELS.policyRule]: 'db' }, ownerReferences: [ownerRef(renamed)] }), [], live(renamed)).metadataPatch).to.equal(undefined);
    });

    it('still get a status', () => {
      const eng = group('corp-eng', { idpId: '00g1' });
      const r = resolve(policy({ name: 'corp-eng' }, { labels: { [LABELS.policyRule]: 'db' } }), [eng]);
      expect(r.status.resolvedGroup).to.equal('corp-eng');
      expect(ready(r).reason).to.equal('Resolved');
    });
  });

  describe('transitions', () => {
    const eng = group('corp-eng', { displayName: 'Engineering' });
    const selector = { idpName: 'Engineering' };

    it('reports becoming resolved as Normal and becoming inert as Warning, once each', () => {
      const resolved = resolve(policy(selector), [eng], live(), T0);
      expect(resolved.transition).to.deep.include({ type: 'Normal', reason: 'Resolved' });
      expect(resolved.transition!.note).to.equal(ready(resolved).message);
      let stored = applied(policy(selector), resolved);

      const again = resolve(stored, [eng], live(eng), T1);
      expect(again.transition).to.equal(undefined);

      const inert = resolve(stored, [], live(), T1);
      expect(inert.transition).to.deep.include({ type: 'Warning', reason: 'GroupNotFound' });
      stored = applied(stored, inert);

      const stillInert = resolve(stored, [], live(), T2);
      expect(stillInert.transition).to.equal(undefined);
      expect(ready(stillInert).lastTransitionTime).to.equal(T1.toISOString());

      const back = resolve(stored, [eng], live(), T2);
      expect(back.transition).to.deep.include({ type: 'Normal', reason: 'Resolved' });
      expect(ready(back).lastTransitionTime).to.equal(T2.toISOString());
    });

    it('reports a change of reason between two inert states', () => {
      const stored = applied(policy(selector), resolve(policy(selector), [], live(), T0));
      const other = group('acq-eng', { displayName: 'Engineering', directory: 'acquired' });
      const r = resolve(stored, [eng, other], live(), T1);
      expect(r.transition).to.deep.include({ type: 'Warning', reason: 'AmbiguousGroup' });
    });

    it('does not report a member count change as a transition, but writes the new count', () => {
      const stored = applied(policy(selector), resolve(policy(selector), [eng], live(), T0));
      const grown = group('corp-eng', { displayName: 'Engineering', memberCount: 12 });
      const r = resolve(stored, [grown], live(grown), T1);
      expect(r.transition).to.equal(undefined);
      expect(r.statusChanged).to.equal(true);
      expect(r.status.memberCount).to.equal(12);
      expect(r.metadataPatch).to.equal(undefined);
    });

    it('records the new generation in status when the spec changed', () => {
      const stored = applied(policy(selector), resolve(policy(selector), [eng], live(), T0));
      const edited = { ...stored, metadata: { ...stored.metadata, generation: 3 } };
      const r = resolve(edited, [eng], live(eng), T1);
      expect(r.statusChanged).to.equal(true);
      expect(r.status.observedGeneration).to.equal(3);
      expect(ready(r).observedGeneration).to.equal(3);
      expect(r.transition).to.equal(undefined);
    });
  });
});

import { expect } from 'chai';
import { compactWith } from '../../../src/controllers/directorysync/owned-objects.js';
import type { Group, User } from '../../../src/api/v1alpha1/index.js';
import { Interner } from '../../../src/util/intern.js';

const managedFields = [{ manager: 'idpsync', fieldsV1: { 'f:spec': { 'f:groups': {} } } }];

describe('controllers/owned-objects compactWith', () => {
  it('keeps a User whole but for managedFields, and shares its group names, label values, namespace and owner references', () => {
    const strings = new Interner();
    const compact = compactWith(strings);
    const user = (name: string): User =>
      ({
        apiVersion: 'idpsync.io/v1alpha1',
        kind: 'User',
        metadata: {
          name,
          namespace: 'ns',
          resourceVersion: '7',
          labels: { 'idpsync.io/directory': 'corp' },
          ownerReferences: [{ apiVersion: 'idpsync.io/v1alpha1', kind: 'DirectorySync', name: 'corp', uid: 'u-1', controller: true }],
          managedFields,
        },
        spec: { idpId: name, login: `${name}@x`, directory: 'corp', state: 'Active', groups: ['eng', 'everyone'] },
        status: { revocations: [] },
      }) as unknown as User;
    const [a, b] = [compact(user('a')), compact(user('b'))];
    const { managedFields: _m, ...metadata } = user('a').metadata as User['metadata'] & { managedFields: unknown };
    expect(a).to.deep.equal({ ...user('a'), metadata });
    expect(b.spec.groups).to.deep.equal(['eng', 'everyone']);
    // eng, everyone, the label key and value, the namespace: each held once for both Users.
    expect(strings.size).to.equal(5);
    expect(a.metadata.ownerReferences, 'one owner reference list for both').to.equal(b.metadata.ownerReferences);
    const other = compact({ ...user('c'), metadata: { ...user('c').metadata, ownerReferences: [{ apiVersion: 'idpsync.io/v1alpha1', kind: 'DirectorySync', name: 'hr', uid: 'u-2', controller: true }] } } as User);
    expect(other.metadata.ownerReferences![0].uid, 'a different owner keeps its own').to.equal('u-2');
  });

  it('shares a Group\'s members, parents and children, and leaves absent lists absent', () => {
    const strings = new Interner();
    const group = {
      apiVersion: 'idpsync.io/v1alpha1',
      kind: 'Group',
      metadata: { name: 'eng', namespace: 'ns', managedFields },
      spec: { idpId: 'g1', displayName: 'Eng', members: ['a@x', 'b@x'], children: ['oncall'] },
    } as unknown as Group;
    const kept = compactWith(strings)(group);
    expect(kept.spec).to.deep.equal(group.spec);
    expect('parents' in kept.spec).to.equal(false);
    expect('labels' in kept.metadata).to.equal(false);
    expect((kept.metadata as { managedFields?: unknown }).managedFields).to.equal(undefined);
    // The namespace, two logins, a child, and the Group's own name, which its members' Users list.
    expect(strings.size).to.equal(5);
  });
});

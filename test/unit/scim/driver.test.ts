import { expect } from 'chai';
import { decide } from '../../../src/directory/decide.js';
import { createScimDriverFactory, snapshotOf } from '../../../src/providers/scim/driver.js';
import { DRIVERS } from '../../../src/providers/registry.js';
import { decodeDocument, encodeDocument, type ScimDocument } from '../../../src/scim/store.js';
import { tokenMatches } from '../../../src/scim/tokens.js';
import type { StoredResource } from '../../../src/scim/resources.js';
import { directory, materialise, snapshot, user } from '../../support/builders.js';
import { StallError } from '../../../src/errors.js';

const meta = (resourceType: 'User' | 'Group') => ({ resourceType, created: 't', lastModified: 't' });
const u = (id: string, userName: string, extra: Record<string, unknown> = {}) => ({ id, userName, meta: meta('User'), ...extra }) as StoredResource;
const g = (id: string, displayName: string, members: string[]) => ({ id, displayName, members: members.map((value) => ({ value })), meta: meta('Group') }) as StoredResource;

const DOC: ScimDocument = {
  users: [
    u('u1', 'ada@x.io', { active: true, emails: [{ value: 'other@x.io' }, { value: 'ada@x.io', primary: true }], name: { givenName: 'Ada', familyName: 'L' } }),
    u('u2', 'bob@x.io', { active: false, displayName: 'Bob' }),
  ],
  groups: [g('g1', 'Eng', ['u1', 'u2', 'gone']), g('g2', 'All', ['g1', 'g2'])],
};

describe('scim driver', () => {
  it('turns the store into a snapshot: inactive → Suspended, members split into users and nested groups', () => {
    const snap = snapshotOf(DOC);
    expect(snap.users).to.deep.equal([
      { id: 'u1', login: 'ada@x.io', email: 'ada@x.io', displayName: 'Ada L', state: 'Active', idpStatus: 'active' },
      { id: 'u2', login: 'bob@x.io', email: undefined, displayName: 'Bob', state: 'Suspended', idpStatus: 'inactive' },
    ]);
    expect(snap.groups).to.deep.equal([
      { id: 'g1', name: 'Eng', kind: 'Group', memberUserIds: ['u1', 'u2'], memberGroupIds: [] },
      { id: 'g2', name: 'All', kind: 'Group', memberUserIds: [], memberGroupIds: ['g1'] },
    ]);
  });

  it('reads the directory its token belongs to, and stalls for a token of none', async () => {
    const factory = createScimDriverFactory({
      directoryForToken: async (token) => (token === 'good' ? { namespace: 'ns', name: 'corp' } : undefined),
      read: async (namespace, name) => (namespace === 'ns' && name === 'corp' ? DOC : { users: [], groups: [] }),
    });
    expect((await factory({ settings: {}, credentials: { token: 'good' } }).fetch({ syncOrgUnits: false })).users).to.have.length(2);
    const bad = factory({ settings: {}, credentials: { token: 'bad' } });
    expect((await bad.verify()).ok).to.equal(false);
    let error: unknown;
    await bad.fetch({ syncOrgUnits: false }).catch((err) => (error = err));
    expect(error).to.be.instanceOf(StallError);
  });

  it('is registered, and without a SCIM server it stalls instead of reading nothing', async () => {
    let error: unknown;
    await DRIVERS.scim({ settings: {}, credentials: { token: 't' } })
      .fetch({ syncOrgUnits: false })
      .catch((err) => (error = err));
    expect(error).to.be.instanceOf(StallError);
    expect((error as Error).message).to.contain('--scim-bind-address');
  });

  it('round-trips the store through gzip and refuses anything else', () => {
    expect(decodeDocument(encodeDocument(DOC))).to.deep.equal(DOC);
    expect(() => decodeDocument(Buffer.from('not gzip'))).to.throw(/gzipped JSON/);
  });

  it('accepts the current or the previous token and nothing else', () => {
    expect(tokenMatches('a', ['a', undefined])).to.equal(true);
    expect(tokenMatches('b', ['a', 'b'])).to.equal(true);
    expect(tokenMatches('c', ['a', 'b'])).to.equal(false);
    expect(tokenMatches('', [undefined, undefined])).to.equal(false);
  });

  it('is not held back by the mass-deletion guard: every deletion is a DELETE the IdP sent', () => {
    const many = snapshot(Array.from({ length: 40 }, (_, i) => user(`u${i}`)), []);
    const dir = directory({ provider: { type: 'scim', scim: {}, allowInsecureLoopback: false } as never });
    const first = decide({ directory: dir, snapshot: many, existingUsers: [], existingGroups: [], now: new Date('2026-03-01T00:00:00Z') });
    const { users, groups } = materialise([], [], first);
    const plan = decide({ directory: dir, snapshot: snapshot(many.users.slice(0, 5), []), existingUsers: users, existingGroups: groups, now: new Date('2026-03-01T01:00:00Z') });
    expect(plan.held).to.equal(undefined);
    expect(plan.counts.deletedUsers).to.equal(35);
  });
});

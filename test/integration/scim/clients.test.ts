// Drives the SCIM server with the request sequences Microsoft Entra ID and Okta send (see the provider
// guide), then reads the store the way the scim driver does.
import { expect } from 'chai';
import { snapshotOf } from '../../../src/providers/scim/driver.js';
import { client, scimDirectory, startHarness, type Harness, type ScimClient } from './harness.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe('SCIM server driven like real provisioning clients', () => {
  let h: Harness;
  let scim: ScimClient;

  beforeEach(async () => {
    h = await startHarness([scimDirectory('team', 'corp'), scimDirectory('other', 'corp')]);
    scim = client(h.baseUrl('team', 'corp'), await h.token('team', 'corp'));
  });
  afterEach(() => h.close());

  const snapshot = async () => snapshotOf(await h.store.read('team', 'corp'));

  it('Entra ID: test connection, create users and a nested group, change members, disable', async () => {
    const probe = await scim('GET', '/Users?filter=userName+eq+%2270c1a7d2-0b7c-4cf1-9d4e-2f6f0c9a1b11%22');
    expect(probe.status).to.equal(200);
    expect(probe.body).to.include({ totalResults: 0 });
    expect(probe.body.Resources).to.deep.equal([]);
    expect(probe.headers.get('content-type')).to.match(/^application\/scim\+json/);

    const ids: Record<string, string> = {};
    for (const [login, employee] of [
      ['ada@example.com', '101'],
      ['bob@example.com', '102'],
    ]) {
      const lookup = await scim('GET', `/Users?filter=${encodeURIComponent(`userName eq "${login}"`)}`);
      expect(lookup.body.totalResults).to.equal(0);
      const created = await scim('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', ENTERPRISE],
        externalId: `ext-${employee}`,
        userName: login,
        active: true,
        emails: [{ primary: true, type: 'work', value: login }],
        meta: { resourceType: 'User' },
        name: { formatted: login, familyName: 'X', givenName: login.split('@')[0] },
        roles: [],
        [ENTERPRISE]: { employeeNumber: employee, manager: null },
      });
      expect(created.status).to.equal(201);
      expect(created.body.id).to.be.a('string');
      expect(created.body[ENTERPRISE]).to.deep.equal({ employeeNumber: employee });
      ids[login] = created.body.id;
    }
    // Unquoted externalId and the email value path both find the user.
    expect((await scim('GET', `/Users?filter=${encodeURIComponent('externalId eq ext-101')}`)).body.totalResults).to.equal(1);
    expect((await scim('GET', `/Users?filter=${encodeURIComponent('emails[type eq "work"].value eq "bob@example.com"')}`)).body.Resources[0].id).to.equal(ids['bob@example.com']);

    const eng = await scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Engineering', externalId: 'g1', members: [] });
    const all = await scim('POST', '/Groups', { displayName: 'Everyone', externalId: 'g2', members: [] });
    expect([eng.status, all.status]).to.deep.equal([201, 201]);
    const found = await scim('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "Engineering"')}`);
    expect(found.body.Resources).to.have.length(1);
    expect(found.body.Resources[0]).to.not.have.property('members');

    const addMembers = await scim('PATCH', `/Groups/${eng.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: ids['ada@example.com'] }, { $ref: null, value: ids['bob@example.com'] }] }],
    });
    expect(addMembers.status).to.equal(204);
    await scim('PATCH', `/Groups/${all.body.id}`, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ value: eng.body.id }] }] });
    // Remove ONLY the listed member, and rename in the same PATCH.
    await scim('PATCH', `/Groups/${eng.body.id}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'Remove', path: 'members', value: [{ value: ids['bob@example.com'] }] },
        { op: 'Replace', path: 'displayName', value: 'Platform' },
      ],
    });
    await scim('PATCH', `/Users/${ids['ada@example.com']}`, { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });

    const snap = await snapshot();
    expect(snap.users.find((u) => u.login === 'ada@example.com')!.state).to.equal('Suspended');
    expect(snap.users.find((u) => u.login === 'bob@example.com')!.state).to.equal('Active');
    const platform = snap.groups.find((g) => g.name === 'Platform')!;
    expect(platform.memberUserIds).to.deep.equal([ids['ada@example.com']]);
    expect(snap.groups.find((g) => g.name === 'Everyone')!.memberGroupIds).to.deep.equal([platform.id]);
    // The inactive user is still returned by GET and by filters.
    expect((await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "ada@example.com"')}`)).body.Resources[0].active).to.equal(false);

    // Hard delete 30 days later: 204, then 404, and the user left every group.
    expect((await scim('DELETE', `/Users/${ids['ada@example.com']}`)).status).to.equal(204);
    const gone = await scim('GET', `/Users/${ids['ada@example.com']}`);
    expect(gone.status).to.equal(404);
    expect(gone.body).to.include({ status: '404' });
    expect((await snapshot()).groups.find((g) => g.name === 'Platform')!.memberUserIds).to.deep.equal([]);
    expect(h.changes.length).to.be.greaterThan(0);
    expect(h.changes.every((c) => c.namespace === 'team' && c.name === 'corp')).to.equal(true);
  });

  it('Entra ID with aadOptscim062020: path-less replace with dotted and URN keys, removal by value filter', async () => {
    const u = await scim('POST', '/Users?aadOptscim062020', { userName: 'cy@example.com', active: true, name: { givenName: 'C' } });
    const g = await scim('POST', '/Groups?aadOptscim062020', { displayName: 'Ops', members: [{ value: u.body.id }] });
    const patched = await scim('PATCH', `/Users/${u.body.id}?aadOptscim062020`, {
      schemas: [PATCH],
      Operations: [{ op: 'replace', value: { 'name.givenName': 'Cyril', [`${ENTERPRISE}:department`]: 'Ops', active: false } }],
    });
    expect(patched.status).to.equal(200);
    expect(patched.body.name.givenName).to.equal('Cyril');
    expect(patched.body[ENTERPRISE].department).to.equal('Ops');
    expect(patched.body.active).to.equal(false);
    await scim('PATCH', `/Groups/${g.body.id}?aadOptscim062020`, { schemas: [PATCH], Operations: [{ op: 'remove', path: `members[value eq "${u.body.id}"]` }] });
    expect((await snapshot()).groups[0].memberUserIds).to.deep.equal([]);
  });

  it('Okta: assign, import pages, PUT update, deactivate, group push', async () => {
    const okta = client(h.baseUrl('team', 'corp'), await h.token('team', 'corp'), { 'user-agent': 'Okta SCIM Client 1.0.0', 'content-type': 'application/json' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const login = `user${i}@example.com`;
      const lookup = await okta('GET', `/Users?filter=${encodeURIComponent(`userName eq "${login}"`)}&startIndex=1&count=100`);
      expect(lookup.body.totalResults).to.equal(0);
      const created = await okta('POST', '/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
        userName: login,
        name: { givenName: `U${i}`, familyName: 'Okta' },
        emails: [{ primary: true, value: login, type: 'work' }],
        displayName: `U${i} Okta`,
        locale: 'en-US',
        externalId: `00u${i}`,
        groups: [],
        password: 'hunter2!',
        active: true,
      });
      expect(created.status).to.equal(201);
      expect(created.body.active).to.equal(true);
      expect(created.body).to.not.have.property('password');
      ids.push(created.body.id);
    }
    const duplicate = await okta('POST', '/Users', { userName: 'USER0@example.com', active: true });
    expect(duplicate.status).to.equal(409);
    expect(duplicate.body).to.include({ status: '409', scimType: 'uniqueness' });
    expect((await okta('GET', `/Users?filter=${encodeURIComponent('userName eq "USER1@EXAMPLE.COM"')}`)).body.totalResults).to.equal(1);

    const page1 = await okta('GET', '/Users?startIndex=1&count=2');
    const page3 = await okta('GET', '/Users?startIndex=5&count=2');
    expect(page1.body).to.include({ totalResults: 5, startIndex: 1, itemsPerPage: 2 });
    expect(page3.body.Resources.map((r: { id: string }) => r.id)).to.deep.equal([ids[4]]);
    const onlyTotal = await okta('GET', '/Users?count=0');
    expect(onlyTotal.body).to.include({ totalResults: 5, itemsPerPage: 0 });

    const current = (await okta('GET', `/Users/${ids[1]}`)).body;
    const put = await okta('PUT', `/Users/${ids[1]}`, { ...current, displayName: 'Renamed', password: 'x', groups: [] });
    expect(put.status).to.equal(200);
    expect(put.body.displayName).to.equal('Renamed');
    expect(put.body.meta.created).to.equal(current.meta.created);
    expect((await okta('PUT', '/Users/no-such-id', { userName: 'new@example.com' })).status).to.equal(404);
    await okta('PATCH', `/Users/${ids[2]}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] });

    const group = await okta('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Sales', members: [] });
    await okta('PATCH', `/Groups/${group.body.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', value: { id: group.body.id, displayName: 'Sales EMEA' } }] });
    await okta('PATCH', `/Groups/${group.body.id}`, {
      schemas: [PATCH],
      Operations: [{ op: 'add', path: 'members', value: [{ value: ids[0], display: 'user0@example.com' }, { value: ids[1] }] }],
    });
    // JumpCloud-style repeated adds are harmless.
    await okta('PATCH', `/Groups/${group.body.id}`, { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: ids[0] }] }] });
    await okta('PATCH', `/Groups/${group.body.id}`, {
      schemas: [PATCH],
      Operations: [
        { op: 'remove', path: `members[value eq "${ids[1]}"]` },
        { op: 'add', path: 'members', value: [{ value: ids[3] }] },
      ],
    });
    let snap = await snapshot();
    expect(snap.groups[0]).to.include({ name: 'Sales EMEA' });
    expect(snap.groups[0].memberUserIds).to.deep.equal([ids[0], ids[3]]);
    expect(snap.users.find((u) => u.id === ids[2])!.state).to.equal('Suspended');
    await okta('PATCH', `/Groups/${group.body.id}`, { schemas: [PATCH], Operations: [{ op: 'replace', path: 'members', value: [] }] });
    snap = await snapshot();
    expect(snap.groups[0].memberUserIds).to.deep.equal([]);
    expect((await okta('DELETE', `/Groups/${group.body.id}`)).status).to.equal(204);
    expect((await snapshot()).groups).to.deep.equal([]);
  });

  it('refuses a missing, wrong or other directory\'s token with a SCIM 401', async () => {
    const otherToken = await h.token('other', 'corp');
    for (const auth of ['', 'non-token', `Bearer ${otherToken}`, 'Bearer ']) {
      const res = await fetch(`${h.baseUrl('team', 'corp')}/Users`, { headers: auth ? { authorization: auth } : {} });
      expect(res.status, auth).to.equal(401);
      const body = await res.json();
      expect(body).to.include({ status: '401' });
      expect(body.schemas).to.deep.equal(['urn:ietf:params:scim:api:messages:2.0:Error']);
    }
    const unknown = await fetch(`${h.baseUrl('team', 'nope')}/Users`, { headers: { authorization: `Bearer ${await h.token('team', 'corp')}` } });
    expect(unknown.status).to.equal(401);
  });

  it('accepts the previous token during a rotation', async () => {
    const old = await h.token('team', 'corp');
    const secret = h.secrets.secrets.get('team/corp-scim-token')!;
    secret.data = { token: Buffer.from('fresh-token-value-0123456789').toString('base64'), previousToken: Buffer.from(old).toString('base64') };
    await new Promise((r) => setTimeout(r, 2100)); // the server caches tokens for 2 s
    expect((await client(h.baseUrl('team', 'corp'), old)('GET', '/Users')).status).to.equal(200);
    expect((await client(h.baseUrl('team', 'corp'), 'fresh-token-value-0123456789')('GET', '/Users')).status).to.equal(200);
    expect((await client(h.baseUrl('team', 'corp'), 'older-token')('GET', '/Users')).status).to.equal(401);
  });

  it('serves discovery documents advertising only what is implemented', async () => {
    const spc = (await scim('GET', '/ServiceProviderConfig')).body;
    expect(spc.patch.supported).to.equal(true);
    expect([spc.bulk.supported, spc.etag.supported, spc.sort.supported, spc.changePassword.supported]).to.deep.equal([false, false, false, false]);
    expect(spc.filter).to.deep.equal({ supported: true, maxResults: 1000 });
    const types = (await scim('GET', '/ResourceTypes')).body;
    expect(types.Resources.map((t: { id: string }) => t.id)).to.deep.equal(['User', 'Group']);
    const schemas = (await scim('GET', '/Schemas')).body;
    expect(schemas.totalResults).to.equal(3);
    expect((await scim('GET', `/Schemas/${ENTERPRISE}`)).body.name).to.equal('EnterpriseUser');
  });

  it('answers a bad filter with 400 invalidFilter, never with everything', async () => {
    await scim('POST', '/Users', { userName: 'a@example.com' });
    for (const filter of ['nosuch eq "x"', 'userName eq', 'userName xx "a"']) {
      const res = await scim('GET', `/Users?filter=${encodeURIComponent(filter)}`);
      expect(res.status, filter).to.equal(400);
      expect(res.body.scimType, filter).to.equal('invalidFilter');
    }
  });

  it('retries a write that lost a resourceVersion race, keeping both changes', async () => {
    await scim('POST', '/Users', { userName: 'a@example.com' });
    h.secrets.conflictsToInject = 2;
    const [b, c] = await Promise.all([scim('POST', '/Users', { userName: 'b@example.com' }), scim('POST', '/Users', { userName: 'c@example.com' })]);
    expect([b.status, c.status]).to.deep.equal([201, 201]);
    expect((await snapshot()).users.map((u) => u.login).sort()).to.deep.equal(['a@example.com', 'b@example.com', 'c@example.com']);
  });

  it('shares one store write among requests that arrive together, and a refused one fails alone', async () => {
    h.secrets.latencyMs = 20;
    const before = h.secrets.writes;
    const bodies = Array.from({ length: 20 }, (_, i) => ({ userName: `p${i}@example.com` }));
    bodies.push({ userName: 'P0@example.com' }); // a duplicate, ignoring case
    const results = await Promise.all(bodies.map((b) => scim('POST', '/Users', b)));
    expect(results.filter((r) => r.status === 201)).to.have.length(20);
    expect(results.filter((r) => r.status === 409)).to.have.length(1);
    expect((await snapshot()).users).to.have.length(20);
    const writes = h.secrets.writes - before;
    console.log(`      21 concurrent POSTs: ${writes} store writes`);
    expect(writes).to.be.below(20);
  });
});

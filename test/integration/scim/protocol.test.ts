// RFC 7644 details servers often get wrong, one request each.
import { expect } from 'chai';
import { ScimStore } from '../../../src/scim/store.js';
import { client, MemorySecrets, startHarness, type Harness, type ScimClient } from './harness.js';

describe('SCIM protocol details', () => {
  let h: Harness;
  let scim: ScimClient;
  let ada: string;

  before(async () => {
    h = await startHarness();
    scim = client(h.baseUrl('team', 'corp'), await h.token('team', 'corp'));
    ada = (await scim('POST', '/Users', { userName: 'ada@example.com', name: { givenName: 'Ada' }, emails: [{ value: 'ada@example.com' }] })).body.id;
    await scim('POST', '/Groups', { displayName: 'Ops', members: [{ value: ada }] });
  });
  after(() => h.close());

  const cases: [string, string, string, unknown, number, Record<string, unknown>][] = [
    ['unknown id → 404 with detail', 'GET', '/Users/nope', undefined, 404, { status: '404', detail: 'User nope not found' }],
    ['unknown endpoint → 404', 'GET', '/Widgets', undefined, 404, { status: '404' }],
    ['Bulk is not implemented → 404', 'POST', '/Bulk', {}, 404, { status: '404' }],
    ['DELETE on a collection → 405', 'DELETE', '/Users', undefined, 405, { status: '405' }],
    ['body that is not JSON → 400 invalidSyntax', 'POST', '/Users', 'not json', 400, { scimType: 'invalidSyntax' }],
    ['POST without userName → 400 invalidValue', 'POST', '/Users', { active: true }, 400, { scimType: 'invalidValue' }],
    ['active that is not a boolean → 400 invalidValue', 'POST', '/Users', { userName: 'x@example.com', active: 'maybe' }, 400, { scimType: 'invalidValue' }],
    ['group member without a value → 400 invalidValue', 'POST', '/Groups', { displayName: 'X', members: [{ display: 'x' }] }, 400, { scimType: 'invalidValue' }],
    ['count that is not an integer → 400', 'GET', '/Users?count=ten', undefined, 400, { scimType: 'invalidValue' }],
    ['PATCH without Operations → 400 invalidSyntax', 'PATCH', '/Users/ID', { schemas: [] }, 400, { scimType: 'invalidSyntax' }],
  ];
  for (const [what, method, path, body, status, expected] of cases) {
    it(what, async () => {
      const res =
        typeof body === 'string'
          ? await fetch(h.baseUrl('team', 'corp') + path, { method, body, headers: { authorization: `Bearer ${await h.token('team', 'corp')}`, 'content-type': 'application/scim+json' } }).then(async (r) => ({ status: r.status, body: await r.json() }))
          : await scim(method, path.replace('ID', ada), body);
      expect(res.status).to.equal(status);
      expect(res.body).to.include(expected);
      expect(res.body.schemas).to.deep.equal(['urn:ietf:params:scim:api:messages:2.0:Error']);
    });
  }

  it('returns only the attributes asked for, and always id', async () => {
    const res = await scim('GET', `/Users/${ada}?attributes=userName`);
    expect(Object.keys(res.body).sort()).to.deep.equal(['id', 'meta', 'schemas', 'userName']);
    const group = (await scim('GET', '/Groups?excludedAttributes=members')).body.Resources[0];
    expect(group).to.not.have.property('members');
    expect(group.displayName).to.equal('Ops');
  });

  it('pages past the end with an empty page and the true total', async () => {
    const res = await scim('GET', '/Users?startIndex=10&count=5');
    expect(res.body).to.include({ totalResults: 1, startIndex: 10, itemsPerPage: 0 });
    expect(res.body.Resources).to.deep.equal([]);
  });

  it('answers POST with 201, a Location and meta', async () => {
    const res = await fetch(`${h.baseUrl('team', 'corp')}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await h.token('team', 'corp')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userName: 'loc@example.com', id: 'client-chosen', meta: { resourceType: 'User' } }),
    });
    const body = await res.json();
    expect(res.status).to.equal(201);
    expect(body.id).to.not.equal('client-chosen');
    expect(res.headers.get('location')).to.equal(body.meta.location);
    expect(body.meta).to.include({ resourceType: 'User' });
    expect(body.meta.location).to.equal(`${h.baseUrl('team', 'corp')}/Users/${body.id}`);
  });

  it('refuses a change that would outgrow the store, leaving it as it was', async () => {
    const secrets = new MemorySecrets();
    const store = new ScimStore({ kube: secrets, directoryOwner: async () => ({ apiVersion: 'v', kind: 'DirectorySync', name: 'corp', uid: 'u' }), maxBytes: 200 });
    await store.ensure('ns', 'corp');
    const big = Array.from({ length: 50 }, (_, i) => ({ id: `u${i}`, userName: `${i}-${Math.random()}`, meta: { resourceType: 'User' as const, created: '', lastModified: '' } }));
    let error: { status?: number } | undefined;
    await store.update('ns', 'corp', (doc) => ({ doc: { ...doc, users: big }, result: undefined })).catch((err) => (error = err));
    expect(error?.status).to.equal(413);
    expect((await store.read('ns', 'corp')).users).to.deep.equal([]);
  });
  it('refuses a body nested thousands of levels deep with 400 invalidSyntax, not a 500', async () => {
    const token = await h.token('team', 'corp');
    for (const body of ['{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000), '{"userName":' + '['.repeat(50_000) + ']'.repeat(50_000) + '}']) {
      const res = await fetch(h.baseUrl('team', 'corp') + '/Users', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, body });
      expect(res.status).to.equal(400);
      expect(await res.json()).to.include({ status: '400', scimType: 'invalidSyntax' });
    }
    // Nesting within the limit, with brackets inside strings that must not count, is still read.
    const ok = await scim('POST', '/Users', { userName: 'brackets[{@example.com', name: { givenName: '}}]]' } });
    expect(ok.status).to.equal(201);
  });
  it('answers a request line over the size limit with a SCIM error body too', async () => {
    const res = await fetch(h.baseUrl('team', 'corp') + '/Users?filter=' + 'x'.repeat(100_000), { headers: { authorization: `Bearer ${await h.token('team', 'corp')}` } });
    expect(res.status).to.equal(431);
    expect(await res.json()).to.include({ status: '431' });
  });
});

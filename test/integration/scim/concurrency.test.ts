// Many clients changing one group at once: every accepted change is kept (the store's writes are
// conditional and serialised per directory), none is lost to another.
import { expect } from 'chai';
import { client, startHarness, type Harness, type ScimClient } from './harness.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe('SCIM: 50 parallel member PATCHes on one group', function () {
  this.timeout(30_000);
  let h: Harness;
  let scim: ScimClient;

  before(async () => {
    // 112 requests in about a second: above the default burst, and this test is about lost updates, not the rate limit.
    h = await startHarness(undefined, { limits: { burst: 1_000 } });
    scim = client(h.baseUrl('team', 'corp'), await h.token('team', 'corp'));
  });
  after(() => h.close());

  it('ends with exactly the expected members', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const res = await scim('POST', '/Users', { userName: `p${i}@example.com`, active: true });
      expect(res.status).to.equal(201);
      ids.push(res.body.id);
    }
    // Ten members to start with; the parallel PATCHes add 40 more and remove 5 of the first ten,
    // in Entra's shapes (capitalised ops, remove by value list) and Okta's (members[value eq ...]).
    const group = await scim('POST', '/Groups', { displayName: 'Everyone', members: ids.slice(0, 10).map((value) => ({ value })) });
    expect(group.status).to.equal(201);
    const adds = ids.slice(10, 50).map((value, i) =>
      scim('PATCH', `/Groups/${group.body.id}`, {
        schemas: [PATCH],
        Operations: [i % 2 ? { op: 'Add', path: 'members', value: [{ $ref: null, value }] } : { op: 'add', path: 'members', value: [{ value }] }],
      }),
    );
    const removes = ids.slice(0, 5).map((value, i) =>
      scim('PATCH', `/Groups/${group.body.id}`, {
        schemas: [PATCH],
        Operations: [i % 2 ? { op: 'Remove', path: 'members', value: [{ value }] } : { op: 'remove', path: `members[value eq "${value}"]` }],
      }),
    );
    const repeats = ids.slice(45, 50).map((value) => scim('PATCH', `/Groups/${group.body.id}`, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ value }] }] }));
    const answers = await Promise.all([...adds, ...removes, ...repeats]);
    expect(answers.map((a) => a.status).filter((s) => s !== 200 && s !== 204)).to.deep.equal([]);

    const read = await scim('GET', `/Groups/${group.body.id}`);
    const members = (read.body.members as { value: string }[]).map((m) => m.value).sort();
    expect(members).to.deep.equal([...ids.slice(5, 50)].sort());
  });
});

describe('SCIM: two replicas serving one directory', function () {
  this.timeout(30_000);
  let a: Harness;
  let b: Harness;

  before(async () => {
    a = await startHarness();
    // The second replica has its own store (and caches) over the same Secrets, as a second pod would.
    b = await startHarness(undefined, { secrets: a.secrets });
  });
  after(async () => {
    await a.close();
    await b.close();
  });

  it('keeps every member when PATCHes to one group alternate between the replicas', async () => {
    const token = await a.token('team', 'corp');
    const viaA = client(a.baseUrl('team', 'corp'), token);
    const viaB = client(b.baseUrl('team', 'corp'), token);
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await (i % 2 ? viaB : viaA)('POST', '/Users', { userName: `r${i}@example.com` })).body.id);
    const group = await viaA('POST', '/Groups', { displayName: 'Both', members: [] });
    a.secrets.latencyMs = 3; // round trips long enough for the replicas' writes to overlap
    const conflictsBefore = a.secrets.conflicts;
    const answers = await Promise.all(
      ids.map((value, i) => (i % 2 ? viaB : viaA)('PATCH', `/Groups/${group.body.id}`, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ value }] }] })),
    );
    a.secrets.latencyMs = 0;
    expect(answers.map((r) => r.status).filter((s) => s !== 204)).to.deep.equal([]);
    expect(a.secrets.conflicts - conflictsBefore, 'the replicas raced for the same resourceVersion').to.be.greaterThan(0);
    for (const read of [viaA, viaB]) {
      const members = ((await read('GET', `/Groups/${group.body.id}`)).body.members as { value: string }[]).map((m) => m.value).sort();
      expect(members).to.deep.equal([...ids].sort());
    }
  });
});

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
    h = await startHarness();
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

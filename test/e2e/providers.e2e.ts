// Every provider, through its emulator, on the real control plane: the documented nested-group example,
// suspension → revocation → restore, user and group deletion, and a failing IdP that changes nothing.
import { expect } from 'chai';
import { EMULATORS } from '../emulators/registry.js';
import { loadFixture } from '../emulators/fixture.js';
import type { EmulatorBase } from '../emulators/common.js';
import { newNamespace } from './harness/index.js';
import { checkInvariants, condition, createDirectory, getDirectory, groups, membersByGroup, startTestOperator, syncNow, users, waitForCondition, type TestOperator } from './support/operator.js';

const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;
/** IdPs whose groups can contain groups. */
const NESTING = new Set(['googleWorkspace', 'entra', 'keycloak', 'authentik']);
/** Where an IdP's group memberships are read, for the failing-IdP scenario; /groups/ unless listed. */
const GROUP_READS: Record<string, RegExp> = { auth0: /\/roles/, zitadel: /grants/ };

const SEED_FLATTENED = {
  Everyone: ['alice@company.com', 'bob@company.com', 'john@company.com', 'patrick@company.com', 'steve@company.com'],
  Engineering: ['alice@company.com', 'bob@company.com', 'john@company.com'],
  Support: ['patrick@company.com'],
  DevOps: ['john@company.com'],
};
const SEED_DIRECT = {
  Everyone: ['steve@company.com'],
  Engineering: ['alice@company.com', 'bob@company.com'],
  Support: ['patrick@company.com'],
  DevOps: ['john@company.com'],
};

describe('every provider end to end', function () {
  let op: TestOperator;
  before(async () => {
    op = await startTestOperator();
  });
  after(async () => op?.stop());

  for (const [type, make] of Object.entries(EMULATORS)) {
    describe(type, () => {
      let ns: string;
      let idp: EmulatorBase;
      const login = (l: string) => users(ns).then((all) => all.filter((u) => u.spec.login === l));

      before(async () => {
        ns = await newNamespace(type.toLowerCase());
        idp = make(loadFixture(SEED));
        await idp.start();
        await createDirectory(ns, 'corp', idp.connection());
      });
      after(async () => idp?.stop());
      afterEach(async () => checkInvariants(await getDirectory(ns, 'corp')));

      it(NESTING.has(type) ? 'produces the documented nested-group example exactly' : 'produces the example with direct memberships (no nesting in this IdP)', async () => {
        await waitForCondition(ns, 'corp', 'Ready', 'True');
        expect(await membersByGroup(ns)).to.deep.equal(NESTING.has(type) ? SEED_FLATTENED : SEED_DIRECT);
        if (NESTING.has(type)) {
          const byName = new Map((await groups(ns)).map((g) => [g.spec.displayName, g]));
          expect(byName.get('DevOps')!.spec.parents).to.deep.equal([byName.get('Engineering')!.metadata.name]);
        }
      });

      it('revokes a suspended user within one sync and restores them without a duplicate', async () => {
        const john = idp.directory.users.find((u) => u.login === 'john@company.com')!;
        john.state = 'suspended';
        let ds = await syncNow(ns, 'corp');
        const [suspended] = await login('john@company.com');
        expect(suspended.spec.state).to.equal('Suspended');
        expect(suspended.spec.groups).to.deep.equal([]);
        expect(suspended.status!.revokedAt).to.be.a('string');
        expect((await membersByGroup(ns)).DevOps).to.deep.equal([]);
        expect(ds.status!.lastRevocationTime).to.be.a('string');

        john.state = 'active';
        ds = await syncNow(ns, 'corp');
        const restored = await login('john@company.com');
        expect(restored).to.have.length(1);
        expect(restored[0].metadata.name).to.equal(suspended.metadata.name);
        expect(restored[0].spec.state).to.equal('Active');
        expect((await membersByGroup(ns)).DevOps).to.deep.equal(['john@company.com']);
        expect(ds.status!.counts!.activeUsers).to.equal(5);
      });

      it('soft-deletes a deleted user and deletes the Group of a deleted group once a second listing confirms it', async () => {
        idp.directory.users = idp.directory.users.filter((u) => u.login !== 'patrick@company.com');
        for (const g of idp.directory.groups) g.members = (g.members ?? []).filter((id) => id !== 'u-patrick');
        idp.directory.groups = idp.directory.groups.filter((g) => g.name !== 'Support');
        for (const g of idp.directory.groups) g.groups = (g.groups ?? []).filter((id) => id !== 'g-support');
        for (const app of idp.directory.apps ?? []) app.groups = (app.groups ?? []).filter((id) => id !== 'g-support');
        const first = await syncNow(ns, 'corp');
        const [marked] = await login('patrick@company.com');
        expect(marked.spec.state).to.equal('Active');
        expect(marked.spec.groups).to.have.length.greaterThan(0);
        expect(marked.status!.missingSince).to.be.a('string');
        expect((await groups(ns)).map((g) => g.spec.displayName)).to.include('Support');
        expect(first.status!.counts).to.include({ missingUsers: 1, missingGroups: 1 });
        const ds = await syncNow(ns, 'corp');
        const [patrick] = await login('patrick@company.com');
        expect(patrick.spec.state).to.equal('Deleted');
        expect(patrick.status!.deleteAfter).to.be.a('string');
        expect((await groups(ns)).map((g) => g.spec.displayName).sort()).to.deep.equal(['DevOps', 'Engineering', 'Everyone']);
        expect(ds.status!.recentDeletions!.map((d) => d.displayName)).to.include('Support');
      });

      it('changes nothing when the IdP fails part-way through a sync, and says what failed', async () => {
        // Only this namespace: the operator may meanwhile be finalizing directories of other suites.
        const mine = new RegExp(`/namespaces/${ns}/(users|groups)/`);
        const writesBefore = op.wire.writes(mine).length;
        idp.directory.users = idp.directory.users.filter((u) => u.login !== 'alice@company.com');
        idp.faults = { failWith: 500, pathPattern: GROUP_READS[type] ?? /groups/ };
        const ds = await syncNow(ns, 'corp', 120_000);
        expect(condition(ds, 'Ready')!.status).to.equal('False');
        expect(condition(ds, 'Reconciling')!.status).to.equal('True');
        expect(ds.status!.lastError).to.match(/500/);
        expect(op.wire.writes(mine).slice(writesBefore)).to.deep.equal([]);
        expect((await login('alice@company.com'))[0].spec.state).to.equal('Active');
        idp.faults = {};
        await syncNow(ns, 'corp', 120_000);
        await waitForCondition(ns, 'corp', 'Ready', 'True', 120_000);
        // The retry of the failed sync may run as well as the one asked for: then a second listing has
        // already confirmed her gone, and the first one's mark is no longer there to see.
        const [recovered] = await login('alice@company.com');
        if (recovered.spec.state !== 'Deleted') {
          expect(recovered.spec.state).to.equal('Active');
          expect(recovered.status!.missingSince).to.be.a('string');
          await syncNow(ns, 'corp', 120_000);
        }
        expect((await login('alice@company.com'))[0].spec.state).to.equal('Deleted');
      });
    });
  }
});

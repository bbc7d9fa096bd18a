// The foundation's end-to-end path: the operator, as its least-privilege ServiceAccount, syncs the Okta
// emulator into a real apiserver; removals propagate; a no-op resync writes nothing; closed watches
// do not stop it.
import { expect } from 'chai';
import { OktaEmulator } from '../emulators/okta/emulator.js';
import { loadFixture } from '../emulators/fixture.js';
import { kubectl, newNamespace } from './harness/index.js';
import {
  checkInvariants,
  createDirectory,
  getDirectory,
  membersByGroup,
  startTestOperator,
  syncNow,
  users,
  waitForCondition,
  type TestOperator,
} from './support/operator.js';

const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;

describe('Okta end to end', function () {
  let ns: string;
  let okta: OktaEmulator;
  let op: TestOperator;

  before(async () => {
    ns = await newNamespace('okta');
    okta = new OktaEmulator(loadFixture(SEED));
    await okta.start();
    op = await startTestOperator();
    await createDirectory(ns, 'corp', okta.connection());
  });

  after(async () => {
    await op?.stop();
    await okta?.stop();
  });

  afterEach(async () => checkInvariants(await getDirectory(ns, 'corp')));

  it('writes the emulator\'s Users and Groups and reports Ready with counts', async () => {
    const ds = await waitForCondition(ns, 'corp', 'Ready', 'True');
    expect(ds.status!.counts).to.include({ users: 5, activeUsers: 5, groups: 4 });
    expect((await users(ns)).map((u) => u.spec.login).sort()).to.deep.equal([
      'alice@company.com',
      'bob@company.com',
      'john@company.com',
      'patrick@company.com',
      'steve@company.com',
    ]);
    // Okta has no nested groups: each Group holds its direct members.
    expect(await membersByGroup(ns)).to.deep.equal({
      Everyone: ['steve@company.com'],
      Support: ['patrick@company.com'],
      Engineering: ['alice@company.com', 'bob@company.com'],
      DevOps: ['john@company.com'],
    });
    const describe = await kubectl(['describe', 'directorysync', 'corp', '-n', ns]);
    expect(describe.stdout).to.match(/Type:\s+Ready[\s\S]*?Status:\s+True/);
    expect(describe.stdout).to.match(/Active Users:\s+5/);
    const get = await kubectl(['get', 'directorysync', '-n', ns]);
    expect(get.stdout).to.match(/corp\s+okta\s+True\s+5\s+4/);
  });

  it('removes a user taken out of a group in the IdP from that Group on the next sync', async () => {
    const engineering = okta.directory.groups.find((g) => g.name === 'Engineering')!;
    engineering.members = engineering.members!.filter((id) => id !== 'u-bob');
    await syncNow(ns, 'corp');
    expect((await membersByGroup(ns)).Engineering).to.deep.equal(['alice@company.com']);
    const bob = (await users(ns)).find((u) => u.spec.login === 'bob@company.com')!;
    expect(bob.spec.groups).to.deep.equal([]);
    expect(bob.status!.revokedAt).to.be.a('string');
  });

  it('performs zero writes on a resync where nothing changed, beyond acknowledging the sync request', async () => {
    // The interval may not be shorter than 1m (admission), so resyncs are requested with sync-now.
    await syncNow(ns, 'corp');
    const fetches = () => okta.count('/api/v1/users');
    const before = op.wire.writes().length;
    const start = fetches();
    for (let i = 0; i < 3; i++) await syncNow(ns, 'corp');
    expect(fetches()).to.be.at.least(start + 3);
    // Only this suite's namespace: the operator also finalizes DirectorySyncs of namespaces other suites delete.
    const during = op.wire.writes().slice(before).filter((w) => w.path.includes(`/namespaces/${ns}/`));
    // Each resync writes one thing: status.lastHandledSyncAt, which says the request was handled.
    expect(during.map((w) => `${w.method} ${w.path}`)).to.deep.equal(
      Array.from({ length: 3 }, () => `PATCH /apis/idpsync.io/v1alpha1/namespaces/${ns}/directorysyncs/corp/status`),
    );
  });

  it('keeps working after the apiserver closes its watches', async () => {
    const closed = op.wire.killWatches();
    expect(closed).to.be.greaterThan(0);
    okta.directory.users.push({ id: 'u-zoe', login: 'zoe@company.com', email: 'zoe@company.com', firstName: 'Zoe', lastName: 'Zed', state: 'active' });
    await syncNow(ns, 'corp');
    expect((await users(ns)).some((u) => u.spec.login === 'zoe@company.com')).to.equal(true);
    op.wire.killWatches({ abrupt: true });
    const ds = await syncNow(ns, 'corp');
    expect(ds.status!.counts!.users).to.equal(6);
  });
});

import { expect } from 'chai';
import { StallError, TransientError } from '../../../src/errors.js';
import { JumpCloudDriver, type JumpCloudDriverOptions, type JumpCloudSettings } from '../../../src/providers/jumpcloud/driver.js';
import type { DirectorySnapshot } from '../../../src/directory/snapshot.js';
import { generateFixture, loadFixture, type DirectoryFixture, generateFixtureWithLargeGroup, changeLargeGroupPeople } from '../../emulators/fixture.js';
import { JumpCloudEmulator, type JumpCloudEmulatorOptions } from '../../emulators/jumpcloud/emulator.js';

const SEED = loadFixture(new URL('../../fixtures/seed-example.yaml', import.meta.url).pathname);

interface Setup {
  emulator?: JumpCloudEmulatorOptions;
  settings?: Partial<JumpCloudSettings>;
  credentials?: Record<string, string>;
  driver?: JumpCloudDriverOptions;
}

const running: JumpCloudEmulator[] = [];
/** Backoff waits the driver asked for, in ms (no real waiting in these tests). */
let sleeps: number[] = [];

async function start(fixture: DirectoryFixture, setup: Setup = {}) {
  const emulator = new JumpCloudEmulator(fixture, setup.emulator);
  running.push(emulator);
  await emulator.start();
  const conn = emulator.connection();
  const driver = new JumpCloudDriver(
    {
      settings: { ...(conn.settings as JumpCloudSettings), ...setup.settings },
      credentials: { ...conn.secret, ...setup.credentials },
      allowInsecureLoopback: true,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    },
    setup.driver,
  );
  return { emulator, driver };
}

const fetchAll = (driver: JumpCloudDriver) => driver.fetch({ syncOrgUnits: false });
const failure = (p: Promise<unknown>) => p.then(() => expect.fail('expected the fetch to fail'), (e: unknown) => e as Error);
const userIds = (s: DirectorySnapshot) => s.users.map((u) => u.id).sort();
const membersOf = (s: DirectorySnapshot, name: string) => [...s.groups.find((g) => g.name === name)!.memberUserIds].sort();
const liveIds = (f: DirectoryFixture) => f.users.filter((u) => u.state !== 'deleted').map((u) => u.id).sort();

/** One page of a list, read straight from the emulator. */
async function read<T>(emulator: JumpCloudEmulator, path: string): Promise<T> {
  return (await (await fetch(`${emulator.baseUrl}${path}`, { headers: { 'x-api-key': emulator.connection().secret.apiKey } })).json()) as T;
}

function expectNoDuplicates(s: DirectorySnapshot) {
  expect(new Set(s.users.map((u) => u.id)).size).to.equal(s.users.length);
}

describe('JumpCloud driver against the emulator', () => {
  beforeEach(() => {
    sleeps = [];
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((e) => e.stop()));
  });

  describe('the seed example', () => {
    it('reads every user and each group with its direct members', async () => {
      const { emulator, driver } = await start(SEED);
      const snapshot = await fetchAll(driver);

      expect(userIds(snapshot)).to.deep.equal(['u-alice', 'u-bob', 'u-john', 'u-patrick', 'u-steve']);
      const alice = snapshot.users.find((u) => u.id === 'u-alice')!;
      expect(alice).to.deep.include({ login: 'alice@company.com', email: 'alice@company.com', displayName: 'Alice Smith', state: 'Active' });
      expect(snapshot.groups.map((g) => g.name).sort()).to.deep.equal(['DevOps', 'Engineering', 'Everyone', 'Support']);
      expect(membersOf(snapshot, 'Everyone')).to.deep.equal(['u-steve']);
      expect(membersOf(snapshot, 'Support')).to.deep.equal(['u-patrick']);
      expect(membersOf(snapshot, 'Engineering')).to.deep.equal(['u-alice', 'u-bob']);
      expect(membersOf(snapshot, 'DevOps')).to.deep.equal(['u-john']);
      // JumpCloud user groups do not nest: the seed's Everyone ⊃ Engineering is not JumpCloud's to report.
      expect(snapshot.groups.every((g) => g.memberGroupIds.length === 0)).to.equal(true);
      expect(snapshot.groups.every((g) => g.kind === 'Group')).to.equal(true);
      expect(snapshot.apiCalls).to.equal(emulator.requests.length);
      expect(snapshot.apiCalls).to.equal(1 + 1 + 4);
    });

    it('sends the key as x-api-key, asks for 100 rows sorted by _id, and counts only its own calls', async () => {
      const { emulator, driver } = await start(SEED);
      await fetchAll(driver);
      const second = await fetchAll(driver);
      expect(second.apiCalls).to.equal(6);
      const lists = emulator.requests.filter((r) => /\/api\/(systemusers|v2\/usergroups)\?/.test(r.path));
      expect(lists.length).to.be.greaterThan(0);
      for (const r of lists) expect(r.path).to.contain('limit=100').and.contain('sort=_id');
      expect(emulator.requests.every((r) => r.status === 200)).to.equal(true);
    });
  });

  describe('paging', () => {
    it('reads a directory over many small pages without losing or repeating anyone', async () => {
      const fixture = generateFixture(253, 31);
      const { emulator, driver } = await start(fixture, { driver: { pageLimit: 7 } });
      const snapshot = await fetchAll(driver);

      expect(userIds(snapshot)).to.deep.equal(liveIds(fixture));
      expectNoDuplicates(snapshot);
      expect(snapshot.groups).to.have.length(31);
      for (const group of fixture.groups) {
        const read = snapshot.groups.find((g) => g.id === group.id)!;
        expect([...read.memberUserIds].sort(), group.name).to.deep.equal([...group.members!].sort());
      }
      const userPages = emulator.requests.filter((r) => r.path.startsWith('/api/systemusers'));
      expect(userPages).to.have.length(Math.ceil((253 - 1) / 6));
      expect(emulator.requests.every((r) => /limit=7(&|$)/.test(r.path))).to.equal(true);
    });

    it('reads the directory as it is at each read, after members leave and users are replaced or removed', async () => {
      const fixture = generateFixtureWithLargeGroup(130, 30);
      const { emulator, driver } = await start(fixture, { driver: { pageLimit: 12 } });
      const byUsername = () => read<{ results: { _id: string; email: string }[] }>(emulator, '/api/systemusers?limit=100&sort=username');
      await byUsername();
      await fetchAll(driver);

      const { users, groups } = emulator.directory;
      const { large, replaced, removed } = changeLargeGroupPeople(emulator.directory);
      // A group whose own list did not change: only its users did.
      const withRemoved = groups.find((g) => g !== large && g.members!.includes(removed))!;
      const members = await read<{ to: { id: string } }[]>(emulator, `/api/v2/usergroups/${withRemoved.id}/members?limit=100`);
      const sorted = (await byUsername()).results;
      const again = await fetchAll(driver);

      expect(members.map((m) => m.to.id)).to.not.include(removed);
      expect(sorted[0]).to.deep.include({ _id: replaced, email: 'renamed@example.com' });
      expect(sorted.map((u) => u._id)).to.not.include(removed);
      expect(again.users.find((u) => u.id === replaced)?.login).to.equal('renamed@example.com');
      expect(userIds(again)).to.deep.equal(liveIds(emulator.directory));
      const live = new Set(users.map((u) => u.id));
      for (const g of groups) expect(membersOf(again, g.name), g.id).to.deep.equal([...g.members!].filter((id) => live.has(id)).sort());
    });

    it('uses JumpCloud\'s maximum of 100 rows, which the emulator enforces', async () => {
      const { emulator, driver } = await start(generateFixture(250, 3));
      const snapshot = await fetchAll(driver);
      expect(snapshot.users).to.have.length(250);
      expect(emulator.requests.filter((r) => r.path.startsWith('/api/systemusers'))).to.have.length(3);

      const res = await fetch(`${emulator.baseUrl}/api/systemusers?limit=101`, { headers: { 'x-api-key': emulator.apiKey } });
      expect(res.status).to.equal(400);
      expect(await res.json()).to.deep.equal({ message: 'Bad Request: request parameter "limit" exceeds maximum value of 100' });
    });
  });

  describe('a directory that changes during the fetch', () => {
    const fixture = () => generateFixture(60, 4);
    const userPage = (path: string) => path.startsWith('/api/systemusers');

    it('reads a user added between two pages exactly once', async () => {
      const { emulator, driver } = await start(fixture(), { driver: { pageLimit: 10 } });
      let pages = 0;
      emulator.onRequest = (req) => {
        if (userPage(req.url.pathname) && ++pages === 3) {
          // Sorts into the middle of the list, before the page being read.
          emulator.directory.users.push({ id: 'u0000005x', login: 'late@example.com', email: 'late@example.com', state: 'active' });
          emulator.directory.users.push({ id: 'u9999999', login: 'last@example.com', email: 'last@example.com', state: 'active' });
        }
      };
      const snapshot = await fetchAll(driver);
      expectNoDuplicates(snapshot);
      expect(userIds(snapshot)).to.deep.equal(liveIds(emulator.directory));
      expect(userIds(snapshot)).to.include.members(['u0000005x', 'u9999999']);
    });

    it('does not skip anyone when a user read earlier is deleted mid-listing', async () => {
      const { emulator, driver } = await start(fixture(), { driver: { pageLimit: 10 } });
      let pages = 0;
      emulator.onRequest = (req) => {
        if (userPage(req.url.pathname) && ++pages === 3) emulator.directory.users[1].state = 'deleted';
      };
      const snapshot = await fetchAll(driver);
      expectNoDuplicates(snapshot);
      expect(userIds(snapshot)).to.deep.equal(liveIds(emulator.directory));
      expect(snapshot.users).to.have.length(59);
    });

    it('notices a deletion hidden by an addition (totalCount unchanged) and reads the list again', async () => {
      const { emulator, driver } = await start(fixture(), { driver: { pageLimit: 10 } });
      let pages = 0;
      emulator.onRequest = (req) => {
        if (userPage(req.url.pathname) && ++pages === 3) {
          emulator.directory.users[1].state = 'deleted';
          emulator.directory.users.push({ id: 'u9999999', login: 'last@example.com', state: 'active' });
        }
      };
      const snapshot = await fetchAll(driver);
      expectNoDuplicates(snapshot);
      expect(userIds(snapshot)).to.deep.equal(liveIds(emulator.directory));
      expect(emulator.count('/api/systemusers?limit=10&skip=0&')).to.equal(2);
    });

    it('fails with a TransientError rather than return part of a list that keeps changing', async () => {
      const { emulator, driver } = await start(fixture(), { driver: { pageLimit: 10 } });
      let added = 0;
      emulator.onRequest = (req) => {
        if (userPage(req.url.pathname)) {
          emulator.directory.users.push({ id: `u9${String(added++).padStart(6, '0')}`, login: `new${added}@example.com`, state: 'active' });
        }
      };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError);
      expect(err.message).to.contain('/api/systemusers').and.contain('changed while it was being read');
    });

    it('fails with a TransientError when a group vanishes before its members are read', async () => {
      const { emulator, driver } = await start(SEED);
      // The groups list still held DevOps when it was read; its members request then finds nothing.
      emulator.onRequest = (req) => {
        if (req.url.pathname === '/api/v2/usergroups/g-devops/members') {
          emulator.directory.groups = emulator.directory.groups.filter((g) => g.id !== 'g-devops');
        }
      };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError);
      expect(err.message).to.contain('g-devops').and.contain('disappeared');
    });
  });

  describe('application binding', () => {
    const bound = (): DirectoryFixture => ({
      ...structuredClone(SEED),
      apps: [{ id: 'app-vpn', users: ['u-steve'], groups: ['g-support', 'g-devops'] }],
    });

    it('syncs only the users and groups bound to the application', async () => {
      const { emulator, driver } = await start(bound(), { settings: { applicationId: 'app-vpn' } });
      const snapshot = await fetchAll(driver);
      expect(userIds(snapshot)).to.deep.equal(['u-john', 'u-patrick', 'u-steve']);
      expect(snapshot.groups.map((g) => g.name).sort()).to.deep.equal(['DevOps', 'Support']);
      expect(membersOf(snapshot, 'Support')).to.deep.equal(['u-patrick']);
      expect(emulator.count('/api/v2/applications/app-vpn/users')).to.equal(1);
      expect(emulator.count('/api/v2/applications/app-vpn/usergroups')).to.equal(1);
      // Members are read for bound groups only.
      expect(emulator.count('/api/v2/usergroups/g-engineering/members')).to.equal(0);
    });

    it('stalls with InvalidConfiguration when the application does not exist', async () => {
      const { driver } = await start(bound(), { settings: { applicationId: 'app-nope' } });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError);
      expect((err as StallError).reason).to.equal('InvalidConfiguration');
      expect(err.message).to.contain('app-nope');
    });
  });

  describe('user states', () => {
    it('maps suspended, staged and locked users, and leaves deleted ones out everywhere', async () => {
      const fixture: DirectoryFixture = {
        users: [
          { id: 'u-active', login: 'active@example.com' },
          { id: 'u-suspended', login: 'suspended@example.com', state: 'suspended' },
          { id: 'u-staged', login: 'staged@example.com', state: 'staged' },
          { id: 'u-locked', login: 'locked@example.com', state: 'locked' },
          { id: 'u-deleted', login: 'deleted@example.com', state: 'deleted' },
          { id: 'u-noemail', login: 'noemail@example.com', email: '' },
        ],
        groups: [{ id: 'g-all', name: 'All', members: ['u-active', 'u-suspended', 'u-staged', 'u-locked', 'u-deleted'] }],
      };
      const { driver } = await start(fixture);
      const snapshot = await fetchAll(driver);
      const byId = new Map(snapshot.users.map((u) => [u.id, u]));
      expect(byId.get('u-active')).to.deep.include({ state: 'Active', idpStatus: 'ACTIVATED' });
      expect(byId.get('u-suspended')).to.deep.include({ state: 'Suspended', idpStatus: 'SUSPENDED' });
      expect(byId.get('u-staged')).to.deep.include({ state: 'Suspended', idpStatus: 'STAGED' });
      expect(byId.get('u-locked')).to.deep.include({ state: 'Active', idpStatus: 'LOCKED' });
      expect(byId.has('u-deleted')).to.equal(false);
      expect(byId.get('u-noemail')).to.deep.include({ login: 'noemail', email: undefined });
      expect(membersOf(snapshot, 'All')).to.deep.equal(['u-active', 'u-locked', 'u-staged', 'u-suspended']);
    });
  });

  describe('credentials and organizations', () => {
    it('stalls with InvalidCredentials on a wrong key, without echoing the key', async () => {
      const { driver } = await start(SEED, { credentials: { apiKey: 'not-the-right-key-1234' } });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError);
      expect((err as StallError).reason).to.equal('InvalidCredentials');
      expect(err.message).to.contain('the API key was rejected').and.contain('api key user not found');
      expect(err.message).not.to.contain('not-the-right-key-1234');
    });

    it('needs x-org-id for a multi-tenant administrator\'s key, and says so', async () => {
      const { driver } = await start(SEED, { emulator: { multiTenant: true }, settings: { orgId: undefined } });
      const err = await failure(fetchAll(driver));
      expect((err as StallError).reason).to.equal('InvalidCredentials');
      expect(err.message).to.contain('no organization selected').and.contain('spec.provider.jumpcloud.orgId');
    });

    it('reads the organization named by orgId', async () => {
      const { emulator, driver } = await start(SEED, { emulator: { multiTenant: true } });
      expect(emulator.connection().settings.orgId).to.equal(emulator.orgId);
      expect((await fetchAll(driver)).users).to.have.length(5);
    });

    it('stalls with AccessDenied and JumpCloud\'s words for an organization the admin does not manage', async () => {
      const { driver } = await start(SEED, { emulator: { multiTenant: true }, settings: { orgId: 'aaaaaaaaaaaaaaaaaaaaaaaa' } });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError);
      expect((err as StallError).reason).to.equal('AccessDenied');
      expect(err.message).to.contain('administrator has no access to this organization');
    });

    it('stalls with AccessDenied naming the permission when the key\'s administrator may not read groups', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { failWith: 403, pathPattern: /^\/api\/v2\/usergroups$/ };
      const err = (await failure(fetchAll(driver))) as StallError;
      expect(err).to.be.instanceOf(StallError);
      expect(err.reason).to.equal('AccessDenied');
      expect(err.missingPermission).to.equal('view access to User Groups');
      expect(err.message).to.contain('/api/v2/usergroups').and.contain('Injected failure');
    });

    it('refuses to start without an apiKey in the Secret', () => {
      expect(() => new JumpCloudDriver({ settings: {}, credentials: {} })).to.throw(StallError, /apiKey/);
      expect(() => new JumpCloudDriver({ settings: {}, credentials: { apiKey: '  ' } })).to.throw(StallError, /apiKey/);
    });
  });

  describe('failures', () => {
    it('rides out a burst of 429s', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { rateLimitNext: 3 };
      const snapshot = await fetchAll(driver);
      expect(snapshot.users).to.have.length(5);
      expect(emulator.requests.filter((r) => r.status === 429)).to.have.length(3);
      expect(snapshot.apiCalls).to.equal(emulator.requests.length);
    });

    it('waits at least as long as Retry-After says when JumpCloud sends it', async () => {
      const { emulator, driver } = await start(SEED, { emulator: { retryAfterSeconds: 7 } });
      emulator.faults = { rateLimitNext: 1 };
      await fetchAll(driver);
      expect(Math.max(...sleeps)).to.be.at.least(7000);
    });

    it('retries a passing 5xx', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { serverErrorNext: 2 };
      expect((await fetchAll(driver)).groups).to.have.length(4);
    });

    it('fails the whole fetch when one page keeps failing with 500', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { failWith: 500, pathPattern: /\/usergroups\/g-devops\/members$/ };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError);
      expect((err as TransientError).reason).to.equal('IdpUnavailable');
      expect(err.message).to.contain('/api/v2/usergroups/g-devops/members').and.contain('500');
    });

    it('fails with MalformedResponse on a truncated body', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { truncateBody: true, pathPattern: /^\/api\/systemusers$/ };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError);
      expect((err as TransientError).reason).to.equal('MalformedResponse');
    });
  });

  describe('verify', () => {
    it('checks each endpoint with one row', async () => {
      const { emulator, driver } = await start(SEED);
      const result = await driver.verify();
      expect(result.ok).to.equal(true);
      expect(result.checks.map((c) => c.name)).to.deep.equal([
        'GET /api/systemusers',
        'GET /api/v2/usergroups',
        'GET /api/v2/usergroups/{id}/members',
      ]);
      expect(emulator.requests.every((r) => r.path.includes('limit=1'))).to.equal(true);
    });

    it('checks the application bindings when applicationId is set', async () => {
      const { driver } = await start(SEED, { settings: { applicationId: 'app-idpsync' } });
      const result = await driver.verify();
      expect(result.ok).to.equal(true);
      expect(result.checks.map((c) => c.name)).to.include.members([
        'GET /api/v2/applications/app-idpsync/users',
        'GET /api/v2/applications/app-idpsync/usergroups',
      ]);
    });

    it('reports a rejected key on every check instead of throwing', async () => {
      const { driver } = await start(SEED, { credentials: { apiKey: 'wrong' } });
      const result = await driver.verify();
      expect(result.ok).to.equal(false);
      expect(result.checks.filter((c) => !c.ok && c.missing?.includes('valid API key'))).to.have.length(2);
    });

    it('names the permission behind a 403', async () => {
      const { emulator, driver } = await start(SEED, { settings: { applicationId: 'app-idpsync' } });
      emulator.faults = { failWith: 403, pathPattern: /^\/api\/v2\/applications\// };
      const result = await driver.verify();
      expect(result.ok).to.equal(false);
      const app = result.checks.filter((c) => c.name.startsWith('GET /api/v2/applications'));
      expect(app.every((c) => !c.ok && c.missing === 'view access to SSO Applications')).to.equal(true);
      expect(result.checks.find((c) => c.name === 'GET /api/systemusers')!.ok).to.equal(true);
    });

    it('reports an unknown application', async () => {
      const { driver } = await start(SEED, { settings: { applicationId: 'app-missing' } });
      const result = await driver.verify();
      expect(result.ok).to.equal(false);
      expect(result.checks.find((c) => c.name.endsWith('/users'))!.message).to.contain('app-missing');
    });
  });
});

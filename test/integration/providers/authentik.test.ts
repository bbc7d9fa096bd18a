import { expect } from 'chai';
import { StallError, TransientError } from '../../../src/errors.js';
import { AuthentikDriver, type AuthentikSettings } from '../../../src/providers/authentik/driver.js';
import { DRIVERS } from '../../../src/providers/registry.js';
import type { DirectorySnapshot } from '../../../src/directory/snapshot.js';
import { AuthentikEmulator, type AuthentikEmulatorOptions } from '../../emulators/authentik/emulator.js';
import { generateFixture, loadFixture, type DirectoryFixture, generateFixtureWithLargeGroup, changeLargeGroupPeople } from '../../emulators/fixture.js';

const SEED = loadFixture(new URL('../../fixtures/seed-example.yaml', import.meta.url).pathname);

interface Setup {
  emulator?: AuthentikEmulatorOptions;
  settings?: Partial<AuthentikSettings>;
  credentials?: Record<string, string>;
}

const running: { emulator: AuthentikEmulator; driver: AuthentikDriver }[] = [];
/** Waits the driver asked for, in ms (no real waiting in these tests). */
let sleeps: number[] = [];

async function start(fixture: DirectoryFixture, setup: Setup = {}) {
  const emulator = new AuthentikEmulator(fixture, setup.emulator);
  await emulator.start();
  const conn = emulator.connection();
  const driver = new AuthentikDriver({
    settings: { ...(conn.settings as AuthentikSettings), ...setup.settings },
    credentials: { ...conn.secret, ...setup.credentials },
    allowInsecureLoopback: true,
    sleep: async (ms) => void sleeps.push(ms),
  });
  running.push({ emulator, driver });
  return { emulator, driver };
}

const fetchAll = (driver: AuthentikDriver) => driver.fetch({ syncOrgUnits: false });
const failure = (p: Promise<unknown>) => p.then(() => expect.fail('expected a failure'), (e: unknown) => e as Error);
const group = (s: DirectorySnapshot, name: string) => s.groups.find((g) => g.name === name)!;
const sorted = (ids: string[]) => [...ids].sort();
/** Driver ids are authentik pks; tests speak in fixture ids. */
const pks = (emulator: AuthentikEmulator, fixtureIds: string[]) => sorted(fixtureIds.map((id) => emulator.userPk(id)));

/** One page of a group's users, read straight from the emulator. */
async function membersPage(emulator: AuthentikEmulator, groupPk: string): Promise<{ pk: number; username: string }[]> {
  const page = await fetch(`${emulator.baseUrl}/api/v3/core/users/?groups_by_pk=${groupPk}&page_size=100`, { headers: { authorization: `Bearer ${emulator.token}` } });
  return ((await page.json()) as { results: { pk: number; username: string }[] }).results;
}

describe('authentik driver against the emulator', () => {
  beforeEach(() => {
    sleeps = [];
  });
  afterEach(async () => {
    for (const { emulator, driver } of running.splice(0)) {
      await driver.close();
      await emulator.stop();
    }
  });

  for (const singleParent of [false, true]) {
    describe(singleParent ? 'older authentik (a single "parent")' : 'newer authentik ("parents", several possible)', () => {
      it('reads the seed directory: people without service accounts, nesting from parents, and direct members', async () => {
        const { emulator, driver } = await start(SEED, { emulator: { singleParent } });
        emulator.serviceAccounts.push({ username: 'outpost', type: 'internal_service_account', groups: ['g-devops'] });
        const snapshot = await fetchAll(driver);

        expect(sorted(snapshot.users.map((u) => u.login))).to.deep.equal([
          'alice@company.com',
          'bob@company.com',
          'john@company.com',
          'patrick@company.com',
          'steve@company.com',
        ]);
        expect(snapshot.users.find((u) => u.login === 'alice@company.com')).to.deep.equal({
          id: emulator.userPk('u-alice'),
          login: 'alice@company.com',
          email: 'alice@company.com',
          displayName: 'Alice Smith',
          state: 'Active',
          idpStatus: 'active',
        });
        expect(group(snapshot, 'Everyone').memberUserIds).to.deep.equal(pks(emulator, ['u-steve']));
        expect(sorted(group(snapshot, 'Everyone').memberGroupIds)).to.deep.equal(['g-engineering', 'g-support']);
        expect(sorted(group(snapshot, 'Engineering').memberUserIds)).to.deep.equal(pks(emulator, ['u-alice', 'u-bob']));
        expect(group(snapshot, 'Engineering').memberGroupIds).to.deep.equal(['g-devops']);
        // The outpost's service account is a member of DevOps in authentik, but not a person.
        expect(group(snapshot, 'DevOps')).to.deep.include({ id: 'g-devops', memberUserIds: pks(emulator, ['u-john']), memberGroupIds: [], kind: 'Group' });
        expect(group(snapshot, 'Support').memberGroupIds).to.deep.equal([]);
        expect(snapshot.groups).to.have.length(4);
        expect(snapshot.apiCalls).to.equal(emulator.requests.length);
        expect(emulator.requests.filter((r) => r.path.startsWith('/api/v3/core/groups/')).every((r) => r.path.includes('include_users=false'))).to.equal(true);
      });
    });
  }

  it('keeps every parent of a group nested in several', async () => {
    const fixture = structuredClone(SEED);
    fixture.groups.find((g) => g.id === 'g-support')!.groups = ['g-devops'];
    const { driver } = await start(fixture);
    const snapshot = await fetchAll(driver);
    expect(group(snapshot, 'Support').memberGroupIds).to.deep.equal(['g-devops']);
    expect(group(snapshot, 'Engineering').memberGroupIds).to.deep.equal(['g-devops']);
  });

  it('pages users, groups and members to the end with page and page_size', async () => {
    const fixture = generateFixture(130, 30);
    const { emulator, driver } = await start(fixture, { settings: { pageSize: 12 } });
    const snapshot = await fetchAll(driver);

    expect(new Set(snapshot.users.map((u) => u.id)).size).to.equal(130);
    expect(snapshot.groups).to.have.length(30);
    for (const g of fixture.groups) {
      const read = snapshot.groups.find((s) => s.id === g.id)!;
      expect(sorted(read.memberUserIds), g.id).to.deep.equal(pks(emulator, g.members ?? []));
      expect(sorted(read.memberGroupIds), g.id).to.deep.equal(sorted(g.groups ?? []));
    }
    const userPages = emulator.requests.filter((r) => r.path.startsWith('/api/v3/core/users/?') && !r.path.includes('groups_by_pk'));
    // 130 people and the token's service account, 12 to a page.
    expect(userPages.map((r) => new URL(r.path, 'http://x').searchParams.get('page'))).to.deep.equal(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);
    expect(emulator.requests.filter((r) => r.path.startsWith('/api')).every((r) => r.path.includes('page_size=12'))).to.equal(true);
  });

  it('marks deactivated users Suspended and leaves deleted users out', async () => {
    const fixture = structuredClone(SEED);
    fixture.users.find((u) => u.id === 'u-bob')!.state = 'suspended';
    fixture.users.find((u) => u.id === 'u-john')!.state = 'deleted';
    const { emulator, driver } = await start(fixture);
    const snapshot = await fetchAll(driver);
    expect(snapshot.users.find((u) => u.id === emulator.userPk('u-bob'))).to.deep.include({ state: 'Suspended', idpStatus: 'inactive' });
    expect(snapshot.users.some((u) => u.login === 'john@company.com')).to.equal(false);
    expect(group(snapshot, 'DevOps').memberUserIds).to.deep.equal([]);
    expect(sorted(group(snapshot, 'Engineering').memberUserIds)).to.deep.equal(pks(emulator, ['u-alice', 'u-bob']));
  });

  describe('credentials and permissions', () => {
    it('stalls with InvalidCredentials on a wrong token, without echoing it', async () => {
      const { driver } = await start(SEED, { credentials: { token: 'not-the-token' } });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidCredentials');
      expect(err.message).to.include('Token invalid/expired').and.include('"token"').and.not.include('not-the-token');
    });

    it('stalls with InvalidConfiguration when the Secret has no token', () => {
      expect(() => new AuthentikDriver({ settings: { baseUrl: 'https://authentik.example.com' }, credentials: {} })).to.throw(StallError, /"token"/);
    });

    for (const [permission, path] of [
      ['authentik_core.view_user', '/core/users/'],
      ['authentik_core.view_group', '/core/groups/'],
    ] as const) {
      it(`names ${permission} behind a 403 on ${path}`, async () => {
        const { emulator, driver } = await start(SEED);
        emulator.permissions.delete(permission);
        const err = await failure(fetchAll(driver));
        expect(err).to.be.instanceOf(StallError).with.property('reason', 'AccessDenied');
        expect((err as StallError).missingPermission).to.equal(permission);
        expect(err.message).to.include(path);
      });
    }
  });

  it('stalls with InvalidConfiguration when baseUrl does not lead to the API', async () => {
    const { emulator } = await start(SEED);
    const wrong = new AuthentikDriver({ settings: { baseUrl: `${emulator.baseUrl}/api/v3` }, credentials: { token: emulator.token }, allowInsecureLoopback: true });
    try {
      const err = await failure(fetchAll(wrong));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidConfiguration');
      expect(err.message).to.include('/api/v3/api/v3/core/').and.include('404');
    } finally {
      await wrong.close();
    }
  });

  describe('failures never yield a partial snapshot', () => {
    it('fails with a TransientError when one page of users keeps answering 500', async () => {
      const { emulator, driver } = await start(generateFixture(30, 3), { settings: { pageSize: 10 } });
      emulator.onRequest = (req) => {
        const q = req.url.searchParams;
        if (req.url.pathname === '/api/v3/core/users/' && !q.has('groups_by_pk') && q.get('page') === '2') {
          return { status: 500, body: { detail: 'Server Error' } };
        }
      };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'IdpUnavailable');
      expect(err.message).to.include('/api/v3/core/users/').and.include('500');
    });

    it('fails with a TransientError when one group\'s member page keeps answering 500', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.onRequest = (req) => {
        if (req.url.searchParams.get('groups_by_pk') === 'g-devops') return { status: 500, body: { detail: 'Server Error' } };
      };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'IdpUnavailable');
    });

    it('fails with MalformedResponse on a truncated page', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { truncateBody: true, pathPattern: /\/core\/groups\/$/ };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'MalformedResponse');
    });

    it('reads the list again when its count changes mid-read, and gives up when it keeps changing', async () => {
      const fixture = generateFixture(30, 3);
      const { emulator, driver } = await start(fixture, { settings: { pageSize: 10 } });
      let added = 0;
      const addUserOnPage2 = (max: number) => (req: { url: URL }) => {
        const q = req.url.searchParams;
        if (req.url.pathname === '/api/v3/core/users/' && !q.has('groups_by_pk') && q.get('page') === '2' && added < max) {
          added++;
          emulator.directory.users.push({ id: `u-new-${added}`, login: `new${added}@example.com`, state: 'active' });
        }
      };
      emulator.onRequest = addUserOnPage2(1);
      const snapshot = await fetchAll(driver);
      expect(snapshot.users).to.have.length(31);

      emulator.onRequest = addUserOnPage2(100);
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'IdpUnavailable');
      expect(err.message).to.match(/changed while it was being read, 3 times/);
    });

    it('reads the directory as it is at each read, after members leave, users are replaced or removed and a group moves', async () => {
      const fixture = generateFixtureWithLargeGroup(130, 30);
      const { emulator, driver } = await start(fixture, { settings: { pageSize: 12 } });
      await fetchAll(driver);

      const { users, groups } = emulator.directory;
      const { large, replaced, removed } = changeLargeGroupPeople(emulator.directory);
      groups.find((g) => g.id === 'g000000')!.groups = [];
      groups.find((g) => g.id === 'g000005')!.groups!.push('g000010');
      // Groups whose own lists did not change: only their users did.
      const withReplaced = await membersPage(emulator, groups.find((g) => g !== large && g.members!.includes(replaced))!.id);
      const withRemoved = await membersPage(emulator, groups.find((g) => g !== large && g.members!.includes(removed))!.id);
      const again = await fetchAll(driver);

      const live = users.map((u) => u.id);
      const members = (g: { members?: string[] }) => pks(emulator, (g.members ?? []).filter((id) => live.includes(id)));
      expect(withRemoved.map((u) => String(u.pk))).to.not.include(emulator.userPk(removed));
      expect(withReplaced.find((u) => String(u.pk) === emulator.userPk(replaced))?.username).to.equal('renamed');
      expect(sorted(group(again, 'large').memberUserIds)).to.deep.equal(members(large));
      expect(again.users.find((u) => u.id === emulator.userPk(replaced))?.email).to.equal('renamed@example.com');
      expect(again.users.map((u) => u.id)).to.not.include(emulator.userPk(removed));
      for (const g of groups) expect(sorted(group(again, g.name).memberUserIds), g.id).to.deep.equal(members(g));
      expect(group(again, 'group-0').memberGroupIds).to.deep.equal([]);
      expect(group(again, 'group-5').memberGroupIds).to.deep.equal(['g000010']);
    });

    it('fails when a group disappears while its members are read', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.onRequest = (req) => {
        if (req.url.pathname === '/api/v3/core/users/' && req.url.searchParams.has('groups_by_pk')) {
          emulator.directory.groups = emulator.directory.groups.filter((g) => g.id !== 'g-support');
        }
      };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError);
      expect(err.message).to.include('g-support');
    });

    it('waits at least as long as Retry-After says through a burst of 429s', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.retryAfterSeconds = 4;
      emulator.faults = { rateLimitNext: 3 };
      const snapshot = await fetchAll(driver);
      expect(snapshot.groups).to.have.length(4);
      expect(snapshot.users).to.have.length(5);
      expect(emulator.rateLimitAnswers).to.equal(3);
      expect(sleeps.length).to.be.at.least(1);
      expect(sleeps.every((ms) => ms >= 4000)).to.equal(true);
    });
  });

  describe('verify', () => {
    it('checks the token and each list with one row', async () => {
      const { emulator, driver } = await start(SEED);
      const result = await driver.verify();
      expect(result.ok, JSON.stringify(result.checks)).to.equal(true);
      expect(result.checks.map((c) => c.name)).to.deep.equal([
        'GET /api/v3/core/users/me/',
        'GET /api/v3/core/users/',
        'GET /api/v3/core/groups/',
        'GET /api/v3/core/users/?groups_by_pk={pk}',
      ]);
      const lists = emulator.requests.filter((r) => !r.path.includes('/me/'));
      expect(lists).to.have.length(3);
      expect(lists.every((r) => r.path.includes('page_size=1'))).to.equal(true);
    });

    it('names each missing permission', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.permissions.clear();
      const result = await driver.verify();
      expect(result.ok).to.equal(false);
      expect(result.checks.filter((c) => !c.ok).map((c) => [c.name, c.missing])).to.deep.equal([
        ['GET /api/v3/core/users/', 'authentik_core.view_user'],
        ['GET /api/v3/core/groups/', 'authentik_core.view_group'],
      ]);
    });

    it('names view_user for members when only view_group is held', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.permissions = new Set(['authentik_core.view_group']);
      const result = await driver.verify();
      expect(result.checks.filter((c) => !c.ok).map((c) => [c.name, c.missing])).to.deep.equal([
        ['GET /api/v3/core/users/', 'authentik_core.view_user'],
        ['GET /api/v3/core/users/?groups_by_pk={pk}', 'authentik_core.view_user'],
      ]);
    });

    it('reports an empty user list as a missing view_user (authentik may filter instead of refusing)', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.directory.users = [];
      emulator.serviceAccounts = [];
      const result = await driver.verify();
      expect(result.checks.find((c) => c.name === 'GET /api/v3/core/users/')).to.include({ ok: false, missing: 'authentik_core.view_user' });
    });

    it('stops at the token when it is wrong', async () => {
      const { driver } = await start(SEED, { credentials: { token: 'wrong' } });
      const result = await driver.verify({ syncOrgUnits: false });
      expect(result.checks).to.have.length(1);
      expect(result.checks[0]).to.include({ ok: false, missing: 'a valid API token' });
    });
  });

  it('is registered, and refuses plain http outside loopback', () => {
    const driver = DRIVERS.authentik({ settings: { baseUrl: 'https://authentik.example.com' }, credentials: { token: 't' } });
    expect(driver.type).to.equal('authentik');
    expect(() => DRIVERS.authentik({ settings: {}, credentials: { token: 't' } })).to.throw(StallError, /spec\.provider\.authentik/);
    expect(() => DRIVERS.authentik({ settings: { baseUrl: 'http://authentik.example.com' }, credentials: { token: 't' } })).to.throw(StallError);
  });
});

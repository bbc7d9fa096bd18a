import { expect } from 'chai';
import { StallError, TransientError } from '../../../src/errors.js';
import { Auth0Driver, type Auth0DriverOptions, type Auth0Settings } from '../../../src/providers/auth0/driver.js';
import { DRIVERS } from '../../../src/providers/registry.js';
import type { DirectorySnapshot } from '../../../src/directory/snapshot.js';
import { generateFixture, loadFixture, type DirectoryFixture, generateFixtureWithLargeGroup, changeLargeGroupPeople } from '../../emulators/fixture.js';
import { Auth0Emulator, type Auth0EmulatorOptions } from '../../emulators/auth0/emulator.js';

const SEED = loadFixture(new URL('../../fixtures/seed-example.yaml', import.meta.url).pathname);

interface Setup {
  emulator?: Auth0EmulatorOptions;
  settings?: Partial<Auth0Settings>;
  credentials?: Record<string, string>;
  driver?: Auth0DriverOptions;
  /** Wait for real (for the emulator's rate-limit bucket to refill); by default waits are only recorded. */
  realSleep?: boolean;
}

const running: { emulator: Auth0Emulator; driver: Auth0Driver }[] = [];
/** Waits the driver asked for, in ms. */
let sleeps: number[] = [];

async function start(fixture: DirectoryFixture, setup: Setup = {}) {
  const emulator = new Auth0Emulator(fixture, setup.emulator);
  await emulator.start();
  const conn = emulator.connection();
  const driver = new Auth0Driver(
    {
      settings: { ...(conn.settings as Auth0Settings), groupsFrom: setup.settings?.groupsFrom ?? ['roles'], ...setup.settings },
      credentials: { ...conn.secret, ...setup.credentials },
      allowInsecureLoopback: true,
      sleep: setup.realSleep ? undefined : async (ms) => void sleeps.push(ms),
    },
    setup.driver,
  );
  running.push({ emulator, driver });
  return { emulator, driver };
}

const fetchAll = (driver: Auth0Driver) => driver.fetch({ syncOrgUnits: false });
const failure = (p: Promise<unknown>) => p.then(() => expect.fail('expected a failure'), (e: unknown) => e as Error);
const group = (s: DirectorySnapshot, name: string) => s.groups.find((g) => g.name === name)!;
const sorted = (ids: string[]) => [...ids].sort();

/** One checkpoint page of a role's users, read straight from the emulator. */
async function roleUsers(emulator: Auth0Emulator, groupId: string): Promise<{ user_id: string; email: string }[]> {
  const body = JSON.stringify({ grant_type: 'client_credentials', client_id: emulator.clientId, client_secret: emulator.clientSecret, audience: emulator.audience });
  const token = (await (await fetch(`${emulator.baseUrl}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).json()) as { access_token: string };
  const page = await fetch(`${emulator.baseUrl}/api/v2/roles/rol_${groupId}/users?take=100`, { headers: { authorization: `Bearer ${token.access_token}` } });
  return ((await page.json()) as { users: { user_id: string; email: string }[] }).users;
}
const apiRequests = (e: Auth0Emulator, path: string) => e.requests.filter((r) => r.path.startsWith(`/api/v2/${path}`));

describe('Auth0 driver against the emulator', () => {
  beforeEach(() => {
    sleeps = [];
  });
  afterEach(async () => {
    for (const { emulator, driver } of running.splice(0)) {
      await driver.close();
      await emulator.stop();
    }
  });

  it('reads the seed tenant: users, and each role as a Group of its directly assigned users', async () => {
    const { emulator, driver } = await start(SEED);
    const snapshot = await fetchAll(driver);

    expect(sorted(snapshot.users.map((u) => u.id))).to.deep.equal(['auth0|u-alice', 'auth0|u-bob', 'auth0|u-john', 'auth0|u-patrick', 'auth0|u-steve']);
    expect(snapshot.users.find((u) => u.id === 'auth0|u-alice')).to.deep.include({
      login: 'alice@company.com',
      email: 'alice@company.com',
      displayName: 'Alice Smith',
      state: 'Active',
      idpStatus: 'active',
    });
    expect(group(snapshot, 'Engineering')).to.deep.include({ id: 'rol_g-engineering', kind: 'Group', memberGroupIds: [] });
    expect(sorted(group(snapshot, 'Engineering').memberUserIds)).to.deep.equal(['auth0|u-alice', 'auth0|u-bob']);
    expect(group(snapshot, 'Everyone').memberUserIds).to.deep.equal(['auth0|u-steve']);
    expect(snapshot.groups).to.have.length(4);
    expect(snapshot.apiCalls).to.equal(emulator.requests.length);
    // Member lists are read by checkpoint, never by page number.
    expect(apiRequests(emulator, 'roles/').every((r) => /[?&]take=100\b/.test(r.path) && !/[?&]page=/.test(r.path))).to.equal(true);
  });

  it('reads a tenant past the 1000-row cap: 2,500 users and a role with 1,200 members, whole', async function () {
    this.timeout(60_000);
    const fixture = generateFixture(2500, 5);
    fixture.groups.push({ id: 'g-big', name: 'big', members: fixture.users.slice(0, 1200).map((u) => u.id), groups: [] });
    const { emulator, driver } = await start(fixture);
    emulator.rateLimit.limit = 100_000;
    const snapshot = await fetchAll(driver);

    expect(new Set(snapshot.users.map((u) => u.id)).size).to.equal(2500);
    expect(snapshot.users).to.have.length(2500);
    expect(group(snapshot, 'big').memberUserIds).to.have.length(1200);
    for (const g of fixture.groups) {
      expect(sorted(group(snapshot, g.name).memberUserIds), g.id).to.deep.equal(sorted((g.members ?? []).map((id) => `auth0|${id}`)));
    }
    expect(emulator.requests.every((r) => r.status === 200)).to.equal(true);
    const windows = apiRequests(emulator, 'users?').filter((r) => r.path.includes('page=0&'));
    expect(windows.length).to.equal(3); // 1000 + 1000 + the rest, each window starting where the last one ended
    expect(apiRequests(emulator, 'users?').every((r) => new URL(r.path, 'http://x').searchParams.get('sort') === 'created_at:1')).to.equal(true);
    expect(apiRequests(emulator, 'roles/rol_g-big/users').length).to.equal(12); // checkpoint pages of 100
  });

  it('reads the tenant as it is at each read, after members leave and users are replaced or removed', async () => {
    const fixture = generateFixtureWithLargeGroup(130, 30);
    const { emulator, driver } = await start(fixture, { driver: { pageSize: 12 } });
    emulator.rateLimit.limit = 100_000;
    await fetchAll(driver);

    const { users, groups } = emulator.directory;
    const { large, replaced, removed } = changeLargeGroupPeople(emulator.directory);
    // Groups whose own lists did not change: only their users did.
    const withReplaced = await roleUsers(emulator, groups.find((g) => g !== large && g.members!.includes(replaced))!.id);
    const withRemoved = await roleUsers(emulator, groups.find((g) => g !== large && g.members!.includes(removed))!.id);
    const again = await fetchAll(driver);

    expect(withRemoved.map((u) => u.user_id)).to.not.include(`auth0|${removed}`);
    expect(withReplaced.find((u) => u.user_id === `auth0|${replaced}`)?.email).to.equal('renamed@example.com');
    expect(again.users.find((u) => u.id === `auth0|${replaced}`)?.email).to.equal('renamed@example.com');
    expect(again.users.map((u) => u.id)).to.not.include(`auth0|${removed}`);
    const live = new Set(users.map((u) => u.id));
    for (const g of groups) expect(sorted(group(again, g.name).memberUserIds), g.id).to.deep.equal(sorted((g.members ?? []).filter((id) => live.has(id)).map((id) => `auth0|${id}`)));
  });

  it('the emulator refuses page/per_page past 1000 rows, as Auth0 does, so reading by page alone would fail', async () => {
    const { emulator, driver } = await start(generateFixture(1100, 1));
    await driver.verify(); // any call, for a token
    const token = (await (await fetch(`${emulator.baseUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: emulator.clientId, client_secret: emulator.clientSecret, audience: emulator.audience }),
    })).json()) as { access_token: string };
    const res = await fetch(`${emulator.baseUrl}/api/v2/users?page=10&per_page=100&include_totals=true`, { headers: { authorization: `Bearer ${token.access_token}` } });
    expect(res.status).to.equal(400);
    expect(((await res.json()) as { message: string }).message).to.include('exceeds the allowed maximum of 1000 records');
  });

  it('fails rather than skip users when more than a window of them share one creation time', async () => {
    const fixture = generateFixture(1100, 1);
    const { emulator, driver } = await start(fixture);
    emulator.rateLimit.limit = 100_000;
    for (const u of fixture.users) emulator.createdAt.set(u.id, '2024-05-01T00:00:00.000Z');
    const err = await failure(fetchAll(driver));
    expect(err).to.be.instanceOf(TransientError);
    expect(err.message).to.match(/created at 2024-05-01T00:00:00.000Z.*cannot be read whole/);
  });

  it('marks blocked users Suspended (absent "blocked" is not blocked) and leaves deleted users out', async () => {
    const fixture = structuredClone(SEED);
    fixture.users.find((u) => u.id === 'u-bob')!.state = 'suspended';
    fixture.users.find((u) => u.id === 'u-john')!.state = 'deleted';
    const { driver } = await start(fixture);
    const snapshot = await fetchAll(driver);
    expect(snapshot.users.find((u) => u.id === 'auth0|u-bob')).to.deep.include({ state: 'Suspended', idpStatus: 'blocked' });
    expect(snapshot.users.filter((u) => u.state === 'Active')).to.have.length(3);
    expect(snapshot.users.some((u) => u.id === 'auth0|u-john')).to.equal(false);
    expect(group(snapshot, 'DevOps').memberUserIds).to.deep.equal([]);
  });

  it('reads organizations and their members by checkpoint when groupsFrom names them', async () => {
    const { emulator, driver } = await start(SEED, {
      emulator: { organizations: ['g-support', 'g-everyone'] },
      settings: { groupsFrom: ['roles', 'organizations'] },
      driver: { pageSize: 2 },
    });
    emulator.directory.groups.find((g) => g.id === 'g-everyone')!.members = ['u-alice', 'u-bob', 'u-john', 'u-steve', 'u-patrick'];
    const snapshot = await fetchAll(driver);
    expect(snapshot.groups.map((g) => g.id).sort()).to.deep.equal(['org_g-everyone', 'org_g-support', 'rol_g-devops', 'rol_g-engineering']);
    expect(group(snapshot, 'Everyone').memberUserIds).to.have.length(5);
    expect(group(snapshot, 'Support').memberUserIds).to.deep.equal(['auth0|u-patrick']);
    expect(apiRequests(emulator, 'organizations/org_g-everyone/members').length).to.equal(3);
    expect(apiRequests(emulator, 'organizations/org_g-everyone/members').filter((r) => r.path.includes('from=')).length).to.equal(2);
  });

  describe('rate limits', () => {
    it('waits for X-RateLimit-Reset after a 429', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.resetSeconds = 4;
      emulator.faults = { rateLimitNext: 2 };
      const snapshot = await fetchAll(driver);
      expect(snapshot.groups).to.have.length(4);
      expect(emulator.rateLimitAnswers).to.equal(2);
      expect(sleeps.length).to.be.at.least(1);
      // The reset is a whole second 4 to 5 s after the answer; backing off without it would wait 0.25 to 0.5 s.
      // (The lower bound leaves 2 s for the answer to arrive on a loaded machine.)
      expect(sleeps.every((ms) => ms >= 2000 && ms <= 5500), String(sleeps)).to.equal(true);
    });

    it('pauses when the bucket runs low, so a read larger than the bucket meets no 429', async function () {
      this.timeout(30_000);
      const { emulator, driver } = await start(generateFixture(100, 20), { realSleep: true });
      emulator.rateLimit = { limit: 20, windowMs: 1000 };
      const snapshot = await fetchAll(driver);
      expect(snapshot.users).to.have.length(100);
      expect(snapshot.apiCalls).to.be.greaterThan(20);
      expect(emulator.rateLimitAnswers).to.equal(0);
    });
  });

  describe('credentials and permissions', () => {
    it('stalls with InvalidCredentials on a wrong secret, without echoing it', async () => {
      const { driver } = await start(SEED, { credentials: { clientSecret: 'not-the-secret' } });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidCredentials');
      expect(err.message).to.include('access_denied').and.not.include('not-the-secret');
    });

    it('names the missing client grant when the application is not authorized for the Management API', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.clientGrant = false;
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'AccessDenied');
      expect((err as StallError).missingPermission).to.equal(`a client grant for ${emulator.audience}`);
    });

    it('stalls with InvalidConfiguration on an audience the tenant does not know', async () => {
      const { driver } = await start(SEED, { settings: { audience: 'https://login.example.com/api/v2/' } });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidConfiguration');
      expect(err.message).to.include('https://login.example.com/api/v2/');
    });

    it('gets a new token once when Auth0 answers 401 to an old one', async () => {
      const { emulator, driver } = await start(SEED);
      await fetchAll(driver);
      emulator.revokeTokens();
      expect((await fetchAll(driver)).users).to.have.length(5);
      expect(emulator.count('/oauth/token')).to.equal(2);
    });

    it('names the scope behind a 403', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.scopes.delete('read:roles');
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'AccessDenied');
      expect((err as StallError).missingPermission).to.equal('read:roles');
      expect(err.message).to.include('Insufficient scope');
    });
  });

  describe('failures never yield a partial snapshot', () => {
    it('fails with a TransientError when one member page keeps answering 500', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { failWith: 500, pathPattern: /\/roles\/rol_g-devops\/users$/ };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'IdpUnavailable');
      expect(err.message).to.include('/roles/rol_g-devops/users').and.include('500');
    });

    it('fails when the second page of users keeps answering 500', async () => {
      const { emulator, driver } = await start(generateFixture(30, 2), { driver: { pageSize: 10 } });
      emulator.onRequest = (req) => {
        if (req.url.pathname === '/api/v2/users' && req.url.searchParams.get('page') === '1') emulator.faults = { failWith: 500 };
      };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'IdpUnavailable');
    });

    it('fails with MalformedResponse on a truncated page', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { truncateBody: true, pathPattern: /\/users$/ };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'MalformedResponse');
    });

    it('fails when a role disappears while its users are read', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.onRequest = (req) => {
        if (req.url.pathname.endsWith('/rol_g-support/users')) emulator.directory.groups = emulator.directory.groups.filter((g) => g.id !== 'g-support');
      };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError);
      expect(err.message).to.include('rol_g-support');
    });

    it('reads the users again when one is deleted between two pages', async () => {
      const fixture = generateFixture(30, 2);
      const { emulator, driver } = await start(fixture, { driver: { pageSize: 10 } });
      let deleted = false;
      emulator.onRequest = (req) => {
        if (!deleted && req.url.pathname === '/api/v2/users' && req.url.searchParams.get('page') === '1') {
          deleted = true;
          emulator.directory.users = emulator.directory.users.filter((u) => u.id !== fixture.users[0].id);
        }
      };
      const snapshot = await fetchAll(driver);
      expect(snapshot.users).to.have.length(29);
      expect(apiRequests(emulator, 'users?').filter((r) => r.path.includes('page=0&')).length).to.equal(2);
    });
  });

  describe('verify', () => {
    it('checks the token and each endpoint with one row', async () => {
      const { emulator, driver } = await start(SEED, { settings: { groupsFrom: ['roles', 'organizations'] }, emulator: { organizations: ['g-support'] } });
      const result = await driver.verify();
      expect(result.ok, JSON.stringify(result.checks)).to.equal(true);
      expect(result.checks.map((c) => c.name)).to.deep.equal([
        `POST ${emulator.baseUrl}/oauth/token`,
        'GET /api/v2/users',
        'GET /api/v2/roles',
        'GET /api/v2/roles/{id}/users',
        'GET /api/v2/organizations',
        'GET /api/v2/organizations/{id}/members',
      ]);
    });

    it('names each missing scope', async () => {
      const { emulator, driver } = await start(SEED, { settings: { groupsFrom: ['roles', 'organizations'] }, emulator: { organizations: ['g-support'] } });
      emulator.scopes = new Set(['read:roles', 'read:organizations']);
      const result = await driver.verify();
      expect(result.ok).to.equal(false);
      expect(result.checks.filter((c) => !c.ok).map((c) => [c.name, c.missing])).to.deep.equal([
        ['GET /api/v2/users', 'read:users'],
        ['GET /api/v2/roles/{id}/users', 'read:users'],
        ['GET /api/v2/organizations/{id}/members', 'read:organization_members'],
      ]);
    });

    it('names read:roles and read:organizations when the grant has neither', async () => {
      const { emulator, driver } = await start(SEED, { settings: { groupsFrom: ['roles', 'organizations'] } });
      emulator.scopes = new Set(['read:users']);
      const result = await driver.verify();
      expect(result.checks.filter((c) => !c.ok).map((c) => c.missing)).to.deep.equal(['read:roles', 'read:organizations']);
    });

    it('stops at the token when the secret is wrong', async () => {
      const { driver } = await start(SEED, { credentials: { clientSecret: 'wrong' } });
      const result = await driver.verify();
      expect(result.checks).to.have.length(1);
      expect(result.checks[0]).to.include({ ok: false, missing: 'a valid clientSecret for the application' });
    });
  });

  it('is registered with groupsFrom defaulting to roles, and a block missing a field stalls naming it', () => {
    expect(() => DRIVERS.auth0({ settings: { clientId: 'x' }, credentials: { clientSecret: 's' } })).to.throw(StallError, /spec\.provider\.auth0\.domain/);
    expect(() => DRIVERS.auth0({ settings: { domain: 't.auth0.com', clientId: 'x', baseUrl: 'http://auth0.example.com' }, credentials: { clientSecret: 's' } })).to.throw(
      StallError,
      /https/,
    );
    const driver = DRIVERS.auth0({ settings: { domain: 't.auth0.com', clientId: 'x' }, credentials: { clientSecret: 's' } });
    expect(driver.type).to.equal('auth0');
  });
});

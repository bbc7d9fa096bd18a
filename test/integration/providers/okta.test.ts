import { generateKeyPairSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createOktaDriver, type OktaSettings } from '../../../src/providers/okta/driver.js';
import type { DriverContext, ProviderDriver } from '../../../src/providers/types.js';
import type { DirectorySnapshot } from '../../../src/directory/snapshot.js';
import { StallError, TransientError } from '../../../src/errors.js';
import { OktaEmulator } from '../../emulators/okta/emulator.js';
import { generateFixture, loadFixture, type DirectoryFixture } from '../../emulators/fixture.js';
import type { EmulatorConnection } from '../../emulators/common.js';

const seed = loadFixture(fileURLToPath(new URL('../../fixtures/seed-example.yaml', import.meta.url)));

/** A clock shared by driver and emulator that runs with real time; sleeping moves it ahead instead of waiting. */
class FakeClock {
  private ahead = 0;
  readonly sleeps: number[] = [];
  now = () => Date.now() + this.ahead;
  sleep = async (ms: number) => {
    this.sleeps.push(ms);
    this.ahead += ms;
  };
}

function driverFor(conn: EmulatorConnection, extra: Partial<Omit<DriverContext, 'settings'>> = {}): ProviderDriver {
  return createOktaDriver({ settings: conn.settings as OktaSettings, credentials: conn.secret, allowInsecureLoopback: true, ...extra });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

function membersOf(snapshot: DirectorySnapshot): Record<string, string[]> {
  return Object.fromEntries(snapshot.groups.map((g) => [g.name, [...g.memberUserIds].sort()]));
}

function directMembers(fixture: DirectoryFixture, userIds?: Set<string>): Record<string, string[]> {
  return Object.fromEntries(
    fixture.groups.map((g) => [g.name, [...(g.members ?? [])].filter((id) => !userIds || userIds.has(id)).sort()]),
  );
}

describe('Okta driver against the Okta emulator', function () {
  let emulator: OktaEmulator;
  let clock: FakeClock;

  async function start(fixture: DirectoryFixture): Promise<void> {
    emulator = new OktaEmulator(fixture);
    clock = new FakeClock();
    emulator.now = clock.now;
    await emulator.start();
  }

  afterEach(async () => {
    await emulator?.stop();
  });

  describe('whole org', () => {
    beforeEach(() => start(seed));

    it('returns the seed directory with each group\'s direct members (Okta has no nesting)', async () => {
      const snapshot = await driverFor(emulator.connection(), { now: clock.now, sleep: clock.sleep }).fetch({ syncOrgUnits: false });

      expect(snapshot.users.map((u) => u.login).sort()).to.deep.equal(seed.users.map((u) => u.login).sort());
      const steve = snapshot.users.find((u) => u.id === 'u-steve');
      expect(steve).to.deep.equal({
        id: 'u-steve',
        login: 'steve@company.com',
        email: 'steve@company.com',
        displayName: 'Steve Stone',
        state: 'Active',
        idpStatus: 'ACTIVE',
      });
      expect(membersOf(snapshot)).to.deep.equal(directMembers(seed));
      expect(snapshot.groups.every((g) => g.kind === 'Group' && g.memberGroupIds.length === 0)).to.equal(true);
      // token + users + groups + one member list per group
      expect(snapshot.apiCalls).to.equal(1 + 1 + 1 + seed.groups.length);
      expect(emulator.requests.map((r) => r.path)).to.include('/api/v1/users?limit=200');
    });

    it('maps every Okta status, and a deactivated user disappears from the next fetch', async () => {
      const states = ['suspended', 'locked', 'staged'] as const;
      states.forEach((state, i) => (emulator.directory.users[i].state = state));
      const driver = driverFor(emulator.connection(), { now: clock.now, sleep: clock.sleep });

      const first = await driver.fetch({ syncOrgUnits: false });
      const byId = new Map(first.users.map((u) => [u.id, u]));
      expect(states.map((_s, i) => byId.get(emulator.directory.users[i].id)?.idpStatus)).to.deep.equal(['SUSPENDED', 'LOCKED_OUT', 'STAGED']);
      expect(states.map((_s, i) => byId.get(emulator.directory.users[i].id)?.state)).to.deep.equal(['Suspended', 'Active', 'Suspended']);

      emulator.directory.users[4].state = 'deleted';
      const second = await driver.fetch({ syncOrgUnits: false });
      expect(second.users.map((u) => u.id)).to.not.include(emulator.directory.users[4].id);
      expect(second.users).to.have.length(first.users.length - 1);
      for (const group of second.groups) expect(group.memberUserIds).to.not.include(emulator.directory.users[4].id);
    });

    it('reuses its access token across fetches and refreshes it once when Okta answers 401', async () => {
      const driver = driverFor(emulator.connection(), { now: clock.now, sleep: clock.sleep });
      await driver.fetch({ syncOrgUnits: false });
      await driver.fetch({ syncOrgUnits: false });
      expect(emulator.tokenRequests).to.equal(1);

      emulator.revokeTokens();
      const snapshot = await driver.fetch({ syncOrgUnits: false });
      expect(emulator.tokenRequests).to.equal(2);
      expect(snapshot.users).to.have.length(seed.users.length);
    });

    it('reads with a legacy SSWS API token', async () => {
      const conn = emulator.connection({ auth: 'apiToken' });
      expect(conn.secret).to.have.keys('apiToken');
      const snapshot = await driverFor(conn, { now: clock.now, sleep: clock.sleep }).fetch({ syncOrgUnits: false });
      expect(membersOf(snapshot)).to.deep.equal(directMembers(seed));
      expect(emulator.tokenRequests).to.equal(0);
      expect(snapshot.apiCalls).to.equal(2 + seed.groups.length);
    });

    it('rejects a private key that does not match the registered public key as InvalidCredentials', async () => {
      const conn = emulator.connection();
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      const err = await rejection(driverFor({ ...conn, secret: { privateKey: other } }).fetch({ syncOrgUnits: false }));
      expect(err).to.be.instanceOf(StallError);
      expect((err as StallError).reason).to.equal('InvalidCredentials');
      expect(err.message).to.match(/signature is invalid/).and.match(/public key/).and.match(/clientId/);
      expect(err.message).to.not.include('PRIVATE KEY');
    });

    it('names okta.groups.read when the service app was not granted it, in fetch and in verify', async () => {
      emulator.grantedScopes.delete('okta.groups.read');
      const driver = driverFor(emulator.connection());

      const err = await rejection(driver.fetch({ syncOrgUnits: false }));
      expect(err).to.be.instanceOf(StallError);
      expect((err as StallError).reason).to.equal('AccessDenied');
      expect((err as StallError).missingPermission).to.equal('okta.groups.read');
      expect(err.message).to.include('okta.groups.read').and.not.include('okta.users.read');

      const result = await driver.verify();
      expect(result.ok).to.equal(false);
      expect(result.checks.filter((c) => !c.ok).map((c) => c.missing)).to.deep.equal(['okta.groups.read']);
    });

    it('verify() passes with the right grants and names a permission the admin role lacks', async () => {
      const driver = driverFor(emulator.connection());
      const healthy = await driver.verify();
      expect(healthy.ok, JSON.stringify(healthy.checks)).to.equal(true);
      expect(healthy.checks.map((c) => c.name)).to.include.members(['GET /api/v1/users', 'GET /api/v1/groups', 'GET /api/v1/groups/{id}/users']);
      expect(emulator.requests.some((r) => /^\/api\/v1\/groups\/[^/]+\/users\?limit=1$/.test(r.path))).to.equal(true);

      emulator.deniedPermissions.add('okta.users.read');
      const denied = await driver.verify();
      expect(denied.ok).to.equal(false);
      const failed = denied.checks.filter((c) => !c.ok);
      expect(failed.map((c) => [c.name, c.missing])).to.deep.equal([['GET /api/v1/users', 'okta.users.read']]);
      expect(failed[0].message).to.match(/admin role/);
    });

    it('explains a DPoP requirement instead of failing obscurely', async () => {
      emulator.requireDpop = true;
      const err = await rejection(driverFor(emulator.connection()).fetch({ syncOrgUnits: false }));
      expect((err as StallError).reason).to.equal('InvalidConfiguration');
      expect(err.message).to.match(/DPoP/);
    });
  });

  describe('failures never yield a partial snapshot', () => {
    beforeEach(() => start(seed));

    it('retries a burst of 429s, waiting until X-Rate-Limit-Reset', async () => {
      emulator.faults = { rateLimitNext: 3, pathPattern: /^\/api\/v1\/groups$/ };
      const snapshot = await driverFor(emulator.connection(), { now: clock.now, sleep: clock.sleep }).fetch({ syncOrgUnits: false });
      expect(membersOf(snapshot)).to.deep.equal(directMembers(seed));
      expect(emulator.requests.filter((r) => r.status === 429)).to.have.length(3);
      // The injected 429 says the window resets 1 s after the current second.
      expect(Math.max(...clock.sleeps)).to.be.at.least(1000);
    });

    it('fails with a TransientError when one member page keeps answering 500', async () => {
      emulator.faults = { failWith: 500, pathPattern: /^\/api\/v1\/groups\/g-engineering\/users$/ };
      const err = await rejection(driverFor(emulator.connection(), { now: clock.now, sleep: clock.sleep }).fetch({ syncOrgUnits: false }));
      expect(err).to.be.instanceOf(TransientError);
      expect((err as TransientError).reason).to.equal('IdpUnavailable');
      expect(err.message).to.include('/api/v1/groups/g-engineering/users').and.include('E0000009');
    });

    it('fails with MalformedResponse on a truncated page', async () => {
      emulator.faults = { truncateBody: true, pathPattern: /^\/api\/v1\/groups$/ };
      const err = await rejection(driverFor(emulator.connection(), { now: clock.now, sleep: clock.sleep }).fetch({ syncOrgUnits: false }));
      expect(err).to.be.instanceOf(TransientError);
      expect((err as TransientError).reason).to.equal('MalformedResponse');
    });
  });

  describe('paging and rate limits', () => {
    it('follows Link headers across many pages', async () => {
      const fixture = generateFixture(250, 30);
      await start(fixture);
      emulator.pageLimits.users.max = 25;
      emulator.pageLimits.members.max = 7;
      const snapshot = await driverFor(emulator.connection(), { now: clock.now, sleep: clock.sleep }).fetch({ syncOrgUnits: false });

      expect(new Set(snapshot.users.map((u) => u.id)).size).to.equal(250);
      expect(membersOf(snapshot)).to.deep.equal(directMembers(fixture));
      expect(emulator.requests.filter((r) => r.path.startsWith('/api/v1/users'))).to.have.length(10);
      expect(emulator.requests.some((r) => /after=u0000024&limit=25/.test(r.path))).to.equal(true);
    });

    it('slows down before the per-minute budget runs out instead of hitting 429', async () => {
      const fixture = generateFixture(50, 40);
      await start(fixture);
      emulator.rateLimitPerMinute = 20;
      const snapshot = await driverFor(emulator.connection(), { now: clock.now, sleep: clock.sleep }).fetch({ syncOrgUnits: false });

      expect(snapshot.groups).to.have.length(40);
      expect(emulator.requests.filter((r) => r.status === 429)).to.have.length(0);
      // 40 member lists + the groups list from a budget of 20 per minute: at least one full minute waited.
      expect(clock.sleeps.reduce((a, b) => a + b, 0)).to.be.at.least(60_000);
    });
  });

  describe('app-assigned mode', () => {
    it('returns only the users and groups assigned to the app', async () => {
      const fixture: DirectoryFixture = {
        ...seed,
        apps: [{ id: '0oaapp1', users: ['u-steve'], groups: ['g-support', 'g-engineering'] }],
      };
      await start(fixture);
      // A deactivated user loses the assignment but stays in the group in Okta.
      emulator.directory.users.find((u) => u.id === 'u-bob')!.state = 'deleted';
      const conn = emulator.connection({ appId: '0oaapp1' });
      const snapshot = await driverFor(conn, { now: clock.now, sleep: clock.sleep }).fetch({ syncOrgUnits: false });

      expect(snapshot.users.map((u) => u.id).sort()).to.deep.equal(['u-alice', 'u-patrick', 'u-steve']);
      expect(membersOf(snapshot)).to.deep.equal({ Support: ['u-patrick'], Engineering: ['u-alice'] });
      expect(emulator.requests.some((r) => r.path.startsWith('/api/v1/users'))).to.equal(false);
      expect(emulator.requests.some((r) => r.path === '/api/v1/apps/0oaapp1/users?expand=user&limit=500')).to.equal(true);
    });

    it('asks for okta.apps.read, and verify() names it when it is not granted', async () => {
      await start(seed);
      const driver = driverFor(emulator.connection({ appId: 'app-idpsync' }));
      const healthy = await driver.verify();
      expect(healthy.ok, JSON.stringify(healthy.checks)).to.equal(true);
      expect(healthy.checks.map((c) => c.name)).to.include('GET /api/v1/apps/app-idpsync/users');

      emulator.grantedScopes.delete('okta.apps.read');
      emulator.revokeTokens();
      const denied = await driverFor(emulator.connection({ appId: 'app-idpsync' })).verify();
      expect(denied.checks.filter((c) => !c.ok).map((c) => c.missing)).to.deep.equal(['okta.apps.read']);
    });

    it('reports an unknown appId as a configuration problem', async () => {
      await start(seed);
      const err = await rejection(driverFor(emulator.connection({ appId: '0oanope' })).fetch({ syncOrgUnits: false }));
      expect((err as StallError).reason).to.equal('InvalidConfiguration');
      expect(err.message).to.include('0oanope');
    });
  });
});

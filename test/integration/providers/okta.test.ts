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
import { FULL_READ_EVERY_MS } from '../../../src/providers/okta/incremental.js';

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

  describe('incremental reads (whole org)', () => {
    const fixture = generateFixture(300, 40);
    let driver: ProviderDriver;
    const fetch = () => driver.fetch({ syncOrgUnits: false });
    /** The same org read in full by a driver with no history: what an incremental read must equal. */
    const fullRead = () => driverFor(emulator.connection(), { now: clock.now, sleep: clock.sleep }).fetch({ syncOrgUnits: false });
    const canonical = (s: DirectorySnapshot) => ({
      users: [...s.users].sort((a, b) => a.id.localeCompare(b.id)),
      groups: [...s.groups].map((g) => ({ ...g, memberUserIds: [...g.memberUserIds].sort() })).sort((a, b) => a.id.localeCompare(b.id)),
    });
    const callsSince = (mark: number) => emulator.requests.slice(mark).filter((r) => !r.path.startsWith('/oauth2/')).map((r) => r.path);

    beforeEach(async () => {
      await start(fixture);
      // An API token: the last test moves the clock an hour ahead, past what a signed client assertion allows.
      driver = driverFor(emulator.connection({ auth: 'apiToken' }), { now: clock.now, sleep: clock.sleep });
      await fetch();
    });

    it('costs two calls when nothing changed, and returns the same directory', async () => {
      const mark = emulator.requests.length;
      const again = await fetch();
      expect(callsSince(mark)).to.have.length(2);
      expect(callsSince(mark)[0]).to.match(/^\/api\/v1\/users\?filter=lastUpdated\+gt\+%22\d{4}-/);
      expect(again.apiCalls).to.equal(2);
      expect(emulator.requests.slice(mark)).to.have.length(2);
      expect(again.cursor?.read).to.equal('incremental');
      expect(canonical(again)).to.deep.equal(canonical(await fullRead()));
    });

    it('sees a suspension and a deactivation on the next incremental read, without re-reading any group', async () => {
      const [suspended, deactivated] = [emulator.directory.users[3], emulator.directory.users[4]];
      suspended.state = 'suspended';
      deactivated.state = 'deleted';
      const mark = emulator.requests.length;
      const next = await fetch();
      expect(callsSince(mark)).to.have.length(2);
      expect(next.users.find((u) => u.id === suspended.id)?.state).to.equal('Suspended');
      expect(next.users.map((u) => u.id)).to.not.include(deactivated.id);
      expect(next.groups.flatMap((g) => g.memberUserIds)).to.not.include(deactivated.id);
      expect(canonical(next)).to.deep.equal(canonical(await fullRead()));
    });

    it('puts a reactivated person back in the groups they never left, though no group was read again', async () => {
      const person = emulator.directory.users.find((u) => emulator.directory.groups.some((g) => g.members?.includes(u.id)))!;
      const theirGroups = emulator.directory.groups.filter((g) => g.members?.includes(person.id)).map((g) => g.id);
      person.state = 'deleted';
      const away = await fetch();
      expect(away.groups.filter((g) => g.memberUserIds.includes(person.id))).to.deep.equal([]);
      const unchanged = await fetch();
      expect(canonical(unchanged)).to.deep.equal(canonical(away));
      person.state = 'active';
      const mark = emulator.requests.length;
      const back = await fetch();
      expect(callsSince(mark).filter((p) => /\/groups\/[^/]+\/users/.test(p)), 'member lists read').to.deep.equal([]);
      expect(back.groups.filter((g) => g.memberUserIds.includes(person.id)).map((g) => g.id).sort()).to.deep.equal([...theirGroups].sort());
      expect(canonical(back)).to.deep.equal(canonical(await fullRead()));
    });

    it('re-reads the members of changed groups only, and drops a deleted group', async () => {
      const [a, b, gone] = [emulator.directory.groups[1], emulator.directory.groups[2], emulator.directory.groups[3]];
      const moved = a.members![0];
      a.members = a.members!.filter((id) => id !== moved);
      b.members = [...b.members!, moved];
      emulator.directory.groups = emulator.directory.groups.filter((g) => g !== gone);
      emulator.directory.users.push({ id: 'u9999999', login: 'new@example.com', email: 'new@example.com', state: 'active' });
      emulator.directory.groups[0].members!.push('u9999999');
      const mark = emulator.requests.length;
      const next = await fetch();
      const memberReads = callsSince(mark).filter((p) => /\/groups\/[^/]+\/users/.test(p));
      expect(memberReads.map((p) => p.split('/')[4]).sort()).to.deep.equal([emulator.directory.groups[0].id, a.id, b.id].sort());
      expect(next.groups.map((g) => g.id)).to.not.include(gone.id);
      expect(membersOf(next)).to.deep.equal(directMembers(emulator.directory));
      expect(canonical(next)).to.deep.equal(canonical(await fullRead()));
    });

    it('sees a user deleted outright (no longer in any filter) through the groups they left, with one lookup each', async () => {
      const gone = emulator.directory.users.slice(10, 13).map((u) => u.id);
      emulator.directory.users = emulator.directory.users.filter((u) => !gone.includes(u.id));
      const mark = emulator.requests.length;
      const next = await fetch();
      const lookups = callsSince(mark).filter((p) => /^\/api\/v1\/users\/[^/?]+$/.test(p));
      expect(lookups.map((p) => p.split('/')[4]).sort()).to.deep.equal([...gone].sort());
      expect(next.users.map((u) => u.id)).to.not.include.members(gone);
      expect(canonical(next)).to.deep.equal(canonical(await fullRead()));
    });

    it('reads everything again once FULL_READ_EVERY_MS has passed since the last full read', async () => {
      await clock.sleep(FULL_READ_EVERY_MS);
      const mark = emulator.requests.length;
      const next = await fetch();
      expect(next.cursor?.read).to.equal('full');
      expect(callsSince(mark)).to.include('/api/v1/users?limit=200');
      expect(callsSince(mark).filter((p) => /\/groups\/[^/]+\/users/.test(p))).to.have.length(fixture.groups.length);
    });
  });

  describe('Okta emulator filters', () => {
    beforeEach(() => start(seed));

    const get = async (path: string) => {
      const token = emulator.connection({ auth: 'apiToken' }).secret.apiToken;
      const res = await fetch(`${emulator.baseUrl}${path}`, { headers: { authorization: `SSWS ${token}` } });
      return { status: res.status, body: (await res.json()) as { id: string; status: string; lastUpdated: string; lastMembershipUpdated?: string }[] };
    };
    const q = (filter: string) => encodeURIComponent(filter);

    it('stamps lastUpdated when a user changes, and filter=lastUpdated gt returns only changed users, deprovisioned included', async () => {
      const before = new Date(clock.now()).toISOString();
      expect((await get(`/api/v1/users?filter=${q(`lastUpdated gt "${before}"`)}`)).body).to.deep.equal([]);
      await clock.sleep(1000);
      emulator.directory.users.find((u) => u.id === 'u-bob')!.state = 'suspended';
      emulator.directory.users.find((u) => u.id === 'u-steve')!.state = 'deleted';
      const changed = (await get(`/api/v1/users?filter=${q(`lastUpdated gt "${before}"`)}`)).body;
      expect(changed.map((u) => [u.id, u.status]).sort()).to.deep.equal([['u-bob', 'SUSPENDED'], ['u-steve', 'DEPROVISIONED']]);
      expect(Date.parse(changed[0].lastUpdated)).to.be.greaterThan(Date.parse(before));
      expect((await get('/api/v1/users')).body.map((u) => u.id)).to.not.include('u-steve');
      expect((await get(`/api/v1/users?filter=${q('status eq "SUSPENDED"')}`)).body.map((u) => u.id)).to.deep.equal(['u-bob']);
    });

    it('stamps lastMembershipUpdated when members change and filters groups on it', async () => {
      const before = new Date(clock.now()).toISOString();
      await clock.sleep(1000);
      const engineering = emulator.directory.groups.find((g) => g.name === 'Engineering')!;
      engineering.members = engineering.members!.filter((id) => id !== 'u-bob');
      const changed = (await get(`/api/v1/groups?filter=${q(`lastUpdated gt "${before}" or lastMembershipUpdated gt "${before}"`)}`)).body;
      expect(changed.map((g) => g.id)).to.deep.equal([engineering.id]);
      expect(Date.parse(changed[0].lastMembershipUpdated!)).to.be.greaterThan(Date.parse(before));
      expect((await get(`/api/v1/groups?filter=${q(`lastUpdated gt "${before}"`)}`)).body).to.deep.equal([]);
    });

    it('answers 400 E0000031 for a filter it does not support', async () => {
      const res = await get(`/api/v1/users?filter=${q('profile.department eq "x"')}`);
      expect(res.status).to.equal(400);
      expect((res.body as unknown as { errorCode: string }).errorCode).to.equal('E0000031');
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

    it('lists a paged group as it is at each read, after members leave and users are replaced or removed', async () => {
      const fixture = generateFixture(250, 30);
      await start(fixture);
      emulator.pageLimits.members.max = 7;
      const driver = driverFor(emulator.connection(), { now: clock.now, sleep: clock.sleep });
      await driver.fetch({ syncOrgUnits: false });

      const users = emulator.directory.users;
      const largest = emulator.directory.groups.reduce((a, b) => ((b.members ?? []).length > (a.members ?? []).length ? b : a));
      const [replaced, removed] = largest.members!;
      const other = emulator.directory.groups.find((g) => g !== largest && (g.members ?? []).length > 7)!;
      const leaving = other.members![0];
      other.members = other.members!.slice(1);
      const at = users.findIndex((u) => u.id === replaced);
      users[at] = { ...users[at], login: 'renamed@example.com' };
      users.splice(users.findIndex((u) => u.id === removed), 1);
      const token = emulator.connection({ auth: 'apiToken' }).secret.apiToken;
      const res = await fetch(`${emulator.baseUrl}/api/v1/groups/${largest.id}/users?limit=7`, { headers: { authorization: `SSWS ${token}` } });
      const firstPage = (await res.json()) as { id: string; profile: { login: string } }[];
      const otherPage = (await (await fetch(`${emulator.baseUrl}/api/v1/groups/${other.id}/users?limit=7`, { headers: { authorization: `SSWS ${token}` } })).json()) as { id: string }[];
      const again = await driverFor(emulator.connection(), { now: clock.now, sleep: clock.sleep }).fetch({ syncOrgUnits: false });

      expect(firstPage.map((u) => u.id)).to.not.include(removed);
      expect(otherPage.map((u) => u.id)).to.not.include(leaving);
      expect(firstPage.find((u) => u.id === replaced)?.profile.login).to.equal('renamed@example.com');
      const expected = directMembers(emulator.directory, new Set(users.map((u) => u.id)));
      expect(membersOf(again)[largest.name]).to.deep.equal(expected[largest.name]);
      expect(membersOf(again)[other.name]).to.deep.equal(expected[other.name]);
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

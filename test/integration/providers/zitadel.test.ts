import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { StallError, TransientError } from '../../../src/errors.js';
import { ZitadelDriver, type ZitadelDriverOptions, type ZitadelSettings } from '../../../src/providers/zitadel/driver.js';
import { DRIVERS } from '../../../src/providers/registry.js';
import type { DirectorySnapshot } from '../../../src/directory/snapshot.js';
import { API_AUDIENCE_SCOPE, ZitadelEmulator } from '../../emulators/zitadel/emulator.js';
import { generateFixture, loadFixture, type DirectoryFixture, generateFixtureWithLargeGroup, changeLargeGroupPeople } from '../../emulators/fixture.js';

const SEED = loadFixture(new URL('../../fixtures/seed-example.yaml', import.meta.url).pathname);

interface Setup {
  settings?: Partial<ZitadelSettings>;
  /** Replaces the Secret's data (the key file) when given. */
  credentials?: (emulator: ZitadelEmulator) => Record<string, string>;
  driver?: ZitadelDriverOptions;
}

const running: { emulator: ZitadelEmulator; driver: ZitadelDriver }[] = [];
/** Waits the driver asked for, in ms (no real waiting in these tests). */
let sleeps: number[] = [];

async function start(fixture: DirectoryFixture, setup: Setup = {}) {
  const emulator = new ZitadelEmulator(fixture);
  await emulator.start();
  const conn = emulator.connection();
  const driver = new ZitadelDriver(
    {
      settings: { ...(conn.settings as ZitadelSettings), ...setup.settings },
      credentials: setup.credentials ? setup.credentials(emulator) : conn.secret,
      allowInsecureLoopback: true,
      sleep: async (ms) => void sleeps.push(ms),
    },
    setup.driver,
  );
  running.push({ emulator, driver });
  return { emulator, driver };
}

const withToken = (e: ZitadelEmulator) => ({ token: e.personalAccessToken });
const fetchAll = (driver: ZitadelDriver) => driver.fetch({ syncOrgUnits: false });
const failure = (p: Promise<unknown>) => p.then(() => expect.fail('expected a failure'), (e: unknown) => e as Error);
const group = (s: DirectorySnapshot, name: string) => s.groups.find((g) => g.name === name)!;
const sorted = (ids: string[]) => [...ids].sort();
const isUserSearch = (req: { url: URL; method: string }) => req.method === 'POST' && req.url.pathname === '/v2/users';
const offsetOf = (req: { json: unknown }) => String((req.json as { query?: { offset?: unknown } }).query?.offset);

/** The seed example as Zitadel has it: flat roles, each member holding the role directly. */
const SEED_DIRECT = { Everyone: ['u-steve'], Engineering: ['u-alice', 'u-bob'], Support: ['u-patrick'], DevOps: ['u-john'] };

describe('Zitadel driver against the emulator', () => {
  beforeEach(() => {
    sleeps = [];
  });
  afterEach(async () => {
    for (const { emulator, driver } of running.splice(0)) {
      await driver.close();
      await emulator.stop();
    }
  });

  for (const form of ['keyFile', 'token'] as const) {
    it(`reads the seed directory with ${form === 'keyFile' ? 'the JWT profile (key file)' : 'a personal access token'}: people only, roles as flat groups`, async () => {
      const { emulator, driver } = await start(SEED, { credentials: form === 'token' ? withToken : undefined });
      // A CI bot holds DevOps through a user grant; it is a machine user, not a person.
      emulator.machineUsers.push({ userId: '290000000000000200', username: 'ci-bot', roles: ['g-devops'] });
      const snapshot = await fetchAll(driver);

      expect(sorted(snapshot.users.map((u) => u.login))).to.deep.equal(['alice@company.com', 'bob@company.com', 'john@company.com', 'patrick@company.com', 'steve@company.com']);
      expect(snapshot.users.find((u) => u.id === 'u-alice')).to.deep.equal({
        id: 'u-alice',
        login: 'alice@company.com',
        email: 'alice@company.com',
        displayName: 'Alice Smith',
        state: 'Active',
        idpStatus: 'USER_STATE_ACTIVE',
      });
      expect(Object.fromEntries(snapshot.groups.map((g) => [g.name, sorted(g.memberUserIds)]))).to.deep.equal(SEED_DIRECT);
      expect(snapshot.groups.every((g) => g.memberGroupIds.length === 0 && g.kind === 'Group')).to.equal(true);
      expect(group(snapshot, 'DevOps')).to.deep.include({ id: 'g-devops', description: 'Zitadel role g-devops' });
      expect(snapshot.apiCalls).to.equal(emulator.requests.length);

      const tokenRequests = emulator.requests.filter((r) => r.path === '/oauth/v2/token');
      if (form === 'keyFile') {
        expect(tokenRequests).to.have.length(1);
        expect(emulator.issuedScopes).to.deep.equal([['openid', API_AUDIENCE_SCOPE]]);
      } else {
        expect(tokenRequests).to.have.length(0);
      }
    });
  }

  it('keeps its token across fetches and gets a new one once when Zitadel stops taking it', async () => {
    const { emulator, driver } = await start(SEED);
    await fetchAll(driver);
    await fetchAll(driver);
    expect(emulator.requests.filter((r) => r.path === '/oauth/v2/token')).to.have.length(1);
    emulator.revokeTokens();
    const snapshot = await fetchAll(driver);
    expect(snapshot.users).to.have.length(5);
    expect(emulator.requests.filter((r) => r.path === '/oauth/v2/token')).to.have.length(2);
  });

  it('maps inactive, locked and initial users, leaves deleted ones out, and counts only active grants', async () => {
    const fixture = structuredClone(SEED);
    const state = (id: string, s: 'suspended' | 'locked' | 'staged' | 'deleted') => (fixture.users.find((u) => u.id === id)!.state = s);
    state('u-bob', 'suspended');
    state('u-alice', 'locked');
    state('u-steve', 'staged');
    state('u-john', 'deleted');
    const { emulator, driver } = await start(fixture);
    emulator.inactiveGrants.add('u-patrick');
    const snapshot = await fetchAll(driver);

    const byId = (id: string) => snapshot.users.find((u) => u.id === id);
    expect(byId('u-bob')).to.deep.include({ state: 'Suspended', idpStatus: 'USER_STATE_INACTIVE' });
    expect(byId('u-alice')).to.deep.include({ state: 'Active', idpStatus: 'USER_STATE_LOCKED' });
    expect(byId('u-steve')).to.deep.include({ state: 'Suspended', idpStatus: 'USER_STATE_INITIAL' });
    expect(byId('u-john')).to.equal(undefined);
    expect(byId('u-patrick')).to.deep.include({ state: 'Active' });
    // Patrick's grant is deactivated: he holds no role. Bob is deactivated but keeps his grant; the
    // operator takes suspended people out of their groups itself.
    expect(group(snapshot, 'Support').memberUserIds).to.deep.equal([]);
    expect(sorted(group(snapshot, 'Engineering').memberUserIds)).to.deep.equal(['u-alice', 'u-bob']);
    expect(group(snapshot, 'DevOps').memberUserIds).to.deep.equal([]);
  });

  it('pages users, roles and grants to the end with offset and limit, each page overlapping the last by one row', async () => {
    const fixture = generateFixture(130, 30);
    const { emulator, driver } = await start(fixture, { settings: { pageSize: 12 } });
    const offsets: string[] = [];
    emulator.onRequest = (req) => void (isUserSearch(req) && offsets.push(offsetOf(req)));
    const snapshot = await fetchAll(driver);

    expect(new Set(snapshot.users.map((u) => u.id)).size).to.equal(130);
    expect(snapshot.groups).to.have.length(30);
    for (const g of fixture.groups) {
      expect(sorted(snapshot.groups.find((s) => s.id === g.id)!.memberUserIds), g.id).to.deep.equal(sorted(g.members ?? []));
    }
    // 130 people, 12 to a page, each page after the first starting on the last row read.
    expect(offsets).to.deep.equal(['0', '11', '22', '33', '44', '55', '66', '77', '88', '99', '110', '121']);
    expect(emulator.requests.filter((r) => r.path.includes('grants/_search')).length).to.equal(12);
  });

  it('reads the directory as it is at each read, after members leave and users are replaced or removed', async () => {
    const fixture = generateFixtureWithLargeGroup(130, 30);
    const { emulator, driver } = await start(fixture, { settings: { pageSize: 12 } });
    await fetchAll(driver);

    const { users, groups } = emulator.directory;
    const { replaced, removed } = changeLargeGroupPeople(emulator.directory);
    const again = await fetchAll(driver);

    const live = new Set(users.map((u) => u.id));
    expect(again.users.find((u) => u.id === replaced)?.login).to.equal('renamed@example.com');
    expect(again.users.map((u) => u.id)).to.not.include(removed);
    for (const g of groups) expect(sorted(group(again, g.name).memberUserIds), g.id).to.deep.equal(sorted((g.members ?? []).filter((id) => live.has(id))));
  });

  describe('credentials', () => {
    it('explains a token without the API audience scope, which Zitadel refuses with 401', async () => {
      const { emulator, driver } = await start(SEED, { driver: { scope: 'openid' } });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidCredentials');
      expect(err.message).to.include('401').and.include('invalid audience').and.include(API_AUDIENCE_SCOPE);
      expect((err as StallError).missingPermission).to.equal(`scope ${API_AUDIENCE_SCOPE}`);
      expect(emulator.issuedScopes[0]).to.deep.equal(['openid']);

      const result = await driver.verify();
      expect(result.ok).to.equal(false);
      expect(result.checks.filter((c) => !c.ok).map((c) => [c.name, c.missing])).to.deep.equal([['GET /auth/v1/users/me', `scope ${API_AUDIENCE_SCOPE}`]]);
    });

    it('stalls with InvalidCredentials when the key was removed, without echoing key material', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.publicKeys.clear();
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidCredentials');
      expect(err.message).to.include(emulator.keyId).and.include(emulator.serviceUserId).and.not.include('PRIVATE KEY');
    });

    it('stalls with InvalidCredentials when the assertion is signed by another key', async () => {
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      const { driver } = await start(SEED, {
        credentials: (e) => ({ keyFile: JSON.stringify({ ...JSON.parse(e.keyFile), key: other }) }),
      });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidCredentials');
      expect(err.message).to.include('invalid_grant');
    });

    it('stalls with InvalidCredentials on a wrong personal access token, without echoing it', async () => {
      const { driver } = await start(SEED, { credentials: () => ({ token: 'pat-not-the-token' }) });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidCredentials');
      expect(err.message).to.include('Errors.Token.Invalid').and.include('"token"').and.not.include('pat-not-the-token');
    });

    it('wants exactly one of keyFile and token, and a service user key', () => {
      const settings = { baseUrl: 'https://zitadel.example.com', projectId: '1' };
      const create = (credentials: Record<string, string>) => () => new ZitadelDriver({ settings, credentials });
      expect(create({})).to.throw(StallError, /neither "keyFile".*nor "token"/);
      expect(create({ keyFile: '{}', token: 't' })).to.throw(StallError, /both "keyFile" and "token"/);
      expect(create({ keyFile: 'not json' })).to.throw(StallError, /not JSON/);
      expect(create({ keyFile: JSON.stringify({ type: 'application', keyId: '1', key: 'k', clientId: 'c', appId: 'a' }) })).to.throw(StallError, /API application/);
      expect(create({ keyFile: JSON.stringify({ type: 'serviceaccount', keyId: '1' }) })).to.throw(StallError, /lacks key, userId/);
    });

    it('stalls with InvalidConfiguration when the key file holds no usable private key', async () => {
      const { driver } = await start(SEED, { credentials: (e) => ({ keyFile: JSON.stringify({ ...JSON.parse(e.keyFile), key: 'garbage' }) }) });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidConfiguration');
      expect(err.message).to.include('not a PEM RSA private key');
    });
  });

  describe('permissions', () => {
    for (const [permission, path] of [
      ['user.read', '/v2/users'],
      ['project.role.read', '/roles/_search'],
      ['user.grant.read', '/users/grants/_search'],
    ] as const) {
      it(`names ${permission} behind a 403 on ${path}`, async () => {
        const { emulator, driver } = await start(SEED);
        emulator.permissions.delete(permission);
        const err = await failure(fetchAll(driver));
        expect(err).to.be.instanceOf(StallError).with.property('reason', 'AccessDenied');
        expect((err as StallError).missingPermission).to.equal(permission);
        expect(err.message).to.include(path).and.include('No matching permissions found');
      });
    }

    it('sends the organization header to the management API and filters users by it', async () => {
      const { emulator, driver } = await start(SEED, { settings: { organizationId: '290000000000000001' } });
      const seen: { path: string; org: unknown; body: unknown }[] = [];
      emulator.onRequest = (req) => void seen.push({ path: req.url.pathname, org: req.headers['x-zitadel-orgid'], body: req.json });
      expect((await fetchAll(driver)).users).to.have.length(5);
      expect(seen.filter((s) => s.path.startsWith('/management/')).every((s) => s.org === emulator.orgId)).to.equal(true);
      const users = seen.find((s) => s.path === '/v2/users')!;
      expect(users.org).to.equal(undefined);
      expect((users.body as { queries: unknown[] }).queries).to.deep.include({ organizationIdQuery: { organizationId: emulator.orgId } });
    });

    it('is refused an organization it has no role on', async () => {
      const { driver } = await start(SEED, { settings: { organizationId: '999' } });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'AccessDenied');
      expect(err.message).to.include('organization 999');
    });
  });

  describe('failures never yield a partial snapshot', () => {
    it('fails with a TransientError when one page of users keeps answering 500', async () => {
      const { emulator, driver } = await start(generateFixture(30, 3), { settings: { pageSize: 10 } });
      emulator.onRequest = (req) => {
        if (isUserSearch(req) && offsetOf(req) === '9') return { status: 500, body: { code: 'internal', message: 'Errors.Internal' } };
      };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'IdpUnavailable');
      expect(err.message).to.include('/v2/users').and.include('500');
    });

    it('fails when a page of grants keeps answering 500', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { failWith: 500, pathPattern: /grants/ };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'IdpUnavailable');
      expect(err.message).to.include('grants/_search');
    });

    it('fails with MalformedResponse on a truncated page', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { truncateBody: true, pathPattern: /roles/ };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'MalformedResponse');
    });

    it('reads the list again when its total changes mid-read, and gives up when it keeps changing', async () => {
      const { emulator, driver } = await start(generateFixture(30, 3), { settings: { pageSize: 10 } });
      let added = 0;
      const addUserOnSecondPage = (max: number) => (req: Parameters<NonNullable<ZitadelEmulator['onRequest']>>[0]) => {
        if (isUserSearch(req) && offsetOf(req) === '9' && added < max) {
          added++;
          emulator.directory.users.push({ id: `u-new-${added}`, login: `new${added}@example.com`, state: 'active' });
        }
      };
      emulator.onRequest = addUserOnSecondPage(1);
      expect((await fetchAll(driver)).users).to.have.length(31);

      emulator.onRequest = addUserOnSecondPage(100);
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'IdpUnavailable');
      expect(err.message).to.match(/POST \/v2\/users changed while it was being read, 3 times/);
    });

    it('waits at least as long as Retry-After says through a burst of 429s', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.retryAfterSeconds = 3;
      emulator.faults = { rateLimitNext: 3 };
      const snapshot = await fetchAll(driver);
      expect(snapshot.users).to.have.length(5);
      expect(snapshot.groups).to.have.length(4);
      expect(emulator.rateLimitAnswers).to.equal(3);
      expect(sleeps.length).to.be.at.least(1);
      expect(sleeps.every((ms) => ms >= 3000)).to.equal(true);
    });
  });

  describe('verify', () => {
    it('checks the token, the token\'s own user and each search with one row', async () => {
      const { emulator, driver } = await start(SEED);
      const result = await driver.verify();
      expect(result.ok, JSON.stringify(result.checks)).to.equal(true);
      expect(result.checks.map((c) => c.name)).to.deep.equal([
        `POST ${emulator.baseUrl}/oauth/v2/token`,
        'GET /auth/v1/users/me',
        'POST /v2/users',
        'POST /management/v1/projects/{projectId}/roles/_search',
        'POST /management/v1/users/grants/_search',
      ]);
    });

    it('names each missing permission', async () => {
      const { emulator, driver } = await start(SEED, { credentials: withToken });
      emulator.permissions.clear();
      const result = await driver.verify();
      expect(result.ok).to.equal(false);
      expect(result.checks.map((c) => [c.name, c.ok, c.missing])).to.deep.equal([
        ['GET /auth/v1/users/me', true, undefined],
        ['POST /v2/users', false, 'user.read'],
        ['POST /management/v1/projects/{projectId}/roles/_search', false, 'project.role.read'],
        ['POST /management/v1/users/grants/_search', false, 'user.grant.read'],
      ]);
    });

    it('says so when the project has no roles (a wrong projectId)', async () => {
      const { driver } = await start(SEED, { settings: { projectId: '12345' } });
      const result = await driver.verify();
      const roles = result.checks.find((c) => c.name.includes('roles/_search'))!;
      expect(roles.ok).to.equal(false);
      expect(roles.message).to.include('12345').and.include('projectId');
    });

    it('stops at the token when the key is refused', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.publicKeys.clear();
      const result = await driver.verify();
      expect(result.checks).to.have.length(1);
      expect(result.checks[0]).to.include({ ok: false, missing: 'a current key of an active service user (keyFile)' });
    });

    it('stops at the token\'s own user when a personal access token is refused', async () => {
      const { driver } = await start(SEED, { credentials: () => ({ token: 'wrong' }) });
      const result = await driver.verify();
      expect(result.checks.map((c) => [c.name, c.ok, c.missing])).to.deep.equal([['GET /auth/v1/users/me', false, 'a valid personal access token (token)']]);
    });
  });

  it('is registered, and refuses plain http outside loopback', () => {
    const settings = { baseUrl: 'https://zitadel.example.com', projectId: '1' };
    expect(DRIVERS.zitadel({ settings, credentials: { token: 't' } }).type).to.equal('zitadel');
    expect(() => DRIVERS.zitadel({ settings: { baseUrl: 'https://zitadel.example.com' }, credentials: { token: 't' } })).to.throw(StallError, /spec\.provider\.zitadel/);
    expect(() => DRIVERS.zitadel({ settings: { ...settings, baseUrl: 'http://zitadel.example.com' }, credentials: { token: 't' } })).to.throw(StallError);
  });
});

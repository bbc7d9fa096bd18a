import { expect } from 'chai';
import { StallError, TransientError } from '../../../src/errors.js';
import { KeycloakDriver, type KeycloakDriverOptions, type KeycloakSettings } from '../../../src/providers/keycloak/driver.js';
import { DRIVERS } from '../../../src/providers/registry.js';
import type { DirectorySnapshot } from '../../../src/directory/snapshot.js';
import { generateFixture, loadFixture, type DirectoryFixture, generateFixtureWithLargeGroup, changeLargeGroupPeople } from '../../emulators/fixture.js';
import { KeycloakEmulator, type KeycloakEmulatorOptions } from '../../emulators/keycloak/emulator.js';

const SEED = loadFixture(new URL('../../fixtures/seed-example.yaml', import.meta.url).pathname);

interface Setup {
  emulator?: KeycloakEmulatorOptions;
  settings?: Partial<KeycloakSettings>;
  credentials?: Record<string, string>;
  driver?: KeycloakDriverOptions;
}

const running: { emulator: KeycloakEmulator; driver: KeycloakDriver }[] = [];
/** Waits the driver asked for, in ms (no real waiting in these tests). */
let sleeps: number[] = [];

async function start(fixture: DirectoryFixture, setup: Setup = {}) {
  const emulator = new KeycloakEmulator(fixture, setup.emulator);
  await emulator.start();
  const conn = emulator.connection();
  const driver = new KeycloakDriver(
    {
      settings: { ...(conn.settings as KeycloakSettings), ...setup.settings },
      credentials: { ...conn.secret, ...setup.credentials },
      allowInsecureLoopback: true,
      sleep: async (ms) => void sleeps.push(ms),
    },
    setup.driver,
  );
  running.push({ emulator, driver });
  return { emulator, driver };
}

const fetchAll = (driver: KeycloakDriver) => driver.fetch({ syncOrgUnits: false });
const failure = (p: Promise<unknown>) => p.then(() => expect.fail('expected a failure'), (e: unknown) => e as Error);
const group = (s: DirectorySnapshot, name: string) => s.groups.find((g) => g.name === name)!;
const sorted = (ids: string[]) => [...ids].sort();

/** One page of a group's members, read straight from the emulator. */
async function membersPage(emulator: KeycloakEmulator, groupId: string): Promise<{ id: string; username: string }[]> {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: emulator.clientId, client_secret: emulator.clientSecret });
  const token = await fetch(emulator.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  const { access_token } = (await token.json()) as { access_token: string };
  const page = await fetch(`${emulator.baseUrl}/admin/realms/corp/groups/${groupId}/members?max=100`, { headers: { authorization: `Bearer ${access_token}` } });
  return (await page.json()) as { id: string; username: string }[];
}

describe('Keycloak driver against the emulator', () => {
  beforeEach(() => {
    sleeps = [];
  });
  afterEach(async () => {
    for (const { emulator, driver } of running.splice(0)) {
      await driver.close();
      await emulator.stop();
    }
  });

  for (const legacyGroupTree of [false, true]) {
    describe(legacyGroupTree ? 'before Keycloak 23 (tree embedded in GET /groups)' : 'Keycloak 23 and later (GET /groups/{id}/children)', () => {
      it('reads the seed realm: users, the group tree as nesting, and direct members', async () => {
        const { emulator, driver } = await start(SEED, { emulator: { legacyGroupTree } });
        const snapshot = await fetchAll(driver);

        expect(sorted(snapshot.users.map((u) => u.id))).to.deep.equal(['u-alice', 'u-bob', 'u-john', 'u-patrick', 'u-steve']);
        expect(snapshot.users.find((u) => u.id === 'u-alice')).to.deep.include({
          login: 'alice@company.com',
          email: 'alice@company.com',
          displayName: 'Alice Smith',
          state: 'Active',
        });
        expect(group(snapshot, 'Everyone').memberUserIds).to.deep.equal(['u-steve']);
        expect(sorted(group(snapshot, 'Everyone').memberGroupIds)).to.deep.equal(['g-engineering', 'g-support']);
        expect(sorted(group(snapshot, 'Engineering').memberUserIds)).to.deep.equal(['u-alice', 'u-bob']);
        expect(group(snapshot, 'Engineering').memberGroupIds).to.deep.equal(['g-devops']);
        expect(group(snapshot, 'DevOps')).to.deep.include({ memberUserIds: ['u-john'], memberGroupIds: [], kind: 'Group' });
        expect(snapshot.apiCalls).to.equal(emulator.requests.length);
        const childrenCalls = emulator.requests.filter((r) => r.path.includes('/children')).length;
        expect(childrenCalls).to.equal(legacyGroupTree ? 0 : 2); // Everyone and Engineering have children
      });
    });
  }

  it('pages users, members and children to the end, always sending max (children default to 10)', async () => {
    const fixture = generateFixture(130, 30);
    fixture.groups.push({ id: 'g-parent', name: 'parent', members: [], groups: [] });
    for (let i = 0; i < 15; i++) {
      fixture.groups.push({ id: `g-child-${i}`, name: `child-${String(i).padStart(2, '0')}`, members: [fixture.users[i].id], groups: [] });
      fixture.groups.find((g) => g.id === 'g-parent')!.groups!.push(`g-child-${i}`);
    }
    const { emulator, driver } = await start(fixture, { driver: { pageSize: 12 } });
    const snapshot = await fetchAll(driver);

    expect(new Set(snapshot.users.map((u) => u.id)).size).to.equal(130);
    expect(group(snapshot, 'parent').memberGroupIds).to.have.length(15);
    for (const g of fixture.groups) {
      const read = snapshot.groups.find((s) => s.id === g.id)!;
      expect(sorted(read.memberUserIds), g.id).to.deep.equal(sorted(g.members ?? []));
    }
    expect(emulator.requests.filter((r) => r.path.startsWith('/admin/realms/corp/users?')).length).to.be.greaterThan(10);
    expect(emulator.requests.filter((r) => r.path.startsWith('/admin')).every((r) => /[?&]max=12\b/.test(r.path))).to.equal(true);
  });

  for (const legacyGroupTree of [false, true]) {
    it(`reads the realm as it is at each read, after members leave, users are replaced or removed and a group moves${legacyGroupTree ? ' (tree embedded)' : ''}`, async () => {
      const fixture = generateFixtureWithLargeGroup(130, 30);
      const { emulator, driver } = await start(fixture, { emulator: { legacyGroupTree }, driver: { pageSize: 12 } });
      await fetchAll(driver);

      const { users, groups } = emulator.directory;
      const { large, replaced, removed } = changeLargeGroupPeople(emulator.directory);
      const moved = groups.find((g) => g.id === 'g000010')!;
      groups.find((g) => g.id === 'g000000')!.groups = [];
      groups.find((g) => g.id === 'g000005')!.groups!.push(moved.id);
      // Groups whose own lists did not change: only their users did.
      const withReplaced = await membersPage(emulator, groups.find((g) => g !== large && g.members!.includes(replaced))!.id);
      const withRemoved = await membersPage(emulator, groups.find((g) => g !== large && g.members!.includes(removed))!.id);
      const again = await fetchAll(driver);

      const live = new Set(users.map((u) => u.id));
      expect(withRemoved.map((u) => u.id)).to.not.include(removed);
      expect(withReplaced.find((u) => u.id === replaced)?.username).to.equal('renamed');
      expect(sorted(group(again, 'large').memberUserIds)).to.deep.equal(sorted(large.members!.filter((id) => live.has(id))));
      expect(again.users.find((u) => u.id === replaced)?.login).to.equal('renamed@example.com');
      expect(again.users.map((u) => u.id)).to.not.include(removed);
      for (const g of groups) expect(sorted(group(again, g.name).memberUserIds), g.id).to.deep.equal(sorted((g.members ?? []).filter((id) => live.has(id))));
      expect(group(again, 'group-0').memberGroupIds).to.deep.equal([]);
      expect(group(again, 'group-5').memberGroupIds).to.deep.equal([moved.id]);
    });
  }

  it('marks disabled users Suspended and leaves deleted users out', async () => {
    const fixture = structuredClone(SEED);
    fixture.users.find((u) => u.id === 'u-bob')!.state = 'suspended';
    fixture.users.find((u) => u.id === 'u-john')!.state = 'deleted';
    const { driver } = await start(fixture);
    const snapshot = await fetchAll(driver);
    expect(snapshot.users.find((u) => u.id === 'u-bob')).to.deep.include({ state: 'Suspended', idpStatus: 'disabled' });
    expect(snapshot.users.some((u) => u.id === 'u-john')).to.equal(false);
    expect(group(snapshot, 'DevOps').memberUserIds).to.deep.equal([]);
  });

  describe('credentials and permissions', () => {
    it('stalls with InvalidCredentials on a wrong secret, without echoing it', async () => {
      const { driver } = await start(SEED, { credentials: { clientSecret: 'not-the-secret' } });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidCredentials');
      expect(err.message).to.include('invalid_client').and.not.include('not-the-secret');
    });

    it('explains a client without a service account', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.serviceAccountsEnabled = false;
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidConfiguration');
      expect(err.message).to.match(/Service accounts roles/);
    });

    it('stalls with InvalidConfiguration for a realm that does not exist', async () => {
      const { driver } = await start(SEED, { settings: { realm: 'nope' } });
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidConfiguration');
      expect(err.message).to.include('/realms/nope/');
    });

    it('gets a new token once when Keycloak answers 401 to an old one', async () => {
      const { emulator, driver } = await start(SEED);
      await fetchAll(driver);
      emulator.revokeTokens();
      const snapshot = await fetchAll(driver);
      expect(snapshot.users).to.have.length(5);
      expect(emulator.count('/realms/corp/protocol')).to.equal(2);
    });

    it('names the realm-management role behind a 403', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.roles.delete('view-users');
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'AccessDenied');
      expect((err as StallError).missingPermission).to.equal('realm-management view-users');
      expect(err.message).to.include('Service accounts roles');
    });
  });

  describe('failures never yield a partial snapshot', () => {
    it('fails with a TransientError when one member page keeps answering 500', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { failWith: 500, pathPattern: /\/groups\/g-devops\/members$/ };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'IdpUnavailable');
      expect(err.message).to.include('/groups/g-devops/members');
    });

    it('fails with MalformedResponse on a truncated page', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.faults = { truncateBody: true, pathPattern: /\/users$/ };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'MalformedResponse');
    });

    it('fails when a group disappears while its members are read', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.onRequest = (req) => {
        if (req.url.pathname.endsWith('/g-support/members')) emulator.directory.groups = emulator.directory.groups.filter((g) => g.id !== 'g-support');
      };
      const err = await failure(fetchAll(driver));
      expect(err).to.be.instanceOf(TransientError);
      expect(err.message).to.include('g-support');
    });

    it('waits at least as long as Retry-After says when a proxy in front of Keycloak rate-limits', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.retryAfterSeconds = 4;
      emulator.faults = { rateLimitNext: 2 };
      const snapshot = await fetchAll(driver);
      expect(snapshot.groups).to.have.length(4);
      expect(sleeps.length).to.be.at.least(1);
      expect(sleeps.every((ms) => ms >= 4000)).to.equal(true);
    });
  });

  describe('verify', () => {
    it('checks the token and each endpoint with one row', async () => {
      const { emulator, driver } = await start(SEED);
      const result = await driver.verify();
      expect(result.ok, JSON.stringify(result.checks)).to.equal(true);
      expect(result.checks.map((c) => c.name)).to.deep.equal([`POST ${emulator.tokenUrl}`, 'GET /users', 'GET /groups', 'GET /groups/{id}/members']);
      expect(emulator.requests.filter((r) => r.path.startsWith('/admin')).every((r) => r.path.includes('max=1'))).to.equal(true);
    });

    it('names each missing realm-management role', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.roles.clear();
      const result = await driver.verify();
      expect(result.ok).to.equal(false);
      expect(result.checks.filter((c) => !c.ok).map((c) => [c.name, c.missing])).to.deep.equal([
        ['GET /users', 'realm-management view-users'],
        ['GET /groups', 'realm-management query-groups'],
      ]);
    });

    it('names view-users for members when only query-groups is held', async () => {
      const { emulator, driver } = await start(SEED);
      emulator.roles = new Set(['query-groups']);
      const result = await driver.verify();
      expect(result.checks.filter((c) => !c.ok).map((c) => [c.name, c.missing])).to.deep.equal([
        ['GET /users', 'realm-management view-users'],
        ['GET /groups/{id}/members', 'realm-management view-users'],
      ]);
    });

    it('stops at the token when the secret is wrong', async () => {
      const { driver } = await start(SEED, { credentials: { clientSecret: 'wrong' } });
      const result = await driver.verify({ syncOrgUnits: false });
      expect(result.checks).to.have.length(1);
      expect(result.checks[0]).to.include({ ok: false, missing: 'a valid clientSecret for the client' });
    });
  });

  it('is registered, and a provider block missing a field stalls naming it', () => {
    expect(() => DRIVERS.keycloak({ settings: { baseUrl: 'https://sso.example.com', clientId: 'idpsync' }, credentials: { clientSecret: 's' } })).to.throw(
      StallError,
      /spec\.provider\.keycloak\.realm/,
    );
    const driver = DRIVERS.keycloak({ settings: { baseUrl: 'https://sso.example.com', realm: 'corp', clientId: 'idpsync' }, credentials: { clientSecret: 's' } });
    expect(driver.type).to.equal('keycloak');
  });
});

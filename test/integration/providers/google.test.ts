import { expect } from 'chai';
import { StallError, TransientError } from '../../../src/errors.js';
import { createGoogleWorkspaceDriver, type GoogleWorkspaceDriver } from '../../../src/providers/google/driver.js';
import { SCOPES } from '../../../src/providers/google/scopes.js';
import type { DirectorySnapshot } from '../../../src/directory/snapshot.js';
import type { EmulatorConnection } from '../../emulators/common.js';
import { generateFixture, loadFixture, type DirectoryFixture } from '../../emulators/fixture.js';
import { GoogleWorkspaceEmulator } from '../../emulators/google/emulator.js';

const SEED = new URL('../../fixtures/seed-example.yaml', import.meta.url).pathname;

interface Harness {
  emulator: GoogleWorkspaceEmulator;
  driver: GoogleWorkspaceDriver;
  sleeps: number[];
}

const running: GoogleWorkspaceEmulator[] = [];

async function harness(fixture: DirectoryFixture, tweak: (c: EmulatorConnection) => void = () => {}): Promise<Harness> {
  const emulator = new GoogleWorkspaceEmulator(fixture);
  await emulator.start();
  running.push(emulator);
  const connection = emulator.connection();
  tweak(connection);
  const sleeps: number[] = [];
  const driver = createGoogleWorkspaceDriver({
    settings: connection.settings as any,
    credentials: connection.secret,
    allowInsecureLoopback: true,
    sleep: async (ms) => void sleeps.push(ms),
  }) as GoogleWorkspaceDriver;
  return { emulator, driver, sleeps };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the promise to reject');
}

const byId = <T extends { id: string }>(items: T[]) => new Map(items.map((i) => [i.id, i]));
const sorted = (ids: string[] = []) => [...ids].sort();

/** The fixture's live directory in the snapshot's terms, for comparison. */
function expectSameDirectory(snapshot: DirectorySnapshot, fixture: DirectoryFixture): void {
  const live = fixture.users.filter((u) => u.state !== 'deleted');
  expect(sorted(snapshot.users.map((u) => u.id))).to.deep.equal(sorted(live.map((u) => u.id)));
  const liveIds = new Set(live.map((u) => u.id));
  const groups = byId(snapshot.groups.filter((g) => g.kind === 'Group'));
  expect(groups.size).to.equal(fixture.groups.length);
  for (const g of fixture.groups) {
    const got = groups.get(g.id);
    expect(got, g.id).to.not.equal(undefined);
    expect(got!.name).to.equal(g.name);
    expect(sorted(got!.memberUserIds), g.id).to.deep.equal(sorted((g.members ?? []).filter((id) => liveIds.has(id))));
    expect(sorted(got!.memberGroupIds), g.id).to.deep.equal(sorted(g.groups));
  }
}

describe('Google Workspace driver against the emulator', function () {
  this.timeout(60_000);

  afterEach(async () => {
    await Promise.all(running.splice(0).map((e) => e.stop()));
  });

  it('returns the seed example with its nesting', async () => {
    const fixture = loadFixture(SEED);
    const { driver, emulator } = await harness(fixture);
    const snapshot = await driver.fetch({ syncOrgUnits: false });

    expectSameDirectory(snapshot, fixture);
    const groups = new Map(snapshot.groups.map((g) => [g.name, g]));
    expect(sorted(groups.get('Everyone')!.memberGroupIds)).to.deep.equal(['g-engineering', 'g-support']);
    expect(groups.get('Everyone')!.memberUserIds).to.deep.equal(['u-steve']);
    expect(groups.get('Engineering')!.memberGroupIds).to.deep.equal(['g-devops']);
    expect(groups.get('DevOps')!.memberGroupIds).to.deep.equal([]);
    const alice = snapshot.users.find((u) => u.id === 'u-alice')!;
    expect(alice).to.include({ login: 'alice@company.com', displayName: 'Alice Smith', state: 'Active' });

    // One token, users, groups and the members of each of the four groups.
    expect(snapshot.apiCalls).to.equal(emulator.requests.length);
    expect(snapshot.apiCalls).to.equal(1 + 1 + 1 + 4);
    expect(emulator.count('/admin/directory/v1/customer')).to.equal(0);
  });

  it('follows page tokens to the end of every list', async () => {
    const fixture = generateFixture(230, 24);
    // One big group, so members page too.
    fixture.groups[0].members = fixture.users.slice(0, 95).map((u) => u.id);
    const { driver, emulator } = await harness(fixture);
    emulator.maxPageSize = 10;

    const snapshot = await driver.fetch({ syncOrgUnits: false });

    expectSameDirectory(snapshot, fixture);
    expect(emulator.count('/admin/directory/v1/users')).to.equal(23);
    expect(emulator.count('/admin/directory/v1/groups?')).to.equal(3);
    expect(emulator.count(`/admin/directory/v1/groups/${fixture.groups[0].id}/members`)).to.equal(10);
    expect(emulator.requests.every((r) => r.status === 200)).to.equal(true);
  });

  it('reads the directory as it is at each read, after members leave, users are replaced or removed and a group moves', async () => {
    const fixture = generateFixture(130, 30);
    fixture.groups.push({ id: 'g-large', name: 'large', members: fixture.users.slice(0, 50).map((u) => u.id), groups: [] });
    const { driver, emulator } = await harness(fixture);
    emulator.maxPageSize = 12;
    await driver.fetch({ syncOrgUnits: false });

    const { users, groups } = emulator.directory;
    const large = groups.find((g) => g.id === 'g-large')!;
    const [leaving, replaced, removed] = large.members!;
    large.members = large.members!.filter((id) => id !== leaving);
    const at = users.findIndex((u) => u.id === replaced);
    users[at] = { ...users[at], state: 'deleted' };
    users.splice(users.findIndex((u) => u.id === removed), 1);
    groups.find((g) => g.id === 'g000000')!.groups = [];
    groups.find((g) => g.id === 'g000005')!.groups!.push('g000010');
    const again = await driver.fetch({ syncOrgUnits: false });

    expect(again.groups.flatMap((g) => g.memberUserIds)).to.not.include.members([replaced, removed]);
    expectSameDirectory(again, emulator.directory);
  });

  it('reads a group without members as empty (Google leaves the array out)', async () => {
    const fixture = loadFixture(SEED);
    fixture.groups.push({ id: 'g-empty', name: 'Nobody', members: [], groups: [] });
    const { driver } = await harness(fixture);
    const snapshot = await driver.fetch({ syncOrgUnits: false });
    expect(snapshot.groups.find((g) => g.id === 'g-empty')).to.deep.include({ memberUserIds: [], memberGroupIds: [] });
  });

  it('leaves out a group deleted while the sync runs, and its place in other groups', async () => {
    const { driver, emulator } = await harness(loadFixture(SEED));
    emulator.deletedMidSync.add('g-engineering');
    const snapshot = await driver.fetch({ syncOrgUnits: false });
    expect(snapshot.groups.map((g) => g.id).sort()).to.deep.equal(['g-devops', 'g-everyone', 'g-support']);
    expect(snapshot.groups.find((g) => g.id === 'g-everyone')!.memberGroupIds).to.deep.equal(['g-support']);
  });

  describe('organisational units', () => {
    const withUnits = (): DirectoryFixture => {
      const fixture = loadFixture(SEED);
      fixture.orgUnits = [
        { id: 'ou-eng', name: 'Engineering' },
        { id: 'ou-ops', name: 'Operations', parent: 'ou-eng' },
        { id: 'ou-support', name: 'Support' },
      ];
      const place = { 'u-bob': 'ou-eng', 'u-alice': 'ou-eng', 'u-john': 'ou-ops', 'u-patrick': 'ou-support' } as Record<string, string>;
      for (const user of fixture.users) user.orgUnit = place[user.id];
      return fixture;
    };

    it('syncs each unit as an OrgUnit group whose members are its users and its child units', async () => {
      const { driver, emulator } = await harness(withUnits());
      const snapshot = await driver.fetch({ syncOrgUnits: true });

      const units = new Map(snapshot.groups.filter((g) => g.kind === 'OrgUnit').map((g) => [g.name, g]));
      expect([...units.keys()].sort()).to.deep.equal(['/Engineering', '/Engineering/Operations', '/Support']);
      const eng = units.get('/Engineering')!;
      expect(sorted(eng.memberUserIds)).to.deep.equal(['u-alice', 'u-bob']);
      expect(eng.memberGroupIds).to.deep.equal([units.get('/Engineering/Operations')!.id]);
      expect(units.get('/Engineering/Operations')!.memberUserIds).to.deep.equal(['u-john']);
      expect(units.get('/Support')!.memberUserIds).to.deep.equal(['u-patrick']);
      const users = byId(snapshot.users);
      expect(users.get('u-john')!.orgUnitId).to.equal(units.get('/Engineering/Operations')!.id);
      expect(users.get('u-steve')!.orgUnitId).to.equal(undefined);
      // The ordinary groups are still there.
      expect(snapshot.groups.filter((g) => g.kind === 'Group')).to.have.length(4);
      expect(emulator.count('/admin/directory/v1/customer/my_customer/orgunits')).to.equal(1);
    });

    it('neither reads units nor asks for their scope when turned off', async () => {
      const { driver, emulator } = await harness(withUnits());
      emulator.delegatedScopes.delete(SCOPES.orgUnits);
      const snapshot = await driver.fetch({ syncOrgUnits: false });
      expect(snapshot.groups.every((g) => g.kind === 'Group')).to.equal(true);
      expect(snapshot.users.every((u) => u.orgUnitId === undefined)).to.equal(true);
      expect(emulator.count('/admin/directory/v1/customer')).to.equal(0);
    });

    it('needs the org unit scope once turned on', async () => {
      const { driver, emulator } = await harness(withUnits());
      emulator.delegatedScopes.delete(SCOPES.orgUnits);
      await driver.fetch({ syncOrgUnits: false });
      const err = await rejection(driver.fetch({ syncOrgUnits: true }));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'AccessDenied');
      expect((err as StallError).missingPermission).to.equal(SCOPES.orgUnits);
    });
  });

  it('marks suspended, locked and archived users Suspended and leaves deleted users out', async () => {
    const fixture = loadFixture(SEED);
    const states = { 'u-bob': 'suspended', 'u-alice': 'locked', 'u-john': 'deleted' } as const;
    for (const user of fixture.users) user.state = states[user.id as keyof typeof states] ?? 'active';
    const { driver, emulator } = await harness(fixture);
    emulator.archived.add('u-patrick');

    const snapshot = await driver.fetch({ syncOrgUnits: false });
    const users = byId(snapshot.users);
    expect(users.get('u-bob')).to.include({ state: 'Suspended', idpStatus: 'suspended (ADMIN)' });
    expect(users.get('u-alice')).to.include({ state: 'Suspended', idpStatus: 'suspended (ABUSE)' });
    expect(users.get('u-patrick')).to.include({ state: 'Suspended', idpStatus: 'archived' });
    expect(users.get('u-steve')).to.include({ state: 'Active' });
    expect(users.has('u-john')).to.equal(false);
    expect(snapshot.groups.find((g) => g.id === 'g-devops')!.memberUserIds).to.deep.equal([]);
  });

  it('lists by domain when a domain is set', async () => {
    const { driver, emulator } = await harness(loadFixture(SEED), (c) => (c.settings.domain = 'company.com'));
    const snapshot = await driver.fetch({ syncOrgUnits: false });
    expect(snapshot.users).to.have.length(5);
    expect(emulator.requests.find((r) => r.path.startsWith('/admin/directory/v1/users'))!.path).to.include('domain=company.com');
    expect(emulator.requests.some((r) => r.path.includes('customer='))).to.equal(false);
  });

  describe('quota and failures', () => {
    it('backs off and retries a burst of 403 userRateLimitExceeded', async () => {
      const fixture = loadFixture(SEED);
      const { driver, emulator, sleeps } = await harness(fixture);
      emulator.faults = { rateLimitNext: 3 };
      const snapshot = await driver.fetch({ syncOrgUnits: false });
      expectSameDirectory(snapshot, fixture);
      expect(emulator.requests.filter((r) => r.status === 403)).to.have.length(3);
      // Users and groups were refused together (one pause for both), then the first retry (a second pause).
      expect(sleeps.length).to.be.at.least(2);
      expect(snapshot.apiCalls).to.equal(emulator.requests.length);
    });

    it('backs off and retries a 429 rateLimitExceeded', async () => {
      const { driver, emulator } = await harness(loadFixture(SEED));
      emulator.quotaAnswer = 429;
      emulator.faults = { rateLimitNext: 2 };
      await driver.fetch({ syncOrgUnits: false });
      expect(emulator.requests.filter((r) => r.status === 429)).to.have.length(2);
    });

    it('gives up with RateLimited when the quota stays exhausted', async () => {
      const { driver, emulator } = await harness(loadFixture(SEED));
      emulator.faults = { rateLimitNext: 1000 };
      const err = await rejection(driver.fetch({ syncOrgUnits: false }));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'RateLimited');
      expect(err.message).to.include('userRateLimitExceeded');
    });

    it('fails the fetch when one members list keeps answering 500, rather than returning the rest', async () => {
      const { driver, emulator } = await harness(loadFixture(SEED));
      emulator.faults = { failWith: 500, pathPattern: /\/groups\/g-devops\/members$/ };
      const err = await rejection(driver.fetch({ syncOrgUnits: false }));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'IdpUnavailable');
      expect(err.message).to.include('/groups/g-devops/members');
      expect(emulator.count('/admin/directory/v1/groups/g-devops/members')).to.be.greaterThan(1);
    });

    it('fails the fetch on a truncated page', async () => {
      const { driver, emulator } = await harness(generateFixture(40, 4));
      emulator.faults = { truncateBody: true, pathPattern: /\/users$/ };
      const err = await rejection(driver.fetch({ syncOrgUnits: false }));
      expect(err).to.be.instanceOf(TransientError).with.property('reason', 'MalformedResponse');
    });

    it('refreshes a token Google no longer accepts, once', async () => {
      const { driver, emulator } = await harness(loadFixture(SEED));
      await driver.fetch({ syncOrgUnits: false });
      emulator.revokeTokens();
      const snapshot = await driver.fetch({ syncOrgUnits: false });
      expect(snapshot.users).to.have.length(5);
      // Requests already in flight with the old token each meet a 401; they share one new token.
      expect(emulator.tokenRequests).to.equal(2);
      expect(emulator.requests.filter((r) => r.status === 401).length).to.be.within(1, 2);
    });
  });

  describe('credentials and permissions', () => {
    it('reports a key Google does not know as InvalidCredentials, without the key in the message', async () => {
      const other = new GoogleWorkspaceEmulator(loadFixture(SEED));
      const stranger = other.createServiceAccountKey();
      const { driver } = await harness(loadFixture(SEED), (c) => {
        const key = JSON.parse(c.secret.serviceAccountKey);
        c.secret.serviceAccountKey = JSON.stringify({ ...key, private_key: stranger.private_key });
      });
      const err = await rejection(driver.fetch({ syncOrgUnits: false }));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidCredentials');
      expect(err.message).to.include('invalid_grant');
      expect(err.message).to.not.include('PRIVATE KEY');
    });

    it('reports an impersonated account outside the domain as InvalidCredentials', async () => {
      const { driver } = await harness(loadFixture(SEED), (c) => (c.settings.impersonate = 'nobody@elsewhere.com'));
      const err = await rejection(driver.fetch({ syncOrgUnits: false }));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'InvalidCredentials');
      expect(err.message).to.include('Invalid email or User ID');
    });

    it('reports scopes not authorised for domain-wide delegation as AccessDenied naming them', async () => {
      const { driver, emulator } = await harness(loadFixture(SEED));
      emulator.delegatedScopes.delete(SCOPES.members);
      const err = await rejection(driver.fetch({ syncOrgUnits: false }));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'AccessDenied');
      expect(err.message).to.include('unauthorized_client');
      // Names the one that is missing, and the whole list to enter in the Admin console.
      expect((err as StallError).missingPermission).to.equal(SCOPES.members);
      expect(err.message).to.include(`does not cover ${SCOPES.members}.`);
      expect(err.message).to.include([SCOPES.users, SCOPES.groups, SCOPES.members].join(','));
    });

    it('reports an impersonated user who is not an admin as AccessDenied naming the privilege', async () => {
      const { driver } = await harness(loadFixture(SEED), (c) => (c.settings.impersonate = 'bob@company.com'));
      const err = await rejection(driver.fetch({ syncOrgUnits: false }));
      expect(err).to.be.instanceOf(StallError).with.property('reason', 'AccessDenied');
      expect(err.message).to.include('Not Authorized to access this resource/api');
      expect((err as StallError).missingPermission).to.match(/› Read$/);
    });
  });

  describe('verify', () => {
    it('passes every check with the read-only scopes', async () => {
      const { driver, emulator } = await harness(loadFixture(SEED));
      const result = await driver.verify({ syncOrgUnits: true });
      expect(result.ok).to.equal(true);
      expect(result.checks.map((c) => c.name)).to.deep.equal([
        `POST ${emulator.tokenUrl} (jwt-bearer as admin@company.com)`,
        'GET /admin/directory/v1/users',
        'GET /admin/directory/v1/groups',
        'GET /admin/directory/v1/groups/g-everyone/members',
        'GET /admin/directory/v1/customer/my_customer/orgunits',
      ]);
      expect(emulator.requests.filter((r) => r.path.startsWith('/admin')).every((r) => /maxResults=1\b|orgunits/.test(r.path))).to.equal(true);
    });

    it('leaves org units out when they are not synced', async () => {
      const { driver, emulator } = await harness(loadFixture(SEED));
      emulator.delegatedScopes.delete(SCOPES.orgUnits);
      const result = await driver.verify();
      expect(result.ok).to.equal(true);
      expect(result.checks).to.have.length(4);
    });

    it('checks the org unit scope on a fresh driver when asked to, before any fetch', async () => {
      const { driver, emulator } = await harness(loadFixture(SEED));
      emulator.delegatedScopes.delete(SCOPES.orgUnits);
      const result = await driver.verify({ syncOrgUnits: true });
      expect(result.ok).to.equal(false);
      expect(result.checks[0]).to.include({ ok: false, missing: SCOPES.orgUnits });
      expect(emulator.requests.filter((r) => r.path.startsWith('/admin'))).to.have.length(0);
    });

    it('names exactly the scope missing from domain-wide delegation', async () => {
      const { driver, emulator } = await harness(loadFixture(SEED));
      emulator.delegatedScopes.delete(SCOPES.groups);
      const result = await driver.verify({ syncOrgUnits: true });
      expect(result.ok).to.equal(false);
      expect(result.checks).to.have.length(1);
      expect(result.checks[0]).to.include({ ok: false, missing: SCOPES.groups });
      expect(result.checks[0].message).to.include('unauthorized_client');
    });

    it('reports the admin privilege each endpoint lacks when the impersonated user is no admin', async () => {
      const { driver } = await harness(loadFixture(SEED), (c) => (c.settings.impersonate = 'bob@company.com'));
      const result = await driver.verify();
      expect(result.ok).to.equal(false);
      expect(result.checks[0].ok).to.equal(true);
      expect(result.checks.slice(1).map((c) => [c.ok, c.missing])).to.deep.equal([
        [false, 'Admin API privileges › Users › Read'],
        [false, 'Admin API privileges › Groups › Read'],
      ]);
    });

    it('reports a bad key without throwing', async () => {
      const other = new GoogleWorkspaceEmulator(loadFixture(SEED));
      const stranger = other.createServiceAccountKey('idpsync@idpsync-test.iam.gserviceaccount.com');
      const { driver } = await harness(loadFixture(SEED), (c) => (c.secret.serviceAccountKey = JSON.stringify(stranger)));
      const result = await driver.verify();
      expect(result.ok).to.equal(false);
      expect(result.checks[0].message).to.match(/invalid_grant: Invalid JWT Signature/);
    });
  });
});

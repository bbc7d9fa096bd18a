import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createEntraDriver } from '../../../src/providers/entra/driver.js';
import type { DriverContext, ProviderDriver } from '../../../src/providers/types.js';
import type { DirectorySnapshot } from '../../../src/directory/snapshot.js';
import { StallError, TransientError } from '../../../src/errors.js';
import { EntraEmulator } from '../../emulators/entra/emulator.js';
import { selfSignedCertificate } from '../../emulators/entra/certificate.js';
import { generateFixture, loadFixture, type DirectoryFixture } from '../../emulators/fixture.js';

const seed = loadFixture(fileURLToPath(new URL('../../fixtures/seed-example.yaml', import.meta.url)));

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** group name → direct user members and nested group names, as a driver snapshot shows them. */
function shape(snapshot: DirectorySnapshot): Record<string, { users: string[]; groups: string[] }> {
  const names = new Map(snapshot.groups.map((g) => [g.id, g.name]));
  return Object.fromEntries(
    snapshot.groups.map((g) => [g.name, { users: [...g.memberUserIds].sort(), groups: g.memberGroupIds.map((id) => names.get(id)!).sort() }]),
  );
}

/** The same, straight from a fixture (what Entra holds), ignoring deleted users. */
function fixtureShape(fixture: DirectoryFixture): Record<string, { users: string[]; groups: string[] }> {
  const live = new Set(fixture.users.filter((u) => u.state !== 'deleted').map((u) => u.id));
  const names = new Map(fixture.groups.map((g) => [g.id, g.name]));
  return Object.fromEntries(
    fixture.groups.map((g) => [
      g.name,
      { users: (g.members ?? []).filter((id) => live.has(id)).sort(), groups: (g.groups ?? []).map((id) => names.get(id)!).sort() },
    ]),
  );
}

const directory = (s: DirectorySnapshot) => ({ users: s.users, groups: s.groups });

describe('Entra driver against the Entra emulator', function () {
  let emulator: EntraEmulator;
  let sleeps: number[];

  async function start(fixture: DirectoryFixture): Promise<void> {
    emulator = new EntraEmulator(fixture);
    await emulator.start();
  }

  function driver(settings: Record<string, unknown> = {}, credentials?: Record<string, string>, extra: Partial<Omit<DriverContext, 'settings'>> = {}): ProviderDriver {
    const conn = emulator.connection();
    sleeps = [];
    return createEntraDriver({
      settings: { ...conn.settings, ...settings },
      credentials: credentials ?? conn.secret,
      allowInsecureLoopback: true,
      sleep: async (ms) => void sleeps.push(ms),
      ...extra,
    });
  }

  const fetch = (d: ProviderDriver) => d.fetch({ syncOrgUnits: false });

  afterEach(async () => {
    await emulator?.stop();
  });

  describe('the seed example', () => {
    beforeEach(() => start(seed));

    for (const delta of [true, false]) {
      it(`keeps the nesting Everyone ⊃ Support, Engineering ⊃ DevOps (delta ${delta})`, async () => {
        const snapshot = await fetch(driver({ delta }));
        expect(shape(snapshot)).to.deep.equal({
          Everyone: { users: ['u-steve'], groups: ['Engineering', 'Support'] },
          Support: { users: ['u-patrick'], groups: [] },
          Engineering: { users: ['u-alice', 'u-bob'], groups: ['DevOps'] },
          DevOps: { users: ['u-john'], groups: [] },
        });
        const alice = snapshot.users.find((u) => u.id === 'u-alice');
        expect(alice).to.include({ login: 'alice@company.com', email: 'alice@company.com', displayName: 'Alice Smith', state: 'Active' });
        expect(snapshot.users.map((u) => u.id).sort()).to.deep.equal(seed.users.map((u) => u.id).sort());
        expect(snapshot.apiCalls).to.equal(emulator.requests.length);
        expect(Boolean(snapshot.cursor)).to.equal(delta);
      });
    }

    it('maps a disabled account to Suspended and leaves deleted users out', async () => {
      emulator.directory.users.find((u) => u.id === 'u-bob')!.state = 'suspended';
      emulator.directory.users.find((u) => u.id === 'u-john')!.state = 'deleted';
      const snapshot = await fetch(driver({ delta: false }));
      expect(snapshot.users.find((u) => u.id === 'u-bob')?.state).to.equal('Suspended');
      expect(snapshot.users.some((u) => u.id === 'u-john')).to.equal(false);
      expect(shape(snapshot).DevOps.users).to.deep.equal([]);
    });
  });

  describe('paging', () => {
    const big = generateFixture(2500, 40);
    beforeEach(() => start(big));

    it('follows @odata.nextLink to the last page of users and of members', async () => {
      const snapshot = await fetch(driver({ delta: false }));
      expect(snapshot.users).to.have.length(2500);
      expect(shape(snapshot)).to.deep.equal(fixtureShape(big));
      const userPages = emulator.requests.filter((r) => r.path.startsWith('/v1.0/users?'));
      expect(userPages).to.have.length(3);
      expect(userPages.filter((r) => r.path.includes('$skiptoken='))).to.have.length(2);
    });

    it('merges a big group split across delta pages to the same picture as a full read', async () => {
      emulator.deltaPageSize = 7;
      emulator.deltaMembersPerObject = 5;
      const viaDelta = await fetch(driver({ delta: true }));
      expect(shape(viaDelta)).to.deep.equal(fixtureShape(big));
      expect(directory(viaDelta)).to.deep.equal(directory(await fetch(driver({ delta: false }))));
      expect(emulator.requests.some((r) => r.path.startsWith('/v1.0/groups/delta?$skiptoken='))).to.equal(true);
    });
  });

  describe('authentication', () => {
    beforeEach(() => start(seed));

    it('authenticates with a certificate (private_key_jwt, x5t#S256)', async () => {
      const conn = emulator.certificateConnection();
      const snapshot = await fetch(driver({}, conn.secret));
      expect(snapshot.users).to.have.length(5);
      const verify = await driver({}, conn.secret).verify();
      expect(verify.ok).to.equal(true);
    });

    it('refuses a certificate that is not registered on the app, with the AADSTS text', async () => {
      const stranger = selfSignedCertificate('stranger');
      const err = await rejection(fetch(driver({}, { ...stranger })));
      expect(err).to.be.instanceOf(StallError);
      expect((err as StallError).reason).to.equal('InvalidCredentials');
      expect(err.message).to.contain('AADSTS700027');
    });

    it('rejects a certificate and a key that do not belong together before calling Entra', async () => {
      const a = selfSignedCertificate('a');
      const b = selfSignedCertificate('b');
      const err = await rejection(fetch(driver({}, { certificate: a.certificate, privateKey: b.privateKey })));
      expect((err as StallError).reason).to.equal('InvalidConfiguration');
      expect(emulator.requests).to.have.length(0);
    });

    it('reports a wrong secret as InvalidCredentials with the first line of the AADSTS text only', async () => {
      const wrong = 'not-the-secret-' + Math.random().toString(36).slice(2);
      const err = await rejection(fetch(driver({}, { clientSecret: wrong })));
      expect(err).to.be.instanceOf(StallError);
      expect((err as StallError).reason).to.equal('InvalidCredentials');
      expect(err.message).to.contain('AADSTS7000215: Invalid client secret provided.');
      expect(err.message).not.to.contain('Trace ID');
      expect(err.message).not.to.contain(wrong);
    });

    it('reports an unknown tenant and an unknown app as InvalidConfiguration', async () => {
      const tenant = await rejection(fetch(driver({ tenantId: 'nope.onmicrosoft.com' })));
      expect((tenant as StallError).reason).to.equal('InvalidConfiguration');
      expect(tenant.message).to.contain('AADSTS90002');
      const app = await rejection(fetch(driver({ clientId: '00000000-1111-2222-3333-444444444444' })));
      expect((app as StallError).reason).to.equal('InvalidConfiguration');
      expect(app.message).to.contain('AADSTS700016');
    });

    it('accepts a verified domain as the tenant', async () => {
      const snapshot = await fetch(driver({ tenantId: 'contoso.onmicrosoft.com' }));
      expect(snapshot.groups).to.have.length(4);
    });

    it('gets a new token once when Graph answers 401 to an expired one', async () => {
      const d = driver({ delta: false });
      await fetch(d);
      emulator.expireAccessTokens();
      const before = emulator.count(`/${emulator.tenantId}/`);
      const snapshot = await fetch(d);
      expect(snapshot.groups).to.have.length(4);
      expect(emulator.count(`/${emulator.tenantId}/`) - before).to.equal(1);
    });
  });

  describe('permissions', () => {
    beforeEach(() => start(seed));

    it('names GroupMember.Read.All when it is missing', async () => {
      emulator.permissions.delete('GroupMember.Read.All');
      const err = await rejection(fetch(driver()));
      expect(err).to.be.instanceOf(StallError);
      expect((err as StallError).reason).to.equal('AccessDenied');
      expect((err as StallError).missingPermission).to.equal('GroupMember.Read.All');
      expect(err.message).to.contain('Authorization_RequestDenied').and.to.contain('GroupMember.Read.All');
    });

    it('sees a permission granted after a 403 on the next fetch (a new token carries it)', async () => {
      emulator.permissions.delete('GroupMember.Read.All');
      const d = driver();
      await rejection(fetch(d));
      emulator.permissions.add('GroupMember.Read.All');
      const snapshot = await fetch(d);
      expect(snapshot.groups).to.have.length(4);
    });

    it('verify reports each missing permission without throwing', async () => {
      emulator.permissions.delete('User.Read.All');
      emulator.permissions.delete('Application.Read.All');
      const result = await driver({ groups: 'AssignedToApp' }).verify();
      expect(result.ok).to.equal(false);
      const missing = result.checks.filter((c) => !c.ok).map((c) => c.missing);
      expect(missing).to.deep.equal(['User.Read.All', 'Application.Read.All']);
      expect(result.checks.find((c) => c.name === 'GET /v1.0/groups')?.ok).to.equal(true);
    });

    it('verify stops at the token when the secret is wrong', async () => {
      const result = await driver({}, { clientSecret: 'wrong' }).verify();
      expect(result.ok).to.equal(false);
      expect(result.checks).to.have.length(1);
      expect(result.checks[0].message).to.contain('AADSTS7000215');
    });
  });

  describe('AssignedToApp', () => {
    const fixture: DirectoryFixture = {
      ...seed,
      apps: [
        { id: 'app-idpsync', groups: ['g-engineering'], users: ['u-patrick'] },
        { id: 'app-other', groups: ['g-everyone', 'g-support'] },
      ],
    };
    beforeEach(() => start(fixture));

    for (const delta of [true, false]) {
      it(`keeps only the groups assigned to the app and their people (delta ${delta})`, async () => {
        const d = driver({ groups: 'AssignedToApp', delta });
        const snapshot = await fetch(d);
        // DevOps is nested in Engineering but not assigned: Entra does not pass assignments down.
        expect(shape(snapshot)).to.deep.equal({ Engineering: { users: ['u-alice', 'u-bob'], groups: [] } });
        expect(snapshot.users.map((u) => u.id)).to.deep.equal(['u-alice', 'u-bob', 'u-patrick']);

        emulator.directory.apps![0].groups!.push('g-devops');
        const again = await fetch(d);
        expect(shape(again).Engineering.groups).to.deep.equal(['DevOps']);
        expect(again.users.map((u) => u.id)).to.deep.equal(['u-alice', 'u-bob', 'u-john', 'u-patrick']);
      });
    }

    it('uses appId when it names another app', async () => {
      const snapshot = await fetch(driver({ groups: 'AssignedToApp', appId: 'app-other' }));
      expect(Object.keys(shape(snapshot)).sort()).to.deep.equal(['Everyone', 'Support']);
      expect(shape(snapshot).Everyone.groups).to.deep.equal(['Support']);
    });

    it('stalls when no enterprise app has that appId', async () => {
      const err = await rejection(fetch(driver({ groups: 'AssignedToApp', appId: 'missing-app' })));
      expect((err as StallError).reason).to.equal('InvalidConfiguration');
      expect(err.message).to.contain('missing-app');
    });

    it('names Application.Read.All when it is missing', async () => {
      emulator.permissions.delete('Application.Read.All');
      const err = (await rejection(fetch(driver({ groups: 'AssignedToApp' })))) as StallError;
      expect(err.reason).to.equal('AccessDenied');
      expect(err.missingPermission).to.equal('Application.Read.All');
    });
  });

  describe('delta', () => {
    beforeEach(() => start(seed));
    const user = (id: string) => emulator.directory.users.find((u) => u.id === id)!;
    const group = (id: string) => emulator.directory.groups.find((g) => g.id === id)!;

    it('costs at most 3 calls for an unchanged directory and returns the same snapshot', async () => {
      const d = driver();
      const first = await fetch(d);
      const second = await fetch(d);
      expect(second.apiCalls).to.be.at.most(3);
      expect(directory(second)).to.deep.equal(directory(first));
    });

    it('reflects a disabled user, a deleted user, a removed member, a renamed and a deleted group', async () => {
      const d = driver();
      await fetch(d);

      user('u-bob').state = 'suspended';
      let snapshot = await fetch(d);
      expect(snapshot.users.find((u) => u.id === 'u-bob')?.state).to.equal('Suspended');
      expect(snapshot.apiCalls).to.be.at.most(3);

      user('u-john').state = 'deleted'; // recycle bin: @removed reason "changed"
      emulator.directory.users = emulator.directory.users.filter((u) => u.id !== 'u-steve'); // hard delete
      snapshot = await fetch(d);
      expect(snapshot.users.map((u) => u.id)).to.deep.equal(['u-alice', 'u-bob', 'u-patrick']);
      expect(shape(snapshot).DevOps.users).to.deep.equal([]);
      expect(shape(snapshot).Everyone.users).to.deep.equal([]);

      group('g-engineering').members = ['u-alice'];
      group('g-support').name = 'Customer Support';
      snapshot = await fetch(d);
      expect(shape(snapshot).Engineering.users).to.deep.equal(['u-alice']);
      expect(shape(snapshot)['Customer Support']).to.deep.equal({ users: ['u-patrick'], groups: [] });

      emulator.directory.groups = emulator.directory.groups.filter((g) => g.id !== 'g-devops');
      group('g-engineering').groups = [];
      snapshot = await fetch(d);
      expect(Object.keys(shape(snapshot)).sort()).to.deep.equal(['Customer Support', 'Engineering', 'Everyone']);
      expect(shape(snapshot).Engineering.groups).to.deep.equal([]);

      // The incremental picture equals what a fresh full read sees.
      expect(directory(snapshot)).to.deep.equal(directory(await fetch(driver({ delta: false }))));
    });

    it('adds new users and groups with their members', async () => {
      const d = driver();
      await fetch(d);
      emulator.directory.users.push({ id: 'u-zoe', login: 'zoe@company.com', email: 'zoe@company.com', state: 'active' });
      emulator.directory.groups.push({ id: 'g-sre', name: 'SRE', members: ['u-zoe', 'u-john'], groups: [] });
      group('g-everyone').groups!.push('g-sre');
      const snapshot = await fetch(d);
      expect(shape(snapshot).SRE).to.deep.equal({ users: ['u-john', 'u-zoe'], groups: [] });
      expect(shape(snapshot).Everyone.groups).to.deep.equal(['Engineering', 'SRE', 'Support']);
      expect(snapshot.users.find((u) => u.id === 'u-zoe')?.login).to.equal('zoe@company.com');
    });

    it('resyncs fully in the same fetch when the delta token has expired', async () => {
      const d = driver();
      await fetch(d);
      group('g-support').members = [];
      user('u-alice').state = 'suspended';
      emulator.expireDeltaTokens();
      const snapshot = await fetch(d);
      expect(emulator.requests.filter((r) => r.status === 410)).to.have.length(2);
      expect(shape(snapshot)).to.deep.equal(fixtureShape(emulator.directory));
      expect(snapshot.users.find((u) => u.id === 'u-alice')?.state).to.equal('Suspended');
      // and the links handed out by the resync work.
      expect((await fetch(d)).apiCalls).to.be.at.most(3);
    });

    it('returns the delta links in the cursor', async () => {
      const snapshot = await fetch(driver());
      expect(snapshot.cursor?.usersDeltaLink).to.match(/\/v1\.0\/users\/delta\?\$deltatoken=/);
      expect(snapshot.cursor?.groupsDeltaLink).to.match(/\/v1\.0\/groups\/delta\?\$deltatoken=/);
    });
  });

  describe('failures', () => {
    const big = generateFixture(1200, 12);
    beforeEach(() => start(big));

    it('waits out a 429 for as long as Retry-After says', async () => {
      emulator.retryAfterSeconds = 3;
      emulator.faults.rateLimitNext = 2;
      const snapshot = await fetch(driver());
      expect(snapshot.users).to.have.length(1200);
      // Requests refused together share one pause; every pause lasts at least what Retry-After said.
      expect(sleeps.length).to.be.at.least(1);
      expect(sleeps.every((ms) => ms >= 3000)).to.equal(true);
      expect(emulator.requests.filter((r) => r.status === 429)).to.have.length(2);
    });

    for (const delta of [true, false]) {
      it(`fails the whole fetch when one page keeps failing with 500 (delta ${delta})`, async () => {
        emulator.deltaPageSize = 500;
        const d = driver({ delta });
        emulator.pageFailure = 500;
        const err = await rejection(fetch(d));
        expect(err).to.be.instanceOf(TransientError);
        expect((err as TransientError).reason).to.equal('IdpUnavailable');
        emulator.pageFailure = undefined;
        expect(shape(await fetch(d))).to.deep.equal(fixtureShape(big));
      });
    }

    it('keeps the last picture when a delta round fails, and continues from it', async () => {
      const d = driver();
      await fetch(d);
      emulator.directory.groups[0].members = [];
      emulator.faults = { failWith: 500, pathPattern: /\/groups\/delta/ };
      await rejection(fetch(d));
      emulator.faults = {};
      const snapshot = await fetch(d);
      expect(shape(snapshot)).to.deep.equal(fixtureShape(emulator.directory));
    });

    for (const path of ['/v1.0/users/delta', '/v1.0/groups']) {
      it(`treats a 200 without "value" as MalformedResponse (${path})`, async () => {
        emulator.omitValueOn = new RegExp(`^${path.replace(/\//g, '\\/')}$`);
        const err = await rejection(fetch(driver({ delta: path.endsWith('delta') })));
        expect(err).to.be.instanceOf(TransientError);
        expect((err as TransientError).reason).to.equal('MalformedResponse');
      });
    }
  });
});

// Directory safety and control on the real apiserver: the mass-deletion guard, Stalled on bad
// credentials with a readable message, Events for revocations, and operator-generated key pairs.
import { expect } from 'chai';
import { EventsV1Api } from '@kubernetes/client-node';
import { OktaEmulator } from '../emulators/okta/emulator.js';
import { generateFixture, loadFixture } from '../emulators/fixture.js';
import { adminKubeConfig, newNamespace, waitFor } from './harness/index.js';
import { admin, checkInvariants, condition, createDirectory, getDirectory, startTestOperator, syncNow, users, waitForCondition, type TestOperator } from './support/operator.js';
import { ANNOTATIONS } from '../../src/api/v1alpha1/index.js';

const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;

describe('directory semantics end to end', function () {
  let op: TestOperator;
  before(async () => {
    op = await startTestOperator();
  });
  after(async () => op?.stop());

  it('holds back a mass deletion, says how to approve it, and lets it through once approved', async () => {
    const ns = await newNamespace('guard');
    const okta = new OktaEmulator(generateFixture(40, 4));
    await okta.start();
    try {
      await createDirectory(ns, 'corp', okta.connection());
      await waitForCondition(ns, 'corp', 'Ready', 'True');
      okta.directory.users = okta.directory.users.slice(0, 10);
      let ds = await syncNow(ns, 'corp');
      expect(condition(ds, 'DeletionsHeld')).to.equal(undefined);
      expect(ds.status!.counts!.missingUsers).to.equal(30);
      ds = await syncNow(ns, 'corp'); // the listing that confirms them gone
      const held = condition(ds, 'DeletionsHeld')!;
      expect(held.status).to.equal('True');
      expect(held.message).to.contain('Holding back 30 user');
      expect(ds.status!.heldDeletions!.users).to.equal(30);
      expect((await users(ns)).filter((u) => u.spec.state === 'Deleted')).to.have.length(0);
      checkInvariants(ds);

      await admin().mergePatch('DirectorySync', ns, 'corp', { metadata: { annotations: { [ANNOTATIONS.approveDeletions]: ds.status!.heldDeletions!.token } } });
      ds = await waitFor(
        async () => {
          const current = await getDirectory(ns, 'corp');
          return condition(current, 'DeletionsHeld') ? undefined : current;
        },
        { timeoutMs: 60_000, what: 'the approved deletions to go through' },
      );
      expect((await users(ns)).filter((u) => u.spec.state === 'Deleted')).to.have.length(30);
      expect(ds.status!.counts!.deletedUsers).to.equal(30);
    } finally {
      await okta.stop();
    }
  });

  it('stalls on bad credentials with a readable message and does not retry hot', async () => {
    const ns = await newNamespace('badcreds');
    const okta = new OktaEmulator(loadFixture(SEED));
    await okta.start();
    try {
      const good = okta.connection();
      const other = new OktaEmulator(loadFixture(SEED));
      const wrongKey = other.connection().secret.privateKey;
      await createDirectory(ns, 'corp', { ...good, secret: { privateKey: wrongKey } });
      const ds = await waitForCondition(ns, 'corp', 'Stalled', 'True');
      expect(condition(ds, 'Ready')!.status).to.equal('False');
      expect(condition(ds, 'Ready')!.reason).to.equal('InvalidCredentials');
      expect(condition(ds, 'Stalled')!.message).to.match(/public key|client/i);
      expect(condition(ds, 'CredentialsValid')!.status).to.equal('False');
      expect(JSON.stringify(ds.status)).to.not.contain(wrongKey.slice(40, 80));
      checkInvariants(ds);
      const tokenCalls = okta.tokenRequests;
      await new Promise((r) => setTimeout(r, 3000));
      expect(okta.tokenRequests, 'no retries while stalled').to.equal(tokenCalls);
      const handled = await syncNow(ns, 'corp');
      expect(handled.status!.lastHandledSyncAt).to.be.a('string');
      expect(okta.tokenRequests, 'sync-now retries once').to.be.greaterThan(tokenCalls);
    } finally {
      await okta.stop();
    }
  });

  it('emits Events on the User and the DirectorySync when access is revoked', async () => {
    const ns = await newNamespace('events');
    const okta = new OktaEmulator(loadFixture(SEED));
    await okta.start();
    try {
      await createDirectory(ns, 'corp', okta.connection());
      await waitForCondition(ns, 'corp', 'Ready', 'True');
      okta.directory.users.find((u) => u.login === 'bob@company.com')!.state = 'suspended';
      await syncNow(ns, 'corp');
      const events = adminKubeConfig().makeApiClient(EventsV1Api);
      const reasons = await waitFor(
        async () => {
          const list = await events.listNamespacedEvent({ namespace: ns });
          const found = list.items.map((e) => `${e.regarding?.kind}/${e.reason}`);
          return found.includes('User/UserSuspended') && found.includes('DirectorySync/AccessRevoked') ? found : undefined;
        },
        { timeoutMs: 30_000, what: 'revocation events' },
      );
      expect(reasons).to.include.members(['User/UserSuspended', 'DirectorySync/AccessRevoked']);
    } finally {
      await okta.stop();
    }
  });

  it('generates a key pair on request and publishes the public key in status', async () => {
    const ns = await newNamespace('keygen');
    const okta = new OktaEmulator(loadFixture(SEED));
    await okta.start();
    try {
      const conn = okta.connection();
      await admin().apply('DirectorySync', {
        metadata: { name: 'corp', namespace: ns },
        spec: {
          provider: { type: 'okta', okta: conn.settings, allowInsecureLoopback: true },
          credentialsRef: { name: 'okta-generated', generateKeyPair: true },
          interval: '1h',
        },
      });
      const ds = await waitFor(async () => (await getDirectory(ns, 'corp')).status?.publicKey, { timeoutMs: 60_000, what: 'status.publicKey' });
      const jwk = JSON.parse(ds.jwk);
      expect(jwk).to.include({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: ds.keyId });
      expect(jwk).to.not.have.property('d');
      expect(ds.pem).to.contain('BEGIN PUBLIC KEY');
      // Until the admin registers the key, the IdP refuses it: Stalled, not a hot loop.
      await waitForCondition(ns, 'corp', 'Stalled', 'True');
      okta.registerClient(String(conn.settings.clientId), jwk);
      await syncNow(ns, 'corp');
      await waitForCondition(ns, 'corp', 'Ready', 'True');
    } finally {
      await okta.stop();
    }
  });
});

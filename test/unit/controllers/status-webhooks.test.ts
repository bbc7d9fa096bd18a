import { expect } from 'chai';
import type { V1Secret } from '@kubernetes/client-node';
import { API_VERSION, type DirectorySync, type DirectorySyncSpec, type DirectorySyncStatus } from '../../../src/api/v1alpha1/index.js';
import { decide, type Plan } from '../../../src/directory/decide.js';
import { nextStatus, type Outcome, type StatusInput } from '../../../src/controllers/directorysync/status.js';
import { webhookTargets } from '../../../src/controllers/directorysync/notifications.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { TransientError } from '../../../src/errors.js';
import { directory, group, snapshot, user } from '../../support/builders.js';

const T0 = new Date('2026-03-01T00:00:00Z');
const minutes = (n: number) => new Date(T0.getTime() + n * 60_000);
const HEARTBEAT_MS = 60 * 60_000;

const db = [{ address: '10.20.0.0/16', ports: ['5432'], protocols: ['TCP' as const] }];

/** A first sync of three groups, with whatever spec.policies the test gives. */
function plan(policies: DirectorySyncSpec['policies'] = []): Plan {
  return decide({
    directory: directory({ policies }),
    snapshot: snapshot(
      [user('u1', 'ann@x.io'), user('u2', 'ben@x.io')],
      [group('g-eng', 'Engineering', ['u1']), group('g-ops', 'Ops-Oncall', ['u2']), group('g-sales', 'Sales', ['u1', 'u2'])],
    ),
    existingUsers: [],
    existingGroups: [],
    now: T0,
  });
}

const synced = (p: Plan = plan()): Outcome => ({ kind: 'synced', plan: p, apiCalls: 4, writes: 5, provider: 'okta' });

function status(mods: Partial<StatusInput> = {}): DirectorySyncStatus {
  return nextStatus({ previous: {}, generation: 1, now: T0, outcome: synced(), heartbeatMs: HEARTBEAT_MS, ...mods }).status;
}

const condition = (s: DirectorySyncStatus, type: string) => s.conditions?.find((c) => c.type === type);

describe('controllers/directorysync/status: webhooks and policies', () => {
  describe('WebhooksConfigured', () => {
    it('is absent when the DirectorySync has no webhooks', () => {
      expect(condition(status(), 'WebhooksConfigured')).to.equal(undefined);
      expect(condition(status({ webhooks: { configured: 0, problems: [] } }), 'WebhooksConfigured')).to.equal(undefined);
      expect(condition(status(), 'Ready')).to.deep.include({ status: 'True', reason: 'Synced' });
    });

    it('is removed once the webhooks are removed from the spec', () => {
      const before = status({ webhooks: { configured: 2, problems: [] } });
      expect(condition(before, 'WebhooksConfigured')).to.not.equal(undefined);
      for (const webhooks of [undefined, { configured: 0, problems: [] }]) {
        const { status: after, changed } = nextStatus({ previous: before, generation: 2, now: minutes(1), outcome: synced(), webhooks, heartbeatMs: HEARTBEAT_MS });
        expect(changed).to.equal(true);
        expect(condition(after, 'WebhooksConfigured')).to.equal(undefined);
        expect(condition(after, 'Ready')).to.deep.include({ status: 'True' });
      }
    });

    it('is True when every webhook has its signing secret', () => {
      const c = condition(status({ webhooks: { configured: 2, problems: [] } }), 'WebhooksConfigured');
      expect(c).to.deep.include({ status: 'True', reason: 'Configured', observedGeneration: 1, lastTransitionTime: T0.toISOString() });
      expect(c!.message).to.contain('2 webhook(s)');
    });

    it('is False with every problem in the message when a signing secret is missing', () => {
      const problems = ['webhook gone: Secret nowhere does not exist', 'webhook wrong-key: Secret shared has no key "hmac"'];
      for (const configured of [0, 1]) {
        const c = condition(status({ webhooks: { configured, problems } }), 'WebhooksConfigured');
        expect(c).to.deep.include({ status: 'False', reason: 'WebhookSecretInvalid' });
        for (const p of problems) expect(c!.message).to.contain(p);
      }
    });

    it('is reported when the sync itself failed', () => {
      const failed: Outcome = { kind: 'failed', error: new TransientError('IdpUnavailable', 'HTTP 503 from example.okta.com') };
      const s = status({ outcome: failed, webhooks: { configured: 0, problems: ['webhook gone: Secret nowhere does not exist'] } });
      expect(condition(s, 'Ready')).to.deep.include({ status: 'False', reason: 'IdpUnavailable' });
      expect(condition(s, 'WebhooksConfigured')).to.deep.include({ status: 'False', reason: 'WebhookSecretInvalid' });
    });

    it('changes the status only when the webhook state changes, and moves its time only then', () => {
      const ok = { configured: 1, problems: [] };
      const first = status({ webhooks: ok });

      const same = nextStatus({ previous: first, generation: 1, now: minutes(5), outcome: synced(), webhooks: ok, heartbeatMs: HEARTBEAT_MS });
      expect(same.changed).to.equal(false);
      expect(same.status).to.equal(first);

      const broken = nextStatus({
        previous: first,
        generation: 1,
        now: minutes(10),
        outcome: synced(),
        webhooks: { configured: 0, problems: ['webhook gateway: Secret gateway-signing does not exist'] },
        heartbeatMs: HEARTBEAT_MS,
      });
      expect(broken.changed).to.equal(true);
      expect(condition(broken.status, 'WebhooksConfigured')).to.deep.include({ status: 'False', lastTransitionTime: minutes(10).toISOString() });
      expect(condition(broken.status, 'Ready')!.lastTransitionTime).to.equal(T0.toISOString());

      const fixed = nextStatus({ previous: broken.status, generation: 1, now: minutes(20), outcome: synced(), webhooks: ok, heartbeatMs: HEARTBEAT_MS });
      expect(fixed.changed).to.equal(true);
      expect(condition(fixed.status, 'WebhooksConfigured')).to.deep.include({ status: 'True', lastTransitionTime: minutes(20).toISOString() });
    });

    it('shows what webhookTargets found wrong, and never the secret', async () => {
      const signing = 'do-not-show-this-anywhere';
      const ds: DirectorySync = {
        apiVersion: API_VERSION,
        kind: 'DirectorySync',
        metadata: { name: 'corp', namespace: 'team-a', uid: 'uid-corp' },
        spec: {
          ...directory().spec,
          notifications: {
            webhooks: [
              { name: 'gateway', url: 'https://gw.example.com/hook', secretRef: { name: 'signing', key: 'signingSecret' }, allowInsecureLoopback: false },
              { name: 'proxy', url: 'https://proxy.example.com/hook', secretRef: { name: 'signing', key: 'proxy' }, allowInsecureLoopback: false },
            ],
          },
        },
      };
      const stored: V1Secret = { metadata: { name: 'signing', namespace: 'team-a' }, data: { signingSecret: Buffer.from(signing).toString('base64') } };
      const kube = { getSecret: async (namespace: string, name: string) => (namespace === 'team-a' && name === 'signing' ? stored : undefined) } as unknown as KubeClient;
      const { targets, problems } = await webhookTargets(ds, kube, () => {});

      const s = status({ webhooks: { configured: targets.filter((t) => t.secret !== '').length, problems } });
      const c = condition(s, 'WebhooksConfigured')!;
      expect(c).to.deep.include({ status: 'False', reason: 'WebhookSecretInvalid' });
      expect(c.message).to.contain('proxy').and.contain('"proxy"');
      expect(JSON.stringify(s)).to.not.contain(signing);
    });
  });

  describe('status.policies', () => {
    const rule = (name: string, names: string[]) => ({ name, groups: { names }, resources: db });

    it('is the number of declared Policies once a sync succeeded', () => {
      const p = plan([rule('db', ['Engineering', 'Ops-Oncall']), rule('crm', ['Sales'])]);
      expect(p.policies.total).to.equal(3);
      expect(status({ outcome: synced(p) }).policies).to.equal(3);
    });

    it('drops to zero when the rules go', () => {
      const before = status({ outcome: synced(plan([rule('db', ['Engineering'])])) });
      expect(before.policies).to.equal(1);
      const { status: after, changed } = nextStatus({ previous: before, generation: 2, now: minutes(1), outcome: synced(plan()), heartbeatMs: HEARTBEAT_MS });
      expect(changed).to.equal(true);
      expect(after.policies).to.equal(0);
    });

    it('keeps the last known number while syncs fail', () => {
      const before = status({ outcome: synced(plan([rule('db', ['Engineering', 'Sales'])])) });
      const failed: Outcome = { kind: 'failed', error: new TransientError('Timeout', 'the IdP did not answer within 30s') };
      const { status: after } = nextStatus({ previous: before, generation: 1, now: minutes(1), outcome: failed, heartbeatMs: HEARTBEAT_MS });
      expect(after.policies).to.equal(2);
    });
  });
});

import { expect } from 'chai';
import type { V1Secret } from '@kubernetes/client-node';
import { API_VERSION, type DirectorySync, type Webhook } from '../../../src/api/v1alpha1/index.js';
import type { Revocation } from '../../../src/directory/decide.js';
import type { KubeClient } from '../../../src/kube/client.js';
import { isCloudEvent } from '../../../src/notify/cloudevent.js';
import { parseRevocationEventId, policyRemovedEvent, revocationEvent, revocationEventId, webhookTargets } from '../../../src/controllers/directorysync/notifications.js';
import { directory } from '../../support/builders.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const SOURCE = '/apis/idpsync.io/v1alpha1/namespaces/team-a/directorysyncs/corp';

function revocation(user: string, reason: Revocation['reason'], groups: string[] = [], id = 'r1'): Revocation {
  return { user, login: `${user}@example.com`, reason, groups, record: { id, time: NOW.toISOString(), reason, groups, pending: [] } };
}

/** A Secret as the apiserver returns it: values base64-encoded in `data`. */
function secret(name: string, values: Record<string, string>): V1Secret {
  return {
    metadata: { name, namespace: 'team-a' },
    data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/** Just enough of KubeClient for webhookTargets: Secrets by namespace/name, and a log of the reads. */
function fakeKube(secrets: V1Secret[]) {
  const reads: string[] = [];
  const kube = {
    reads,
    async getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
      reads.push(`${namespace}/${name}`);
      return secrets.find((s) => s.metadata!.namespace === namespace && s.metadata!.name === name);
    },
  };
  return kube as typeof kube & KubeClient;
}

/**
 * A webhook as written in spec.notifications. Fields the apiserver defaults (secretRef.key,
 * allowInsecureLoopback) may be left out, as they are in objects read from older apiservers or caches.
 */
function webhook(name: string, mods: Partial<Omit<Webhook, 'secretRef'>> & { secretRef?: { name: string; key?: string } } = {}): Webhook {
  return { name, url: `https://${name}.example.com/hooks`, secretRef: { name: `${name}-signing` }, ...mods } as Webhook;
}

function directorySync(webhooks?: Webhook[]): DirectorySync {
  const ref = directory();
  return {
    apiVersion: API_VERSION,
    kind: 'DirectorySync',
    metadata: { name: ref.name, namespace: ref.namespace, uid: 'uid-corp' },
    spec: { ...ref.spec, ...(webhooks ? { notifications: { webhooks } } : {}) },
  };
}

describe('controllers/directorysync/notifications', () => {
  describe('revocationEvent', () => {
    const events = (revocations: Revocation[], namespace = 'team-a', dir = 'corp') =>
      revocations.map((r) => revocationEvent(namespace, dir, { name: r.user, login: r.login }, r.record));

    it('gives each revocation reason its event type', () => {
      const out = events([revocation('ann', 'Suspended'), revocation('ben', 'Deleted'), revocation('cat', 'RemovedFromGroups', ['corp-eng'])]);
      expect(out.map((e) => e.type)).to.deep.equal(['io.idpsync.user.suspended', 'io.idpsync.user.deleted', 'io.idpsync.membership.removed']);
    });

    it('names the DirectorySync as source and the User as subject, and carries who lost what, at the time of the record', () => {
      const [event] = events([revocation('corp-ann-1a2b', 'RemovedFromGroups', ['corp-eng', 'corp-ops'])]);
      expect(event).to.deep.include({
        specversion: '1.0',
        source: SOURCE,
        subject: 'users/corp-ann-1a2b',
        time: NOW.toISOString(),
        datacontenttype: 'application/json',
      });
      expect(event.data).to.deep.equal({
        namespace: 'team-a',
        directory: 'corp',
        user: { name: 'corp-ann-1a2b', login: 'corp-ann-1a2b@example.com' },
        reason: 'RemovedFromGroups',
        groups: ['corp-eng', 'corp-ops'],
      });
      expect(isCloudEvent(JSON.parse(JSON.stringify(event)))).to.equal(true);
    });

    it('derives the id from the record: the same record gives the same id, different records different ids', () => {
      const revocations = [revocation('ann', 'Suspended', [], 'r1'), revocation('ann', 'Suspended', [], 'r2'), revocation('ben', 'Deleted', [], 'r1')];
      const first = events(revocations).map((e) => e.id);
      const again = events(revocations).map((e) => e.id);
      expect(first).to.deep.equal(again);
      expect(new Set(first).size).to.equal(3);
      expect(first.map((id) => parseRevocationEventId(id))).to.deep.equal([
        { user: 'ann', recordId: 'r1' },
        { user: 'ann', recordId: 'r2' },
        { user: 'ben', recordId: 'r1' },
      ]);
    });

    it('parses the id of a User whose name has dots', () => {
      expect(parseRevocationEventId(revocationEventId('corp-a.b.c-1a2b', 'abc123'))).to.deep.equal({ user: 'corp-a.b.c-1a2b', recordId: 'abc123' });
      expect(parseRevocationEventId('no-dot')).to.equal(undefined);
    });

    it('tells directories and namespaces apart by source', () => {
      const [other] = events([revocation('ann', 'Deleted')], 'team-b', 'acquired');
      expect(other.source).to.equal('/apis/idpsync.io/v1alpha1/namespaces/team-b/directorysyncs/acquired');
      expect(other.data).to.deep.include({ namespace: 'team-b', directory: 'acquired' });
    });
  });

  describe('policyRemovedEvent', () => {
    it('is a policy.removed event about the Policy, from its directory', () => {
      const data = {
        namespace: 'team-a',
        directory: 'corp',
        policy: 'db-access',
        group: 'corp-eng',
        reason: 'GroupDeleted' as const,
        resources: [{ address: '10.20.0.0/16', ports: ['5432'] }],
      };
      const event = policyRemovedEvent(data, NOW);
      expect(event).to.deep.include({ type: 'io.idpsync.policy.removed', source: SOURCE, subject: 'policies/db-access', time: NOW.toISOString() });
      expect(event.data).to.deep.equal(data);
      expect(isCloudEvent(JSON.parse(JSON.stringify(event)))).to.equal(true);
      expect(policyRemovedEvent(data, NOW).id).to.not.equal(event.id);
    });
  });

  describe('webhookTargets', () => {
    it('has nothing to do without spec.notifications', async () => {
      const kube = fakeKube([]);
      const registered: string[] = [];
      const result = await webhookTargets(directorySync(), kube, (v) => registered.push(v));
      expect(result).to.deep.equal({ targets: [], problems: [] });
      expect(kube.reads).to.deep.equal([]);
      expect(registered).to.deep.equal([]);
    });

    it('turns each webhook into a target with the secret read from its Secret', async () => {
      const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
      const ds = directorySync([
        webhook('gateway', { secretRef: { name: 'gateway-signing', key: 'hmac' }, types: ['io.idpsync.user.suspended', 'io.idpsync.user.deleted'], caBundle: ca }),
        webhook('proxy', { url: 'http://127.0.0.1:8080/hook', allowInsecureLoopback: true, types: [] }),
      ]);
      const kube = fakeKube([secret('gateway-signing', { hmac: 'whsec_Z2F0ZXdheQ==', unrelated: 'x' }), secret('proxy-signing', { signingSecret: 'proxy-secret' })]);
      const registered: string[] = [];
      const { targets, problems } = await webhookTargets(ds, kube, (v) => registered.push(v));
      expect(problems).to.deep.equal([]);
      expect(targets).to.deep.equal([
        {
          name: 'gateway',
          url: 'https://gateway.example.com/hooks',
          secret: 'whsec_Z2F0ZXdheQ==',
          types: ['io.idpsync.user.suspended', 'io.idpsync.user.deleted'],
          caBundle: ca,
          allowInsecureLoopback: false,
        },
        { name: 'proxy', url: 'http://127.0.0.1:8080/hook', secret: 'proxy-secret', allowInsecureLoopback: true },
      ]);
      expect(registered).to.have.members(['whsec_Z2F0ZXdheQ==', 'proxy-secret']);
      expect(kube.reads).to.deep.equal(['team-a/gateway-signing', 'team-a/proxy-signing']);
    });

    it('reads the signingSecret key and refuses insecure loopback unless the spec says otherwise', async () => {
      const { targets } = await webhookTargets(directorySync([webhook('gateway')]), fakeKube([secret('gateway-signing', { signingSecret: 's3cr3t' })]), () => {});
      expect(targets).to.have.length(1);
      expect(targets[0].secret).to.equal('s3cr3t');
      expect(targets[0].allowInsecureLoopback).to.equal(false);
      expect(targets[0]).to.not.have.property('types');
      expect(targets[0]).to.not.have.property('caBundle');
    });

    it('reports a missing Secret and a missing key by webhook, without the secret values', async () => {
      const ds = directorySync([
        webhook('gone', { secretRef: { name: 'nowhere' } }),
        webhook('wrong-key', { secretRef: { name: 'shared', key: 'hmac' } }),
        webhook('fine', { secretRef: { name: 'shared' } }),
      ]);
      const kube = fakeKube([secret('shared', { signingSecret: 'correct-horse-battery', token: 'tok-9f8e7d' })]);
      const registered: string[] = [];
      const { targets, problems } = await webhookTargets(ds, kube, (v) => registered.push(v));

      // Broken webhooks stay configured with no secret, so their events wait instead of being discarded.
      expect(targets.map((t) => [t.name, t.secret !== ''])).to.deep.equal([['gone', false], ['wrong-key', false], ['fine', true]]);
      expect(problems).to.have.length(2);
      expect(problems[0]).to.contain('gone').and.contain('nowhere').and.contain('does not exist');
      expect(problems[1]).to.contain('wrong-key').and.contain('shared').and.contain('"hmac"');
      for (const p of problems) {
        expect(p).to.not.contain('correct-horse-battery');
        expect(p).to.not.contain('tok-9f8e7d');
        expect(p).to.not.contain(Buffer.from('correct-horse-battery').toString('base64'));
      }
      expect(registered).to.deep.equal(['correct-horse-battery']);
    });

    it('treats an empty secret as missing rather than signing with it', async () => {
      const { targets, problems } = await webhookTargets(directorySync([webhook('gateway')]), fakeKube([secret('gateway-signing', { signingSecret: '' })]), () => {});
      expect(targets.map((t) => t.secret)).to.deep.equal(['']);
      expect(problems).to.have.length(1);
      expect(problems[0]).to.contain('gateway').and.to.contain('empty');
    });

    it('reports a Secret it may not read as a problem of that webhook and still configures the others', async () => {
      const kube = fakeKube([secret('audit-signing', { signingSecret: 'audit-secret' })]);
      const read = kube.getSecret.bind(kube);
      kube.getSecret = async (namespace: string, name: string) => {
        if (name === 'gateway-signing') throw Object.assign(new Error('secrets "gateway-signing" is forbidden'), { code: 403 });
        return read(namespace, name);
      };
      const { targets, problems } = await webhookTargets(directorySync([webhook('gateway'), webhook('audit')]), kube, () => {});
      expect(targets.map((t) => [t.name, t.secret])).to.deep.equal([['gateway', ''], ['audit', 'audit-secret']]);
      expect(problems).to.have.length(1);
      expect(problems[0]).to.contain('webhook gateway: cannot read Secret gateway-signing').and.to.contain('forbidden');
    });

    it('reads Secrets from the DirectorySync namespace only', async () => {
      const elsewhere = { ...secret('gateway-signing', { signingSecret: 's' }), metadata: { name: 'gateway-signing', namespace: 'other' } };
      const { targets, problems } = await webhookTargets(directorySync([webhook('gateway')]), fakeKube([elsewhere]), () => {});
      expect(targets.map((t) => t.secret)).to.deep.equal(['']);
      expect(problems[0]).to.contain('does not exist');
    });
  });
});

// Access policies on the real control plane with the garbage collector running: declared and authored
// Policies resolve to their Groups; deleting a group in the IdP removes its Group and, through the
// garbage collector, its Policies; `idpsync access` answers who reaches what; revocations reach a
// webhook receiver as signed CloudEvents, also after it was down for a while.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { CoreV1Api } from '@kubernetes/client-node';
import { GoogleWorkspaceEmulator } from '../emulators/google/emulator.js';
import { loadFixture } from '../emulators/fixture.js';
import { adminKubeConfig, adminKubeconfigPath, newNamespace, waitFor } from './harness/index.js';
import { admin, createDirectory, getDirectory, groups, startTestOperator, syncNow, waitForCondition, type TestOperator } from './support/operator.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { LABELS, type DirectorySync, type Group, type Policy, type PolicySpec } from '../../src/api/v1alpha1/index.js';
import { registry } from '../../src/runtime/metrics.js';

const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;
const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const run = promisify(execFile);

const DB = [{ address: '10.20.0.0/16', ports: ['5432'], protocols: ['TCP' as const] }];
const DASHBOARDS = [{ address: '*.dash.corp.example.com', ports: ['443'] }];

async function policies(ns: string): Promise<Policy[]> {
  return admin().list<Policy>('Policy', ns);
}

async function groupNamed(ns: string, displayName: string): Promise<Group | undefined> {
  return (await groups(ns)).find((g) => g.spec.displayName === displayName);
}

async function authorPolicy(ns: string, name: string, group: PolicySpec['group'], resources: PolicySpec['resources'] = DASHBOARDS): Promise<void> {
  await admin().apply('Policy', { metadata: { name, namespace: ns }, spec: { group, resources } });
}

function ready(p: Policy | undefined) {
  return p?.status?.conditions?.find((c) => c.type === 'Ready');
}

async function waitForPolicy(ns: string, name: string, check: (p: Policy | undefined) => boolean, what: string): Promise<Policy | undefined> {
  let last: Policy | undefined;
  await waitFor(
    async () => {
      last = await admin().get<Policy>('Policy', ns, name);
      return check(last);
    },
    { timeoutMs: 60_000, intervalMs: 250, what: `Policy ${ns}/${name} ${what}` },
  );
  return last;
}

async function access(ns: string, ...args: string[]): Promise<any> {
  const { stdout } = await run('npx', ['tsx', CLI, 'access', ...args, '-n', ns, '--kubeconfig', adminKubeconfigPath(), '-o', 'json'], { timeout: 60_000 });
  return JSON.parse(stdout);
}

describe('access policies end to end', function () {
  let op: TestOperator;
  before(async () => {
    op = await startTestOperator({ webhookBackoffMs: { base: 200, max: 1000 } });
  });
  after(async () => op?.stop());

  it('resolves declared and authored Policies, and a group deleted in the IdP takes its Policies with it', async () => {
    const ns = await newNamespace('policies');
    const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));
    await idp.start();
    try {
      await createDirectory(ns, 'corp', idp.connection(), {
        policies: [{ name: 'db', groups: { names: ['Engineering'], patterns: ['dev*'] }, resources: DB }],
      });
      await waitForCondition(ns, 'corp', 'Ready', 'True');
      await authorPolicy(ns, 'eng-dashboards', { idpName: 'Engineering', directory: 'corp' });
      await authorPolicy(ns, 'devops-dashboards', { idpId: 'g-devops' });
      await authorPolicy(ns, 'nobody', { idpName: 'No Such Group' });

      const eng = (await groupNamed(ns, 'Engineering'))!;
      const devops = (await groupNamed(ns, 'DevOps'))!;
      // Declared: one per matching group, owned by it.
      const declared = await waitFor(
        async () => {
          const list = (await policies(ns)).filter((p) => p.metadata.labels?.[LABELS.policyRule] === 'db');
          return list.length === 2 && list.every((p) => ready(p)?.status === 'True') ? list : undefined;
        },
        { timeoutMs: 60_000, what: 'two declared Policies resolved' },
      );
      const byGroup = Object.fromEntries(declared.map((p) => [p.status!.resolvedGroup, p]));
      expect(Object.keys(byGroup).sort()).to.deep.equal([eng.metadata.name, devops.metadata.name].sort());
      expect(byGroup[eng.metadata.name!].metadata.ownerReferences).to.deep.include({
        apiVersion: 'idpsync.io/v1alpha1', kind: 'Group', name: eng.metadata.name!, uid: eng.metadata.uid!, controller: true, blockOwnerDeletion: false,
      });
      expect(byGroup[eng.metadata.name!].status!.memberCount).to.equal(3);
      expect((await getDirectory(ns, 'corp')).status!.policies).to.equal(2);

      // Authored: resolved by IdP name or id, the Group added as owner, labelled for kubectl -l.
      const authored = await waitForPolicy(ns, 'eng-dashboards', (p) => ready(p)?.status === 'True', 'Ready');
      expect(authored!.status).to.include({ resolvedGroup: eng.metadata.name, resolvedIdpId: 'g-engineering', directory: 'corp', memberCount: 3 });
      expect(authored!.metadata.ownerReferences!.map((r) => r.uid)).to.deep.equal([eng.metadata.uid]);
      expect(authored!.metadata.labels![LABELS.group]).to.equal(eng.metadata.name);
      await waitForPolicy(ns, 'devops-dashboards', (p) => p?.status?.resolvedGroup === devops.metadata.name, 'resolved to DevOps');
      const inert = await waitForPolicy(ns, 'nobody', (p) => ready(p)?.reason === 'GroupNotFound', 'inert');
      expect(ready(inert)!.message).to.contain('No Group matches IdP name "No Such Group"');
      expect(inert!.metadata.ownerReferences ?? []).to.deep.equal([]);

      // The IdP deletes DevOps: its Group goes, and the garbage collector removes both its Policies.
      idp.directory.groups = idp.directory.groups.filter((g) => g.id !== 'g-devops');
      for (const g of idp.directory.groups) g.groups = (g.groups ?? []).filter((id) => id !== 'g-devops');
      await syncNow(ns, 'corp');
      await syncNow(ns, 'corp'); // the listing that confirms DevOps is gone
      expect(await groupNamed(ns, 'DevOps')).to.equal(undefined);
      await waitFor(
        async () => {
          const names = (await policies(ns)).map((p) => p.metadata.name);
          return !names.includes('devops-dashboards') && !names.includes(byGroup[devops.metadata.name!].metadata.name) ? names : undefined;
        },
        { timeoutMs: 60_000, what: 'the garbage collector to delete the DevOps Policies' },
      );
      await waitForPolicy(ns, 'eng-dashboards', (p) => p?.status?.memberCount === 2, 'to count 2 members after john left');
      expect((await policies(ns)).map((p) => p.metadata.name)).to.include.members(['eng-dashboards', 'nobody']);

      // GitOps applies the Policy again: it stays inert, and re-attaches when the group returns.
      await authorPolicy(ns, 'devops-dashboards', { idpId: 'g-devops' });
      await waitForPolicy(ns, 'devops-dashboards', (p) => ready(p)?.reason === 'GroupNotFound', 'inert while DevOps is gone');
      idp.directory.groups.push({ id: 'g-devops', name: 'DevOps', members: ['u-john'], groups: [] });
      await syncNow(ns, 'corp');
      const back = (await groupNamed(ns, 'DevOps'))!;
      const reattached = await waitForPolicy(ns, 'devops-dashboards', (p) => ready(p)?.status === 'True', 're-attached');
      expect(reattached!.metadata.ownerReferences!.map((r) => r.uid)).to.deep.equal([back.metadata.uid]);
    } finally {
      await idp.stop();
    }
  });

  it('answers who can reach what with idpsync access, and reflects a removal at once', async () => {
    const ns = await newNamespace('access');
    const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));
    await idp.start();
    try {
      await createDirectory(ns, 'corp', idp.connection(), { policies: [{ name: 'db', groups: { names: ['Engineering'] }, resources: DB }] });
      await waitForCondition(ns, 'corp', 'Ready', 'True');
      await authorPolicy(ns, 'everyone-dashboards', { idpName: 'Everyone' });
      await waitFor(async () => (await policies(ns)).every((p) => ready(p)?.status === 'True') && (await policies(ns)).length === 2, {
        timeoutMs: 60_000,
        what: 'both Policies resolved',
      });

      const alice = await access(ns, 'alice@company.com');
      const addresses = (r: any) => JSON.stringify(r).match(/10\.20\.0\.0\/16|\*\.dash\.corp\.example\.com/g) ?? [];
      expect(addresses(alice)).to.include.members(['10.20.0.0/16', '*.dash.corp.example.com']);
      const reach = await access(ns, '--resource', '10.20.3.4', '--port', '5432');
      const reachLogins = JSON.stringify(reach);
      for (const login of ['alice@company.com', 'bob@company.com', 'john@company.com']) expect(reachLogins).to.contain(login);
      expect(reachLogins).to.not.contain('patrick@company.com');

      // Alice leaves Engineering in the IdP: after one sync she reaches the dashboards only.
      const engineering = idp.directory.groups.find((g) => g.id === 'g-engineering')!;
      engineering.members = engineering.members!.filter((id) => id !== 'u-alice');
      idp.directory.groups.find((g) => g.id === 'g-everyone')!.members!.push('u-alice');
      await syncNow(ns, 'corp');
      const after = await access(ns, 'alice@company.com');
      expect(addresses(after)).to.deep.equal(['*.dash.corp.example.com']);
      expect(JSON.stringify(await access(ns, '--resource', '10.20.3.4', '--port', '5432'))).to.not.contain('alice@company.com');
    } finally {
      await idp.stop();
    }
  });

  it('sends each revocation as a signed CloudEvent, also after the receiver was down', async () => {
    const ns = await newNamespace('webhooks');
    const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));
    const secret = 'whsec_' + Buffer.from('a shared secret for the gateway').toString('base64');
    const receiver = await startWebhookReceiver({ secret });
    await idp.start();
    try {
      await adminKubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'gateway-hook' }, stringData: { signingSecret: secret } } });
      await createDirectory(ns, 'corp', idp.connection(), {
        policies: [{ name: 'db', groups: { names: ['DevOps'] }, resources: DB }],
        notifications: { webhooks: [{ name: 'gateway', url: receiver.url, secretRef: { name: 'gateway-hook', key: 'signingSecret' }, allowInsecureLoopback: true }] },
      });
      await waitForCondition(ns, 'corp', 'WebhooksConfigured', 'True');
      await waitFor(async () => ready((await policies(ns))[0])?.status === 'True', { timeoutMs: 60_000, what: 'the DevOps Policy resolved' });

      receiver.setDown(503);
      const steve = idp.directory.users.find((u) => u.id === 'u-steve')!;
      steve.state = 'suspended';
      const support = idp.directory.groups.find((g) => g.id === 'g-support')!;
      support.members = [];
      idp.directory.users.find((u) => u.id === 'u-patrick')!.state = 'active';
      idp.directory.groups.find((g) => g.id === 'g-everyone')!.members!.push('u-patrick');
      idp.directory.groups = idp.directory.groups.filter((g) => g.id !== 'g-devops');
      for (const g of idp.directory.groups) g.groups = (g.groups ?? []).filter((id) => id !== 'g-devops');
      await syncNow(ns, 'corp');
      await syncNow(ns, 'corp'); // the listing that confirms DevOps is gone

      // While the receiver is down, the failures show in status and metrics, and nothing is lost.
      const failing = await waitFor(
        async () => {
          const ds: DirectorySync = await getDirectory(ns, 'corp');
          const hook = ds.status?.notifications?.webhooks.find((w) => w.name === 'gateway');
          return hook && hook.failedAttempts >= 2 && hook.pending >= 4 ? hook : undefined;
        },
        { timeoutMs: 60_000, what: 'status.notifications to show failing deliveries' },
      );
      expect(failing.lastError).to.contain('503');
      expect(failing.lastError).to.not.contain(secret);
      expect(await registry.getSingleMetricAsString('idpsync_webhook_deliveries_total')).to.match(/result="failure"[^\n]* [1-9]/);
      await new Promise((r) => setTimeout(r, 2000));
      expect(receiver.events).to.have.length(0);

      receiver.setDown(false);
      const types = (e: { type: string; data: any }) => `${e.type} ${e.data.user?.login ?? e.data.policy ?? ''}`;
      // Four revocations, in whatever order they were recorded: three people and one Policy.
      await receiver.waitFor(() => receiver.events.length >= 4 && receiver.events.some((e) => e.type === 'io.idpsync.policy.removed'), 60_000);
      const got = receiver.events.map(types);
      expect(got).to.include('io.idpsync.user.suspended steve@company.com');
      expect(got).to.include('io.idpsync.membership.removed patrick@company.com');
      expect(got).to.include('io.idpsync.membership.removed john@company.com');
      expect(got.filter((t) => t.startsWith('io.idpsync.policy.removed'))).to.have.length(1);
      expect(receiver.rejected).to.equal(0);
      const john = receiver.events.find((e) => types(e) === 'io.idpsync.membership.removed john@company.com')!;
      expect(john).to.include({ specversion: '1.0', source: `/apis/idpsync.io/v1alpha1/namespaces/${ns}/directorysyncs/corp` });
      const removed = receiver.events.find((e) => e.type === 'io.idpsync.policy.removed')!;
      expect((removed.data as any).reason).to.equal('GroupDeleted');

      const delivered = await waitFor(
        async () => {
          const hook = (await getDirectory(ns, 'corp')).status?.notifications?.webhooks.find((w) => w.name === 'gateway');
          return hook && hook.pending === 0 && hook.delivered >= 4 ? hook : undefined;
        },
        { timeoutMs: 30_000, what: 'status.notifications to show the deliveries' },
      );
      expect(delivered.dropped).to.equal(0);
    } finally {
      await idp.stop();
      await receiver.close();
    }
  });

  it('delivers revocations still pending when the operator stopped, after a new one starts', async () => {
    const ns = await newNamespace('outbox');
    const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));
    const secret = 'outbox test secret';
    const receiver = await startWebhookReceiver({ secret });
    await idp.start();
    try {
      await adminKubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'hook' }, stringData: { signingSecret: secret } } });
      await createDirectory(ns, 'corp', idp.connection(), {
        notifications: { webhooks: [{ name: 'gateway', url: receiver.url, secretRef: { name: 'hook', key: 'signingSecret' }, allowInsecureLoopback: true }] },
      });
      await waitForCondition(ns, 'corp', 'Ready', 'True');
      receiver.setDown(503);
      idp.directory.users.find((u) => u.id === 'u-bob')!.state = 'suspended';
      idp.directory.users.find((u) => u.id === 'u-alice')!.state = 'suspended';
      await syncNow(ns, 'corp');
      await waitFor(
        async () => {
          const stored = await adminKubeConfig().makeApiClient(CoreV1Api).readNamespacedSecret({ namespace: ns, name: 'corp-webhook-outbox' }).catch(() => undefined);
          return stored?.data && Object.keys(stored.data).length > 0 && (await getDirectory(ns, 'corp')).status?.notifications?.webhooks[0]?.pending === 2;
        },
        { timeoutMs: 30_000, what: 'two pending events kept in the outbox Secret' },
      );

      await op.stop();
      op = await startTestOperator({ webhookBackoffMs: { base: 200, max: 1000 } });
      receiver.setDown(false);
      await receiver.waitFor(() => receiver.events.length >= 2, 60_000);
      const logins = receiver.events.map((e) => `${e.type} ${(e.data as any).user.login}`).sort();
      expect(logins).to.deep.equal(['io.idpsync.user.suspended alice@company.com', 'io.idpsync.user.suspended bob@company.com']);
      expect(new Set(receiver.events.map((e) => e.id)).size).to.equal(receiver.events.length);
      expect(receiver.rejected).to.equal(0);
    } finally {
      await idp.stop();
      await receiver.close();
    }
  });

  it('rejects a webhook that is not HTTPS at admission, with a readable message', async () => {
    const ns = await newNamespace('hookvalidation');
    const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));
    const err = await createDirectory(ns, 'corp', idp.connection(), {
      notifications: { webhooks: [{ name: 'gateway', url: 'http://gateway.example.com/hook', secretRef: { name: 's', key: 'k' }, allowInsecureLoopback: true }] },
    }).catch((e: unknown) => e);
    expect(String((err as { body?: string }).body ?? err)).to.contain('url must use https://');
  });
});

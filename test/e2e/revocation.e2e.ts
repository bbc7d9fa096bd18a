// Revocation you can trust, on the real control plane with `idpsync run` as its own process under the
// operator's ServiceAccount: the operator is SIGKILLed between the write of a suspension and the
// delivery of its signals, at several points, and a new process then delivers exactly what is owed;
// and one object the apiserver refuses never holds back the rest of the directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { AdmissionregistrationV1Api, CoreV1Api, EventsV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { GoogleWorkspaceEmulator } from '../emulators/google/emulator.js';
import { loadFixture } from '../emulators/fixture.js';
import { ANNOTATIONS, type DirectorySync, type User } from '../../src/api/v1alpha1/index.js';
import { adminKubeConfig, countingKubeConfig, newNamespace, operatorKubeConfig, operatorKubeconfigPath, waitFor, type CountingClient } from './harness/index.js';
import type { RecordedRequest } from './harness/proxy.js';
import { admin, createDirectory, getDirectory, startTestOperator, users, waitForCondition, type TestOperator } from './support/operator.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { freePort } from '../controlplane/net.js';

const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;
const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;


interface OperatorProcess {
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
  output(): string;
}

async function runOperator(kubeconfig: string, namespace: string): Promise<OperatorProcess> {
  const port = await freePort();
  const args = ['--import', 'tsx', CLI, 'run', '--kubeconfig', kubeconfig, '--namespace', namespace, '--metrics-bind-address', `127.0.0.1:${port}`];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, port, exited, output: () => output };
}

async function stopOperator(op: OperatorProcess): Promise<void> {
  if (op.child.exitCode === null && op.child.signalCode === null) op.child.kill('SIGTERM');
  await op.exited;
}

async function revocationCount(op: OperatorProcess, namespace: string, reason: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`idpsync_revocations_total{namespace="${namespace}",directory="corp",reason="${reason}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function eventsAbout(namespace: string, object: string, reason: string) {
  const list = await adminKubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace, fieldSelector: `regarding.name=${object}` });
  return list.items.filter((e) => e.reason === reason);
}

async function requestSync(namespace: string): Promise<void> {
  await admin().mergePatch('DirectorySync', namespace, 'corp', { metadata: { annotations: { [ANNOTATIONS.syncNow]: `t${Date.now()}` } } });
}

describe('revocation you can trust (operator process, SIGKILL)', function () {
  let ns: string;
  let receiver: WebhookReceiver;
  const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));
  const secret = 'whsec_' + Buffer.from('signing secret for the kill test').toString('base64');
  const running: OperatorProcess[] = [];
  const proxies: CountingClient[] = [];

  before(async () => {
    ns = await newNamespace('kill');
    receiver = await startWebhookReceiver({ secret });
    await idp.start();
    await adminKubeConfig().makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'gateway-hook' }, stringData: { signingSecret: secret } } });
    await createDirectory(ns, 'corp', idp.connection(), {
      notifications: { webhooks: [{ name: 'gateway', url: receiver.url, secretRef: { name: 'gateway-hook', key: 'signingSecret' }, allowInsecureLoopback: true }] },
    } as Partial<DirectorySync['spec']>);
  });

  after(async () => {
    for (const op of running) if (op.child.exitCode === null) op.child.kill('SIGKILL');
    for (const p of proxies) await p.close();
    await receiver.close();
    await idp.stop();
  });

  const points: { name: string; person: string; receiverDown?: boolean; struckBeforeDeath: boolean; kill: (r: RecordedRequest, userPath: string, seen: RecordedRequest[]) => boolean }[] = [
    {
      name: 'after the write that suspends landed',
      person: 'steve@company.com',
      struckBeforeDeath: false,
      kill: (r, userPath) => r.method === 'PATCH' && r.path === userPath && r.status === 200,
    },
    {
      name: 'after the UserSuspended Event landed',
      person: 'bob@company.com',
      struckBeforeDeath: false,
      kill: (r, _userPath, seen) => r.method === 'POST' && r.path === `/apis/events.k8s.io/v1/namespaces/${ns}/events` && seen.some((s) => s.method === 'PATCH' && s.path.includes('/users/')),
    },
    {
      name: 'after the Event and count were struck, the webhook still undelivered',
      person: 'alice@company.com',
      receiverDown: true,
      struckBeforeDeath: true,
      kill: (r, userPath, seen) => r.method === 'PATCH' && r.path === userPath && r.status === 200 && seen.filter((s) => s.method === 'PATCH' && s.path === userPath).length === 2,
    },
  ];

  for (const point of points) {
    it(`delivers exactly one Event and one webhook per suspension when the operator dies ${point.name}`, async () => {
      const wire = await countingKubeConfig(await operatorKubeConfig());
      proxies.push(wire);
      const first = await runOperator(wire.kubeconfigPath, ns);
      running.push(first);
      await waitForCondition(ns, 'corp', 'Ready', 'True');
      await waitFor(async () => (await users(ns)).length === 5 && (await getDirectory(ns, 'corp')).status?.observedGeneration !== undefined, { timeoutMs: 60_000, what: 'the first sync' });
      const person = (await users(ns)).find((u) => u.spec.login === point.person)!;
      const userPath = `/apis/idpsync.io/v1alpha1/namespaces/${ns}/users/${person.metadata.name}`;

      receiver.setDown(point.receiverDown ? 503 : false);
      const seen: RecordedRequest[] = [];
      wire.proxy.beforeResponse = (r) => {
        seen.push(r);
        if (first.child.exitCode === null && point.kill(r, userPath, seen)) first.child.kill('SIGKILL');
      };
      idp.directory.users.find((u) => u.login === point.person)!.state = 'suspended';
      await requestSync(ns);
      await Promise.race([first.exited, new Promise((_, reject) => setTimeout(() => reject(new Error(`the operator was not killed ${point.name}`)), 60_000))]);
      wire.proxy.beforeResponse = undefined;

      const written = (await admin().get<User>('User', ns, person.metadata.name!))!;
      expect(written.spec).to.deep.include({ state: 'Suspended', groups: [] });
      const record = written.status!.revocations!.at(-1)!;
      expect(record.reason).to.equal('Suspended');
      if (point.struckBeforeDeath) expect(record.pending).to.deep.equal(['Webhook/gateway']);
      else expect(record.pending).to.include.members(['Event', 'Metric', 'Webhook/gateway']);

      receiver.setDown(false);
      const second = await runOperator(await operatorKubeconfigPath(), ns);
      running.push(second);
      await waitFor(
        async () => {
          const u = await admin().get<User>('User', ns, person.metadata.name!);
          return u?.status?.revocations?.find((r) => r.id === record.id)?.pending.length === 0;
        },
        { timeoutMs: 60_000, what: `every signal of ${point.person}'s suspension delivered` },
      );

      expect(await eventsAbout(ns, person.metadata.name!, 'UserSuspended')).to.have.length(1);
      const hooks = receiver.events.filter((e) => e.type === 'io.idpsync.user.suspended' && e.subject === `users/${person.metadata.name}`);
      expect(new Set(hooks.map((e) => e.id)).size, 'distinct user.suspended CloudEvents').to.equal(1);
      expect(hooks, 'user.suspended deliveries').to.have.length(1);
      // The count goes with the strike: counted by the process that struck it, once.
      expect(await revocationCount(second, ns, 'Suspended')).to.equal(point.struckBeforeDeath ? 0 : 1);
      expect(second.output()).to.not.contain(secret);
      await stopOperator(second);
    });
  }
});

describe('one refused object and one suspension (operator process)', function () {
  let ns: string;
  const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));
  let op: OperatorProcess;
  const policyName = `refuse-blocked-${Date.now()}`;

  before(async () => {
    ns = await newNamespace('refused');
    await idp.start();
    // An organisation's own admission policy refuses one person's User: the kind of refusal decide() cannot foresee.
    const admission = adminKubeConfig().makeApiClient(AdmissionregistrationV1Api);
    await admission.createValidatingAdmissionPolicy({
      body: {
        metadata: { name: policyName },
        spec: {
          failurePolicy: 'Fail',
          matchConstraints: { resourceRules: [{ apiGroups: ['idpsync.io'], apiVersions: ['v1alpha1'], operations: ['CREATE', 'UPDATE'], resources: ['users'] }] },
          validations: [{ expression: "object.spec.login != 'patrick@company.com'", message: 'contractors are not admitted to this cluster' }],
        },
      },
    });
    await admission.createValidatingAdmissionPolicyBinding({
      body: {
        metadata: { name: policyName },
        spec: { policyName, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } } },
      },
    });
    // The policy takes effect once the apiserver has loaded it.
    await waitFor(
      async () => {
        try {
          await admin().apply('User', { metadata: { name: 'probe', namespace: ns }, spec: { directory: 'x', idpId: 'p', login: 'patrick@company.com', state: 'Active', groups: [] } });
          await admin().delete('User', ns, 'probe');
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 30_000, what: 'the admission policy to be in force' },
    );
    op = await runOperator(await operatorKubeconfigPath(), ns);
  });

  after(async () => {
    if (op) await stopOperator(op);
    const admission = adminKubeConfig().makeApiClient(AdmissionregistrationV1Api);
    await admission.deleteValidatingAdmissionPolicyBinding({ name: policyName }).catch(() => {});
    await admission.deleteValidatingAdmissionPolicy({ name: policyName }).catch(() => {});
    await idp.stop();
  });

  it('syncs everyone else, names the refused object in an Event and in status, and lets a suspension and its signals through', async () => {
    await createDirectory(ns, 'corp', idp.connection());
    await waitFor(async () => (await getDirectory(ns, 'corp')).status?.conditions?.find((c) => c.type === 'Ready')?.reason === 'ObjectsRejected', {
      timeoutMs: 60_000,
      what: 'the first sync to report the refused User',
    });
    expect((await users(ns)).map((u) => u.spec.login).sort()).to.deep.equal(['alice@company.com', 'bob@company.com', 'john@company.com', 'steve@company.com']);

    idp.directory.users.find((u) => u.login === 'steve@company.com')!.state = 'suspended';
    await requestSync(ns);
    const steve = await waitFor(
      async () => {
        const u = (await users(ns)).find((x) => x.spec.login === 'steve@company.com');
        return u?.spec.state === 'Suspended' && u.status?.revocations?.at(-1)?.pending.length === 0 ? u : undefined;
      },
      { timeoutMs: 60_000, what: 'steve suspended with every signal delivered' },
    );
    expect(steve.spec.groups).to.deep.equal([]);
    expect(await eventsAbout(ns, steve.metadata.name!, 'UserSuspended')).to.have.length(1);

    const ds = await getDirectory(ns, 'corp');
    const ready = ds.status!.conditions!.find((c) => c.type === 'Ready')!;
    expect(ready).to.deep.include({ status: 'False', reason: 'ObjectsRejected' });
    expect(ready.message).to.contain('contractors are not admitted to this cluster');
    expect(ds.status!.skipped).to.have.length(1);
    expect(ds.status!.skipped![0]).to.deep.include({ kind: 'User' });
    expect(ds.status!.skipped![0].name).to.match(/^corp-patrick-/);
    const rejected = (await adminKubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items.filter((e) => e.reason === 'ObjectRejected');
    expect(rejected.length).to.be.at.least(1);
    expect(rejected[0].note).to.match(/refused User corp-patrick-.*contractors are not admitted/);
    const text = await (await fetch(`http://127.0.0.1:${op.port}/metrics`)).text();
    expect(text).to.match(new RegExp(`idpsync_revocations_total\\{namespace="${ns}",directory="corp",reason="Suspended"\\} 1`));
  });
});

describe('what grants access is the IdP\'s to say (in-process operator)', function () {
  let ns: string;
  let op: TestOperator;
  const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));

  before(async () => {
    ns = await newNamespace('handedit');
    await idp.start();
    op = await startTestOperator({ secretCheckMs: 2_000 });
    await createDirectory(ns, 'corp', idp.connection());
    await waitForCondition(ns, 'corp', 'Ready', 'True');
  });

  after(async () => {
    await op.stop();
    await idp.stop();
  });

  it('reverts a hand edit of a User\'s groups within seconds', async () => {
    const steve = (await users(ns)).find((u) => u.spec.login === 'steve@company.com')!;
    const granted = (await users(ns)).find((u) => u.spec.login === 'john@company.com')!.spec.groups;
    expect(steve.spec.groups).to.not.deep.equal(granted);
    const edited = Date.now();
    await admin().mergePatch('User', ns, steve.metadata.name!, { spec: { groups: granted } });
    const restored = await waitFor(
      async () => {
        const u = await admin().get<User>('User', ns, steve.metadata.name!);
        return u && JSON.stringify(u.spec.groups) === JSON.stringify(steve.spec.groups) ? u : undefined;
      },
      { timeoutMs: 30_000, what: 'the hand edit to be reverted' },
    );
    expect(restored.spec.groups).to.deep.equal(steve.spec.groups);
    expect(Date.now() - edited).to.be.lessThan(15_000);
  });

  it('syncs when the credentials Secret is rotated, without waiting for the interval', async () => {
    const before = idp.count('/admin/directory/v1/users');
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    const secretName = (await getDirectory(ns, 'corp')).spec.credentialsRef.name;
    const current = await core.readNamespacedSecret({ namespace: ns, name: secretName });
    current.metadata!.annotations = { ...current.metadata!.annotations, 'example.com/rotated': String(Date.now()) };
    await core.replaceNamespacedSecret({ namespace: ns, name: secretName, body: current });
    await waitFor(() => idp.count('/admin/directory/v1/users') > before, { timeoutMs: 30_000, what: 'a sync after the Secret changed' });
  });
});

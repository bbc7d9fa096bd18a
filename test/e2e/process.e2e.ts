// `idpsync run` as its own process, as a Deployment runs it: under the operator's ServiceAccount,
// with leader election, health and metrics endpoints, logs on stdout, the finalizer's Delete and
// Orphan policies, and a clean exit on SIGTERM that releases the Lease.
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { GoogleWorkspaceEmulator } from '../emulators/google/emulator.js';
import { loadFixture } from '../emulators/fixture.js';
import { OPERATOR_NAMESPACE, adminKubeConfig, newNamespace, operatorKubeconfigPath, waitFor } from './harness/index.js';
import { admin, createDirectory, groups, users, waitForCondition } from './support/operator.js';
import { LABELS, type Policy } from '../../src/api/v1alpha1/index.js';
import { freePort } from '../controlplane/net.js';

const SEED = new URL('../fixtures/seed-example.yaml', import.meta.url).pathname;
const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;


async function httpStatus(url: string): Promise<number> {
  return fetch(url).then((r) => r.status, () => 0);
}

async function leaseHolder(): Promise<string | undefined> {
  const lease = await adminKubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: OPERATOR_NAMESPACE, name: 'idpsync-operator' });
  return lease.spec?.holderIdentity || undefined;
}

describe('idpsync run as a process', function () {
  let child: ChildProcess;
  let output = '';
  let port: number;
  let ns: string;
  const idp = new GoogleWorkspaceEmulator(loadFixture(SEED));

  before(async () => {
    ns = await newNamespace('process');
    await idp.start();
    port = await freePort();
    const args = ['--import', 'tsx', CLI, 'run', '--kubeconfig', await operatorKubeconfigPath(), '--namespace', ns, '--leader-elect'];
    args.push('--leader-election-namespace', OPERATOR_NAMESPACE, '--metrics-bind-address', `127.0.0.1:${port}`);
    child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  });

  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await idp.stop();
  });

  it('leads, syncs, and serves health and metrics', async () => {
    await waitFor(async () => (await httpStatus(`http://127.0.0.1:${port}/readyz`)) === 200, { timeoutMs: 60_000, what: '/readyz to answer 200' });
    expect(await httpStatus(`http://127.0.0.1:${port}/healthz`)).to.equal(200);
    // Ready means able to serve, not leading yet: leadership follows within a Lease renewal.
    await waitFor(() => leaseHolder().catch(() => undefined), { timeoutMs: 30_000, what: `the Lease to be held; operator output:\n${output}` });

    await createDirectory(ns, 'corp', idp.connection(), { policies: [{ name: 'db', groups: { names: ['Engineering'] }, resources: [{ address: '10.20.0.0/16' }] }] });
    await waitForCondition(ns, 'corp', 'Ready', 'True');
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).to.match(new RegExp(`idpsync_sync_total\\{namespace="${ns}",directory="corp",result="success"\\} [1-9]`));
    expect(metrics).to.contain('idpsync_kube_writes_total');
    expect(metrics).to.contain(`idpsync_directory_objects{namespace="${ns}",directory="corp",kind="Policy",state="Declared"} 1`);

    const key = idp.connection().secret.serviceAccountKey as string;
    const privateKey = JSON.parse(key).private_key as string;
    expect(output, 'the private key never reaches the logs').to.not.contain(privateKey.slice(100, 160));
    expect(output.split('\n').filter((l) => l.trim()).every((l) => l.startsWith('{')), 'logs are JSON lines').to.equal(true);
  });

  it('deletes Users, Groups and (through the garbage collector) Policies with a DirectorySync, or orphans them', async () => {
    await createDirectory(ns, 'kept', idp.connection(), { deletion: { policy: 'Orphan' } as never });
    await waitForCondition(ns, 'kept', 'Ready', 'True');
    await waitFor(async () => (await admin().list<Policy>('Policy', ns)).length === 1, { timeoutMs: 60_000, what: 'the declared Policy' });

    await admin().delete('DirectorySync', ns, 'corp');
    await waitFor(
      async () => {
        const left = [...(await users(ns)), ...(await groups(ns)), ...(await admin().list<Policy>('Policy', ns))];
        return left.every((o) => o.metadata.labels?.[LABELS.directory] !== 'corp');
      },
      { timeoutMs: 60_000, what: 'corp Users, Groups and Policies to be gone' },
    );
    expect(await admin().get('DirectorySync', ns, 'corp')).to.equal(undefined);

    await admin().delete('DirectorySync', ns, 'kept');
    await waitFor(async () => (await admin().get('DirectorySync', ns, 'kept')) === undefined, { timeoutMs: 60_000, what: 'kept to be deleted' });
    const orphans = (await users(ns)).filter((u) => u.spec.directory === 'kept');
    expect(orphans).to.have.length(5);
    expect(orphans.every((u) => (u.metadata.ownerReferences ?? []).length === 0)).to.equal(true);
    expect((await groups(ns)).filter((g) => g.spec.directory === 'kept')).to.have.length(4);
  });

  it('exits 0 on SIGTERM within seconds, even while an IdP call hangs, and releases the Lease', async () => {
    // An IdP that never answers: the sync of a new directory is stuck in its first request.
    idp.faults.delayMs = 10 * 60_000;
    await createDirectory(ns, 'hung', idp.connection());
    await waitForCondition(ns, 'hung', 'Reconciling', 'True');
    await new Promise((r) => setTimeout(r, 2000));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const started = Date.now();
    child.kill('SIGTERM');
    expect(await exited, output.split('\n').slice(-8).join('\n')).to.equal(0);
    expect(Date.now() - started, 'time from SIGTERM to exit').to.be.lessThan(10_000);
    expect(await leaseHolder()).to.equal(undefined);
    idp.faults.delayMs = 0;
  });
});

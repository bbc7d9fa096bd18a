// SCIM push on the real control plane (etcd + kube-apiserver, started here unless IDPSYNC_E2E_KUBECONFIG
// names one), with the operator in this process as its own ServiceAccount (one replica, leading):
//   1. sustained writes: POST /Users, then member PATCHes on groups, at `inFlight` requests at a time,
//      with the rate limit off so the figure is what the server and apiserver manage;
//   2. revocation latency: PATCH active=false on one user at a time, timed until its User is Suspended
//      and no Group lists it (seen through watches, as a client of the cluster would see it).
// Prints figures; asserts nothing. Run: npx tsx bench/scim.ts [writes] [samples] [inFlight]
import { cpus, loadavg } from 'node:os';
import type { Group, User } from '../src/api/v1alpha1/index.js';
import { kindInformer } from '../src/controllers/informers.js';
import { KubeClient } from '../src/kube/client.js';
import { silentLogger } from '../src/runtime/logger.js';
import { EventsV1Api } from '@kubernetes/client-node';
import { recorderSink, startOperator } from '../src/controllers/manager.js';
import { EventRecorder, eventsV1Sink } from '../src/runtime/events.js';
import { adminKubeConfig, newNamespace, operatorKubeConfig, waitFor } from '../test/e2e/harness/index.js';
import { setUpCluster, tearDownCluster } from '../test/e2e/harness/cluster.js';
import { admin, waitForCondition } from '../test/e2e/support/operator.js';

const writes = Number(process.argv[2] ?? 500);
const samples = Number(process.argv[3] ?? 50);
const inFlight = Number(process.argv[4] ?? 4);
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

await setUpCluster();
// As the operator's ServiceAccount, straight to the apiserver (no counting proxy in between).
const operatorConfig = await operatorKubeConfig();
const events = recorderSink(new EventRecorder({ sink: eventsV1Sink(operatorConfig.makeApiClient(EventsV1Api)), identity: 'bench', logger: silentLogger() }));
const op = { operator: startOperator({ kubeConfig: operatorConfig, logger: silentLogger(), events, scimAddress: '127.0.0.1:0', scimLimits: { ratePerSecond: 0 } }) };
try {
  const port = await op.operator.scim!.listening;
  const ns = await newNamespace('scimbench');
  await admin().apply('DirectorySync', {
    metadata: { name: 'corp', namespace: ns },
    spec: { provider: { type: 'scim', scim: {} }, credentialsRef: { name: 'corp-scim-token' }, interval: '1h' },
  });
  const secret = await waitFor(() => admin().getSecret(ns, 'corp-scim-token'), { timeoutMs: 60_000, intervalMs: 200, what: 'the token Secret' });
  const token = Buffer.from(secret.data!.token, 'base64').toString('utf8');
  await waitForCondition(ns, 'corp', 'Ready', 'True');
  const base = `http://127.0.0.1:${port}/scim/v2/${ns}/corp`;
  const scim = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const parallel = async (count: number, one: (i: number) => Promise<unknown>) => {
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: inFlight }, async () => {
      while (next < count) await one(next++);
    }));
    return (performance.now() - started) / 1000;
  };

  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; node ${process.version}`);

  // 1. Sustained writes.
  const ids: string[] = new Array(writes);
  const postSeconds = await parallel(writes, async (i) => {
    ids[i] = (await scim('POST', '/Users', { userName: `u${i}@example.com`, active: true, emails: [{ primary: true, type: 'work', value: `u${i}@example.com` }] })).id;
  });
  console.log(`POST /Users: ${writes} in ${postSeconds.toFixed(1)} s = ${(writes / postSeconds).toFixed(0)} writes/s (${inFlight} in flight)`);
  const groupIds = [await scim('POST', '/Groups', { displayName: 'Everyone', members: [] }), await scim('POST', '/Groups', { displayName: 'Engineering', members: [] })].map((g) => g.id as string);
  const patchSeconds = await parallel(writes, (i) =>
    scim('PATCH', `/Groups/${groupIds[i % 2]}`, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ value: ids[i] }] }] }),
  );
  console.log(`PATCH /Groups (add one member): ${writes} in ${patchSeconds.toFixed(1)} s = ${(writes / patchSeconds).toFixed(0)} writes/s (${inFlight} in flight)`);
  // The sample users are in both groups, so a revocation takes them out of two.
  await scim('PATCH', `/Groups/${groupIds[0]}`, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: ids.slice(0, samples).filter((_, i) => i % 2).map((value) => ({ value })) }] });
  await scim('PATCH', `/Groups/${groupIds[1]}`, { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: ids.slice(0, samples).filter((_, i) => i % 2 === 0).map((value) => ({ value })) }] });

  // 2. Revocation latency, watched.
  const kubeConfig = adminKubeConfig();
  const kube = new KubeClient(kubeConfig);
  const userInformer = kindInformer<User>('User', { kubeConfig, kube, logger: silentLogger(), namespace: ns });
  const groupInformer = kindInformer<Group>('Group', { kubeConfig, kube, logger: silentLogger(), namespace: ns });
  userInformer.start();
  groupInformer.start();
  const revoked = (login: string) => {
    const user = userInformer.list().find((u) => u.spec.login === login);
    return user?.spec.state === 'Suspended' && groupInformer.list().every((g) => !g.spec.members.includes(login));
  };
  const inBothGroups = (login: string) => groupInformer.list().filter((g) => g.spec.members.includes(login)).length === 2;
  await waitFor(async () => (Array.from({ length: samples }, (_, i) => `u${i}@example.com`).every(inBothGroups) ? true : undefined), {
    timeoutMs: 120_000,
    intervalMs: 200,
    what: 'every sample user Active in both groups',
  });
  let waiting: (() => void) | undefined;
  userInformer.on('update', () => waiting?.());
  groupInformer.on('update', () => waiting?.());
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const login = `u${i}@example.com`;
    const started = performance.now();
    await scim('PATCH', `/Users/${ids[i]}`, { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    await new Promise<void>((resolve) => {
      waiting = () => {
        if (!revoked(login)) return;
        waiting = undefined;
        resolve();
      };
      waiting();
    });
    latencies.push(performance.now() - started);
  }
  await userInformer.stop();
  await groupInformer.stop();
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(
    `PATCH active=false → User Suspended and out of both Groups, ${samples} samples: ` +
      `p50 ${percentile(sorted, 50).toFixed(0)} ms, p90 ${percentile(sorted, 90).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms`,
  );
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  await op.operator.stop();
  await tearDownCluster();
}

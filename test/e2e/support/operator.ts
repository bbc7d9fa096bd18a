// Runs the operator in-process against the real control plane, as the idpsync ServiceAccount and
// through a counting proxy, plus small helpers to create directories and wait for their status.
import { CoreV1Api, EventsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import { recorderSink, startOperator, type OperatorOptions, type RunningOperator } from '../../../src/controllers/manager.js';
import { EventRecorder, eventsV1Sink } from '../../../src/runtime/events.js';
import { KubeClient } from '../../../src/kube/client.js';
import { silentLogger } from '../../../src/runtime/logger.js';
import { ANNOTATIONS, type DirectorySync, type Group, type User } from '../../../src/api/v1alpha1/index.js';
import type { EmulatorConnection } from '../../emulators/common.js';
import { adminKubeConfig, countingKubeConfig, operatorKubeConfig, waitFor, type CountingClient } from '../harness/index.js';

export interface TestOperator {
  operator: RunningOperator;
  wire: CountingClient;
  stop(): Promise<void>;
}

export async function startTestOperator(options: Pick<OperatorOptions, 'webhookBackoffMs' | 'secretCheckMs' | 'scimAddress' | 'scimLimits' | 'fetchTimeoutMs' | 'confirmAfterMs' | 'workers'> = {}): Promise<TestOperator> {
  const wire = await countingKubeConfig(await operatorKubeConfig());
  const recorder = new EventRecorder({ sink: eventsV1Sink(wire.kubeConfig.makeApiClient(EventsV1Api)), identity: 'e2e', logger: silentLogger() });
  const events = recorderSink(recorder);
  const operator = startOperator({ ...options, kubeConfig: wire.kubeConfig, logger: silentLogger(), events });
  return {
    operator,
    wire,
    stop: async () => {
      await operator.stop();
      await wire.close();
    },
  };
}

export const admin = (): KubeClient => new KubeClient(adminKubeConfig());

export async function createDirectory(
  namespace: string,
  name: string,
  conn: EmulatorConnection,
  spec: Partial<DirectorySync['spec']> = {},
  kc: KubeConfig = adminKubeConfig(),
): Promise<void> {
  await kc.makeApiClient(CoreV1Api).createNamespacedSecret({ namespace, body: { metadata: { name: `${name}-credentials` }, stringData: conn.secret } });
  await admin().apply('DirectorySync', {
    metadata: { name, namespace },
    spec: {
      provider: { type: conn.type, [conn.type]: conn.settings, allowInsecureLoopback: true },
      credentialsRef: { name: `${name}-credentials` },
      interval: '1h',
      ...spec,
    },
  });
}

export async function getDirectory(namespace: string, name: string): Promise<DirectorySync> {
  const ds = await admin().get<DirectorySync>('DirectorySync', namespace, name);
  if (!ds) throw new Error(`DirectorySync ${namespace}/${name} not found`);
  return ds;
}

export function condition(ds: DirectorySync, type: string) {
  return ds.status?.conditions?.find((c) => c.type === type);
}

/** kstatus invariants every DirectorySync status must keep. */
export function checkInvariants(ds: DirectorySync): void {
  const conditions = ds.status?.conditions ?? [];
  if (!ds.status?.observedGeneration) return;
  expect(conditions.find((c) => c.type === 'Ready'), 'Ready condition present').to.not.equal(undefined);
  const ready = condition(ds, 'Ready')!.status === 'True';
  expect(ready && condition(ds, 'Stalled')?.status === 'True', 'never Ready while Stalled').to.equal(false);
  expect(ready && condition(ds, 'Reconciling')?.status === 'True', 'never Ready while Reconciling').to.equal(false);
  for (const c of conditions) if (c.type === 'Stalled' || c.type === 'Reconciling') expect(c.status).to.equal('True');
  expect(ds.status.observedGeneration).to.be.at.most(ds.metadata.generation!);
}

export async function waitForCondition(namespace: string, name: string, type: string, status: 'True' | 'False', timeoutMs = 60_000): Promise<DirectorySync> {
  return waitFor(
    async () => {
      const ds = await getDirectory(namespace, name);
      return condition(ds, type)?.status === status ? ds : undefined;
    },
    { timeoutMs, intervalMs: 250, what: `${namespace}/${name} ${type}=${status}` },
  );
}

let syncCounter = 0;

/** Requests a sync now and waits until the operator echoes the request in status. */
export async function syncNow(namespace: string, name: string, timeoutMs = 60_000): Promise<DirectorySync> {
  const token = `t${Date.now()}-${syncCounter++}`;
  await admin().mergePatch('DirectorySync', namespace, name, { metadata: { annotations: { [ANNOTATIONS.syncNow]: token } } });
  return waitFor(
    async () => {
      const ds = await getDirectory(namespace, name);
      return ds.status?.lastHandledSyncAt === token ? ds : undefined;
    },
    { timeoutMs, intervalMs: 200, what: `${namespace}/${name} to handle sync-now ${token}` },
  );
}

export async function users(namespace: string): Promise<User[]> {
  return admin().list<User>('User', namespace);
}

export async function groups(namespace: string): Promise<Group[]> {
  return admin().list<Group>('Group', namespace);
}

export async function membersByGroup(namespace: string): Promise<Record<string, string[]>> {
  return Object.fromEntries((await groups(namespace)).map((g) => [g.spec.displayName, g.spec.members]));
}

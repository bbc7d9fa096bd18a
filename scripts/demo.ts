// `npm run demo`: the whole product on one machine. Starts a local control plane (unless --kubeconfig
// names a cluster), Okta and Google Workspace emulators serving the documented nested-group example,
// applies two DirectorySyncs, runs the operator, and prints what to look at with kubectl.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, EventsV1Api, KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../test/controlplane/controlplane.js';
import { OktaEmulator } from '../test/emulators/okta/emulator.js';
import { GoogleWorkspaceEmulator } from '../test/emulators/google/emulator.js';
import { loadFixture } from '../test/emulators/fixture.js';
import type { EmulatorBase } from '../test/emulators/common.js';
import { KubeClient, isConflict } from '../src/kube/client.js';
import { recorderSink, startOperator } from '../src/controllers/manager.js';
import { createLogger } from '../src/runtime/logger.js';
import { EventRecorder, eventsV1Sink } from '../src/runtime/events.js';
import type { DirectorySync, Policy } from '../src/api/v1alpha1/index.js';
import { runAccess } from '../src/cli/access.js';

const { values } = parseArgs({ options: { kubeconfig: { type: 'string' }, exit: { type: 'boolean', default: false } } });
const NAMESPACE = 'idpsync-demo';
const seed = loadFixture(new URL('../test/fixtures/seed-example.yaml', import.meta.url).pathname);

async function main(): Promise<void> {
  let controlPlane: ControlPlane | undefined;
  let kubeconfigPath = values.kubeconfig;
  let kubectlBin = 'kubectl';
  if (!kubeconfigPath) {
    console.log('Starting a local control plane (etcd, kube-apiserver, kube-controller-manager); the first run builds it from Go modules…');
    controlPlane = await startControlPlane();
    kubeconfigPath = controlPlane.kubeconfigPath;
    kubectlBin = join(controlPlane.binDir, 'kubectl');
  }
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const kube = new KubeClient(kc);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } }).catch((err) => {
    if (!isConflict(err)) throw err;
  });

  const emulators: [string, EmulatorBase][] = [
    ['okta-demo', new OktaEmulator(seed)],
    ['google-demo', new GoogleWorkspaceEmulator(seed)],
  ];
  for (const [name, emulator] of emulators) {
    await emulator.start();
    const conn = emulator.connection();
    console.log(`${conn.type} emulator on ${emulator.baseUrl} → DirectorySync ${NAMESPACE}/${name}`);
    await core.deleteNamespacedSecret({ namespace: NAMESPACE, name: `${name}-credentials` }).catch(() => {});
    await core.createNamespacedSecret({ namespace: NAMESPACE, body: { metadata: { name: `${name}-credentials` }, stringData: conn.secret } });
    await kube.apply('DirectorySync', {
      metadata: { name, namespace: NAMESPACE },
      spec: {
        provider: { type: conn.type, [conn.type]: conn.settings, allowInsecureLoopback: true },
        credentialsRef: { name: `${name}-credentials` },
        interval: '1m',
        ...(name === 'google-demo' ? { policies: [{ name: 'db', groups: { names: ['Engineering'] }, resources: [{ address: '10.20.0.0/16', ports: ['5432'], protocols: ['TCP'] }] }] } : {}),
      },
    });
  }
  await kube.apply('Policy', {
    metadata: { name: 'everyone-dashboards', namespace: NAMESPACE },
    spec: { group: { idpName: 'Everyone', directory: 'google-demo' }, resources: [{ address: '*.dash.corp.example.com', ports: ['443'] }] },
  });

  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const recorder = new EventRecorder({ sink: eventsV1Sink(kc.makeApiClient(EventsV1Api)), identity: 'demo', logger });
  const operator = startOperator({ kubeConfig: kc, logger, events: recorderSink(recorder) });

  for (const [name] of emulators) await waitReady(kube, name);
  const kubectl = (...args: string[]) => execFileSync(kubectlBin, ['--kubeconfig', kubeconfigPath!, ...args], { encoding: 'utf8' });
  console.log(`\n$ kubectl get idpsync -n ${NAMESPACE}\n${kubectl('get', 'idpsync', '-n', NAMESPACE)}`);
  console.log(`$ kubectl get groups -n ${NAMESPACE} -o custom-columns=NAME:.spec.displayName,DIRECTORY:.spec.directory,MEMBERS:.spec.members\n${kubectl('get', 'groups', '-n', NAMESPACE, '-o', 'custom-columns=NAME:.spec.displayName,DIRECTORY:.spec.directory,MEMBERS:.spec.members')}`);
  console.log('Okta has no nested groups, so its Groups hold direct members; Google Workspace nests, so its Groups match the documented example.');
  await waitPoliciesReady(kube);
  console.log(`\n$ kubectl get idppolicy -n ${NAMESPACE}\n${kubectl('get', 'idppolicy', '-n', NAMESPACE)}`);
  console.log(`$ idpsync access alice@company.com -n ${NAMESPACE}`);
  await runAccess(['alice@company.com', '-n', NAMESPACE, '--kubeconfig', kubeconfigPath!]);

  const shutdown = async () => {
    await operator.stop();
    for (const [, emulator] of emulators) await emulator.stop();
    await controlPlane?.stop();
  };
  if (values.exit) return shutdown();

  console.log(`\nThe operator keeps syncing every minute. Look around in another terminal:
  export KUBECONFIG=${kubeconfigPath}
  ${kubectlBin} get idpsync -n ${NAMESPACE}
  ${kubectlBin} describe directorysync google-demo -n ${NAMESPACE}
  ${kubectlBin} get users -n ${NAMESPACE} -o wide
  ${kubectlBin} describe idppolicy everyone-dashboards -n ${NAMESPACE}
  npx idpsync access --resource 10.20.1.1 --port 5432 -n ${NAMESPACE} --kubeconfig ${kubeconfigPath}
  ${kubectlBin} get events -n ${NAMESPACE}
  ${kubectlBin} annotate directorysync okta-demo -n ${NAMESPACE} idpsync.io/sync-now="$(date +%s)" --overwrite
Press Ctrl-C to stop everything.`);
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await shutdown();
}

async function waitPoliciesReady(kube: KubeClient): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const policies = await kube.list<Policy>('Policy', NAMESPACE);
    if (policies.length >= 2 && policies.every((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))) return;
    if (Date.now() > deadline) throw new Error('the demo Policies did not become Ready');
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function waitReady(kube: KubeClient, name: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ds = await kube.get<DirectorySync>('DirectorySync', NAMESPACE, name);
    const ready = ds?.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready?.status === 'True') return;
    if (Date.now() > deadline) throw new Error(`${name} did not become Ready: ${ready?.message ?? 'no status yet'}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);

// Helpers for end-to-end tests against the real control plane started by hooks.ts.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, type ControlPlane } from '../../controlplane/controlplane.js';
import { kubeconfigYaml } from '../../controlplane/kubeconfig.js';
import { kubectlOrThrow, runKubectl, type KubectlResult } from '../../controlplane/kubectl.js';
import { cluster, loadKubeConfig } from './cluster.js';
import { createNamespace } from './namespaces.js';
import { CountingProxy, type RecordedRequest } from './proxy.js';

export { CountingProxy, WRITE_METHODS, type RecordedRequest } from './proxy.js';
export { OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT };
export type { KubectlResult };

/** A kubeconfig given as a file path or as a client-node KubeConfig. */
export type KubeconfigRef = string | KubeConfig;

/** Admin (system:masters) access to the test cluster. */
export function adminKubeConfig(): KubeConfig {
  return loadKubeConfig(cluster().kubeconfigPath);
}

export function adminKubeconfigPath(): string {
  return cluster().kubeconfigPath;
}

/**
 * The control plane this run started (its audit log, restartApiServer), or undefined when the run
 * uses a cluster it did not start (IDPSYNC_E2E_KUBECONFIG): tests that need one skip then.
 */
export function ownControlPlane(): ControlPlane | undefined {
  return cluster().controlPlane;
}

interface Credentials {
  kubeConfig: KubeConfig;
  path: string;
}

let operatorCredentials: Promise<Credentials> | undefined;

/**
 * The operator's own identity: the idpsync ServiceAccount of deploy/rbac.yaml with a token from
 * the TokenRequest API, so a test runs with exactly the permissions the chart grants.
 */
export async function operatorKubeConfig(): Promise<KubeConfig> {
  return (await operatorCredentialsOnce()).kubeConfig;
}

/** The operator's identity as a kubeconfig file, for running the operator as its own process. */
export async function operatorKubeconfigPath(): Promise<string> {
  return (await operatorCredentialsOnce()).path;
}

function operatorCredentialsOnce(): Promise<Credentials> {
  operatorCredentials ??= serviceAccountCredentials(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT).catch((err) => {
    operatorCredentials = undefined;
    throw err;
  });
  return operatorCredentials;
}

/** Forgets cached credentials (the cluster they belong to is gone). */
export function resetCredentials(): void {
  operatorCredentials = undefined;
}

/** Any ServiceAccount's identity, with a fresh bound token valid for two hours. */
export async function serviceAccountKubeConfig(namespace: string, name: string): Promise<KubeConfig> {
  return (await serviceAccountCredentials(namespace, name)).kubeConfig;
}

async function serviceAccountCredentials(namespace: string, name: string): Promise<Credentials> {
  const admin = adminKubeConfig();
  const answer = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 7200 } },
  });
  const token = answer.status?.token;
  if (!token) throw new Error(`TokenRequest for ServiceAccount ${namespace}/${name} returned no token`);
  const path = join(cluster().scratchDir, `sa-${namespace}-${name}.kubeconfig`);
  const server = admin.getCurrentCluster()!.server;
  writeFileSync(path, kubeconfigYaml({ name: `${namespace}-${name}`, server, caPem: caPemOf(admin), token }), { mode: 0o600 });
  return { kubeConfig: loadKubeConfig(path), path };
}

function caPemOf(kc: KubeConfig): string {
  const current = kc.getCurrentCluster();
  if (current?.caData) return Buffer.from(current.caData, 'base64').toString('utf8');
  if (current?.caFile) return readFileSync(current.caFile, 'utf8');
  throw new Error(`kubeconfig context ${kc.getCurrentContext()} has no certificate authority`);
}

/** The path of a kubeconfig, writing a KubeConfig object to a file when needed; default admin. */
export function kubeconfigPathOf(ref: KubeconfigRef = cluster().kubeconfigPath): string {
  if (typeof ref === 'string') return ref;
  const text = ref.exportConfig();
  const path = join(cluster().scratchDir, `${createHash('sha256').update(text).digest('hex').slice(0, 16)}.kubeconfig`);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/** A unique namespace, deleted when the current test file's top-level suite has finished. */
export function newNamespace(prefix: string): Promise<string> {
  return createNamespace(adminKubeConfig(), prefix);
}

/** Runs the control plane's kubectl (default as admin). Never throws for a non-zero exit. */
export function kubectl(args: string[], opts: { input?: string; kubeconfig?: KubeconfigRef; timeoutMs?: number } = {}): Promise<KubectlResult> {
  return runKubectl(join(cluster().binDir, 'kubectl'), args, {
    kubeconfig: kubeconfigPathOf(opts.kubeconfig),
    input: opts.input,
    timeoutMs: opts.timeoutMs,
  });
}

/** Server-side applies YAML (one or more documents); rejects with kubectl's message on failure. */
export function applyYaml(text: string, kubeconfig?: KubeconfigRef): Promise<string> {
  return kubectlOrThrow(
    join(cluster().binDir, 'kubectl'),
    ['apply', '--server-side', '--force-conflicts', '--field-manager=idpsync-e2e', '-f', '-'],
    { kubeconfig: kubeconfigPathOf(kubeconfig), input: text },
  );
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What is awaited, in words, for the timeout message ("3 Users in namespace x"). */
  what: string;
}

/**
 * Calls `probe` until it returns something other than undefined, null or false, and returns that.
 * A throwing probe counts as not yet; the timeout message includes the last error or value seen.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, opts: WaitOptions): Promise<Exclude<T, undefined | null | false>> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const started = Date.now();
  let last = 'nothing yet';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value as Exclude<T, undefined | null | false>;
      last = `probe returned ${String(value)}`;
    } catch (err) {
      last = `probe threw: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (Date.now() - started >= timeoutMs) {
      throw new Error(`timed out after ${((Date.now() - started) / 1000).toFixed(1)} s waiting for ${opts.what}; last: ${last}`);
    }
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 250));
  }
}

/** A client whose every request goes through a recording proxy; see countingKubeConfig. */
export interface CountingClient {
  kubeConfig: KubeConfig;
  kubeconfigPath: string;
  proxy: CountingProxy;
  /** Write requests (POST, PUT, PATCH, DELETE) seen on the wire, optionally only matching paths. */
  writes(pathPattern?: RegExp): RecordedRequest[];
  /** Ends the client's open watches as the apiserver would (or with a reset: { abrupt: true }). */
  killWatches(opts?: { abrupt?: boolean }): number;
  close(): Promise<void>;
}

const openClients = new Set<CountingClient>();

/**
 * The same identity as `base` (default admin), but talking to the apiserver through a loopback
 * TLS proxy that records each request on the wire. Give this KubeConfig (or kubeconfigPath) to
 * the code under test and count what it really sent.
 */
export async function countingKubeConfig(base: KubeConfig = adminKubeConfig()): Promise<CountingClient> {
  const user = base.getCurrentUser();
  const upstream = base.getCurrentCluster();
  if (!user?.token || !upstream) throw new Error('countingKubeConfig needs a kubeconfig that authenticates with a bearer token');
  const { cert, key } = cluster().proxyCert;
  const proxy = await CountingProxy.start({ upstream: upstream.server, upstreamCa: caPemOf(base), cert, key });
  const kubeconfigPath = join(cluster().scratchDir, `counting-${new URL(proxy.url).port}.kubeconfig`);
  writeFileSync(kubeconfigPath, kubeconfigYaml({ name: `counting-${user.name}`, server: proxy.url, caPem: cert, token: user.token }), {
    mode: 0o600,
  });
  const client: CountingClient = {
    kubeConfig: loadKubeConfig(kubeconfigPath),
    kubeconfigPath,
    proxy,
    writes: (pathPattern) => proxy.writes(pathPattern),
    killWatches: (opts) => proxy.killWatches(opts),
    close: async () => {
      openClients.delete(client);
      await proxy.close();
    },
  };
  openClients.add(client);
  return client;
}

export async function closeCountingClients(): Promise<void> {
  await Promise.all([...openClients].map((c) => c.close()));
}

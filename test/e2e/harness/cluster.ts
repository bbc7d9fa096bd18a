// The cluster an end-to-end run talks to: a control plane started for the run, or an already
// running one named by IDPSYNC_E2E_KUBECONFIG (e.g. from `tsx test/controlplane/controlplane.ts`).
import { KubeConfig } from '@kubernetes/client-node';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { resolveBinDir, startControlPlane, type ControlPlane } from '../../controlplane/controlplane.js';

export interface Cluster {
  kubeconfigPath: string;
  /** Directory of the control plane's kubectl. */
  binDir: string;
  /** Certificate and key a loopback proxy can serve that clients of this cluster already trust. */
  proxyCert: { cert: string; key: string };
  /** Scratch space for kubeconfigs written by the harness; removed at the end of the run. */
  scratchDir: string;
  controlPlane?: ControlPlane;
}

let current: Cluster | undefined;

export function cluster(): Cluster {
  if (!current) {
    throw new Error('no cluster: run end-to-end tests with `npm run test:e2e` (test/e2e/.mocharc.json loads the harness hooks)');
  }
  return current;
}

/** The cluster, or undefined when none was set up (start-up failed). */
export function clusterIfAny(): Cluster | undefined {
  return current;
}

export async function setUpCluster(): Promise<Cluster> {
  const external = process.env.IDPSYNC_E2E_KUBECONFIG;
  if (external) {
    const binDir = await resolveBinDir();
    const scratchDir = mkdtempSync(join(tmpdir(), 'idpsync-e2e-'));
    current = { kubeconfigPath: external, binDir, proxyCert: proxyCertFor(external, scratchDir), scratchDir };
  } else {
    const controlPlane = await startControlPlane();
    const scratchDir = mkdtempSync(join(tmpdir(), 'idpsync-e2e-'));
    const certDir = join(controlPlane.dir, 'apiserver-certs');
    current = {
      kubeconfigPath: controlPlane.kubeconfigPath,
      binDir: controlPlane.binDir,
      proxyCert: { cert: readFileSync(join(certDir, 'apiserver.crt'), 'utf8'), key: readFileSync(join(certDir, 'apiserver.key'), 'utf8') },
      scratchDir,
      controlPlane,
    };
    console.log(
      `  control plane ${controlPlane.server} ready in ${(controlPlane.startupMs.total / 1000).toFixed(1)} s (logs: ${join(controlPlane.dir, 'logs')})`,
    );
  }
  return current;
}

export async function tearDownCluster(): Promise<void> {
  const done = current;
  current = undefined;
  if (!done) return;
  await done.controlPlane?.stop();
  rmSync(done.scratchDir, { recursive: true, force: true });
  if (done.controlPlane && !process.env.IDPSYNC_E2E_KEEP) rmSync(done.controlPlane.dir, { recursive: true, force: true });
}

/**
 * A control plane started by controlplane.ts keeps its self-signed serving certificate next to
 * the kubeconfig; the proxy reuses it so the kubeconfig's CA covers the proxy too. For any other
 * cluster the proxy gets its own certificate, and its kubeconfigs trust that instead.
 */
function proxyCertFor(kubeconfigPath: string, scratchDir: string): { cert: string; key: string } {
  const certDir = join(dirname(kubeconfigPath), 'apiserver-certs');
  if (existsSync(join(certDir, 'apiserver.key'))) {
    return { cert: readFileSync(join(certDir, 'apiserver.crt'), 'utf8'), key: readFileSync(join(certDir, 'apiserver.key'), 'utf8') };
  }
  const cert = join(scratchDir, 'proxy.crt');
  const key = join(scratchDir, 'proxy.key');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

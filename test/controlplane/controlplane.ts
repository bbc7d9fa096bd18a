// A real, RBAC-enforcing Kubernetes control plane for tests: etcd, kube-apiserver and
// kube-controller-manager (garbage collector and namespace controllers) on loopback ports, with
// the idpsync CRDs and the operator's RBAC installed. The apiserver keeps an audit log of writes to
// idpsync.io objects and Leases (see AUDIT_POLICY), and can be restarted in place.
//
//   tsx test/controlplane/controlplane.ts [--dir D]   starts one and runs until SIGINT/SIGTERM
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTROL_PLANE_BINARIES, resolveBinDir, type BuildOptions } from './binaries.js';
import { kubeconfigYaml } from './kubeconfig.js';
import { kubectlOrThrow, runKubectl } from './kubectl.js';
import { freeLoopbackPorts, get, pollUntil } from './net.js';
import { startProcess, type Supervised } from './process.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The namespace the operator's ServiceAccount lives in (deploy/rbac.yaml). */
export const OPERATOR_NAMESPACE = 'idpsync-system';
export const OPERATOR_SERVICE_ACCOUNT = 'idpsync';

export { resolveBinDir } from './binaries.js';

export interface ControlPlaneOptions {
  /** Working directory for data, certificates, kubeconfig and logs (default: a new temp dir). */
  dir?: string;
  /** Where the binaries are (default: $IDPSYNC_CONTROLPLANE_BIN_DIR, else built by build.sh). */
  binDir?: string;
  /** Install crds/*.yaml and deploy/rbac.yaml (default true). */
  installIdpsync?: boolean;
  /** How the binaries are built when neither `binDir` nor the environment names them (progress, command). */
  build?: BuildOptions;
  /** Start-up budget once the binaries are there; the build does not count (default 120 s). */
  timeoutMs?: number;
}

export interface ControlPlane {
  /** Admin kubeconfig (system:masters), verifying the apiserver's certificate. */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  adminToken: string;
  /** PEM file of the CA that signed the apiserver's serving certificate. */
  caFile: string;
  binDir: string;
  dir: string;
  /** Milliseconds from having the binaries until the apiserver was ready, the CRDs Established and RBAC applied, and in all. */
  startupMs: { apiserverReady: number; installed: number; total: number };
  /** Log files of etcd, kube-apiserver and kube-controller-manager. */
  logs: Record<string, string>;
  /** The apiserver's audit log (JSON lines, audit.k8s.io/v1 Events) of the writes AUDIT_POLICY selects. */
  auditLogPath: string;
  /**
   * Stops the kube-apiserver process (SIGTERM) and starts it again on the same port with the same
   * etcd, certificates and tokens; resolves once it is ready again, with how long each part took.
   */
  restartApiServer(): Promise<{ stoppedMs: number; readyMs: number }>;
  stop(): Promise<void>;
}

/**
 * Who wrote what, from the apiserver's side: every create/update/patch/delete of idpsync.io objects
 * and of Leases, at Metadata level (user, User-Agent, object, response code, timestamps; no
 * bodies), once the response is complete. Nothing else is recorded, so the log stays small.
 */
export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
    resources:
      - group: idpsync.io
      - group: coordination.k8s.io
        resources: [leases]
  - level: None
`;

/** SIGTERM grace for the apiserver: it drains in-flight requests and ends watches before exiting. */
const APISERVER_STOP_GRACE_MS = 30_000;

function prepareDir(requested: string | undefined): string {
  if (!requested) return mkdtempSync(join(tmpdir(), 'idpsync-controlplane-'));
  const dir = resolve(requested);
  mkdirSync(dir, { recursive: true });
  // Only what this module writes is cleared: each start is a fresh cluster.
  for (const entry of ['etcd', 'apiserver-certs', 'logs', 'tokens.csv', 'service-account.key', 'admin.kubeconfig', 'audit-policy.yaml']) {
    rmSync(join(dir, entry), { recursive: true, force: true });
  }
  return dir;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  // A first run builds the binaries, which takes minutes: the start-up budget counts from after that.
  const binDir = await resolveBinDir(opts.binDir, opts.build);
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 120_000);
  const remaining = (): number => Math.max(1000, deadline - Date.now());
  for (const binary of CONTROL_PLANE_BINARIES) {
    if (!existsSync(join(binDir, binary))) throw new Error(`${binary} not found in ${binDir}: run test/controlplane/build.sh`);
  }
  const dir = prepareDir(opts.dir);
  const logDir = join(dir, 'logs');
  mkdirSync(logDir, { recursive: true });

  const processes: Supervised[] = [];
  const stopAll = async (): Promise<void> => {
    // Reverse start order: the controller manager and apiserver go before their etcd.
    for (const p of [...processes].reverse()) await p.stop();
  };
  const failIfExited = (): void => {
    for (const p of processes) {
      if (p.hasExited()) throw new Error(`${p.name} exited during start-up; last log lines (${p.logPath}):\n${p.tail()}`);
    }
  };

  try {
    const [etcdPort, etcdPeerPort, apiPort] = await freeLoopbackPorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const server = `https://127.0.0.1:${apiPort}`;

    const serviceAccountKey = join(dir, 'service-account.key');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(serviceAccountKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const adminToken = randomBytes(24).toString('hex');
    const tokenFile = join(dir, 'tokens.csv');
    writeFileSync(tokenFile, `${adminToken},idpsync-test-admin,idpsync-test-admin,"system:masters"\n`, { mode: 0o600 });

    processes.push(
      startProcess(
        'etcd',
        join(binDir, 'etcd'),
        [
          '--name=default',
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${etcdPeerUrl}`,
          `--initial-advertise-peer-urls=${etcdPeerUrl}`,
          `--initial-cluster=default=${etcdPeerUrl}`,
          '--unsafe-no-fsync',
          '--log-level=warn',
        ],
        join(logDir, 'etcd.log'),
      ),
    );
    await pollUntil(async () => (await get(`${etcdUrl}/health`)).status === 200, {
      timeoutMs: remaining(),
      what: 'etcd /health',
      abortIf: failIfExited,
    });

    const certDir = join(dir, 'apiserver-certs');
    const auditPolicy = join(dir, 'audit-policy.yaml');
    writeFileSync(auditPolicy, AUDIT_POLICY);
    const auditLogPath = join(logDir, 'audit.log');
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      `--token-auth-file=${tokenFile}`,
      `--service-account-issuer=${server}`,
      `--service-account-key-file=${serviceAccountKey}`,
      `--service-account-signing-key-file=${serviceAccountKey}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      '--authorization-mode=RBAC',
      '--disable-admission-plugins=ServiceAccount',
      `--audit-policy-file=${auditPolicy}`,
      `--audit-log-path=${auditLogPath}`,
      // Written before the response: a test that saw a write succeed finds it in the log.
      '--audit-log-mode=blocking',
      '--audit-log-format=json',
      // Without it a SIGTERMed apiserver waits on open HTTP/1.1 watches (client-node's): with one
      // watch open it had not exited when killed 30 s later; with this it exits in about 1 s.
      '--shutdown-watch-termination-grace-period=5s',
    ];
    const startApiServer = (): Supervised => startProcess('kube-apiserver', join(binDir, 'kube-apiserver'), apiserverArgs, join(logDir, 'kube-apiserver.log'));
    processes.push(startApiServer());
    // With --cert-dir the apiserver writes a self-signed CA and serving certificate (valid for
    // 127.0.0.1) before it listens; that bundle is what clients trust. A restarted apiserver finds
    // them there and serves the same ones.
    const caFile = join(certDir, 'apiserver.crt');
    await pollUntil(async () => existsSync(caFile), { timeoutMs: remaining(), what: `${caFile}`, abortIf: failIfExited });
    const caPem = readFileSync(caFile, 'utf8');
    const apiserverIsReady = async (): Promise<boolean> => (await get(`${server}/readyz`, { ca: caPem, token: adminToken })).status === 200;
    await pollUntil(apiserverIsReady, {
      timeoutMs: remaining(),
      what: 'kube-apiserver /readyz',
      abortIf: failIfExited,
    });
    const apiserverReady = Date.now() - started;

    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml({ name: 'idpsync-test', server, caPem, token: adminToken }), { mode: 0o600 });

    // CRDs before the controller manager: its garbage collector then knows them from the start
    // instead of after its next discovery refresh (about 30 s).
    if (opts.installIdpsync ?? true) {
      await installIdpsync(join(binDir, 'kubectl'), kubeconfigPath, remaining());
    }
    const installed = Date.now() - started;
    processes.push(
      startProcess(
        'kube-controller-manager',
        join(binDir, 'kube-controller-manager'),
        [
          `--kubeconfig=${kubeconfigPath}`,
          '--leader-elect=false',
          '--secure-port=0',
          '--controllers=garbage-collector-controller,namespace-controller',
          '--service-cluster-ip-range=10.0.0.0/24',
        ],
        join(logDir, 'kube-controller-manager.log'),
      ),
    );

    failIfExited();

    return {
      kubeconfigPath,
      server,
      adminToken,
      caFile,
      binDir,
      dir,
      startupMs: { apiserverReady, installed, total: Date.now() - started },
      logs: Object.fromEntries(processes.map((p) => [p.name, p.logPath])),
      auditLogPath,
      async restartApiServer() {
        const at = processes.findIndex((p) => p.name === 'kube-apiserver');
        const begun = Date.now();
        await processes[at].stop(APISERVER_STOP_GRACE_MS);
        const stoppedMs = Date.now() - begun;
        processes[at] = startApiServer();
        const restarted = processes[at];
        await pollUntil(apiserverIsReady, {
          timeoutMs: 120_000,
          what: 'the restarted kube-apiserver /readyz',
          abortIf: () => {
            if (restarted.hasExited()) throw new Error(`kube-apiserver exited after its restart; last log lines (${restarted.logPath}):\n${restarted.tail()}`);
          },
        });
        return { stoppedMs, readyMs: Date.now() - begun - stoppedMs };
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

async function installIdpsync(kubectl: string, kubeconfig: string, timeoutMs: number): Promise<void> {
  const crdDir = join(repoRoot, 'crds');
  await kubectlOrThrow(kubectl, ['apply', '--server-side', '-f', crdDir], { kubeconfig });
  await kubectlOrThrow(kubectl, ['wait', '--for=condition=Established', `--timeout=${Math.ceil(timeoutMs / 1000)}s`, '-f', crdDir], {
    kubeconfig,
    timeoutMs: timeoutMs + 5000,
  });
  // Established is not yet servable: each resource's watch cache answers 429 "storage is
  // (re)initializing" until it has synced, so wait for a list of each kind to succeed.
  const plurals = (await kubectlOrThrow(kubectl, ['get', '-f', crdDir, '-o', 'jsonpath={.items[*].spec.names.plural}'], { kubeconfig }))
    .trim()
    .split(/\s+/);
  await pollUntil(
    async () => {
      const result = await runKubectl(kubectl, ['get', '--all-namespaces', '-o', 'name', plurals.map((p) => `${p}.idpsync.io`).join(',')], {
        kubeconfig,
      });
      if (result.code !== 0) throw new Error(result.stderr.trim());
      return true;
    },
    { timeoutMs, intervalMs: 500, what: 'the idpsync.io resources to be listable' },
  );
  const namespace = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${OPERATOR_NAMESPACE}\n`;
  await kubectlOrThrow(kubectl, ['apply', '--server-side', '-f', '-'], { kubeconfig, input: namespace });
  await kubectlOrThrow(kubectl, ['apply', '--server-side', '-f', join(repoRoot, 'deploy/rbac.yaml')], { kubeconfig });
}

async function main(argv: string[]): Promise<void> {
  const dirFlag = argv.indexOf('--dir');
  const dir = dirFlag >= 0 ? argv[dirFlag + 1] : undefined;
  if (dirFlag >= 0 && !dir) throw new Error('--dir needs a directory');
  const cp = await startControlPlane({ dir });
  console.log(`Control plane up in ${(cp.startupMs.total / 1000).toFixed(1)} s at ${cp.server} (logs in ${join(cp.dir, 'logs')})`);
  console.log(`kubeconfig: ${cp.kubeconfigPath}`);
  console.log(`export KUBECONFIG=${cp.kubeconfigPath}`);
  console.log(`kubectl: ${join(cp.binDir, 'kubectl')}`);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping the control plane`);
    cp.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
